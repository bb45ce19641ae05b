// The replay's two threads (read and decode on one, analyse on the other) must give exactly what one thread gives:
// the same alerts in the same order, the same counters, the same errors. Small rings make the batches wrap around
// thousands of times and end on partial batches; a truncated file checks that what came before the damage is
// analysed and the error kept.

import Detection
import OutputSinks
import Foundation
import PacketCapture
import Sensor
import SiteModel
import Testing

/// What a replay leaves behind, for comparing two ways of running it.
struct ReplayOutcome: Equatable {
    var alerts: [String]
    var packets: UInt64
    var ipv4: UInt64
    var ipv6: UInt64
    var flows: String
    var hosts: Int
    var errors: [String]
    var files: Int
}

/// One run; the threaded one uses other hash seeds than the single-threaded one, so the comparison also shows that
/// nothing (alerts, counters, hosts) depends on how the tables lay out.
func replayOutcome(_ paths: [String], site: Site, threaded: (batches: Int, size: Int)?) throws -> ReplayOutcome {
    var configuration = PipelineConfiguration()
    configuration.site = site
    configuration.flows.hashSeed = threaded == nil ? 0x1d1e_3a7c : 0x7f3e_91c5_0b22_d416
    configuration.hosts.hashSeed = threaded == nil ? 0x5eed_0001 : 0x2a6b_c0de_4411_9e07
    var pipeline = Pipeline(configuration: configuration, output: nil)
    final class Box { var alerts: [String] = [] }
    let box = Box()
    pipeline.onAlert = { box.alerts.append(AlertFormatter.text($0)) }
    let source = ReplaySource(paths: paths)
    if let threaded {
        try ReadAhead.replay(source, into: &pipeline, batches: threaded.batches, batchSize: threaded.size)
    } else {
        source.run(&pipeline)
    }
    pipeline.finish()
    return ReplayOutcome(alerts: box.alerts, packets: pipeline.decode.packets, ipv4: pipeline.decode.ipv4,
                         ipv6: pipeline.decode.ipv6, flows: "\(pipeline.flows.counters)",
                         hosts: pipeline.analyzer.engine.hosts.count, errors: source.errors.map(\.description),
                         files: source.filesRead)
}

@Suite("Replay on two threads")
struct ReadAheadTests {
    static let site = (try? SiteLoader.load(path: TestPaths.captures.appendingPathComponent("site.yaml").path)) ?? Site()

    @Test("the sample captures, merged by time: same alerts, counters and hosts as one thread",
          arguments: [(2, 1), (3, 7), (4, 1024)])
    func sampleCaptures(batches: Int, size: Int) throws {
        let paths = [TestPaths.captures.path]
        let single = try replayOutcome(paths, site: Self.site, threaded: nil)
        let threaded = try replayOutcome(paths, site: Self.site, threaded: (batches, size))
        #expect(single.packets > 500 && single.alerts.count >= 5, "the samples should exercise the detections")
        #expect(threaded == single)
    }

    @Test("real captures from the corpus, one directory at a time", arguments: ["zeek", "mercury", "suricata-verify"])
    func corpusDirectories(directory: String) throws {
        let paths = [TestPaths.corpusFile(directory)]
        let single = try replayOutcome(paths, site: Site(), threaded: nil)
        let threaded = try replayOutcome(paths, site: Site(), threaded: (3, 5))
        #expect(single.packets > 100)
        #expect(threaded == single)
    }

    @Test("a file cut inside a record: the packets before it are analysed and the error is kept")
    func truncatedFile() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let whole = try Data(contentsOf: TestPaths.captures.appendingPathComponent("inbound-scan.pcap"))
        let cut = directory.appendingPathComponent("cut.pcap")
        try whole.prefix(whole.count * 2 / 3).write(to: cut)
        let single = try replayOutcome([cut.path], site: Self.site, threaded: nil)
        let threaded = try replayOutcome([cut.path], site: Self.site, threaded: (2, 3))
        #expect(single.errors.count == 1 && single.packets > 0, "\(single.errors)")
        #expect(threaded == single)
    }

    @Test("progress reports rise and stay within the input's size")
    func progress() throws {
        var configuration = PipelineConfiguration()
        configuration.site = Self.site
        var pipeline = Pipeline(configuration: configuration, output: nil)
        pipeline.progressInterval = 64
        final class Box { var reports: [(UInt64, Int64, Int64)] = [] }
        let box = Box()
        let source = ReplaySource(paths: [TestPaths.captures.path])
        try ReadAhead.replay(source, into: &pipeline, batches: 2, batchSize: 100, progress: { packets, read in
            box.reports.append((packets, read.0, read.1))
        })
        #expect(box.reports.count == Int(pipeline.decode.packets / 64))
        for (earlier, later) in zip(box.reports, box.reports.dropFirst()) {
            #expect(earlier.0 < later.0 && earlier.1 <= later.1)
        }
        for report in box.reports { #expect(report.1 <= report.2 && report.2 > 0) }
    }
}
