// The value a decoded packet leaves behind: plain integers only, so it can be made per packet without allocating.
// Nothing in it points into the capture buffer.

public enum NetworkKind: UInt8, Sendable {
    /// No network layer was decoded (unsupported, malformed, or not reached).
    case none
    case arp
    case ipv4
    case ipv6
}

/// Fragmentation of the datagram this packet belongs to (IPv4 flags/offset, or an IPv6 fragment header).
public struct FragmentInfo: Equatable, Sendable {
    /// The packet is one fragment of a larger datagram (first, middle or last).
    public var isFragment = false
    /// Offset of this fragment's data in the datagram, in bytes. Only the first fragment (offset 0) has ports.
    public var offset: Int32 = 0
    public var moreFragments = false
    /// IPv4 identification (16 bits) or IPv6 fragment identification (32 bits).
    public var identification: UInt32 = 0
    /// IPv4: the bytes of the datagram this fragment carries (its total length less its header), before the
    /// receiver trims a fragment with more to come to a multiple of 8.
    public var dataLength: Int32 = 0
    /// IPv4 TCP: a first fragment that ends inside the fixed TCP header (RFC 1858's tiny fragment). Its ports and
    /// sequence number are read; the flags come with a later fragment, so the flow table reassembles the header.
    public var transportSplit = false
    /// IPv4 TCP: the bytes of the fixed TCP header this fragment carries (it starts inside it), for reassembly.
    public var head = FragmentHead()

    public init() {}

    /// A later fragment: no transport header, ports must come from the first fragment.
    @inlinable public var isNonFirst: Bool { isFragment && offset > 0 }
}

/// The part of a fragmented datagram's fixed TCP header (its first 20 bytes) that one fragment carries: bytes
/// `offset ..< offset + count` of the datagram, where `offset` is the fragment's. Plain bytes, nothing borrowed.
public struct FragmentHead: Equatable, Sendable {
    /// The fixed TCP header: ports, sequence and acknowledgment numbers, data offset and flags.
    public static let capacity = 20
    public var bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                       UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    /// How many of `bytes` this fragment carries (0: none, it starts past the fixed TCP header or is no TCP).
    public var count: UInt8 = 0

    public init() {}

    /// The bytes of `source` (at most `capacity`), the fragment's data from its start.
    public init(_ source: UnsafeRawBufferPointer) {
        let n = min(source.count, FragmentHead.capacity)
        withUnsafeMutableBytes(of: &bytes) { target in
            for i in 0..<n { target[i] = source[i] }
        }
        count = UInt8(n)
    }

    public subscript(index: Int) -> UInt8 {
        get { withUnsafeBytes(of: bytes) { $0[index] } }
        set { withUnsafeMutableBytes(of: &bytes) { $0[index] = newValue } }
    }

    public static func == (a: FragmentHead, b: FragmentHead) -> Bool {
        a.count == b.count
            && withUnsafeBytes(of: a.bytes) { x in withUnsafeBytes(of: b.bytes) { y in x.elementsEqual(y) } }
    }
}

/// The transport header quoted inside an ICMP/ICMPv6 error (RFC 792, RFC 4443): which packet was refused.
public struct QuotedPacket: Equatable, Sendable {
    public var isValid = false
    public var source = IPAddress.unspecified
    public var destination = IPAddress.unspecified
    public var ipProtocol: UInt8 = 0
    public var hasPorts = false
    public var sourcePort: UInt16 = 0
    public var destinationPort: UInt16 = 0

    public init() {}
}

public struct PacketSummary: Sendable {
    // Capture.
    public var capturedLength: Int32 = 0
    public var wireLength: Int32 = 0
    public var linkType = LinkType.ethernet

    // Link layer. MAC addresses are 0 when the link type has none.
    public var sourceMAC: UInt64 = 0
    public var destinationMAC: UInt64 = 0
    /// Number of 802.1Q/802.1ad tags; `outerVLAN` and `innerVLAN` are the first two (0 when absent).
    public var vlanCount: UInt8 = 0
    public var outerVLAN: UInt16 = 0
    public var innerVLAN: UInt16 = 0
    /// The EtherType after the tags (or the equivalent for loopback and cooked links).
    public var etherType: UInt16 = 0

    // Network layer, valid when `network` is not `.none`.
    public var network = NetworkKind.none
    /// IP source and destination; for ARP, the sender and target protocol addresses.
    public var source = IPAddress.unspecified
    public var destination = IPAddress.unspecified
    /// The upper-layer protocol after any IPv6 extension headers.
    public var ipProtocol: UInt8 = 0
    public var ttl: UInt8 = 0
    public var fragment = FragmentInfo()
    /// The IPv4 total length was 0 (segmentation offload) and the frame's length was used instead.
    public var ipLengthInferred = false

    // Transport layer.
    public var hasPorts = false
    public var sourcePort: UInt16 = 0
    public var destinationPort: UInt16 = 0
    public var tcpFlags = TCPFlags()
    public var tcpSequence: UInt32 = 0
    public var tcpAcknowledgment: UInt32 = 0
    /// Whether `icmpType`/`icmpCode` are valid (ICMP or ICMPv6).
    public var hasICMP = false
    public var icmpType: UInt8 = 0
    public var icmpCode: UInt8 = 0
    /// For ICMP errors, the packet they answer.
    public var quoted = QuotedPacket()
    /// Transport payload bytes as the headers describe them on the wire (not just what was captured);
    /// for protocols without a transport header IdleWatch reads, the IP payload.
    public var payloadLength: Int32 = 0

    // ARP, valid when `network == .arp`.
    public var arpOperation: UInt16 = 0
    public var arpSenderMAC: UInt64 = 0
    public var arpTargetMAC: UInt64 = 0

    // Where and why decoding stopped.
    public var stop = StopReason.complete
    /// Set when `stop` is not `.complete`.
    public var stopLocation = StopLocation(layer: .link, offset: 0, required: 0, available: 0)

    public init() {}

    /// The network layer is IPv4 or IPv6.
    @inlinable public var isIP: Bool { network == .ipv4 || network == .ipv6 }
}
