// The detection scenarios in captures/: each capture is replayed with its site file (captures/sites/NAME.yaml) and
// its alerts are compared with captures/expected/NAME.tsv, which the scenario's author wrote from what the scenario
// does (captures/README.md explains each). The main job, all of captures/ with captures/site.yaml, must give
// captures/expected/all.tsv.

import Detection
import Foundation
import SiteModel
import Testing

struct ExpectedAlert: Equatable, CustomStringConvertible {
    var rule, source, destination, port, stage, reason, host: String

    /// Compares with `-` in the expectation meaning "not applicable" for stage, destination and port, and "not
    /// checked" for reason and host (an inbound scan concerns no single local host).
    func matches(_ alert: Alert) -> Bool {
        rule == alert.rule.rawValue && source == alert.source.description
            && destination == (alert.destination?.description ?? "-")
            && port == (alert.destinationPort.map(String.init) ?? "-")
            && stage == (alert.stage?.description ?? "-")
            && (reason == "-" || reason == alert.reason)
            && (host == "-" || host == alert.host.address.description)
    }

    var description: String { [rule, source, destination, port, stage, reason, host].joined(separator: "\t") }

    static func load(_ url: URL) throws -> [ExpectedAlert] {
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").dropFirst()
        return lines.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty && !$0.hasPrefix("#") }.map { line in
            let c = line.split(separator: "\t", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            return ExpectedAlert(rule: c[0], source: c[1], destination: c[2], port: c[3], stage: c[4], reason: c[5],
                                 host: c.count > 6 ? c[6] : "-")
        }
    }
}

func describe(_ alerts: [Alert]) -> String {
    alerts.map { a in
        [a.rule.rawValue, a.source.description, a.destination?.description ?? "-", a.destinationPort.map(String.init) ?? "-",
         a.stage?.description ?? "-", a.reason ?? "-", a.host.address.description].joined(separator: "\t")
    }.joined(separator: "\n")
}

@Suite("Detection scenarios in captures/")
struct ScenarioTests {
    static let scenarios: [String] = {
        let directory = TestPaths.captures.appendingPathComponent("expected")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".tsv") && $0 != "all.tsv" }.map { String($0.dropLast(4)) }.sorted()
    }()

    @Test("there are scenarios")
    func present() {
        #expect(Self.scenarios.count >= 7)
    }

    @Test("each scenario raises exactly its expected alerts", arguments: scenarios)
    func scenario(_ name: String) throws {
        let site = try SiteLoader.load(path: TestPaths.captures.appendingPathComponent("sites/\(name).yaml").path)
        let expected = try ExpectedAlert.load(TestPaths.captures.appendingPathComponent("expected/\(name).tsv"))
        let raised = alerts(of: [TestPaths.captures.appendingPathComponent("\(name).pcap").path], site: site)
        #expect(raised.count == expected.count, "\(name):\n\(describe(raised))")
        for (want, got) in zip(expected, raised) {
            #expect(want.matches(got), "\(name): expected \(want), got \(describe([got]))")
        }
    }

    @Test("the main job: all of captures/ with captures/site.yaml gives captures/expected/all.tsv")
    func everything() throws {
        let site = try SiteLoader.load(path: TestPaths.captures.appendingPathComponent("site.yaml").path)
        let expected = try ExpectedAlert.load(TestPaths.captures.appendingPathComponent("expected/all.tsv"))
        let raised = alerts(of: [TestPaths.captures.path], site: site)
        #expect(raised.count == expected.count, "\n\(describe(raised))")
        for want in expected {
            #expect(raised.contains { want.matches($0) }, "missing: \(want)")
        }
    }
}
