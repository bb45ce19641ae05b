// The live end-to-end test (issue 4): scripts/live-e2e.sh builds a small network of namespaces (a switch mirrored
// to a SPAN port with tc mirred, a NAT gateway with nftables DNAT mappings, an SSH server, an idle camera, a
// decommissioned host, an outside attacker and a vendor), runs `idlewatch live` on the SPAN port while real clients
// generate the traffic of the detection scenarios, records the same traffic with tcpdump and replays the recording.
// The test checks that the live sensor exited 0 on SIGTERM, that its alerts are those of the replay (same alerts,
// same order, the same bytes but for the time, as DESIGN.md's "the same capture and site file give the same alerts,
// byte for byte, live or replayed" asks: the two capture sockets see each frame microseconds apart), and that they
// are the ones captures/live/expected.tsv lists (written by hand from the scenario: captures/live/site.yaml and the
// script's header explain it).

import Foundation
import Glibc
import Testing

@Suite("idlewatch live on a SPAN port: namespaces, real traffic, live = replay = expected")
struct LiveSensorTests {
    /// One alert as the expected-alert files describe it.
    struct Row: Hashable, CustomStringConvertible {
        var rule, source, destination, port, stage, reason, host: String

        var description: String { [rule, source, destination, port, stage, reason, host].joined(separator: "\t") }
    }

    /// Capture-health alerts concern the sensor, not the traffic: a replay cannot have them.
    static let sensorRules: Set<String> = ["capture-loss", "capture-silent"]

    /// The traffic alerts of a JSON-lines output, each with its line as written.
    static func alerts(in url: URL) throws -> [(row: Row, line: String)] {
        let text = try String(contentsOf: url, encoding: .utf8)
        return try text.split(separator: "\n").compactMap { line in
            guard let event = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw JSONLineError(line: String(line))
            }
            guard event["event_type"] as? String == "alert", let alert = event["alert"] as? [String: Any] else {
                return nil
            }
            let rule = alert["rule"] as? String ?? "?"
            guard !sensorRules.contains(rule) else { return nil }
            func text(_ value: Any?) -> String {
                switch value {
                case let string as String: string
                case let number as NSNumber: number.stringValue
                default: "-"  // absent or null
                }
            }
            let host = (event["host"] as? [String: Any])?["address"]
            let row = Row(rule: rule, source: text(event["src_ip"]), destination: text(event["dest_ip"]),
                          port: text(event["dest_port"]), stage: text(alert["stage"]), reason: text(alert["reason"]),
                          host: text(host))
            return (row, String(line))
        }
    }

    /// The line with the times of its flow so far (`flow.start`, `flow.age`), of a guessing run's sessions and of a
    /// woken host's last activity blanked: from frames stamped each by its own socket, like `timestamp`, they differ
    /// by microseconds live and replayed.
    static func blankingFlowTimes(_ line: String) -> String {
        line.replacing(/"start":"[^"]*"/, with: #""start":"""#).replacing(/"age":[0-9.]+/, with: #""age":0"#)
            .replacing(/"last_active_before":"[^"]*"/, with: #""last_active_before":"""#)
            .replacing(/"(session_shortest|session_median|session_longest)":[0-9.]+/, with: #""session":0"#)
    }

    /// A JSON line's `timestamp` (seconds since the epoch) and the line with the timestamp's value blanked.
    static func splitTimestamp(_ line: String) -> (Double, String) {
        let key = "\"timestamp\":\""
        guard let start = line.range(of: key), let end = line[start.upperBound...].firstIndex(of: "\"") else {
            return (.nan, line)
        }
        let text = String(line[start.upperBound..<end])  // 2026-11-22T00:16:50.721366Z
        var seconds = Double.nan
        if let dot = text.firstIndex(of: "."),
            let whole = ISO8601DateFormatter().date(from: String(text[..<dot]) + "Z"),
            let fraction = Double("0" + text[dot...].dropLast())
        {
            seconds = whole.timeIntervalSince1970 + fraction
        }
        return (seconds, line.replacingCharacters(in: start.upperBound..<end, with: ""))
    }

    @Test("live alerts = replayed alerts of the recorded traffic = captures/live/expected.tsv",
          .enabled(if: geteuid() == 0, "needs root to create network namespaces"), .timeLimit(.minutes(3)))
    func liveEqualsReplayAndExpected() throws {
        let out = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        let script = TestPaths.packageRoot.appendingPathComponent("scripts/live-e2e.sh").path
        let run = try runScript(script, [TestPaths.executable, out.path], timeout: 150)
        func file(_ name: String) -> String {
            (try? String(contentsOf: out.appendingPathComponent(name), encoding: .utf8)) ?? "(no \(name))"
        }
        #expect(run.status == 0,
                "scripts/live-e2e.sh exited \(run.status):\n\(run.output)\nlive.err:\n\(file("live.err"))")

        // (c) SIGTERM: flush and exit 0.
        let liveStatus = file("live.status").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(liveStatus == "0", "idlewatch live exited \(liveStatus) after SIGTERM; live.err:\n\(file("live.err"))")

        let live = try Self.alerts(in: out.appendingPathComponent("live.json"))
        let replay = try Self.alerts(in: out.appendingPathComponent("replay.json"))
        let liveText = live.map(\.row.description).joined(separator: "\n")
        let replayText = replay.map(\.row.description).joined(separator: "\n")

        // (a) The same traffic gives the same alerts, live or replayed: as a set, in order, byte for byte but the time.
        #expect(live.map(\.row.description).sorted() == replay.map(\.row.description).sorted(),
                "live:\n\(liveText)\nreplay of recorded.pcap:\n\(replayText)")
        if Set(live.map(\.row)) == Set(replay.map(\.row)) {
            #expect(live.map(\.row) == replay.map(\.row),
                    "same alerts, different order:\nlive:\n\(liveText)\nreplay:\n\(replayText)")
            // Byte for byte but the time: each packet socket (the sensor's, tcpdump's) stamps a frame itself when
            // the kernel has not (veth frames from another namespace arrive unstamped), microseconds apart.
            for (l, r) in zip(live, replay) where l.row == r.row {
                let (liveTime, liveRest) = Self.splitTimestamp(Self.blankingFlowTimes(l.line))
                let (replayTime, replayRest) = Self.splitTimestamp(Self.blankingFlowTimes(r.line))
                let both = "live:   \(l.line)\nreplay: \(r.line)"
                #expect(liveRest == replayRest, "the same alert differs live and replayed:\n\(both)")
                #expect(abs(liveTime - replayTime) < 0.05, "live and replayed times differ:\n\(both)")
            }
        }

        // (b) Every expected alert was raised live, and nothing else.
        let expected = try ExpectedAlert.load(TestPaths.captures.appendingPathComponent("live/expected.tsv"))
        #expect(expected.count >= 9)
        for want in expected {
            #expect(live.contains { want.matches($0.row) }, "missing live: \(want)\nlive alerts:\n\(liveText)")
        }
        for got in live.map(\.row) {
            #expect(expected.contains { $0.matches(got) }, "unexpected live alert: \(got)")
        }
        #expect(live.count == expected.count, "live alerts:\n\(liveText)")
    }

    /// Runs a script in its own process group, with output to a file (never a pipe that could fill), no signal
    /// blocked and every signal at its default: the test runs on a thread that blocks signals, and a child would
    /// inherit that mask, so neither the script's traps nor SIGTERM to the sensor it starts would work. After
    /// `timeout` seconds: SIGTERM (the script's trap then removes its namespaces), and SIGKILL to the group 20 s later.
    func runScript(_ path: String, _ arguments: [String], timeout: Double) throws -> (status: Int32, output: String) {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = directory.appendingPathComponent("output").path

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes,
                                 Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv = (["/bin/bash", path] + arguments).map { strdup($0) }
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, "/bin/bash", &actions, &attributes, argv + [nil], environ)
        guard spawned == 0 else { throw ShellError(output: "posix_spawn: \(String(cString: strerror(spawned)))") }

        let start = Date()
        var status: Int32 = 0, exitStatus: Int32 = -1, signalled: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                exitStatus = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                break
            }
            if result < 0 && errno != EINTR { break }  // reaped elsewhere: status unknown (-1)
            let elapsed = Date().timeIntervalSince(start)
            if signalled == 0 && elapsed > timeout {
                kill(pid, SIGTERM)
                signalled = SIGTERM
            } else if signalled == SIGTERM && elapsed > timeout + 20 {
                kill(-pid, SIGKILL)
                signalled = SIGKILL
            }
            usleep(100_000)
        }
        var output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        if signalled != 0 { output += "\n(timed out after \(Int(timeout)) s)" }
        return (exitStatus, output)
    }
}

extension ExpectedAlert {
    /// As `matches(_: Alert)`, for an alert read from JSON: `-` means "absent" for destination, port and stage, and
    /// "not checked" for reason and host.
    fileprivate func matches(_ row: LiveSensorTests.Row) -> Bool {
        rule == row.rule && source == row.source && destination == row.destination && port == row.port
            && stage == row.stage && (reason == "-" || reason == row.reason) && (host == "-" || host == row.host)
    }
}
