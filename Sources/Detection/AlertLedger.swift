// Numbering, suppression and incident linking of alerts.
//
// Suppression: an alert whose suppression key was raised less than `suppressionInterval` ago (packet time) is
// counted against the earlier one instead of being repeated; the next alert with that key says how many were held
// back. Incidents: the first alert about a local host opens an incident; alerts about the same host within
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
    var lastRaised: [SuppressionKey: (time: Timestamp, held: UInt64)] = [:]
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
        if let last = lastRaised[key], alert.timestamp - last.time < configuration.suppressionInterval {
            lastRaised[key] = (last.time, last.held + 1)
            suppressed &+= 1
            suppressedByRule[alert.rule, default: 0] &+= 1
            return false
        }
        alert.suppressedBefore = lastRaised[key]?.held ?? 0
        if lastRaised[key] == nil {
            suppressionForgotten &+= UInt64(lastRaised.makeRoom(
                capacity: configuration.suppressionCapacity, now: alert.timestamp,
                window: configuration.suppressionInterval) { $0.time })
        }
        lastRaised[key] = (alert.timestamp, 0)
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

    /// The alerts raised since the last call, in order.
    public mutating func drain() -> [Alert] {
        defer { pending.removeAll(keepingCapacity: true) }
        return pending
    }

    @inlinable public var hasPending: Bool { !pending.isEmpty }
}
