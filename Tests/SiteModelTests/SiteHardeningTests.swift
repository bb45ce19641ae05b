// Site files written to attack the sensor or to quietly change its results: hostile characters and lengths in names,
// everything-is-local networks, IPv4-mapped addresses, empty lists that mean the opposite of each other, duplicates,
// a BOM with CRLF line ends; and the local-networks lookup against the plain walk it replaced.

import Foundation
import PacketDecoding
import SiteModel
import Testing

/// The warnings for `yaml`, which must load.
func warnings(_ yaml: String) throws -> [String] {
    try SiteLoader.parse(yaml, path: "t.yaml").warnings.map(\.description)
}

/// Each hostile character as a YAML double-quoted escape (YAML refuses most of them raw), with its code point.
let hostileEscapes: [(yaml: String, scalar: UInt32)] = [
    (#"\n"#, 0x0A), (#"\r"#, 0x0D), (#"\0"#, 0x00), (#"\e"#, 0x1B), (#"\t"#, 0x09), (#"\x7f"#, 0x7F),
    (#"\N"#, 0x85), (#"\x9b"#, 0x9B), (#"\L"#, 0x2028), (#"\P"#, 0x2029), (#"\u202e"#, 0x202E),
    (#"\u2066"#, 0x2066), (#"\u200f"#, 0x200F),
]

/// No character a terminal or a line-based collector would act on.
func isInert(_ text: String) -> Bool { !text.unicodeScalars.contains(where: DisplayText.isUnsafe) }

@Suite struct SiteHardeningTests {
    @Test("A host or maintenance-port name with a control, separator or bidi character is refused, in one clean line",
          arguments: hostileEscapes.map(\.yaml))
    func hostileNames(_ escape: String) throws {
        let code = String(format: "U+%04X", hostileEscapes.first { $0.yaml == escape }!.scalar)
        let forged = escape + "2026-11-21T10:00:00.000000Z sev1 decommissioned-host-active 10.0.0.9: forged"
        let host = problems("hosts:\n  - { address: 10.0.0.9, name: \"db\(forged)\", state: active }")
        #expect(host.count == 1, "\(host)")
        #expect(host.first?.hasPrefix("t.yaml:2:32: hosts[0].name: holds \(code)") == true, "\(host)")
        let port = problems("maintenance_ports:\n  - { name: \"ssh\(forged)\", host: 10.0.0.9, port: 22 }")
        #expect(port.count == 1 && port[0].hasPrefix("t.yaml:2:13: maintenance_ports[0].name: holds \(code)"), "\(port)")
        for line in host + port {
            #expect(isInert(line) && !line.contains("\n"), "\(line.debugDescription)")
        }
    }

    @Test("A NUL in a name is refused, not cut off where C would stop reading")
    func nulRefused() {
        #expect(problem("hosts:\n  - { address: 10.0.0.9, name: \"old-erp\\0hidden\", state: idle }")
            == "t.yaml:2:32: hosts[0].name: holds U+0000 (NUL) at character 8; names are shown in alert lines, "
                + "syslog and reports, so control, line-separator and bidirectional-override characters are refused")
    }

    @Test("Names are at most 256 bytes; other Unicode and backslashes are names like any other")
    func nameLength() throws {
        let long = String(repeating: "a", count: 100_000)
        #expect(problem("hosts:\n  - { address: 10.0.0.9, name: \(long), state: idle }")
            == "t.yaml:2:32: hosts[0].name: is 100000 bytes long; a name is at most 256 bytes (UTF-8), as a DNS name")
        let fits = String(repeating: "é", count: 128)  // 256 bytes
        let site = try SiteLoader.parse("hosts:\n  - { address: 10.0.0.9, name: \(fits), state: idle }\n"
                                        + "  - { address: 10.0.0.8, name: 'CORP\\fileserver caméra', state: idle }", path: "t.yaml")
        #expect(site.hosts.map(\.name) == [fits, #"CORP\fileserver caméra"#])
        #expect(problems("hosts:\n  - { address: 10.0.0.9, name: \(fits)x, state: idle }").count == 1)
    }

    @Test("Keys and values quoted in messages cannot forge a line of check-site's output")
    func hostileKeysAndValues() {
        let messages = problems("\"local\\nt.yaml:1:1: ok\": 1\nhosts:\n  - { address: 10.0.0.9, name: a, state: \"idle\\e[2J\" }")
        #expect(messages.count == 2, "\(messages)")
        #expect(messages.allSatisfy { isInert($0) }, "\(messages)")
        #expect(messages.first?.hasPrefix(#"t.yaml:1:1: local\x0at.yaml:1:1: ok: unknown key"#) == true, "\(messages)")
        #expect(messages.last?.contains(#"'idle\x1b[2J' is not a state"#) == true, "\(messages)")
        // A value of a megabyte is quoted as its first kilobyte.
        let huge = problem("hosts:\n  - { address: 10.0.0.9, name: a, state: \(String(repeating: "x", count: 1 << 20)) }")
        #expect(huge.utf8.count < 1200 && huge.hasSuffix("..."), "\(huge.utf8.count) bytes")
    }

    // MARK: Site files that quietly change results

    @Test("local_networks covering every address is refused: nothing would ever be inbound")
    func everythingLocal() throws {
        #expect(problem("local_networks: [0.0.0.0/0]").hasPrefix(
            "t.yaml:1:18: local_networks[0]: 0.0.0.0/0 covers every IPv4 address: no source would be outside"))
        #expect(problem("local_networks: [10.0.0.0/8, \"::/0\"]").hasPrefix(
            "t.yaml:1:30: local_networks[1]: ::/0 covers every IPv6 address"))
        // Very wide but not everything: accepted, with a warning.
        #expect(try warnings("local_networks: [0.0.0.0/2]") == [
            "t.yaml:1:18: warning: local_networks[0]: 0.0.0.0/2 is 1/4 of all IPv4 addresses: traffic from anywhere "
                + "in it counts as inside, and is never checked as inbound"])
        #expect(try warnings("local_networks: [10.0.0.0/8, \"fc00::/7\"]").isEmpty)
    }

    @Test("IPv4-mapped IPv6 addresses are read as IPv4, with a warning, so they match IPv4 packets")
    func ipv4Mapped() throws {
        let yaml = """
            local_networks: ["::ffff:10.0.0.0/104"]
            public_addresses: ["::ffff:203.0.113.10"]
            hosts:
              - { address: "::ffff:10.0.5.20", name: old-erp, state: decommissioned }
            maintenance_ports:
              - { name: vendor-ssh, host: "::ffff:10.0.5.30", port: 22, external: "[::ffff:203.0.113.10]:2222",
                  allowed_sources: ["::ffff:198.51.100.0/120"] }
            """
        let site = try SiteLoader.parse(yaml, path: "t.yaml")
        #expect(site.localNetworks == [IPNetwork("10.0.0.0/8")!])
        #expect(site.publicAddresses == [IPAddress("203.0.113.10")!])
        #expect(site.inventory(for: IPAddress("10.0.5.20")!)?.name == "old-erp")
        #expect(site.isLocal(IPAddress("10.1.2.3")!) && !site.isLocal(IPAddress("::ffff:10.1.2.3")!))
        let port = try #require(site.maintenancePorts.first)
        #expect(port.host == IPAddress("10.0.5.30")! && port.externalAddress == IPAddress("203.0.113.10")!)
        #expect(port.allowedSources == [IPNetwork("198.51.100.0/24")!])
        #expect(site.warnings.count == 6)
        #expect(site.warnings.first?.description == "t.yaml:1:18: warning: local_networks[0]: '::ffff:10.0.0.0/104' is an "
            + "IPv4-mapped IPv6 address, read as 10.0.0.0/8: IPv4 packets carry the IPv4 form, which the mapped form "
            + "never matches; write 10.0.0.0/8")
        // The mapped and the plain form of one host are the same entry twice.
        #expect(problem("hosts:\n  - { address: 10.0.5.20, name: a, state: idle }\n  - { address: \"::ffff:10.0.5.20\", name: b, state: idle }")
            .hasPrefix("t.yaml:3:16: hosts[1].address: 10.0.5.20 is already in the inventory as hosts[0]"))
        // Other IPv6 addresses stay IPv6.
        #expect(try SiteSyntax.network("::fffe:0:0/95").address.isIPv6)
        #expect(try SiteSyntax.address("::1").isIPv6)
    }

    @Test("windows: [] is refused: it would mean any time where allowed_sources: [] means nobody")
    func emptyWindows() throws {
        #expect(problem("maintenance_ports:\n  - { name: a, host: 10.0.0.1, port: 22, windows: [] }").hasPrefix(
            "t.yaml:2:42: maintenance_ports[0].windows: is empty, which would mean any time (as if the key were left "
                + "out), while allowed_sources: [] means nobody"))
        // allowed_sources: [] keeps its documented meaning, the same as leaving the key out: nobody.
        let site = try SiteLoader.parse("maintenance_ports:\n  - { name: a, host: 10.0.0.1, port: 22, allowed_sources: [] }",
                                        path: "t.yaml")
        #expect(site.maintenancePorts.first?.allowedSources.isEmpty == true && site.warnings.isEmpty)
    }

    @Test("Two maintenance ports on one host port, or one outside mapping twice, are refused: only the first applies")
    func duplicatePorts() {
        let twice = problems("""
            public_addresses: [203.0.113.10]
            maintenance_ports:
              - { name: a, host: 10.0.0.1, port: 22, external: "203.0.113.10:2222" }
              - { name: b, host: 10.0.0.1, port: 22, proto: udp }
              - { name: c, host: 10.0.0.1, port: 22 }
              - { name: d, host: 10.0.0.2, port: 22, external: "203.0.113.10:2222" }
              - { name: e, host: 10.0.0.3, port: 22, proto: udp, external: "203.0.113.10:2222" }
            """)
        #expect(twice == [
            "t.yaml:5:38: maintenance_ports[2].port: 10.0.0.1:22/tcp is already declared as 'a' (maintenance_ports[0], "
                + "line 3); only the first would ever apply: merge the two",
            "t.yaml:6:52: maintenance_ports[3].external: 203.0.113.10:2222/tcp is already the mapping of 'a' "
                + "(maintenance_ports[0], line 3); one outside address and port forwards to one inside port",
        ])
    }

    @Test("Duplicates in lists that are sets are accepted once, with a warning")
    func duplicateListItems() throws {
        let found = try warnings("""
            local_networks: [10.0.0.0/8, 10.0.0.0/8]
            remote_admin_ports: [22, 22/tcp, 161/udp]
            hosts:
              - { address: 10.0.0.9, name: cam, state: idle, allow: [arp, ARP, 123/udp] }
            """)
        #expect(found == [
            "t.yaml:1:30: warning: local_networks[1]: 10.0.0.0/8 is listed twice",
            "t.yaml:2:26: warning: remote_admin_ports[1]: 22/tcp is listed twice",
            "t.yaml:4:63: warning: hosts[0].allow[1]: arp is listed twice",
        ])
    }

    // MARK: Encodings

    @Test("A site file with a UTF-8 byte-order mark and CRLF line ends reads as the same file without them")
    func bomAndCRLF() throws {
        let text = "local_networks: [10.0.0.0/8]\nhosts:\n  - { address: 10.0.5.20, name: old-erp, state: decommissioned }\n"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("site-bom-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (name, bytes) in [("bom", [0xEF, 0xBB, 0xBF] + Array(text.utf8)),
                              ("crlf", Array(text.replacingOccurrences(of: "\n", with: "\r\n").utf8)),
                              ("both", [0xEF, 0xBB, 0xBF] + Array(text.replacingOccurrences(of: "\n", with: "\r\n").utf8))] {
            let path = directory.appendingPathComponent(name + ".yaml").path
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            let site = try SiteLoader.load(path: path)
            #expect(site.localNetworks == [IPNetwork("10.0.0.0/8")!], "\(name)")
            #expect(site.hosts.map(\.name) == ["old-erp"], "\(name)")
        }
        // Positions in a CRLF file count lines as in the LF one.
        let bad = [0xEF, 0xBB, 0xBF] + Array("hosts:\r\n  - { address: 10.0.5.20, name: a, state: dormant }\r\n".utf8)
        let path = directory.appendingPathComponent("bad.yaml").path
        FileManager.default.createFile(atPath: path, contents: Data(bad))
        #expect(throws: SiteFileError.self) { try SiteLoader.load(path: path) }
        do {
            _ = try SiteLoader.load(path: path)
        } catch {
            #expect(error.problems.map(\.description) == ["\(path):2:43: hosts[0].state: 'dormant' is not a state: use decommissioned, idle or active"])
        }
    }

    // MARK: The local-networks lookup

    @Test("isLocal answers as the walk over every network and public address did, walked or hashed",
          arguments: [(3, 2), (11, 4), (13, 4), (2_000, 50)])
    func localLookupMatchesWalk(ipv4Networks: Int, publicCount: Int) {
        var generator = SystemRandomNumberGenerator()
        var seeded = SplitMix(seed: UInt64(ipv4Networks))
        var networks: [IPNetwork] = []
        for _ in 0..<ipv4Networks {
            let prefix = Int(seeded.next() % 25) + 8
            networks.append(IPNetwork(address: IPAddress(ipv4: UInt32(truncatingIfNeeded: seeded.next())), prefixLength: prefix)!)
        }
        for _ in 0..<max(1, ipv4Networks / 7) {
            let prefix = Int(seeded.next() % 121) + 8
            networks.append(IPNetwork(address: IPAddress(ipv6High: seeded.next() | 0xfd00_0000_0000_0000, low: seeded.next()),
                                      prefixLength: prefix)!)
        }
        let publics = (0..<publicCount).map { _ in IPAddress(ipv4: UInt32(truncatingIfNeeded: seeded.next())) }
        let site = Site(localNetworks: networks, publicAddresses: publics)
        func walk(_ address: IPAddress) -> Bool {
            networks.contains { $0.contains(address) } || publics.contains(address)
        }
        var probes = publics + networks.map(\.address)
        for network in networks.prefix(500) {
            // Just inside and just outside each network.
            let a = network.address
            probes.append(a.isIPv6 ? IPAddress(ipv6High: a.high, low: a.low | 1) : IPAddress(ipv4: a.ipv4Value | 1))
            probes.append(a.isIPv6 ? IPAddress(ipv6High: a.high ^ 0x8000, low: a.low) : IPAddress(ipv4: a.ipv4Value ^ 0x8000))
        }
        for _ in 0..<20_000 { probes.append(IPAddress(ipv4: UInt32.random(in: 0...UInt32.max, using: &generator))) }
        let disagreements = probes.filter { site.isLocal($0) != walk($0) }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5))")
        #expect(probes.contains { site.isLocal($0) } && probes.contains { !site.isLocal($0) })
    }

    @Test("isLocal follows changes to local_networks and public_addresses")
    func localLookupFollowsChanges() {
        // The lookup follows changes to either list.
        var changed = Site(localNetworks: [IPNetwork("10.0.0.0/8")!], publicAddresses: [IPAddress("203.0.113.10")!])
        #expect(changed.isLocal(IPAddress("10.9.9.9")!) && changed.isLocal(IPAddress("203.0.113.10")!))
        changed.localNetworks = [IPNetwork("192.0.2.0/24")!]
        #expect(changed.isLocal(IPAddress("192.0.2.7")!) && !changed.isLocal(IPAddress("10.9.9.9")!))
        changed.publicAddresses = []
        #expect(!changed.isLocal(IPAddress("203.0.113.10")!))
    }
}

/// A small deterministic generator (SplitMix64), so a failure names the same networks every run.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
