// The state file as users meet it through the command line: foreign and newer files refused and left untouched,
// a replay killed with SIGKILL at random moments leaves a consistent file that a second run resumes from (with
// reports reading the file while it is being written), and the hosts report on the sample captures.

import Foundation
import GRDB
import PacketCapture
import PacketDecoding
import StateStore
import Testing

@Suite("State file on the command line", .serialized)
struct StateFileTests {
    static let sampleSite = TestPaths.captures.appendingPathComponent("site.yaml").path

    func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    @Test("a file that is not a state file, another program's SQLite database, or a newer schema is refused and left untouched")
    func refusesForeignFiles() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let text = directory.appendingPathComponent("notes.db").path
        try "these are my notes\n".write(toFile: text, atomically: true, encoding: .utf8)

        let other = directory.appendingPathComponent("other.db").path
        try DatabaseQueue(path: other).write { db in
            try db.execute(sql: "CREATE TABLE accounts (name TEXT); INSERT INTO accounts VALUES ('alice')")
        }
        let newer = directory.appendingPathComponent("newer.db").path
        try DatabaseQueue(path: newer).write { db in
            try db.execute(sql: """
                PRAGMA application_id = \(StateFile.applicationID); PRAGMA user_version = \(StateFile.schemaVersion + 1);
                CREATE TABLE hosts_v2 (address TEXT)
                """)
        }
        let cases: [(String, String)] = [
            (text, "not an IdleWatch state file (not a SQLite database)"),
            (other, "not an IdleWatch state file (a SQLite database with application id 0)"),
            (newer, "written by a newer IdleWatch (schema version \(StateFile.schemaVersion + 1)"),
        ]
        for (path, message) in cases {
            let before = bytes(path)
            let replay = try runIdleWatch(["replay", "--state", path, TestPaths.captures.appendingPathComponent("basic-lan.pcap").path])
            #expect(replay.status == 2, "\(replay.standardError)")
            #expect(replay.standardError.contains(message), "\(replay.standardError)")
            #expect(replay.standardOutput.isEmpty)
            let report = try runIdleWatch(["hosts", "--state", path])
            #expect(report.status == 2)
            #expect(report.standardError.contains(message), "\(report.standardError)")
            #expect(bytes(path) == before, "\(path) was modified")
            #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
            #expect(!FileManager.default.fileExists(atPath: path + "-shm"))
        }
    }

    @Test("a state file caught between GRDB's bookkeeping table and its first migration reads as empty, not foreign")
    func creationUnderWay() throws {
        // What a report finds while a sensor creates the file: GRDB makes `grdb_migrations` in a transaction of its
        // own before the migration that creates the tables and sets the application id (the SIGKILL test below met
        // it as "a SQLite database with application id 0").
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let creating = directory.appendingPathComponent("creating.db").path
        try DatabaseQueue(path: creating).write { db in
            try db.execute(sql: "CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
        }
        let before = bytes(creating)
        let report = try runIdleWatch(["hosts", "--state", creating])
        #expect(report.status != 0)
        #expect(report.standardError.contains("nothing has been saved in it yet"), "\(report.standardError)")
        #expect(bytes(creating) == before, "the report modified the file")
        // The same table with a migration recorded is some other GRDB program's database: refused as foreign.
        let other = directory.appendingPathComponent("other-grdb.db").path
        try DatabaseQueue(path: other).write { db in
            try db.execute(sql: """
                CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
                INSERT INTO grdb_migrations VALUES ('v1')
                """)
        }
        let foreign = try runIdleWatch(["hosts", "--state", other])
        #expect(foreign.status == 2)
        #expect(foreign.standardError.contains("not an IdleWatch state file (a SQLite database with application id 0)"),
                "\(foreign.standardError)")
        #expect(!FileManager.default.fileExists(atPath: other + "-wal"))
    }

    @Test("a version 1 state file (earlier builds) is read by a report as it is and migrated by the next run")
    func readsAndMigratesVersionOne() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // The schema 2 file of the build before sections (Tests/Fixtures/state-schema2), made what a version 1 build
        // left: the version in the header and no record of the second migration (the tables and blobs of the two
        // versions are the same).
        let state = directory.appendingPathComponent("old.db").path
        try FileManager.default.copyItem(atPath: StateSectionTests.schema2File, toPath: state)
        try DatabaseQueue(path: state).write { db in
            try db.execute(sql: "PRAGMA user_version = 1; DELETE FROM grdb_migrations WHERE identifier = 'v2'")
        }
        let report = try runIdleWatch(["hosts", "--state", state])
        #expect(report.status == 0, "\(report.standardError)")
        #expect(report.standardOutput.contains("local and"), "\(report.standardOutput)")
        #expect(try DatabaseQueue(path: state).read { try Int.fetchOne($0, sql: "PRAGMA user_version") } == 1,
                "a report must not write")
        let whole = try runIdleWatch(["replay", "--site", Self.sampleSite, "--format", "json", "--state",
                                      directory.appendingPathComponent("whole.db").path, TestPaths.captures.path])
        let rest = try runIdleWatch(["replay", "--site", Self.sampleSite, "--format", "json", "--state", state,
                                     TestPaths.captures.path])
        #expect(rest.status == 0, "\(rest.standardError)")
        #expect(try StateSectionTests.schema2Part1() + StateSectionTests.withoutLaterAlertContent(rest.standardOutput)
                == StateSectionTests.withoutLaterAlertContent(whole.standardOutput))
        #expect(try DatabaseQueue(path: state).read { try Int.fetchOne($0, sql: "PRAGMA user_version") }
                == StateFile.schemaVersion)
        // The same report, but for the MACs: the version 1 file kept no bindings (they start empty from it), so the
        // continued state knows only the MACs part 2 showed.
        func withoutMACs(_ path: String) throws -> NSDictionary {
            let report = try runIdleWatch(["hosts", "--state", path, "--format", "json"]).standardOutput
            func strip(_ value: Any) -> Any {
                if let object = value as? [String: Any] {
                    return object.filter { $0.key != "macs" && $0.key != "state" }.mapValues(strip)
                }
                if let array = value as? [Any] { return array.map(strip) }
                return value
            }
            return strip(try JSONSerialization.jsonObject(with: Data(report.utf8))) as! NSDictionary
        }
        #expect(try withoutMACs(state) == withoutMACs(directory.appendingPathComponent("whole.db").path))
    }

    @Test("replaying part 1 then part 2 equals replaying both; replaying them again skips every packet")
    func commandLineContinuity() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // All sample captures in timestamp order, cut in the middle (inside the dormant-host scenario).
        let part1 = directory.appendingPathComponent("part1.pcap").path
        let part2 = directory.appendingPathComponent("part2.pcap").path
        let total = try writeParts(of: [TestPaths.captures.path], splitAt: 250, to: [part1, part2])
        #expect(total > 500)
        let whole = try runIdleWatch(["replay", "--site", Self.sampleSite, "--format", "json", "--state",
                                      directory.appendingPathComponent("whole.db").path, part1, part2])
        #expect(whole.status == 0, "\(whole.standardError)")
        #expect(whole.outputLines.count >= 8)
        let state = directory.appendingPathComponent("split.db").path
        let first = try runIdleWatch(["replay", "--site", Self.sampleSite, "--format", "json", "--state", state, part1])
        let second = try runIdleWatch(["replay", "--site", Self.sampleSite, "--format", "json", "--state", state, part2])
        #expect(first.status == 0 && second.status == 0, "\(first.standardError)\n\(second.standardError)")
        #expect(first.outputLines.count > 0 && second.outputLines.count > 0, "the split should fall between alerts")
        #expect(first.standardOutput + second.standardOutput == whole.standardOutput)
        #expect(second.standardError.contains("continued from 250 packets analysed before"), "\(second.standardError)")

        let again = try runIdleWatch(["replay", "--site", Self.sampleSite, "--format", "json", "--state", state, part1, part2])
        #expect(again.status == 0)
        #expect(again.standardOutput.isEmpty)
        #expect(again.standardError.contains("\(total) packets skipped: the state already accounts for them"),
                "\(again.standardError)")
    }

    @Test("killed with SIGKILL at random moments while reports read the file: the file stays consistent and a second run resumes to the same alerts")
    func crashAndResume() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // Many copies of the sample captures, each 16 days after the previous one: alerts all along the input.
        let input = directory.appendingPathComponent("long.pcap").path
        let packets = try writeCopies(of: [TestPaths.captures.path], copies: 120, spacing: .seconds(16 * 86_400), to: input)
        #expect(packets > 60_000)
        let arguments = ["replay", "--site", Self.sampleSite, "--save-interval", "86400", input]

        let started = Date()
        let whole = try runIdleWatch(arguments + ["--state", directory.appendingPathComponent("whole.db").path])
        let duration = Date().timeIntervalSince(started)
        #expect(whole.status == 0, "\(whole.standardError)")
        let wholeAlerts = whole.outputLines
        #expect(wholeAlerts.count > 500)

        var generator = SystemRandomNumberGenerator()
        var totalReports = 0
        // Three kills in mid-run. The moment is a fraction of the first run's duration; on a shared machine a later
        // run can be faster than the first (or a report can overrun the moment), and a run that ended before its
        // kill proves nothing: it is tried again with the moment brought earlier (at most 8 tries in all).
        var attempt = 0, tries = 0, shrink = 1.0
        while attempt < 3 && tries < 8 {
            tries += 1
            let state = directory.appendingPathComponent("killed-\(tries).db").path
            let killed = try LaunchedIdleWatch(arguments + ["--state", state])
            let deadline = Date().addingTimeInterval(duration * shrink * Double.random(in: 0.15...0.85, using: &generator))
            var reports = 0
            while Date() < deadline && killed.process.isRunning {
                // A report reads the file while the replay writes it: it must always read a consistent state.
                guard FileManager.default.fileExists(atPath: state) else { usleep(10_000); continue }
                let report = try runIdleWatch(["hosts", "--state", state, "--format", "json"])
                if report.status == 0 {
                    #expect((try? JSONSerialization.jsonObject(with: Data(report.standardOutput.utf8))) != nil)
                    reports += 1
                } else {
                    // Only before the first save: the file exists but holds nothing yet.
                    #expect(reports == 0, "report failed after succeeding: \(report.standardError)")
                    #expect(report.standardError.contains("nothing has been saved") || report.standardError.contains("is empty"),
                            "\(report.standardError)")
                }
            }
            guard killed.process.isRunning else {
                _ = killed.completeOutputLines()
                print("crash try \(tries): the replay ended before its kill; trying again earlier")
                shrink /= 2
                continue
            }
            defer { attempt += 1 }
            killed.kill(SIGKILL)
            let killedLines = killed.completeOutputLines()
            totalReports += reports
            print("crash attempt \(attempt): killed after \(killedLines.count) of \(wholeAlerts.count) alerts, \(reports) reports read meanwhile")

            // The file opens, passes SQLite's integrity check and reads as a state.
            if FileManager.default.fileExists(atPath: state) {
                var configuration = Configuration()
                configuration.readonly = true
                let check = try DatabaseQueue(path: state, configuration: configuration).read { db in
                    try String.fetchOne(db, sql: "PRAGMA integrity_check")
                }
                #expect(check == "ok")
            }
            let resumed = try runIdleWatch(arguments + ["--state", state])
            #expect(resumed.status == 0, "\(resumed.standardError)")
            // Everything up to the last save reached the output before the save; the resumed run writes the rest.
            let resumedLines = resumed.outputLines
            let cut = wholeAlerts.count - resumedLines.count
            #expect(cut >= 0 && Array(wholeAlerts[max(0, cut)...]) == resumedLines,
                    "attempt \(attempt): the resumed run's alerts are not the end of the whole run's")
            #expect(killedLines.count >= cut && Array(killedLines.prefix(max(0, cut))) == Array(wholeAlerts.prefix(max(0, cut))),
                    "attempt \(attempt): alerts before the last save were lost (\(killedLines.count) written, \(cut) expected)")
            // What the killed run wrote after its last save is repeated by the resumed run, nothing else.
            #expect(Array(killedLines.dropFirst(max(0, cut))) == Array(resumedLines.prefix(killedLines.count - max(0, cut))))
        }
        #expect(attempt == 3, "only \(attempt) of \(tries) replays could be killed before they ended")
        #expect(totalReports > 0, "no report could read the file while it was written")
    }

    @Test("a report reads saves still in the write-ahead log (the file's header says no table until a checkpoint)")
    func saveNotYetCheckpointed() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = directory.appendingPathComponent("state.db").path
        // A writer that stays open, as a running sensor does: its few saves stay below SQLite's checkpoint
        // threshold, so they are all in state.db-wal and state.db still has the header of an empty database.
        let writer = try StateFile.openForWriting(path: state)
        var saved = SavedState()
        saved.clock = Timestamp(seconds: 1_800_000_000, nanoseconds: 0)
        saved.packetsAnalysed = 42
        try writer.save(saved)
        let header = try #require(FileHandle(forReadingAtPath: state)).readData(ofLength: 100)
        #expect(header.count == 100 && header[28..<32].reduce(0) { $0 << 8 | Int($1) } <= 1,
                "the save should still be in the log, not in the file")
        let report = try runIdleWatch(["hosts", "--state", state])
        #expect(report.status == 0, "\(report.standardError)")
        #expect(report.standardOutput.hasPrefix("IdleWatch hosts report for \(state)"), "\(report.standardOutput)")
        withExtendedLifetime(writer) {}
    }

    @Test("hosts report on the sample captures: decommission candidates, unknown hosts, quiet hosts that talked, maintenance ports reached from outside")
    func hostsReport() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = directory.appendingPathComponent("state.db").path
        let replay = try runIdleWatch(["replay", "--site", Self.sampleSite, "--state", state, TestPaths.captures.path])
        #expect(replay.status == 0, "\(replay.standardError)")

        func report(_ extra: [String]) throws -> [String: Any] {
            let result = try runIdleWatch(["hosts", "--state", state, "--format", "json"] + extra)
            #expect(result.status == 0, "\(result.standardError)")
            return try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        }
        func names(_ list: Any?, _ key: String) -> Set<String> {
            Set(((list as? [[String: Any]]) ?? []).compactMap { $0[key] as? String })
        }
        // The replay ends at 2026-11-21 23:39 (the lab captures). Scenarios retimed to before 2026-11-14 have been
        // silent for more than 7 days, so each of their hosts declared active is a candidate (border-router and
        // firewalled-host never sent a frame at all); decommissioned-arp (Nov 15) and idle-host-scan (Nov 16) are
        // more recent; old-erp and camera-platform are not declared active.
        let week = try report(["--silent-days", "7"])
        let olderThanAWeek: Set = ["edge-nat-erp", "jump-host", "erp-app", "edge-nat-plant", "plant-historian",
                                   "border-router", "web-frontend", "app-server", "firewalled-host", "dmz-router",
                                   "web-portal", "file-server", "workstation"]
        #expect(names(week["decommission_candidates"], "name") == olderThanAWeek)
        // Five days also reaches the decommissioned-arp and idle-host-scan scenarios' active hosts.
        let fiveDays = try report(["--silent-days", "5"])
        #expect(names(fiveDays["decommission_candidates"], "name")
            == olderThanAWeek.union(["core-gateway", "monitoring", "nvr", "infra-dns-ntp"]))
        // 30 days (the default): the traffic covers 15 days, so no host can be a candidate yet.
        #expect(names(try report([])["decommission_candidates"], "name").isEmpty)

        // Unknown: the dormant host left out of the inventory on purpose, the site's public NAT address (it sends
        // the inbound-scan scenario's replies), and the lab's IPv6 hosts, which the inventory does not list.
        let unknown = names(week["unknown_hosts"], "address")
        #expect(unknown.contains("10.60.0.25"))
        #expect(unknown.contains("fd00:10::1"))
        #expect(!unknown.contains { $0.hasPrefix("192.0.2.") || $0.hasPrefix("198.51.100.") }, "outside hosts are not inventory gaps")
        #expect((week["unknown_hosts"] as? [[String: Any]])?.allSatisfy { $0["declared"] is NSNull } == true)

        #expect(names(week["declared_quiet_but_active"], "name") == ["camera-platform", "old-erp"])

        // Both vendor SSH mappings were used from outside: the expired one by 192.0.2.66 (unexpected), the
        // windowed one by its allowed vendor inside its window (expected). Both reached a session.
        let exposures = try #require(week["maintenance_exposures"] as? [[String: Any]])
        var seen: [String: (String, Bool, String)] = [:]
        for exposure in exposures {
            for source in (exposure["sources"] as? [[String: Any]]) ?? [] {
                seen[exposure["maintenance_port"] as? String ?? "undeclared"] =
                    (source["address"] as? String ?? "", source["expected"] as? Bool ?? true, source["stage"] as? String ?? "")
            }
        }
        #expect(seen.count == 2, "\(exposures)")
        #expect(seen["erp-vendor-ssh"].map { $0 == ("192.0.2.66", false, "session") } == true)
        #expect(seen["historian-vendor-ssh"].map { $0 == ("198.51.100.7", true, "session") } == true)

        // The text report has the sections, in the order to act on them.
        let text = try runIdleWatch(["hosts", "--state", state, "--silent-days", "7"])
        let order = ["Decommission candidates", "Local hosts seen but not in the inventory",
                     "Declared idle or decommissioned, and sent traffic", "Maintenance ports reached from outside",
                     "Hosts that sent traffic"].map { text.standardOutput.range(of: $0)?.lowerBound }
        #expect(order.allSatisfy { $0 != nil } && order.map { $0! } == order.map { $0! }.sorted(), "\(text.standardOutput)")
    }
}

/// Writes the packets of `paths` (in replay order) to two files, the first `splitAt` in the first. Returns the total.
func writeParts(of paths: [String], splitAt: Int, to outputs: [String]) throws -> Int {
    struct Splitter: PacketHandler {
        let writers: [CaptureWriter]
        let splitAt: Int
        var count = 0
        mutating func handle(_ packet: CapturedPacket) {
            writers[count < splitAt ? 0 : 1].write(packet)
            count += 1
        }
    }
    var splitter = Splitter(writers: try outputs.map { try CaptureWriter(path: $0, linkType: .ethernet) }, splitAt: splitAt)
    ReplaySource(paths: paths).run(&splitter)
    for writer in splitter.writers { try writer.flush() }
    return splitter.count
}

/// Writes `copies` copies of the packets of `paths`, copy k shifted by k * `spacing`. Returns the packet count.
func writeCopies(of paths: [String], copies: Int, spacing: Duration, to output: String) throws -> Int {
    struct Collector: PacketHandler {
        var packets: [(Timestamp, [UInt8], Int)] = []
        mutating func handle(_ packet: CapturedPacket) {
            packets.append((packet.timestamp, Array(packet.bytes), packet.wireLength))
        }
    }
    var collector = Collector()
    ReplaySource(paths: paths).run(&collector)
    let writer = try CaptureWriter(path: output, linkType: .ethernet)
    for copy in 0..<copies {
        let shift = Duration(nanoseconds: spacing.nanoseconds * Int64(copy))
        for (time, bytes, wireLength) in collector.packets {
            bytes.withUnsafeBytes { writer.write(timestamp: time + shift, bytes: $0, wireLength: wireLength) }
        }
    }
    try writer.flush()
    return copies * collector.packets.count
}

/// An idlewatch process left running, with its output in a file.
final class LaunchedIdleWatch {
    let process = Process()
    let directory = TestPaths.temporaryDirectory()
    var outputURL: URL { directory.appendingPathComponent("stdout") }

    init(_ arguments: [String]) throws {
        FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        FileManager.default.createFile(atPath: directory.appendingPathComponent("stderr").path, contents: nil)
        process.executableURL = URL(fileURLWithPath: TestPaths.executable)
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: outputURL)
        process.standardError = try FileHandle(forWritingTo: directory.appendingPathComponent("stderr"))
        try process.run()
    }

    func kill(_ signal: Int32) {
        Glibc.kill(process.processIdentifier, signal)
        process.waitUntilExit()
    }

    /// Lines that were written whole (a kill can cut the last one).
    func completeOutputLines() -> [String] {
        let text = (try? String(contentsOf: outputURL, encoding: .utf8)) ?? ""
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines.removeLast()  // after the last newline: empty, or a cut line
        return lines
    }

    deinit {
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(at: directory)
    }
}
