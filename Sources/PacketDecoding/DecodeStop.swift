// Why decoding stopped, as data: a sensor counts these per reason instead of logging per packet.

/// The protocol layer the decoder was reading.
public enum Layer: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    case link, vlan, arp, ipv4, ipv6, ipv6Extension, tcp, udp, icmp, icmpv6, sctp

    public var description: String {
        switch self {
        case .link: "link"
        case .vlan: "vlan"
        case .arp: "arp"
        case .ipv4: "ipv4"
        case .ipv6: "ipv6"
        case .ipv6Extension: "ipv6-ext"
        case .tcp: "tcp"
        case .udp: "udp"
        case .icmp: "icmp"
        case .icmpv6: "icmpv6"
        case .sctp: "sctp"
        }
    }
}

/// How far decoding got. Everything before the stop layer is valid in the summary.
///
/// Lax about truncation, strict about contradictions: a header cut by the snapshot length (`caplen < len`) is
/// `truncated` and every earlier layer is kept; a header that claims more bytes than the packet had on the wire,
/// or a length field below its own minimum, is `malformed`. Protocols IdleWatch does not read are `unsupported`
/// (skipped and counted, not errors).
public enum StopReason: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    /// Decoded through the last layer IdleWatch reads for this packet.
    case complete
    /// The capture's snapshot length cut a header short; the packet was longer on the wire.
    case truncated
    /// The frame ended before a header it announced (on the wire, not just in the capture).
    case tooShort
    /// Raw-IP link or encapsulation whose version nibble is not 4 or 6, or not the one the link type promises.
    case badIPVersion
    /// IPv4 IHL below 5 words.
    case badIPv4HeaderLength
    /// IPv4 total length below the header length, or beyond the frame.
    case badIPv4TotalLength
    /// IPv6 payload length beyond the frame.
    case badIPv6PayloadLength
    /// An IPv6 extension header reaching past the IPv6 payload (a chain of any length is followed, as Linux does).
    case badIPv6ExtensionChain
    /// A fragment header or IPv4 fragment fields that contradict the datagram (offset past 65535).
    case badFragment
    /// TCP data offset below 5 words or past the IP payload.
    case badTCPDataOffset
    /// UDP length below 8 or past the IP payload.
    case badUDPLength
    /// More 802.1Q/802.1ad tags than IdleWatch follows.
    case vlanStackTooDeep
    /// ARP for hardware or protocol types other than Ethernet and IPv4.
    case unsupportedARP
    /// A link type the decoder does not read.
    case unsupportedLinkType
    /// An EtherType (or loopback address family, or cooked-capture protocol) other than IPv4, IPv6, ARP and VLAN tags.
    case unsupportedEtherType
    /// An 802.3 frame with an LLC header (length field instead of an EtherType): spanning tree, CDP, ...
    case llcFrame

    public var description: String {
        switch self {
        case .complete: "complete"
        case .truncated: "truncated"
        case .tooShort: "too-short"
        case .badIPVersion: "bad-ip-version"
        case .badIPv4HeaderLength: "bad-ipv4-header-length"
        case .badIPv4TotalLength: "bad-ipv4-total-length"
        case .badIPv6PayloadLength: "bad-ipv6-payload-length"
        case .badIPv6ExtensionChain: "bad-ipv6-extension-chain"
        case .badFragment: "bad-fragment"
        case .badTCPDataOffset: "bad-tcp-data-offset"
        case .badUDPLength: "bad-udp-length"
        case .vlanStackTooDeep: "vlan-stack-too-deep"
        case .unsupportedARP: "unsupported-arp"
        case .unsupportedLinkType: "unsupported-link-type"
        case .unsupportedEtherType: "unsupported-ethertype"
        case .llcFrame: "llc-frame"
        }
    }

    /// Malformed input (as opposed to truncation or a protocol IdleWatch skips).
    public var isMalformed: Bool {
        switch self {
        case .complete, .truncated, .unsupportedARP, .unsupportedLinkType, .unsupportedEtherType, .llcFrame: false
        default: true
        }
    }

    /// A protocol IdleWatch does not analyse: skipped and counted.
    public var isSkipped: Bool {
        switch self {
        case .unsupportedARP, .unsupportedLinkType, .unsupportedEtherType, .llcFrame: true
        default: false
        }
    }
}

/// Where a length check failed, with its coordinates (etherparse's `LenError`): which layer, at which byte offset
/// of the packet, how many bytes the header needed, and how many the limit allowed.
public struct StopLocation: Equatable, Sendable {
    public var layer: Layer
    /// Byte offset of the header that could not be read, from the start of the packet.
    public var offset: Int32
    /// Bytes the header needed from `offset`.
    public var required: Int32
    /// Bytes available from `offset` under the limit that applied (captured bytes, frame, or an enclosing length field).
    public var available: Int32

    @inlinable
    public init(layer: Layer, offset: Int, required: Int, available: Int) {
        self.layer = layer
        self.offset = Int32(truncatingIfNeeded: offset)
        self.required = Int32(truncatingIfNeeded: required)
        self.available = Int32(truncatingIfNeeded: available)
    }
}
