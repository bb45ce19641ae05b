// Rule decommissioned-host-active: a host the site file declares decommissioned sends a frame, ARP included, or
// answers a flow. A retired machine that still talks was either forgotten on the wire or taken over.
//
// Tunables: severity 1. One alert per host per suppression interval; later frames are counted.
// Triggers: an ARP frame whose sender protocol address is decommissioned; a flow it starts; a flow it answers.

import FlowTracking
import PacketDecoding
import SiteModel

struct DecommissionedHostActive: Detection {
    static let name = "decommissioned-host-active"
    static let events: DetectionEvents = [.arp, .started, .answered]
    static let savedInSchema2Layout = true
    static let severity = 1

    mutating func arp(_ context: ARPContext, ledger: inout AlertLedger) {
        let (sender, target, time) = (context.sender, context.target, context.time)
        guard let entry = context.senderEntry, entry.state == .decommissioned else { return }
        let what = sender == target ? "a gratuitous ARP" : "ARP for \(target)"
        var alert = Alert(timestamp: time, rule: .decommissionedHostActive, severity: Self.severity, message: "",
                          source: sender, destination: target, host: AlertHost(sender, entry))
        alert.link = context.link
        alert.beforeSilence = context.senderBeforeSilence
        raise(entry: entry, address: sender, at: time, reason: "arp",
              message: "decommissioned host \(entry.name) (\(sender)) sent \(what)", alert: alert, ledger: &ledger)
    }

    mutating func flow(_ context: FlowContext, site: Site, mark: inout UInt8, ledger: inout AlertLedger) {
        let flow = context.flow
        switch context.event {
        case .started:
            guard let entry = context.originatorEntry, entry.state == .decommissioned else { return }
            raise(entry: entry, address: flow.originator, at: context.time, reason: "originated",
                  message: "decommissioned host \(entry.name) (\(flow.originator)) sent \(describe(flow)) to \(flow.responder)",
                  alert: Alert(flow: flow, at: context.time, rule: .decommissionedHostActive,
                               severity: Self.severity, host: AlertHost(flow.originator, entry),
                               beforeSilence: context.originatorBeforeSilence),
                  ledger: &ledger)
        case .answered:
            guard let entry = context.responderEntry, entry.state == .decommissioned else { return }
            raise(entry: entry, address: flow.responder, at: context.time, reason: "answered",
                  message: "decommissioned host \(entry.name) (\(flow.responder)) answered \(describe(flow)) from \(flow.originator)",
                  alert: Alert(flow: flow, at: context.time, rule: .decommissionedHostActive,
                               severity: Self.severity, host: AlertHost(flow.responder, entry),
                               beforeSilence: context.responderBeforeSilence),
                  ledger: &ledger)
        default:
            return
        }
    }

    private func raise(entry: InventoryEntry, address: IPAddress, at time: Timestamp, reason: String, message: String,
                       alert: Alert, ledger: inout AlertLedger) {
        var alert = alert
        alert.message = message
        alert.reason = reason
        ledger.raise(alert, key: SuppressionKey(rule: .decommissionedHostActive, source: address))
    }
}
