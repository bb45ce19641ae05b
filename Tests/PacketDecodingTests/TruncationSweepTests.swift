// Sweeps that assert "never traps": every prefix of real packets (as a snapshot length would cut them, and as a
// frame that really ended there), random bytes over every link type, and randomly damaged real packets.
// A trap (out-of-bounds read, overflow) ends the test process, so reaching the expectations is the first check.

import Testing
@testable import PacketDecoding

/// A real or hand-written packet and the offsets where each layer it carries becomes complete.
struct SweepCase: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let link: LinkType
    /// Where the last header the decoder reads ends; a shorter prefix cuts a header.
    let headersEnd: Int
    /// End of the link header when it carries MAC addresses (Ethernet, SLL with an address), else nil.
    var macEnd: Int?
    /// End of each VLAN tag.
    var tagEnds: [Int] = []
    /// End of the fixed network header (20 IPv4 bytes, 40 IPv6 bytes, 28 ARP bytes): addresses are known from here.
    let networkEnd: Int
    /// End of the fixed TCP or UDP header: ports are known from here.
    var portsEnd: Int?
    /// End of the ICMP header, and of the quoted IP header plus 4 bytes (the quoted ports).
    var icmpEnd: Int?
    var quotedPortsEnd: Int?

    var testDescription: String { name }

    static let all: [SweepCase] = [
        SweepCase(
            name: "TCP RST behind IPv4 Record Route (IHL 15), Ethernet", bytes: Corpus.ipv4RecordRouteTCPRST,
            link: .ethernet, headersEnd: 94, macEnd: 14, networkEnd: 34, portsEnd: 94),
        SweepCase(
            name: "TCP SYN with options, Linux SLL", bytes: Corpus.sllTCPSYN, link: .linuxSLL, headersEnd: 76,
            networkEnd: 36, portsEnd: 56),
        SweepCase(
            name: "TCP SYN behind three VLAN tags", bytes: Corpus.qinqinqTCPSYN, link: .ethernet, headersEnd: 90,
            macEnd: 14, tagEnds: [18, 22, 26], networkEnd: 46, portsEnd: 66),
        SweepCase(
            name: "ARP request behind QinQ", bytes: Corpus.qinqARPRequest, link: .ethernet, headersEnd: 50,
            macEnd: 14, tagEnds: [18, 22], networkEnd: 50),
        SweepCase(
            name: "IPv6 hop-by-hop, destination options, routing, fragment, AH, TCP", bytes: IPv6Tests.chainToTCP,
            link: .raw, headersEnd: 116, networkEnd: 40, portsEnd: 116),
        SweepCase(
            name: "IPv6 hop-by-hop, destination options, routing, AH, UDP", bytes: IPv6Tests.chainToUDP,
            link: .ipv6, headersEnd: 96, networkEnd: 40, portsEnd: 96),
        SweepCase(
            name: "IPv6 hop-by-hop and routing type 0 to UDP, Ethernet", bytes: Corpus.ipv6HopByHopRoutingUDP,
            link: .ethernet, headersEnd: 110, macEnd: 14, networkEnd: 54, portsEnd: 110),
        SweepCase(
            name: "ICMP port unreachable quoting UDP", bytes: Corpus.icmpPortUnreachable, link: .ethernet,
            headersEnd: 42, macEnd: 14, networkEnd: 34, icmpEnd: 42, quotedPortsEnd: 66),
        SweepCase(
            name: "ICMPv6 unreachable quoting TCP", bytes: Corpus.icmpv6RouteUnreachable, link: .ethernet,
            headersEnd: 62, macEnd: 14, networkEnd: 54, icmpEnd: 62, quotedPortsEnd: 106),
        // RFC 1858's tiny fragments: a first fragment with 12 bytes of the TCP header (ports known from 8), and a
        // later fragment at offset 8 with the other 12 (no ports of its own).
        SweepCase(
            name: "IPv4 tiny first fragment, 12 bytes of TCP", bytes: TinyFragmentTests.tinyFirst, link: .raw,
            headersEnd: 32, networkEnd: 20, portsEnd: 28),
        SweepCase(
            name: "IPv4 fragment at offset 8 with the rest of the TCP header", bytes: TinyFragmentTests.restOfHeader,
            link: .raw, headersEnd: 32, networkEnd: 20),
        SweepCase(
            name: "UDP over IPv6, Darwin NULL loopback", bytes: Corpus.nullIPv6DarwinUDP, link: .null,
            headersEnd: 52, networkEnd: 44, portsEnd: 52),
    ]
}

@Suite struct TruncationSweepTests {
    @Test(arguments: SweepCase.all)
    func everyPrefixCutBySnapLength(_ sweep: SweepCase) {
        let full = decode(sweep.bytes, link: sweep.link)
        #expect(full.stop == .complete, "the uncut packet decodes")
        let wire = sweep.bytes.count
        for n in 0...wire {
            let summary = decodePrefix(sweep.bytes, n, wireLength: wire, link: sweep.link)
            let at: Comment = "\(n) of \(wire) bytes"
            #expect(summary.capturedLength == Int32(n), at)
            #expect(summary.wireLength == Int32(wire), at)
            if n < sweep.headersEnd {
                #expect(summary.stop == .truncated, at)
                let location = summary.stopLocation
                #expect(location.required > location.available, at)
                #expect(location.offset <= Int32(n), at)
                #expect(location.offset + location.available == Int32(n), at)
            } else {
                #expect(summary.stop == .complete, at)
                #expect(summary.payloadLength == full.payloadLength, at)
                #expect(summary.tcpFlags == full.tcpFlags, at)
                #expect(summary.fragment == full.fragment, at)
            }
            Self.expectLayersKept(summary, full: full, prefix: n, sweep, at)
        }
    }

    @Test(arguments: SweepCase.all)
    func everyPrefixAsAShortFrame(_ sweep: SweepCase) {
        // The frame really ended after `n` bytes: nothing may be reported as a snapshot cut, and a frame that ends
        // inside a header is never complete.
        for n in 0...sweep.bytes.count {
            let summary = decodePrefix(sweep.bytes, n, wireLength: n, link: sweep.link)
            let at: Comment = "\(n) bytes on the wire"
            #expect(summary.stop != .truncated, at)
            if n < sweep.headersEnd {
                #expect(summary.stop != .complete, at)
            }
            // The header being read when the frame ended could not be kept; everything before it can.
            if summary.stop == .tooShort {
                #expect(summary.stopLocation.required > summary.stopLocation.available, at)
            }
        }
    }

    static func expectLayersKept(
        _ summary: PacketSummary, full: PacketSummary, prefix n: Int, _ sweep: SweepCase, _ at: Comment
    ) {
        if let macEnd = sweep.macEnd, n >= macEnd {
            #expect(summary.sourceMAC == full.sourceMAC, at)
            #expect(summary.destinationMAC == full.destinationMAC, at)
        }
        let tags = sweep.tagEnds.filter { $0 <= n }.count
        #expect(Int(summary.vlanCount) == tags, at)
        if tags >= 1 { #expect(summary.outerVLAN == full.outerVLAN, at) }
        if tags >= 2 { #expect(summary.innerVLAN == full.innerVLAN, at) }
        if n >= sweep.networkEnd {
            #expect(summary.network == full.network, at)
            #expect(summary.source == full.source, at)
            #expect(summary.destination == full.destination, at)
            #expect(summary.ttl == full.ttl, at)
        } else {
            #expect(summary.network == .none, at)
        }
        if let portsEnd = sweep.portsEnd, n >= portsEnd {
            #expect(summary.hasPorts, at)
            #expect(summary.sourcePort == full.sourcePort, at)
            #expect(summary.destinationPort == full.destinationPort, at)
            #expect(summary.tcpSequence == full.tcpSequence, at)
        } else {
            #expect(!summary.hasPorts, at)
        }
        if let icmpEnd = sweep.icmpEnd, n >= icmpEnd {
            #expect(summary.hasICMP, at)
            #expect(summary.icmpType == full.icmpType, at)
            #expect(summary.icmpCode == full.icmpCode, at)
        } else {
            #expect(!summary.hasICMP, at)
        }
        if let quotedPortsEnd = sweep.quotedPortsEnd, n >= quotedPortsEnd {
            #expect(summary.quoted == full.quoted, at)
            #expect(summary.quoted.hasPorts, at)
        }
    }

    // MARK: Random input

    static let linkTypes: [LinkType] = [
        .ethernet, .linuxSLL, .linuxSLL2, .null, .loop, .raw, .rawLinktype, .ipv4, .ipv6, LinkType(rawValue: 160),
    ]

    /// Invariants that hold for any input.
    static func expectConsistent(_ summary: PacketSummary, captured: Int, wire: Int, link: LinkType, _ at: Comment) {
        #expect(summary.capturedLength == Int32(captured), at)
        #expect(summary.linkType == link, at)
        if summary.stop == .truncated {
            #expect(wire > captured, at)
            #expect(summary.stopLocation.required > summary.stopLocation.available, at)
        }
        if summary.stop == .complete {
            #expect(summary.stopLocation == StopLocation(layer: .link, offset: 0, required: 0, available: 0), at)
        }
        if summary.hasPorts { #expect(summary.isIP, at) }
        if summary.hasICMP { #expect(summary.isIP, at) }
        if summary.network == .arp { #expect(summary.etherType == EtherType.arp, at) }
        #expect(Int(summary.vlanCount) <= PacketDecoder.maximumVLANTags, at)
        if !link.isSupported { #expect(summary.stop == .unsupportedLinkType, at) }
    }

    @Test(arguments: linkTypes)
    func randomBytesNeverTrap(link: LinkType) {
        var generator = SplitMix64(seed: 0x5EED_0000 &+ UInt64(bitPattern: Int64(link.rawValue)))
        for iteration in 0..<3000 {
            let count = Int.random(in: 0...160, using: &generator)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            // Half the buffers get a plausible start so the decoder gets past the link layer more often.
            if count >= 24, Bool.random(using: &generator) {
                Self.makePlausible(&bytes, link: link, using: &generator)
            }
            let wire = Bool.random(using: &generator) ? count : count + Int.random(in: 1...2000, using: &generator)
            let summary = decode(bytes, wireLength: wire, link: link)
            Self.expectConsistent(summary, captured: count, wire: wire, link: link, "iteration \(iteration)")
        }
    }

    /// Writes a believable link header and IP version nibble at the front of random bytes.
    static func makePlausible(_ bytes: inout [UInt8], link: LinkType, using generator: inout SplitMix64) {
        let etherTypes: [UInt16] = [EtherType.ipv4, EtherType.ipv6, EtherType.arp, EtherType.vlan, EtherType.qinq]
        let etherType = etherTypes.randomElement(using: &generator)!
        let ipStart: Int
        switch link {
        case .ethernet:
            bytes[12] = UInt8(etherType >> 8)
            bytes[13] = UInt8(etherType & 0xff)
            ipStart = 14
        case .linuxSLL:
            bytes[14] = UInt8(etherType >> 8)
            bytes[15] = UInt8(etherType & 0xff)
            ipStart = 16
        case .linuxSLL2:
            bytes[0] = UInt8(etherType >> 8)
            bytes[1] = UInt8(etherType & 0xff)
            ipStart = 20
        case .null, .loop:
            let family = [UInt8(2), 10, 24, 28, 30].randomElement(using: &generator)!
            bytes[0...3] = Bool.random(using: &generator) ? [family, 0, 0, 0] : [0, 0, 0, family]
            ipStart = 4
        default:
            ipStart = 0
        }
        guard bytes.count > ipStart else { return }
        let version: UInt8 = Bool.random(using: &generator) ? 4 : 6
        if version == 4 {
            bytes[ipStart] = 0x40 | UInt8.random(in: 5...15, using: &generator)
        } else {
            bytes[ipStart] = 0x60 | (bytes[ipStart] & 0x0f)
            if bytes.count > ipStart + 6 {
                let next = [UInt8(0), 6, 17, 43, 44, 51, 58, 60].randomElement(using: &generator)!
                bytes[ipStart + 6] = next
            }
        }
        if bytes.count > ipStart + 9, version == 4 {
            bytes[ipStart + 9] = [UInt8(1), 6, 17].randomElement(using: &generator)!
        }
    }

    static let seeds: [(bytes: [UInt8], link: LinkType)] = [
        (Corpus.qinqARPRequest, .ethernet), (Corpus.qinqinqTCPSYN, .ethernet), (Corpus.llcNetBEUI, .ethernet),
        (Corpus.sshBannerWithTrailer, .ethernet), (Corpus.tcpAllLowFlags, .ethernet),
        (Corpus.sllTCPSYN, .linuxSLL), (Corpus.sllARPRequest, .linuxSLL), (Corpus.sll2ICMPEcho, .linuxSLL2),
        (Corpus.sll2ICMPv6Echo, .linuxSLL2), (Corpus.nullTCPRSTSnapped, .null), (Corpus.nullIPv6DarwinUDP, .null),
        (Corpus.rawIPv4DNS, .ipv4), (Corpus.rawIPv6DNS, .ipv6), (Corpus.arpRequest, .ethernet),
        (Corpus.ipv4RecordRouteTCPRST, .ethernet), (Corpus.ipv4RouterAlertIGMP, .ethernet),
        (Corpus.icmpPortUnreachable, .ethernet), (Corpus.icmpPortUnreachableTraceroute, .raw),
        (Corpus.ipv4FirstFragmentUDP, .ethernet), (Corpus.ipv4LaterFragmentTCP, .ethernet),
        (Corpus.icmpv6EchoRequest, .ethernet), (Corpus.icmpv6RouteUnreachable, .ethernet),
        (Corpus.ipv6HopByHopRoutingUDP, .ethernet), (Corpus.ipv6AHUDP, .ethernet),
        (IPv6Tests.chainToTCP, .raw), (IPv6Tests.chainToUDP, .raw), (IPv6Tests.firstFragmentUDP, .raw),
        (IPv6Tests.laterFragment, .raw),
    ]

    @Test func damagedRealPacketsNeverTrap() {
        var generator = SplitMix64(seed: 0xDA_AA6E)
        for iteration in 0..<6000 {
            let seed = Self.seeds.randomElement(using: &generator)!
            var bytes = seed.bytes
            for _ in 0..<Int.random(in: 1...6, using: &generator) where !bytes.isEmpty {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            let count = Bool.random(using: &generator) ? bytes.count : Int.random(in: 0...bytes.count, using: &generator)
            let wire = Bool.random(using: &generator) ? count : bytes.count + Int.random(in: 0...100, using: &generator)
            let summary = decodePrefix(bytes, count, wireLength: wire, link: seed.link)
            Self.expectConsistent(summary, captured: count, wire: max(wire, count), link: seed.link,
                                  "iteration \(iteration)")
        }
    }
}
