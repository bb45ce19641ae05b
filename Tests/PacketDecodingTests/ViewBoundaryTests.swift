// Every length a header view needs, at its boundary: one byte short (cut by the snapshot length, a frame that ended
// there, a datagram whose length field ends there) and exactly enough. Each packet is decoded from a copy of exactly
// the bytes given, so a view that read past its bytes traps (debug builds check every raw read); a view that took a
// short header as whole would not stop where these tests expect it to, with the coordinates they expect.

import Testing
@testable import PacketDecoding

/// One length the decoder needs before it reads a header: `length` bytes at `offset`, read at `layer`.
struct ViewBoundary: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let link: LinkType
    let layer: Layer
    let offset: Int
    let length: Int
    /// The reason when the frame on the wire ends one byte short: `tooShort` before any length field encloses the
    /// header; inside an IP datagram, the IP length field that claims more than the frame had comes first.
    let shortFrame: StopReason
    /// For a header inside an IPv4 datagram: where that datagram starts, so its total length can end it one byte short.
    var ipv4At: Int?
    /// The reason when that datagram ends one byte short: `tooShort`, or the length field that then contradicts it.
    var shortDatagram: StopReason = .tooShort

    var testDescription: String { "\(name) (\(length) bytes at \(offset))" }

    static let all: [ViewBoundary] = [
        ViewBoundary(name: "Ethernet", bytes: Corpus.arpRequest, link: .ethernet, layer: .link, offset: 0, length: 14,
                     shortFrame: .tooShort),
        ViewBoundary(name: "outer 802.1ad tag", bytes: Corpus.qinqARPRequest, link: .ethernet, layer: .vlan, offset: 14,
                     length: 4, shortFrame: .tooShort),
        ViewBoundary(name: "inner 802.1Q tag", bytes: Corpus.qinqARPRequest, link: .ethernet, layer: .vlan, offset: 18,
                     length: 4, shortFrame: .tooShort),
        ViewBoundary(name: "Linux SLL", bytes: Corpus.sllTCPSYN, link: .linuxSLL, layer: .link, offset: 0, length: 16,
                     shortFrame: .tooShort),
        ViewBoundary(name: "Linux SLL2", bytes: Corpus.sll2ICMPEcho, link: .linuxSLL2, layer: .link, offset: 0,
                     length: 20, shortFrame: .tooShort),
        ViewBoundary(name: "BSD loopback", bytes: Corpus.nullIPv6DarwinUDP, link: .null, layer: .link, offset: 0,
                     length: 4, shortFrame: .tooShort),
        ViewBoundary(name: "ARP fixed part", bytes: Corpus.arpRequest, link: .ethernet, layer: .arp, offset: 14,
                     length: 8, shortFrame: .tooShort),
        ViewBoundary(name: "ARP Ethernet/IPv4 addresses", bytes: Corpus.arpRequest, link: .ethernet, layer: .arp,
                     offset: 14, length: 28, shortFrame: .tooShort),
        ViewBoundary(name: "ARP behind Linux SLL", bytes: Corpus.sllARPRequest, link: .linuxSLL, layer: .arp,
                     offset: 16, length: 28, shortFrame: .tooShort),
        ViewBoundary(name: "IPv4 fixed header", bytes: Corpus.icmpEchoRequest, link: .ethernet, layer: .ipv4,
                     offset: 14, length: 20, shortFrame: .tooShort),
        ViewBoundary(name: "IPv4 header with Record Route (IHL 15)", bytes: Corpus.ipv4RecordRouteTCPRST,
                     link: .ethernet, layer: .ipv4, offset: 14, length: 60, shortFrame: .badIPv4TotalLength),
        ViewBoundary(name: "raw IPv6 header", bytes: Corpus.rawIPv6DNS, link: .raw, layer: .ipv6, offset: 0, length: 40,
                     shortFrame: .tooShort),
        ViewBoundary(name: "IPv6 hop-by-hop header", bytes: IPv6Tests.chainToUDP, link: .ipv6, layer: .ipv6Extension,
                     offset: 40, length: 8, shortFrame: .badIPv6PayloadLength),
        ViewBoundary(name: "IPv6 authentication header", bytes: IPv6Tests.chainToUDP, link: .ipv6,
                     layer: .ipv6Extension, offset: 64, length: 24, shortFrame: .badIPv6PayloadLength),
        ViewBoundary(name: "UDP behind the IPv6 chain", bytes: IPv6Tests.chainToUDP, link: .ipv6, layer: .udp,
                     offset: 88, length: 8, shortFrame: .badIPv6PayloadLength),
        ViewBoundary(name: "TCP fixed header", bytes: Corpus.qinqinqTCPSYN, link: .ethernet, layer: .tcp, offset: 46,
                     length: 20, shortFrame: .badIPv4TotalLength, ipv4At: 26),
        ViewBoundary(name: "TCP header with options", bytes: Corpus.qinqinqTCPSYN, link: .ethernet, layer: .tcp,
                     offset: 46, length: 44, shortFrame: .badIPv4TotalLength, ipv4At: 26, shortDatagram: .badTCPDataOffset),
        ViewBoundary(name: "UDP", bytes: Corpus.rawIPv4DNS, link: .raw, layer: .udp, offset: 20, length: 8,
                     shortFrame: .badIPv4TotalLength, ipv4At: 0),
        ViewBoundary(name: "ICMP", bytes: Corpus.icmpEchoRequest, link: .ethernet, layer: .icmp, offset: 34, length: 8,
                     shortFrame: .badIPv4TotalLength, ipv4At: 14),
        ViewBoundary(name: "ICMPv6", bytes: Corpus.sll2ICMPv6Echo, link: .linuxSLL2, layer: .icmpv6, offset: 60,
                     length: 8, shortFrame: .badIPv6PayloadLength),
        ViewBoundary(name: "SCTP common header", bytes: ViewBoundaryTests.sctpInit, link: .raw, layer: .sctp,
                     offset: 20, length: 12, shortFrame: .badIPv4TotalLength, ipv4At: 0),
        ViewBoundary(name: "ports and sequence number of a tiny first fragment", bytes: TinyFragmentTests.tinyFirst,
                     link: .raw, layer: .tcp, offset: 20, length: 8, shortFrame: .badIPv4TotalLength),
    ]
}

@Suite struct ViewBoundaryTests {
    /// Raw IPv4: SCTP INIT 192.0.2.1:5000 > 192.0.2.2:38412 (verification tag 0), chunk type 1 with 20 bytes.
    /// Hand-written from RFC 9260 sections 3.1 and 3.3.2; no checksum (IdleWatch does not verify checksums).
    static let sctpInit = hex("""
        4500 0034 0001 0000 4084 0000 c000 0201 c000 0202
        1388 960c 0000 0000 0000 0000
        0100 0014 0102 0304 0001 0000 000a 000a 0000 0001
        """)

    @Test(arguments: ViewBoundary.all)
    func oneByteShortCutBySnapLength(_ boundary: ViewBoundary) {
        let end = boundary.offset + boundary.length
        let summary = decodePrefix(boundary.bytes, end - 1, wireLength: boundary.bytes.count, link: boundary.link)
        #expect(summary.stop == .truncated)
        #expect(summary.stopLocation == StopLocation(layer: boundary.layer, offset: boundary.offset,
                                                     required: boundary.length, available: boundary.length - 1))
    }

    @Test(arguments: ViewBoundary.all)
    func oneByteShortOnTheWire(_ boundary: ViewBoundary) {
        let end = boundary.offset + boundary.length
        let summary = decodePrefix(boundary.bytes, end - 1, wireLength: end - 1, link: boundary.link)
        #expect(summary.stop == boundary.shortFrame)
        if boundary.shortFrame == .tooShort {
            #expect(summary.stopLocation == StopLocation(layer: boundary.layer, offset: boundary.offset,
                                                         required: boundary.length, available: boundary.length - 1))
        } else {
            // The IP header (this one, or the one enclosing it) said the datagram was longer than the frame: stopped
            // there, at that header, not at this one's length.
            #expect(summary.stopLocation.offset <= Int32(boundary.offset))
            #expect(summary.stopLocation.layer == .ipv4 || summary.stopLocation.layer == .ipv6)
        }
    }

    @Test(arguments: ViewBoundary.all)
    func exactlyEnough(_ boundary: ViewBoundary) {
        let end = boundary.offset + boundary.length
        let cut = decodePrefix(boundary.bytes, end, wireLength: boundary.bytes.count, link: boundary.link)
        #expect(!Self.stoppedFor(boundary, cut), "stopped at \(cut.stop) \(cut.stopLocation)")
        // Whatever this header tells the summary is what the whole packet tells it.
        let full = decode(boundary.bytes, link: boundary.link)
        Self.expectHeaderRead(boundary, cut, full)
        // The frame ends right after the header: still read whole (a later layer may be what is missing).
        let frameEnds = decodePrefix(boundary.bytes, end, wireLength: end, link: boundary.link)
        #expect(!Self.stoppedFor(boundary, frameEnds), "stopped at \(frameEnds.stop) \(frameEnds.stopLocation)")
    }

    /// The IPv4 total length ends the datagram one byte short of a transport header, or exactly after it; the frame
    /// has every byte, so only the length field limits the view.
    @Test(arguments: ViewBoundary.all.filter { $0.ipv4At != nil })
    func datagramEndsOneByteShortOrExactlyAfter(_ boundary: ViewBoundary) throws {
        let ipAt = try #require(boundary.ipv4At)
        let end = boundary.offset + boundary.length
        func withTotalLength(_ total: Int) -> [UInt8] {
            patched(boundary.bytes, [ipAt + 2: UInt8(total >> 8), ipAt + 3: UInt8(total & 0xff)])
        }
        let short = decode(withTotalLength(end - 1 - ipAt), link: boundary.link)
        #expect(short.stop == boundary.shortDatagram)
        #expect(short.stopLocation == StopLocation(layer: boundary.layer, offset: boundary.offset,
                                                   required: boundary.length, available: boundary.length - 1))
        #expect(!short.hasPorts && !short.hasICMP)

        let exact = decode(withTotalLength(end - ipAt), link: boundary.link)
        #expect(!Self.stoppedFor(boundary, exact), "stopped at \(exact.stop) \(exact.stopLocation)")
    }

    /// Stopped because this header's `length` bytes were not all there.
    static func stoppedFor(_ boundary: ViewBoundary, _ summary: PacketSummary) -> Bool {
        (summary.stop == .truncated || summary.stop == .tooShort)
            && summary.stopLocation.layer == boundary.layer && summary.stopLocation.offset == Int32(boundary.offset)
            && summary.stopLocation.required == Int32(boundary.length)
    }

    /// The fields this header gives, read from `length` bytes, equal those read from the whole packet.
    static func expectHeaderRead(_ boundary: ViewBoundary, _ cut: PacketSummary, _ full: PacketSummary) {
        switch boundary.layer {
        case .link:
            #expect(cut.sourceMAC == full.sourceMAC)
            #expect(cut.destinationMAC == full.destinationMAC)
            #expect(cut.etherType == full.etherType)
        case .vlan:
            #expect(cut.vlanCount >= UInt8((boundary.offset - 14) / 4 + 1))
            #expect(cut.outerVLAN == full.outerVLAN)
        case .arp:
            if boundary.length == 28 {
                #expect(cut.network == .arp)
                #expect(cut.arpOperation == full.arpOperation)
                #expect(cut.arpSenderMAC == full.arpSenderMAC)
                #expect(cut.arpTargetMAC == full.arpTargetMAC)
                #expect(cut.source == full.source)
                #expect(cut.destination == full.destination)
            }
        case .ipv4, .ipv6:
            #expect(cut.network == full.network)
            #expect(cut.source == full.source)
            #expect(cut.destination == full.destination)
            #expect(cut.ttl == full.ttl)
        case .ipv6Extension:
            #expect(cut.network == .ipv6)
        case .tcp, .udp, .sctp:
            #expect(cut.hasPorts)
            #expect(cut.sourcePort == full.sourcePort)
            #expect(cut.destinationPort == full.destinationPort)
            #expect(cut.tcpSequence == full.tcpSequence)
            #expect(cut.tcpFlags == full.tcpFlags)
        case .icmp, .icmpv6:
            #expect(cut.hasICMP)
            #expect(cut.icmpType == full.icmpType)
            #expect(cut.icmpCode == full.icmpCode)
        }
    }

    /// The 4 quoted port bytes of an ICMP error: 3 are not ports, 4 are (the quote is best effort, never a stop).
    @Test func quotedPortsNeedFourBytes() {
        let packet = Corpus.icmpPortUnreachable
        // Ethernet 14, IPv4 20, ICMP 8, then the quoted IPv4 header (20) and the quoted UDP header from 62.
        let portsEnd = 62 + 4
        let short = decodePrefix(packet, portsEnd - 1, wireLength: packet.count)
        #expect(short.stop == .complete)
        #expect(short.quoted.isValid)
        #expect(!short.quoted.hasPorts)
        let exact = decodePrefix(packet, portsEnd, wireLength: packet.count)
        #expect(exact.quoted.hasPorts)
        #expect(exact.quoted.sourcePort == 53)
        #expect(exact.quoted.destinationPort == 52328)
        // The quoted IPv4 header itself, one byte short: nothing quoted is read.
        let headerShort = decodePrefix(packet, 42 + 19, wireLength: packet.count)
        #expect(!headerShort.quoted.isValid)
        let headerExact = decodePrefix(packet, 42 + 20, wireLength: packet.count)
        #expect(headerExact.quoted.isValid)
        #expect(headerExact.quoted.source == ip("192.168.10.10"))
        #expect(!headerExact.quoted.hasPorts)
    }
    /// Each view refuses one byte less than its length; over exactly its length (a copy of that size, so a read
    /// past it traps) every accessor gives what it gives over the whole rest of the packet.
    @Test func eachViewReadsOnlyItsLength() {
        func check<View>(
            _ name: String, _ packet: [UInt8], at offset: Int, _ length: Int,
            _ make: (UnsafeRawBufferPointer) -> View?, _ fields: (View) -> [String]
        ) {
            let short = Array(packet[offset..<offset + length - 1])
            short.withUnsafeBytes { #expect(make($0) == nil, "\(name): \(length - 1) bytes") }
            let exact = Array(packet[offset..<offset + length])
            let whole = Array(packet[offset...])
            let fromExact = exact.withUnsafeBytes { make($0).map(fields) }
            let fromWhole = whole.withUnsafeBytes { make($0).map(fields) }
            #expect(fromExact != nil, "\(name): \(length) bytes")
            #expect(fromExact == fromWhole, "\(name)")
        }
        check("Ethernet", Corpus.arpRequest, at: 0, EthernetHeader.length, EthernetHeader.init) {
            ["\($0.destination)", "\($0.source)", "\($0.etherType)"]
        }
        check("VLAN tag", Corpus.qinqARPRequest, at: 14, VLANTag.length, VLANTag.init) {
            ["\($0.vlanID)", "\($0.priority)", "\($0.etherType)"]
        }
        check("Linux SLL", Corpus.sllARPRequest, at: 0, LinuxSLLHeader.length, LinuxSLLHeader.init) {
            ["\($0.packetType)", "\($0.arphrdType)", "\($0.addressLength)", "\($0.sourceMAC)", "\($0.protocolType)"]
        }
        check("Linux SLL2", Corpus.sll2ICMPEcho, at: 0, LinuxSLL2Header.length, LinuxSLL2Header.init) {
            ["\($0.protocolType)", "\($0.interfaceIndex)", "\($0.arphrdType)", "\($0.packetType)",
             "\($0.addressLength)", "\($0.sourceMAC)"]
        }
        check("loopback", Corpus.nullIPv6DarwinUDP, at: 0, LoopbackHeader.length, LoopbackHeader.init) {
            ["\($0.family)", "\(String(describing: $0.etherType))"]
        }
        check("ARP fixed part", Corpus.arpReply, at: 14, ARPHeader.length, ARPHeader.init) {
            ["\($0.hardwareType)", "\($0.protocolType)", "\($0.hardwareLength)", "\($0.protocolLength)",
             "\($0.operation)", "\($0.isEthernetIPv4)"]
        }
        check("ARP packet", Corpus.arpReply, at: 14, ARPPacket.length, ARPPacket.init) {
            ["\($0.operation)", "\($0.senderHardware)", "\($0.senderProtocol)", "\($0.targetHardware)",
             "\($0.targetProtocol)"]
        }
        check("IPv4", Corpus.ipv4RecordRouteTCPRST, at: 14, IPv4Header.minimumLength, IPv4Header.init) {
            ["\($0.version)", "\($0.headerLength)", "\($0.totalLength)", "\($0.identification)",
             "\($0.dontFragment)", "\($0.moreFragments)", "\($0.fragmentOffset)", "\($0.ttl)",
             "\($0.protocolNumber)", "\($0.source)", "\($0.destination)"]
        }
        check("IPv6", IPv6Tests.chainToTCP, at: 0, IPv6Header.length, IPv6Header.init) {
            ["\($0.version)", "\($0.payloadLength)", "\($0.nextHeader)", "\($0.hopLimit)", "\($0.source)",
             "\($0.destination)"]
        }
        for (offset, kind): (Int, UInt8) in [(40, 0), (48, 60), (56, 43), (64, 44), (72, 51)] {
            check("IPv6 extension \(kind)", IPv6Tests.chainToTCP, at: offset, IPv6ExtensionHeader.minimumLength,
                  { IPv6ExtensionHeader($0, kind: kind) }) {
                ["\($0.nextHeader)", "\($0.headerLength)", "\($0.fragmentOffset)", "\($0.moreFragments)",
                 "\($0.fragmentIdentification)"]
            }
        }
        check("TCP", Corpus.qinqinqTCPSYN, at: 46, TCPHeader.minimumLength, TCPHeader.init) {
            ["\($0.sourcePort)", "\($0.destinationPort)", "\($0.sequenceNumber)", "\($0.acknowledgmentNumber)",
             "\($0.headerLength)", "\($0.flags)", "\($0.window)"]
        }
        check("TCP start", TinyFragmentTests.tinyFirst, at: 20, TCPHeaderStart.length, TCPHeaderStart.init) {
            ["\($0.sourcePort)", "\($0.destinationPort)", "\($0.sequenceNumber)"]
        }
        check("quoted ports", Corpus.icmpPortUnreachable, at: 62, TransportPorts.length, TransportPorts.init) {
            ["\($0.sourcePort)", "\($0.destinationPort)"]
        }
        check("UDP", Corpus.rawIPv4DNS, at: 20, UDPHeader.length, UDPHeader.init) {
            ["\($0.sourcePort)", "\($0.destinationPort)", "\($0.length)"]
        }
        check("ICMP", Corpus.icmpEchoRequest, at: 34, ICMPHeader.length, ICMPHeader.init) {
            ["\($0.type)", "\($0.code)", "\($0.identifier)", "\($0.sequence)"]
        }
        check("SCTP", Self.sctpInit, at: 20, SCTPHeader.length, SCTPHeader.init) {
            ["\($0.sourcePort)", "\($0.destinationPort)", "\($0.verificationTag)"]
        }
        // An ICMP error's quote is what follows the 8-byte header, as far as the view's bytes go.
        let quote = Array(Corpus.icmpPortUnreachable[34..<70]).withUnsafeBytes { ICMPHeader($0)?.quotedPacket.count }
        #expect(quote == 70 - 34 - ICMPHeader.length)
        let empty = Array(Corpus.icmpPortUnreachable[34..<42]).withUnsafeBytes { ICMPHeader($0)?.quotedPacket.count }
        #expect(empty == 0)
    }
}
