// IPv4 (RFC 791): fixed fields, options (IHL above 5), fragments, and the length checks that tell a snapped
// header (truncated) from a contradictory one (malformed).

import Testing
@testable import PacketDecoding

@Suite struct IPv4Tests {
    @Test func headerView() {
        Corpus.rawIPv4DNS.withUnsafeBytes { bytes in
            let header = IPv4Header(bytes)
            #expect(header?.version == 4)
            #expect(header?.headerLength == 20)
            #expect(header?.totalLength == 57)
            #expect(header?.identification == 1)
            #expect(header?.dontFragment == false)
            #expect(header?.moreFragments == false)
            #expect(header?.fragmentOffset == 0)
            #expect(header?.ttl == 64)
            #expect(header?.protocolNumber == IPProtocol.udp)
            #expect(header?.source == ip("192.168.1.100"))
            #expect(header?.destination == ip("9.9.9.9"))
            #expect(IPv4Header(UnsafeRawBufferPointer(rebasing: bytes[0..<19])) == nil)
        }
        Array(Corpus.ipv4FirstFragmentUDP[14...]).withUnsafeBytes { bytes in
            let header = IPv4Header(bytes)
            #expect(header?.moreFragments == true)
            #expect(header?.identification == 242)
        }
    }

    @Test func recordRouteOptionsBeforeTCP() {
        // IHL 15: 40 bytes of Record Route, so TCP starts 60 bytes into the datagram.
        Array(Corpus.ipv4RecordRouteTCPRST[14...]).withUnsafeBytes { bytes in
            #expect(IPv4Header(bytes)?.headerLength == 60)
            #expect(IPv4Header(bytes)?.dontFragment == true)
        }
        let summary = decode(Corpus.ipv4RecordRouteTCPRST)
        #expect(summary.stop == .complete)
        #expect(summary.network == .ipv4)
        #expect(summary.source == ip("10.0.0.138"))
        #expect(summary.destination == ip("10.0.0.6"))
        #expect(summary.ttl == 64)
        #expect(summary.ipProtocol == IPProtocol.tcp)
        #expect(summary.hasPorts)
        #expect(summary.sourcePort == 0)
        #expect(summary.destinationPort == 2693)
        #expect(summary.tcpFlags == [.rst, .ack])
        #expect(summary.tcpAcknowledgment == 422_102_842)
        #expect(summary.payloadLength == 0)
        #expect(!summary.fragment.isFragment)
    }

    @Test func routerAlertOptionBeforeIGMP() {
        // IHL 6; IGMP is not a transport IdleWatch reads, so the IP payload length is reported.
        let summary = decode(Corpus.ipv4RouterAlertIGMP)
        #expect(summary.stop == .complete)
        #expect(summary.source == ip("10.0.0.138"))
        #expect(summary.destination == ip("224.0.0.1"))
        #expect(summary.ttl == 1)
        #expect(summary.ipProtocol == 2)
        #expect(summary.payloadLength == 12)
        #expect(!summary.hasPorts)
        #expect(!summary.hasICMP)
    }

    @Test func firstFragmentHasPorts() {
        let summary = decode(Corpus.ipv4FirstFragmentUDP)
        #expect(summary.stop == .complete)
        #expect(summary.fragment.isFragment)
        #expect(!summary.fragment.isNonFirst)
        #expect(summary.fragment.offset == 0)
        #expect(summary.fragment.moreFragments)
        #expect(summary.fragment.identification == 242)
        #expect(summary.source == ip("164.1.123.163"))
        #expect(summary.destination == ip("164.1.123.61"))
        #expect(summary.hasPorts)
        #expect(summary.sourcePort == 123)
        #expect(summary.destinationPort == 137)
        #expect(summary.payloadLength == 10)
    }

    @Test func firstFragmentWithWholeTCPHeaderHasPorts() {
        // The fragmented SYN with its data offset rewritten to 5: the 20-byte header fits in the 24-byte fragment.
        let packet = patched(Corpus.ipv4FirstFragmentSplitSYN, [46: 0x50])
        let summary = decode(packet)
        #expect(summary.stop == .complete)
        #expect(summary.fragment.isFragment)
        #expect(summary.fragment.moreFragments)
        #expect(summary.hasPorts)
        #expect(summary.sourcePort == 12345)
        #expect(summary.destinationPort == 80)
        #expect(summary.tcpFlags == .syn)
        #expect(summary.payloadLength == 4)
    }

    @Test
    func firstFragmentWithSplitTCPOptionsHasPorts() {
        // Real capture: the SYN's data offset is 10 (40 bytes) but the first fragment carries 24 bytes of it.
        // The datagram is consistent (the second fragment, offset 24, brings the rest), so this is not a
        // contradiction, and RFC 791 lets a fragment end anywhere on an 8-byte boundary.
        let summary = decode(Corpus.ipv4FirstFragmentSplitSYN)
        #expect(!summary.stop.isMalformed)
        #expect(summary.fragment.isFragment)
        #expect(summary.hasPorts)
        #expect(summary.sourcePort == 12345)
        #expect(summary.destinationPort == 80)
        #expect(summary.tcpFlags == .syn)
    }

    @Test func laterFragmentHasNoPorts() {
        let summary = decode(Corpus.ipv4LaterFragmentTCP)
        #expect(summary.stop == .complete)
        #expect(summary.fragment.isFragment)
        #expect(summary.fragment.isNonFirst)
        #expect(summary.fragment.offset == 24)
        #expect(!summary.fragment.moreFragments)
        #expect(summary.fragment.identification == 1)
        #expect(summary.source == ip("192.168.1.100"))
        #expect(summary.destination == ip("10.0.0.5"))
        #expect(summary.ipProtocol == IPProtocol.tcp)
        #expect(!summary.hasPorts)
        #expect(summary.sourcePort == 0)
        #expect(summary.payloadLength == 16)
    }

    @Test func fragmentReachingPast65535IsBad() {
        // The raw DNS query with flags/offset rewritten to offset 8191 (65528 bytes): 65528 + 37 > 65535.
        let packet = patched(Corpus.rawIPv4DNS, [6: 0x1f, 7: 0xff])
        let summary = decode(packet, link: .raw)
        #expect(summary.stop == .badFragment)
        #expect(summary.stopLocation == StopLocation(layer: .ipv4, offset: 0, required: 65_565, available: 65_535))
        #expect(summary.network == .none)
    }

    // MARK: Cut by the snapshot length

    @Test func fixedHeaderSnapped() {
        let summary = decode(Corpus.ipv4HeaderSnapped, wireLength: Corpus.ipv4HeaderSnappedWireLength)
        #expect(summary.stop == .truncated)
        #expect(summary.stopLocation == StopLocation(layer: .ipv4, offset: 14, required: 20, available: 6))
        #expect(summary.etherType == EtherType.ipv4)
        #expect(summary.sourceMAC == mac("c8:bc:c8:96:d2:a0"))
        #expect(summary.network == .none)
    }

    @Test func optionsSnappedKeepAddresses() {
        // Real capture: IHL 15, only the fixed 20 bytes captured.
        let summary = decode(Corpus.ipv4OptionsSnapped, wireLength: Corpus.ipv4OptionsSnappedWireLength)
        #expect(summary.stop == .truncated)
        #expect(summary.stopLocation == StopLocation(layer: .ipv4, offset: 14, required: 60, available: 20))
        #expect(summary.network == .ipv4)
        #expect(summary.source == ip("163.253.48.183"))
        #expect(summary.destination == ip("192.150.187.43"))
        #expect(summary.ipProtocol == IPProtocol.tcp)
        #expect(!summary.hasPorts)

        // The Record Route RST cut 30 bytes into its 60-byte header.
        let rst = decodePrefix(Corpus.ipv4RecordRouteTCPRST, 44, wireLength: 94)
        #expect(rst.stop == .truncated)
        #expect(rst.stopLocation == StopLocation(layer: .ipv4, offset: 14, required: 60, available: 30))
        #expect(rst.source == ip("10.0.0.138"))
        #expect(!rst.hasPorts)
    }

    @Test func payloadSnappedIsComplete() {
        // Every header captured; only payload bytes are missing. Lengths come from the headers.
        let rst = decode(Corpus.tcpRSTDataSnapped, wireLength: Corpus.tcpRSTDataSnappedWireLength)
        #expect(rst.stop == .complete)
        #expect(rst.source == ip("199.204.31.89"))
        #expect(rst.destination == ip("172.16.133.41"))
        #expect(rst.sourcePort == 80)
        #expect(rst.destinationPort == 52875)
        #expect(rst.tcpFlags == [.rst, .ack])
        #expect(rst.payloadLength == 58)

        let udp = decode(Corpus.udpHugeSnapped, wireLength: Corpus.udpHugeSnappedWireLength)
        #expect(udp.stop == .complete)
        #expect(udp.source == ip("192.0.2.1"))
        #expect(udp.destination == ip("198.51.100.2"))
        #expect(udp.sourcePort == 40000)
        #expect(udp.destinationPort == 55555)
        #expect(udp.payloadLength == 65_507)
        #expect(udp.capturedLength == 42)
        #expect(udp.wireLength == 65_549)
    }

    // MARK: Contradictions (nothing was cut: caplen == len)

    @Test func headerLengthBelowFiveWords() {
        let summary = decode(Corpus.ipv4HeaderLength16)
        #expect(summary.stop == .badIPv4HeaderLength)
        #expect(summary.stop.isMalformed)
        #expect(summary.stopLocation == StopLocation(layer: .ipv4, offset: 14, required: 20, available: 16))
        #expect(summary.network == .none)
    }

    @Test func totalLengthPastFrame() {
        let summary = decode(Corpus.ipv4TotalLengthPastFrame)
        #expect(summary.stop == .badIPv4TotalLength)
        #expect(summary.stopLocation == StopLocation(layer: .ipv4, offset: 14, required: 85, available: 84))
        #expect(summary.network == .none)
    }

    @Test("a total length of 0 is segmentation offload: the datagram runs to the end of the frame")
    func totalLengthZeroIsInferred() {
        // Captures taken on a host with TSO/GSO (or BIG TCP) show the datagram before the NIC split it, with the
        // total length field 0; Wireshark and Zeek take the length from the frame.
        let zero = decode(Corpus.ipv4TotalLengthZero)
        #expect(zero.ipLengthInferred)
        #expect(zero.network == .ipv4)
        #expect(!zero.stop.isMalformed)
    }

    @Test func totalLengthBelowHeaderLength() {

        // The raw DNS query claiming 19 bytes.
        let nineteen = decode(patched(Corpus.rawIPv4DNS, [2: 0, 3: 19]), link: .raw)
        #expect(nineteen.stop == .badIPv4TotalLength)
        #expect(nineteen.stopLocation == StopLocation(layer: .ipv4, offset: 0, required: 19, available: 57))

        // The Record Route RST (IHL 15) claiming 40 bytes: more than 20, less than its own header.
        let belowOptions = decode(patched(Corpus.ipv4RecordRouteTCPRST, [16: 0, 17: 40]))
        #expect(belowOptions.stop == .badIPv4TotalLength)
        #expect(belowOptions.stopLocation == StopLocation(layer: .ipv4, offset: 14, required: 40, available: 80))
    }

    @Test func frameEndsInsideHeader() {
        let summary = decode(Corpus.ipv4NineteenBytes)
        #expect(summary.stop == .tooShort)
        #expect(summary.stopLocation == StopLocation(layer: .ipv4, offset: 14, required: 20, available: 19))
    }

    @Test func versionNibbleUnderIPv4EtherType() {
        let summary = decode(patched(Corpus.icmpEchoRequest, [14: 0x65]))
        #expect(summary.stop == .badIPVersion)
        #expect(summary.stopLocation == StopLocation(layer: .ipv4, offset: 14, required: 20, available: 84))
        #expect(summary.network == .none)
    }
}
