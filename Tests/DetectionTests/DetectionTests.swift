// Each detection's trigger, its thresholds on both sides, and the ledger's suppression and incident linking.

@testable import Detection
import FlowTracking
import HostBaselines
import PacketDecoding
import SiteModel
import Testing

@Suite("decommissioned-host-active")
struct DecommissionedTests {
    let site = "hosts: [{ address: 10.0.5.20, name: old-erp, state: decommissioned }]"

    @Test("an ARP request from a decommissioned address raises one alert; repeats are counted")
    func arpFromRetiredHost() throws {
        var h = try Harness(site)
        h.feed([arp("10.0.5.20", asks: "10.0.5.1"), arp("10.0.5.20", asks: "10.0.5.1")])
        #expect(h.rules() == ["decommissioned-host-active"])
        #expect(h.alerts[0].reason == "arp" && h.alerts[0].host.name == "old-erp" && h.alerts[0].severity == 1)
        #expect(h.engine.ledger.suppressed == 1)
    }

    @Test("answering a flow counts; being probed without answering does not")
    func answering() throws {
        var silent = try Harness(site)
        silent.feed([tcp("10.0.1.1", 40000, "10.0.5.20", 22, .syn)])
        silent.finish()
        #expect(silent.alerts.isEmpty)
        var answering = try Harness(site)
        answering.feed([tcp("10.0.1.1", 40000, "10.0.5.20", 22, .syn), tcp("10.0.5.20", 22, "10.0.1.1", 40000, [.rst, .ack])])
        #expect(answering.alerts.map(\.reason) == ["answered"])
    }

    @Test("a full local side never evicts a flow's originator to make room for its responder")
    func originatorSurvivesResponderInsertion() throws {
        // Two local slots, and every packet at one instant, so every host ties for least recently seen: making room
        // for the responder could pick the originator just added, and the flow would reach no detection.
        var hosts = HostTableConfiguration()
        hosts.localCapacity = 2
        var h = try Harness(site, hosts: hosts)
        for n in 0..<40 {
            h.feed([tcp("10.0.5.20", UInt16(40000 + n), "10.0.9.\(n)", 22, .syn)], spacing: .milliseconds(0))
        }
        #expect(h.engine.ledger.raised + h.engine.ledger.suppressed == 40)
        #expect(h.engine.hosts.count <= 2)
    }
}

@Suite("idle-host-active")
struct IdleTests {
    let site = "hosts: [{ address: 10.0.7.0/28, name: camera-platform, state: idle, allow: [arp, dns, ntp] }]"

    @Test("allowed chatter is silent; anything else raises, once per host")
    func allowList() throws {
        var h = try Harness(site)
        h.feed([arp("10.0.7.3", asks: "10.0.7.1"), udp("10.0.7.3", 40000, "10.0.0.53", 53), udp("10.0.0.53", 53, "10.0.7.3", 40000),
                udp("10.0.7.3", 123, "10.0.0.1", 123)])
        #expect(h.alerts.isEmpty)
        h.feed([tcp("10.0.7.3", 40001, "10.0.2.9", 445, .syn), tcp("10.0.7.3", 40002, "10.0.2.9", 139, .syn)])
        #expect(h.rules() == ["idle-host-active"])
        #expect(h.alerts[0].reason == "originated tcp/445")
        #expect(h.alerts[0].host.state == .idle)
    }

    @Test("after learning, an allowed service to a peer never seen while learning is a new peer")
    func newPeer() throws {
        var h = try Harness("hosts: [{ address: 10.0.7.3, name: cam, state: idle, allow: [ntp] }]\nlearning: { period: 1h }")
        h.feed([udp("10.0.7.3", 123, "10.0.0.1", 123), udp("10.0.0.1", 123, "10.0.7.3", 123)])
        h.wait(.seconds(2 * 3600))
        h.feed([udp("10.0.7.3", 123, "10.0.0.1", 123), udp("10.0.0.1", 123, "10.0.7.3", 123)])
        #expect(h.alerts.isEmpty, "the learned peer is fine")
        h.feed([udp("10.0.7.3", 123, "192.0.2.44", 123)])
        #expect(h.alerts.map(\.reason) == ["new peer"])
    }

    @Test("after learning, far more packets than while learning is volume; the same rate is not")
    func volume() throws {
        let site = "hosts: [{ address: 10.0.7.3, name: cam, state: idle, allow: [dns] }]\nlearning: { period: 1h }"
        var quiet = try Harness(site)
        for i in 0..<20 { quiet.feed([udp("10.0.7.3", UInt16(30000 + i), "10.0.0.53", 53)]); quiet.wait(.seconds(60)) }
        quiet.wait(.seconds(3600))
        for i in 0..<20 { quiet.feed([udp("10.0.7.3", UInt16(31000 + i), "10.0.0.53", 53)]); quiet.wait(.seconds(60)) }
        quiet.finish()
        #expect(quiet.alerts.isEmpty)
        var loud = try Harness(site)
        for i in 0..<20 { loud.feed([udp("10.0.7.3", UInt16(30000 + i), "10.0.0.53", 53)]); loud.wait(.seconds(60)) }
        loud.wait(.seconds(3600))
        loud.feed(Array(repeating: udp("10.0.7.3", 40000, "10.0.0.53", 53), count: 600), spacing: .milliseconds(50))
        loud.finish()
        #expect(loud.alerts.map(\.reason) == ["volume"])
    }

    @Test("an idle host that answers a connection it does not allow raises")
    func answering() throws {
        var h = try Harness(site)
        h.feed([tcp("10.0.9.9", 50000, "10.0.7.3", 80, .syn), tcp("10.0.7.3", 80, "10.0.9.9", 50000, [.syn, .ack])])
        #expect(h.alerts.map(\.reason) == ["answered tcp/80"])
    }
}

@Suite("dormant-host-active")
struct DormantTests {
    let site = "learning: { period: 1h, dormant_after: 72h }"

    @Test("a host silent for more than dormant_after that starts a flow raises; the ARP before it does not hide it")
    func wakesUp() throws {
        var h = try Harness(site)
        h.feed(session("10.0.0.25", 40000, "10.0.0.1", 443))
        h.wait(.seconds(4 * day))
        h.feed([arp("10.0.0.25", asks: "10.0.0.1")])
        h.wait(.seconds(5))
        h.feed(session("10.0.0.25", 40001, "10.0.0.1", 443))
        h.finish()
        #expect(h.rules() == ["dormant-host-active"])
        #expect(h.alerts.first?.reason == "silent 4d")
        #expect(h.alerts.first?.source == ip("10.0.0.25"))
    }

    @Test("a silence shorter than dormant_after, or a dormant host that is only contacted, raises nothing")
    func notDormant() throws {
        var h = try Harness(site)
        h.feed(session("10.0.0.25", 40000, "10.0.0.1", 443))
        h.wait(.seconds(2 * day))
        h.feed(session("10.0.0.25", 40001, "10.0.0.1", 443))
        h.wait(.seconds(4 * day))
        h.feed(session("10.0.0.7", 40002, "10.0.0.25", 22))  // a new host reaches it: it answers, it does not start
        h.finish()
        #expect(h.alerts.isEmpty)
    }
}

@Suite("maintenance-port-inbound")
struct MaintenancePortTests {
    let site = """
        local_networks: [10.0.0.0/8]
        public_addresses: [203.0.113.10]
        maintenance_ports:
          - { name: vendor-ssh, host: 10.0.5.30, port: 22, external: "203.0.113.10:2222", allowed_sources: [198.51.100.0/24], windows: ["Sat 01:00-05:00"], expires: 2025-12-31 }
          - { name: old-plc-telnet, host: 10.0.9.4, port: 23, closed: true }
        """

    func stages(_ h: Harness) -> [String] { h.alerts.map { "\($0.stage!) \($0.reason!)" } }

    @Test("an allowed source inside its window before expiry is silent")
    func expectedUse() throws {
        var h = try Harness(site)
        h.time = start + .seconds(2 * 3600)  // Saturday 02:00 UTC
        h.feed(session("198.51.100.7", 40000, "10.0.5.30", 22))
        h.finish()
        #expect(h.alerts.isEmpty)
    }

    @Test("outside the window; from a source not allowed; after expiry; to a closed port")
    func reasons() throws {
        var outside = try Harness(site)
        outside.time = start + .seconds(6 * 3600)  // Saturday 06:00: after the window
        outside.feed(session("198.51.100.7", 40000, "10.0.5.30", 22))
        #expect(stages(outside) == ["probe outside-window", "open outside-window", "session outside-window"])

        var stranger = try Harness(site)
        stranger.time = start + .seconds(2 * 3600)
        stranger.feed(session("192.0.2.66", 40000, "10.0.5.30", 22))
        #expect(stages(stranger).first == "probe source-not-allowed")

        var late = try Harness(site)
        late.time = Timestamp(seconds: 1_767_225_600 + 3 * 86_400 + 2 * 3600)  // Sat 2026-01-03 02:00, after expiry
        late.feed(session("198.51.100.7", 40000, "10.0.5.30", 22))
        #expect(stages(late).first == "probe expired")

        var closed = try Harness(site)
        closed.feed([tcp("198.51.100.7", 40000, "10.0.9.4", 23, .syn)])
        #expect(stages(closed) == ["probe closed"])
        #expect(closed.alerts[0].severity == 1)
    }

    @Test("the mapping is recognised by its external address when the sensor sees traffic before NAT")
    func externalMapping() throws {
        var h = try Harness(site)
        h.feed([tcp("192.0.2.66", 40000, "203.0.113.10", 2222, .syn)])
        #expect(stages(h) == ["probe source-not-allowed"])
    }

    @Test("an undeclared admin port raises only when it answers, with stages up to session; inside clients never")
    func undeclared() throws {
        var unanswered = try Harness(site)
        unanswered.feed([tcp("192.0.2.66", 40000, "10.0.1.1", 3389, .syn)])
        unanswered.finish()
        #expect(unanswered.alerts.isEmpty)
        var answered = try Harness(site)
        answered.feed(session("192.0.2.66", 40000, "10.0.1.1", 3389))
        #expect(stages(answered) == ["open undeclared", "session undeclared"])
        var inside = try Harness(site)
        inside.feed(session("10.0.2.2", 40000, "10.0.1.1", 3389))
        #expect(inside.alerts.isEmpty)
    }

    @Test("five short sessions from one source within ten minutes is guessing; four is not")
    func guessing() throws {
        var four = try Harness(site)
        for i in 0..<4 { four.feed(session("192.0.2.66", UInt16(40000 + i), "10.0.1.1", 22)); four.wait(.seconds(30)) }
        four.finish()
        #expect(!four.alerts.contains { $0.stage == .guessing })
        var five = try Harness(site)
        for i in 0..<5 { five.feed(session("192.0.2.66", UInt16(40000 + i), "10.0.1.1", 22)); five.wait(.seconds(30)) }
        five.finish()
        #expect(five.alerts.filter { $0.stage == .guessing }.count == 1)
        #expect(five.engine.ledger.suppressed == 8, "sessions 2-5 repeat the open and session alerts of the first")
    }
}

@Suite("new-inbound-service")
struct NewServiceTests {
    @Test("ports served during learning are known; a new one after it, to an outside client, raises once")
    func learnsThenAlerts() throws {
        var h = try Harness("local_networks: [10.0.0.0/8]\nlearning: { period: 1h }")
        h.feed(session("192.0.2.10", 40000, "10.0.3.3", 443))
        h.wait(.seconds(2 * 3600))
        h.feed(session("192.0.2.10", 40001, "10.0.3.3", 443))
        h.feed(session("10.0.4.4", 40002, "10.0.3.3", 8000))  // inside client: learned, not alerted
        h.feed(session("192.0.2.10", 40003, "10.0.3.3", 8443))
        h.feed(session("192.0.2.11", 40004, "10.0.3.3", 8443))
        h.feed(session("192.0.2.12", 40005, "10.0.3.3", 8000))
        h.finish()
        #expect(h.alerts.map { "\($0.rule.rawValue) \($0.destinationPort!)" } == ["new-inbound-service 8443"])
    }
}

@Suite("scans")
struct ScanTests {
    func portScan(_ h: inout Harness, _ scanner: String, _ target: String, ports: Int) {
        for port in 0..<ports {
            let p = UInt16(1000 + port)
            h.feed([tcp(scanner, 50000, target, p, .syn), tcp(target, p, scanner, 50000, [.rst, .ack])])
        }
    }

    @Test("a local host failing on 15 ports of one host is a host-scan; 14 is not")
    func portScanThreshold() throws {
        var below = try Harness()
        portScan(&below, "10.0.0.5", "10.0.0.9", ports: 14)
        below.finish()
        #expect(below.alerts.isEmpty)
        var at = try Harness()
        portScan(&at, "10.0.0.5", "10.0.0.9", ports: 15)
        at.finish()
        #expect(at.alerts.map(\.rule) == [.hostScan])
        #expect(at.alerts.first?.reason == "port-scan")
    }

    @Test("a scan of 20,000 ports raises one alert and keeps bounded state (no quadratic work per probe)")
    func fullPortScanStaysBounded() throws {
        var h = try Harness()
        for port in 0..<20_000 {
            let p = UInt16(1024 + port)
            h.feed([tcp("10.0.0.5", 50000, "10.0.0.9", p, .syn), tcp("10.0.0.9", p, "10.0.0.5", 50000, [.rst, .ack])],
                   spacing: .microseconds(10))
        }
        h.finish()
        #expect(h.alerts.map(\.rule) == [.hostScan])
        let state = try #require(h.engine.scans.scanners[ip("10.0.0.5")])
        #expect((state.failedPorts[ip("10.0.0.9")]?.ports.count ?? 0) <= 15 * 4)
        #expect(state.failedHosts.count <= 25 * 4)
    }

    @Test("a SYN flood from 70,000 spoofed sources keeps the scanner table within its cap")
    func spoofedFloodStaysBounded() throws {
        var h = try Harness("local_networks: [10.0.0.0/8]")
        for i in 0..<70_000 {
            let source = "198.\(18 + i / 65536).\((i / 256) % 256).\(i % 256)"
            h.feed([tcp(source, 40000, "10.0.0.9", 22, .syn)], spacing: .microseconds(5))
        }
        h.finish()
        #expect(h.alerts.isEmpty, "one failed attempt per source is no scan")
        #expect(h.engine.scans.scanners.count <= h.engine.scans.scannerCapacity)
        #expect(h.engine.scans.firstFailures.count <= h.engine.scans.scannerCapacity)
    }

    @Test("successful connections are not failures: a busy client is not a scanner")
    func busyClient() throws {
        var h = try Harness()
        for i in 0..<40 { h.feed(session("10.0.0.5", UInt16(40000 + i), "10.0.0.\(10 + i)", 443)) }
        h.finish()
        #expect(h.alerts.isEmpty)
    }

    @Test("an outside source failing on 25 local hosts is an inbound-scan")
    func inboundAddressScan() throws {
        var h = try Harness("local_networks: [10.0.0.0/8]")
        for i in 0..<25 { h.feed([tcp("192.0.2.99", 50000, "10.0.1.\(i + 1)", 80, .syn)]) }
        h.finish()
        #expect(h.alerts.map(\.rule) == [.inboundScan])
        #expect(h.alerts.first?.reason == "address-scan")
    }

    @Test("ARP requests for 64 addresses nobody answers are host discovery; 63, or answered ones, are not")
    func arpSweep() throws {
        var answered = try Harness()
        for i in 0..<100 { answered.feed([arp("10.0.0.5", asks: "10.0.1.\(i + 10)"), arp("10.0.1.\(i + 10)", asks: "10.0.0.5", reply: true)]) }
        #expect(answered.alerts.isEmpty)
        var few = try Harness()
        for i in 0..<63 { few.feed([arp("10.0.0.5", asks: "10.0.1.\(i + 10)")]) }
        #expect(few.alerts.isEmpty)
        var sweep = try Harness()
        for i in 0..<64 { sweep.feed([arp("10.0.0.5", asks: "10.0.1.\(i + 10)")]) }
        #expect(sweep.alerts.map(\.reason) == ["arp-sweep"])
    }

    @Test("an outside peer reaching a local ephemeral port after learning is not a new service")
    func ephemeralPortsAreNotServices() throws {
        var h = try Harness("local_networks: [10.0.0.0/8]\nlearning: { period: 1h }")
        h.wait(.seconds(2 * 3600))
        h.feed(session("192.0.2.10", 20, "10.0.3.3", 50123))  // active FTP data: the server connects back
        h.finish()
        #expect(h.alerts.isEmpty)
    }
}

@Suite("Alert ledger")
struct LedgerTests {
    @Test("an idle host that starts scanning is one incident")
    func incidentLinking() throws {
        var h = try Harness("hosts: [{ address: 10.0.7.3, name: cam, state: idle, allow: [dns] }]")
        for port in 0..<15 {
            let p = UInt16(1000 + port)
            h.feed([tcp("10.0.7.3", 50000, "10.0.0.9", p, .syn), tcp("10.0.0.9", p, "10.0.7.3", 50000, [.rst, .ack])])
        }
        h.finish()
        #expect(h.rules() == ["idle-host-active", "host-scan"])
        #expect(h.alerts[1].incident == h.alerts[0].id)
    }

    @Test("after the suppression interval the same alert is raised again and says how many were held back")
    func suppressionInterval() throws {
        var h = try Harness("hosts: [{ address: 10.0.5.20, name: old-erp, state: decommissioned }]")
        h.feed([arp("10.0.5.20", asks: "10.0.5.1"), arp("10.0.5.20", asks: "10.0.5.1"), arp("10.0.5.20", asks: "10.0.5.1")])
        h.wait(.seconds(3601))
        h.feed([arp("10.0.5.20", asks: "10.0.5.1")])
        #expect(h.alerts.count == 2)
        #expect(h.alerts[1].suppressedBefore == 2)
        #expect(h.alerts[1].incident == h.alerts[0].id, "within 24 h: the same story")
    }
}
