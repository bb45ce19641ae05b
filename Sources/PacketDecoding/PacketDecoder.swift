// The lax decode chain: link layer -> VLAN tags -> ARP / IPv4 / IPv6 (+ extension headers) -> TCP / UDP / ICMP.
//
// Every layer that could be read is kept in the summary, and `stop` says where and why decoding ended. Three
// limits apply to every header: the captured bytes (`caplen`), the frame on the wire (`len`), and the enclosing
// length field (IPv4 total length, IPv6 payload length). A header past the captured bytes but within the other
// two is `truncated`; past the frame or the enclosing length field it is a contradiction (`malformed`).
// The decoder allocates nothing and reads packet bytes only through header views. Each view is made over the bytes
// from its header's offset to the nearer of the captured end and the enclosing datagram's end
// (`Cursor.header(at:end:)`), so its failable initializer is the one length check for that header; when it refuses,
// `Cursor.stopShort` only classifies the stop (truncated or too short) and its coordinates.

public enum PacketDecoder {
    /// Deepest 802.1Q/802.1ad stack followed; the corpus has up to 3, real networks rarely more than 2.
    public static let maximumVLANTags = 8
    // No limit on the IPv6 extension-header chain beyond the datagram: Linux walks a chain of any length to the
    // upper layer (ip6_protocol_deliver_rcu resubmits once per header), so a sensor that stops earlier is blind to
    // what the host accepts. Every header takes at least 8 bytes, so the walk is bounded by the payload length.

    /// Decodes one packet. `bytes` is the captured part (`caplen` bytes); `wireLength` is its length on the wire.
    public static func decode(_ bytes: UnsafeRawBufferPointer, wireLength: Int, linkType: LinkType) -> PacketSummary {
        var summary = PacketSummary()
        decode(bytes, wireLength: wireLength, linkType: linkType, into: &summary)
        return summary
    }

    /// Decodes into an existing summary, which is reset first.
    public static func decode(
        _ bytes: UnsafeRawBufferPointer, wireLength: Int, linkType: LinkType, into summary: inout PacketSummary
    ) {
        summary = PacketSummary()
        // libpcap does not check a record's `len` against its `caplen`; no frame is longer than an IPv6 jumbogram
        // can describe, and capping it keeps every length below Int32 for the counters.
        let wire = min(max(wireLength, bytes.count), Int(Int32.max) / 2)
        var cursor = Cursor(bytes: bytes, wireLength: wire)
        summary.capturedLength = Int32(truncatingIfNeeded: bytes.count)
        summary.wireLength = Int32(truncatingIfNeeded: wireLength)
        summary.linkType = linkType
        switch linkType {
        case .ethernet:
            decodeEthernet(&cursor, &summary)
        case .linuxSLL:
            decodeLinuxSLL(&cursor, &summary)
        case .linuxSLL2:
            decodeLinuxSLL2(&cursor, &summary)
        case .null, .loop:
            decodeLoopback(&cursor, &summary)
        case .raw, .rawLinktype:
            decodeRawIP(&cursor, &summary, required: nil)
        case .ipv4:
            decodeRawIP(&cursor, &summary, required: 4)
        case .ipv6:
            decodeRawIP(&cursor, &summary, required: 6)
        default:
            summary.stop(.unsupportedLinkType, .link, offset: 0, required: 0, available: bytes.count)
        }
    }

    // MARK: Link layer

    static func decodeEthernet(_ cursor: inout Cursor, _ summary: inout PacketSummary) {
        guard let ethernet = EthernetHeader(cursor.header(at: 0)) else {
            return cursor.stopShort(EthernetHeader.length, at: 0, layer: .link, &summary)
        }
        summary.destinationMAC = ethernet.destination
        summary.sourceMAC = ethernet.source
        decodeEtherType(ethernet.etherType, at: EthernetHeader.length, &cursor, &summary)
    }

    static func decodeLinuxSLL(_ cursor: inout Cursor, _ summary: inout PacketSummary) {
        guard let sll = LinuxSLLHeader(cursor.header(at: 0)) else {
            return cursor.stopShort(LinuxSLLHeader.length, at: 0, layer: .link, &summary)
        }
        summary.sourceMAC = sll.sourceMAC
        decodeEtherType(sll.protocolType, at: LinuxSLLHeader.length, &cursor, &summary)
    }

    static func decodeLinuxSLL2(_ cursor: inout Cursor, _ summary: inout PacketSummary) {
        guard let sll2 = LinuxSLL2Header(cursor.header(at: 0)) else {
            return cursor.stopShort(LinuxSLL2Header.length, at: 0, layer: .link, &summary)
        }
        summary.sourceMAC = sll2.sourceMAC
        decodeEtherType(sll2.protocolType, at: LinuxSLL2Header.length, &cursor, &summary)
    }

    static func decodeLoopback(_ cursor: inout Cursor, _ summary: inout PacketSummary) {
        guard let loopback = LoopbackHeader(cursor.header(at: 0)) else {
            return cursor.stopShort(LoopbackHeader.length, at: 0, layer: .link, &summary)
        }
        guard let etherType = loopback.etherType else {
            summary.etherType = UInt16(truncatingIfNeeded: loopback.family)
            summary.stop(.unsupportedEtherType, .link, offset: 0, required: 0, available: cursor.bytes.count)
            return
        }
        decodeEtherType(etherType, at: LoopbackHeader.length, &cursor, &summary)
    }

    static func decodeRawIP(_ cursor: inout Cursor, _ summary: inout PacketSummary, required: UInt8?) {
        // The version nibble opens both IPv4 and IPv6 headers: one checked byte says which view to make.
        guard let first = cursor.header(at: 0).first else {
            return cursor.stopShort(1, at: 0, layer: .link, &summary)
        }
        let version = first >> 4
        if let required, version != required {
            summary.stop(.badIPVersion, .link, offset: 0, required: 1, available: cursor.bytes.count)
            return
        }
        switch version {
        case 4:
            summary.etherType = EtherType.ipv4
            decodeIPv4(at: 0, &cursor, &summary)
        case 6:
            summary.etherType = EtherType.ipv6
            decodeIPv6(at: 0, &cursor, &summary)
        default:
            summary.stop(.badIPVersion, .link, offset: 0, required: 1, available: cursor.bytes.count)
        }
    }

    /// Follows VLAN tags, then dispatches on the EtherType found after them.
    static func decodeEtherType(
        _ firstType: UInt16, at firstOffset: Int, _ cursor: inout Cursor, _ summary: inout PacketSummary
    ) {
        var etherType = firstType
        var offset = firstOffset
        while EtherType.isVLANTag(etherType) {
            guard Int(summary.vlanCount) < maximumVLANTags else {
                summary.stop(.vlanStackTooDeep, .vlan, offset: offset, required: 0, available: cursor.available(offset))
                return
            }
            guard let tag = VLANTag(cursor.header(at: offset)) else {
                return cursor.stopShort(VLANTag.length, at: offset, layer: .vlan, &summary)
            }
            switch summary.vlanCount {
            case 0: summary.outerVLAN = tag.vlanID
            case 1: summary.innerVLAN = tag.vlanID
            default: break
            }
            summary.vlanCount &+= 1
            etherType = tag.etherType
            offset += VLANTag.length
        }
        summary.etherType = etherType
        switch etherType {
        case EtherType.ipv4:
            decodeIPv4(at: offset, &cursor, &summary)
        case EtherType.ipv6:
            decodeIPv6(at: offset, &cursor, &summary)
        case EtherType.arp:
            decodeARP(at: offset, &cursor, &summary)
        case ..<EtherType.minimumEtherType:
            summary.stop(.llcFrame, .link, offset: offset, required: 0, available: cursor.available(offset))
        default:
            summary.stop(.unsupportedEtherType, .link, offset: offset, required: 0, available: cursor.available(offset))
        }
    }

    // MARK: ARP

    static func decodeARP(at offset: Int, _ cursor: inout Cursor, _ summary: inout PacketSummary) {
        let bytes = cursor.header(at: offset)
        guard let fixed = ARPHeader(bytes) else {
            return cursor.stopShort(ARPHeader.length, at: offset, layer: .arp, &summary)
        }
        guard fixed.isEthernetIPv4 else {
            summary.stop(.unsupportedARP, .arp, offset: offset, required: 0, available: cursor.available(offset))
            return
        }
        // Ethernet and IPv4, as `fixed` says: the only reason left for no packet is its length.
        guard let arp = ARPPacket(bytes) else {
            return cursor.stopShort(ARPPacket.length, at: offset, layer: .arp, &summary)
        }
        summary.network = .arp
        summary.arpOperation = arp.operation
        summary.arpSenderMAC = arp.senderHardware
        summary.arpTargetMAC = arp.targetHardware
        summary.source = arp.senderProtocol
        summary.destination = arp.targetProtocol
    }

    // MARK: IPv4

    static func decodeIPv4(at offset: Int, _ cursor: inout Cursor, _ summary: inout PacketSummary) {
        guard let ip = IPv4Header(cursor.header(at: offset)) else {
            return cursor.stopShort(IPv4Header.minimumLength, at: offset, layer: .ipv4, &summary)
        }
        let onWire = cursor.wireAvailable(offset)
        guard ip.version == 4 else {
            summary.stop(.badIPVersion, .ipv4, offset: offset, required: IPv4Header.minimumLength, available: onWire)
            return
        }
        let headerLength = ip.headerLength
        guard headerLength >= IPv4Header.minimumLength else {
            summary.stop(.badIPv4HeaderLength, .ipv4, offset: offset, required: IPv4Header.minimumLength,
                         available: headerLength)
            return
        }
        var totalLength = ip.totalLength
        if totalLength == 0 {
            // Segmentation offload (TSO/GSO, BIG TCP) captures show a total length of 0 on packets larger than the
            // field can hold: the datagram runs to the end of the frame, as Wireshark and Zeek read it.
            totalLength = onWire
            summary.ipLengthInferred = true
        }
        guard totalLength >= headerLength, totalLength <= onWire else {
            summary.stop(.badIPv4TotalLength, .ipv4, offset: offset, required: totalLength, available: onWire)
            return
        }
        let fragmentOffset = ip.fragmentOffset
        if fragmentOffset + totalLength - headerLength > 65_535 {
            summary.stop(.badFragment, .ipv4, offset: offset, required: fragmentOffset + totalLength - headerLength,
                         available: 65_535)
            return
        }
        summary.network = .ipv4
        summary.source = ip.source
        summary.destination = ip.destination
        summary.ipProtocol = ip.protocolNumber
        summary.ttl = ip.ttl
        let isFragment = fragmentOffset > 0 || ip.moreFragments
        if isFragment {
            summary.fragment.isFragment = true
            summary.fragment.offset = Int32(clamping: fragmentOffset)
            summary.fragment.moreFragments = ip.moreFragments
            summary.fragment.identification = UInt32(ip.identification)
            summary.fragment.dataLength = Int32(clamping: totalLength - headerLength)
        }
        // Options cut by the snapshot length: the addresses are good, the transport header is out of reach.
        guard cursor.require(headerLength, at: offset, layer: .ipv4, &summary) else { return }
        let end = offset + totalLength
        let carriesHead = isFragment && ip.protocolNumber == IPProtocol.tcp && fragmentOffset < TCPHeader.minimumLength
        if carriesHead {
            // Part of the fixed TCP header is in this fragment and part in another (RFC 1858's tiny fragments):
            // keep this fragment's share for the flow table, which reassembles the header as the receiver would.
            let start = offset + headerLength
            let share = cursor.header(at: start, end: end)
            if !share.isEmpty {
                summary.fragment.head = FragmentHead(share)
            }
            if fragmentOffset == 0 && totalLength - headerLength < TCPHeader.minimumLength {
                decodeTinyTCP(at: start, end: end, &cursor, &summary)
                return
            }
        }
        if fragmentOffset > 0 {
            summary.payloadLength = Int32(clamping: totalLength - headerLength)
            if carriesHead {
                // Its share of the TCP header cut by the snapshot length: counted, as a cut header is.
                let share = min(end - (offset + headerLength), TCPHeader.minimumLength - fragmentOffset)
                _ = cursor.require(share, at: offset + headerLength, end: end, layer: .tcp, &summary)
            }
            return
        }
        decodeTransport(ip.protocolNumber, at: offset + headerLength, end: end, &cursor, &summary)
    }

    // MARK: IPv6

    static func decodeIPv6(at offset: Int, _ cursor: inout Cursor, _ summary: inout PacketSummary) {
        guard let ip = IPv6Header(cursor.header(at: offset)) else {
            return cursor.stopShort(IPv6Header.length, at: offset, layer: .ipv6, &summary)
        }
        let onWire = cursor.wireAvailable(offset)
        guard ip.version == 6 else {
            summary.stop(.badIPVersion, .ipv6, offset: offset, required: IPv6Header.length, available: onWire)
            return
        }
        var end = offset + IPv6Header.length + ip.payloadLength
        if ip.payloadLength == 0 && ip.nextHeader == IPProtocol.hopByHop {
            end = offset + onWire  // jumbogram (RFC 2675): the length is in the hop-by-hop option; use the frame
        }
        guard end - offset <= onWire else {
            summary.stop(.badIPv6PayloadLength, .ipv6, offset: offset, required: end - offset, available: onWire)
            return
        }
        summary.network = .ipv6
        summary.source = ip.source
        summary.destination = ip.destination
        summary.ttl = ip.hopLimit
        var next = ip.nextHeader
        var headerOffset = offset + IPv6Header.length
        while IPv6ExtensionHeader.isExtension(next) {
            summary.ipProtocol = next
            guard end - headerOffset >= IPv6ExtensionHeader.minimumLength else {
                summary.stop(.badIPv6ExtensionChain, .ipv6Extension, offset: headerOffset,
                             required: IPv6ExtensionHeader.minimumLength, available: end - headerOffset)
                return
            }
            guard let ext = IPv6ExtensionHeader(cursor.header(at: headerOffset, end: end), kind: next) else {
                return cursor.stopShort(IPv6ExtensionHeader.minimumLength, at: headerOffset, end: end,
                                        layer: .ipv6Extension, &summary)
            }
            let length = ext.headerLength
            guard length <= end - headerOffset else {
                summary.stop(.badIPv6ExtensionChain, .ipv6Extension, offset: headerOffset, required: length,
                             available: end - headerOffset)
                return
            }
            // An atomic fragment (offset 0, M clear) is a whole datagram (RFC 6946): not a fragment.
            if next == IPProtocol.ipv6Fragment && (ext.fragmentOffset > 0 || ext.moreFragments) {
                summary.fragment.isFragment = true
                summary.fragment.offset = Int32(clamping: ext.fragmentOffset)
                summary.fragment.moreFragments = ext.moreFragments
                summary.fragment.identification = ext.fragmentIdentification
                let dataLength = end - headerOffset - length
                if ext.fragmentOffset + dataLength > 65_535 {
                    summary.stop(.badFragment, .ipv6Extension, offset: headerOffset,
                                 required: ext.fragmentOffset + dataLength, available: 65_535)
                    return
                }
            }
            next = ext.nextHeader
            guard cursor.require(length, at: headerOffset, layer: .ipv6Extension, &summary) else {
                summary.ipProtocol = next
                return
            }
            headerOffset += length
            if summary.fragment.isNonFirst {
                summary.ipProtocol = next
                summary.payloadLength = Int32(clamping: end - headerOffset)
                return
            }
        }
        summary.ipProtocol = next
        decodeTransport(next, at: headerOffset, end: end, &cursor, &summary)
    }

    // MARK: Transport

    /// Decodes the transport header at `offset`; `end` is where the IP datagram (or this fragment) ends.
    static func decodeTransport(
        _ protocolNumber: UInt8, at offset: Int, end: Int, _ cursor: inout Cursor, _ summary: inout PacketSummary
    ) {
        let inDatagram = end - offset
        // A first fragment carries only part of the datagram the transport lengths describe.
        let isFirstFragment = summary.fragment.isFragment
        switch protocolNumber {
        case IPProtocol.tcp:
            guard let tcp = TCPHeader(cursor.header(at: offset, end: end)) else {
                return cursor.stopShort(TCPHeader.minimumLength, at: offset, end: end, layer: .tcp, &summary)
            }
            let headerLength = tcp.headerLength
            // A first fragment may end inside the TCP options (RFC 791 lets it end on any 8-byte boundary): the
            // fixed header is here, the rest comes with the next fragment.
            guard headerLength >= TCPHeader.minimumLength, isFirstFragment || headerLength <= inDatagram else {
                summary.stop(.badTCPDataOffset, .tcp, offset: offset, required: headerLength, available: inDatagram)
                return
            }
            summary.hasPorts = true
            summary.sourcePort = tcp.sourcePort
            summary.destinationPort = tcp.destinationPort
            summary.tcpFlags = tcp.flags
            summary.tcpSequence = tcp.sequenceNumber
            summary.tcpAcknowledgment = tcp.acknowledgmentNumber
            summary.payloadLength = Int32(clamping: max(0, inDatagram - headerLength))
            // Options cut by the snapshot length: ports and flags are good.
            _ = cursor.require(min(headerLength, inDatagram), at: offset, end: end, layer: .tcp, &summary)
        case IPProtocol.udp:
            guard let udp = UDPHeader(cursor.header(at: offset, end: end)) else {
                return cursor.stopShort(UDPHeader.length, at: offset, end: end, layer: .udp, &summary)
            }
            let length = udp.length
            guard length >= UDPHeader.length, isFirstFragment || length <= inDatagram else {
                summary.stop(.badUDPLength, .udp, offset: offset, required: length, available: inDatagram)
                return
            }
            summary.hasPorts = true
            summary.sourcePort = udp.sourcePort
            summary.destinationPort = udp.destinationPort
            summary.payloadLength = Int32(clamping: (isFirstFragment ? inDatagram : length) - UDPHeader.length)
        case IPProtocol.icmp, IPProtocol.icmpv6:
            let layer: Layer = protocolNumber == IPProtocol.icmp ? .icmp : .icmpv6
            guard let icmp = ICMPHeader(cursor.header(at: offset, end: end)) else {
                return cursor.stopShort(ICMPHeader.length, at: offset, end: end, layer: layer, &summary)
            }
            summary.hasICMP = true
            summary.icmpType = icmp.type
            summary.icmpCode = icmp.code
            summary.payloadLength = Int32(clamping: inDatagram - ICMPHeader.length)
            let isError =
                layer == .icmp ? ICMPHeader.isIPv4Error(icmp.type) : ICMPHeader.isIPv6Error(icmp.type)
            if isError {
                summary.quoted = decodeQuoted(icmp.quotedPacket, ipv6: layer == .icmpv6)
            }
        case IPProtocol.sctp:
            // SCTP's common header (RFC 9260) starts with the two ports, as UDP's does; the rest is chunks.
            guard let sctp = SCTPHeader(cursor.header(at: offset, end: end)) else {
                return cursor.stopShort(SCTPHeader.length, at: offset, end: end, layer: .sctp, &summary)
            }
            summary.hasPorts = true
            summary.sourcePort = sctp.sourcePort
            summary.destinationPort = sctp.destinationPort
            summary.payloadLength = Int32(clamping: inDatagram - SCTPHeader.length)
        default:
            summary.payloadLength = Int32(clamping: inDatagram)
        }
    }

    /// An IPv4 first fragment that ends inside the fixed TCP header. Linux trims a fragment with more to come to a
    /// multiple of 8 bytes and drops the datagram when nothing is left, so 8 bytes (ports and sequence number) are
    /// there in any first fragment it reassembles; shorter ones stay `tooShort`, as before.
    static func decodeTinyTCP(at offset: Int, end: Int, _ cursor: inout Cursor, _ summary: inout PacketSummary) {
        let carried = end - offset
        guard carried >= TCPHeaderStart.length else {
            _ = cursor.require(TCPHeader.minimumLength, at: offset, end: end, layer: .tcp, &summary)
            return
        }
        // The snapshot length cut the ports: truncated, as any header.
        guard let start = TCPHeaderStart(cursor.header(at: offset, end: end)) else {
            return cursor.stopShort(TCPHeaderStart.length, at: offset, end: end, layer: .tcp, &summary)
        }
        summary.hasPorts = true
        summary.sourcePort = start.sourcePort
        summary.destinationPort = start.destinationPort
        summary.tcpSequence = start.sequenceNumber
        summary.fragment.transportSplit = true
        // The rest of its share of the header cut by the snapshot length: the ports are good, the cut is counted.
        _ = cursor.require(carried, at: offset, end: end, layer: .tcp, &summary)
    }

    /// Best effort over the packet an ICMP error quotes: its addresses, protocol and (when present) ports.
    /// Quoted packets are routinely cut after 8 transport bytes, so nothing here is an error.
    static func decodeQuoted(_ bytes: UnsafeRawBufferPointer, ipv6: Bool) -> QuotedPacket {
        var quoted = QuotedPacket()
        var transportOffset = 0
        if ipv6 {
            guard let ip = IPv6Header(bytes), ip.version == 6 else { return quoted }
            quoted.source = ip.source
            quoted.destination = ip.destination
            quoted.ipProtocol = ip.nextHeader
            transportOffset = IPv6Header.length
        } else {
            guard let ip = IPv4Header(bytes), ip.version == 4, ip.headerLength >= IPv4Header.minimumLength else {
                return quoted
            }
            quoted.source = ip.source
            quoted.destination = ip.destination
            quoted.ipProtocol = ip.protocolNumber
            transportOffset = ip.headerLength
            if ip.fragmentOffset > 0 { quoted.isValid = true; return quoted }
        }
        quoted.isValid = true
        if quoted.ipProtocol == IPProtocol.tcp || quoted.ipProtocol == IPProtocol.udp,
            let ports = TransportPorts(bytes.bytes(from: transportOffset, upTo: bytes.count))
        {
            quoted.hasPorts = true
            quoted.sourcePort = ports.sourcePort
            quoted.destinationPort = ports.destinationPort
        }
        return quoted
    }
}

/// The packet being decoded and its two outer limits: captured bytes and bytes on the wire.
struct Cursor {
    let bytes: UnsafeRawBufferPointer
    let wireLength: Int

    @inline(__always)
    func available(_ offset: Int) -> Int { max(0, bytes.count - offset) }

    @inline(__always)
    func wireAvailable(_ offset: Int) -> Int { max(0, wireLength - offset) }

    /// The bytes a view of the header at `offset` is made over: up to the end of the capture or, inside a datagram,
    /// to `end`, its end by the enclosing length field, whichever comes first (empty past them). The view's
    /// initializer then checks the header's length, once.
    @inline(__always)
    func header(at offset: Int, end: Int? = nil) -> UnsafeRawBufferPointer {
        bytes.bytes(from: offset, upTo: end ?? bytes.count)
    }

    /// Records why the `length` bytes a header needs at `offset` could not be read (its view refused them):
    /// `truncated` if the frame on the wire, and the enclosing datagram ending at `end`, were long enough (the
    /// snapshot length cut it), `tooShort` otherwise. Checks nothing: it is called only once a view refused.
    @inline(__always)
    func stopShort(_ length: Int, at offset: Int, end: Int? = nil, layer: Layer, _ summary: inout PacketSummary) {
        let limit = min(end ?? wireLength, wireLength)
        if offset + length > limit {
            summary.stop(.tooShort, layer, offset: offset, required: length, available: max(0, limit - offset))
        } else {
            summary.stop(.truncated, layer, offset: offset, required: length, available: available(offset))
        }
    }

    /// Checks that `length` bytes at `offset` were captured, for a part of a header no view reads (IPv4 and TCP
    /// options, a fragment's share of a TCP header): the layer after it is out of reach when they were not, and the
    /// stop is recorded as `stopShort` records it.
    @inline(__always)
    func require(_ length: Int, at offset: Int, layer: Layer, _ summary: inout PacketSummary) -> Bool {
        require(length, at: offset, end: wireLength, layer: layer, &summary)
    }

    /// As `require(_:at:layer:_:)`, with an enclosing length field ending the datagram at `end`.
    @inline(__always)
    func require(_ length: Int, at offset: Int, end: Int, layer: Layer, _ summary: inout PacketSummary) -> Bool {
        if offset + length <= bytes.count && offset + length <= end { return true }
        stopShort(length, at: offset, end: end, layer: layer, &summary)
        return false
    }
}

extension PacketSummary {
    @inline(__always)
    mutating func stop(_ reason: StopReason, _ layer: Layer, offset: Int, required: Int, available: Int) {
        stop = reason
        stopLocation = StopLocation(layer: layer, offset: offset, required: required, available: available)
    }
}
