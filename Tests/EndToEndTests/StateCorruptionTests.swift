// A tampered state file (issue 14): the tables are STRICT with NOT NULL, but anyone who can write the file can
// recreate a table without its constraints and put anything in it. For every table and column, a NULL, text, a
// blob, a real number, a negative, a huge integer and the Int64 extremes; for every section of the stages' internals
// (and each host's baseline), truncation, trailing bytes, emptiness and flipped bytes. Each tampered file goes through the real binary, `idlewatch hosts --state F`
// and `idlewatch replay --state F part2`: each must refuse it (exit 2, a message naming the file, and for a bad
// value the table and column) or accept it and run normally (exit 0). A trap (the GRDB decode this replaced
// trapped on a NULL) is neither.

import Foundation
import GRDB
import Testing

@Suite("State file: tampered files are refused or accepted sanely, never a crash", .serialized)
struct StateCorruptionTests {
    static let sampleSite = TestPaths.captures.appendingPathComponent("site.yaml").path

    /// A state file from part 1 of the sample captures (hosts, services, exposures, inventory, open flows,
    /// detections' sections all non-empty) and part 2 to continue it with.
    struct Fixture {
        let directory: URL
        let state: String
        let part2: String
    }

    static func fixture() throws -> Fixture {
        let directory = TestPaths.temporaryDirectory()
        let part1 = directory.appendingPathComponent("part1.pcap").path
        let part2 = directory.appendingPathComponent("part2.pcap").path
        _ = try writeParts(of: [TestPaths.captures.path], splitAt: 300, to: [part1, part2])
        let state = directory.appendingPathComponent("base.db").path
        let first = try runIdleWatch(["replay", "--site", sampleSite, "--state", state, part1])
        #expect(first.status == 0, "\(first.standardError)")
        // Checkpoint the log into the file, so a copy of the file alone is the whole state.
        try DatabaseQueue(path: state).writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
        for table in ["hosts", "services", "exposures", "inventory", "sections", "meta"] {
            let rows = try DatabaseQueue(path: state).read { try Int.fetchOne($0, sql: "SELECT count(*) FROM \(table)") }
            #expect((rows ?? 0) > 0, "the fixture's \(table) table is empty: the sweep would not reach it")
        }
        return Fixture(directory: directory, state: state, part2: part2)
    }

    /// A copy of the fixture's state with `table` recreated without types or constraints (as an attacker with
    /// sqlite3 can), then `sql` run on it.
    static func tampered(_ fixture: Fixture, _ table: String, _ sql: String, name: String) throws -> String {
        let path = fixture.directory.appendingPathComponent("\(name).db").path
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: fixture.state, toPath: path)
        try DatabaseQueue(path: path).writeWithoutTransaction { db in
            let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(\(table))").map { $0["name"] as String }
            try db.execute(sql: """
                ALTER TABLE \(table) RENAME TO loose_old;
                CREATE TABLE \(table) (\(columns.joined(separator: ", ")));
                INSERT INTO \(table) SELECT * FROM loose_old;
                DROP TABLE loose_old;
                """)
            try db.execute(sql: sql)
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
        return path
    }

    struct Outcome {
        var refused: Bool
        var messages: String
    }

    /// Runs the report and a continuing replay on `path`; each must exit 0 or 2 (with the file named). Returns
    /// whether each refused, and their messages.
    static func run(_ path: String, _ fixture: Fixture, case label: String) throws -> (report: Outcome, replay: Outcome) {
        let report = try runIdleWatch(["hosts", "--state", path, "--format", "json"])
        let replay = try runIdleWatch(["replay", "--site", sampleSite, "--state", path, fixture.part2])
        for (name, result) in [("hosts", report), ("replay", replay)] {
            #expect(result.status == 0 || result.status == 2,
                    "\(label): idlewatch \(name) exited \(result.status) (a signal is a crash): \(result.standardError.suffix(600))")
            #expect(!result.standardError.contains("Fatal error"), "\(label): \(name) trapped: \(result.standardError.suffix(600))")
            if result.status == 2 {
                #expect(result.standardError.contains(path), "\(label): \(name)'s message does not name the file: \(result.standardError)")
            }
        }
        if report.status == 0 {
            #expect((try? JSONSerialization.jsonObject(with: Data(report.standardOutput.utf8))) != nil,
                    "\(label): the report accepted the file but wrote no JSON document")
        }
        return (Outcome(refused: report.status == 2, messages: report.standardError),
                Outcome(refused: replay.status == 2, messages: replay.standardError))
    }

    /// Every column of the row tables, with what a sane reader must do with each kind of bad value.
    enum Kind {
        case integer(nullable: Bool), count, flag, text, address, blob, slot, generation, port, ipProtocol, version, ignored
    }

    static let columns: [(table: String, column: String, kind: Kind)] = [
        ("hosts", "address", .address), ("hosts", "is_local", .flag), ("hosts", "first_seen", .integer(nullable: false)),
        ("hosts", "last_seen", .integer(nullable: false)), ("hosts", "last_client", .integer(nullable: true)),
        ("hosts", "last_server", .integer(nullable: true)), ("hosts", "packets_sent", .count), ("hosts", "bytes_sent", .count),
        ("hosts", "flows_originated", .count), ("hosts", "flows_answered", .count), ("hosts", "arp_frames", .count),
        ("hosts", "learning_packets", .count), ("hosts", "learning_flows", .count), ("hosts", "peers", .count),
        ("hosts", "slot", .slot), ("hosts", "generation", .generation), ("hosts", "baseline", .blob),
        ("services", "host", .address), ("services", "port", .port), ("services", "protocol", .ipProtocol),
        ("services", "first_served", .integer(nullable: false)), ("services", "last_served", .integer(nullable: false)),
        ("services", "served_inside", .flag), ("services", "served_outside", .flag), ("services", "learned", .flag),
        ("services", "sessions", .count),
        ("exposures", "host", .address), ("exposures", "port", .port), ("exposures", "protocol", .ipProtocol),
        ("exposures", "source", .address), ("exposures", "first_seen", .integer(nullable: false)),
        ("exposures", "last_seen", .integer(nullable: false)), ("exposures", "flows", .count), ("exposures", "stage", .text),
        ("exposures", "expected", .flag), ("exposures", "name", .text),
        ("inventory", "position", .ignored), ("inventory", "network", .address), ("inventory", "name", .text),
        ("inventory", "state", .text),
        ("sections", "name", .text), ("sections", "version", .version), ("sections", "data", .blob),
    ]

    /// The values tried in every column, as SQL literals.
    static let values: [(label: String, sql: String)] = [
        ("NULL", "NULL"), ("text", "'garbage'"), ("blob", "X'00FF10'"), ("real", "1.5"), ("negative", "-1"),
        ("huge", "4611686018427387904"), ("int64-max", "9223372036854775807"), ("int64-min", "(-9223372036854775807 - 1)"),
    ]

    /// Whether a value must be refused in a column of that kind (the others may be accepted as they are, or refused:
    /// any integer is a packet time, and a count may be as large as SQLite holds).
    static func mustRefuse(_ kind: Kind, _ value: String) -> Bool {
        let wrongType = ["NULL", "text", "blob", "real"].contains(value)
        switch kind {
        case .ignored: return false
        case .integer(let nullable): return wrongType && (value != "NULL" || !nullable)
        case .count: return wrongType || ["negative", "int64-min"].contains(value)
        // Nothing tried is 0 or 1, a slot (0 to 2^31-1), a generation (32 bits), a port, a protocol number or a
        // layout version (1 to 2^31-1).
        case .flag, .slot, .generation, .port, .ipProtocol, .version: return true
        // Text columns take any text (tried only where it is not a valid value), never a number, a blob or NULL.
        case .text, .address: return true
        case .blob: return value != "blob"
        }
    }

    @Test("every column of every table: NULL, wrong types, out-of-range values give a clear error or a sane run, never a crash")
    func columnSweep() throws {
        let fixture = try Self.fixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        var refusals = 0, cases = 0
        for (table, column, kind) in Self.columns {
            for (label, sql) in Self.values {
                // Any text is a name; 'garbage' is no address, network, stage or host state. A section of an unknown
                // name is skipped (tried in StateSectionTests).
                if label == "text" && [("exposures", "name"), ("inventory", "name"), ("sections", "name")]
                    .contains(where: { $0 == (table, column) }) { continue }
                let name = "\(table)-\(column)-\(label)"
                // The first row in the order the file is read (hosts by slot).
                let order = table == "hosts" ? "slot" : "rowid"
                let path = try Self.tampered(fixture, table, """
                    UPDATE \(table) SET \(column) = \(sql) WHERE rowid = (SELECT rowid FROM \(table) ORDER BY \(order) LIMIT 1)
                    """, name: name)
                let (report, replay) = try Self.run(path, fixture, case: name)
                cases += 1
                if Self.mustRefuse(kind, label) {
                    #expect(replay.refused, "\(name): the replay accepted it")
                    #expect(replay.messages.contains("column \(column)") || replay.messages.contains("cannot continue from this state"),
                            "\(name): the replay's message does not say what is wrong: \(replay.messages)")
                    // The report reads every table, but not the stages' internals inside the sections.
                    if !(table == "sections" && column == "data" && label == "blob") {
                        #expect(report.refused, "\(name): the report accepted it")
                        #expect(report.messages.contains("table \(table)") && report.messages.contains("column \(column)"),
                                "\(name): the report's message names no table and column: \(report.messages)")
                    }
                }
                if replay.refused { refusals += 1 }
                try? FileManager.default.removeItem(atPath: path)
            }
        }
        print("state column sweep: \(cases) tampered files, \(refusals) refused by the replay")
        #expect(refusals > cases / 2)
    }

    @Test("rows that contradict each other: a slot past the table or taken twice, a generation that is not its slot's, an address twice, a clock at either end")
    func contradictions() throws {
        let fixture = try Self.fixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let first = "rowid = (SELECT rowid FROM hosts ORDER BY slot LIMIT 1)"
        let cases: [(String, String, String, Bool)] = [
            ("slot-past-table", "hosts", "UPDATE hosts SET slot = (SELECT count(*) FROM hosts) + 1000 WHERE \(first)", true),
            ("slot-twice", "hosts", "UPDATE hosts SET slot = (SELECT max(slot) FROM hosts) WHERE \(first)", true),
            ("generation-other", "hosts", "UPDATE hosts SET generation = generation + 1 WHERE \(first)", true),
            ("address-twice", "hosts", """
                UPDATE hosts SET address = (SELECT address FROM hosts ORDER BY slot DESC LIMIT 1) WHERE \(first)
                """, true),
            ("host-gone", "hosts", "DELETE FROM hosts WHERE \(first)", true),
            ("section-twice", "sections", "INSERT INTO sections SELECT * FROM sections WHERE name = 'flows'", true),
            ("hosts-layout-gone", "sections", "DELETE FROM sections WHERE name = 'hosts.layout'", true),
            ("clock-max", "meta", "UPDATE meta SET value = 9223372036854775807 WHERE key = 'clock'", false),
            ("clock-min", "meta", "UPDATE meta SET value = (-9223372036854775807 - 1) WHERE key = 'clock'", false),
            ("service-twice", "services", "INSERT INTO services SELECT * FROM services LIMIT 1", false),
            ("column-dropped", "hosts", "ALTER TABLE hosts DROP COLUMN baseline", true),
            ("table-dropped", "exposures", "DROP TABLE exposures", true),
        ]
        for (name, table, sql, refuse) in cases {
            let path = try Self.tampered(fixture, table, sql, name: name)
            let (report, replay) = try Self.run(path, fixture, case: name)
            if refuse { #expect(replay.refused, "\(name): the replay accepted it: \(replay.messages)") }
            if name == "column-dropped" || name == "table-dropped" {
                #expect(report.refused, "\(name): the report accepted it: \(report.messages)")
            }
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    @Test("meta values: NULL, wrong types and extremes for the clock, the counters and learning's start")
    func metaSweep() throws {
        let fixture = try Self.fixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        for key in ["clock", "packets_at_clock", "packets_analysed", "learning_start"] {
            for (label, sql) in Self.values {
                let name = "meta-\(key)-\(label)"
                let path = try Self.tampered(fixture, "meta", "UPDATE meta SET value = \(sql) WHERE key = '\(key)'", name: name)
                let (report, replay) = try Self.run(path, fixture, case: name)
                if ["text", "blob", "real"].contains(label)
                    || key.hasPrefix("packets") && ["negative", "int64-min"].contains(label)
                {
                    #expect(report.refused && replay.refused, "\(name): accepted")
                    #expect(replay.messages.contains("meta") && replay.messages.contains(key), "\(name): \(replay.messages)")
                }
                try? FileManager.default.removeItem(atPath: path)
            }
            let path = try Self.tampered(fixture, "meta", "DELETE FROM meta WHERE key = '\(key)'", name: "meta-\(key)-gone")
            let (report, replay) = try Self.run(path, fixture, case: "meta-\(key)-gone")
            #expect(report.refused && replay.refused && replay.messages.contains(key))
        }
        // A NULL key, and a key twice (the primary key dropped).
        for (name, sql) in [("meta-null-key", "UPDATE meta SET key = NULL WHERE key = 'clock'"),
                            ("meta-twice", "INSERT INTO meta SELECT * FROM meta WHERE key = 'clock'")] {
            let path = try Self.tampered(fixture, "meta", sql, name: name)
            let (report, replay) = try Self.run(path, fixture, case: name)
            #expect(report.refused && replay.refused, "\(name): accepted")
            #expect(replay.messages.contains("table meta"), "\(name): \(replay.messages)")
        }
    }

    @Test("truncated, extended, emptied and garbled sections (the stages' internals) and baselines are refused or read sanely")
    func blobSweep() throws {
        let fixture = try Self.fixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        var targets: [(table: String, column: String, row: String, name: String)] = [
            ("hosts", "baseline", "rowid = (SELECT rowid FROM hosts ORDER BY slot LIMIT 1)", "baseline"),
        ]
        for section in ["hosts.layout", "flows", "hosts.macs", "engine.flows", "ledger", "detection.scans",
                        "detection.maintenance-port-inbound"] {
            targets.append(("sections", "data", "name = '\(section)'", section))
        }
        var generator = SplitMix(seed: 14)
        for target in targets {
            let length = try DatabaseQueue(path: fixture.state).read { db in
                try Int.fetchOne(db, sql: "SELECT length(\(target.column)) FROM \(target.table) WHERE \(target.row)") ?? 0
            }
            #expect(length > 0, "\(target.name) is empty in the fixture")
            var edits: [(String, String, Bool)] = [
                ("empty", "X''", true),
                ("trailing", "\(target.column) || X'00'", true),
                ("half", "substr(\(target.column), 1, \(length / 2))", true),
                ("one-short", "substr(\(target.column), 1, \(length - 1))", true),
            ]
            // Flipped bytes: may still decode to something valid (a changed counter), so refusal is not required.
            for round in 0..<12 {
                let offset = Int(generator.next() % UInt64(length)) + 1
                let byte = String(format: "%02X", Int(generator.next() % 256))
                edits.append(("flip\(round)-at\(offset)", """
                    substr(\(target.column), 1, \(offset - 1)) || X'\(byte)' || substr(\(target.column), \(offset + 1))
                    """, false))
            }
            // A count field of all ones at the start (the host table's slot count, the flow table's clock...).
            edits.append(("ones", "X'FFFFFFFFFFFFFFFF' || substr(\(target.column), 9)", false))
            for (label, expression, refuse) in edits {
                let name = "\(target.name)-\(label)"
                let path = try Self.tampered(fixture, target.table,
                                             "UPDATE \(target.table) SET \(target.column) = \(expression) WHERE \(target.row)",
                                             name: name)
                let (report, replay) = try Self.run(path, fixture, case: name)
                if refuse {
                    #expect(replay.refused, "\(name): the replay accepted it")
                    if target.table == "hosts" { #expect(report.refused, "\(name): the report accepted it") }
                }
                try? FileManager.default.removeItem(atPath: path)
            }
        }
    }
}

/// A small deterministic generator, so a failing sweep case repeats.
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
