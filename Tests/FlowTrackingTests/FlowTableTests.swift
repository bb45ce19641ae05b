// Flow table behaviour from packet summaries built by hand: TCP states in Zeek's vocabulary, originator choice,
// timeouts in packet time, eviction order and bounds, fragments, VLAN separation, connection reuse.

import FlowTracking
import PacketDecoding
import StateCoding
import Testing

let client = IPAddress("10.0.0.1")!
let server = IPAddress("10.0.0.2")!
let t0 = Timestamp(seconds: 1_700_000_000)

func tcp(_ from: IPAddress, _ fromPort: UInt16, _ to: IPAddress, _ toPort: UInt16, _ flags: TCPFlags,
         payload: Int32 = 0, vlan: UInt16 = 0) -> PacketSummary {
    var s = PacketSummary()
    s.network = from.isIPv6 ? .ipv6 : .ipv4
    s.source = from
    s.destination = to
    s.ipProtocol = IPProtocol.tcp
    s.hasPorts = true
    s.sourcePort = fromPort
    s.destinationPort = toPort
    s.tcpFlags = flags
    s.payloadLength = payload
    s.outerVLAN = vlan
    s.vlanCount = vlan == 0 ? 0 : 1
    return s
}

func udp(_ from: IPAddress, _ fromPort: UInt16, _ to: IPAddress, _ toPort: UInt16, payload: Int32 = 20) -> PacketSummary {
    var s = tcp(from, fromPort, to, toPort, [])
    s.ipProtocol = IPProtocol.udp
    s.payloadLength = payload
    return s
}

func icmp(_ from: IPAddress, _ to: IPAddress, type: UInt8, code: UInt8 = 0) -> PacketSummary {
    var s = PacketSummary()
    s.network = .ipv4
    s.source = from
    s.destination = to
    s.ipProtocol = IPProtocol.icmp
    s.hasICMP = true
    s.icmpType = type
    s.icmpCode = code
    return s
}

struct Recorder: FlowEventHandler {
    var events: [(FlowEvent, UInt64)] = []
    var ended: [Flow] = []
    mutating func flowEvent(_ event: FlowEvent, _ flow: Flow, at time: Timestamp) {
        events.append((event, flow.id))
        if event == .ended { ended.append(flow) }
    }
    func names(_ id: UInt64) -> [String] { events.filter { $0.1 == id }.map { $0.0.description } }
}

/// Feeds packets one millisecond apart (unless given times) and ends everything at the end.
func run(_ packets: [PacketSummary], configuration: FlowTableConfiguration = FlowTableConfiguration(),
         spacing: Duration = .milliseconds(1)) -> Recorder {
    var table = FlowTable(configuration: configuration)
    var recorder = Recorder()
    var time = t0
    for packet in packets {
        _ = table.process(packet, at: time, wireLength: 60 + Int(packet.payloadLength), handler: &recorder)
        time = time + spacing
    }
    table.endAll(handler: &recorder)
    return recorder
}

func state(_ packets: [PacketSummary]) -> ConnectionState? {
    let ended = run(packets).ended
    return ended.count == 1 ? ended[0].connectionState : nil
}

@Suite("TCP connection states")
struct ConnectionStateTests {
    @Test func completeSessionIsSF() {
        let r = run([
            tcp(client, 40000, server, 22, .syn), tcp(server, 22, client, 40000, [.syn, .ack]),
            tcp(client, 40000, server, 22, .ack), tcp(client, 40000, server, 22, [.psh, .ack], payload: 100),
            tcp(server, 22, client, 40000, [.psh, .ack], payload: 300), tcp(client, 40000, server, 22, [.fin, .ack]),
            tcp(server, 22, client, 40000, [.fin, .ack]), tcp(client, 40000, server, 22, .ack),
        ])
        #expect(r.ended.count == 1)
        let flow = r.ended[0]
        #expect(flow.connectionState == .sf)
        #expect(flow.originator == client && flow.responderPort == 22)
        #expect(flow.originatorPackets == 5 && flow.responderPackets == 3)
        #expect(flow.originatorPayload == 100 && flow.responderPayload == 300)
        #expect(r.names(flow.id) == ["started", "answered", "established", "data", "ended"])
    }

    @Test func unansweredSYNIsS0() {
        #expect(state([tcp(client, 40000, server, 81, .syn), tcp(client, 40000, server, 81, .syn)]) == .s0)
    }

    @Test func resetAnswerIsREJ() {
        #expect(state([tcp(client, 40000, server, 81, .syn), tcp(server, 81, client, 40000, [.rst, .ack])]) == .rej)
    }

    @Test func handshakeWithoutCloseIsS1() {
        #expect(state([tcp(client, 1, server, 22, .syn), tcp(server, 22, client, 1, [.syn, .ack])]) == .s1)
    }

    @Test func originatorAbortIsRSTO() {
        #expect(state([
            tcp(client, 1, server, 22, .syn), tcp(server, 22, client, 1, [.syn, .ack]), tcp(client, 1, server, 22, .ack),
            tcp(client, 1, server, 22, .rst),
        ]) == .rsto)
    }

    @Test func responderAbortIsRSTR() {
        #expect(state([
            tcp(client, 1, server, 22, .syn), tcp(server, 22, client, 1, [.syn, .ack]), tcp(client, 1, server, 22, .ack),
            tcp(server, 22, client, 1, .rst),
        ]) == .rstr)
    }

    @Test func synThenResetIsRSTOS0() {
        #expect(state([tcp(client, 1, server, 22, .syn), tcp(client, 1, server, 22, .rst)]) == .rstos0)
    }

    @Test func synThenFinIsSH() {
        #expect(state([tcp(client, 1, server, 22, .syn), tcp(client, 1, server, 22, [.fin, .ack])]) == .sh)
    }

    @Test func closeByOneSideIsS2OrS3() {
        let open = [tcp(client, 1, server, 22, .syn), tcp(server, 22, client, 1, [.syn, .ack]), tcp(client, 1, server, 22, .ack)]
        #expect(state(open + [tcp(client, 1, server, 22, [.fin, .ack])]) == .s2)
        #expect(state(open + [tcp(server, 22, client, 1, [.fin, .ack])]) == .s3)
    }

    @Test func midstreamIsOTH() {
        #expect(state([tcp(client, 50000, server, 22, .ack, payload: 10), tcp(server, 22, client, 50000, .ack, payload: 10)]) == .oth)
    }

    @Test("a SYN-ACK first means the SYN was missed: the receiver is the originator")
    func synAckFirstFlipsRoles() {
        let r = run([tcp(server, 22, client, 40000, [.syn, .ack]), tcp(client, 40000, server, 22, .ack)])
        #expect(r.ended.first?.originator == client)
        #expect(r.ended.first?.responderPort == 22)
    }

    @Test("mid-stream traffic from a well-known port to an ephemeral one is answered traffic")
    func serverPortFirstFlipsRoles() {
        let r = run([tcp(server, 443, client, 51000, .ack, payload: 100)])
        #expect(r.ended.first?.originator == client)
    }

    @Test func udpStates() {
        #expect(state([udp(client, 5000, server, 53), udp(server, 53, client, 5000)]) == .sf)
        #expect(state([udp(client, 5000, server, 9999)]) == .s0)
        let reply = run([udp(server, 53, client, 5000)]).ended
        #expect(reply.first?.originator == client, "a DNS answer seen first belongs to the client's flow")
    }
}

@Suite("Flow table")
struct FlowTableTests {
    @Test("ICMP echo request and reply are one flow; a one-way error is its own")
    func icmpPairs() {
        let r = run([icmp(client, server, type: 8), icmp(server, client, type: 0), icmp(server, client, type: 3, code: 3)])
        #expect(r.ended.count == 2)
        let echo = r.ended.first { $0.originatorPackets == 1 && $0.responderPackets == 1 }
        #expect(echo?.originator == client)
        #expect(echo?.originatorPort == 8 && echo?.responderPort == 0)
    }

    @Test("an echo reply seen first still makes the requester the originator")
    func icmpReplyFirst() {
        let r = run([icmp(server, client, type: 0)])
        #expect(r.ended.first?.originator == client)
    }

    @Test("the same addresses and ports on two VLANs are two flows")
    func vlanSeparates() {
        let r = run([tcp(client, 1, server, 2, .syn, vlan: 10), tcp(client, 1, server, 2, .syn, vlan: 20)])
        #expect(r.ended.count == 2)
        #expect(Set(r.ended.map(\.outerVLAN)) == [10, 20])
    }

    @Test("flows time out in packet time, by protocol and state")
    func timeouts() {
        var configuration = FlowTableConfiguration()
        configuration.udpTimeout = .seconds(60)
        var table = FlowTable(configuration: configuration)
        var recorder = Recorder()
        _ = table.process(udp(client, 5000, server, 53), at: t0, wireLength: 80, handler: &recorder)
        _ = table.process(tcp(client, 1, server, 81, .syn), at: t0, wireLength: 60, handler: &recorder)
        // 59 s later: nothing expired yet.
        _ = table.process(udp(client, 6000, server, 53), at: t0 + .seconds(59), wireLength: 80, handler: &recorder)
        #expect(recorder.ended.map(\.responderPort) == [81], "the TCP attempt (30 s) expired, the UDP flow (60 s) did not")
        _ = table.process(udp(client, 7000, server, 53), at: t0 + .seconds(61), wireLength: 80, handler: &recorder)
        #expect(recorder.ended.map(\.originatorPort) == [1, 5000])
        #expect(recorder.ended.allSatisfy { $0.endReason == .timeout })
        #expect(table.activeCount == 2)
    }

    @Test("a packet for a flow that has timed out starts a new flow")
    func expiredOnLookup() {
        let r = run([udp(client, 5000, server, 53), udp(client, 5000, server, 53)], spacing: .seconds(120))
        #expect(r.ended.count == 2)
        #expect(r.ended[0].endReason == .timeout)
    }

    @Test("a new SYN after a closed connection starts a new flow")
    func reuse() {
        let r = run([
            tcp(client, 1, server, 22, .syn), tcp(server, 22, client, 1, [.rst, .ack]), tcp(client, 1, server, 22, .syn),
        ])
        #expect(r.ended.count == 2)
        #expect(r.ended[0].endReason == .reused && r.ended[0].connectionState == .rej)
        #expect(r.ended[1].connectionState == .s0)
    }

    @Test("a full table evicts closed flows first, then attempts, then established ones, oldest first")
    func evictionOrder() {
        var configuration = FlowTableConfiguration()
        configuration.capacity = 3
        var table = FlowTable(configuration: configuration)
        var recorder = Recorder()
        var time = t0
        func feed(_ packet: PacketSummary) {
            _ = table.process(packet, at: time, wireLength: 60, handler: &recorder)
            time = time + .milliseconds(1)
        }
        feed(tcp(client, 1, server, 22, .syn))
        feed(tcp(server, 22, client, 1, [.syn, .ack]))  // flow 1: established
        feed(tcp(client, 2, server, 22, .syn))  // flow 2: attempt
        feed(tcp(client, 3, server, 22, .syn))
        feed(tcp(server, 22, client, 3, [.rst, .ack]))  // flow 3: closed (REJ)
        feed(tcp(client, 4, server, 22, .syn))  // full: evicts flow 3 (closed)
        feed(tcp(client, 5, server, 22, .syn))  // evicts flow 2 (oldest attempt)
        feed(tcp(client, 6, server, 22, .syn))  // evicts flow 4 (next oldest attempt), not the established flow 1
        #expect(recorder.ended.map(\.originatorPort) == [3, 2, 4])
        #expect(recorder.ended.allSatisfy { $0.endReason == .evicted })
        #expect(table.counters.evicted == 3)
        #expect(table.activeCount == 3)
    }

    @Test("a SYN flood the server answers (half-open handshakes) goes before an established session")
    func halfOpenGoesFirst() {
        var configuration = FlowTableConfiguration()
        configuration.capacity = 50
        var table = FlowTable(configuration: configuration)
        var recorder = Recorder()
        var time = t0
        func feed(_ packet: PacketSummary) {
            _ = table.process(packet, at: time, wireLength: 60, handler: &recorder)
            time = time + .milliseconds(10)
        }
        // The session, established first and then quiet: the oldest flow in the table.
        feed(tcp(client, 1, server, 22, .syn))
        feed(tcp(server, 22, client, 1, [.syn, .ack]))
        feed(tcp(client, 1, server, 22, .ack))
        feed(tcp(client, 1, server, 22, [.psh, .ack], payload: 40))
        // Forged sources whose SYNs the server answers and which never acknowledge: half-open, not established.
        for i in 0..<500 {
            let source = IPAddress(ipv4: 0xC000_0000 | UInt32(i))
            feed(tcp(source, 40_000, server, 443, .syn))
            feed(tcp(server, 443, source, 40_000, [.syn, .ack]))
        }
        #expect(table.counters.evicted == 451)
        #expect(table.counters.evictedByClass[TimeoutClass.tcpHalfOpen.rawValue] == 451)
        #expect(table.counters.evictedByClass[TimeoutClass.tcpEstablished.rawValue] == 0)
        #expect(!recorder.ended.contains { $0.originatorPort == 1 }, "the session is still open")
        // Half-open flows keep the attempt timeout: 30 s later they are gone, the session stays.
        time = time + .seconds(31)
        table.advanceTime(to: time, handler: &recorder)
        #expect(table.activeCount == 1)
    }

    @Test("a UDP flood does not evict a connection whose SYN is younger than the handshake grace")
    func youngAttemptSurvivesUDPFlood() {
        var configuration = FlowTableConfiguration()
        configuration.capacity = 100
        var table = FlowTable(configuration: configuration)
        var recorder = Recorder()
        var time = t0
        func feed(_ packet: PacketSummary, after gap: Duration = .milliseconds(1)) {
            _ = table.process(packet, at: time, wireLength: 60, handler: &recorder)
            time = time + gap
        }
        for i in 0..<200 { feed(udp(IPAddress(ipv4: 0xC000_0000 | UInt32(i)), 5000, server, 53)) }
        feed(tcp(client, 1, server, 22, .syn))
        // 100 more flood flows while the SYN waits 100 ms for its answer: each makes room by evicting UDP.
        for i in 200..<300 { feed(udp(IPAddress(ipv4: 0xC000_0000 | UInt32(i)), 5000, server, 53)) }
        feed(tcp(server, 22, client, 1, [.syn, .ack]))
        #expect(!recorder.ended.contains { $0.key.ipProtocol == IPProtocol.tcp })
        #expect(recorder.events.contains { $0.0 == .established })
        #expect(table.counters.evictedByClass[TimeoutClass.udp.rawValue] == table.counters.evicted)
        // Past the grace, an unanswered attempt goes before UDP again.
        feed(tcp(client, 2, server, 22, .syn), after: .seconds(2))
        feed(udp(IPAddress(ipv4: 0xC100_0000), 5000, server, 53))
        #expect(recorder.ended.last?.originatorPort == 2)
        #expect(table.counters.evictedByClass[TimeoutClass.tcpAttempt.rawValue] == 1)
    }

    @Test("memory stays bounded under a flood of distinct flows")
    func floodStaysBounded() {
        var configuration = FlowTableConfiguration()
        configuration.capacity = 1000
        var table = FlowTable(configuration: configuration)
        var handler = DiscardingHandler()
        for i in 0..<20_000 {
            let source = IPAddress(ipv4: 0x0A00_0000 | UInt32(i))
            _ = table.process(tcp(source, UInt16(i & 0xffff), server, 22, .syn), at: t0 + .milliseconds(Int64(i % 5)),
                              wireLength: 60, handler: &handler)
            #expect(table.activeCount <= 1000)
        }
        #expect(table.counters.created == 20_000)
        #expect(table.counters.evicted == 19_000)
        // Every flow is still findable after thousands of deletions from the open-addressed index.
        var probe = Recorder()
        for i in 19_000..<20_000 {
            let source = IPAddress(ipv4: 0x0A00_0000 | UInt32(i))
            let d = table.process(tcp(server, 22, source, UInt16(i & 0xffff), [.syn, .ack]), at: t0 + .milliseconds(5),
                                  wireLength: 60, handler: &probe)
            #expect(!d.isNewFlow)
        }
    }

    @Test("results do not depend on the hash seed")
    func seedIndependent() {
        let packets = (0..<500).map { i in tcp(IPAddress(ipv4: UInt32(0x0A00_0000 + i * 7919)), UInt16(i), server, 80, .syn) }
        var a = FlowTableConfiguration(), b = FlowTableConfiguration()
        a.hashSeed = 1
        b.hashSeed = 0xDEAD_BEEF
        a.capacity = 100
        b.capacity = 100
        let ra = run(packets, configuration: a), rb = run(packets, configuration: b)
        #expect(ra.ended.map(\.id) == rb.ended.map(\.id))
        #expect(ra.ended.map(\.originator) == rb.ended.map(\.originator))
    }

    /// The first fragment (offset 0, more to come) of a UDP datagram from `client`, with its ports.
    func firstFragment(_ id: UInt32, port: UInt16) -> PacketSummary {
        var s = udp(client, port, server, 53, payload: 1472)
        s.fragment.isFragment = true
        s.fragment.moreFragments = true
        s.fragment.identification = id
        return s
    }

    /// A later fragment of that datagram: no transport header, so no ports.
    func laterFragment(_ id: UInt32) -> PacketSummary {
        var s = PacketSummary()
        s.network = .ipv4
        s.source = client
        s.destination = server
        s.ipProtocol = IPProtocol.udp
        s.fragment.isFragment = true
        s.fragment.offset = 1480
        s.fragment.identification = id
        return s
    }

    @Test("later fragments count against the first fragment's flow; orphans are reported")
    func fragments() {
        let first = firstFragment(77, port: 5000)
        let later = laterFragment(77)
        let orphan = laterFragment(78)
        var table = FlowTable()
        var recorder = Recorder()
        _ = table.process(first, at: t0, wireLength: 1514, handler: &recorder)
        let matched = table.process(later, at: t0, wireLength: 600, handler: &recorder)
        let unmatched = table.process(orphan, at: t0, wireLength: 600, handler: &recorder)
        #expect(matched.outcome == .counted)
        #expect(unmatched.outcome == .unmatchedFragment)
        table.endAll(handler: &recorder)
        #expect(recorder.ended.count == 1)
        #expect(recorder.ended[0].originatorPackets == 2 && recorder.ended[0].fragments == 1)
        #expect(table.counters.fragmentsMatched == 1 && table.counters.fragmentsUnmatched == 1)
    }

    @Test("a full fragment tracker forgets the oldest first fragment, whatever the hash seed; timed-out ones go free")
    func fragmentTrackerForgetsOldestFirst() {
        // Eight first fragments into four slots, then the later fragment of each: the first four were forgotten (the
        // oldest), the last four match. A direct-mapped table forgot whichever datagram shared a slot, which the seed
        // decided, so the counts differed between runs over one capture.
        for seed: UInt64 in [1, 2, 0xDEAD_BEEF, 0x0123_4567_89AB_CDEF] {
            var configuration = FlowTableConfiguration()
            configuration.hashSeed = seed
            configuration.fragmentSlots = 4
            var table = FlowTable(configuration: configuration)
            var recorder = Recorder()
            for id in UInt32(1)...8 {
                _ = table.process(firstFragment(id, port: UInt16(5000 + id)), at: t0 + .milliseconds(Int64(id)),
                                  wireLength: 1514, handler: &recorder)
            }
            // A duplicate of a remembered first fragment refreshes it and forgets nothing.
            _ = table.process(firstFragment(8, port: 5008), at: t0 + .milliseconds(9), wireLength: 1514,
                              handler: &recorder)
            #expect(table.counters.fragmentsForgotten == 4, "seed \(seed)")
            let outcomes = (UInt32(1)...8).map {
                table.process(laterFragment($0), at: t0 + .milliseconds(10), wireLength: 600, handler: &recorder).outcome
            }
            #expect(outcomes == Array(repeating: .unmatchedFragment, count: 4) + Array(repeating: .counted, count: 4),
                    "seed \(seed)")
            // Past the timeout the remembered ones expire: four new first fragments take their places, none counted
            // as forgotten, and all four match.
            let later = t0 + configuration.fragmentTimeout + .seconds(1)
            for id in UInt32(11)...14 {
                _ = table.process(firstFragment(id, port: UInt16(5000 + id)), at: later, wireLength: 1514,
                                  handler: &recorder)
            }
            #expect(table.counters.fragmentsForgotten == 4, "seed \(seed)")
            for id in UInt32(11)...14 {
                #expect(table.process(laterFragment(id), at: later, wireLength: 600, handler: &recorder).outcome
                        == .counted, "seed \(seed)")
            }
        }
        // A repeat of the oldest first fragment moves it to the newest end: with two slots, A at 0 s, B at 1 s, A
        // again at 20 s, C at 35 s: B has timed out and goes (not counted), A stays and its later fragment matches.
        var configuration = FlowTableConfiguration()
        configuration.fragmentSlots = 2
        var table = FlowTable(configuration: configuration)
        var recorder = Recorder()
        for (id, second) in [(UInt32(21), Int64(0)), (22, 1), (21, 20), (23, 35)] {
            _ = table.process(firstFragment(id, port: 6000), at: t0 + .seconds(second), wireLength: 1514,
                              handler: &recorder)
        }
        #expect(table.counters.fragmentsForgotten == 0)
        #expect(table.process(laterFragment(21), at: t0 + .seconds(36), wireLength: 600, handler: &recorder).outcome
                == .counted)
        #expect(table.process(laterFragment(22), at: t0 + .seconds(36), wireLength: 600, handler: &recorder).outcome
                == .unmatchedFragment)
    }

    @Test("a flow active longer than the threshold raises long-lived once")
    func longLived() {
        var configuration = FlowTableConfiguration()
        configuration.longLivedThreshold = .seconds(300)
        let packets = [tcp(client, 1, server, 22, .syn), tcp(server, 22, client, 1, [.syn, .ack])]
            + Array(repeating: tcp(client, 1, server, 22, .ack, payload: 10), count: 12)
        let r = run(packets, configuration: configuration, spacing: .seconds(60))
        #expect(r.events.filter { $0.0 == .longLived }.count == 1)
    }
}

@Suite("Link layer per flow")
struct FlowLinkLayerTests {
    let clientMAC: UInt64 = 0x0011_2233_4455
    let serverMAC: UInt64 = 0x0066_7788_99aa

    func framed(_ packet: PacketSummary, from source: UInt64, to destination: UInt64) -> PacketSummary {
        var packet = packet
        packet.sourceMAC = source
        packet.destinationMAC = destination
        return packet
    }

    @Test("each side's MAC is the one it sent from, never the one a peer addressed it by")
    func eachSideItsOwnSourceMAC() {
        // The client addresses the server by a stale MAC; the server answers from its own.
        let r = run([framed(tcp(client, 40000, server, 22, .syn), from: clientMAC, to: 0x0000_0000_0bad),
                     framed(tcp(server, 22, client, 40000, [.syn, .ack]), from: serverMAC, to: clientMAC)])
        #expect(r.ended.first.map { MACAddress($0.originatorMAC) } == MACAddress(clientMAC))
        #expect(r.ended.first.map { MACAddress($0.responderMAC) } == MACAddress(serverMAC))
        #expect(r.ended.first?.firstFrameToGroupMAC == false)
    }

    @Test("a flow whose first packet came from the server knows the server's MAC and not yet the client's")
    func flippedFlowSenderMAC() {
        let r = run([framed(tcp(server, 22, client, 40000, [.syn, .ack]), from: serverMAC, to: clientMAC)])
        #expect(r.ended.first?.originator == client)
        #expect(r.ended.first?.originatorMAC == 0)
        #expect(r.ended.first?.responderMAC == serverMAC)
    }

    @Test("the sender's MAC is known when the flow starts")
    func macAtStart() {
        struct StartMAC: FlowEventHandler {
            var atStart: UInt64 = 0
            mutating func flowEvent(_ event: FlowEvent, _ flow: Flow, at time: Timestamp) {
                if event == .started { atStart = flow.originatorMAC }
            }
        }
        var table = FlowTable(configuration: FlowTableConfiguration())
        var handler = StartMAC()
        _ = table.process(framed(udp(client, 5353, server, 5353), from: clientMAC, to: serverMAC), at: t0,
                          wireLength: 80, handler: &handler)
        #expect(handler.atStart == clientMAC)
    }

    @Test("every event sees the packet that raised it counted: started with one packet, answered with the reply")
    func startedCountsItsPacket() {
        struct Counts: FlowEventHandler {
            var seen: [(FlowEvent, UInt64, UInt64, UInt64)] = []
            mutating func flowEvent(_ event: FlowEvent, _ flow: Flow, at time: Timestamp) {
                seen.append((event, flow.originatorPackets, flow.responderPackets, flow.originatorBytes))
            }
        }
        var table = FlowTable(configuration: FlowTableConfiguration())
        var handler = Counts()
        _ = table.process(tcp(client, 40000, server, 22, .syn), at: t0, wireLength: 74, handler: &handler)
        _ = table.process(tcp(server, 22, client, 40000, [.syn, .ack]), at: t0 + .milliseconds(1), wireLength: 74,
                          handler: &handler)
        #expect(handler.seen.map { "\($0.0) \($0.1)/\($0.2) \($0.3)" } == ["started 1/0 74", "answered 1/1 74",
                                                                              "established 1/1 74"])
        // A flow whose first packet is the server's: started already counts it on the responder's side.
        var flipped = Counts()
        var table2 = FlowTable(configuration: FlowTableConfiguration())
        _ = table2.process(tcp(server, 22, client, 40000, [.syn, .ack]), at: t0, wireLength: 74, handler: &flipped)
        #expect(flipped.seen.first.map { "\($0.0) \($0.1)/\($0.2)" } == "started 0/1")
    }

    @Test("a first frame to a broadcast MAC is marked (a directed broadcast names no host)")
    func groupAddressedFirstFrame() {
        let r = run([framed(udp(client, 137, IPAddress("10.0.0.255")!, 137), from: clientMAC, to: 0xFFFF_FFFF_FFFF)])
        #expect(r.ended.first?.firstFrameToGroupMAC == true)
    }

    @Test("MAC text: parsed with colons or dashes, printed lower case; the group and local bits")
    func macText() {
        #expect(MACAddress("00:1A:2b:3c:4d:5e")?.description == "00:1a:2b:3c:4d:5e")
        #expect(MACAddress("00-1a-2b-3c-4d-5e") == MACAddress("00:1a:2b:3c:4d:5e"))
        #expect(MACAddress("00:1a:2b:3c:4d") == nil)
        #expect(MACAddress("00:1a:2b:3c:4d:5g") == nil)
        #expect(MACAddress("001:a:2b:3c:4d:5e") == nil)
        #expect(MACAddress(0xFFFF_FFFF_FFFF).isGroup)
        #expect(MACAddress("01:00:5e:00:00:fb")!.isGroup)
        #expect(!MACAddress("00:1a:2b:3c:4d:5e")!.isGroup)
        #expect(MACAddress("da:a1:19:00:00:01")!.isLocallyAdministered)
        #expect(!MACAddress("00:1a:2b:3c:4d:5e")!.isLocallyAdministered)
        #expect(MACAddress("00:1a:2b:3c:4d:5e")!.oui == 0x001a2b)
    }

    @Test("open flows keep their MACs across a save; a version 1 section restores without them")
    func savedMACs() throws {
        var table = FlowTable(configuration: FlowTableConfiguration())
        var recorder = Recorder()
        _ = table.process(framed(tcp(client, 40000, server, 22, .syn), from: clientMAC, to: serverMAC), at: t0,
                          wireLength: 60, handler: &recorder)
        _ = table.process(framed(tcp(server, 22, client, 40000, [.syn, .ack]), from: serverMAC, to: clientMAC),
                          at: t0 + .milliseconds(1), wireLength: 60, handler: &recorder)
        var writer = StateWriter()
        table.encodeOpenFlows(into: &writer)
        var restored = FlowTable(configuration: FlowTableConfiguration())
        var reader = StateReader(writer.bytes)
        try restored.restoreOpenFlows(from: &reader)
        #expect(reader.isAtEnd)
        restored.endAll(handler: &recorder)
        #expect(recorder.ended.first?.originatorMAC == clientMAC)
        #expect(recorder.ended.first?.responderMAC == serverMAC)

        // Version 1: the same flow without the 17 bytes of link layer after it.
        var old = writer.bytes
        old.removeLast(17)
        var version1 = FlowTable(configuration: FlowTableConfiguration())
        var oldReader = StateReader(old)
        try version1.restoreOpenFlows(from: &oldReader, version: 1)
        #expect(oldReader.isAtEnd)
        var later = Recorder()
        version1.endAll(handler: &later)
        #expect(later.ended.count == 1)
        #expect(later.ended.first?.originatorMAC == 0)
    }
}
