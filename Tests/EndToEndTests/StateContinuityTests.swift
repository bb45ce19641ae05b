// Continuity through the state file: a capture analysed in two runs that share a state file gives exactly what one
// run gives: the same alerts with the same ids and incidents, and the same flow records (flows open at the split
// are saved and continued, not ended and restarted). Split at several points of every sample capture and of the
// real attack captures, so flows, scan windows, suppression and incidents straddle the split.

import Foundation
import OutputSinks
import PacketCapture
import Sensor
import SiteModel
import StateStore
import Testing

/// Forwards the packets whose position in the replay is within `range` (packet positions count from 0).
struct PacketRange: PacketHandler {
    var pipeline: Pipeline
    let range: Range<UInt64>
    var position: UInt64 = 0

    mutating func handle(_ packet: CapturedPacket) {
        if range.contains(position) { pipeline.handle(packet) }
        position += 1
    }
}

/// Replays the packets of `paths` within `range` with a state file; returns what was written (alerts and flow
/// records, text).
func replayPart(_ paths: [String], site: Site, state: String, range: Range<UInt64>) throws -> String {
    let directory = TestPaths.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let outputPath = directory.appendingPathComponent("out").path
    let descriptor = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    #expect(descriptor >= 0)
    let output = BufferedOutput(descriptor: descriptor)
    var configuration = PipelineConfiguration()
    configuration.site = site
    configuration.writeFlows = true
    var pipeline = Pipeline(configuration: configuration, output: output)
    try pipeline.attachState(try StateFile.openForWriting(path: state), interval: .seconds(60), resume: false)
    var part = PacketRange(pipeline: pipeline, range: range)
    ReplaySource(paths: paths).run(&part)
    part.pipeline.finish()
    close(descriptor)
    #expect(part.pipeline.state?.failures == 0)
    return try String(contentsOfFile: outputPath, encoding: .utf8)
}

func packetCount(_ paths: [String]) -> UInt64 {
    struct Counter: PacketHandler {
        var count: UInt64 = 0
        mutating func handle(_ packet: CapturedPacket) { count += 1 }
    }
    var counter = Counter()
    ReplaySource(paths: paths).run(&counter)
    return counter.count
}

/// Whole run versus two runs split at a quarter, half and three quarters of the packets.
func expectSplitEqualsWhole(_ paths: [String], site: Site, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let total = packetCount(paths)
    #expect(total > 4, sourceLocation: sourceLocation)
    let directory = TestPaths.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let whole = try replayPart(paths, site: site, state: directory.appendingPathComponent("whole.db").path,
                               range: 0..<total)
    for split in [total / 4, total / 2, total * 3 / 4] {
        let state = directory.appendingPathComponent("split-\(split).db").path
        let first = try replayPart(paths, site: site, state: state, range: 0..<split)
        let second = try replayPart(paths, site: site, state: state, range: split..<total)
        let joined = first + second
        let names = paths.map { ($0 as NSString).lastPathComponent }
        let comment = "split at packet \(split) of \(total) of \(names):\nwhole:\n\(whole)\nsplit:\n\(first)--- split ---\n\(second)"
        #expect(joined == whole, Comment(rawValue: comment), sourceLocation: sourceLocation)
    }
}

@Suite("State file: split replays equal whole ones")
struct StateContinuityTests {
    @Test("every sample capture, and all of them together, with captures/site.yaml")
    func sampleCaptures() throws {
        let site = try SiteLoader.load(path: TestPaths.captures.appendingPathComponent("site.yaml").path)
        let files = try FileManager.default.contentsOfDirectory(atPath: TestPaths.captures.path)
            .filter { $0.hasSuffix(".pcap") }.sorted()
        #expect(files.count >= 10)
        for file in files {
            try expectSplitEqualsWhole([TestPaths.captures.appendingPathComponent(file).path], site: site)
        }
        try expectSplitEqualsWhole([TestPaths.captures.path], site: site)
    }

    @Test("real attack captures: password guessing, SYN and version scans, VNC scanner, IPMI, telnet",
          arguments: [
              ("zeek/ssh__sshguess.pcap", "local_networks: [192.168.56.103/32]\n"),
              ("nDPI/synscan.pcap", "local_networks: [64.13.134.52/32]\n"),
              ("zeek/nmap-vsn.pcap", "local_networks: [192.168.1.0/24]\n"),
              ("zeek/rfb__vnc-scanner.pcap", "local_networks: [10.0.0.0/8]\n"),
              ("nDPI/rmcp.pcap", "local_networks: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16]\n"),
              ("suricata-verify/telnet__telnet-01__telnet.pcap", "local_networks: [10.0.0.0/8, 192.168.0.0/16]\n"),
          ])
    func attackCaptures(file: String, siteText: String) throws {
        try expectSplitEqualsWhole([TestPaths.corpusFile(file)], site: try site(siteText))
    }
}
