// Linux cooked captures (LINKTYPE_LINUX_SLL 113 and LINKTYPE_LINUX_SLL2 276), as libpcap writes them for `any`.

import Testing
@testable import PacketDecoding

@Suite struct LinuxCookedTests {
    @Test func sllHeaderFields() {
        Corpus.sllARPRequest.withUnsafeBytes { bytes in
            let sll = LinuxSLLHeader(bytes)
            #expect(sll?.packetType == 1)  // broadcast
            #expect(sll?.arphrdType == 1)  // ARPHRD_ETHER
            #expect(sll?.addressLength == 6)
            #expect(sll?.sourceMAC == mac("cc:2d:e0:26:19:99"))
            #expect(sll?.protocolType == EtherType.arp)
            #expect(LinuxSLLHeader(UnsafeRawBufferPointer(rebasing: bytes[0..<15])) == nil)
        }
        Corpus.sllTCPSYN.withUnsafeBytes { bytes in
            let sll = LinuxSLLHeader(bytes)
            #expect(sll?.packetType == 4)  // sent by us
            #expect(sll?.arphrdType == 0x0200)
            #expect(sll?.addressLength == 0)
            #expect(sll?.sourceMAC == 0)  // no 6-byte address to report
        }
    }

    @Test func sllTCPSYN() {
        let summary = decode(Corpus.sllTCPSYN, link: .linuxSLL)
        #expect(summary.stop == .complete)
        #expect(summary.linkType == .linuxSLL)
        #expect(summary.sourceMAC == 0)
        #expect(summary.destinationMAC == 0)
        #expect(summary.etherType == EtherType.ipv4)
        #expect(summary.network == .ipv4)
        #expect(summary.source == ip("131.155.215.69"))
        #expect(summary.destination == ip("137.116.81.94"))
        #expect(summary.ttl == 64)
        #expect(summary.ipProtocol == IPProtocol.tcp)
        #expect(summary.sourcePort == 46656)
        #expect(summary.destinationPort == 80)
        #expect(summary.tcpFlags == .syn)
        #expect(summary.tcpSequence == 797_190_859)
        #expect(summary.payloadLength == 0)
    }

    @Test func sllTCPSYNACK() {
        let summary = decode(Corpus.sllTCPSYNACK, link: .linuxSLL)
        #expect(summary.stop == .complete)
        #expect(summary.source == ip("137.116.81.94"))
        #expect(summary.sourcePort == 80)
        #expect(summary.destinationPort == 46656)
        #expect(summary.ttl == 117)
        #expect(summary.tcpFlags == [.syn, .ack])
        #expect(summary.tcpSequence == 3_078_856_592)
        #expect(summary.tcpAcknowledgment == 797_190_860)
    }

    @Test func sllARPRequest() {
        let summary = decode(Corpus.sllARPRequest, link: .linuxSLL)
        #expect(summary.stop == .complete)
        #expect(summary.sourceMAC == mac("cc:2d:e0:26:19:99"))
        #expect(summary.etherType == EtherType.arp)
        #expect(summary.network == .arp)
        #expect(summary.arpOperation == 1)
        #expect(summary.arpSenderMAC == mac("cc:2d:e0:26:19:99"))
        #expect(summary.source == ip("192.168.22.1"))
        #expect(summary.destination == ip("192.168.22.160"))
    }

    @Test func sll2HeaderFields() {
        Corpus.sll2ICMPEcho.withUnsafeBytes { bytes in
            let sll2 = LinuxSLL2Header(bytes)
            #expect(sll2?.protocolType == EtherType.ipv4)
            #expect(sll2?.interfaceIndex == 1)
            #expect(sll2?.arphrdType == 0x0304)  // ARPHRD_LOOPBACK
            #expect(sll2?.packetType == 0)
            #expect(sll2?.addressLength == 6)
            #expect(sll2?.sourceMAC == 0)  // lo has an all-zero address
            #expect(LinuxSLL2Header(UnsafeRawBufferPointer(rebasing: bytes[0..<19])) == nil)
        }
    }

    @Test func sll2ICMPEcho() {
        let summary = decode(Corpus.sll2ICMPEcho, link: .linuxSLL2)
        #expect(summary.stop == .complete)
        #expect(summary.etherType == EtherType.ipv4)
        #expect(summary.source == ip("192.0.2.1"))
        #expect(summary.destination == ip("192.0.2.1"))
        #expect(summary.ipProtocol == IPProtocol.icmp)
        #expect(summary.hasICMP)
        #expect(summary.icmpType == 8)
        #expect(summary.icmpCode == 0)
        #expect(summary.payloadLength == 56)
        #expect(!summary.hasPorts)
    }

    @Test func sll2ICMPv6Echo() {
        let summary = decode(Corpus.sll2ICMPv6Echo, link: .linuxSLL2)
        #expect(summary.stop == .complete)
        #expect(summary.etherType == EtherType.ipv6)
        #expect(summary.network == .ipv6)
        #expect(summary.source == ip("fe80::8c36:6ff:fe44:acaf"))
        #expect(summary.destination == ip("fe80::8c36:6ff:fe44:acaf"))
        #expect(summary.ipProtocol == IPProtocol.icmpv6)
        #expect(summary.icmpType == 128)
        #expect(summary.payloadLength == 56)
    }

    @Test func sll2SourceAddress() {
        // The SLL2 echo with a 6-byte link address written in (bytes 12-17) and packet type 4, as on an Ethernet device.
        let packet = patched(Corpus.sll2ICMPEcho, [10: 4, 12: 0x02, 13: 0x42, 14: 0xac, 15: 0x11, 16: 0x00, 17: 0x02])
        let summary = decode(packet, link: .linuxSLL2)
        #expect(summary.stop == .complete)
        #expect(summary.sourceMAC == mac("02:42:ac:11:00:02"))
        #expect(summary.source == ip("192.0.2.1"))
    }

    @Test func sllOtherProtocolsAreSkipped() {
        // Protocol field rewritten to LLDP (0x88cc), then to ETH_P_802_2 (4, an LLC frame).
        let lldp = decode(patched(Corpus.sllTCPSYN, [14: 0x88, 15: 0xcc]), link: .linuxSLL)
        #expect(lldp.stop == .unsupportedEtherType)
        #expect(lldp.etherType == 0x88cc)
        #expect(lldp.stopLocation == StopLocation(layer: .link, offset: 16, required: 0, available: 60))

        let llc = decode(patched(Corpus.sllTCPSYN, [14: 0x00, 15: 0x04]), link: .linuxSLL)
        #expect(llc.stop == .llcFrame)

        let sll2 = decode(patched(Corpus.sll2ICMPEcho, [0: 0x88, 1: 0xcc]), link: .linuxSLL2)
        #expect(sll2.stop == .unsupportedEtherType)
        #expect(sll2.stopLocation == StopLocation(layer: .link, offset: 20, required: 0, available: 84))
    }

    @Test func cookedHeadersCutOrShort() {
        let sllCut = decodePrefix(Corpus.sllTCPSYN, 10, wireLength: 76, link: .linuxSLL)
        #expect(sllCut.stop == .truncated)
        #expect(sllCut.stopLocation == StopLocation(layer: .link, offset: 0, required: 16, available: 10))

        let sllShort = decodePrefix(Corpus.sllTCPSYN, 15, wireLength: 15, link: .linuxSLL)
        #expect(sllShort.stop == .tooShort)
        #expect(sllShort.stopLocation == StopLocation(layer: .link, offset: 0, required: 16, available: 15))

        let sll2Cut = decodePrefix(Corpus.sll2ICMPEcho, 18, wireLength: 104, link: .linuxSLL2)
        #expect(sll2Cut.stop == .truncated)
        #expect(sll2Cut.stopLocation == StopLocation(layer: .link, offset: 0, required: 20, available: 18))

        let sll2Short = decodePrefix(Corpus.sll2ICMPEcho, 19, wireLength: 19, link: .linuxSLL2)
        #expect(sll2Short.stop == .tooShort)
        #expect(sll2Short.stopLocation == StopLocation(layer: .link, offset: 0, required: 20, available: 19))
    }

    @Test func ipv4CutAfterCookedHeader() {
        // Captured through the SLL header and 12 bytes of IPv4: the link layer is kept, IPv4 is cut.
        let summary = decodePrefix(Corpus.sllTCPSYN, 28, wireLength: 76, link: .linuxSLL)
        #expect(summary.stop == .truncated)
        #expect(summary.stopLocation == StopLocation(layer: .ipv4, offset: 16, required: 20, available: 12))
        #expect(summary.etherType == EtherType.ipv4)
        #expect(summary.network == .none)
    }
}
