// Rule idle-host-active: a host the site file declares idle does something beyond its background chatter:
// - starts or answers a flow on a protocol or port its `allow` list does not cover, or sends ARP without `arp`
//   in the list (reason `originated tcp/445`, `answered tcp/80`, `arp`);
// - after the learning period, talks to a peer it never talked to during learning, even on an allowed service
//   (reason `new peer`): an idle camera whose NTP suddenly goes to an address abroad;
// - after the learning period, sends far more than it did while learning (reason `volume`): over the last minute,
//   more than `volumeFactor` times its learning-period packet rate and more than `volumeFloor` packets per second.
// An idle camera platform that opens SMB to a file server is the foothold this rule exists for.
//
// Tunables: severity 2; `volumeFactor` 10, `volumeFloor` 1 packet/s (60 a minute: far above the DNS, NTP and ARP
// an idle device sends, far below any real transfer); peers remembered per idle host: 256; idle hosts whose peers
// are remembered: 4,096 (a site's idle equipment is counted in hundreds: cameras, printers, spare servers; but a
// site file may declare a whole range idle, and forged sources inside it must not grow memory: 4,096 full sets
// take about 50 MB). Beyond either bound a peer is not remembered, so it is reported as new again, subject to
// suppression. One alert per host per suppression interval (what follows, such as a scan, is linked by its incident).

import BoundedTables
import FlowTracking
import PacketDecoding
import SiteModel
import StateCoding

struct IdleHostActive: Detection {
    static let name = "idle-host-active"
    static let events: DetectionEvents = [.arp, .started, .answered, .longLived, .ended]
    static let savedInSchema2Layout = true
    static let severity = 2
    let volumeFactor = 10.0
    let volumeFloor = 1.0
    let peersPerHost = IdleHostActive.peersPerHost
    let hostCapacity = IdleHostActive.hostCapacity
    static let peersPerHost = 256
    static let hostCapacity = 4_096
    /// Peers each idle host talked to during the learning period (and new peers since, once reported), with the
    /// time each was last seen. No time window: what was learned stays learned; beyond either bound the new is
    /// refused, never the learned forgotten.
    var learnedPeers = BoundedWindow<IPAddress, WindowMembers<IPAddress>>(
        window: nil, capacity: IdleHostActive.hostCapacity, whenFull: .refuseNew,
        memberCapacity: IdleHostActive.peersPerHost, membersWhenFull: .refuseNew)

    /// Remembers `peer` for `host` within the bounds.
    mutating func remember(_ peer: IPAddress, for host: IPAddress, at time: Timestamp) {
        learnedPeers.observe(peer, for: host, at: time)
    }

    /// Peers not remembered because of the bounds above: those peers may be reported as new again, subject to
    /// suppression.
    var counters: [DetectionCounter] {
        [DetectionCounter("idlePeersNotKept", "idle hosts' peers",
                          learnedPeers.counters.refused &+ learnedPeers.counters.membersRefused)]
    }

    mutating func arp(_ context: ARPContext, ledger: inout AlertLedger) {
        let (sender, time) = (context.sender, context.time)
        guard let entry = context.senderEntry, entry.state == .idle, !allows(entry, service: "arp") else { return }
        var alert = Alert(timestamp: time, rule: .idleHostActive, severity: Self.severity,
                          message: "idle host \(entry.name) (\(sender)) sent ARP, which its allow list does not cover",
                          source: sender, host: AlertHost(sender, entry))
        alert.link = context.link
        alert.beforeSilence = context.senderBeforeSilence
        alert.reason = "arp"
        ledger.raise(alert, key: SuppressionKey(rule: .idleHostActive, source: sender))
    }

    mutating func flow(_ context: FlowContext, site: Site, mark: inout UInt8, ledger: inout AlertLedger) {
        let flow = context.flow
        let idleAddress: IPAddress, entry: InventoryEntry, verb: String, peer: IPAddress
        switch context.event {
        case .started:
            guard let e = context.originatorEntry, e.state == .idle else { return }
            (idleAddress, entry, verb, peer) = (flow.originator, e, "sent", flow.responder)
        case .answered:
            guard let e = context.responderEntry, e.state == .idle else { return }
            (idleAddress, entry, verb, peer) = (flow.responder, e, "answered", flow.originator)
        case .ended, .longLived:
            // Volume only: the flow was judged against the allow list when it started.
            if let e = context.originatorEntry, e.state == .idle, allows(e, flow: flow) {
                judgeAllowed(context, idleAddress: flow.originator, entry: e, peer: flow.responder, ledger: &ledger)
            } else if let e = context.responderEntry, e.state == .idle, allows(e, flow: flow) {
                judgeAllowed(context, idleAddress: flow.responder, entry: e, peer: flow.originator, ledger: &ledger)
            }
            return
        default:
            return
        }
        guard !allows(entry, flow: flow) else {
            judgeAllowed(context, idleAddress: idleAddress, entry: entry, peer: peer, ledger: &ledger)
            return
        }
        let direction = verb == "sent" ? "to" : "from"
        let outside = (verb == "sent" ? !context.responderIsLocal : !context.originatorIsLocal) ? " outside" : ""
        var alert = Alert(flow: flow, at: context.time, rule: .idleHostActive, severity: Self.severity,
                          host: AlertHost(idleAddress, entry),
                          beforeSilence: verb == "sent" ? context.originatorBeforeSilence : context.responderBeforeSilence)
        alert.message = "idle host \(entry.name) (\(idleAddress)) \(verb) \(describe(flow)) \(direction)\(outside) \(peer), "
            + "beyond its allow list [\(entry.allow.map(\.description).joined(separator: ", "))]"
        alert.reason = "\(verb == "sent" ? "originated" : "answered") \(describe(flow).lowercased())"
        ledger.raise(alert, key: SuppressionKey(rule: .idleHostActive, source: idleAddress))
    }

    /// Allowed traffic: learn its peers while learning; afterwards, judge new peers and volume.
    mutating func judgeAllowed(_ context: FlowContext, idleAddress: IPAddress, entry: InventoryEntry, peer: IPAddress,
                               ledger: inout AlertLedger) {
        let flow = context.flow
        if context.time < context.learningEnds {
            if context.event == .started || context.event == .answered { remember(peer, for: idleAddress, at: context.time) }
            return
        }
        var alert = Alert(flow: flow, at: context.time, rule: .idleHostActive, severity: Self.severity,
                          host: AlertHost(idleAddress, entry),
                          beforeSilence: context.event == .started ? context.originatorBeforeSilence
                              : context.event == .answered ? context.responderBeforeSilence : nil)
        switch context.event {
        case .started, .answered:
            guard learnedPeers[idleAddress]?.contains(peer) != true else { return }
            remember(peer, for: idleAddress, at: context.time)
            alert.message = "idle host \(entry.name) (\(idleAddress)) talked to \(peer) (\(describe(flow))), "
                + "a peer it never had while learning"
            alert.reason = "new peer"
        case .ended, .longLived:
            let isOriginator = idleAddress == flow.originator
            let recent = isOriginator ? context.originatorRecentRate : context.responderRecentRate
            let learned = isOriginator ? context.originatorLearnedRate : context.responderLearnedRate
            guard recent > volumeFloor, recent > volumeFactor * learned else { return }
            alert.message = "idle host \(entry.name) (\(idleAddress)) sent \(wholeNumber(recent * 60)) packets a minute "
                + "(\(describe(flow)) with \(peer)), against \(wholeNumber((learned * 60).rounded())) while learning"
            alert.reason = "volume"
        default:
            return
        }
        ledger.raise(alert, key: SuppressionKey(rule: .idleHostActive, source: idleAddress, detail: alert.reason ?? ""))
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

/// A rate for a message, as a whole number. Saturating: the counts behind a rate can come from a state file, and
/// `Int(_:)` traps on a value beyond Int's range.
func wholeNumber(_ value: Double) -> Int {
    guard value.isFinite else { return value > 0 ? .max : 0 }
    return value >= Double(Int.max) ? .max : value <= 0 ? 0 : Int(value)
}

// Its saved section: the learned peers of each idle host, hosts and peers in address order (the same state gives
// the same bytes).
extension IdleHostActive {
    func encode(into writer: inout StateWriter) {
        learnedPeers.encode(into: &writer) { host, peers, writer in
            writer.put(host)
            peers.encode(into: &writer) { peer, writer in writer.put(peer.member) }
        }
    }

    /// The section has no times: the peers come back as seen at time zero (the window has none, so nothing reads it).
    mutating func restore(from reader: inout StateReader) throws {
        try learnedPeers.restore(from: &reader, minimumItemSize: 21) { reader in
            (try reader.address(), try WindowMembers.decode(from: &reader, minimumItemSize: 17, distinct: true) {
                .init(member: try $0.address(), time: .zero)
            })
        }
    }
}
