// The site-file defects of issue 14 through the commands: hostile names in check-site, alerts and the hosts report
// (one line per record, no raw control, JSON that parses back to the name), warnings and --strict, and
// `hosts --silent-days 0`.

import Detection
import Foundation
import OutputSinks
import PacketCapture
import Sensor
import SiteModel
import StateStore
import Testing

/// Each hostile character a name might carry (newline, CR, NUL, ESC, tab, DEL, NEL, CSI, LS, PS, RLO, LRI, RLM).
let hostileCharacters: [Character] = ["\n", "\r", "\0", "\u{1b}", "\t", "\u{7f}", "\u{85}", "\u{9b}", "\u{2028}",
                                      "\u{2029}", "\u{202e}", "\u{2066}", "\u{200f}"]
let forgedLine = "2026-11-21T10:00:00.000000Z sev1 decommissioned-host-active 10.0.0.9: forged"

/// Each line free of what could forge or hide text (the newlines between lines aside).
func inert(_ text: String) -> Bool {
    text.split(separator: "\n", omittingEmptySubsequences: false).allSatisfy {
        !$0.unicodeScalars.contains(where: DisplayText.isUnsafe)
    }
}

/// The sample site with every inventory and maintenance-port name replaced by one carrying a hostile character (in
/// turn), and one inventory name of 100 KB: a site only code can build (the loader refuses these names), as a state
/// file written by an older sensor may hold.
func hostileSampleSite() throws -> Site {
    var site = try SiteLoader.load(path: TestPaths.captures.appendingPathComponent("site.yaml").path)
    site.hosts = site.hosts.enumerated().map { index, entry in
        var entry = entry
        entry.name = index == 0 ? String(repeating: "L", count: 100_000)
            : entry.name + String(hostileCharacters[index % hostileCharacters.count]) + forgedLine
        return entry
    }
    site.maintenancePorts = site.maintenancePorts.enumerated().map { index, port in
        var port = port
        port.name += String(hostileCharacters[(index + 3) % hostileCharacters.count]) + forgedLine
        return port
    }
    return site
}

@Suite("Site-file hardening through the commands")
struct SiteHardeningCommandTests {
    @Test("check-site refuses each hostile name with one clean line per problem, NUL included")
    func checkSiteHostileNames() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let escapes = [#"\n"#, #"\r"#, #"\0"#, #"\e"#, #"\t"#, #"\x7f"#, #"\N"#, #"\x9b"#, #"\L"#, #"\P"#, #"\u202e"#]
        var yaml = "hosts:\n"
        for (index, escape) in escapes.enumerated() {
            yaml += "  - { address: 10.0.0.\(index + 1), name: \"db\(escape)\(forgedLine)\", state: active }\n"
        }
        let path = directory.appendingPathComponent("hostile.yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try runIdleWatch(["check-site", path])
        #expect(result.status == 1)
        let lines = result.standardError.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == escapes.count + 1, "\(result.standardError.debugDescription)")
        #expect(inert(result.standardError), "\(result.standardError.prefix(2000).debugDescription)")
        #expect(lines.dropLast().allSatisfy { $0.contains(": hosts[") && $0.contains("].name: holds U+") })
        #expect(lines.contains { $0.contains("holds U+0000 (NUL)") })
        #expect(result.standardOutput.isEmpty)
    }

    @Test("Alerts from a site with hostile names: every text and JSON line is one inert record; JSON keeps the name")
    func alertsWithHostileNames() throws {
        let site = try hostileSampleSite()
        let raised = alerts(of: [TestPaths.captures.path], site: site)
        #expect(raised.count >= 10)
        let hostileNamed = raised.filter { $0.host.name.map { $0.contains(forgedLine) } == true }
        #expect(!hostileNamed.isEmpty)
        for alert in raised {
            let text = AlertFormatter.text(alert)
            #expect(inert(text) && !text.contains("\n"), "\(text.debugDescription)")
            let json = AlertFormatter.json(alert)
            #expect(inert(json) && !json.contains("\n"), "\(json.debugDescription)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            #expect((object["host"] as? [String: Any])?["name"] as? String == alert.host.name || alert.host.name == nil)
            for format in SyslogMessageFormat.allCases {
                let message = String(decoding: try SyslogFormatter(format: format, hostname: "s", processID: 1).message(alert),
                                     as: UTF8.self)
                #expect(inert(message), "\(message.debugDescription)")
            }
        }
    }

    @Test("The hosts report of a state holding hostile and huge names: escaped, bounded, JSON intact")
    func hostsReportWithHostileNames() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = directory.appendingPathComponent("state.db").path
        let site = try hostileSampleSite()
        do {
            var configuration = PipelineConfiguration()
            configuration.site = site
            var pipeline = Pipeline(configuration: configuration, output: nil)
            try pipeline.attachState(try StateFile.openForWriting(path: state), interval: .seconds(300), resume: true)
            ReplaySource(paths: [TestPaths.captures.path]).run(&pipeline)
            pipeline.finish()
        }
        let text = try runIdleWatch(["hosts", "--state", state, "--silent-days", "0", "--outside"])
        #expect(text.status == 0, "\(text.standardError)")
        #expect(inert(text.standardOutput), "a raw control character in the report")
        #expect(!text.standardOutput.contains("\r"))
        // Before: every row of a column padded to the 100 KB name (hundreds of MB on a large inventory).
        #expect(text.standardOutput.utf8.count < 200_000, "\(text.standardOutput.utf8.count) bytes")
        #expect(text.standardOutput.contains(String(repeating: "L", count: 253) + "..."))
        #expect(!text.standardOutput.split(separator: "\n").contains { $0.hasPrefix("2026-") }, "a forged line")
        #expect(text.standardOutput.contains(#"\x0a2026-11-21T10:00:00.000000Z sev1"#)
            || text.standardOutput.contains(#"\x0d2026-11-21T10:00:00.000000Z sev1"#))

        let json = try runIdleWatch(["hosts", "--state", state, "--format", "json", "--silent-days", "0"])
        #expect(json.status == 0 && inert(json.standardOutput))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any])
        let names = Set(((object["decommission_candidates"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String })
        // The state file keeps a name up to a NUL (SQLite text); the loader refuses NUL, so only code can make one.
        let active = Set(site.hosts.filter { $0.state == .active }.map { String($0.name.prefix { $0 != "\0" }) })
        // --silent-days 0: every host declared active is listed, with its silence.
        #expect(names == active, "\(names.count) of \(active.count): \(active.subtracting(names).map { $0.prefix(40) })")
    }

    @Test("hosts --silent-days accepts 0 (every active host) and refuses what is outside 0...36500, saying so")
    func silentDaysRange() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = directory.appendingPathComponent("state.db").path
        let sampleSite = TestPaths.captures.appendingPathComponent("site.yaml").path
        let replay = try runIdleWatch(["replay", "--site", sampleSite, "--state", state, TestPaths.captures.path])
        #expect(replay.status == 0, "\(replay.standardError)")
        let zero = try runIdleWatch(["hosts", "--state", state, "--silent-days", "0"])
        #expect(zero.status == 0, "\(zero.standardError)")
        let activeCount = try SiteLoader.load(path: sampleSite).hosts.filter { $0.state == .active }.count
        #expect(zero.standardOutput.contains("nothing from them for 0s or more (\(activeCount))"), "\(zero.standardOutput)")
        for bad in ["-1", "36501", "nan"] {
            let refused = try runIdleWatch(["hosts", "--state", state, "--silent-days=" + bad])
            #expect(refused.status == 64, "\(bad): \(refused.status)")
            #expect(refused.standardError.contains("--silent-days must be between 0 and 36500"), "\(refused.standardError)")
        }
    }

    @Test("Warnings: check-site prints them and exits 0, --strict refuses, replay prints them before reading")
    func warningsChannel() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("mapped.yaml").path
        try "hosts:\n  - { address: \"::ffff:10.50.0.20\", name: old-erp, state: decommissioned }\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let check = try runIdleWatch(["check-site", path])
        #expect(check.status == 0, "\(check.standardError)")
        #expect(check.standardError == "\(path):2:16: warning: hosts[0].address: '::ffff:10.50.0.20' is an IPv4-mapped "
            + "IPv6 address, read as 10.50.0.20: IPv4 packets carry the IPv4 form, which the mapped form never matches; "
            + "write 10.50.0.20\n")
        #expect(check.standardOutput.hasPrefix("\(path): ok: ") && check.standardOutput.hasSuffix("(1 warning)\n"))
        let strict = try runIdleWatch(["check-site", "--strict", path])
        #expect(strict.status == 1 && strict.standardError.hasSuffix("\(path): 1 warning (--strict)\n"), "\(strict.standardError)")
        let replay = try runIdleWatch(["replay", "--site", path, TestPaths.captures.path])
        #expect(replay.status == 0)
        #expect(replay.standardError.hasPrefix("idlewatch: \(path):2:16: warning: hosts[0].address:"), "\(replay.standardError)")
        // The mapped address matched the IPv4 packets: the sample captures' decommissioned host 10.50.0.20 talks.
        #expect(replay.outputLines.contains { $0.contains("decommissioned-host-active") && $0.contains("old-erp") },
                "\(replay.standardOutput)")
    }
}
