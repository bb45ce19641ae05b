// Rule dormant-host-active: a host that is not declared idle or decommissioned, and that the sensor has seen before,
// breaks a silence of at least `learning.dormant_after` (no frame at all) and starts a flow. A server everyone
// forgot that suddenly reaches out is the pattern of a machine being used as a foothold.
//
// Tunables: severity 2. The waking itself is the hosts stage's (HostUpkeep.swift: `HostTable.wakeWindow`, 10 min:
// the waking frame, often the ARP before the connection, and the first flow it starts must be this close to count as
// one waking), read through `FlowContext.originatorSilence`. One alert per host per suppression interval. No state
// of its own.

import FlowTracking
import PacketDecoding
import SiteModel

struct DormantHostActive: Detection {
    static let name = "dormant-host-active"
    static let events = DetectionEvents.started
    static let savedInSchema2Layout = true
    static let severity = 2

    mutating func flow(_ context: FlowContext, site: Site, mark: inout UInt8, ledger: inout AlertLedger) {
        guard context.event == .started, let silence = context.originatorSilence else { return }
        let entry = context.originatorEntry
        if let state = entry?.state, state != .active { return }  // idle and decommissioned have their own rules
        let flow = context.flow
        var alert = Alert(flow: flow, at: context.time, rule: .dormantHostActive, severity: Self.severity,
                          host: AlertHost(flow.originator, entry))
        let name = entry.map { "\($0.name) (\(flow.originator))" } ?? "\(flow.originator)"
        alert.message = "\(name) sent \(describe(flow)) to \(flow.responder) after \(formatDuration(silence)) of silence"
        alert.reason = "silent \(formatDuration(silence))"
        alert.beforeSilence = context.originatorBeforeSilence
        ledger.raise(alert, key: SuppressionKey(rule: .dormantHostActive, source: flow.originator))
    }
}

/// `4d 2h`, `3h 5m`, `12m 30s`, `45s`: the two largest units.
public func formatDuration(_ duration: Duration) -> String {
    var seconds = max(0, duration.nanoseconds / 1_000_000_000)
    let units: [(String, Int64)] = [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)]
    var parts: [String] = []
    for (name, size) in units where seconds >= size || (name == "s" && parts.isEmpty) {
        parts.append("\(seconds / size)\(name)")
        seconds %= size
        if parts.count == 2 { break }
    }
    return parts.joined(separator: " ")
}
