// Ethernet II and 802.1Q/802.1ad tag stacks: addresses, VLAN ids, where the frame stops, and the frames the
// decoder skips (802.3 LLC, unknown EtherTypes) or rejects (too short, too many tags).

import Testing
@testable import PacketDecoding

@Suite struct EthernetTests {
    @Test func headerViewChecksItsLength() {
        let frame = Corpus.unknownEtherType
        frame.withUnsafeBytes { bytes in
            let header = EthernetHeader(bytes)
            #expect(header?.destination == mac("00:00:00:00:00:03"))
            #expect(header?.source == mac("98:90:96:a0:44:ea"))
            #expect(header?.etherType == 0xfbb7)
            #expect(EthernetHeader(UnsafeRawBufferPointer(rebasing: bytes[0..<13])) == nil)
        }
    }

    @Test func vlanTagViewSplitsTheTagControlField() {
        // Hand-written 802.1Q tag (IEEE 802.1Q 9.6): PCP 5, DEI 1, VID 10, then EtherType IPv4.
        hex("b00a 0800").withUnsafeBytes { bytes in
            let tag = VLANTag(bytes)
            #expect(tag?.priority == 5)
            #expect(tag?.vlanID == 10)
            #expect(tag?.etherType == EtherType.ipv4)
            #expect(VLANTag(UnsafeRawBufferPointer(rebasing: bytes[0..<3])) == nil)
        }
    }

    @Test func qinqStackGivesOuterAndInnerVLAN() {
        let summary = decode(Corpus.qinqARPRequest)
        #expect(summary.stop == .complete)
        #expect(summary.destinationMAC == mac("ff:ff:ff:ff:ff:ff"))
        #expect(summary.sourceMAC == mac("00:20:d2:5a:fb:3f"))
        #expect(summary.vlanCount == 2)
        #expect(summary.outerVLAN == 200)  // 802.1ad S-tag 0x00c8
        #expect(summary.innerVLAN == 2001)  // 802.1Q C-tag 0x07d1
        #expect(summary.etherType == EtherType.arp)
        #expect(summary.network == .arp)
    }

    @Test func threeTagsAreCountedAndTheFirstTwoKept() {
        let summary = decode(Corpus.qinqinqTCPSYN)
        #expect(summary.stop == .complete)
        #expect(summary.destinationMAC == mac("00:10:db:88:d2:ef"))
        #expect(summary.sourceMAC == mac("c8:bc:c8:96:d2:a0"))
        #expect(summary.vlanCount == 3)
        #expect(summary.outerVLAN == 30)
        #expect(summary.innerVLAN == 20)
        #expect(summary.etherType == EtherType.ipv4)
        #expect(summary.network == .ipv4)
        #expect(summary.source == ip("141.142.228.5"))
        #expect(summary.destination == ip("192.150.187.43"))
        #expect(summary.hasPorts)
        #expect(summary.sourcePort == 59856)
        #expect(summary.destinationPort == 80)
        #expect(summary.tcpFlags == .syn)
        #expect(summary.tcpSequence == 4_263_588_410)
        #expect(summary.payloadLength == 0)
    }

    @Test func preStandardQinQEtherTypeIsATag() {
        // The 802.1ad S-tag of the QinQ ARP request rewritten as the legacy 0x9100.
        let frame = patched(Corpus.qinqARPRequest, [12: 0x91, 13: 0x00])
        let summary = decode(frame)
        #expect(summary.stop == .complete)
        #expect(summary.vlanCount == 2)
        #expect(summary.outerVLAN == 200)
        #expect(summary.network == .arp)
    }

    /// A hand-written frame with `count` 802.1Q tags (VIDs 1, 2, ...) in front of the raw IPv4 DNS query.
    static func stacked(tags count: Int) -> [UInt8] {
        var text = "ffff ffff ffff 0020 d25a fb3f | 8100"
        for vid in 1...count {
            let next = vid == count ? "0800" : "8100"
            text += " | " + hex4(vid) + " " + next
        }
        return hex(text) + Corpus.rawIPv4DNS
    }

    @Test func eightTagsAreFollowed() {
        let summary = decode(Self.stacked(tags: 8))
        #expect(summary.stop == .complete)
        #expect(summary.vlanCount == 8)
        #expect(summary.outerVLAN == 1)
        #expect(summary.innerVLAN == 2)
        #expect(summary.network == .ipv4)
        #expect(summary.destinationPort == 53)
    }

    @Test func nineTagsAreTooDeep() {
        let frame = Self.stacked(tags: 9)
        let summary = decode(frame)
        #expect(summary.stop == .vlanStackTooDeep)
        #expect(summary.stop.isMalformed)
        // The ninth tag starts after the Ethernet header and eight 4-byte tags.
        #expect(summary.stopLocation == StopLocation(layer: .vlan, offset: 46, required: 0, available: frame.count - 46))
        #expect(summary.vlanCount == 8)
        #expect(summary.outerVLAN == 1)
        #expect(summary.network == .none)
    }

    @Test func frameShorterThanEthernetHeaderIsTooShort() {
        let cut = Array(Corpus.qinqARPRequest[0..<10])
        let summary = decode(cut)
        #expect(summary.stop == .tooShort)
        #expect(summary.stopLocation == StopLocation(layer: .link, offset: 0, required: 14, available: 10))
        #expect(summary.sourceMAC == 0)
        #expect(summary.network == .none)

        let empty = decode([])
        #expect(empty.stop == .tooShort)
        #expect(empty.stopLocation == StopLocation(layer: .link, offset: 0, required: 14, available: 0))
    }

    @Test func ethernetHeaderCutBySnapLengthIsTruncated() {
        let summary = decodePrefix(Corpus.qinqARPRequest, 10, wireLength: 64)
        #expect(summary.stop == .truncated)
        #expect(summary.stopLocation == StopLocation(layer: .link, offset: 0, required: 14, available: 10))
        #expect(summary.capturedLength == 10)
        #expect(summary.wireLength == 64)
    }

    @Test func vlanTagCutBySnapLengthKeepsEarlierLayers() {
        let frame = Corpus.qinqARPRequest
        let inOuterTag = decodePrefix(frame, 16, wireLength: frame.count)
        #expect(inOuterTag.stop == .truncated)
        #expect(inOuterTag.stopLocation == StopLocation(layer: .vlan, offset: 14, required: 4, available: 2))
        #expect(inOuterTag.sourceMAC == mac("00:20:d2:5a:fb:3f"))
        #expect(inOuterTag.vlanCount == 0)

        let inInnerTag = decodePrefix(frame, 20, wireLength: frame.count)
        #expect(inInnerTag.stop == .truncated)
        #expect(inInnerTag.stopLocation == StopLocation(layer: .vlan, offset: 18, required: 4, available: 2))
        #expect(inInnerTag.vlanCount == 1)
        #expect(inInnerTag.outerVLAN == 200)

        let afterTags = decodePrefix(frame, 22, wireLength: frame.count)
        #expect(afterTags.stop == .truncated)
        #expect(afterTags.stopLocation == StopLocation(layer: .arp, offset: 22, required: 8, available: 0))
        #expect(afterTags.vlanCount == 2)
        #expect(afterTags.innerVLAN == 2001)
        #expect(afterTags.etherType == EtherType.arp)
    }

    @Test func trailerAfterIPv4DatagramIsNotAnError() {
        // 4 bytes follow the 60-byte datagram: the lengths come from IPv4, not from the frame.
        let synAck = decode(Corpus.sshSYNACKWithTrailer)
        #expect(synAck.stop == .complete)
        #expect(synAck.source == ip("131.159.14.23"))
        #expect(synAck.destination == ip("192.150.186.169"))
        #expect(synAck.sourcePort == 22)
        #expect(synAck.destinationPort == 49244)
        #expect(synAck.tcpFlags == [.syn, .ack])
        #expect(synAck.tcpSequence == 3_876_002_109)
        #expect(synAck.tcpAcknowledgment == 4_199_889_895)
        #expect(synAck.payloadLength == 0)

        let banner = decode(Corpus.sshBannerWithTrailer)
        #expect(banner.stop == .complete)
        #expect(banner.tcpFlags == [.psh, .ack])
        #expect(banner.payloadLength == 23)  // "SSH-1.99-OpenSSH_3.9p1\n", not the trailer
    }

    @Test func paddingAfterShortIPv4DatagramIsNotAnError() {
        // 38-byte fragment in a 60-byte frame: 8 bytes of Ethernet padding.
        let summary = decode(Corpus.ipv4FirstFragmentUDP)
        #expect(summary.stop == .complete)
        #expect(summary.payloadLength == 10)
        // 36-byte IGMP datagram in a 60-byte frame.
        let igmp = decode(Corpus.ipv4RouterAlertIGMP)
        #expect(igmp.stop == .complete)
        #expect(igmp.payloadLength == 12)
    }

    @Test func llcFrameIsSkipped() {
        let summary = decode(Corpus.llcNetBEUI)
        #expect(summary.stop == .llcFrame)
        #expect(summary.stop.isSkipped)
        #expect(!summary.stop.isMalformed)
        #expect(summary.stopLocation == StopLocation(layer: .link, offset: 14, required: 0, available: 3))
        #expect(summary.etherType == 3)  // the 802.3 length field
        #expect(summary.destinationMAC == mac("00:0c:29:8e:87:a6"))
        #expect(summary.sourceMAC == mac("00:0c:29:31:0d:01"))
        #expect(summary.network == .none)
    }

    @Test func unknownEtherTypeIsSkipped() {
        let summary = decode(Corpus.unknownEtherType)
        #expect(summary.stop == .unsupportedEtherType)
        #expect(summary.stop.isSkipped)
        #expect(summary.stopLocation == StopLocation(layer: .link, offset: 14, required: 0, available: 0))
        #expect(summary.etherType == 0xfbb7)
        #expect(summary.sourceMAC == mac("98:90:96:a0:44:ea"))
    }

    @Test func decodingIntoASummaryResetsIt() {
        var summary = PacketSummary()
        Corpus.qinqinqTCPSYN.withUnsafeBytes {
            PacketDecoder.decode($0, wireLength: $0.count, linkType: .ethernet, into: &summary)
        }
        #expect(summary.hasPorts)
        Corpus.llcNetBEUI.withUnsafeBytes {
            PacketDecoder.decode($0, wireLength: $0.count, linkType: .ethernet, into: &summary)
        }
        #expect(summary.stop == .llcFrame)
        #expect(!summary.hasPorts)
        #expect(summary.vlanCount == 0)
        #expect(summary.network == .none)
        #expect(summary.source == .unspecified)
    }
}
