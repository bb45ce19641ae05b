// Golden baselines, in the manner of Zeek's btest baselines: for each case of Tests/Baselines/cases.tsv (every sample
// capture, and real attack captures of ../shared/corpus with a site file each), the exact output of a replay (alert
// and flow records as JSON lines), of its run summary (less the peak-memory line) and of the hosts report on the
// state it saved, compared byte for byte with the files under Tests/Baselines/NAME/.
//
// They pin behaviour, not correctness: the scenario and corpus tests say why an output is right; these say that a
// change of code that was meant to change nothing changed nothing. A change meant to change output rewrites them
// on purpose (`scripts/update-baselines`, which runs this test with IDLEWATCH_UPDATE_BASELINES=1 and shows the diff),
// and the diff goes in the same commit, for review.

import Foundation
import Testing

struct BaselineCase: CustomTestStringConvertible, Sendable {
    var name: String
    /// Repository-relative site file, or nil.
    var site: String?
    /// Absolute paths of the inputs.
    var inputs: [String]

    var testDescription: String { name }

    static let directory = TestPaths.packageRoot.appendingPathComponent("Tests/Baselines")

    /// The cases listed in Tests/Baselines/cases.tsv (tab-separated: name, site or -, inputs separated by spaces).
    static let listed: [BaselineCase] = {
        guard let text = try? String(contentsOf: directory.appendingPathComponent("cases.tsv"), encoding: .utf8) else {
            return []
        }
        return text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#") else { return nil }
            let fields = line.split(separator: "\t").map(String.init)
            guard fields.count == 3 else { return nil }
            let inputs = fields[2].split(separator: " ").map { input -> String in
                input.hasPrefix("corpus:") ? TestPaths.corpusFile(String(input.dropFirst("corpus:".count)))
                    : TestPaths.packageRoot.appendingPathComponent(String(input)).path
            }
            return BaselineCase(name: fields[0], site: fields[1] == "-" ? nil : fields[1], inputs: inputs)
        }
    }()

    /// The listed cases, or those named in IDLEWATCH_BASELINE_CASES (space-separated; scripts/update-baselines).
    static let selected: [BaselineCase] = {
        guard let names = ProcessInfo.processInfo.environment["IDLEWATCH_BASELINE_CASES"]?.split(separator: " ")
        else { return listed }
        return listed.filter { names.contains(Substring($0.name)) }
    }()
}

@Suite("Golden baselines: exact output on the sample captures and real attack captures")
struct BaselineTests {
    static let updating = ProcessInfo.processInfo.environment["IDLEWATCH_UPDATE_BASELINES"] == "1"

    @Test("the case list is read and names distinct cases")
    func caseList() {
        #expect(BaselineCase.listed.count >= 20)
        #expect(Set(BaselineCase.listed.map(\.name)).count == BaselineCase.listed.count)
    }

    @Test("replay output, run summary and hosts report are unchanged", arguments: BaselineCase.selected)
    func unchanged(_ baseline: BaselineCase) throws {
        let outputs = try Self.run(baseline)
        let directory = BaselineCase.directory.appendingPathComponent(baseline.name)
        if Self.updating {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }
        for (file, text) in outputs {
            let url = directory.appendingPathComponent(file)
            if Self.updating {
                try text.write(to: url, atomically: true, encoding: .utf8)
                continue
            }
            guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
                Issue.record("\(baseline.name)/\(file) is missing: scripts/update-baselines \(baseline.name) writes it")
                continue
            }
            if text != expected {
                let got = text.split(separator: "\n", omittingEmptySubsequences: false)
                let want = expected.split(separator: "\n", omittingEmptySubsequences: false)
                let first = zip(got, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(got.count, want.count)
                // Around the first differing character (the hosts report is one long line).
                let now = first < got.count ? Array(got[first]) : [], then = first < want.count ? Array(want[first]) : []
                let at = zip(now, then).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(now.count, then.count)
                func around(_ line: [Character]) -> String {
                    let from = max(0, at - 60), to = max(from, min(line.count, at + 60))
                    return (from > 0 ? "..." : "") + String(line[from..<to]) + (to < line.count ? "..." : "")
                }
                Issue.record("""
                    \(baseline.name)/\(file) differs from the baseline at line \(first + 1) \
                    (\(got.count) lines, baseline \(want.count)); scripts/update-baselines \(baseline.name) shows the diff
                    baseline: \(around(then))
                    now:      \(around(now))
                    """)
            }
        }
    }

    /// Runs the replay and the hosts report of one case; returns (file name, text) pairs.
    static func run(_ baseline: BaselineCase) throws -> [(String, String)] {
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let state = work.appendingPathComponent("state.db").path
        var arguments = ["replay", "--format", "json", "--flows", "--state", state, "--end-flows"]
        if let site = baseline.site {
            arguments += ["--site", TestPaths.packageRoot.appendingPathComponent(site).path]
        }
        let replay = try runIdleWatch(arguments + baseline.inputs)
        #expect(replay.status == 0, "\(baseline.name): \(replay.standardError)")
        // Vendors from the excerpt of the IEEE OUI list kept with the baselines, not from whatever list the machine has.
        let hosts = try runIdleWatch(["hosts", "--state", state, "--format", "json", "--outside", "--oui",
                                      TestPaths.packageRoot.appendingPathComponent("Tests/Baselines/oui.txt").path])
        #expect(hosts.status == 0, "\(baseline.name): \(hosts.standardError)")
        // What depends on the machine, not on the code: the temporary directory and the corpus's place, and the
        // peak memory.
        func portable(_ text: String) -> String {
            text.replacingOccurrences(of: work.path, with: "$WORK")
                .replacingOccurrences(of: TestPaths.corpus.path, with: "$CORPUS")
                .replacingOccurrences(of: TestPaths.packageRoot.path, with: "$REPO")
        }
        let summary = replay.standardError.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("  memory: peak RSS") }.joined(separator: "\n")
        return [("replay.jsonl", portable(replay.standardOutput)), ("summary.txt", portable(summary)),
                ("hosts.json", portable(hosts.standardOutput))]
    }
}
