// Rule arp-spoof: ARP that redirects other hosts' traffic to one MAC. Three patterns:
//  - the gateway's address claimed by a MAC that is not the gateway's. The gateway is learned, not declared: the MAC
//    that sends frames from outside addresses is the segment's way out, and the local address it claims in ARP is the
//    gateway's (MACBindings.swift). Severity 1: everything leaving the segment passes the claimant.
//  - one MAC claiming, in ARP, the addresses of `claimThreshold` (3) or more other hosts (bound to another MAC seen
//    within `claimWindow`, 10 min) within that window. A machine takes over one address now and then (a lease, a
//    failover of a service address, two on a cluster with two of them); three live hosts' addresses in ten minutes
//    is a poisoning tool covering a subnet (dsniff's arpspoof with several targets, bettercap, ettercap). Severity 2.
//  - an ARP reply nobody asked for (no request for its sender address within `MACBindings.requestWindow`, and not an
//    announcement of the sender's own address) that names a new MAC for an address whose MAC was seen within
//    `poisonWindow` (5 min): the cache poisoning pattern. A host whose MAC really changed was away for longer than
//    that (a reboot on new hardware, a replaced card), and announces itself with gratuitous ARP rather than sending
//    replies to one host. Severity 2.
// ARP from a router's MAC counts like any other. One alert per claimed address per suppression interval (the gateway
// and reply patterns), one per claiming MAC for the many-hosts pattern. Saved state: the claims window.

import BoundedTables
import HostBaselines
import PacketDecoding
import SiteModel
import StateCoding

struct ARPSpoof: Detection {
    static let name = "arp-spoof"
    static let events = DetectionEvents.linkBinding
    static let poisonWindow = Duration.seconds(300)
    static let claimWindow = Duration.seconds(600)
    static let claimThreshold = 3
    /// Claiming MACs followed at once: a flood of forged claimants forgets the least recently active first.
    static let claimCapacity = 4096

    /// Per claiming MAC: the other hosts' addresses it claimed within `claimWindow`.
    var claims = BoundedWindow<UInt64, WindowMembers<IPAddress>>(
        window: ARPSpoof.claimWindow, capacity: ARPSpoof.claimCapacity, memberCapacity: ARPSpoof.claimThreshold,
        membersWhenFull: .forgetOldest)

    var counters: [DetectionCounter] {
        [DetectionCounter("arpClaimantsForgotten", "ARP claimants", claims.counters.forgotten)]
    }

    mutating func linkBinding(_ c: LinkBindingContext, site: Site, ledger: inout AlertLedger) {
        guard c.arp != .none, !c.declaredMACs.contains(c.mac) else { return }
        let place = describe(c.address, c.entry, vlan: c.vlan)
        if let gateway = c.gatewayMAC, gateway != c.mac {
            raise(c, severity: 1, reason: "gateway claimed",
                  message: "\(describe(c.mac)) claims the gateway's address \(place) in ARP (\(kind(c.arp))); "
                    + "the gateway is \(gateway)",
                  key: SuppressionKey(rule: .arpSpoof, source: c.address), ledger: &ledger)
        }
        let others = c.others
        if c.arp == .unsolicitedReply, let latest = others.first, c.time - latest.lastSeen <= Self.poisonWindow,
           c.isNewMAC || latest.lastSeen > (c.previous.first { $0.mac == c.mac }?.lastSeen ?? .zero)
        {
            raise(c, severity: 2, reason: "unsolicited reply",
                  message: "unsolicited ARP reply to \(c.arpTarget.map(\.description) ?? "?") says \(place) is at "
                    + "\(describe(c.mac)); it was \(latest.mac) \(formatDuration(c.time - latest.lastSeen)) before",
                  key: SuppressionKey(rule: .arpSpoof, source: c.address), ledger: &ledger)
        }
        guard others.contains(where: { c.time - $0.lastSeen <= Self.claimWindow }) else { return }
        claims.sweep(at: c.time)
        guard let (_, claimed) = claims.observe(c.address, for: c.mac.value, at: c.time),
              claimed.count >= Self.claimThreshold
        else { return }
        let addresses = claimed.byMember.map(\.member.description).joined(separator: ", ")
        raise(c, severity: 2, reason: "claims \(claimed.count) hosts",
              message: "\(describe(c.mac)) claims in ARP the addresses of \(claimed.count) hosts bound to other MACs "
                + "within \(formatDuration(Self.claimWindow)): \(addresses)",
              key: SuppressionKey(rule: .arpSpoof, source: .unspecified, detail: "claimant \(c.mac)"), ledger: &ledger)
    }

    func kind(_ arp: ARPFrameKind) -> String {
        switch arp {
        case .none: "no ARP"
        case .request: "a request"
        case .solicitedReply: "a reply"
        case .unsolicitedReply: "an unsolicited reply"
        case .announcement: "an announcement"
        }
    }

    func raise(_ c: LinkBindingContext, severity: Int, reason: String, message: String, key: SuppressionKey,
               ledger: inout AlertLedger) {
        var alert = Alert(timestamp: c.time, rule: .arpSpoof, severity: severity, message: message, reason: reason,
                          source: c.address, destination: c.arpTarget, host: AlertHost(c.address, c.entry))
        alert.link = c.alertLink
        ledger.raise(alert, key: key)
    }

    func encode(into writer: inout StateWriter) {
        claims.encode(into: &writer) { mac, claimed, writer in
            writer.put(mac)
            claimed.encode(into: &writer) { sighting, writer in
                writer.put(sighting.member)
                writer.put(sighting.time)
            }
        }
    }

    mutating func restore(from reader: inout StateReader) throws {
        try claims.restore(from: &reader, minimumItemSize: 12) { reader in
            let mac = try reader.uint64()
            guard mac >> 48 == 0, mac != 0, !MACAddress.isGroup(mac) else {
                throw StateDecodingError("saved ARP claimant \(String(mac, radix: 16)) is not a station's MAC")
            }
            let claimed = try WindowMembers.decode(from: &reader, minimumItemSize: 25, distinct: true) {
                .init(member: try $0.address(), time: try $0.timestamp())
            }
            guard claimed.count <= Self.claimThreshold else {
                throw StateDecodingError("saved ARP claimant holds \(claimed.count) addresses")
            }
            return (mac, claimed)
        }
    }
}
