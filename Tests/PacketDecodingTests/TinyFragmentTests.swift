// IPv4 fragments that split the fixed TCP header (RFC 1858's tiny fragments), as byte literals: what the decoder
// keeps of each for the flow table's reassembly (FlowTrackingTests/EvasionFlowTests reassembles them).

import Testing
@testable import PacketDecoding

@Suite struct TinyFragmentTests {
    /// 198.51.100.7 -> 10.201.0.2, id 0x4101, offset 0, more fragments, 12 bytes: TCP 41022 -> 22, seq 0x10000000,
    /// ack 0 (the data offset and flags are in the next fragment).
    static let tinyFirst = hex("4500 0020 4101 2000 4006 0000 c633 6407 0ac9 0002  a03e 0016 1000 0000 0000 0000")
    /// The same datagram at offset 8, last: ack 0, data offset 5, SYN, window 65535, checksum, urgent pointer.
    static let restOfHeader = hex("4500 0020 4101 0001 4006 0000 c633 6407 0ac9 0002  0000 0000 5002 ffff 0000 0000")

    @Test func tinyFirstFragmentGivesPortsAndSequence() {
        let summary = decode(Self.tinyFirst, link: .raw)
        #expect(summary.stop == .complete)
        #expect(summary.hasPorts && summary.sourcePort == 41022 && summary.destinationPort == 22)
        #expect(summary.tcpSequence == 0x1000_0000)
        #expect(summary.tcpFlags == [])
        #expect(summary.fragment.transportSplit)
        #expect(summary.fragment.dataLength == 12)
        #expect(summary.fragment.head.count == 12)
        #expect(summary.fragment.head[2] == 0x00 && summary.fragment.head[3] == 0x16)
    }

    @Test func laterFragmentCarriesItsShareOfTheHeader() {
        let summary = decode(Self.restOfHeader, link: .raw)
        #expect(summary.stop == .complete)
        #expect(!summary.hasPorts)
        #expect(summary.fragment.isNonFirst && summary.fragment.offset == 8 && !summary.fragment.moreFragments)
        #expect(summary.fragment.dataLength == 12)
        #expect(summary.fragment.head.count == 12)
        #expect(summary.fragment.head[5] == 0x02)  // the flags byte, 13 of the TCP header
        #expect(!summary.fragment.transportSplit)
    }

    @Test func fewerThanEightBytesStayTooShort() {
        // A first fragment with 4 bytes of TCP: Linux trims it to nothing and drops the datagram; no ports.
        let four = hex("4500 0018 4101 2000 4006 0000 c633 6407 0ac9 0002  a03e 0016")
        let summary = decode(four, link: .raw)
        #expect(summary.stop == .tooShort)
        #expect(summary.stopLocation == StopLocation(layer: .tcp, offset: 20, required: 20, available: 4))
        #expect(!summary.hasPorts && !summary.fragment.transportSplit)
    }

    @Test func ordinaryPacketsCarryNoHead() {
        let whole = hex("4500 0028 4101 0000 4006 0000 c633 6407 0ac9 0002  a03e 0016 1000 0000 0000 0000 5002 ffff 0000 0000")
        let summary = decode(whole, link: .raw)
        #expect(summary.stop == .complete && summary.tcpFlags == .syn)
        #expect(summary.fragment == FragmentInfo())
    }
}
