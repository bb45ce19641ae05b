// Attribution through the hosts stage and the detections: addresses that name no host (unspecified, loopback,
// multicast, limited and directed broadcast) get no host record and no alert; discovery messages and DHCP answers
// are their sender's; silence counts from a host's own frames.

@testable import Detection
import FlowTracking
import HostBaselines
import PacketDecoding
import SiteModel
import StateCoding
import Testing

let broadcastMAC: UInt64 = 0xFFFF_FFFF_FFFF

/// An ICMP or ICMPv6 message, to `toMAC` below IP (a multicast MAC unless told).
func message(_ from: String, _ to: String, type: UInt8, toMAC: UInt64 = 0x3333_0000_0001) -> PacketSummary {
    var s = PacketSummary()
    s.source = ip(from)
    s.destination = ip(to)
    s.network = s.source.isIPv6 ? .ipv6 : .ipv4
    s.ipProtocol = s.source.isIPv6 ? IPProtocol.icmpv6 : IPProtocol.icmp
    s.hasICMP = true
    s.icmpType = type
    s.sourceMAC = 0x0200_0000_0042
    s.destinationMAC = toMAC
    return s
}

/// A UDP datagram to `toMAC` below IP.
func datagram(_ from: String, _ fromPort: UInt16, _ to: String, _ toPort: UInt16, toMAC: UInt64 = 0x0200_0000_0001)
    -> PacketSummary
{
    var s = udp(from, fromPort, to, toPort)
    s.network = s.source.isIPv6 ? .ipv6 : .ipv4
    s.sourceMAC = 0x0200_0000_0042
    s.destinationMAC = toMAC
    return s
}

extension Harness {
    /// Whether the host table holds a record for `address`.
    func holds(_ address: String) -> Bool { engine.hosts.find(ip(address)) != nil }

    /// The record for `address` (which must be held).
    func record(_ address: String) -> HostRecord? { engine.hosts.find(ip(address)).map { engine.hosts[$0] } }

    /// Every alert is about a host (its `host` can be one) and names its own address as source or destination.
    var alertsAboutHostsOnly: Bool {
        alerts.allSatisfy { engine.site.namesHost($0.host.address) }
    }
}

@Suite("Attribution: addresses that are no host")
struct NonHostTests {
    /// A site file with a /24, so 192.168.1.255 is a directed broadcast by the site's prefix; 10.1.2.255 is inside
    /// none of its networks and is known as a broadcast only by the broadcast MAC its frame went to.
    static let site = """
        local_networks: [192.168.1.0/24, 10.0.0.0/8, fe80::/10]
        learning: { period: 1h, dormant_after: 72h }
        """

    /// (who sends, to whom, the address that is no host, the MAC the frames go to).
    static let cases: [(String, String, String, UInt64)] = [
        ("192.168.1.20", "255.255.255.255", "255.255.255.255", broadcastMAC),
        ("192.168.1.20", "192.168.1.255", "192.168.1.255", 0x0200_0000_0001),  // by the site's prefix alone
        ("10.1.2.3", "10.1.2.255", "10.1.2.255", broadcastMAC),  // by the broadcast MAC alone
        ("192.168.1.20", "224.0.0.251", "224.0.0.251", 0x0100_5E00_00FB),  // mDNS
        ("fe80::20", "ff02::fb", "ff02::fb", 0x3333_0000_00FB),  // mDNS over IPv6
        ("127.0.0.1", "127.0.0.1", "127.0.0.1", 0),  // loopback (no MAC on a loopback link)
        ("::1", "::1", "::1", 0),
        ("0.0.0.0", "255.255.255.255", "0.0.0.0", broadcastMAC),  // DHCP discover
    ]

    @Test("no host record for the address, and no alert about it, even after a silence", arguments: cases)
    func noHost(from: String, to: String, nonHost: String, toMAC: UInt64) throws {
        var h = try Harness(Self.site)
        // The same datagram twice, four days apart: a host made for the group or broadcast address would have
        // broken a silence longer than dormant_after; the learning period is over by then too.
        h.feed([datagram(from, 5353, to, 5353, toMAC: toMAC)])
        h.wait(.seconds(4 * day))
        h.feed([datagram(from, 5353, to, 5353, toMAC: toMAC)])
        // And a connection to port 22 from the address, answered: no maintenance or service alert from a client that
        // is no host (10.1.2.255 is a broadcast only through the MAC of frames sent to it, and this SYN is its own).
        let byMACOnly = nonHost == "10.1.2.255"
        if !byMACOnly { h.feed([tcp(to, 40000, from, 22, .syn), tcp(from, 22, to, 40000, [.syn, .ack])]) }
        h.finish()
        #expect(!h.holds(nonHost))
        #expect(!h.alerts.contains { $0.host.address == ip(nonHost) || $0.source == ip(nonHost) })
        #expect(h.alertsAboutHostsOnly)
        // The flows themselves are still tracked, and a sender that is a host is one.
        #expect(h.flows.counters.created >= 1)
        if from != nonHost { #expect(h.record(from)?.packetsSent == (byMACOnly ? 2 : 3)) }
    }

    @Test("an ARP frame from an address that is no host makes no record and reaches no detection")
    func arpFromNonHost() throws {
        var h = try Harness("""
            local_networks: [127.0.0.0/8, 10.0.0.0/8]
            hosts: [{ address: 127.0.0.0/8, name: loop, state: decommissioned }]
            """)
        h.feed([arp("127.0.0.1", asks: "10.0.0.1"), arp("0.0.0.0", asks: "10.0.0.9")])
        #expect(!h.holds("127.0.0.1") && !h.holds("0.0.0.0"))
        #expect(h.alerts.isEmpty)
    }

    @Test("a declared-decommissioned host that sends only to a multicast group still alerts, about itself")
    func decommissionedToGroup() throws {
        let site = """
            hosts:
              - { address: 10.0.5.20, name: old-erp, state: decommissioned }
              - { address: 'fe80::5:20', name: old-erp6, state: decommissioned }
            """
        var h = try Harness(site)
        h.feed([datagram("10.0.5.20", 5353, "224.0.0.251", 5353, toMAC: 0x0100_5E00_00FB)])
        // An unsolicited neighbour advertisement to all nodes: sent by the host, so it originated it.
        h.feed([message("fe80::5:20", "ff02::1", type: 136)])
        h.finish()
        #expect(h.alerts.map(\.host.name) == ["old-erp", "old-erp6"])
        #expect(h.alerts.map(\.reason) == ["originated", "originated"])
        #expect(h.alerts[1].message.contains("ICMP type 136 to ff02::1"))
        #expect(h.alerts.map(\.source) == [ip("10.0.5.20"), ip("fe80::5:20")])
        #expect(!h.holds("224.0.0.251") && !h.holds("ff02::1"))
    }
}

@Suite("Attribution: older state")
struct OlderStateTests {
    @Test("a state saved with records for addresses that are no host comes back without them")
    func restoredWithoutNonHosts() throws {
        // As an older build saved it: hosts for a DHCP discover's 0.0.0.0 and 255.255.255.255, a group, and one host.
        var saved = HostTable()
        for address in ["0.0.0.0", "255.255.255.255", "224.0.0.251", "192.168.1.20"] {
            _ = saved.findOrInsert(ip(address), isLocal: address == "192.168.1.20", at: start)
        }
        saved.recordService(host: ip("255.255.255.255"), port: 67, ipProtocol: IPProtocol.udp, clientIsLocal: false,
                            during: true, at: start)
        var layout = StateWriter()
        saved.encodeLayout(into: &layout)
        var engine = DetectionEngine(site: Site())
        try engine.restoreHosts(learningStart: start, layout: layout.bytes, hosts: saved.savedHosts, services: saved.services,
                                exposures: [:])
        #expect(engine.hosts.count == 1)
        #expect(engine.hosts.find(ip("192.168.1.20")) != nil)
        #expect(["0.0.0.0", "255.255.255.255", "224.0.0.251"].allSatisfy { engine.hosts.find(ip($0)) == nil })
        #expect(engine.hosts.services.isEmpty)
        // The freed slots take new hosts as usual.
        _ = engine.hosts.findOrInsert(ip("192.168.1.21"), isLocal: true, at: start)
        #expect(engine.hosts.count == 2 && engine.hosts.records.count == 4)
    }
}

@Suite("Attribution: discovery and DHCP")
struct DiscoveryAttributionTests {
    static let site = "learning: { period: 1h, dormant_after: 72h }"

    @Test("RA, NA, RS, NS and DAD are their sender's, with the frame's type; the groups and :: get no record",
          arguments: [
              ("fe80::1", "ff02::1", UInt8(134)),  // router advertisement
              ("fe80::2", "ff02::1", UInt8(136)),  // unsolicited neighbour advertisement
              ("fe80::3", "ff02::2", UInt8(133)),  // router solicitation
              ("fe80::3", "ff02::1:ff00:2", UInt8(135)),  // neighbour solicitation
              ("::", "ff02::1:ff00:5", UInt8(135)),  // duplicate-address detection
          ])
    func discovery(from: String, to: String, type: UInt8) throws {
        let site = from == "::" ? Self.site : Self.site + "\nhosts: [{ address: '\(from)', name: gone, state: decommissioned }]"
        var h = try Harness(site)
        h.feed([message(from, to, type: type)])
        h.finish()
        #expect(!h.holds(to))
        if from == "::" {
            #expect(!h.holds("::"))
            #expect(h.alerts.isEmpty)
        } else {
            #expect(h.record(from)?.packetsSent == 1)
            #expect(h.record(from)?.flowsOriginated == 1)
            // The decommissioned sender is named, with the type it sent.
            #expect(h.alerts.map(\.reason) == ["originated"])
            #expect(h.alerts.first?.source == ip(from) && h.alerts.first?.sourcePort == UInt16(type))
            #expect(h.alerts.first?.message.contains("sent ICMP type \(type) to \(to)") == true)
        }
    }

    /// A server that was busy, then silent for four days.
    func quietServer() throws -> Harness {
        var h = try Harness(Self.site)
        h.feed(session("192.168.1.7", 40000, "192.168.1.1", 443))
        h.feed(session("192.168.1.1", 40001, "192.168.1.9", 443))
        h.wait(.seconds(4 * day))
        return h
    }

    @Test("DHCP: discover, offer, request, ack; the server answering after a silence is not the server waking")
    func dhcpExchange() throws {
        for offered in ["255.255.255.255", "192.168.1.100"] {
            var h = try quietServer()
            let mac = offered == "255.255.255.255" ? broadcastMAC : 0x0200_0000_0100
            h.feed([datagram("0.0.0.0", 68, "255.255.255.255", 67, toMAC: broadcastMAC),
                    datagram("192.168.1.1", 67, offered, 68, toMAC: mac),
                    datagram("0.0.0.0", 68, "255.255.255.255", 67, toMAC: broadcastMAC),
                    datagram("192.168.1.1", 67, offered, 68, toMAC: mac)])
            h.finish()
            #expect(h.alerts.isEmpty, "offer to \(offered)")
            #expect(!h.holds("0.0.0.0") && !h.holds("255.255.255.255"))
            // The server answered; it started nothing (one flow of its own, the session before the silence).
            #expect(h.record("192.168.1.1")?.flowsOriginated == 1)
            #expect(h.record("192.168.1.1")?.packetsSent ?? 0 > 7)
        }
    }

    @Test("DHCPv6: solicit to the servers' group and the server's advertise; the server is not waking")
    func dhcpv6Exchange() throws {
        var h = try Harness(Self.site)
        h.feed(session("fe80::5", 40001, "fe80::9", 443))
        h.wait(.seconds(4 * day))
        h.feed([datagram("fe80::c", 546, "ff02::1:2", 547, toMAC: 0x3333_0001_0002),
                datagram("fe80::5", 547, "fe80::c", 546)])
        h.finish()
        #expect(h.alerts.isEmpty)
        #expect(!h.holds("ff02::1:2"))
        #expect(h.record("fe80::5")?.flowsOriginated == 1)
        #expect(h.record("fe80::5")?.flowsAnswered == 1)
        #expect(h.record("fe80::c")?.hasSent == true)
    }
}

@Suite("Attribution: silence counts from a host's own frames")
struct OwnFramesTests {
    static let site = "learning: { period: 1h, dormant_after: 72h }"

    @Test("a host first seen as a destination has no silence to break when it first sends")
    func destinationFirst() throws {
        var h = try Harness(Self.site)
        h.feed([tcp("10.0.0.7", 40000, "10.0.0.25", 22, .syn)])  // reached, no answer
        #expect(h.record("10.0.0.25")?.hasSent == false)
        h.wait(.seconds(4 * day))
        h.feed(session("10.0.0.25", 40001, "10.0.0.1", 443))
        h.finish()
        #expect(h.alerts.isEmpty)
        #expect(h.record("10.0.0.25")?.hasSent == true)
    }

    @Test("an answer seen without its request does not wake the host that sent nothing; its own flow later does")
    func turnedRoundFlow() throws {
        var h = try Harness(Self.site)
        h.feed(session("10.0.0.25", 40000, "10.0.0.1", 443))
        let before = try #require(h.record("10.0.0.25")?.lastSeen)
        h.wait(.seconds(4 * day))
        // The server's SYN-ACK to 10.0.0.25, whose SYN was not captured: the flow is 10.0.0.25's, its frame is not.
        h.feed([tcp("10.0.0.1", 443, "10.0.0.25", 40001, [.syn, .ack])])
        #expect(h.alerts.isEmpty)
        #expect(h.record("10.0.0.25")?.lastSeen == before)
        h.feed(session("10.0.0.25", 40002, "10.0.0.1", 443))
        h.finish()
        #expect(h.rules() == ["dormant-host-active"])
        #expect(h.alerts.first?.reason == "silent 4d")
    }
}
