// Rule ip-conflict: two MACs answer for one local address within `window` of each other: both send frames from it
// (IP frames, ARP requests, solicited ARP replies or announcements; an ARP reply nobody asked for is arp-spoof's), and
// both have spoken for it themselves (ARP sender, neighbour discovery, DHCP: `MACBinding.claimsAddress`), so a
// router's copy of a routed frame beside the sender's own is no conflict.
// Two machines configured with one address, or a DHCP server and a static host disagreeing, split the traffic meant
// for one of them.
//
// Tunables: `window` 60 s. A machine that really left (unplugged, replaced, its lease moved on) is silent for longer
// than that before its address comes back, while ARP caches (30 to 60 s of reachable time on Linux and Windows) hold
// either MAC within a minute of its frame, so both are in use at once. Severity 2. A failover that moves an address
// between two nodes by gratuitous ARP without a shared virtual MAC fires too: worth knowing, and rare. Randomised MACs:
// on an address not declared with a MAC, a locally administered MAC that joined (a DHCP exchange or an ARP probe)
// within `MACBindings.joinWindow` taking over from another locally administered one is a client rejoining with a new random
// MAC on its lease (its old one falls silent), not a conflict. One alert per address per suppression interval. No
// saved state.

import HostBaselines
import PacketDecoding
import SiteModel

struct IPConflict: Detection {
    static let name = "ip-conflict"
    static let events = DetectionEvents.linkBinding
    static let window = Duration.seconds(60)
    static let severity = 2

    mutating func linkBinding(_ c: LinkBindingContext, site: Site, ledger: inout AlertLedger) {
        guard c.arp != .unsolicitedReply else { return }
        let own = c.previous.first { $0.mac == c.mac }
        guard (own?.claimsAddress ?? false) || !c.learnedBy.isDisjoint(with: MACBinding.ownClaims) else { return }
        let rivals = c.claimants.filter { rival in
            guard let answered = rival.lastAnswered else { return false }
            return c.time - answered <= Self.window
        }
        guard let rival = rivals.first, let answered = rival.lastAnswered else { return }
        if c.declaredMACs.isEmpty && c.mac.isLocallyAdministered && rival.mac.isLocallyAdministered && c.recentJoin {
            return
        }
        let message = "\(describe(c.address, c.entry, vlan: c.vlan)) is used by two MACs: \(describe(c.mac)) now "
            + "(\(c.learnedBy.names)) and \(describe(rival.mac)) \(formatDuration(c.time - answered)) before "
            + "(since \(rival.firstSeen.rfc3339(fractionDigits: 0)))"
        var alert = Alert(timestamp: c.time, rule: .ipConflict, severity: Self.severity, message: message,
                          reason: "two MACs answering", source: c.address, destination: c.arpTarget,
                          host: AlertHost(c.address, c.entry))
        alert.link = c.alertLink
        ledger.raise(alert, key: SuppressionKey(rule: .ipConflict, source: c.address))
    }
}
