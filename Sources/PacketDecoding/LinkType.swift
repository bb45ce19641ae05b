// Link-layer header types as libpcap reports them (`pcap_datalink`, DLT_* values on this platform).

/// A libpcap data-link type. Unknown values are kept as they are: they are counted and skipped, never fatal.
public struct LinkType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32

    @inlinable
    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// BSD loopback: a 4-byte address family in the capturing host's byte order.
    public static let null = LinkType(rawValue: 0)
    /// Ethernet II (and 802.3 with LLC, which IdleWatch skips).
    public static let ethernet = LinkType(rawValue: 1)
    /// Raw IP, version from the first nibble. DLT 12 on every platform but OpenBSD (where 12 is loopback).
    public static let raw = LinkType(rawValue: 12)
    /// LINKTYPE_RAW as written in files; libpcap usually maps it to DLT 12, but some builds report 101.
    public static let rawLinktype = LinkType(rawValue: 101)
    /// OpenBSD loopback: a 4-byte address family in network byte order.
    public static let loop = LinkType(rawValue: 108)
    /// Linux cooked capture v1 (`any` interface).
    public static let linuxSLL = LinkType(rawValue: 113)
    /// Raw IPv4 only.
    public static let ipv4 = LinkType(rawValue: 228)
    /// Raw IPv6 only.
    public static let ipv6 = LinkType(rawValue: 229)
    /// Linux cooked capture v2.
    public static let linuxSLL2 = LinkType(rawValue: 276)

    /// Whether the decoder reads this link type.
    public var isSupported: Bool {
        switch self {
        case .null, .ethernet, .raw, .rawLinktype, .loop, .linuxSLL, .ipv4, .ipv6, .linuxSLL2: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .null: "NULL"
        case .ethernet: "EN10MB"
        case .raw, .rawLinktype: "RAW"
        case .loop: "LOOP"
        case .linuxSLL: "LINUX_SLL"
        case .ipv4: "IPV4"
        case .ipv6: "IPV6"
        case .linuxSLL2: "LINUX_SLL2"
        default: "DLT \(rawValue)"
        }
    }
}

/// EtherType values the decoder acts on (IEEE registry).
public enum EtherType {
    public static let ipv4: UInt16 = 0x0800
    public static let arp: UInt16 = 0x0806
    public static let vlan: UInt16 = 0x8100  // 802.1Q customer tag
    public static let ipv6: UInt16 = 0x86DD
    public static let qinq: UInt16 = 0x88A8  // 802.1ad service tag
    public static let qinqLegacy1: UInt16 = 0x9100  // pre-standard QinQ
    public static let qinqLegacy2: UInt16 = 0x9200
    /// Values below this are 802.3 length fields, not EtherTypes.
    public static let minimumEtherType: UInt16 = 0x0600

    @inlinable
    public static func isVLANTag(_ value: UInt16) -> Bool {
        value == vlan || value == qinq || value == qinqLegacy1 || value == qinqLegacy2
    }
}

/// IP protocol numbers the decoder acts on (IANA "Assigned Internet Protocol Numbers").
public enum IPProtocol {
    public static let hopByHop: UInt8 = 0
    public static let icmp: UInt8 = 1
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
    public static let ipv6Routing: UInt8 = 43
    public static let ipv6Fragment: UInt8 = 44
    public static let esp: UInt8 = 50
    public static let authenticationHeader: UInt8 = 51
    public static let icmpv6: UInt8 = 58
    public static let ipv6NoNext: UInt8 = 59
    public static let ipv6DestinationOptions: UInt8 = 60
    public static let mobility: UInt8 = 135
    public static let hip: UInt8 = 139
    public static let shim6: UInt8 = 140
    public static let experimental1: UInt8 = 253
    public static let experimental2: UInt8 = 254
    public static let sctp: UInt8 = 132

    /// A short lower-case name for output (`tcp`, `udp`, ...), or the number.
    public static func name(_ value: UInt8) -> String {
        switch value {
        case icmp: "icmp"
        case tcp: "tcp"
        case udp: "udp"
        case icmpv6: "ipv6-icmp"
        case 2: "igmp"
        case 4: "ipip"
        case 41: "ipv6"
        case 47: "gre"
        case esp: "esp"
        case authenticationHeader: "ah"
        case 89: "ospf"
        case 103: "pim"
        case 112: "vrrp"
        case 132: "sctp"
        default: String(value)
        }
    }
}
