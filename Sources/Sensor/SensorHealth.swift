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
//   as `suppressed_before` on the next, as the ledger does.
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

    /// Counts a sensor alert `SensorHealth` held back, in the ledger's figure of alerts held back.
    public mutating func countSensorAlertHeldBack(_ rule: RuleID) {
        analyzer.engine.ledger.countHeldBack(rule)
    }
}
