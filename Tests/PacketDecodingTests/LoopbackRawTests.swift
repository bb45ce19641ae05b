// BSD loopback (LINKTYPE_NULL in the writer's byte order, LINKTYPE_LOOP in network order), raw IP link types
// (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6) and link types the decoder does not read.

import Testing
@testable import PacketDecoding

@Suite struct LoopbackRawTests {
    /// The NULL/LOOP header for `family`, in little- or big-endian order.
    static func familyHeader(_ family: UInt32, bigEndian: Bool) -> [UInt8] {
        let value = bigEndian ? family.bigEndian : family.littleEndian
        return withUnsafeBytes(of: value) { Array($0) }
    }

    /// The Darwin loopback UDP packet with its 4-byte header replaced.
    static func ipv6Loopback(family: UInt32, bigEndian: Bool) -> [UInt8] {
        familyHeader(family, bigEndian: bigEndian) + Corpus.nullIPv6DarwinUDP[4...]
    }

    @Test func familyIsReadInEitherByteOrder() {
        for bigEndian in [false, true] {
            for (family, etherType) in [(UInt32(2), EtherType.ipv4), (10, EtherType.ipv6), (24, EtherType.ipv6),
                                        (28, EtherType.ipv6), (30, EtherType.ipv6), (7, nil)] {
                Self.familyHeader(family, bigEndian: bigEndian).withUnsafeBytes { bytes in
                    let header = LoopbackHeader(bytes)
                    #expect(header?.family == family, "family \(family), big-endian \(bigEndian)")
                    #expect(header?.etherType == etherType, "family \(family), big-endian \(bigEndian)")
                }
            }
        }
        hex("020000").withUnsafeBytes { #expect(LoopbackHeader($0) == nil) }
    }

    @Test func nullLittleEndianIPv4() {
        // Captured 50 of 52 bytes: the cut falls in the TCP payload, so every header was read.
        let summary = decode(Corpus.nullTCPRSTSnapped, wireLength: Corpus.nullTCPRSTSnappedWireLength, link: .null)
        #expect(summary.stop == .complete)
        #expect(summary.etherType == EtherType.ipv4)
        #expect(summary.network == .ipv4)
        #expect(summary.source == ip("192.0.2.1"))
        #expect(summary.destination == ip("192.168.0.1"))
        #expect(summary.ttl == 255)
        #expect(summary.sourcePort == 43018)
        #expect(summary.destinationPort == 8080)
        #expect(summary.tcpFlags == [.rst, .ack])
        #expect(summary.tcpSequence == 1)
        #expect(summary.tcpAcknowledgment == 3_952_016_906)
        #expect(summary.payloadLength == 8)  // from the IPv4 total length, not the 6 bytes captured
        #expect(summary.capturedLength == 50)
        #expect(summary.wireLength == 52)
    }

    @Test func nullBigEndianIPv4AndLoop() {
        // The same packet as a big-endian writer (NULL) and OpenBSD's LOOP (always network order) store it.
        let packet = Self.familyHeader(2, bigEndian: true) + Corpus.nullTCPRSTSnapped[4...]
        for link in [LinkType.null, .loop] {
            let summary = decode(packet, wireLength: 52, link: link)
            #expect(summary.stop == .complete, "\(link)")
            #expect(summary.linkType == link)
            #expect(summary.etherType == EtherType.ipv4)
            #expect(summary.source == ip("192.0.2.1"))
            #expect(summary.destinationPort == 8080)
        }
    }

    @Test(arguments: [UInt32(10), 24, 28, 30])
    func nullIPv6FamiliesInBothByteOrders(family: UInt32) {
        for bigEndian in [false, true] {
            for link in bigEndian ? [LinkType.null, .loop] : [LinkType.null] {
                let summary = decode(Self.ipv6Loopback(family: family, bigEndian: bigEndian), link: link)
                let context: Comment = "family \(family), big-endian \(bigEndian), \(link)"
                #expect(summary.stop == .complete, context)
                #expect(summary.etherType == EtherType.ipv6, context)
                #expect(summary.network == .ipv6, context)
                #expect(summary.source == ip("::1"), context)
                #expect(summary.destination == ip("::1"), context)
                #expect(summary.ipProtocol == IPProtocol.udp, context)
                #expect(summary.sourcePort == 65165, context)
                #expect(summary.destinationPort == 443, context)
                #expect(summary.payloadLength == 39, context)
            }
        }
    }

    @Test func nullUnknownFamilyIsSkipped() {
        for bigEndian in [false, true] {
            let packet = Self.ipv6Loopback(family: 7, bigEndian: bigEndian)
            let summary = decode(packet, link: .null)
            #expect(summary.stop == .unsupportedEtherType)
            #expect(summary.etherType == 7)
            #expect(summary.stopLocation == StopLocation(layer: .link, offset: 0, required: 0, available: packet.count))
            #expect(summary.network == .none)
        }
    }

    @Test func loopbackHeaderCutOrShort() {
        let cut = decodePrefix(Corpus.nullTCPRSTSnapped, 3, wireLength: 52, link: .null)
        #expect(cut.stop == .truncated)
        #expect(cut.stopLocation == StopLocation(layer: .link, offset: 0, required: 4, available: 3))
        let short = decodePrefix(Corpus.nullTCPRSTSnapped, 3, wireLength: 3, link: .loop)
        #expect(short.stop == .tooShort)
    }

    @Test(arguments: [LinkType.raw, .rawLinktype, .ipv4])
    func rawIPv4(link: LinkType) {
        let summary = decode(Corpus.rawIPv4DNS, link: link)
        #expect(summary.stop == .complete)
        #expect(summary.etherType == EtherType.ipv4)
        #expect(summary.sourceMAC == 0)
        #expect(summary.network == .ipv4)
        #expect(summary.source == ip("192.168.1.100"))
        #expect(summary.destination == ip("9.9.9.9"))
        #expect(summary.ttl == 64)
        #expect(summary.ipProtocol == IPProtocol.udp)
        #expect(summary.sourcePort == 12345)
        #expect(summary.destinationPort == 53)
        #expect(summary.payloadLength == 29)
    }

    @Test(arguments: [LinkType.raw, .rawLinktype, .ipv6])
    func rawIPv6(link: LinkType) {
        let summary = decode(Corpus.rawIPv6DNS, link: link)
        #expect(summary.stop == .complete)
        #expect(summary.etherType == EtherType.ipv6)
        #expect(summary.network == .ipv6)
        #expect(summary.source == ip("2001:db8::1"))
        #expect(summary.destination == ip("2620:fe::9"))
        #expect(summary.ttl == 64)
        #expect(summary.sourcePort == 12345)
        #expect(summary.destinationPort == 53)
        #expect(summary.payloadLength == 29)
    }

    @Test func linkTypePromisesTheOtherVersion() {
        // tcpdump's LINKTYPE_IPV4_invalid.pcap (an IPv6 packet under 228) and LINKTYPE_IPV6_invalid.pcap.
        let v6AsV4 = decode(Corpus.rawIPv6DNS, link: .ipv4)
        #expect(v6AsV4.stop == .badIPVersion)
        #expect(v6AsV4.stop.isMalformed)
        #expect(v6AsV4.stopLocation == StopLocation(layer: .link, offset: 0, required: 1, available: 77))
        #expect(v6AsV4.network == .none)

        let v4AsV6 = decode(Corpus.rawIPv4DNS, link: .ipv6)
        #expect(v4AsV6.stop == .badIPVersion)
        #expect(v4AsV6.stopLocation == StopLocation(layer: .link, offset: 0, required: 1, available: 57))
        #expect(v4AsV6.network == .none)
    }

    @Test func rawIPWithAnotherVersionNibble() {
        let packet = patched(Corpus.rawIPv4DNS, [0: 0x55])
        let summary = decode(packet, link: .raw)
        #expect(summary.stop == .badIPVersion)
        #expect(summary.stopLocation.layer == .link)
    }

    @Test func rawIPEmpty() {
        let nothing = decode([], wireLength: 0, link: .raw)
        #expect(nothing.stop == .tooShort)
        #expect(nothing.stopLocation == StopLocation(layer: .link, offset: 0, required: 1, available: 0))
        let snapped = decode([], wireLength: 40, link: .ipv6)
        #expect(snapped.stop == .truncated)
    }

    @Test func unsupportedLinkTypesAreSkipped() {
        // DLT_USER13 from tcpdump's unsupported-link-type-160.pcap, and D-Bus (231).
        for link in [LinkType(rawValue: 160), LinkType(rawValue: 231)] {
            let summary = decode(Corpus.unsupportedLink160, link: link)
            #expect(summary.stop == .unsupportedLinkType)
            #expect(summary.stop.isSkipped)
            #expect(summary.stopLocation == StopLocation(layer: .link, offset: 0, required: 0, available: 23))
            #expect(summary.linkType == link)
            #expect(!link.isSupported)
        }
        #expect(LinkType(rawValue: 160).description == "DLT 160")
        for link in [LinkType.null, .ethernet, .raw, .rawLinktype, .loop, .linuxSLL, .ipv4, .ipv6, .linuxSLL2] {
            #expect(link.isSupported, "\(link)")
        }
    }
}
