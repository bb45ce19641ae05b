// `idlewatch replay --syslog` against a real rsyslogd (the collector of SyslogTestCollector.swift): the replay of the
// sample captures delivers to rsyslog exactly the alerts it prints on standard output, over UDP, TCP and a unix
// socket, and says so in its summary; with no collector there, it waits its bounded time, then counts every alert
// as undeliverable in the summary and exits 1.

import Foundation
import Glibc
import Testing

@Suite("replay --syslog", .enabled(if: RsyslogCollector.isAvailable, "rsyslogd is missing (install Debian's rsyslog)"))
struct ReplaySyslogTests {
    static let captures = RsyslogCollector.packageRoot.appendingPathComponent("captures").path

    enum Transport: String, CaseIterable, CustomTestStringConvertible {
        case unix, udp, tcp

        var testDescription: String { rawValue }

        func destination(_ collector: RsyslogCollector) -> String {
            switch self {
            case .unix: "unix:\(collector.socketPath)"
            case .udp: "udp://127.0.0.1:\(collector.udpPort)"
            case .tcp: "tcp://127.0.0.1:\(collector.tcpPort)"
            }
        }
    }

    @Test("the sample captures replayed: rsyslog receives exactly the alerts printed on standard output (text and alert id), the summary counts them sent, none lost",
          arguments: Transport.allCases)
    func deliversWhatItPrints(transport: Transport) throws {
        let collector = try RsyslogCollector()
        defer { collector.stop() }
        let destination = transport.destination(collector)
        let run = try runReplay(["--site", "\(Self.captures)/site.yaml", "--syslog", destination,
                                 "--syslog-format", "rfc5424", Self.captures])
        #expect(run.status == 0, "\(run.standardError)")
        let printed = run.standardOutput.split(separator: "\n").map(String.init)
        // The sample captures raise ten alerts (captures/expected/all.tsv); fewer would make the comparison weak.
        try #require(printed.count >= 10, "\(run.standardError)")
        let lines = collector.waitForLines(count: printed.count, seconds: 20)
        let messages = try lines.map(parseRFC5424)
        #expect(messages.compactMap(\.message).sorted() == printed.sorted())
        // The alert id in the structured data is the one the printed line ends with: "(alert 3, incident 1)". The
        // closing records of what suppression held back (at the end of the run) go too, marked as such.
        let printedAlerts = printed.filter { !$0.contains(" alert-summary ") }
        let printedIDs = printedAlerts.compactMap { $0.firstMatch(of: /\(alert (\d+)/).map { String($0.1) } }
        let deliveredIDs = messages.filter { $0.structuredData.first?["event"] == nil }
            .compactMap { $0.structuredData.first?["alert"] }
        #expect(printedIDs.count == printedAlerts.count)
        #expect(deliveredIDs.sorted() == printedIDs.sorted())
        let summaries = messages.filter { $0.structuredData.first?["event"] == "alert_summary" }
        #expect(summaries.count == printed.count - printedAlerts.count && !summaries.isEmpty)
        let account = try #require(run.standardError.firstMatch(of: /syslog (\S+): (\d+) sent, (\d+) queued, (\d+) lost/),
                                   "\(run.standardError)")
        #expect(String(account.1) == destination)
        #expect(Int(account.2) == printed.count && account.3 == "0" && account.4 == "0", "\(run.standardError)")
        #expect(run.standardError.contains("alerts to syslog \(destination) (rfc5424, local0)"))
    }

    @Test("no collector at the unix socket: the replay still prints every alert, then waits its bounded time and counts each one undeliverable in the summary, exit 1")
    func collectorAbsent() throws {
        let collector = try RsyslogCollector(start: false)
        defer { collector.stop() }
        let run = try runReplay(["--syslog", "unix:\(collector.socketPath)", "--syslog-format", "rfc5424",
                                 "--site", "\(Self.captures)/site.yaml", Self.captures])
        #expect(run.status == 1, "\(run.standardError)")
        let printed = run.standardOutput.split(separator: "\n").count
        try #require(printed >= 10, "\(run.standardError)")
        let account = try #require(
            run.standardError.firstMatch(of: /syslog unix:\S+: (\d+) sent, (\d+) queued, (\d+) lost \(\d+ queue full, \d+ rejected, (\d+) undeliverable\)/),
            "\(run.standardError)")
        #expect(account.1 == "0" && account.2 == "0", "\(run.standardError)")
        #expect(Int(account.3) == printed && Int(account.4) == printed, "\(run.standardError)")
        #expect(run.standardError.contains("error: syslog unix:\(collector.socketPath): \(printed) alerts not delivered"),
                "\(run.standardError)")
    }
}

/// Runs `idlewatch replay` (built beside the test bundle) with its output in files.
private func runReplay(_ arguments: [String]) throws -> (status: Int32, standardOutput: String, standardError: String) {
    var directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("idlewatch").path), directory.path != "/" {
        directory = directory.deletingLastPathComponent()
    }
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("idlewatch-replay-syslog-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    let out = work.appendingPathComponent("stdout"), err = work.appendingPathComponent("stderr")
    FileManager.default.createFile(atPath: out.path, contents: nil)
    FileManager.default.createFile(atPath: err.path, contents: nil)
    let process = Process()
    process.executableURL = directory.appendingPathComponent("idlewatch")
    process.arguments = ["replay"] + arguments
    process.standardOutput = try FileHandle(forWritingTo: out)
    process.standardError = try FileHandle(forWritingTo: err)
    try process.run()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: try Data(contentsOf: out), as: UTF8.self),
            String(decoding: try Data(contentsOf: err), as: UTF8.self))
}
