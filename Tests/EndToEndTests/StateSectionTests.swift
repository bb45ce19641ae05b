// The state file's layout (schema 3, and 4's inventory MACs): the same state saves to the same rows and bytes; a schema 2 file written by
// the build before sections loads and continues as one run would; sections this build does not know are skipped
// and said once; a section newer than this build reads is refused (a stage's) or started empty and said (a
// detection's); a missing section is empty state.

import Foundation
import GRDB
import StateStore
import Testing

@Suite("State file: named, versioned sections", .serialized)
struct StateSectionTests {
    static let sampleSite = TestPaths.captures.appendingPathComponent("site.yaml").path
    /// A state file of schema 2 made by the build before sections, from the sample captures before a cut inside the
    /// inbound scan (40 flows open), and what that run wrote: see Tests/Fixtures/state-schema2/make.sh.
    static let schema2Directory = TestPaths.packageRoot.appendingPathComponent("Tests/Fixtures/state-schema2")
    static let schema2File = schema2Directory.appendingPathComponent("schema2.db").path
    static func schema2Part1() throws -> String {
        try String(contentsOfFile: schema2Directory.appendingPathComponent("part1.json").path, encoding: .utf8)
    }

    /// JSON alert lines without what alerts gained after the schema 2 build wrote part1.json (issue 16: MACs, VLANs,
    /// the flow so far, counts, a woken host's last activity), so its lines compare with this build's.
    static func withoutLaterAlertContent(_ lines: String) -> String {
        lines.replacing(/,"(src_mac|dest_mac|last_active_before|last_peer|last_service|last_role)":"[^"]*"/, with: "")
            .replacing(/,"vlan":\[[^\]]*\]/, with: "").replacing(/,"flow":\{[^}]*\}/, with: "")
            .replacing(/,"(ports_tried|hosts_tried|sessions|session_shortest|session_median|session_longest)":[0-9.]+/,
                       with: "")
    }

    /// The whole sample directory replayed in one run with a new state file (JSON alerts).
    static func wholeRun(in directory: URL) throws -> String {
        let whole = try runIdleWatch(["replay", "--site", sampleSite, "--format", "json", "--state",
                                      directory.appendingPathComponent("whole.db").path, TestPaths.captures.path])
        #expect(whole.status == 0, "\(whole.standardError)")
        return whole.standardOutput
    }

    /// A copy of the schema 2 fixture, continued by a replay of the whole directory (the packets it accounts for
    /// are skipped), after `sql` ran on the copy.
    static func continueSchema2(in directory: URL, name: String, sql: String? = nil) throws -> (String, ProcessResult) {
        let state = directory.appendingPathComponent(name).path
        try FileManager.default.copyItem(atPath: schema2File, toPath: state)
        if let sql { try DatabaseQueue(path: state).writeWithoutTransaction { try $0.execute(sql: sql) } }
        return (state, try runIdleWatch(["replay", "--site", sampleSite, "--format", "json", "--state", state,
                                         TestPaths.captures.path]))
    }

    /// Every table's rows in storage order (meta's `saved_at`, the wall-clock time of the save, aside), by table.
    static func contents(_ path: String) throws -> [String: [Row]] {
        try DatabaseQueue(path: path).read { db in
            var tables: [String: [Row]] = [:]
            let names = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            for name in names {
                let filter = name == "meta" ? " WHERE key != 'saved_at'" : ""
                tables[name] = try Row.fetchAll(db, sql: "SELECT * FROM \(name)\(filter) ORDER BY rowid")
            }
            return tables
        }
    }

    /// Part 1 of the sample captures (open flows, scan windows, suppression and incidents straddle the cut) and
    /// part 2.
    static func parts(in directory: URL) throws -> (String, String) {
        let part1 = directory.appendingPathComponent("part1.pcap").path
        let part2 = directory.appendingPathComponent("part2.pcap").path
        _ = try writeParts(of: [TestPaths.captures.path], splitAt: 250, to: [part1, part2])
        return (part1, part2)
    }

    @Test("the same state, saved by two runs into two files, gives the same rows in every table and the same bytes")
    func sameStateSameBytes() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (part1, _) = try Self.parts(in: directory)
        var saved: [[String: [Row]]] = []
        for name in ["a.db", "b.db"] {
            let state = directory.appendingPathComponent(name).path
            let run = try runIdleWatch(["replay", "--site", Self.sampleSite, "--state", state, part1])
            #expect(run.status == 0, "\(run.standardError)")
            saved.append(try Self.contents(state))
        }
        #expect(Set(saved[0].keys) == Set(saved[1].keys))
        for (table, rows) in saved[0].sorted(by: { $0.key < $1.key }) {
            let other = saved[1][table] ?? []
            #expect(rows.count == other.count, "table \(table): \(rows.count) rows and \(other.count)")
            if let row = rows.indices.first(where: { $0 < other.count && rows[$0] != other[$0] }) {
                Issue.record("table \(table), row \(row + 1): \(rows[row]) and \(other[row])")
            }
        }
    }

    @Test("a schema 2 file of the build before sections loads (converted on reading) and continues as one run would")
    func schema2FileContinues() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let version = try DatabaseQueue(path: Self.schema2File).read { try Int.fetchOne($0, sql: "PRAGMA user_version") }
        #expect(version == 2, "the fixture must stay a schema 2 file")
        let whole = try Self.wholeRun(in: directory)
        let (state, rest) = try Self.continueSchema2(in: directory, name: "old.db")
        #expect(rest.status == 0, "\(rest.standardError)")
        #expect(rest.standardError.contains("(51 hosts, 40 open flows)"), "\(rest.standardError)")
        #expect(!rest.standardOutput.isEmpty)
        #expect(try Self.schema2Part1() + Self.withoutLaterAlertContent(rest.standardOutput)
                    == Self.withoutLaterAlertContent(whole), "part 1 (schema 2) and the rest differ from one run")
        // Its first save replaced the blobs with sections, and says schema 3.
        let (tables, sections, user) = try DatabaseQueue(path: state).read { db in
            (try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'"),
             try String.fetchAll(db, sql: "SELECT name FROM sections ORDER BY rowid"),
             try Int.fetchOne(db, sql: "PRAGMA user_version"))
        }
        #expect(!tables.contains("blobs") && user == StateFile.schemaVersion)
        #expect(sections.prefix(5) == ["hosts.layout", "flows", "hosts.macs", "engine.flows", "ledger"])
        #expect(sections.contains("detection.scans"))
    }

    @Test("the inventory's declared MACs are saved (schema 4) and read back by a report run without the site file")
    func inventoryMACs() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let site = directory.appendingPathComponent("site.yaml")
        try """
            hosts:
              - { mac: 00:11:22:33:44:55, name: old-erp, state: decommissioned }
              - { address: 10.0.5.20, mac: [00:1a:2b:3c:4d:5e, 00:1a:2b:3c:4d:5f], name: files, state: active }
            """.write(to: site, atomically: true, encoding: .utf8)
        let state = directory.appendingPathComponent("macs.db").path
        let run = try runIdleWatch(["replay", "--site", site.path, "--format", "json", "--state", state,
                                    TestPaths.captures.appendingPathComponent("basic-lan.pcap").path])
        #expect(run.status == 0, "\(run.standardError)")
        let rows = try DatabaseQueue(path: state).read { db in
            try Row.fetchAll(db, sql: "SELECT network, name, macs FROM inventory ORDER BY position").map {
                "\($0["network"] as String) \($0["name"] as String) \($0["macs"] as String)"
            }
        }
        #expect(rows == [" old-erp 00:11:22:33:44:55", "10.0.5.20 files 00:1a:2b:3c:4d:5e,00:1a:2b:3c:4d:5f"])
        let report = try runIdleWatch(["hosts", "--state", state, "--format", "json"])
        #expect(report.status == 0, "\(report.standardError)")
        // A damaged MAC is refused naming the row and the column.
        try DatabaseQueue(path: state).write { try $0.execute(sql: "UPDATE inventory SET macs = 'ff:ff:ff:ff:ff:ff' WHERE position = 0") }
        let damaged = try runIdleWatch(["hosts", "--state", state])
        #expect(damaged.status != 0 && damaged.standardError.contains("table inventory, row 1")
                && damaged.standardError.contains("column macs"), "\(damaged.standardError)")
    }

    @Test("the hosts report judges hosts by their declared MACs as the sensor does: every address a declared MAC was bound to")
    func reportByDeclaredMAC() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let site = directory.appendingPathComponent("site.yaml")
        // basic-lan.pcap: 10.10.0.1 and fd00:10::1 send from 02:1d:77:0a:00:01, 10.10.0.2 and fd00:10::2 from :02.
        try """
            hosts:
              - { mac: 02:1d:77:0a:00:01, name: old-erp, state: decommissioned }
              - { mac: 02:1d:77:0a:00:02, name: files, state: active }
            """.write(to: site, atomically: true, encoding: .utf8)
        let state = directory.appendingPathComponent("mac.db").path
        let run = try runIdleWatch(["replay", "--site", site.path, "--format", "json", "--state", state,
                                    TestPaths.captures.appendingPathComponent("basic-lan.pcap").path])
        #expect(run.status == 0, "\(run.standardError)")
        let report = try runIdleWatch(["hosts", "--state", state, "--format", "json", "--silent-days", "0"])
        #expect(report.status == 0, "\(report.standardError)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.standardOutput.utf8)) as? [String: Any])
        let talked = (json["declared_quiet_but_active"] as? [[String: Any]] ?? []).compactMap { $0["address"] as? String }
        #expect(Set(talked) == ["10.10.0.1", "fd00:10::1"], "\(report.standardOutput)")
        let candidates = (json["decommission_candidates"] as? [[String: Any]] ?? [])
        let files = try #require(candidates.first { $0["name"] as? String == "files" }, "\(report.standardOutput)")
        // Its last frame as the capture has it (whatever address it came from), read by tcpdump.
        let lastFrame = try sh("TZ=UTC tcpdump -nn -tttt -r \(TestPaths.captures.appendingPathComponent("basic-lan.pcap").path) "
                               + "ether src 02:1d:77:0a:00:02 2>/dev/null | tail -1 | cut -d' ' -f1,2")
            .trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: " ", with: "T") + "Z"
        #expect(files["last_seen"] as? String == lastFrame, "its last frame")
    }

    /// A state file saved by part 1 of the sample captures, and copies of it changed by SQL and continued by part 2.
    struct Split {
        let directory: URL
        let part1: String, part2: String, base: String
        /// What part 1 wrote, and one run over both parts.
        let first: String, whole: String

        init() throws {
            directory = TestPaths.temporaryDirectory()
            (part1, part2) = try StateSectionTests.parts(in: directory)
            base = directory.appendingPathComponent("base.db").path
            let run = try runIdleWatch(["replay", "--site", sampleSite, "--format", "json", "--state", base, part1])
            #expect(run.status == 0, "\(run.standardError)")
            first = run.standardOutput
            whole = try runIdleWatch(["replay", "--site", sampleSite, "--format", "json", "--state",
                                      directory.appendingPathComponent("whole.db").path, part1, part2]).standardOutput
        }

        func continued(_ name: String, _ sql: String) throws -> (state: String, before: [String: [Row]], run: ProcessResult) {
            let state = directory.appendingPathComponent(name).path
            try FileManager.default.copyItem(atPath: base, toPath: state)
            try DatabaseQueue(path: state).writeWithoutTransaction {
                try $0.execute(sql: sql)
                try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            }
            let before = try StateSectionTests.contents(state)
            return (state, before, try runIdleWatch(["replay", "--site", sampleSite, "--format", "json", "--state", state,
                                                     part2]))
        }
    }

    @Test("a section this build does not know is skipped and said once; a missing section is empty state")
    func unknownAndMissingSections() throws {
        let split = try Split()
        defer { try? FileManager.default.removeItem(at: split.directory) }
        #expect(!split.whole.isEmpty && split.whole.hasPrefix(split.first) && split.whole != split.first)
        // A removed detection's section and a newer build's stage: skipped, the run as it would have been.
        let unknown = try split.continued("unknown.db", """
            INSERT INTO sections VALUES ('detection.retired-rule', 1, X'0000000000000000');
            INSERT INTO sections VALUES ('hosts.future', 4, X'FF')
            """).run
        #expect(unknown.status == 0, "\(unknown.standardError)")
        #expect(split.first + unknown.standardOutput == split.whole)
        let said = unknown.standardError.components(separatedBy: "\n").filter { $0.contains("section") }
        #expect(said.count == 1 && said[0].contains("skipped sections detection.retired-rule, hosts.future"),
                "\(unknown.standardError)")
        // Missing sections: those stages start empty, and nothing is said.
        for section in ["detection.scans", "ledger", "engine.flows", "flows", "hosts.macs"] {
            let missing = try split.continued("missing-\(section).db", "DELETE FROM sections WHERE name = '\(section)'").run
            #expect(missing.status == 0, "\(section): \(missing.standardError)")
            #expect(!missing.standardError.contains("section"), "\(section): \(missing.standardError)")
        }
        // The host table's layout is the hosts' own slots: without it the saved hosts cannot be placed.
        let noLayout = try split.continued("missing-layout.db", "DELETE FROM sections WHERE name = 'hosts.layout'").run
        #expect(noLayout.status == 2 && noLayout.standardError.contains("section hosts.layout"), "\(noLayout.standardError)")
    }

    @Test("a stage's section of a newer layout is refused naming it; a detection's starts that detection empty, said")
    func newerSections() throws {
        let split = try Split()
        defer { try? FileManager.default.removeItem(at: split.directory) }
        for stage in ["hosts.layout", "flows", "hosts.macs", "engine.flows", "ledger"] {
            let (state, before, run) = try split.continued("\(stage).db",
                                                           "UPDATE sections SET version = 99 WHERE name = '\(stage)'")
            #expect(run.status == 2, "\(stage): \(run.standardError)")
            #expect(run.standardError.contains("cannot continue from this state: section \(stage)")
                && run.standardError.contains("layout version 99, written by a newer IdleWatch (this one reads up to version"),
                    "\(run.standardError)")
            #expect(try StateSectionTests.contents(state) == before, "\(stage): a refused file must not be saved over")
        }
        let newer = try split.continued("newer-scans.db", "UPDATE sections SET version = 7 WHERE name = 'detection.scans'").run
        let missing = try split.continued("no-scans.db", "DELETE FROM sections WHERE name = 'detection.scans'").run
        #expect(newer.status == 0, "\(newer.standardError)")
        let said = newer.standardError.components(separatedBy: "\n").filter { $0.contains("section") }
        #expect(said == ["idlewatch: state \(split.directory.appendingPathComponent("newer-scans.db").path): section "
            + "detection.scans has layout version 7, newer than this IdleWatch reads (2): scans starts with empty state"],
                "\(newer.standardError)")
        #expect(newer.standardOutput == missing.standardOutput, "started empty, as without the section")
    }
}
