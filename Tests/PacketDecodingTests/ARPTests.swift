// ARP for IPv4 over Ethernet (RFC 826): operation, sender and target addresses; other ARP is skipped.

import Testing
@testable import PacketDecoding

@Suite struct ARPTests {
    @Test func packetView() {
        Array(Corpus.arpReply[14...]).withUnsafeBytes { bytes in
            let fixed = ARPHeader(bytes)
            #expect(fixed?.hardwareType == 1)
            #expect(fixed?.protocolType == EtherType.ipv4)
            #expect(fixed?.hardwareLength == 6)
            #expect(fixed?.protocolLength == 4)
            #expect(fixed?.operation == 2)
            #expect(fixed?.isEthernetIPv4 == true)
            let arp = ARPPacket(bytes)
            #expect(arp?.operation == 2)
            #expect(arp?.senderHardware == mac("aa:00:04:00:14:0e"))
            #expect(arp?.senderProtocol == ip("10.20.30.40"))
            #expect(arp?.targetHardware == mac("08:00:27:e5:28:d1"))
            #expect(arp?.targetProtocol == ip("10.20.30.41"))
            #expect(ARPHeader(UnsafeRawBufferPointer(rebasing: bytes[0..<7])) == nil)
            #expect(ARPHeader(UnsafeRawBufferPointer(rebasing: bytes[0..<8])) != nil)
            // The addresses need all 28 bytes: the fixed part alone makes no packet view.
            #expect(ARPPacket(UnsafeRawBufferPointer(rebasing: bytes[0..<27])) == nil)
            #expect(ARPPacket(UnsafeRawBufferPointer(rebasing: bytes[0..<28])) != nil)
        }
    }

    @Test func packetViewNeedsEthernetAndIPv4() {
        // The offsets of the addresses hold only for 6-byte hardware and 4-byte protocol addresses.
        for (offset, value): (Int, UInt8) in [(1, 6), (2, 0x86), (4, 14), (5, 16)] {
            patched(Array(Corpus.arpReply[14...]), [offset: value]).withUnsafeBytes { bytes in
                #expect(ARPHeader(bytes)?.isEthernetIPv4 == false, "byte \(offset)")
                #expect(ARPPacket(bytes) == nil, "byte \(offset)")
            }
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
