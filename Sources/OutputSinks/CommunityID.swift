// Community ID flow hashing, version 1 (corelight/community-id-spec): the same conversation gets the same
// identifier in IdleWatch, Zeek and Suricata logs, so records can be joined across tools.

import Crypto
import FlowTracking
import Foundation
import PacketDecoding

public enum CommunityID {
    /// `1:` + base64(SHA-1(seed . saddr . daddr . proto . 0 . sport . dport)), endpoints ordered so the smaller
    /// (address, port) comes first, except for one-way ICMP messages, which keep their direction.
    /// For ICMP, the ports are the type and the counterpart type (or code), as `ICMPPorts` gives them.
    public static func compute(
        source: IPAddress, sourcePort: UInt16, destination: IPAddress, destinationPort: UInt16,
        ipProtocol: UInt8, isOneWay: Bool = false, seed: UInt16 = 0
    ) -> String {
        var s = source, d = destination, sp = sourcePort, dp = destinationPort
        if !isOneWay && (d < s || (d == s && dp < sp)) {
            swap(&s, &d)
            swap(&sp, &dp)
        }
        var input: [UInt8] = [UInt8(seed >> 8), UInt8(seed & 0xff)]
        input += s.bytes
        input += d.bytes
        input += [ipProtocol, 0]
        if hasPorts(ipProtocol) {
            input += [UInt8(sp >> 8), UInt8(sp & 0xff), UInt8(dp >> 8), UInt8(dp & 0xff)]
        }
        let digest = Insecure.SHA1.hash(data: input)
        return "1:" + Data(digest).base64EncodedString()
    }

    /// Protocols whose Community ID includes ports: TCP, UDP, SCTP, and ICMP/ICMPv6 (type and code).
    static func hasPorts(_ ipProtocol: UInt8) -> Bool {
        switch ipProtocol {
        case IPProtocol.tcp, IPProtocol.udp, 132, IPProtocol.icmp, IPProtocol.icmpv6: true
        default: false
        }
    }
}

extension CommunityID {
    /// The Community ID of a flow given as IdleWatch keys it: for ICMP, the "ports" are the type and the
    /// counterpart type (request/reply pairs) or the code (one-way messages, which keep their direction).
    public static func forFlow(originator: IPAddress, originatorPort: UInt16, responder: IPAddress,
                               responderPort: UInt16, ipProtocol: UInt8) -> String {
        compute(source: originator, sourcePort: originatorPort, destination: responder, destinationPort: responderPort,
                ipProtocol: ipProtocol,
                isOneWay: isOneWayICMP(ipProtocol: ipProtocol, type: originatorPort, counterpart: responderPort))
    }

    /// Whether an ICMP or ICMPv6 flow's type is not one of the request/reply pairs.
    static func isOneWayICMP(ipProtocol: UInt8, type: UInt16, counterpart: UInt16) -> Bool {
        guard ipProtocol == IPProtocol.icmp || ipProtocol == IPProtocol.icmpv6 else { return false }
        return ICMPPorts.ports(type: UInt8(truncatingIfNeeded: type), code: UInt8(truncatingIfNeeded: counterpart),
                               isIPv6: ipProtocol == IPProtocol.icmpv6).2
    }
}
