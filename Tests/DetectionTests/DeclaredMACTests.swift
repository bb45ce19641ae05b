// Hosts declared by MAC: whatever address a declared machine sends from (IPv4, IPv6 link-local, the unspecified
// address of duplicate-address detection, a new lease), its frames are that host's; other machines on the same
// addresses are not.

import Detection
import FlowTracking
import PacketDecoding
import Testing

/// An ICMPv6 message of `type` from `from` to `to`, sent from `mac`.
func icmp6(_ from: String, _ to: String, type: UInt8, mac: UInt64) -> PacketSummary {
    var s = PacketSummary()
    s.network = .ipv6
    s.source = ip(from)
    s.destination = ip(to)
    s.ipProtocol = IPProtocol.icmpv6
    s.hasICMP = true
    s.icmpType = type
    s.sourceMAC = mac
    s.destinationMAC = 0x3333_0000_0001
    return s
}

func from(_ mac: UInt64, _ packet: PacketSummary) -> PacketSummary {
    var packet = packet
    packet.sourceMAC = mac
    if packet.network == .arp { packet.arpSenderMAC = mac }
    return packet
}

@Suite("Hosts declared by MAC")
struct DeclaredMACTests {
    static let oldERP: UInt64 = 0x0011_2233_4455
    static let other: UInt64 = 0x0066_7788_99aa
    static let site = """
        hosts:
          - { mac: 00:11:22:33:44:55, name: old-erp, state: decommissioned }
          - { address: 10.0.5.20, mac: 00:1a:2b:3c:4d:5e, name: files, state: idle }
        """

    @Test("a MAC-declared decommissioned host that speaks only IPv6 (DAD, router solicitation, neighbour advertisement) is caught by its MAC")
    func speaksOnlyIPv6() throws {
        var h = try Harness(Self.site)
        h.feed([icmp6("::", "ff02::1:ff33:4455", type: 135, mac: Self.oldERP),
                icmp6("fe80::211:22ff:fe33:4455", "ff02::2", type: 133, mac: Self.oldERP),
                icmp6("fe80::211:22ff:fe33:4455", "ff02::1", type: 136, mac: Self.oldERP)])
        h.finish()
        let alerts = h.alerts.filter { $0.rule == .decommissionedHostActive }
        // One per address it used and suppression interval (suppression is by address): :: first, then its
        // link-local address.
        #expect(alerts.map(\.source.description) == ["::", "fe80::211:22ff:fe33:4455"], "\(h.alerts.map(\.message))")
        #expect(alerts.allSatisfy { $0.host.name == "old-erp" && $0.message.hasPrefix("decommissioned host old-erp (") })
        // Without the MAC declaration the same frames raise nothing.
        var undeclared = try Harness("")
        undeclared.feed([icmp6("::", "ff02::1:ff33:4455", type: 135, mac: Self.oldERP),
                         icmp6("fe80::211:22ff:fe33:4455", "ff02::2", type: 133, mac: Self.oldERP)])
        undeclared.finish()
        #expect(undeclared.alerts.filter { $0.rule == .decommissionedHostActive }.isEmpty)
    }

    @Test("its ARP and IPv4 frames, from any address, are the host's; another machine's frames from the same addresses are not")
    func anyAddressByMAC() throws {
        var h = try Harness(Self.site)
        h.feed([from(Self.other, arp("10.0.9.9", asks: "10.0.9.1")),
                from(Self.other, udp("10.0.9.9", 5000, "10.0.9.1", 53))])
        #expect(h.alerts.isEmpty, "\(h.alerts.map(\.message))")
        h.feed([from(Self.oldERP, arp("10.0.9.9", asks: "10.0.9.1"))])
        // Two machines claiming 10.0.9.9 within moments is also an address conflict.
        #expect(h.alerts.map(\.rule) == [.decommissionedHostActive, .ipConflict])
        #expect(h.alerts.first?.message == "decommissioned host old-erp (10.0.9.9) sent ARP for 10.0.9.1")
        // An ARP probe (sender 0.0.0.0, RFC 5227) names no host by address; by its declared MAC it is old-erp.
        var probe = try Harness(Self.site)
        probe.feed([from(Self.other, arp("0.0.0.0", asks: "10.0.9.10")), from(Self.oldERP, arp("0.0.0.0", asks: "10.0.9.10"))])
        #expect(probe.alerts.map(\.message) == ["decommissioned host old-erp (0.0.0.0) sent ARP for 10.0.9.10"])
        var later = try Harness(Self.site)
        later.feed([from(Self.oldERP, udp("10.0.9.77", 5000, "10.0.9.1", 53))])
        #expect(later.alerts.first?.message == "decommissioned host old-erp (10.0.9.77) sent UDP/53 to 10.0.9.1")
    }

    @Test("the declared MAC wins over the address's entry: the decommissioned machine on the idle host's address")
    func macWinsOverAddress() throws {
        var h = try Harness(Self.site)
        h.feed([from(Self.oldERP, udp("10.0.5.20", 5000, "10.0.5.1", 53))])
        #expect(h.alerts.map(\.rule) == [.decommissionedHostActive], "\(h.alerts.map(\.message))")
        // The idle host's own MAC on its address: the idle rule, as without MACs.
        var idle = try Harness(Self.site)
        idle.feed([from(0x001a_2b3c_4d5e, udp("10.0.5.20", 5000, "10.0.5.1", 53))])
        #expect(idle.alerts.map(\.rule) == [.idleHostActive], "\(idle.alerts.map(\.message))")
    }

    @Test("a declared machine answering a flow is found by the MAC it answers from")
    func answersByMAC() throws {
        var h = try Harness(Self.site)
        h.feed([from(Self.other, tcp("10.0.9.5", 40000, "10.0.9.6", 80, .syn)),
                from(Self.oldERP, tcp("10.0.9.6", 80, "10.0.9.5", 40000, [.syn, .ack]))])
        #expect(h.alerts.map(\.rule) == [.decommissionedHostActive], "\(h.alerts.map(\.message))")
        #expect(h.alerts.first?.reason == "answered")
    }
}
