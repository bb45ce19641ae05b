// The sensor clock and the capture-health path (issue 15, item 8), driven directly: live packet time goes on while
// no packet comes, from the last packet's time by the monotonic clock less an allowance; an unanswered scan is then
// reported when its attempts time out, with the alert a replay of the same packets gives; a packet stamped earlier
// than the advanced clock is analysed at its own stamp.

import Detection
import FlowTracking
import PacketDecoding
import Sensor
import Testing

@Suite("Sensor clock")
struct SensorClockTests {
    static let scanner = IPAddress("10.0.0.1")!
    static let target = IPAddress("10.0.0.9")!
    static let start = Timestamp(seconds: 1_800_000_000)

    /// A SYN from the scanner to `port` of the target (no answer ever comes).
    static func syn(_ port: UInt16) -> PacketSummary {
        var s = PacketSummary()
        s.network = .ipv4
        s.source = scanner
        s.destination = target
        s.ipProtocol = IPProtocol.tcp
        s.hasPorts = true
        s.sourcePort = 40_000 &+ port
        s.destinationPort = port
        s.tcpFlags = .syn
        return s
    }

    /// A pipeline that collects its alerts, after 15 unanswered SYNs 1 ms apart (the last at `start` + 14 ms).
    static func scanned() -> (Pipeline, Box) {
        let box = Box()
        var pipeline = Pipeline(configuration: PipelineConfiguration(), output: nil)
        pipeline.onAlert = { box.alerts.append($0) }
        for i in 0..<15 {
            pipeline.analyse(syn(UInt16(5000 + i)), at: start + .milliseconds(Int64(i)), wireLength: 60)
        }
        return (pipeline, box)
    }

    final class Box: @unchecked Sendable { var alerts: [Alert] = [] }

    @Test("the clock: nothing before the first packet; the anchor's time until the allowance has passed; then real time less the allowance; only a packet that moves the clock anchors it")
    func clock() {
        var clock = SensorClock(readTimeout: .milliseconds(200))
        #expect(clock.allowance == .milliseconds(500))
        #expect(clock.time(at: 100) == nil)
        clock.noteBatch(clockBefore: Timestamp(nanoseconds: Int64.min), after: Self.start, monotonic: 100)
        #expect(clock.time(at: 100) == Self.start)
        #expect(clock.time(at: 100.4) == Self.start)
        #expect(clock.time(at: 110.5) == Self.start + .seconds(10))
        // A batch of late packets (the clock did not move) leaves the anchor where it was.
        clock.noteBatch(clockBefore: Self.start, after: Self.start, monotonic: 105)
        #expect(clock.time(at: 110.5) == Self.start + .seconds(10))
    }

    @Test("a quiet link: 15 unanswered SYNs raise host-scan when the clock passes their timeout, with the alert a replay gives; a late packet is analysed at its own stamp; the clock never goes back")
    func quietScan() throws {
        var (pipeline, box) = Self.scanned()
        #expect(box.alerts.isEmpty)
        let last = Self.start + .milliseconds(14)
        pipeline.advanceClock(to: last + .seconds(29))
        #expect(box.alerts.isEmpty, "no attempt has timed out yet")
        pipeline.advanceClock(to: last + .seconds(31))
        let alert = try #require(box.alerts.first)
        #expect(box.alerts.count == 1)
        #expect(alert.rule == .hostScan)
        // The 15th failure is the last SYN's flow, ended when it expired: its SYN plus the attempt timeout (30 s).
        #expect(alert.timestamp == last + .seconds(30))
        #expect(pipeline.clock == last + .seconds(31) && pipeline.packetsAtClock == 0)
        #expect(pipeline.flows.activeCount == 0)

        // Never back; a packet stamped before the advanced clock keeps its own stamp and leaves the clock alone.
        pipeline.advanceClock(to: last + .seconds(1))
        #expect(pipeline.clock == last + .seconds(31))
        pipeline.analyse(Self.syn(6000), at: last + .milliseconds(30_500), wireLength: 60)
        #expect(pipeline.decode.packets == 16)
        #expect(pipeline.clock == last + .seconds(31))
        #expect(pipeline.flows.activeCount == 1)

        // A replay of the same SYNs, whose time comes only from packets: the same alert when a later packet comes.
        var (replayed, replayBox) = Self.scanned()
        replayed.analyse(Self.syn(6000), at: last + .seconds(31), wireLength: 60)
        let replayAlert = try #require(replayBox.alerts.first)
        #expect(replayAlert.timestamp == alert.timestamp && replayAlert.message == alert.message
                && replayAlert.id == alert.id && replayAlert.incident == alert.incident)
    }

    @Test("before the first packet the clock does not move (a state's saved clock anchors nothing)")
    func noPacketNoAdvance() {
        var pipeline = Pipeline(configuration: PipelineConfiguration(), output: nil)
        pipeline.advanceClock(to: Self.start)
        #expect(pipeline.clock == Timestamp(nanoseconds: Int64.min))
    }
}
