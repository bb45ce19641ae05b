// IPv6 (RFC 8200): the fixed header, extension-header chains reaching TCP/UDP, fragments, and the payload-length
// and chain checks.

import Testing
@testable import PacketDecoding

@Suite struct IPv6Tests {
    static let source = "2001 0db8 0000 0000 0000 0000 0000 0001"  // 2001:db8::1
    static let destination = "2001 0db8 0000 0000 0000 0000 0000 0002"  // 2001:db8::2

    /// Hand-written from RFC 8200 (sections 4.3-4.6) and RFC 4302, raw IPv6 (no link header). Offsets:
    /// IPv6 0, hop-by-hop 40 (PadN), destination options 48 (PadN), routing 56 (type 0, segments left 0),
    /// fragment 64 (offset 0, M=1, id 0x12345678), AH 72 (payload length 4 = 24 bytes, SPI 0x100, seq 1,
    /// 12-byte ICV), TCP SYN [2001:db8::1]:40000 > [2001:db8::2]:22 at 96, end 116.
    static let chainToTCP = hex("""
        6000 0000 004c 0040 \(source) \(destination)
        3c00 0104 0000 0000
        2b00 0104 0000 0000
        2c00 0000 0000 0000
        3300 0001 1234 5678
        0604 0000 0000 0100 0000 0001 0000 0000 0000 0000 0000 0000
        9c40 0016 0000 0001 0000 0000 5002 ffff 0000 0000
        """)

    /// The same chain without the fragment header, ending in UDP [2001:db8::1]:12345 > [2001:db8::2]:53 with 4 data
    /// bytes. Hop-by-hop 40, destination options 48, routing 56, AH 64, UDP 88, end 100.
    static let chainToUDP = hex("""
        6000 0000 003c 0040 \(source) \(destination)
        3c00 0104 0000 0000
        2b00 0104 0000 0000
        3300 0000 0000 0000
        1104 0000 0000 0100 0000 0001 0000 0000 0000 0000 0000 0000
        3039 0035 000c 0000 6461 7461
        """)

    /// First fragment (offset 0, M=1, id 0xabcd) of a 1024-byte UDP datagram [2001:db8::1]:12345 > [2001:db8::2]:53;
    /// this fragment carries the UDP header and 8 data bytes. Hand-written from RFC 8200 section 4.5.
    static let firstFragmentUDP = hex("""
        6000 0000 0018 2c40 \(source) \(destination)
        1100 0001 0000 abcd
        3039 0035 0400 0000 0000 0000 0000 0000
        """)

    /// A later fragment of the same datagram: offset 16 bytes (field 2), M=0, 8 data bytes.
    static let laterFragment = hex("""
        6000 0000 0010 2c40 \(source) \(destination)
        1100 0010 0000 abcd
        0000 0000 0000 0000
        """)

    /// `count` destination-options headers (8 bytes each, no options) and then UDP 12345 > 53 with no data.
    static func destinationOptions(count: Int) -> [UInt8] {
        let payloadLength = count * 8 + 8
        var text = "6000 0000 " + hex4(payloadLength) + " 3c40 \(source) \(destination)"
        for index in 1...count {
            text += index == count ? " 1100 0000 0000 0000" : " 3c00 0000 0000 0000"
        }
        return hex(text + " 3039 0035 0008 0000")
    }

    @Test func headerView() {
        Corpus.rawIPv6DNS.withUnsafeBytes { bytes in
            let header = IPv6Header(bytes)
            #expect(header?.version == 6)
            #expect(header?.payloadLength == 37)
            #expect(header?.nextHeader == IPProtocol.udp)
            #expect(header?.hopLimit == 64)
            #expect(header?.source == ip("2001:db8::1"))
            #expect(header?.destination == ip("2620:fe::9"))
            #expect(IPv6Header(UnsafeRawBufferPointer(rebasing: bytes[0..<39])) == nil)
        }
    }

    @Test func extensionHeaderView() {
        for value: UInt8 in [0, 43, 44, 51, 60, 135, 139, 140, 253, 254] {
            #expect(IPv6ExtensionHeader.isExtension(value), "\(value)")
        }
        for value: UInt8 in [1, 6, 17, 50, 58, 59] {
            #expect(!IPv6ExtensionHeader.isExtension(value), "\(value)")
        }
        Self.chainToTCP.withUnsafeBytes { bytes in
            let routing = IPv6ExtensionHeader(UnsafeRawBufferPointer(rebasing: bytes[56...]), kind: 43)
            #expect(routing?.nextHeader == 44)
            #expect(routing?.headerLength == 8)
            let fragment = IPv6ExtensionHeader(UnsafeRawBufferPointer(rebasing: bytes[64...]), kind: 44)
            #expect(fragment?.headerLength == 8)
            #expect(fragment?.fragmentOffset == 0)
            #expect(fragment?.moreFragments == true)
            #expect(fragment?.fragmentIdentification == 0x1234_5678)
            let ah = IPv6ExtensionHeader(UnsafeRawBufferPointer(rebasing: bytes[72...]), kind: 51)
            #expect(ah?.headerLength == 24)  // (4 + 2) * 4
            #expect(IPv6ExtensionHeader(UnsafeRawBufferPointer(rebasing: bytes[109...]), kind: 60) == nil)
        }
        Corpus.ipv6HopByHopRoutingUDP.withUnsafeBytes { bytes in
            let routing = IPv6ExtensionHeader(UnsafeRawBufferPointer(rebasing: bytes[62...]), kind: 43)
            #expect(routing?.headerLength == 40)  // (4 + 1) * 8
        }
    }

    @Test func hopByHopThenRoutingToUDP() {
        let summary = decode(Corpus.ipv6HopByHopRoutingUDP)
        #expect(summary.stop == .complete)
        #expect(summary.network == .ipv6)
        #expect(summary.source == ip("2001:4f8:4:7:2e0:81ff:fe52:ffff"))
        #expect(summary.destination == ip("2001:4f8:4:7:2e0:81ff:fe52:9a6b"))
        #expect(summary.ttl == 64)
        #expect(summary.ipProtocol == IPProtocol.udp)
        #expect(summary.sourcePort == 53)
        #expect(summary.destinationPort == 53)
        #expect(summary.payloadLength == 3)
    }

    @Test func authenticationHeaderToUDP() {
        let summary = decode(Corpus.ipv6AHUDP)
        #expect(summary.stop == .complete)
        #expect(summary.source == ip("2001:db8::1"))
        #expect(summary.destination == ip("2001:db8::2"))
        #expect(summary.ipProtocol == IPProtocol.udp)
        #expect(summary.sourcePort == 12345)
        #expect(summary.destinationPort == 54321)
        #expect(summary.payloadLength == 30)
    }

    @Test func fullChainToTCP() {
        let summary = decode(Self.chainToTCP, link: .ipv6)
        #expect(summary.stop == .complete)
        #expect(summary.source == ip("2001:db8::1"))
        #expect(summary.destination == ip("2001:db8::2"))
        #expect(summary.ipProtocol == IPProtocol.tcp)
        #expect(summary.fragment.isFragment)
        #expect(!summary.fragment.isNonFirst)
        #expect(summary.fragment.moreFragments)
        #expect(summary.fragment.identification == 0x1234_5678)
        #expect(summary.hasPorts)
        #expect(summary.sourcePort == 40000)
        #expect(summary.destinationPort == 22)
        #expect(summary.tcpFlags == .syn)
        #expect(summary.tcpSequence == 1)
        #expect(summary.payloadLength == 0)
    }

    @Test func chainToUDP() {
        let summary = decode(Self.chainToUDP, link: .raw)
        #expect(summary.stop == .complete)
        #expect(summary.ipProtocol == IPProtocol.udp)
        #expect(!summary.fragment.isFragment)
        #expect(summary.sourcePort == 12345)
        #expect(summary.destinationPort == 53)
        #expect(summary.payloadLength == 4)
    }

    /// Linux walks a chain of any length to the upper layer (ip6_protocol_deliver_rcu resubmits per header; only the
    /// options inside one header are limited, `max_dst_opts_number`): a chain of 17 or 150 destination-options
    /// headers reaches a listening socket (EvasionTests shows it on a real kernel). So does the decoder: each header
    /// is at least 8 bytes, so the datagram's length bounds the walk.
    @Test("an extension-header chain is followed to the upper layer however long it is")
    func extensionChainIsFollowedToTheUpperLayer() {
        // 8,190 headers: the longest chain a 65,535-byte payload holds with the UDP header after it.
        for count in [16, 17, 150, 8_190] {
            let summary = decode(Self.destinationOptions(count: count), link: .raw)
            #expect(summary.stop == .complete, "\(count) headers")
            #expect(summary.ipProtocol == IPProtocol.udp, "\(count) headers")
            #expect(summary.hasPorts && summary.destinationPort == 53, "\(count) headers")
        }
        // Like the 100-header chain of libpcap's filter__ipv6_ext_headers.pcap: a chain that runs past the payload
        // is still a contradiction, wherever it ends.
        let packet = Self.destinationOptions(count: 17)
        let cut = decode(patched(packet, [5: UInt8(17 * 8 - 4)]), wireLength: packet.count, link: .raw)
        #expect(cut.stop == .badIPv6ExtensionChain)
        #expect(cut.stopLocation == StopLocation(layer: .ipv6Extension, offset: 168, required: 8, available: 4))
        #expect(cut.network == .ipv6)
        #expect(!cut.hasPorts)
    }

    @Test func firstFragmentHasPorts() {
        let summary = decode(Self.firstFragmentUDP, link: .raw)
        #expect(summary.stop == .complete)
        #expect(summary.fragment.isFragment)
        #expect(!summary.fragment.isNonFirst)
        #expect(summary.fragment.offset == 0)
        #expect(summary.fragment.moreFragments)
        #expect(summary.fragment.identification == 0xabcd)
        #expect(summary.ipProtocol == IPProtocol.udp)
        #expect(summary.hasPorts)
        #expect(summary.sourcePort == 12345)
        #expect(summary.destinationPort == 53)
        // The UDP length (1024) describes the whole datagram; this fragment carries 8 data bytes.
        #expect(summary.payloadLength == 8)
    }

    @Test func laterFragmentHasNoPorts() {
        let summary = decode(Self.laterFragment, link: .raw)
        #expect(summary.stop == .complete)
        #expect(summary.fragment.isFragment)
        #expect(summary.fragment.isNonFirst)
        #expect(summary.fragment.offset == 16)
        #expect(!summary.fragment.moreFragments)
        #expect(summary.fragment.identification == 0xabcd)
        #expect(summary.ipProtocol == IPProtocol.udp)
        #expect(!summary.hasPorts)
        #expect(summary.payloadLength == 8)
    }

    @Test func atomicFragmentHasPorts() {
        let summary = decode(Corpus.ipv6AtomicFragmentSYN)
        #expect(summary.stop == .complete)
        #expect(summary.source == ip("2001:db8:1::2"))
        #expect(summary.destination == ip("2001:db8:1::1"))
        #expect(summary.ipProtocol == IPProtocol.tcp)
        #expect(!summary.fragment.isNonFirst)
        #expect(!summary.fragment.moreFragments)
        #expect(summary.sourcePort == 59694)
        #expect(summary.destinationPort == 80)
        #expect(summary.tcpFlags == .syn)
        #expect(summary.payloadLength == 0)
    }

    @Test
    func atomicFragmentIsNotAFragment() {
        // RFC 6946 section 4: a fragment header with offset 0 and M=0 is processed as a whole datagram. IPv4 does
        // the same for a DF/offset-0/MF-clear header, and FragmentInfo.isFragment promises "one fragment of a
        // larger datagram", so flow code that counts or reassembles fragments should not see this packet.
        let summary = decode(Corpus.ipv6AtomicFragmentSYN)
        #expect(!summary.fragment.isFragment)

        // Consequence for UDP: the first-fragment exemption lets a UDP length past the payload through. The UDP
        // chain rewritten with an atomic fragment header in front of UDP and a UDP length of 200 (12 bytes follow).
        let udp = hex("""
            6000 0000 0014 2c40 \(Self.source) \(Self.destination)
            1100 0000 0000 0001
            3039 0035 00c8 0000 6461 7461
            """)
        let atomic = decode(udp, link: .raw)
        #expect(atomic.stop == .badUDPLength)
    }

    @Test func fragmentReachingPast65535IsBad() {
        // The later fragment moved to offset 8191 * 8 = 65528: 65528 + 8 data bytes > 65535.
        let packet = patched(Self.laterFragment, [42: 0xff, 43: 0xf8])
        let summary = decode(packet, link: .raw)
        #expect(summary.stop == .badFragment)
        #expect(summary.stopLocation == StopLocation(layer: .ipv6Extension, offset: 40, required: 65_536, available: 65_535))
    }

    @Test func jumbogramTakesItsLengthFromTheFrame() {
        // RFC 2675: payload length 0, hop-by-hop with a Jumbo Payload option (type 0xc2, length 28), then a TCP SYN.
        let packet = hex("""
            6000 0000 0000 0040 \(Self.source) \(Self.destination)
            0600 c204 0000 001c
            9c40 0016 0000 0001 0000 0000 5002 ffff 0000 0000
            """)
        let summary = decode(packet, link: .raw)
        #expect(summary.stop == .complete)
        #expect(summary.ipProtocol == IPProtocol.tcp)
        #expect(summary.destinationPort == 22)
        #expect(summary.payloadLength == 0)
    }

    // MARK: Cut by the snapshot length

    @Test func fixedHeaderSnapped() {
        let summary = decode(Corpus.ipv6HeaderSnapped, wireLength: Corpus.ipv6HeaderSnappedWireLength)
        #expect(summary.stop == .truncated)
        #expect(summary.stopLocation == StopLocation(layer: .ipv6, offset: 14, required: 40, available: 25))
        #expect(summary.etherType == EtherType.ipv6)
        #expect(summary.network == .none)
    }

    @Test func extensionHeaderSnappedKeepsAddresses() {
        let chain = Self.chainToTCP
        let inRouting = decodePrefix(chain, 60, wireLength: chain.count, link: .raw)
        #expect(inRouting.stop == .truncated)
        #expect(inRouting.stopLocation == StopLocation(layer: .ipv6Extension, offset: 56, required: 8, available: 4))
        #expect(inRouting.network == .ipv6)
        #expect(inRouting.source == ip("2001:db8::1"))
        #expect(inRouting.destination == ip("2001:db8::2"))
        #expect(!inRouting.hasPorts)

        // AH's first 8 bytes captured (its length is known), the rest cut.
        let inAH = decodePrefix(chain, 82, wireLength: chain.count, link: .raw)
        #expect(inAH.stop == .truncated)
        #expect(inAH.stopLocation == StopLocation(layer: .ipv6Extension, offset: 72, required: 24, available: 10))
        #expect(inAH.fragment.isFragment)
        #expect(inAH.fragment.identification == 0x1234_5678)

        let inTCP = decodePrefix(chain, 106, wireLength: chain.count, link: .raw)
        #expect(inTCP.stop == .truncated)
        #expect(inTCP.stopLocation == StopLocation(layer: .tcp, offset: 96, required: 20, available: 10))
        #expect(inTCP.ipProtocol == IPProtocol.tcp)
        #expect(!inTCP.hasPorts)
    }

    // MARK: Contradictions (caplen == len)

    @Test func payloadLengthPastFrame() {
        // Real capture: payload length 20 announced, the frame ends with the fixed header.
        let summary = decode(Corpus.ipv6PayloadPastFrame)
        #expect(summary.stop == .badIPv6PayloadLength)
        #expect(summary.stop.isMalformed)
        #expect(summary.stopLocation == StopLocation(layer: .ipv6, offset: 14, required: 60, available: 40))
        #expect(summary.network == .none)

        // The raw DNS query claiming 38 payload bytes when 37 follow.
        let byOne = decode(patched(Corpus.rawIPv6DNS, [5: 38]), link: .raw)
        #expect(byOne.stop == .badIPv6PayloadLength)
        #expect(byOne.stopLocation == StopLocation(layer: .ipv6, offset: 0, required: 78, available: 77))
    }

    @Test func frameEndsInsideFixedHeader() {
        let summary = decode(Corpus.ipv6HeaderOnWire39)
        #expect(summary.stop == .tooShort)
        #expect(summary.stopLocation == StopLocation(layer: .ipv6, offset: 14, required: 40, available: 39))
    }

    @Test func versionNibbleUnderIPv6EtherType() {
        let summary = decode(Corpus.ipv6VersionZero)
        #expect(summary.stop == .badIPVersion)
        #expect(summary.stopLocation == StopLocation(layer: .ipv6, offset: 14, required: 40, available: 72))
        #expect(summary.network == .none)
    }

    @Test func extensionHeaderPastPayload() {
        // Hop-by-hop length byte rewritten to 10 (88 bytes) in a 76-byte payload.
        let long = decode(patched(Self.chainToTCP, [41: 10]), link: .raw)
        #expect(long.stop == .badIPv6ExtensionChain)
        #expect(long.stopLocation == StopLocation(layer: .ipv6Extension, offset: 40, required: 88, available: 76))
        #expect(long.network == .ipv6)

        // AH length byte rewritten to 40 ((40 + 2) * 4 = 168 bytes) with 44 bytes left in the payload.
        let ah = decode(patched(Self.chainToTCP, [73: 40]), link: .raw)
        #expect(ah.stop == .badIPv6ExtensionChain)
        #expect(ah.stopLocation == StopLocation(layer: .ipv6Extension, offset: 72, required: 168, available: 44))

        // The raw DNS query with next header hop-by-hop and a 4-byte payload: not even the 8-byte minimum fits.
        let tiny = decode(patched(Corpus.rawIPv6DNS, [5: 4, 6: 0]), link: .raw)
        #expect(tiny.stop == .badIPv6ExtensionChain)
        #expect(tiny.stopLocation == StopLocation(layer: .ipv6Extension, offset: 40, required: 8, available: 4))
    }
}
