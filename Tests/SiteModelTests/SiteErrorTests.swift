// Every kind of site-file problem names its line, column and key path, and all problems in a file are reported.

import Foundation
import PacketDecoding
import SiteModel
import Testing

/// The problem lines for `yaml` (empty when it is valid).
func problems(_ yaml: String) -> [String] {
    do {
        _ = try SiteLoader.parse(yaml, path: "t.yaml")
        return []
    } catch {
        return error.problems.map(\.description)
    }
}

/// The single problem for `yaml`, or a description of what came instead.
func problem(_ yaml: String) -> String {
    let found = problems(yaml)
    return found.count == 1 ? found[0] : "\(found.count) problems: \(found)"
}

@Suite struct SiteErrorTests {
    @Test func unknownKeysSuggestNearMisses() {
        #expect(problem("learning: { period: 24h, dormant_afer: 72h }")
            == "t.yaml:1:26: learning.dormant_afer: unknown key; did you mean 'dormant_after'?")
        #expect(problem("local_network: [10.0.0.0/8]")
            == "t.yaml:1:1: local_network: unknown key; did you mean 'local_networks'?")
        #expect(problem("hosts:\n  - { address: 10.0.0.1, name: a, state: idle, alow: [arp] }")
            .hasPrefix("t.yaml:2:48: hosts[0].alow: unknown key; did you mean 'allow'?"))
        #expect(problem("maintenance_ports:\n  - name: a\n    host: 10.0.0.1\n    port: 22\n    window: [\"daily 01:00-02:00\"]")
            == "t.yaml:5:5: maintenance_ports[0].window: unknown key; did you mean 'windows'?")
        #expect(problem("colour: blue").hasPrefix("t.yaml:1:1: colour: unknown key; expected one of local_networks,"))
    }

    @Test func wrongTypes() {
        #expect(problem("hosts: { address: 10.0.0.1 }").hasPrefix("t.yaml:1:8: hosts: expected a list, found a mapping"))
        #expect(problem("local_networks: 10.0.0.0/8")
            == "t.yaml:1:17: local_networks: expected a list, found '10.0.0.0/8'")
        #expect(problem("hosts:\n  - 10.0.0.1")
            == "t.yaml:2:5: hosts[0]: expected a mapping of address, mac, name and state, found '10.0.0.1'")
        #expect(problem("learning: 24h") == "t.yaml:1:11: learning: expected a mapping of period and dormant_after, found '24h'")
        #expect(problem("hosts:\n  - { address: [10.0.0.1], name: a, state: idle }")
            == "t.yaml:2:16: hosts[0].address: expected an address or network, found a list")
        #expect(problem("- a").hasPrefix("t.yaml:1:1: expected a mapping of keys"))
    }

    @Test func badAddresses() {
        #expect(problem("local_networks: [10.0.0.1/8]")
            == "t.yaml:1:18: local_networks[0]: host bits are set in '10.0.0.1/8': the network is 10.0.0.0/8; for one host write 10.0.0.1")
        #expect(problem("local_networks: [10.0.0.0/33]") == "t.yaml:1:18: local_networks[0]: bad prefix length '/33' (0-32 for IPv4)")
        #expect(problem("local_networks: [\"fd00::/129\"]") == "t.yaml:1:18: local_networks[0]: bad prefix length '/129' (0-128 for IPv6)")
        #expect(problem("local_networks: [10.0.0.256]") == "t.yaml:1:18: local_networks[0]: '10.0.0.256' is not an IPv4 or IPv6 address")
        #expect(problem("public_addresses: [203.0.113.0/24]")
            == "t.yaml:1:20: public_addresses[0]: '203.0.113.0/24' is a network; a single address is needed here")
        #expect(problem("hosts:\n  - { address: 10.0.7.1/28, name: cams, state: idle }")
            .hasPrefix("t.yaml:2:16: hosts[0].address: host bits are set in '10.0.7.1/28'"))
        #expect(problem("maintenance_ports:\n  - { name: a, host: 10.0.5.0/24, port: 22 }")
            == "t.yaml:2:22: maintenance_ports[0].host: '10.0.5.0/24' is a network; a single address is needed here")
        #expect(problem("maintenance_ports:\n  - { name: a, host: 10.0.5.1, port: 22, allowed_sources: [198.51.100.1/24] }")
            .hasPrefix("t.yaml:2:60: maintenance_ports[0].allowed_sources[0]: host bits are set"))
    }

    @Test func hostEntries() {
        #expect(problem("hosts:\n  - { address: 10.0.0.1, name: a, state: retired }")
            == "t.yaml:2:42: hosts[0].state: 'retired' is not a state: use decommissioned, idle or active")
        #expect(problem("hosts:\n  - { address: 10.0.0.1, name: a, state: decomissioned }")
            == "t.yaml:2:42: hosts[0].state: 'decomissioned' is not a state; did you mean 'decommissioned'?")
        // A missing key is reported where its entry starts.
        #expect(problem("hosts:\n  - { address: 10.0.0.1, state: idle }\n  - address: 10.0.0.2\n    name: b\n    state: idle\n")
            .hasPrefix("t.yaml:2:5: hosts[0].name: missing (required)"))
        #expect(problems("hosts:\n  - address: 10.0.0.2\n    name: b\n")
            == ["t.yaml:2:5: hosts[0].state: missing (required): decommissioned, idle or active"])
        #expect(problem("hosts:\n  - { address: 10.0.0.1, name: , state: idle }")
            == "t.yaml:2:26: hosts[0].name: is empty (required): the host's name")
        #expect(problem("hosts:\n  - { address: 10.0.0.1, name: \" \", state: idle }")
            == "t.yaml:2:32: hosts[0].name: must not be empty")
        #expect(problem("hosts:\n  - { address: 10.0.0.1, name: a, state: idle, allow: [arp, ntpd] }")
            == "t.yaml:2:61: hosts[0].allow[1]: 'ntpd' is not a known service; did you mean 'ntp'?")
        #expect(problem("hosts:\n  - { address: 10.0.0.1, name: a, state: idle, allow: [printer] }")
            .hasPrefix("t.yaml:2:56: hosts[0].allow[0]: 'printer' is not a service (arp, dhcp,"))
        #expect(problem("hosts:\n  - { address: 10.0.0.1, name: a, state: idle, allow: [70000/udp] }")
            == "t.yaml:2:56: hosts[0].allow[0]: port 70000 is out of range (1-65535)")
        #expect(problem("hosts:\n  - { address: 10.0.0.1, name: a, state: decommissioned, allow: [arp] }")
            == "t.yaml:2:58: hosts[0].allow: a decommissioned host may send nothing at all; remove allow, or declare the host idle")
    }

    @Test func allowEntries() throws {
        let site = try SiteLoader.parse("""
            hosts:
              - { address: 10.0.0.1, name: a, state: idle, allow: [ICMP, 8080, 161/udp, tcp/8443, "udp/5000"] }
              - { address: 10.0.0.2, name: b, state: active, allow: [ssdp] }
            """, path: "t.yaml")
        #expect(site.hosts[0].allow == [
            .service("icmp"), .port(PortSpec(port: 8080)), .port(PortSpec(port: 161, transport: .udp)),
            .port(PortSpec(port: 8443)), .port(PortSpec(port: 5000, transport: .udp)),
        ])
        // Meaningless on an active host, but harmless: kept.
        #expect(site.hosts[1].allow == [.service("ssdp")])
    }

    @Test func duplicateHosts() {
        #expect(problem("""
            hosts:
              - { address: 10.0.5.20, name: a, state: idle }
              - { address: 10.0.7.0/28, name: b, state: idle }
              - { address: 10.0.5.20/32, name: c, state: active }
            """) == "t.yaml:4:16: hosts[2].address: 10.0.5.20 is already in the inventory as hosts[0] (line 2)")
        // Overlapping but different networks are fine (the most specific wins).
        #expect(problems("hosts:\n  - { address: 10.0.0.0/16, name: a, state: active }\n  - { address: 10.0.0.0/24, name: b, state: idle }").isEmpty)
    }

    @Test func insideLocalNetworks() {
        #expect(problem("hosts:\n  - { address: 8.8.8.8, name: a, state: idle }")
            == "t.yaml:2:16: hosts[0].address: 8.8.8.8 is outside local_networks (by default the private ranges); add its network there")
        #expect(problem("local_networks: [10.0.0.0/16]\nhosts:\n  - { address: 10.0.0.0/8, name: a, state: idle }")
            == "t.yaml:3:16: hosts[0].address: 10.0.0.0/8 is outside local_networks; add its network there")
        #expect(problem("maintenance_ports:\n  - { name: a, host: 8.8.4.4, port: 22 }")
            == "t.yaml:2:22: maintenance_ports[0].host: 8.8.4.4 is outside local_networks (by default the private ranges); a maintenance port is on a local host")
        // A public address counts as inside (a DMZ server without NAT).
        #expect(problems("public_addresses: [203.0.113.10]\nhosts:\n  - { address: 203.0.113.10, name: dmz, state: idle }").isEmpty)
        // No spurious complaints when local_networks itself is wrong.
        #expect(problem("local_networks: [10.0.0.1/8]\nhosts:\n  - { address: 10.0.0.9, name: a, state: idle }")
            .hasPrefix("t.yaml:1:18: local_networks[0]: host bits"))
        #expect(problem("local_networks: []").hasPrefix("t.yaml:1:17: local_networks: is empty; leave the key out"))
    }

    @Test func maintenancePorts() {
        let start = "maintenance_ports:\n  - name: a\n    host: 10.0.5.30\n"
        #expect(problem(start + "    port: 0") == "t.yaml:4:11: maintenance_ports[0].port: port 0 is out of range (1-65535)")
        #expect(problem(start + "    port: 65536") == "t.yaml:4:11: maintenance_ports[0].port: port 65536 is out of range (1-65535)")
        #expect(problem(start + "    port: -22") == "t.yaml:4:11: maintenance_ports[0].port: port -22 is out of range (1-65535)")
        #expect(problem(start + "    port: 22.5")
            == "t.yaml:4:11: maintenance_ports[0].port: '22.5' is not a port number (a whole number, 1-65535)")
        #expect(problem(start + "    port: ssh")
            == "t.yaml:4:11: maintenance_ports[0].port: 'ssh' is not a port number (a whole number, 1-65535)")
        #expect(problem(start + "    port: 022").hasPrefix("t.yaml:4:11: maintenance_ports[0].port: '022' has a leading zero"))
        #expect(problem("maintenance_ports:\n  - name: a\n    host: 10.0.5.30\n")
            == "t.yaml:2:5: maintenance_ports[0].port: missing (required): the internal port, 1-65535")
        let full = start + "    port: 22\n"
        #expect(problems(full).isEmpty)
        #expect(problem(full + "    proto: sctp")
            == "t.yaml:5:12: maintenance_ports[0].proto: 'sctp' is not a transport protocol (tcp or udp)")
        #expect(problem(full + "    closed: maybe") == "t.yaml:5:13: maintenance_ports[0].closed: 'maybe' is not true or false")
        #expect(problem(full + "    external: 203.0.113.10")
            .hasPrefix("t.yaml:5:15: maintenance_ports[0].external: '203.0.113.10' has no port"))
        #expect(problem(full + "    external: 203.0.113.10:0")
            == "t.yaml:5:15: maintenance_ports[0].external: port 0 is out of range (1-65535)")
        #expect(problem(full + "    external: 2001:db8::1:2222")
            .hasPrefix("t.yaml:5:15: maintenance_ports[0].external: '2001:db8::1:2222': write an IPv6 address in brackets"))
        #expect(problem("public_addresses: [203.0.113.10]\n" + full + "    external: 203.0.113.11:2222")
            == "t.yaml:6:15: maintenance_ports[0].external: 203.0.113.11 is not one of public_addresses")
        #expect(problem(full + "    expires: 2026-02-29")
            == "t.yaml:5:14: maintenance_ports[0].expires: '2026-02-29': there is no day 29 in that month")
        #expect(problem(full + "    expires: 31/12/2026")
            == "t.yaml:5:14: maintenance_ports[0].expires: '31/12/2026' is not a date YYYY-MM-DD")
        #expect(problem(full + "    allowed_sources: 198.51.100.0/24")
            == "t.yaml:5:22: maintenance_ports[0].allowed_sources: expected a list, found '198.51.100.0/24'")
    }

    @Test func maintenancePortOptions() throws {
        let site = try SiteLoader.parse("""
            local_networks: ["fd00::/8", 10.0.0.0/8]
            maintenance_ports:
              - name: snmp
                host: "fd00::5"
                port: "161"
                proto: UDP
                external: "[2001:db8::10]:1161"
                allowed_sources: [198.51.100.7, "2001:db8:99::/48"]
                windows: ["Mon-Fri 22:00-02:00", "sat,SUN 00:00-24:00"]
                expires: "2028-02-29"
                closed: no
            """, path: "t.yaml")
        let port = site.maintenancePorts[0]
        #expect(port.host == ip("fd00::5"))
        #expect(port.port == 161 && port.transport == .udp)
        #expect(port.externalAddress == ip("2001:db8::10") && port.externalPort == 1161)
        #expect(port.allowedSources == [net("198.51.100.7"), net("2001:db8:99::/48")])
        #expect(port.windows.map(\.days) == [[1, 2, 3, 4, 5], [6, 0]])
        #expect(port.expiresAt == utc(2028, 3, 1))
        #expect(!port.closed)
    }

    @Test func windows() {
        let start = "maintenance_ports:\n  - name: a\n    host: 10.0.5.30\n    port: 22\n    windows:\n      - daily 03:00-04:00\n"
        #expect(problems(start).isEmpty)
        #expect(problem(start + "      - Sat 01:00-01:00")
            == "t.yaml:7:9: maintenance_ports[0].windows[1]: '01:00-01:00' starts and ends at the same time; a whole day is 00:00-24:00")
        #expect(problem(start + "      - Sa 01:00-02:00")
            .hasPrefix("t.yaml:7:9: maintenance_ports[0].windows[1]: 'Sa' is not a day: use Mon, Tue,"))
        #expect(problem(start + "      - Sat 24:00-02:00")
            == "t.yaml:7:9: maintenance_ports[0].windows[1]: 24:00 can only end a window; start at 00:00")
        #expect(problem(start + "      - Sat 01:00-25:00")
            == "t.yaml:7:9: maintenance_ports[0].windows[1]: '25:00' is not a time of day (00:00-23:59)")
        #expect(problem(start + "      - 01:00-05:00")
            .hasPrefix("t.yaml:7:9: maintenance_ports[0].windows[1]: '01:00-05:00' is not a window: write DAYS HH:MM-HH:MM"))
        #expect(problem(start + "      - Sat 0100-0500")
            == "t.yaml:7:9: maintenance_ports[0].windows[1]: '0100' is not a time HH:MM")
    }

    @Test func duplicateMaintenanceNames() {
        #expect(problem("""
            maintenance_ports:
              - { name: vendor-ssh, host: 10.0.5.30, port: 22 }
              - { name: vendor-ssh, host: 10.0.5.31, port: 22 }
            """) == "t.yaml:3:13: maintenance_ports[1].name: another maintenance port is already named 'vendor-ssh': maintenance_ports[0] (line 2)")
    }

    @Test func remoteAdminPorts() throws {
        #expect(problem("remote_admin_ports: [22, 70000]")
            == "t.yaml:1:26: remote_admin_ports[1]: port 70000 is out of range (1-65535)")
        #expect(problem("remote_admin_ports: [22, 5/sctp]")
            == "t.yaml:1:26: remote_admin_ports[1]: 'sctp' is not a transport protocol (tcp or udp)")
        #expect(problem("remote_admin_ports: [22, sctp/5]")
            == "t.yaml:1:26: remote_admin_ports[1]: 'sctp' is not a transport protocol (tcp or udp)")
        #expect(problem("remote_admin_ports: [22, -1]") == "t.yaml:1:26: remote_admin_ports[1]: port -1 is out of range (1-65535)")
        #expect(problem("remote_admin_ports: [22, 2.5]")
            == "t.yaml:1:26: remote_admin_ports[1]: '2.5' is not a port number (a whole number, 1-65535)")
        // An empty list turns the undeclared remote-admin check off; repeats are dropped.
        #expect(try SiteLoader.parse("remote_admin_ports: []", path: "t.yaml").remoteAdminPorts.isEmpty)
        #expect(try SiteLoader.parse("remote_admin_ports: [22, 22/tcp, tcp/22, 22/udp]", path: "t.yaml").remoteAdminPorts
            == [PortSpec(port: 22), PortSpec(port: 22, transport: .udp)])
    }

    @Test func durations() throws {
        #expect(problem("learning: { period: 0s }") == "t.yaml:1:21: learning.period: the duration must be more than zero")
        #expect(problem("learning: { dormant_after: 72 }")
            .hasPrefix("t.yaml:1:28: learning.dormant_after: '72' needs a unit (s, m, h, d or w)"))
        #expect(problem("learning:\n  period: 1 day").hasPrefix("t.yaml:2:11: learning.period: '1 day' is not a duration"))
        let site = try SiteLoader.parse("learning: { period: 1d12h, dormant_after: 2w }", path: "t.yaml")
        #expect(site.learning.period == .seconds(36 * 3600))
        #expect(site.learning.dormantAfter == .seconds(14 * 86_400))
    }

    @Test func manyProblemsAllReportedInFileOrder() {
        let found = problems("""
            local_networks: [10.0.0.0/8, 10.0.0.1/8]
            hosts:
              - { address: 10.0.5.20, name: old-erp, state: retired }
              - { address: 10.0.5.20, name: erp2, state: idle, allow: [ntpd] }
            maintenance_ports:
              - { name: x, host: 10.0.5.30, port: 99999 }
              - { name: x, host: 10.0.5.31, port: 22, windows: ["Sat 01:00-01:00"] }
            remote_admin_ports: [22, 623/icmp]
            learning: { period: 0h, dormant_afer: 72h }
            extra: true
            """)
        #expect(found.map { $0.split(separator: ":").prefix(4).joined(separator: ":") } == [
            "t.yaml:1:30: local_networks[1]",
            "t.yaml:3:49: hosts[0].state",
            "t.yaml:4:16: hosts[1].address",
            "t.yaml:4:60: hosts[1].allow[0]",
            "t.yaml:6:39: maintenance_ports[0].port",
            "t.yaml:7:13: maintenance_ports[1].name",
            "t.yaml:7:53: maintenance_ports[1].windows[0]",
            "t.yaml:8:26: remote_admin_ports[1]",
            "t.yaml:9:21: learning.period",
            "t.yaml:9:25: learning.dormant_afer",
            "t.yaml:10:1: extra",
        ])
    }

    @Test func yamlSyntaxErrorsHaveALine() {
        let unclosed = problem("hosts:\n  - { address: 10.0.0.1, name: a\n  - { address: 10.0.0.2 }\n")
        #expect(unclosed.hasPrefix("t.yaml:3:5: YAML syntax error: did not find expected ',' or '}'"))
        #expect(problem("hosts:\n\t- x\n").hasPrefix("t.yaml:2:1: YAML syntax error:"))
        #expect(problem("hosts:\n\t- x\n").hasSuffix("YAML cannot indent with tabs, use spaces"))
        #expect(problem("learning:\n  period: 24h\n  period: 48h\n")
            == "t.yaml:2:3: YAML error: key 'period' appears more than once in the same mapping")
        #expect(problem("learning: {}\n---\nhosts: []\n")
            == "t.yaml:2:1: a site file holds one YAML document; this starts a second one")
        #expect(problem("hosts: [a, b\n").hasPrefix("t.yaml:2:1: YAML syntax error:"))
    }

    @Test func emptyValuesAndEmptyFile() throws {
        let empty = try SiteLoader.parse("", path: "t.yaml")
        #expect(empty.localNetworks == Site.privateNetworks)
        #expect(empty.remoteAdminPorts == Site.defaultRemoteAdminPorts)
        #expect(empty.learning.period == LearningSettings().period)
        #expect(empty.learning.dormantAfter == LearningSettings().dormantAfter)
        #expect(empty.hosts.isEmpty && empty.maintenancePorts.isEmpty && empty.publicAddresses.isEmpty)
        // `key:` with nothing after it is the same as leaving the key out.
        let blank = try SiteLoader.parse("# nothing yet\nlocal_networks:\nhosts:\nmaintenance_ports: ~\nlearning:\n", path: "t.yaml")
        #expect(blank.localNetworks == Site.privateNetworks)
        #expect(blank.hosts.isEmpty)
    }

    @Test func loadFromDisk() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("idlewatch-site-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = directory.appendingPathComponent("site.yaml").path
        try exampleSite.write(toFile: good, atomically: true, encoding: .utf8)
        let site = try SiteLoader.load(path: good)
        #expect(site.path == good)
        #expect(site.hosts.count == 3)

        let bad = directory.appendingPathComponent("bad.yaml").path
        try "hosts:\n  - { address: 10.0.0.1, name: a, state: sleeping }\n".write(toFile: bad, atomically: true, encoding: .utf8)
        #expect(throws: SiteFileError.self) { try SiteLoader.load(path: bad) }
        do {
            _ = try SiteLoader.load(path: bad)
        } catch {
            #expect(error.description == "\(bad):2:42: hosts[0].state: 'sleeping' is not a state: use decommissioned, idle or active")
        }

        let missing = directory.appendingPathComponent("missing.yaml").path
        do {
            _ = try SiteLoader.load(path: missing)
            Issue.record("a missing file loaded")
        } catch {
            #expect(error.problems.count == 1)
            #expect(error.description == "\(missing): cannot open: No such file or directory")
        }
        do {
            _ = try SiteLoader.load(path: directory.path)
            Issue.record("a directory loaded")
        } catch {
            #expect(error.description == "\(directory.path): cannot read: Is a directory")
        }

        let binary = directory.appendingPathComponent("binary.yaml").path
        _ = FileManager.default.createFile(atPath: binary, contents: Data([0x61, 0x3a, 0x0a, 0x62, 0xff]))
        do {
            _ = try SiteLoader.load(path: binary)
            Issue.record("invalid UTF-8 loaded")
        } catch {
            #expect(error.description == "\(binary):2:2: not valid UTF-8 text")
        }
    }
}
