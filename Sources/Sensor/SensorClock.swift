// The sensor clock: live, packet time goes on while no packet comes, so flows time out and windows close on a quiet
// link. Without it an idle mirror port (the very equipment this product watches) stopped the clock: an unanswered
// scan, whose failed attempts are counted when their flows expire, was reported only when some later packet came.
//
// As Zeek (live, its idle loop sets `network_time` to the current time before expiring timers) and Suricata (live,
// its flow manager judges timeouts by the wall clock when the capture threads bring nothing) do, but from the
// packets' own clock rather than the wall clock's: the last packet time analysed plus the monotonic time elapsed
// since it was analysed, less `allowance`. So
// - it runs at the rate of real time from a stamp the packet-time screen believed (PacketClock.swift: live, a packet
//   more than a day ahead of the wall clock is never analysed), and cannot itself run far ahead of the packets: a
//   stepped wall clock (NTP) does not move it, and it cannot leave the far-future screen's range faster than real
//   time does;
// - it never moves backwards: it only ever raises the pipeline's clock (`advanceClock`), and the flow table's clock
//   never goes back either;
// - `allowance` keeps it behind the packets still on their way. A packet is stamped by the kernel when it arrives,
//   then waits for the kernel's block timer (up to the read timeout, 200 ms; TPACKET_V3 hands packets over in
//   blocks), for the reader's poll to end (up to the read timeout again) and for the reader's publish delay (20 ms).
//   The clock is anchored when the analysis has taken a packet, after those waits, and lags by `allowance` (twice
//   the read timeout plus 100 ms: 500 ms) on top, so a packet that arrived after the anchor and is still in transit
//   has, in every normal case, a stamp later than the advanced clock.
// - When a packet's stamp is nonetheless earlier than the advanced clock (the reader was not scheduled for more
//   than `allowance`, or the wall clock the kernel stamps with was stepped back), the packet
//   is analysed at its own stamp, as it would be in a replay of the same packets: its flow events and alerts carry
//   the time the kernel gave it, never a time made up here. The pipeline's clock does not go back for it (the next
//   advance starts from the same anchor), and the flow table judges expiry on its own clock, which is at most
//   `allowance` plus the scheduling delay ahead of that stamp: far below every timeout (10 s and more).
//
// The pipeline's clock is also the state file's resume point. A live sensor's saved clock therefore moves on while
// the link is quiet: that is right, since the state it saves (flows expired, windows closed) is the state as of
// that time; a replay resumed from it would skip packets stamped before it as already accounted for, which they
// are: the sensor was watching then and saw nothing. `packetsAtClock` is 0 at an advanced clock (no packet carried
// exactly that time). A live sensor never resumes (it analyses every packet it captures), and a replay never
// advances: its time comes from its packets only, so replay output is byte for byte what it was (the golden
// baselines, Tests/Baselines/, prove it).

import PacketDecoding

/// Live packet time between packets: the anchor's packet time plus the monotonic time since it, less `allowance`.
public struct SensorClock: Sendable {
    /// How far behind real time the clock stays (see the file header): twice the read timeout plus 100 ms.
    public let allowance: Duration
    /// The pipeline's clock as a packet last moved it, and the monotonic time (seconds) when the analysis had it.
    public private(set) var anchor: (time: Timestamp, monotonic: Double)?

    public init(readTimeout: Duration) {
        allowance = Duration(nanoseconds: 2 * readTimeout.nanoseconds + Duration.milliseconds(100).nanoseconds)
    }

    /// After a batch of packets: `before` and `after` the pipeline's clock around it. When a packet moved the clock,
    /// it becomes the anchor, at `monotonic` (the time the analysis had it, later than its arrival: the safe side).
    public mutating func noteBatch(clockBefore before: Timestamp, after: Timestamp, monotonic: Double) {
        guard after > before else { return }
        anchor = (after, monotonic)
    }

    /// Packet time at `monotonic`: nil before the first packet of this run (a state's saved clock may be days old,
    /// or ahead of the live stamps, so it anchors nothing), else never earlier than the anchor.
    public func time(at monotonic: Double) -> Timestamp? {
        guard let anchor else { return nil }
        let elapsed = ((monotonic - anchor.monotonic) * 1e9).rounded(.down)
        // A clock that ran for centuries would overflow: the representable end is far enough.
        let ahead = min(elapsed - Double(allowance.nanoseconds), 9e18)
        guard ahead > 0 else { return anchor.time }
        return anchor.time + Duration(nanoseconds: Int64(ahead))
    }
}

extension Pipeline {
    /// Live, while no packet comes: moves packet time forward to `time` (never back) and ends the flows that timed
    /// out by then, writing what that raised (unanswered attempts become failed ones; flow records are written).
    /// Nothing happens before the first packet time, and never in a replay (nothing calls it there).
    public mutating func advanceClock(to time: Timestamp) {
        guard clock.nanoseconds != Int64.min, time > clock, held.isEmpty else { return }
        clock = time
        packetsAtClock = 0
        flows.advanceTime(to: time, handler: &analyzer)
        if analyzer.detecting { analyzer.engine.timePassed(to: time) }
        if analyzer.engine.ledger.hasPending { writeAlerts() }
    }
}
