// MAC bindings and the layer-2 rules (address-takeover, arp-spoof, ip-conflict), with hand-built frames: each packet
// summary carries the sender's MAC as the decoder leaves it, and ARP its sender hardware address.

import Detection
import FlowTracking
import HostBaselines
import PacketDecoding
import SiteModel
import StateCoding
import Testing

let serverMAC: UInt64 = 0x00_1B_21_0A_0B_0C  // universal (an Intel block)
let intruderMAC: UInt64 = 0x00_50_56_11_22_33  // universal (a VMware block)
let peerMAC: UInt64 = 0x00_1B_21_99_99_99
let routerMAC: UInt64 = 0x00_00_0C_07_AC_01  // universal (a Cisco block)

/// `packets` as sent by `mac` (each summary's source MAC; ARP's sender hardware address too).
func sent(by mac: UInt64, _ packets: [PacketSummary]) -> [PacketSummary] {
    packets.map { packet in
        var p = packet
        p.sourceMAC = mac
        if p.network == .arp { p.arpSenderMAC = mac }
        return p
    }
}

/// A session between two local hosts, each frame from its sender's MAC.
func session(_ client: String, mac clientMAC: UInt64, _ port: UInt16, _ server: String, mac serverMAC: UInt64,
             _ serverPort: UInt16) -> [PacketSummary] {
    session(client, port, server, serverPort).map { packet in
        var p = packet
        p.sourceMAC = p.source == ip(client) ? clientMAC : serverMAC
        return p
    }
}

/// An ARP frame from `mac`.
func arp(_ sender: String, mac: UInt64, asks target: String, reply: Bool = false) -> PacketSummary {
    sent(by: mac, [arp(sender, asks: target, reply: reply)])[0]
}

/// A host's ARP for its peer and its session to it: what a station using `address` does.
func uses(_ address: String, mac: UInt64, port: UInt16 = 40000) -> [PacketSummary] {
    [arp(address, mac: mac, asks: "10.0.0.9"), arp("10.0.0.9", mac: peerMAC, asks: address, reply: true)]
        + session(address, mac: mac, port, "10.0.0.9", mac: peerMAC, 445)
}

@Suite("MAC bindings")
struct MACBindingTests {
    @Test("a flow's sender and responder and an ARP sender are bound; outside addresses, group MACs and 0 are not")
    func learning() throws {
        var h = try Harness("local_networks: [10.0.0.0/8]")
        h.feed(uses("10.0.0.5", mac: serverMAC))
        h.feed(sent(by: routerMAC, [udp("8.8.8.8", 53, "10.0.0.5", 40001)]))
        var group = udp("10.0.0.6", 5353, "10.0.0.5", 5353)
        group.sourceMAC = 0x01_00_5E_00_00_FB
        h.feed([group, udp("10.0.0.7", 5000, "10.0.0.5", 5000)])  // no link layer: MAC 0
        let bound = h.engine.links.bindings(ip("10.0.0.5"), vlan: 0)
        #expect(bound.map(\.mac.value) == [serverMAC])
        #expect(bound.first?.learnedBy == [.arp, .frame])
        #expect(h.engine.links.bindings(ip("10.0.0.9"), vlan: 0).map(\.mac.value) == [peerMAC])
        #expect(h.engine.links.bindings(ip("8.8.8.8"), vlan: 0).isEmpty)
        #expect(h.engine.links.bindings(ip("10.0.0.6"), vlan: 0).isEmpty)
        #expect(h.engine.links.bindings(ip("10.0.0.7"), vlan: 0).isEmpty)
        #expect(h.engine.links.router(MACAddress(routerMAC))?.carriesOutside == true)
    }

    @Test("the bindings go through the saved section and come back the same; a damaged one is refused")
    func savedAndRestored() throws {
        var h = try Harness("local_networks: [10.0.0.0/8]")
        h.feed(uses("10.0.0.5", mac: serverMAC))
        var tagged = arp("10.0.0.8", mac: intruderMAC, asks: "10.0.0.9")
        tagged.outerVLAN = 20
        h.feed([tagged])
        h.feed(sent(by: routerMAC, [udp("8.8.8.8", 53, "10.0.0.5", 40001)]))
        var writer = StateWriter()
        h.engine.encodeLinks(into: &writer)
        var other = try Harness("local_networks: [10.0.0.0/8]")
        var reader = StateReader(writer.bytes)
        try other.engine.restoreLinks(from: &reader)
        var again = StateWriter()
        other.engine.encodeLinks(into: &again)
        #expect(again.bytes == writer.bytes)
        #expect(other.engine.links.bindings(ip("10.0.0.8"), vlan: 20 << 16).map(\.mac.value) == [intruderMAC])
        #expect(other.engine.links.router(MACAddress(routerMAC)) != nil)
        // A group MAC where a station's is expected: the first binding's MAC is 8 little-endian bytes after the
        // entry count (4), the address (17), the VLAN (4) and the MAC count (4); its first octet is the sixth.
        var damaged = writer.bytes
        damaged[29 + 5] |= 0x01
        var bad = StateReader(damaged)
        #expect(throws: StateDecodingError.self) { try other.engine.restoreLinks(from: &bad) }
    }

    @Test("a MAC sending IP frames from more than 16 local addresses is a router: its frames bind nothing")
    func routerCarryingMany() throws {
        let site = "local_networks: [10.0.0.0/8]\nlearning: { period: 1h, dormant_after: 72h }"
        var h = try Harness(site)
        // Twenty hosts on another subnet, each known for the learning period with its own MAC...
        for i in 1...20 { h.feed(uses("10.2.0.\(i)", mac: 0x00_1B_21_00_00_00 + UInt64(i), port: 41000 + UInt16(i))) }
        h.wait(.seconds(7200))
        for i in 1...20 { h.feed(uses("10.2.0.\(i)", mac: 0x00_1B_21_00_00_00 + UInt64(i), port: 42000 + UInt16(i))) }
        h.wait(.seconds(600))
        // ...then their traffic arrives through a router's MAC (no ARP from it for their addresses).
        for i in 1...20 {
            h.feed(sent(by: routerMAC, [udp("10.2.0.\(i)", 40000 + UInt16(i), "10.0.0.9", 53)]))
        }
        #expect(h.engine.links.router(MACAddress(routerMAC))?.carriesMany == true)
        for i in 1...20 {
            #expect(!h.engine.links.bindings(ip("10.2.0.\(i)"), vlan: 0).contains { $0.mac.value == routerMAC })
        }
        // The router's own ARP still binds its own address.
        h.feed([arp("10.2.0.254", mac: routerMAC, asks: "10.2.0.1")])
        #expect(h.engine.links.bindings(ip("10.2.0.254"), vlan: 0).map(\.mac.value) == [routerMAC])
        h.finish()
        #expect(!h.rules().contains("address-takeover") && !h.rules().contains("ip-conflict")
                && !h.rules().contains("arp-spoof"))
    }
}

@Suite("address-takeover")
struct AddressTakeoverTests {
    let site = "local_networks: [10.0.0.0/8]\nlearning: { period: 1h, dormant_after: 72h }"

    /// 10.0.0.5 known with `serverMAC` for the learning period, then silent for `silence`.
    func knownServer(_ yaml: String? = nil, silence: Duration) throws -> Harness {
        var h = try Harness(yaml ?? site)
        h.feed(uses("10.0.0.5", mac: serverMAC))
        h.wait(.seconds(7200))
        h.feed(uses("10.0.0.5", mac: serverMAC, port: 40002))
        h.wait(silence)
        return h
    }

    @Test("a known address that was silent past dormant_after returns with a new MAC: severity 1, naming both MACs")
    func afterSilence() throws {
        var h = try knownServer(silence: .seconds(4 * 86_400))
        h.feed(uses("10.0.0.5", mac: intruderMAC, port: 40003))
        let takeovers = h.alerts.filter { $0.rule == .addressTakeover }
        #expect(takeovers.count == 1)
        #expect(takeovers.first?.severity == 1)
        #expect(takeovers.first?.source == ip("10.0.0.5"))
        #expect(takeovers.first?.message.contains("00:50:56:11:22:33") == true)
        #expect(takeovers.first?.message.contains("it was 00:1b:21:0a:0b:0c for 2h") == true)
        #expect(takeovers.first?.reason == "new MAC after silence")
        #expect(takeovers.first?.link.sourceMAC == intruderMAC, "the alert's src_mac is the new MAC")
    }

    @Test("without the silence it is severity 2; declared decommissioned it is 1; an unknown address raises nothing")
    func severities() throws {
        var h = try knownServer(silence: .seconds(600))
        h.feed(uses("10.0.0.5", mac: intruderMAC, port: 40003))
        #expect(h.alerts.filter { $0.rule == .addressTakeover }.map(\.severity) == [2])

        let declared = site + "\nhosts: [{ address: 10.0.0.5, name: old-erp, state: decommissioned }]"
        var d = try knownServer(declared, silence: .seconds(600))
        d.feed(uses("10.0.0.5", mac: intruderMAC, port: 40003))
        #expect(d.alerts.filter { $0.rule == .addressTakeover }.map(\.severity) == [1])

        var fresh = try Harness(site)  // not known for the learning period
        fresh.feed(uses("10.0.0.5", mac: serverMAC))
        fresh.wait(.seconds(600))
        fresh.feed(uses("10.0.0.5", mac: intruderMAC, port: 40003))
        #expect(!fresh.rules().contains("address-takeover"))
    }

    @Test("an address declared with a MAC: its MAC raises nothing, any other one is a takeover from its first claim")
    func declaredMAC() throws {
        var h = try Harness(site + "\nhosts: [{ address: 10.0.0.5, name: erp, state: active }]")
        var declared = h.engine.site
        declared.hosts[0].macs = [MACAddress(serverMAC)]  // what the site file's `mac:` gives
        h.engine.replaceSite(declared, openFlows: &h.flows)
        h.feed(uses("10.0.0.5", mac: serverMAC))
        #expect(!h.rules().contains("address-takeover"))
        h.wait(.seconds(600))
        h.feed(uses("10.0.0.6", mac: intruderMAC))
        h.feed([arp("10.0.0.5", mac: intruderMAC, asks: "10.0.0.9")])
        let takeovers = h.alerts.filter { $0.rule == .addressTakeover }
        #expect(takeovers.count == 1)
        #expect(takeovers.first?.message.contains("declared with 00:1b:21:0a:0b:0c") == true)
        #expect(takeovers.first?.host.name == "erp")
    }

    @Test("a universal MAC replaced by a locally administered one on a long-known server is still a takeover")
    func universalToRandomised() throws {
        var h = try knownServer(silence: .seconds(600))
        h.feed(uses("10.0.0.5", mac: 0x02_11_22_33_44_55, port: 40003))
        #expect(h.alerts.filter { $0.rule == .addressTakeover }.count == 1)
        #expect(h.alerts.first { $0.rule == .addressTakeover }?.message.contains("(locally administered)") == true)
    }

    @Test("routed frames from a known address through a router's MAC are no takeover")
    func routedFrames() throws {
        var h = try knownServer(silence: .seconds(600))
        h.feed(sent(by: routerMAC, [udp("10.0.0.5", 40009, "10.0.0.9", 53)]))
        #expect(!h.rules().contains("address-takeover"))
        #expect(h.engine.links.bindings(ip("10.0.0.5"), vlan: 0).count == 2)  // bound, but it never spoke for it
    }
}

@Suite("DHCP clients with randomised MACs")
struct RandomisedMACTests {
    let site = "local_networks: [10.0.0.0/8]\nlearning: { period: 1h, dormant_after: 72h }"

    /// A DHCP client's exchange from 0.0.0.0 (one flow for every client: the same addresses and ports), its ARP
    /// probe for the lease (RFC 5227), its announcement, then the lease in use.
    func joins(_ address: String, mac: UInt64, port: UInt16) -> [PacketSummary] {
        sent(by: mac, [udp("0.0.0.0", 68, "255.255.255.255", 67), arp("0.0.0.0", asks: address)])
            + [arp(address, mac: mac, asks: address)]
            + uses(address, mac: mac, port: port)
    }

    @Test("a phone rejoining with a new random MAC on a recycled lease, and a new client given a freed lease: no alert")
    func rejoiningRaisesNothing() throws {
        var h = try Harness(site)
        h.feed(joins("10.0.0.50", mac: 0x02_AA_00_00_00_01, port: 40001))
        h.wait(.seconds(7200))
        h.feed(uses("10.0.0.50", mac: 0x02_AA_00_00_00_01, port: 40002))
        h.wait(.seconds(3600))
        h.feed(joins("10.0.0.50", mac: 0x06_BB_00_00_00_02, port: 40003))  // locally administered, new
        // Rejoining within seconds with another random MAC (the old one's last frame a moment before).
        h.feed(joins("10.0.0.50", mac: 0x0A_CC_00_00_00_03, port: 40004))
        h.wait(.seconds(5 * 86_400))
        h.feed(joins("10.0.0.50", mac: 0x00_1B_21_00_00_77, port: 40005))  // a universal MAC after DHCP
        h.finish()
        let layer2: Set<String> = ["address-takeover", "ip-conflict", "arp-spoof"]
        #expect(h.rules().filter(layer2.contains).isEmpty)
        #expect(h.engine.leaseChanges == 2)
    }

    @Test("the same change without DHCP and from a universal MAC is a takeover (the control)")
    func withoutDHCPItIsATakeover() throws {
        var h = try Harness(site)
        h.feed(uses("10.0.0.50", mac: serverMAC, port: 40001))
        h.wait(.seconds(7200))
        h.feed(uses("10.0.0.50", mac: serverMAC, port: 40002))
        h.wait(.seconds(3600))
        h.feed(uses("10.0.0.50", mac: 0x06_BB_00_00_00_02, port: 40003))
        #expect(h.rules().contains("address-takeover"))
    }
}

@Suite("ip-conflict")
struct IPConflictTests {
    @Test("two machines answering for one address within a minute: one ip-conflict, severity 2")
    func twoMachines() throws {
        var h = try Harness("local_networks: [10.0.0.0/8]")
        h.feed(uses("10.0.0.7", mac: serverMAC))
        h.wait(.seconds(20))
        h.feed(uses("10.0.0.7", mac: intruderMAC, port: 40002))
        h.wait(.seconds(20))
        h.feed(uses("10.0.0.7", mac: serverMAC, port: 40003))
        let conflicts = h.alerts.filter { $0.rule == .ipConflict }
        #expect(conflicts.count == 1)  // the second is held back by suppression
        #expect(conflicts.first?.severity == 2)
        #expect(conflicts.first?.message.contains("00:1b:21:0a:0b:0c") == true)
        #expect(conflicts.first?.message.contains("00:50:56:11:22:33") == true)
        #expect((h.engine.ledger.suppressedByRule[.ipConflict] ?? 0) >= 1)
        #expect(conflicts.first?.link.sourceMAC == intruderMAC)
    }

    @Test("a MAC that answered minutes before is no conflict; a router's copy of a routed frame is none either")
    func notAtOnce() throws {
        var h = try Harness("local_networks: [10.0.0.0/8]")
        h.feed(uses("10.0.0.7", mac: serverMAC))
        h.wait(.seconds(300))
        h.feed(uses("10.0.0.7", mac: intruderMAC, port: 40002))
        h.feed(sent(by: routerMAC, [udp("10.0.0.7", 40009, "10.0.0.9", 53)]))
        #expect(!h.rules().contains("ip-conflict"))
    }
}

@Suite("arp-spoof")
struct ARPSpoofTests {
    /// A gateway at 10.0.0.1 (its ARP, and outside traffic through its MAC), a client at 10.0.0.5.
    func segment() throws -> Harness {
        var h = try Harness("local_networks: [10.0.0.0/8]")
        h.feed([arp("10.0.0.1", mac: routerMAC, asks: "10.0.0.5"), arp("10.0.0.5", mac: serverMAC, asks: "10.0.0.1", reply: true)])
        h.feed(sent(by: serverMAC, [tcp("10.0.0.5", 40000, "93.184.216.34", 443, .syn)]))
        h.feed(sent(by: routerMAC, [tcp("93.184.216.34", 443, "10.0.0.5", 40000, [.syn, .ack])]))
        return h
    }

    @Test("a MAC that is not the gateway's claims the gateway's address: severity 1")
    func gatewaySpoof() throws {
        var h = try segment()
        let gatewayBindings = h.engine.links.bindings(ip("10.0.0.1"), vlan: 0)
        #expect(h.engine.links.gateway(among: gatewayBindings, at: h.time) == MACAddress(routerMAC))
        // A gateway silent for over an hour is gone, not impersonated.
        #expect(h.engine.links.gateway(among: gatewayBindings, at: h.time + .seconds(3700)) == nil)
        h.wait(.seconds(5))
        h.feed([arp("10.0.0.1", mac: intruderMAC, asks: "10.0.0.5", reply: true)])
        let spoofs = h.alerts.filter { $0.rule == .arpSpoof }
        #expect(spoofs.count == 1)
        #expect(spoofs.first?.severity == 1)
        #expect(spoofs.first?.reason == "gateway claimed")
        #expect(spoofs.first?.message.contains("the gateway is 00:00:0c:07:ac:01") == true)
        #expect(spoofs.first?.link.sourceMAC == intruderMAC)
        #expect(!h.rules().contains("ip-conflict"))
    }

    @Test("the gateway's own ARP, and a host's reply to a request, raise nothing")
    func benign() throws {
        var h = try segment()
        h.wait(.seconds(30))
        h.feed([arp("10.0.0.5", mac: serverMAC, asks: "10.0.0.1"), arp("10.0.0.1", mac: routerMAC, asks: "10.0.0.5", reply: true),
                arp("10.0.0.1", mac: routerMAC, asks: "10.0.0.1")])
        #expect(h.rules().isEmpty)
    }

    @Test("an unsolicited reply with a new MAC for an address seen moments before: cache poisoning, severity 2")
    func unsolicitedReply() throws {
        var h = try segment()
        h.feed(uses("10.0.0.7", mac: peerMAC + 7))
        h.wait(.seconds(90))
        h.feed([arp("10.0.0.7", mac: intruderMAC, asks: "10.0.0.5", reply: true)])
        let spoofs = h.alerts.filter { $0.rule == .arpSpoof }
        #expect(spoofs.map(\.severity) == [2])
        #expect(spoofs.first?.reason == "unsolicited reply")
        // The same reply after a request for that address is an answer, not poisoning (a new machine: nothing here).
        var asked = try segment()
        asked.feed(uses("10.0.0.7", mac: peerMAC + 7))
        asked.wait(.seconds(90))
        asked.feed([arp("10.0.0.5", mac: serverMAC, asks: "10.0.0.7"), arp("10.0.0.7", mac: intruderMAC, asks: "10.0.0.5", reply: true)])
        #expect(!asked.rules().contains("arp-spoof"))
    }

    @Test("one MAC claiming three other live hosts' addresses within ten minutes")
    func manyHosts() throws {
        var h = try segment()
        for i in 20...23 { h.feed(uses("10.0.0.\(i)", mac: peerMAC + UInt64(i), port: 40000 + UInt16(i))) }
        h.wait(.seconds(120))
        // Announcements (not replies to anyone): each alone is ip-conflict's at most, three are a poisoning tool's.
        for i in 20...22 { h.feed([arp("10.0.0.\(i)", mac: intruderMAC, asks: "10.0.0.\(i)")]) }
        let spoofs = h.alerts.filter { $0.rule == .arpSpoof }
        #expect(spoofs.count == 1)
        #expect(spoofs.first?.reason == "claims 3 hosts")
    }
}
