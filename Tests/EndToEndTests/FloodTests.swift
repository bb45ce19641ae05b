// Floods with one real session hidden inside (issue 7, hostile input): a SYN flood from forged sources and every
// source port, a flood of tiny fragments of datagrams that never complete, and a flood of frames from a new address
// each, all written by idlewatch-synth with an outside remote-desktop session to a workstation's undeclared port
// 3389 in the middle. Replayed with small caps so that every table has to make room, each run must succeed, raise
// maintenance-port-inbound for the hidden session at `open` and `session`, keep that session as one flow until it
// closed (the flood's debris goes first), count what was evicted, hold no more than the caps, and peak at about the
// same memory whether the flood is half as long or all of it.

import Foundation
import Testing

@Suite("Floods", .serialized)
struct FloodTests {
    static let flowCapacity = 8192
    static let hostCapacity = 4096
    /// Packets of the long run; the short one has half. Long enough for the short run to fill every table the flood
    /// aims at (flows, hosts, and for the SYN flood the 65,536 sources with one failed attempt), short enough for a
    /// debug build (under 10 s for the slowest kind).
    static let packets = 240_000

    struct Run {
        var result: ProcessResult
        /// The hidden session as the synthesizer reports it: `SOURCE:PORT -> TARGET:3389`.
        var session: String
        var summary: String { result.standardError }

        func number(_ pattern: Regex<(Substring, Substring)>) -> Int? {
            summary.firstMatch(of: pattern).flatMap { Int($0.1) }
        }
    }

    static func replay(_ kind: String, packets: Int) throws -> Run {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let capture = directory.appendingPathComponent("\(kind).pcap").path
        let site = directory.appendingPathComponent("site.yaml").path
        let made = try SynthesizerTests.synthesize(["--flood", kind, "--packets", "\(packets)", "--seed", "5",
                                                    "-w", capture, "--site-file", site])
        #expect(made.status == 0, "\(made.standardError)")
        let hidden = try #require(made.standardError.firstMatch(of: /hidden session ([0-9.]+:[0-9]+ -> [0-9.]+):3389/))
        let result = try runIdleWatch(["replay", "--site", site, "--flows", "--no-progress",
                                       "--flow-capacity", "\(flowCapacity)", "--host-capacity", "\(hostCapacity)", capture])
        return Run(result: result, session: "\(hidden.1):3389")
    }

    /// What every flood must leave intact; returns the long run for the checks of its kind.
    static func check(_ kind: String) throws -> Run {
        let short = try replay(kind, packets: packets / 2)
        let run = try replay(kind, packets: packets)
        #expect(run.result.status == 0, "\(run.summary)")
        #expect(run.number(/idlewatch: 1 file, (\d+) packets/) == packets)

        // The hidden session raises its alerts: the port answered, then data went both ways.
        let alerts = run.result.outputLines.filter { $0.contains(" maintenance-port-inbound ") }
        #expect(alerts.contains { $0.contains("sev2 maintenance-port-inbound [open] \(run.session):") }, "\(alerts)")
        #expect(alerts.contains { $0.contains("sev1 maintenance-port-inbound [session] \(run.session):") }, "\(alerts)")
        #expect(alerts.allSatisfy { $0.contains(run.session) }, "the flood raises nothing of its own: \(alerts)")
        // And it stays one flow until both sides closed it (SF): nothing of the flood pushed it out before.
        let records = run.result.outputLines.filter { $0.contains(" TCP \(run.session) ") }
        #expect(records.first?.contains(" SF ") == true, "\(records)")

        // Evictions happened, are counted, and nothing held exceeds its cap.
        #expect((run.number(/, (\d+) evicted; peak/) ?? 0) > 0, "\(run.summary)")
        #expect(run.number(/peak (\d+) at once/) == flowCapacity, "\(run.summary)")
        #expect((run.number(/hosts: (\d+) \(/) ?? .max) <= 2 * hostCapacity, "\(run.summary)")
        #expect((run.number(/hosts: \d+ \((\d+) evicted\)/) ?? 0) > 0, "\(run.summary)")
        // Twice the flood, the same peak memory (within what allocators and timing vary by).
        let shortMemory = try #require(short.number(/peak RSS (\d+) MiB/))
        let memory = try #require(run.number(/peak RSS (\d+) MiB/))
        #expect(memory - shortMemory <= 8, "peak RSS \(shortMemory) MiB for half the flood, \(memory) MiB for all")
        return run
    }

    @Test("a SYN flood from forged sources on every port: half-open and unanswered flows go, the session stays")
    func synFlood() throws {
        let run = try FloodTests.check("syn")
        let evicted = try #require(run.summary.firstMatch(of: /evicted flows: ([^\n]*)/)).1
        #expect(evicted.contains("unanswered") && evicted.contains("half-open") && !evicted.contains("established"),
                "\(evicted)")
        #expect((run.number(/evicted hosts: 0 local \(of \d+ held\), (\d+) outside/) ?? 0) > 100_000, "\(run.summary)")
        #expect((run.number(/(\d+) sources with one failed attempt/) ?? 0) > 0, "\(run.summary)")
    }

    @Test("a flood of tiny fragments that never complete: the fragment tracker forgets, and says so")
    func fragmentFlood() throws {
        let run = try FloodTests.check("fragments")
        #expect((run.number(/(\d+) first fragments forgotten/) ?? 0) > 0, "\(run.summary)")
        #expect((run.number(/(\d+) without a first fragment/) ?? 0) > 100_000, "\(run.summary)")
        #expect(!run.summary.contains("malformed"), "tiny fragments are odd, not malformed: \(run.summary)")
    }

    @Test("a flood of frames from a new address each, outside and on the local segment: both sides of the host table make room")
    func hostFlood() throws {
        let run = try FloodTests.check("hosts")
        let local = try #require(run.number(/evicted hosts: (\d+) local/))
        let outside = try #require(run.number(/held\), (\d+) outside/))
        #expect(local > 10_000 && outside > 100_000, "\(run.summary)")
        let evicted = try #require(run.summary.firstMatch(of: /evicted flows: ([^\n]*)/)).1
        #expect(evicted.contains("UDP") && evicted.contains("ICMP") && !evicted.contains("established"), "\(evicted)")
    }
}
