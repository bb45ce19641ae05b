// Rule address-takeover: a known local address is claimed by a MAC that never spoke for it before, while the MAC it
// had is gone (not seen for longer than ip-conflict's window: both alive at once is ip-conflict's). Known: first seen
// at least the learning period ago with a MAC that spoke for it, or declared with `mac:` in the inventory (then any
// other MAC is a takeover, even the first one seen). Judged when the new MAC first speaks for the address itself (ARP
// sender, neighbour discovery, DHCP; `LinkBindingContext.firstClaim`), which a station using the address must do and
// a router forwarding others' frames never does: routed frames raise nothing even before the router is recognised.
// A retired server whose address another machine took after days of silence is the pattern.
//
// Tunables: severity 1 when the address is declared decommissioned or idle, or was dormant (silent for longer than
// `learning.dormant_after` before the new MAC appeared: no frame from the address, or none from the old MAC before
// the new one's first): a quiet address coming back as another machine is how a
// forgotten host's place is taken; else 2. Randomised MACs: on an address not declared with a MAC, a change from a
// locally administered MAC (a phone or laptop that randomises per network, RFC 7042 2.1) is a lease handed to another
// client, and so is a change to a MAC that joined within `MACBindings.joinWindow` (10 min: a DHCP exchange, or an
// RFC 5227 ARP probe) on an address the inventory does not declare idle or decommissioned: the DHCP server gave the
// lease away, nobody took it. Both are counted (`leaseChanges`, in the run summary), not alerted. A universal MAC replaced by a locally
// administered one on a long-known server is still a takeover (the previous MAC decides). An unsolicited ARP reply
// while the old MAC was seen within arp-spoof's window is arp-spoof's. One alert per address per suppression
// interval. No saved state: the bindings are the hosts stage's.

import HostBaselines
import PacketDecoding
import SiteModel

struct AddressTakeover: Detection {
    static let name = "address-takeover"
    static let events = DetectionEvents.linkBinding
    /// Changes judged a lease handed on (randomised or DHCP-given MACs): counted, not alerted. Not saved.
    var leaseChanges: UInt64 = 0

    mutating func linkBinding(_ c: LinkBindingContext, site: Site, ledger: inout AlertLedger) {
        guard c.firstClaim else { return }
        let declared = c.declaredMACs
        if declared.contains(c.mac) { return }
        let others = c.claimants
        guard !declared.isEmpty || (c.knownForLearningPeriod && !others.isEmpty) else { return }
        let latest = others.first
        if let latest {
            if c.time - latest.lastSeen <= IPConflict.window { return }
            if c.arp == .unsolicitedReply && c.time - latest.lastSeen <= ARPSpoof.poisonWindow { return }
        }
        if c.arp != .none, let gateway = c.gatewayMAC, gateway != c.mac { return }  // arp-spoof's: a live gateway
        // Dormant: the host record's silence before this frame, or the gap between the old MAC's last frame and the
        // new one's first (it may have sent IP frames before it first spoke for the address).
        let appeared = c.previous.first { $0.mac == c.mac }?.firstSeen ?? c.time
        let gap = latest.map { appeared - $0.lastSeen }
        let silence = c.silence ?? gap.flatMap { $0 >= site.learning.dormantAfter ? $0 : nil }
        let quiet = c.entry?.state == .decommissioned || c.entry?.state == .idle
        if declared.isEmpty, let latest, latest.mac.isLocallyAdministered || (c.recentJoin && !quiet) {
            leaseChanges &+= 1
            return
        }
        let severity = quiet || silence != nil ? 1 : 2
        var message = "\(describe(c.address, c.entry, vlan: c.vlan)) answered from a new MAC \(describe(c.mac)) "
            + "(\(c.learnedBy.names))"
        if let latest {
            message += "; it was \(latest.mac) for \(formatDuration(latest.lastSeen - latest.firstSeen)), last seen "
                + "\(latest.lastSeen.rfc3339(fractionDigits: 0))"
        }
        if !declared.isEmpty {
            message += "; declared with \(declared.map(\.description).joined(separator: ", "))"
        }
        if let silence { message += ", after \(formatDuration(silence)) of silence" }
        var alert = Alert(timestamp: c.time, rule: .addressTakeover, severity: severity, message: message,
                          reason: silence != nil ? "new MAC after silence" : latest == nil ? "undeclared MAC" : "new MAC",
                          source: c.address, destination: c.arpTarget, host: AlertHost(c.address, c.entry))
        if quiet { alert.reason = "new MAC on a host declared \(c.entry!.state.rawValue)" }
        alert.link = c.alertLink
        ledger.raise(alert, key: SuppressionKey(rule: .addressTakeover, source: c.address))
    }
}
