// TCP, UDP, ICMP and ICMPv6 over IPv4 and IPv6: ports, flags, lengths, the packet an ICMP error quotes, and the
// transport length checks.

import Testing
@testable import PacketDecoding

@Suite struct TransportTests {
    // MARK: TCP

    @Test func tcpHeaderView() {
        Array(Corpus.sllTCPSYN[36...]).withUnsafeBytes { bytes in
            let tcp = TCPHeader(bytes)
            #expect(tcp?.sourcePort == 46656)
            #expect(tcp?.destinationPort == 80)
            #expect(tcp?.sequenceNumber == 797_190_859)
            #expect(tcp?.acknowledgmentNumber == 0)
            #expect(tcp?.headerLength == 40)
            #expect(tcp?.flags == .syn)
            #expect(tcp?.window == 27200)
            #expect(TCPHeader(UnsafeRawBufferPointer(rebasing: bytes[0..<19])) == nil)
        }
    }

    @Test func allEightLowFlags() {
        let summary = decode(Corpus.tcpAllLowFlags)
        #expect(summary.stop == .complete)
        #expect(summary.source == ip("10.0.0.2"))
        #expect(summary.destination == ip("10.128.0.2"))
        #expect(summary.sourcePort == 6260)
        #expect(summary.destinationPort == 80)
        #expect(summary.tcpSequence == 576_462_951)
        #expect(summary.tcpAcknowledgment == 486_026_015)
        #expect(summary.tcpFlags == [.fin, .syn, .rst, .psh, .ack, .urg, .ece, .cwr])
        #expect(!summary.tcpFlags.contains(.ns))
        #expect(summary.tcpFlags.description == "SFRPUEW.")  // tcpdump prints [FSRP.UEW]; same letters

        // The low bit of byte 12 (NS, now AccECN's AE) set as well.
        let withNS = decode(patched(Corpus.tcpAllLowFlags, [46: 0x51]))
        #expect(withNS.tcpFlags.contains(.ns))
        #expect(withNS.tcpFlags.rawValue == 0x1ff)
        #expect(TCPFlags().description == "none")
        #expect(TCPFlags([.syn, .ack]).description == "S.")
    }

    @Test func tcpFixedHeaderSnapped() {
        // The SLL SYN captured through 10 bytes of TCP: IPv4 is kept, there are no ports.
        let summary = decodePrefix(Corpus.sllTCPSYN, 46, wireLength: 76, link: .linuxSLL)
        #expect(summary.stop == .truncated)
        #expect(summary.stopLocation == StopLocation(layer: .tcp, offset: 36, required: 20, available: 10))
        #expect(summary.network == .ipv4)
        #expect(summary.source == ip("131.155.215.69"))
        #expect(summary.destination == ip("137.116.81.94"))
        #expect(summary.ipProtocol == IPProtocol.tcp)
        #expect(!summary.hasPorts)
    }

    @Test func tcpOptionsSnappedKeepPorts() {
        // Captured through 4 of the 20 option bytes.
        let summary = decodePrefix(Corpus.sllTCPSYN, 60, wireLength: 76, link: .linuxSLL)
        #expect(summary.stop == .truncated)
        #expect(summary.stopLocation == StopLocation(layer: .tcp, offset: 36, required: 40, available: 24))
        #expect(summary.hasPorts)
        #expect(summary.sourcePort == 46656)
        #expect(summary.destinationPort == 80)
        #expect(summary.tcpFlags == .syn)
        #expect(summary.tcpSequence == 797_190_859)
        #expect(summary.payloadLength == 0)
    }

    @Test func tcpDataOffsetBelowFiveWords() {
        // The SLL SYN with data offset 4 (16 bytes).
        let summary = decode(patched(Corpus.sllTCPSYN, [48: 0x40]), link: .linuxSLL)
        #expect(summary.stop == .badTCPDataOffset)
        #expect(summary.stop.isMalformed)
        #expect(summary.stopLocation == StopLocation(layer: .tcp, offset: 36, required: 16, available: 40))
        #expect(summary.network == .ipv4)
        #expect(!summary.hasPorts)

        let zero = decode(patched(Corpus.tcpAllLowFlags, [46: 0x00]))
        #expect(zero.stop == .badTCPDataOffset)
        #expect(zero.stopLocation == StopLocation(layer: .tcp, offset: 34, required: 0, available: 20))
    }

    @Test func tcpDataOffsetPastIPPayload() {
        // Data offset 11 (44 bytes) and 15 (60 bytes) in a 40-byte IP payload.
        let eleven = decode(patched(Corpus.sllTCPSYN, [48: 0xb0]), link: .linuxSLL)
        #expect(eleven.stop == .badTCPDataOffset)
        #expect(eleven.stopLocation == StopLocation(layer: .tcp, offset: 36, required: 44, available: 40))
        #expect(!eleven.hasPorts)

        let fifteen = decode(patched(Corpus.sllTCPSYN, [48: 0xf0]), link: .linuxSLL)
        #expect(fifteen.stop == .badTCPDataOffset)
        #expect(fifteen.stopLocation == StopLocation(layer: .tcp, offset: 36, required: 60, available: 40))

        // Snapped or not: the data offset is checked against the IP total length, which is on the wire, so a
        // capture cut inside the options does not turn the contradiction into a truncation.
        let snapped = decodePrefix(patched(Corpus.sllTCPSYN, [48: 0xb0]), 60, wireLength: 76, link: .linuxSLL)
        #expect(snapped.stop == .badTCPDataOffset)
    }

    @Test func tcpHeaderPastIPTotalLength() {
        // The all-flags segment with the IPv4 total length cut to 30: only 10 TCP bytes belong to the datagram.
        let summary = decode(patched(Corpus.tcpAllLowFlags, [17: 30]))
        #expect(summary.stop == .tooShort)
        #expect(summary.stopLocation == StopLocation(layer: .tcp, offset: 34, required: 20, available: 10))
        #expect(summary.network == .ipv4)
    }

    // MARK: UDP

    @Test func udpHeaderView() {
        Array(Corpus.rawIPv4DNS[20...]).withUnsafeBytes { bytes in
            let udp = UDPHeader(bytes)
            #expect(udp?.sourcePort == 12345)
            #expect(udp?.destinationPort == 53)
            #expect(udp?.length == 37)
            #expect(UDPHeader(UnsafeRawBufferPointer(rebasing: bytes[0..<7])) == nil)
        }
    }

    @Test func udpLengthSetsThePayload() {
        // UDP length 16 in a 37-byte IP payload: the rest is not UDP's (RFC 768 lets the IP payload be longer).
        let summary = decode(patched(Corpus.rawIPv4DNS, [25: 16]), link: .raw)
        #expect(summary.stop == .complete)
        #expect(summary.payloadLength == 8)
    }

    @Test func udpLengthBelowHeader() {
        let summary = decode(patched(Corpus.rawIPv4DNS, [25: 7]), link: .raw)
        #expect(summary.stop == .badUDPLength)
        #expect(summary.stop.isMalformed)
        #expect(summary.stopLocation == StopLocation(layer: .udp, offset: 20, required: 7, available: 37))
        #expect(summary.network == .ipv4)
        #expect(!summary.hasPorts)
    }

    @Test func udpLengthPastIPPayload() {
        let v4 = decode(patched(Corpus.rawIPv4DNS, [25: 38]), link: .raw)
        #expect(v4.stop == .badUDPLength)
        #expect(v4.stopLocation == StopLocation(layer: .udp, offset: 20, required: 38, available: 37))

        let v6 = decode(patched(Corpus.rawIPv6DNS, [45: 0x30]), link: .raw)
        #expect(v6.stop == .badUDPLength)
        #expect(v6.stopLocation == StopLocation(layer: .udp, offset: 40, required: 48, available: 37))
        #expect(v6.network == .ipv6)
    }

    @Test func udpHeaderSnapped() {
        let summary = decodePrefix(Corpus.rawIPv4DNS, 24, wireLength: 57, link: .raw)
        #expect(summary.stop == .truncated)
        #expect(summary.stopLocation == StopLocation(layer: .udp, offset: 20, required: 8, available: 4))
        #expect(summary.source == ip("192.168.1.100"))
        #expect(summary.destination == ip("9.9.9.9"))
        #expect(!summary.hasPorts)
    }

    @Test func otherProtocolsReportTheIPPayload() {
        // The raw DNS query relabelled ESP (50): nothing after the IP header is read.
        let summary = decode(patched(Corpus.rawIPv4DNS, [9: 50]), link: .raw)
        #expect(summary.stop == .complete)
        #expect(summary.ipProtocol == IPProtocol.esp)
        #expect(!summary.hasPorts)
        #expect(summary.payloadLength == 37)
    }

    // MARK: ICMP

    @Test func icmpClassification() {
        for type: UInt8 in [3, 4, 5, 11, 12] { #expect(ICMPHeader.isIPv4Error(type), "\(type)") }
        for type: UInt8 in [0, 8, 9, 10, 13, 14] { #expect(!ICMPHeader.isIPv4Error(type), "\(type)") }
        for type: UInt8 in [1, 2, 3, 4] { #expect(ICMPHeader.isIPv6Error(type), "\(type)") }
        for type: UInt8 in [0, 5, 128, 129, 133, 135] { #expect(!ICMPHeader.isIPv6Error(type), "\(type)") }
    }

    @Test func icmpEcho() {
        Array(Corpus.icmpEchoRequest[34...]).withUnsafeBytes { bytes in
            let icmp = ICMPHeader(bytes)
            #expect(icmp?.type == 8)
            #expect(icmp?.identifier == 7)
            #expect(icmp?.sequence == 317)
        }
        let summary = decode(Corpus.icmpEchoRequest)
        #expect(summary.stop == .complete)
        #expect(summary.source == ip("10.20.30.41"))
        #expect(summary.destination == ip("10.20.30.40"))
        #expect(summary.ipProtocol == IPProtocol.icmp)
        #expect(summary.hasICMP)
        #expect(summary.icmpType == 8)
        #expect(summary.icmpCode == 0)
        #expect(!summary.hasPorts)
        #expect(summary.payloadLength == 56)
        #expect(!summary.quoted.isValid)
    }

    @Test func icmpPortUnreachableQuotesTheRefusedUDP() {
        let summary = decode(Corpus.icmpPortUnreachable)
        #expect(summary.stop == .complete)
        #expect(summary.source == ip("192.168.10.31"))
        #expect(summary.destination == ip("192.168.10.10"))
        #expect(summary.icmpType == 3)
        #expect(summary.icmpCode == 3)
        #expect(!summary.hasPorts)
        #expect(summary.payloadLength == 72)
        let quoted = summary.quoted
        #expect(quoted.isValid)
        #expect(quoted.source == ip("192.168.10.10"))
        #expect(quoted.destination == ip("192.168.10.31"))
        #expect(quoted.ipProtocol == IPProtocol.udp)
        #expect(quoted.hasPorts)
        #expect(quoted.sourcePort == 53)
        #expect(quoted.destinationPort == 52328)
    }

    @Test func icmpPortUnreachableWithMinimalQuote() {
        // The quote is the IP header and 8 bytes, as RFC 792 requires and most routers send.
        let summary = decode(Corpus.icmpPortUnreachableTraceroute, link: .raw)
        #expect(summary.stop == .complete)
        #expect(summary.source == ip("12.1.1.1"))
        #expect(summary.ttl == 253)
        #expect(summary.icmpType == 3)
        #expect(summary.icmpCode == 3)
        #expect(summary.quoted == {
            var expected = QuotedPacket()
            expected.isValid = true
            expected.source = ip("12.4.4.4")
            expected.destination = ip("12.1.1.1")
            expected.ipProtocol = IPProtocol.udp
            expected.hasPorts = true
            expected.sourcePort = 42315
            expected.destinationPort = 33441
            return expected
        }())
    }

    @Test func icmpErrorWithCutQuote() {
        // Captured through 2 bytes of the quoted UDP header: the quote has addresses but no ports; not an error.
        let noPorts = decodePrefix(Corpus.icmpPortUnreachable, 64, wireLength: 114)
        #expect(noPorts.stop == .complete)
        #expect(noPorts.icmpType == 3)
        #expect(noPorts.quoted.isValid)
        #expect(noPorts.quoted.source == ip("192.168.10.10"))
        #expect(!noPorts.quoted.hasPorts)

        // Through 10 bytes of the quoted IP header: nothing can be said about it.
        let noHeader = decodePrefix(Corpus.icmpPortUnreachable, 52, wireLength: 114)
        #expect(noHeader.stop == .complete)
        #expect(noHeader.hasICMP)
        #expect(!noHeader.quoted.isValid)
    }

    @Test func icmpErrorQuotingALaterFragment() {
        // The traceroute quote rewritten as a fragment at offset 24: it has no UDP header to give ports.
        let summary = decode(patched(Corpus.icmpPortUnreachableTraceroute, [34: 0x00, 35: 0x03]), link: .raw)
        #expect(summary.stop == .complete)
        #expect(summary.quoted.isValid)
        #expect(summary.quoted.source == ip("12.4.4.4"))
        #expect(!summary.quoted.hasPorts)
    }

    @Test func icmpErrorQuotingGarbage() {
        // Quoted IHL rewritten to 4: the quote is ignored, the ICMP header is still reported.
        let summary = decode(patched(Corpus.icmpPortUnreachableTraceroute, [28: 0x44]), link: .raw)
        #expect(summary.stop == .complete)
        #expect(summary.icmpType == 3)
        #expect(!summary.quoted.isValid)
    }

    @Test func icmpHeaderSnapped() {
        let summary = decode(Corpus.icmpHeaderSnapped, wireLength: Corpus.icmpHeaderSnappedWireLength)
        #expect(summary.stop == .truncated)
        #expect(summary.stopLocation == StopLocation(layer: .icmp, offset: 34, required: 8, available: 6))
        #expect(summary.network == .ipv4)
        #expect(summary.source == ip("10.0.0.1"))
        #expect(summary.destination == ip("192.0.43.10"))
        #expect(!summary.hasICMP)
    }

    // MARK: ICMPv6

    @Test func icmpv6Echo() {
        let summary = decode(Corpus.icmpv6EchoRequest)
        #expect(summary.stop == .complete)
        #expect(summary.source == ip("fd00:a1b2:c3d4:0:1020:3040:5060:7081"))
        #expect(summary.destination == ip("fd00:e5f6::f3"))
        #expect(summary.ipProtocol == IPProtocol.icmpv6)
        #expect(summary.hasICMP)
        #expect(summary.icmpType == 128)
        #expect(summary.icmpCode == 0)
        #expect(summary.payloadLength == 56)
        #expect(!summary.quoted.isValid)
    }

    @Test func icmpv6DestinationUnreachableQuotesTheTCPSYN() {
        let summary = decode(Corpus.icmpv6RouteUnreachable)
        #expect(summary.stop == .complete)
        #expect(summary.source == ip("2001:db8:1::3"))
        #expect(summary.destination == ip("2001:db8:1:0:306e:739d:dea6:99a4"))
        #expect(summary.icmpType == 1)
        #expect(summary.icmpCode == 0)
        #expect(summary.payloadLength == 84)
        let quoted = summary.quoted
        #expect(quoted.isValid)
        #expect(quoted.source == ip("2001:db8:1:0:306e:739d:dea6:99a4"))
        #expect(quoted.destination == ip("2001:16b8:4700:eb60:3a10:d5ff:fe4e:abe6"))
        #expect(quoted.ipProtocol == IPProtocol.tcp)
        #expect(quoted.hasPorts)
        #expect(quoted.sourcePort == 54112)
        #expect(quoted.destinationPort == 443)
    }

    @Test func icmpv6HeaderSnapped() {
        let summary = decodePrefix(Corpus.icmpv6EchoRequest, 60, wireLength: 118)
        #expect(summary.stop == .truncated)
        #expect(summary.stopLocation == StopLocation(layer: .icmpv6, offset: 54, required: 8, available: 6))
        #expect(summary.network == .ipv6)
        #expect(!summary.hasICMP)
    }
}
