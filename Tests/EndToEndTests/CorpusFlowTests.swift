// Flow records on real attack captures, checked against what the captures contain. The expectations were
// written from reading the files with `tcpdump -nn -r`, not from IdleWatch's output:
//
// zeek/ssh__sshguess.pcap (431 packets): 192.168.56.1 opens 11 TCP connections to 192.168.56.103:22 from source
// ports 55470-55480; each is SYN, SYN-ACK, data, FIN from the client, FIN from the server. So: 11 flows, all
// originated by 192.168.56.1, all SF.
//
// nDPI/synscan.pcap (2011 packets): 172.16.0.8 sends 1994 SYNs to 64.13.134.52, each from a distinct
// (source port, destination port). Three ports are open (53, 80, 22): each answers with a SYN-ACK that the server
// retransmits 4 times in all, because the scanner never completes the handshake (no RST from it was captured).
// Five are closed and answer RST; the other 1986 get nothing. So: 1994 flows from 172.16.0.8; 3 S1 (Zeek counts
// the SYN-ACK as established) with 4 responder packets each, 5 REJ, 1986 S0.

import FlowTracking
import PacketCapture
import PacketDecoding
import Testing

/// Collects flows as they end.
struct FlowCollector: FlowEventHandler {
    var ended: [Flow] = []
    var events: [(FlowEvent, UInt64)] = []

    mutating func flowEvent(_ event: FlowEvent, _ flow: Flow, at time: Timestamp) {
        events.append((event, flow.id))
        if event == .ended { ended.append(flow) }
    }
}

/// Decodes every packet of `paths` into a flow table and returns the ended flows, in the order they ended.
struct FlowReplay: PacketHandler {
    var table: FlowTable
    var collector = FlowCollector()

    init(configuration: FlowTableConfiguration = FlowTableConfiguration()) {
        table = FlowTable(configuration: configuration)
    }

    mutating func handle(_ packet: CapturedPacket) {
        let summary = PacketDecoder.decode(packet.bytes, wireLength: packet.wireLength, linkType: packet.linkType)
        _ = table.process(summary, at: packet.timestamp, wireLength: packet.wireLength, handler: &collector)
    }

    static func flows(of paths: [String], configuration: FlowTableConfiguration = FlowTableConfiguration()) -> [Flow] {
        var replay = FlowReplay(configuration: configuration)
        let source = ReplaySource(paths: paths)
        source.run(&replay)
        replay.table.endAll(handler: &replay.collector)
        return replay.collector.ended
    }
}

@Suite("Flows on real captures")
struct CorpusFlowTests {
    @Test("SSH password guessing: 11 complete sessions to port 22")
    func sshGuessing() throws {
        let flows = FlowReplay.flows(of: [TestPaths.corpusFile("zeek/ssh__sshguess.pcap")])
        #expect(flows.count == 11)
        let client = IPAddress("192.168.56.1")!, server = IPAddress("192.168.56.103")!
        for flow in flows {
            #expect(flow.originator == client)
            #expect(flow.responder == server)
            #expect(flow.responderPort == 22)
            #expect(flow.ipProtocol == IPProtocol.tcp)
            #expect(flow.connectionState == .sf, "flow from port \(flow.originatorPort)")
            #expect(flow.originatorPayload > 0 && flow.responderPayload > 0)
        }
        #expect(Set(flows.map(\.originatorPort)) == Set(55470...55480))
        #expect(flows.reduce(0) { $0 + $1.originatorPackets + $1.responderPackets } == 431)
    }

    @Test("SYN scan: open ports S1, closed REJ, filtered S0")
    func synScan() throws {
        let flows = FlowReplay.flows(of: [TestPaths.corpusFile("nDPI/synscan.pcap")])
        #expect(flows.count == 1994)
        let scanner = IPAddress("172.16.0.8")!
        #expect(flows.allSatisfy { $0.originator == scanner && $0.originatorPackets == 1 })
        var states: [ConnectionState: Int] = [:]
        for flow in flows { states[flow.connectionState, default: 0] += 1 }
        #expect(states == [.s1: 3, .rej: 5, .s0: 1986])
        let open = flows.filter { $0.connectionState == .s1 }
        #expect(Set(open.map(\.responderPort)) == [22, 53, 80])
        #expect(open.allSatisfy { $0.responderPackets == 4 })
    }

    @Test("a capture split in two files and replayed out of order gives the flows of the whole capture")
    func splitReplayCarriesState() throws {
        let whole = TestPaths.corpusFile("zeek/ssh__sshguess.pcap")
        let directory = TestPaths.temporaryDirectory()
        let first = directory.appendingPathComponent("a.pcap").path
        let second = directory.appendingPathComponent("b.pcap").path
        // Split in the middle of a connection so the second half only makes sense with the first half's state.
        let source = try OfflineSource(path: whole)
        let writerA = try CaptureWriter(path: first, linkType: source.linkType, nanosecondPrecision: true)
        let writerB = try CaptureWriter(path: second, linkType: source.linkType, nanosecondPrecision: true)
        var count = 0
        while let packet = try source.advance() {
            (count < 200 ? writerA : writerB).write(packet)
            count += 1
        }
        try writerA.flush()
        try writerB.flush()

        let expected = FlowReplay.flows(of: [whole])
        let replayed = FlowReplay.flows(of: [second, first])  // given in the wrong order on purpose
        #expect(replayed.count == expected.count)
        for (a, b) in zip(expected, replayed) {
            #expect(a.originator == b.originator && a.originatorPort == b.originatorPort)
            #expect(a.connectionState == b.connectionState)
            #expect(a.originatorPackets == b.originatorPackets && a.responderPackets == b.responderPackets)
            #expect(a.originatorBytes == b.originatorBytes && a.responderBytes == b.responderBytes)
            #expect(a.firstSeen == b.firstSeen && a.lastSeen == b.lastSeen)
        }
    }
}
