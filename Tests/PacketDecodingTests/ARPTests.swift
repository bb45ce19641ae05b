// ARP for IPv4 over Ethernet (RFC 826): operation, sender and target addresses; other ARP is skipped.

import Testing
@testable import PacketDecoding

@Suite struct ARPTests {
    @Test func packetView() {
        Array(Corpus.arpReply[14...]).withUnsafeBytes { bytes in
            let arp = ARPPacket(bytes)
            #expect(arp?.hardwareType == 1)
            #expect(arp?.protocolType == EtherType.ipv4)
            #expect(arp?.hardwareLength == 6)
            #expect(arp?.protocolLength == 4)
            #expect(arp?.operation == 2)
            #expect(arp?.isEthernetIPv4 == true)
            #expect(arp?.senderHardware == mac("aa:00:04:00:14:0e"))
            #expect(arp?.senderProtocol == ip("10.20.30.40"))
            #expect(arp?.targetHardware == mac("08:00:27:e5:28:d1"))
            #expect(arp?.targetProtocol == ip("10.20.30.41"))
            #expect(ARPPacket(UnsafeRawBufferPointer(rebasing: bytes[0..<7])) == nil)
        }
    }

    @Test func request() {
        let summary = decode(Corpus.arpRequest)
        #expect(summary.stop == .complete)
        #expect(summary.destinationMAC == mac("aa:00:04:00:14:0e"))
        #expect(summary.sourceMAC == mac("08:00:27:e5:28:d1"))
        #expect(summary.etherType == EtherType.arp)
        #expect(summary.network == .arp)
        #expect(!summary.isIP)
        #expect(summary.arpOperation == 1)
        #expect(summary.arpSenderMAC == mac("08:00:27:e5:28:d1"))
        #expect(summary.source == ip("10.20.30.41"))
        #expect(summary.arpTargetMAC == 0)
        #expect(summary.destination == ip("10.20.30.40"))
        #expect(!summary.hasPorts)
    }

    @Test func reply() {
        let summary = decode(Corpus.arpReply)
        #expect(summary.stop == .complete)
        #expect(summary.arpOperation == 2)
        #expect(summary.arpSenderMAC == mac("aa:00:04:00:14:0e"))
        #expect(summary.source == ip("10.20.30.40"))
        #expect(summary.arpTargetMAC == mac("08:00:27:e5:28:d1"))
        #expect(summary.destination == ip("10.20.30.41"))
    }

    @Test func replyBehindQinQWithPadding() {
        let summary = decode(Corpus.qinqARPReply)
        #expect(summary.stop == .complete)
        #expect(summary.vlanCount == 2)
        #expect(summary.arpOperation == 2)
        #expect(summary.arpSenderMAC == mac("00:80:ea:81:88:63"))
        #expect(summary.source == ip("172.21.79.100"))
        #expect(summary.arpTargetMAC == mac("00:20:d2:5a:fb:3f"))
        #expect(summary.destination == ip("172.21.79.97"))
    }

    @Test func otherHardwareIsSkipped() {
        // tcpdump's fuzzer case: hardware type 0x3030 with 14-byte addresses, behind one 802.1ad tag (VID 0x030).
        let odd = decode(Corpus.arpOddHardware, wireLength: Corpus.arpOddHardwareWireLength)
        #expect(odd.stop == .unsupportedARP)
        #expect(odd.stop.isSkipped)
        #expect(odd.stopLocation == StopLocation(layer: .arp, offset: 18, required: 0, available: 46))
        #expect(odd.vlanCount == 1)
        #expect(odd.outerVLAN == 0x030)
        #expect(odd.network == .none)

        // The request rewritten for IEEE 802 hardware (type 6).
        let ieee802 = decode(patched(Corpus.arpRequest, [15: 6]))
        #expect(ieee802.stop == .unsupportedARP)
        #expect(ieee802.network == .none)
    }

    @Test func rarpIsAnotherEtherType() {
        let summary = decode(patched(Corpus.arpRequest, [12: 0x80, 13: 0x35]))
        #expect(summary.stop == .unsupportedEtherType)
        #expect(summary.etherType == 0x8035)
    }

    @Test func cutOrShortARP() {
        let inAddresses = decodePrefix(Corpus.arpRequest, 34, wireLength: 42)
        #expect(inAddresses.stop == .truncated)
        #expect(inAddresses.stopLocation == StopLocation(layer: .arp, offset: 14, required: 28, available: 20))
        #expect(inAddresses.network == .none)
        #expect(inAddresses.sourceMAC == mac("08:00:27:e5:28:d1"))

        let inFixedPart = decodePrefix(Corpus.arpRequest, 20, wireLength: 42)
        #expect(inFixedPart.stop == .truncated)
        #expect(inFixedPart.stopLocation == StopLocation(layer: .arp, offset: 14, required: 8, available: 6))

        let shortOnWire = decodePrefix(Corpus.arpRequest, 34, wireLength: 34)
        #expect(shortOnWire.stop == .tooShort)
        #expect(shortOnWire.stopLocation == StopLocation(layer: .arp, offset: 14, required: 28, available: 20))
    }
}
