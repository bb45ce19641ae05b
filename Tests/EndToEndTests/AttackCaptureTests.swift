// Real attack captures from the corpus, each with a site file written for it, raise the alerts a security engineer
// would expect. Each test explains the site file and the expectation from what the capture contains (read with
// `tcpdump -nn -r`), not from IdleWatch's output.

import Detection
import PacketCapture
import PacketDecoding
import Sensor
import SiteModel
import Testing

/// What an alert is compared on: rule, source, destination, port, stage and reason.
struct AlertSignature: Hashable, CustomStringConvertible {
    var rule: String
    var source: String
    var destination: String
    var port: String
    var stage: String
    var reason: String

    init(_ rule: String, _ source: String, _ destination: String = "-", _ port: String = "-", stage: String = "-",
         reason: String = "-") {
        self.rule = rule
        self.source = source
        self.destination = destination
        self.port = port
        self.stage = stage
        self.reason = reason
    }

    init(_ alert: Alert) {
        rule = alert.rule.rawValue
        source = alert.source.description
        destination = alert.destination?.description ?? "-"
        port = alert.destinationPort.map(String.init) ?? "-"
        stage = alert.stage?.description ?? "-"
        reason = alert.reason ?? "-"
    }

    var description: String { [rule, source, destination, port, stage, reason].joined(separator: " ") }
}

/// Replays `paths` with `site` and returns every alert raised, in order.
func alerts(of paths: [String], site: Site) -> [Alert] {
    var configuration = PipelineConfiguration()
    configuration.site = site
    var pipeline = Pipeline(configuration: configuration, output: nil)
    final class Box { var alerts: [Alert] = [] }
    let box = Box()
    pipeline.onAlert = { box.alerts.append($0) }
    ReplaySource(paths: paths).run(&pipeline)
    pipeline.finish()
    return box.alerts
}

func site(_ yaml: String) throws -> Site {
    try SiteLoader.parse(yaml, path: "test-site.yaml")
}

@Suite("Alerts on real attack captures")
struct AttackCaptureTests {
    /// zeek/ssh__sshguess.pcap: 192.168.56.1 makes 11 SSH connections to 192.168.56.103:22 in 70 s, each a few
    /// seconds long with data both ways (password attempts). Site: the server is ours, the client is outside, and
    /// port 22 is not declared. Expected: maintenance-port-inbound `undeclared` at stage open and session (the
    /// first connection; the other 10 repeat those keys and are held back), then `guessing` when the 5th short
    /// session ends. Nothing else: no scan (every connection succeeds), learning lasts 24 h.
    @Test func sshPasswordGuessing() throws {
        let site = try site("local_networks: [192.168.56.103/32]\n")
        let raised = alerts(of: [TestPaths.corpusFile("zeek/ssh__sshguess.pcap")], site: site).map(AlertSignature.init)
        let port = "22", s = "192.168.56.1", d = "192.168.56.103"
        let mp = "maintenance-port-inbound"
        #expect(raised == [
            AlertSignature(mp, s, d, port, stage: "open", reason: "undeclared"),
            AlertSignature(mp, s, d, port, stage: "session", reason: "undeclared"),
            AlertSignature(mp, s, d, port, stage: "guessing", reason: "undeclared"),
        ])
    }

    /// nDPI/synscan.pcap: 172.16.0.8 sends 1994 SYNs to 64.13.134.52; ports 22, 53 and 80 answer SYN-ACK, 5 answer
    /// RST, the rest nothing. Site: 64.13.134.52 is our server; the scanner is outside. Expected: one inbound-scan
    /// (a port scan: far more than 15 failed ports on one host; the rest held back), and maintenance-port-inbound
    /// `undeclared` at stage open for port 22 (a remote-administration port that answered the outside). 53 and 80
    /// are not administration ports; new services are not judged during the 24 h learning period.
    @Test func synScan() throws {
        let site = try site("local_networks: [64.13.134.52/32]\n")
        let raised = alerts(of: [TestPaths.corpusFile("nDPI/synscan.pcap")], site: site).map(AlertSignature.init)
        #expect(Set(raised) == [
            AlertSignature("maintenance-port-inbound", "172.16.0.8", "64.13.134.52", "22", stage: "open", reason: "undeclared"),
            AlertSignature("inbound-scan", "172.16.0.8", "64.13.134.52", reason: "port-scan"),
        ])
        #expect(raised.count == 2)
    }

    /// zeek/nmap-vsn.pcap: 192.168.1.71 sweeps 192.168.1.0/24 with ARP (245 requests, no reply in the capture), then
    /// probes ports 80 and 443 of the few hosts it found. Site: the /24 is ours. Expected: one host-scan for
    /// 192.168.1.71 (an ARP sweep: 64 unanswered requests within 5 minutes); its TCP probes fail on only 5 hosts and
    /// 2 ports, under both TCP thresholds, and touch no administration port.
    @Test func nmapHostDiscovery() throws {
        let site = try site("local_networks: [192.168.1.0/24]\n")
        let raised = alerts(of: [TestPaths.corpusFile("zeek/nmap-vsn.pcap")], site: site).map(AlertSignature.init)
        #expect(raised == [AlertSignature("host-scan", "192.168.1.71", reason: "arp-sweep")])
    }

    /// zeek/rfb__vnc-scanner.pcap: 192.168.0.11 connects to 10.0.0.149:5900, the server sends its RFB banner, the
    /// client answers and negotiates, then resets: a VNC scanner checking for open servers. Site: 10.0.0.0/8 is
    /// ours, 192.168.0.11 is outside, VNC is not declared. Expected: maintenance-port-inbound `undeclared` at open
    /// and session (data went both ways).
    @Test func vncScanner() throws {
        let site = try site("local_networks: [10.0.0.0/8]\n")
        let raised = alerts(of: [TestPaths.corpusFile("zeek/rfb__vnc-scanner.pcap")], site: site).map(AlertSignature.init)
        #expect(raised == [
            AlertSignature("maintenance-port-inbound", "192.168.0.11", "10.0.0.149", "5900", stage: "open", reason: "undeclared"),
            AlertSignature("maintenance-port-inbound", "192.168.0.11", "10.0.0.149", "5900", stage: "session", reason: "undeclared"),
        ])
    }

    /// nDPI/rmcp.pcap: six single UDP datagrams to port 623 (IPMI/RMCP, the BMC of a server) from six sources to six
    /// destinations over 12 hours; none is answered. Site: the six destinations are ours; the BMC at
    /// 171.47.173.23 is declared and `closed` (it must never be reachable); the others are not declared.
    /// Expected: maintenance-port-inbound `closed` at stage probe for the declared BMC only. Unanswered probes of
    /// undeclared ports are not alerts (nobody answered: no open door), and UDP probes are not counted as scans.
    @Test func ipmiProbes() throws {
        let site = try site("""
            local_networks: [171.47.173.23/32, 14.85.79.172/32, 82.132.4.178/32, 190.219.142.148/32, 30.144.16.67/32, 164.114.97.252/32]
            maintenance_ports:
              - { name: bmc-ipmi, host: 171.47.173.23, port: 623, proto: udp, closed: true }
            """)
        let raised = alerts(of: [TestPaths.corpusFile("nDPI/rmcp.pcap")], site: site).map(AlertSignature.init)
        #expect(raised == [
            AlertSignature("maintenance-port-inbound", "123.212.25.229", "171.47.173.23", "623", stage: "probe", reason: "closed"),
        ])
    }

    /// suricata-verify/telnet__telnet-01__telnet.pcap: 192.168.0.2 logs in to 192.168.0.1 over Telnet (handshake,
    /// option negotiation, login, commands) for 40 seconds. Site: 192.168.0.1 is an old PLC whose Telnet is declared
    /// `closed`; the client is outside. Expected: maintenance-port-inbound `closed` at probe (the SYN), open
    /// (SYN-ACK) and session (data both ways). The session is shorter than 5 minutes: not interactive.
    @Test func telnetLogin() throws {
        let site = try site("""
            local_networks: [192.168.0.1/32]
            hosts: [{ address: 192.168.0.1, name: old-plc, state: active }]
            maintenance_ports: [{ name: old-plc-telnet, host: 192.168.0.1, port: 23, proto: tcp, closed: true }]
            """)
        let raised = alerts(of: [TestPaths.corpusFile("suricata-verify/telnet__telnet-01__telnet.pcap")], site: site)
        #expect(raised.map(AlertSignature.init) == ["probe", "open", "session"].map {
            AlertSignature("maintenance-port-inbound", "192.168.0.2", "192.168.0.1", "23", stage: $0, reason: "closed")
        })
        #expect(raised.allSatisfy { $0.host.name == "old-plc" && $0.severity == 1 })
        #expect(Set(raised.map(\.incident)) == [raised[0].id], "one story: the later stages link to the first alert")
    }
}
