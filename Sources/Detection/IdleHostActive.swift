// Rule idle-host-active: a host the site file declares idle does something its `allow` list does not cover:
// starts or answers a flow on another protocol or port, or (without `arp` in the list) sends ARP. An idle camera
// platform that opens SMB to a file server is the foothold this rule exists for.
//
// Tunables: severity 2. One alert per host per suppression interval (what follows, such as a scan, is linked by
// its incident). Allowed chatter raises nothing, whoever the peer is.

import FlowTracking
import PacketDecoding
import SiteModel

struct IdleHostActive {
    static let severity = 2

    mutating func arp(sender: IPAddress, entry: InventoryEntry?, at time: Timestamp, ledger: inout AlertLedger) {
        guard let entry, entry.state == .idle, !allows(entry, service: "arp") else { return }
        var alert = Alert(timestamp: time, rule: .idleHostActive, severity: Self.severity,
                          message: "idle host \(entry.name) (\(sender)) sent ARP, which its allow list does not cover",
                          source: sender, host: AlertHost(sender, entry))
        alert.reason = "arp"
        ledger.raise(alert, key: SuppressionKey(rule: .idleHostActive, source: sender))
    }

    mutating func flow(_ context: FlowContext, ledger: inout AlertLedger) {
        let flow = context.flow
        let idleAddress: IPAddress, entry: InventoryEntry, verb: String, peer: IPAddress
        switch context.event {
        case .started:
            guard let e = context.originatorEntry, e.state == .idle else { return }
            (idleAddress, entry, verb, peer) = (flow.originator, e, "sent", flow.responder)
        case .answered:
            guard let e = context.responderEntry, e.state == .idle else { return }
            (idleAddress, entry, verb, peer) = (flow.responder, e, "answered", flow.originator)
        default:
            return
        }
        guard !allows(entry, flow: flow) else { return }
        let direction = verb == "sent" ? "to" : "from"
        let outside = (verb == "sent" ? !context.responderIsLocal : !context.originatorIsLocal) ? " outside" : ""
        var alert = Alert(flow: flow, at: context.time, rule: .idleHostActive, severity: Self.severity,
                          host: AlertHost(idleAddress, entry))
        alert.message = "idle host \(entry.name) (\(idleAddress)) \(verb) \(describe(flow)) \(direction)\(outside) \(peer), "
            + "beyond its allow list [\(entry.allow.map(\.description).joined(separator: ", "))]"
        alert.reason = "\(verb == "sent" ? "originated" : "answered") \(describe(flow).lowercased())"
        ledger.raise(alert, key: SuppressionKey(rule: .idleHostActive, source: idleAddress))
    }

    func allows(_ entry: InventoryEntry, service: String) -> Bool {
        entry.allow.contains { if case .service(let name) = $0 { name == service } else { false } }
    }

    /// Allowed when a listed service or port covers the flow's service port (the responder's), or, for ICMP and
    /// IGMP, when the protocol is listed.
    func allows(_ entry: InventoryEntry, flow: Flow) -> Bool {
        switch flow.ipProtocol {
        case IPProtocol.icmp, IPProtocol.icmpv6: return allows(entry, service: "icmp")
        case 2: return allows(entry, service: "igmp")
        case IPProtocol.tcp, IPProtocol.udp:
            let transport: TransportProtocol = flow.ipProtocol == IPProtocol.tcp ? .tcp : .udp
            let port = flow.responderPort
            return entry.allow.contains { activity in
                switch activity {
                case .service(let name):
                    (AllowedActivity.services[name] ?? []).contains(PortSpec(port: port, transport: transport))
                case .port(let spec):
                    spec == PortSpec(port: port, transport: transport)
                        || spec == PortSpec(port: flow.originatorPort, transport: transport)
                }
            }
        default:
            return false
        }
    }
}
