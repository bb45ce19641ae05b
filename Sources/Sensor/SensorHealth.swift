// Capture-health alerts (capture-loss, capture-silent) on a path of their own. They concern the sensor, not the
// traffic, and used to go through the ledger's per-key suppression and per-host incidents, which follow packet time,
// while they were stamped with the wall clock: the two clocks were compared with each other (a stepped wall clock,
// or a state seeded by a replay of older captures, skewed both), their entries were saved in the state file among
// the packet-time ones, and a second silence of the SPAN port within the suppression hour was held back: lost.
//
// Now: stamped with the wall clock when the sensor noticed (as before; they are about the sensor, whose operator
// holds them against the switch's logs, and before the first packet there is no packet time at all), judged here on
// the monotonic clock only, then numbered by the ledger in the one sequence of alert ids and written in order with
// the others (`AlertLedger.raiseJudged`), with the same JSON and text as before.
// - capture-silent: once per silence (the live loop raises it when no packet came for `--silent-after` seconds and
//   not again until packets have come back), so every silence is reported; nothing is held back.
// - capture-loss: judged every 10 s, so a lasting loss would repeat every 10 s: at most once per
//   `repeatInterval` (the ledger's suppression interval, 1 h, as before), the ones held back counted and shown
//   as `suppressed_before` on the next, as the ledger does, or in a closing record (`takeHeldBack`: at each
//   statistics interval and at the stop), so none waits for a next one that may never come.
// - Incidents: health alerts of one sensor within `incidentWindow` (the ledger's, 24 h) of the previous one continue
//   its incident, as the ledger linked them before (they name no host): a loss and then a silence on the same port
//   are one story. Kept for the run only (a restart opens a new one), not in the state file.

import Detection
import PacketDecoding

public struct SensorHealth: Sendable {
    /// Seconds (monotonic) within which a repeat-limited rule is not raised again.
    public let repeatInterval: Double
    /// Seconds (monotonic) within which a health alert continues the previous one's incident.
    public let incidentWindow: Double
    /// Per repeat-limited rule: when it was last raised (monotonic) and how many were held back since.
    var lastRaised: [RuleID: (monotonic: Double, held: UInt64)] = [:]
    /// Per repeat-limited rule: the id of its last alert, and when (wall clock) the first and the latest alert held
    /// back since it (or since the last closing record) were noticed.
    var heldSpan: [RuleID: (alert: UInt64, first: Timestamp, last: Timestamp)] = [:]
    /// The incident the last health alert belongs to, and when (monotonic) that alert was raised.
    var incident: (id: UInt64, monotonic: Double)?

    public init(configuration: AlertLedgerConfiguration) {
        repeatInterval = configuration.suppressionInterval.seconds
        incidentWindow = configuration.incidentWindow.seconds
    }

    /// Whether an alert of `rule` goes out at `monotonic`; nil when it is held back (counted for the next one), else
    /// how many were held back before it.
    public mutating func admit(_ rule: RuleID, at monotonic: Double, limitRepeats: Bool) -> UInt64? {
        guard limitRepeats else { return 0 }
        if let last = lastRaised[rule], monotonic - last.monotonic < repeatInterval {
            lastRaised[rule] = (last.monotonic, last.held + 1)
            return nil
        }
        let held = lastRaised[rule]?.held ?? 0
        lastRaised[rule] = (monotonic, 0)
        return held
    }

    /// The incident an alert raised at `monotonic` continues (nil: it opens one).
    public func incident(at monotonic: Double) -> UInt64? {
        guard let incident, monotonic - incident.monotonic <= incidentWindow else { return nil }
        return incident.id
    }

    /// After the ledger numbered it: `alert` as written.
    public mutating func noteRaised(_ alert: Alert, at monotonic: Double) {
        incident = (alert.incident, monotonic)
        heldSpan[alert.rule] = (alert.id, alert.timestamp, alert.timestamp)
    }

    /// An alert of `rule` that `admit` held back was noticed at `time` (wall clock): the span its closing record gives.
    public mutating func noteHeldBack(_ rule: RuleID, at time: Timestamp) {
        let span = heldSpan[rule] ?? (0, time, time)
        let first = (lastRaised[rule]?.held ?? 0) <= 1 ? time : span.first
        heldSpan[rule] = (span.alert, first, max(span.last, time))
    }

    /// A closing record for each rule that held alerts back since its last alert or record (in rule order), and
    /// its count started again: its next alert's `suppressed_before` counts only what is held back after this.
    public mutating func takeHeldBack(at time: Timestamp, occasion: HeldBackRecord.Occasion,
                                      interface: String) -> [HeldBackRecord] {
        var records: [HeldBackRecord] = []
        for (rule, last) in lastRaised.sorted(by: { $0.key.rawValue < $1.key.rawValue }) where last.held > 0 {
            let span = heldSpan[rule] ?? (0, time, time)
            var record = HeldBackRecord(timestamp: max(time, span.last), occasion: occasion, rule: rule,
                                        source: .unspecified, held: last.held, alert: span.alert,
                                        firstHeld: span.first, lastHeld: span.last)
            record.interface = interface
            records.append(record)
            lastRaised[rule] = (last.monotonic, 0)
        }
        return records
    }
}

extension Pipeline {
    /// Writes an alert about the sensor itself, judged by `SensorHealth`, numbered in the one sequence of alert ids,
    /// in order with the alerts already raised. Returns it as written.
    public mutating func raiseSensorAlert(_ alert: Alert, incident: UInt64?, heldBefore: UInt64) -> Alert {
        let raised = analyzer.engine.ledger.raiseJudged(alert, incident: incident, heldBefore: heldBefore)
        writeAlerts()
        return raised
    }

    /// Writes the closing records `SensorHealth.takeHeldBack` gave, in order with the alerts already raised.
    public mutating func writeHeldBack(_ records: [HeldBackRecord]) {
        for record in records { analyzer.engine.ledger.reportJudged(record) }
        writeAlerts()
    }

    /// Counts a sensor alert `SensorHealth` held back, in the ledger's figure of alerts held back.
    public mutating func countSensorAlertHeldBack(_ rule: RuleID) {
        analyzer.engine.ledger.countHeldBack(rule)
    }
}
