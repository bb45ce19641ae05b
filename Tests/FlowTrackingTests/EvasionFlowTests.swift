// Client packets shaped so a sensor misses what the server's kernel accepts (issue 14): IPv4 TCP segments whose
// fixed header is split across fragments (RFC 1858), reassembled as Linux reassembles them, and TCP flows seen
// only from the responder's side. Packets are byte literals decoded by the real decoder; EvasionTests shows the
// same on a real kernel.

import FlowTracking
import PacketDecoding
import Testing

/// The 20-byte fixed TCP header (checksum 0: neither the decoder nor the flow table reads it).
func tcpHeader(_ sourcePort: UInt16, _ destinationPort: UInt16, seq: UInt32, ack: UInt32 = 0, flags: UInt8)
    -> [UInt8]
{
    func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }
    func be32(_ v: UInt32) -> [UInt8] { be16(UInt16(v >> 16)) + be16(UInt16(v & 0xffff)) }
    return be16(sourcePort) + be16(destinationPort) + be32(seq) + be32(ack) + [0x50, flags] + be16(65535) + [0, 0, 0, 0]
}

/// One IPv4 packet (raw IP link type) from 198.51.100.7 to 10.201.0.2 carrying `data` at `offset` of datagram
/// `id`, protocol TCP.
func ipv4Fragment(id: UInt16, offset: Int, more: Bool, _ data: [UInt8], source: [UInt8] = [198, 51, 100, 7],
                  destination: [UInt8] = [10, 201, 0, 2]) -> [UInt8] {
    let total = 20 + data.count
    let fragment = (more ? 0x2000 : 0) | (offset / 8)
    return [0x45, 0, UInt8(total >> 8), UInt8(total & 0xff), UInt8(id >> 8), UInt8(id & 0xff),
            UInt8(fragment >> 8), UInt8(fragment & 0xff), 64, 6, 0, 0] + source + destination + data
}

func decodeRaw(_ bytes: [UInt8]) -> PacketSummary {
    bytes.withUnsafeBytes { PacketDecoder.decode($0, wireLength: bytes.count, linkType: .raw) }
}

/// Runs decoded packets through one flow table, a millisecond apart, and ends every flow.
func flows(of packets: [[UInt8]], configuration: FlowTableConfiguration = FlowTableConfiguration())
    -> (recorder: Recorder, table: FlowTable)
{
    var table = FlowTable(configuration: configuration)
    var recorder = Recorder()
    for (n, packet) in packets.enumerated() {
        _ = table.process(decodeRaw(packet), at: t0 + .milliseconds(Int64(n)), wireLength: packet.count + 14,
                          handler: &recorder)
    }
    table.endAll(handler: &recorder)
    return (recorder, table)
}

@Suite("Evasion: split TCP headers and one-sided flows")
struct EvasionFlowTests {
    static let syn = tcpHeader(41022, 22, seq: 0x1000_0000, flags: 0x02)
    static let decoy = tcpHeader(41022, 80, seq: 0x1000_0000, flags: 0x02)

    /// RFC 1858's tiny fragment: the first fragment holds 8 bytes (ports and sequence number), the flags come at
    /// offset 8. Linux reassembles and answers (EvasionTests); the flow must be the SYN to port 22.
    @Test("a SYN whose first fragment holds only 8 bytes of the TCP header is one flow to its port, as the kernel reassembles it")
    func tinyFirstFragment() {
        let (recorder, _) = flows(of: [
            ipv4Fragment(id: 7, offset: 0, more: true, Array(Self.syn[0..<8])),
            ipv4Fragment(id: 7, offset: 8, more: false, Array(Self.syn[8...])),
        ])
        #expect(recorder.ended.count == 1)
        let flow = recorder.ended.first
        #expect(flow?.responderPort == 22 && flow?.originatorPort == 41022)
        #expect(flow?.originatorHistory.contains(.syn) == true)
        #expect(flow?.connectionState == .s0)
        #expect(flow?.originatorPackets == 2 && flow?.fragments == 1)
    }

    /// The same with a decoy first fragment naming port 80 between the two: it lies wholly inside the first, so
    /// Linux drops it and keeps the first (inet_frag_queue_insert's duplicate case). The flow is to port 22 only.
    @Test("a duplicate first fragment naming another port is ignored: the first data wins, as in Linux")
    func duplicateFirstFragmentIsIgnored() {
        let (recorder, _) = flows(of: [
            ipv4Fragment(id: 8, offset: 0, more: true, Array(Self.syn[0..<8])),
            ipv4Fragment(id: 8, offset: 0, more: true, Array(Self.decoy[0..<8])),
            ipv4Fragment(id: 8, offset: 8, more: false, Array(Self.syn[8...])),
        ])
        #expect(recorder.ended.map(\.responderPort) == [22])
        #expect(recorder.ended.first?.originatorHistory.contains(.syn) == true)
    }

    /// Fragments in any order: the flags first, then the ports. A first fragment of 12 bytes with more to come is
    /// trimmed to 8 by Linux, so the fragment at offset 8 does not overlap it.
    @Test("fragments out of order, and a first fragment trimmed to 8 bytes, still give the SYN to port 22")
    func outOfOrderAndTrimmed() {
        let reversed = flows(of: [
            ipv4Fragment(id: 9, offset: 8, more: false, Array(Self.syn[8...])),
            ipv4Fragment(id: 9, offset: 0, more: true, Array(Self.syn[0..<8])),
        ]).recorder
        #expect(reversed.ended.map(\.responderPort) == [22])
        #expect(reversed.ended.first?.originatorHistory.contains(.syn) == true)

        let trimmed = flows(of: [
            ipv4Fragment(id: 10, offset: 0, more: true, Array(Self.syn[0..<12])),
            ipv4Fragment(id: 10, offset: 8, more: false, Array(Self.syn[8...])),
        ]).recorder
        #expect(trimmed.ended.map(\.responderPort) == [22])
    }

    /// An overlap that is not a duplicate drops the whole datagram in Linux (no SYN-ACK comes, EvasionTests): the
    /// sensor sees no SYN to either port, and counts the datagram.
    @Test("an overlapping fragment drops the datagram, as Linux drops it, and is counted")
    func overlapDropsTheDatagram() {
        let (recorder, table) = flows(of: [
            ipv4Fragment(id: 11, offset: 0, more: true, Array(Self.syn[0..<8])),
            ipv4Fragment(id: 11, offset: 0, more: true, Array(Self.decoy[0..<16])),
            ipv4Fragment(id: 11, offset: 8, more: false, Array(Self.syn[8...])),
        ])
        #expect(!recorder.ended.contains { $0.originatorHistory.contains(.syn) })
        #expect(table.counters.datagramsOverlapping == 1)
        #expect(table.counters.datagramsReassembled == 0)
        #expect(table.counters.datagramsIncomplete == 1)  // the last fragment began a datagram of its own
    }

    /// A flood of split headers that never complete: the reassembly table keeps its size and counts what it forgot;
    /// a datagram completed after the flood is still reassembled.
    @Test("split headers that never complete are forgotten oldest first and counted; memory stays bounded")
    func reassemblyIsBounded() {
        var configuration = FlowTableConfiguration()
        configuration.reassemblySlots = 4
        var packets: [[UInt8]] = (0..<40).map {
            ipv4Fragment(id: UInt16(100 + $0), offset: 0, more: true, Array(Self.syn[0..<8]))
        }
        packets.append(ipv4Fragment(id: 7, offset: 0, more: true, Array(Self.syn[0..<8])))
        packets.append(ipv4Fragment(id: 7, offset: 8, more: false, Array(Self.syn[8...])))
        let (recorder, table) = flows(of: packets, configuration: configuration)
        #expect(recorder.ended.map(\.responderPort) == [22])
        #expect(table.counters.datagramsIncomplete == 40)
        #expect(table.counters.fragmentsHeld == 41)
    }

    /// A capture that sees only the server's side: SYN-ACK, banner, then the server's ACK of 24 bytes the client
    /// sent. The port answered (established) and a session exchanged data both ways (the server acknowledged it).
    @Test("a flow seen only from the responder is established at its SYN-ACK and has data both ways once the responder acknowledges the originator's data")
    func responderOnlyFlow() {
        var synAck = tcp(server, 22, client, 41022, [.syn, .ack])
        synAck.tcpSequence = 5000
        synAck.tcpAcknowledgment = 0x1000_0001
        var banner = tcp(server, 22, client, 41022, [.psh, .ack], payload: 35)
        banner.tcpSequence = 5001
        banner.tcpAcknowledgment = 0x1000_0001
        var acknowledgment = tcp(server, 22, client, 41022, [.ack])
        acknowledgment.tcpSequence = 5036
        acknowledgment.tcpAcknowledgment = 0x1000_0001 + 24
        let recorder = run([synAck, banner, acknowledgment])
        #expect(recorder.ended.count == 1)
        #expect(recorder.ended.first?.originator == client && recorder.ended.first?.responderPort == 22)
        #expect(recorder.names(1) == ["started", "answered", "established", "data", "ended"])

        // The responder acknowledging only a FIN (one past its SYN-ACK's number) is not data.
        var finOnly = acknowledgment
        finOnly.tcpAcknowledgment = 0x1000_0002
        #expect(run([synAck, banner, finOnly]).names(1) == ["started", "answered", "established", "ended"])
    }

    /// With the originator's packets in the capture, its own payload decides, as before: a responder that
    /// acknowledges more than was seen does not make data both ways.
    @Test("a two-sided flow is unchanged: the originator's payload as seen decides")
    func twoSidedFlowUnchanged() {
        var syn = tcp(client, 41022, server, 22, [.syn])
        syn.tcpSequence = 0x1000_0000
        var synAck = tcp(server, 22, client, 41022, [.syn, .ack])
        synAck.tcpAcknowledgment = 0x1000_0001
        var ack = tcp(client, 41022, server, 22, [.ack])
        ack.tcpSequence = 0x1000_0001
        var banner = tcp(server, 22, client, 41022, [.psh, .ack], payload: 35)
        banner.tcpAcknowledgment = 0x1000_0001 + 24
        #expect(run([syn, synAck, ack, banner]).names(1) == ["started", "answered", "established", "ended"])
    }
}
