// Numbering, suppression and incident linking of alerts.
//
// Suppression: an alert whose suppression key was raised less than `suppressionInterval` ago (packet time) is
// counted against the earlier one instead of being repeated; the next alert with that key says how many were held
// back. Nothing held back is lost: what a key held back since its last alert (or its last report) is also reported in a
// closing record (`HeldBackRecord`, `event_type: "alert_summary"`) at the end of a run, live at each statistics
// interval (`reportHeldBack`), and when the key is forgotten to stay within `suppressionCapacity`; each held-back
// alert is counted once, in a later alert's `suppressed_before` or in one closing record. Incidents: the first alert about a local host opens an incident; alerts about the same host within
// `incidentWindow` of the incident's last alert carry its id, so a host that wakes up and then scans is one story.

import BoundedTables
import PacketDecoding

public struct SuppressionKey: Hashable, Comparable, Sendable {
    public var rule: RuleID
    public var source: IPAddress
    public var destination: IPAddress?
    public var port: UInt16?
    public var detail: String

    public static func < (a: SuppressionKey, b: SuppressionKey) -> Bool {
        (a.rule.rawValue, a.source, a.destination ?? .unspecified, a.port ?? 0, a.detail)
            < (b.rule.rawValue, b.source, b.destination ?? .unspecified, b.port ?? 0, b.detail)
    }

    public init(rule: RuleID, source: IPAddress, destination: IPAddress? = nil, port: UInt16? = nil, detail: String = "") {
        self.rule = rule
        self.source = source
        self.destination = destination
        self.port = port
        self.detail = detail
    }
}

/// One suppression key's state: its last alert, and what was held back against it since (or since the key's last
/// closing record).
struct Suppression: Sendable {
    /// When the key's last alert was raised, and its id (0: restored from a file that did not keep it).
    var time: Timestamp
    var alert: UInt64
    var held: UInt64 = 0
    /// The first and the latest alert held back (meaningful while `held` > 0).
    var firstHeld = Timestamp.zero
    var lastHeld = Timestamp.zero
    /// The latest held-back alert's counts: how far a scan or a guessing run got while its alerts were held.
    var tally = AlertTally()

    init(time: Timestamp, alert: UInt64) {
        self.time = time
        self.alert = alert
    }
}

/// What one suppression key held back: the closing record that reports it, so that no count waits for an alert
/// that may never come.
public struct HeldBackRecord: Sendable, Equatable {
    /// Why it is reported now.
    public enum Occasion: String, Sendable, CaseIterable {
        /// The run ended (Pipeline.finish).
        case endOfRun = "end-of-run"
        /// A live sensor's statistics interval.
        case interval
        /// The key was forgotten to stay within the ledger's capacity.
        case forgotten
    }

    /// When it was reported (packet time).
    public var timestamp: Timestamp
    public var occasion: Occasion
    /// The suppression key's parties.
    public var rule: RuleID
    public var source: IPAddress
    public var destination: IPAddress?
    public var port: UInt16?
    public var detail: String
    /// Alerts held back, and the id of the alert they were held against (0: unknown, from an older state file).
    public var held: UInt64
    public var alert: UInt64
    public var firstHeld: Timestamp
    public var lastHeld: Timestamp
    /// The latest held-back alert's counts.
    public var tally: AlertTally
    /// For capture-health rules (held back on their own path, Sources/Sensor/SensorHealth.swift): the interface;
    /// `source` is then `::`, not written.
    public var interface: String?

    public init(timestamp: Timestamp, occasion: Occasion, rule: RuleID, source: IPAddress,
                destination: IPAddress? = nil, port: UInt16? = nil, detail: String = "", held: UInt64, alert: UInt64,
                firstHeld: Timestamp, lastHeld: Timestamp, tally: AlertTally = AlertTally()) {
        self.timestamp = timestamp
        self.occasion = occasion
        self.rule = rule
        self.source = source
        self.destination = destination
        self.port = port
        self.detail = detail
        self.held = held
        self.alert = alert
        self.firstHeld = firstHeld
        self.lastHeld = lastHeld
        self.tally = tally
    }
}

public struct AlertLedgerConfiguration: Sendable {
    /// Alerts with one key are raised at most once per interval (Zeek's notice suppression default is 1 h).
    public var suppressionInterval = Duration.seconds(3600)
    /// Alerts about one host this close together belong to one incident.
    public var incidentWindow = Duration.seconds(24 * 3600)
    /// Suppression entries kept; the oldest are forgotten beyond it.
    public var suppressionCapacity = 65_536
    /// Open incidents kept (one per local host with a recent alert); the stalest are forgotten beyond it. An
    /// attacker can make alerts name many hosts (a scan from forged local sources names each), so this is bounded
    /// like the suppression keys.
    public var incidentCapacity = 65_536
    public init() {}
}

public struct AlertLedger {
    public let configuration: AlertLedgerConfiguration
    /// Alerts raised since the last `drain()`.
    public private(set) var pending: [Alert] = []
    public private(set) var raised: UInt64 = 0
    public private(set) var suppressed: UInt64 = 0
    public private(set) var raisedByRule: [RuleID: UInt64] = [:]
    public private(set) var suppressedByRule: [RuleID: UInt64] = [:]
    var lastRaised: [SuppressionKey: Suppression] = [:]
    /// Closing records reported since the last `drainHeldBack()`.
    public private(set) var pendingHeldBack: [HeldBackRecord] = []
    var incidents: [IPAddress: (id: UInt64, last: Timestamp)] = [:]
    var nextID: UInt64 = 1
    /// Suppression keys and incidents dropped to stay within their capacities while still inside their intervals:
    /// a repeat may then be raised again, or a later alert open a new incident (run counters, not saved).
    public private(set) var suppressionForgotten: UInt64 = 0
    public private(set) var incidentsForgotten: UInt64 = 0

    /// The counters above by name, as the detections give theirs (for the run summary).
    public var counters: [DetectionCounter] {
        [DetectionCounter("suppressionKeysForgotten", "suppression keys", suppressionForgotten),
         DetectionCounter("incidentsForgotten", "incidents", incidentsForgotten)]
    }

    public init(configuration: AlertLedgerConfiguration = AlertLedgerConfiguration()) {
        self.configuration = configuration
    }

    /// Raises `alert` unless its key was raised within the suppression interval. Returns whether it was raised.
    @discardableResult
    public mutating func raise(_ alert: Alert, key: SuppressionKey) -> Bool {
        var alert = alert
        if var last = lastRaised[key], alert.timestamp - last.time < configuration.suppressionInterval {
            if last.held == 0 { last.firstHeld = alert.timestamp }
            last.held &+= 1
            last.lastHeld = max(last.lastHeld, alert.timestamp)
            if !alert.tally.isEmpty { last.tally = alert.tally }
            lastRaised[key] = last
            suppressed &+= 1
            suppressedByRule[alert.rule, default: 0] &+= 1
            return false
        }
        alert.suppressedBefore = lastRaised[key]?.held ?? 0
        if lastRaised[key] == nil {
            var dropped: [(SuppressionKey, Suppression)] = []
            suppressionForgotten &+= UInt64(lastRaised.makeRoom(
                capacity: configuration.suppressionCapacity, now: alert.timestamp,
                window: configuration.suppressionInterval, lastActivity: { $0.time },
                forgetting: { key, value in if value.held > 0 { dropped.append((key, value)) } }))
            // Forgotten with counts held: reported now, not lost (in key order, so the output is the same each run).
            for (key, value) in dropped.sorted(by: { $0.0 < $1.0 }) {
                pendingHeldBack.append(record(key, value, at: alert.timestamp, occasion: .forgotten))
            }
        }
        lastRaised[key] = Suppression(time: alert.timestamp, alert: nextID)
        alert.id = nextID
        nextID &+= 1
        let hostAddress = alert.host.address
        if let incident = incidents[hostAddress], alert.timestamp - incident.last <= configuration.incidentWindow {
            alert.incident = incident.id
            incidents[hostAddress] = (incident.id, max(incident.last, alert.timestamp))
        } else {
            alert.incident = alert.id
            if incidents[hostAddress] == nil {
                incidentsForgotten &+= UInt64(incidents.makeRoom(
                    capacity: configuration.incidentCapacity, now: alert.timestamp,
                    window: configuration.incidentWindow) { $0.last })
            }
            incidents[hostAddress] = (alert.id, alert.timestamp)
        }
        pending.append(alert)
        raised &+= 1
        raisedByRule[alert.rule, default: 0] &+= 1
        return true
    }

    /// Raises an alert about the sensor itself (capture health) that its own path has already judged
    /// (Sources/Sensor/SensorHealth.swift): numbered in the same sequence as every other alert and queued in order
    /// with them, but neither suppressed by key nor linked by host here, since those follow packet time and the
    /// sensor's own alerts follow the sensor's monotonic clock. `incident`: the incident it continues (nil: it
    /// opens one). `heldBefore`: how many the caller held back since the last one of its kind. Returns it as queued.
    public mutating func raiseJudged(_ alert: Alert, incident: UInt64?, heldBefore: UInt64) -> Alert {
        var alert = alert
        alert.id = nextID
        nextID &+= 1
        alert.incident = incident ?? alert.id
        alert.suppressedBefore = heldBefore
        pending.append(alert)
        raised &+= 1
        raisedByRule[alert.rule, default: 0] &+= 1
        return alert
    }

    /// Counts an alert the sensor's own path held back, with the ones suppression held back here.
    public mutating func countHeldBack(_ rule: RuleID) {
        suppressed &+= 1
        suppressedByRule[rule, default: 0] &+= 1
    }

    /// Reports, for every key that held alerts back since its last alert or its last report, a closing record (in
    /// key order), and starts its count again: the key goes on suppressing until its interval ends, and its next
    /// alert's `suppressed_before` counts only what was held back after this. `time`: the packet time now.
    public mutating func reportHeldBack(at time: Timestamp, occasion: HeldBackRecord.Occasion) {
        let holding = lastRaised.filter { $0.value.held > 0 }.sorted { $0.key < $1.key }
        for (key, value) in holding {
            pendingHeldBack.append(record(key, value, at: max(time, value.lastHeld), occasion: occasion))
            lastRaised[key]?.held = 0
            lastRaised[key]?.tally = AlertTally()
        }
    }

    func record(_ key: SuppressionKey, _ value: Suppression, at time: Timestamp,
                occasion: HeldBackRecord.Occasion) -> HeldBackRecord {
        HeldBackRecord(timestamp: time, occasion: occasion, rule: key.rule, source: key.source,
                       destination: key.destination, port: key.port, detail: key.detail, held: value.held,
                       alert: value.alert, firstHeld: value.firstHeld, lastHeld: value.lastHeld, tally: value.tally)
    }

    /// Queues a closing record judged on another path (capture health, SensorHealth.swift), in order with the
    /// ledger's own.
    public mutating func reportJudged(_ record: HeldBackRecord) {
        pendingHeldBack.append(record)
    }

    /// Alerts held back by suppression and not yet reported (in a later alert or a closing record).
    public var heldBackUnreported: UInt64 { lastRaised.values.reduce(0) { $0 &+ $1.held } }

    /// The closing records reported since the last call, in order.
    public mutating func drainHeldBack() -> [HeldBackRecord] {
        defer { pendingHeldBack.removeAll(keepingCapacity: true) }
        return pendingHeldBack
    }

    /// The alerts raised since the last call, in order.
    public mutating func drain() -> [Alert] {
        defer { pending.removeAll(keepingCapacity: true) }
        return pending
    }

    @inlinable public var hasPending: Bool { !pending.isEmpty || !pendingHeldBack.isEmpty }
}
