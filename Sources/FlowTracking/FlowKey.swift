// Canonical, fixed-width flow keys: the two endpoints in a fixed order, so both directions of a conversation find
// the same flow, plus the VLAN tags (the same addresses on two VLANs are two conversations).

import BoundedTables
import PacketDecoding

public struct FlowKey: Hashable, Sendable {
    /// The lower endpoint by (address, port).
    public var addressA: IPAddress
    public var addressB: IPAddress
    public var portA: UInt16
    public var portB: UInt16
    public var ipProtocol: UInt8
    /// Outer VLAN id in the high 16 bits, inner in the low 16 (0 when untagged).
    public var vlan: UInt32

    public init(addressA: IPAddress, addressB: IPAddress, portA: UInt16, portB: UInt16, ipProtocol: UInt8,
                vlan: UInt32) {
        self.addressA = addressA
        self.addressB = addressB
        self.portA = portA
        self.portB = portB
        self.ipProtocol = ipProtocol
        self.vlan = vlan
    }

    /// Orders the endpoints; `senderIsA` says which one sent the packet the key came from.
    @inlinable
    public init(source: IPAddress, sourcePort: UInt16, destination: IPAddress, destinationPort: UInt16,
                ipProtocol: UInt8, vlan: UInt32, senderIsA: inout Bool) {
        if source < destination || (source == destination && sourcePort <= destinationPort) {
            addressA = source
            portA = sourcePort
            addressB = destination
            portB = destinationPort
            senderIsA = true
        } else {
            addressA = destination
            portA = destinationPort
            addressB = source
            portB = sourcePort
            senderIsA = false
        }
        self.ipProtocol = ipProtocol
        self.vlan = vlan
    }

    /// A 64-bit hash mixed with `seed`, so an attacker cannot aim packets at one bucket without knowing it.
    @inlinable
    public func hash(seed: UInt64) -> UInt64 {
        var h = seed ^ 0x9E37_79B9_7F4A_7C15
        h = HashIndex.mix(h ^ addressA.high)
        h = HashIndex.mix(h ^ addressA.low)
        h = HashIndex.mix(h ^ addressB.high)
        h = HashIndex.mix(h ^ addressB.low)
        let tail = UInt64(portA) << 48 | UInt64(portB) << 32 | UInt64(vlan & 0xffff_0000) | UInt64(ipProtocol) << 8
            | UInt64(vlan & 0xffff) << 0
        h = HashIndex.mix(h ^ tail ^ (addressA.isIPv6 ? 1 << 4 : 0))
        return h
    }
}

/// ICMP and ICMPv6 messages as flow "ports", the way Zeek and Community ID pair them: a request and its reply share
/// a flow (source port = type, destination port = the counterpart type); other messages are one-way (source
/// port = type, destination port = code).
public enum ICMPPorts {
    /// (source port, destination port, is one-way) for an ICMP message.
    @inlinable
    public static func ports(type: UInt8, code: UInt8, isIPv6: Bool) -> (UInt16, UInt16, Bool) {
        if let counterpart = isIPv6 ? counterpartV6(type) : counterpartV4(type) {
            return (UInt16(type), UInt16(counterpart), false)
        }
        return (UInt16(type), UInt16(code), true)
    }

    /// Whether the type answers a request to the same address (so a flow that starts with it was started by the
    /// other side): echo, timestamp, information, address mask, node information and home-agent discovery replies.
    /// Router and neighbour discovery and multicast listener messages are not: their "request" goes to a group (a
    /// router solicitation to ff02::2, a neighbour solicitation to a solicited-node group, a listener query to
    /// ff02::1) and the advertisement or report is the sender's own statement, often unsolicited. A flow that starts
    /// with one is its sender's, with the type as in the frame (ICMPv4 router advertisement, 9, likewise).
    @inlinable
    public static func isReply(type: UInt8, isIPv6: Bool) -> Bool {
        if isIPv6 {
            switch type {
            case 129, 140, 145: return true
            default: return false
            }
        }
        switch type {
        case 0, 14, 16, 18: return true
        default: return false
        }
    }

    @inlinable
    static func counterpartV4(_ type: UInt8) -> UInt8? {
        switch type {
        case 8: 0
        case 0: 8
        case 13: 14
        case 14: 13
        case 15: 16
        case 16: 15
        case 10: 9
        case 9: 10
        case 17: 18
        case 18: 17
        default: nil
        }
    }

    @inlinable
    static func counterpartV6(_ type: UInt8) -> UInt8? {
        switch type {
        case 128: 129
        case 129: 128
        case 130: 131
        case 131: 130
        case 133: 134
        case 134: 133
        case 135: 136
        case 136: 135
        case 139: 140
        case 140: 139
        case 144: 145
        case 145: 144
        default: nil
        }
    }
}
