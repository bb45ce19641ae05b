// The time-passing event (issue 15, item 3): a detection that asks for it hears packet time go on, at most once per
// tick, when a packet moves the clock (before that packet is analysed) and, live, when the sensor clock moves on a
// quiet link with no packet at all. The throwaway detection here, added through the pipeline's list of detections
// alone, raises an alert once a deadline passes with nothing more from the host that started it: the kind of
// detection (a window that must close, a reply that never came) that would otherwise wait for the next packet.

import Detection
import FlowTracking
import PacketDecoding
import Sensor
import SiteModel
import Testing

/// Notes the first flow's originator; 30 s of packet time later, raises one alert naming it. Counts the ticks heard.
struct DeadlineAfterFirstFlow: Detection {
    static let name = "test-deadline"
    static let events: DetectionEvents = [.started, .timePassed]
    static let deadline = Duration.seconds(30)
    var first: (source: IPAddress, time: Timestamp)?
    var raised = false
    var ticks: UInt64 = 0
    var lastTick = Timestamp(nanoseconds: Int64.min)
    var ticksOutOfOrder: UInt64 = 0

    mutating func flow(_ context: FlowContext, site: Site, mark: inout UInt8, ledger: inout AlertLedger) {
        if first == nil { first = (context.flow.originator, context.time) }
    }

    mutating func timePassed(_ time: Timestamp, site: Site, ledger: inout AlertLedger) {
        ticks += 1
        if time < lastTick { ticksOutOfOrder += 1 }
        lastTick = time
        guard !raised, let first, time - first.time >= Self.deadline else { return }
        raised = true
        let alert = Alert(timestamp: time, rule: .hostScan, severity: 3, message: "deadline passed", reason: "test-deadline",
                          source: first.source, host: AlertHost(address: first.source))
        ledger.raise(alert, key: SuppressionKey(rule: .hostScan, source: first.source))
    }

    var counters: [DetectionCounter] {
        [DetectionCounter("testTicks", "ticks", ticks), DetectionCounter("testTicksOutOfOrder", "ticks out of order", ticksOutOfOrder)]
    }
}

@Suite("Time passing reaches the detections")
struct TimePassingTests {
    static let host = IPAddress("10.0.0.1")!
    static let peer = IPAddress("10.0.0.9")!
    static let start = Timestamp(seconds: 1_800_000_000)

    final class Box: @unchecked Sendable { var alerts: [Alert] = [] }

    /// A UDP datagram from the host to `port` of the peer: a new flow each port.
    static func datagram(_ port: UInt16) -> PacketSummary {
        var s = PacketSummary()
        s.network = .ipv4
        s.source = host
        s.destination = peer
        s.ipProtocol = IPProtocol.udp
        s.hasPorts = true
        s.sourcePort = 40_000
        s.destinationPort = port
        return s
    }

    static func pipeline() -> (Pipeline, Box) {
        var configuration = PipelineConfiguration()
        configuration.detections = DetectionRegistry.all + [DeadlineAfterFirstFlow.self]
        let box = Box()
        var pipeline = Pipeline(configuration: configuration, output: nil)
        pipeline.onAlert = { box.alerts.append($0) }
        return (pipeline, box)
    }

    static func deadlineAlerts(_ box: Box) -> [Alert] { box.alerts.filter { $0.reason == "test-deadline" } }

    @Test("packets: one tick per second of packet time at most, in order; the deadline's alert comes with the first packet past it, stamped with its time; none before")
    func byPackets() {
        var (pipeline, box) = Self.pipeline()
        // 1,000 packets within one second: one tick (the first packet's).
        for i in 0..<1000 {
            pipeline.analyse(Self.datagram(1000 + UInt16(i % 10)), at: Self.start + .milliseconds(Int64(i)), wireLength: 60)
        }
        #expect(pipeline.analyzer.engine.counter("testTicks") == 1)
        // 20 s later: a second tick, the deadline not reached (the benign control: no alert before it).
        pipeline.analyse(Self.datagram(2000), at: Self.start + .seconds(20), wireLength: 60)
        #expect(pipeline.analyzer.engine.counter("testTicks") == 2)
        #expect(Self.deadlineAlerts(box).isEmpty)
        // A jump to 31 s gives one tick at the new time, not one per second skipped, and the alert.
        pipeline.analyse(Self.datagram(2001), at: Self.start + .seconds(31), wireLength: 60)
        #expect(pipeline.analyzer.engine.counter("testTicks") == 3)
        let alerts = Self.deadlineAlerts(box)
        #expect(alerts.count == 1)
        #expect(alerts.first?.timestamp == Self.start + .seconds(31))
        #expect(alerts.first?.source == Self.host)
        // A packet stamped earlier than the clock gives no tick.
        pipeline.analyse(Self.datagram(2002), at: Self.start + .seconds(25), wireLength: 60)
        #expect(pipeline.analyzer.engine.counter("testTicks") == 3)
        #expect(pipeline.analyzer.engine.counter("testTicksOutOfOrder") == 0)
    }

    @Test("a quiet link: with no packet after the first, the sensor clock's advance alone brings the deadline's alert, at 30 s and not before")
    func quietLink() {
        var (pipeline, box) = Self.pipeline()
        // A few packets 1 ms apart: the first ones are held until later ones agree with their time (PacketClock.swift).
        for i in 0..<8 { pipeline.analyse(Self.datagram(1000), at: Self.start + .milliseconds(Int64(i)), wireLength: 60) }
        pipeline.advanceClock(to: Self.start + .seconds(29))
        #expect(Self.deadlineAlerts(box).isEmpty)
        pipeline.advanceClock(to: Self.start + .seconds(30))
        let alerts = Self.deadlineAlerts(box)
        #expect(alerts.count == 1)
        #expect(alerts.first?.timestamp == Self.start + .seconds(30))
        #expect(pipeline.analyzer.engine.counter("testTicks") == 3)
    }

    @Test("the registry's detections ask for no tick: they run as before (the golden baselines pin their output)")
    func registryUnchanged() {
        #expect(DetectionRegistry.all.allSatisfy { !$0.events.contains(.timePassed) })
    }
}
