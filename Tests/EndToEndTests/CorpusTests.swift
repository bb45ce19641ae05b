// Every capture in ../shared/corpus goes through capture, decode and flows: no crash, no hang, the packet count
// libpcap reports in the MANIFEST for every file it reads, and a clear error naming the file for every file it
// rejects (after as many packets as libpcap delivered before failing).

import Foundation
import PacketCapture
import Sensor
import Testing

struct ManifestEntry: Sendable, CustomTestStringConvertible {
    var path: String
    /// The MANIFEST's `packets` column: complete records in the file.
    var packets: Int
    /// What `tcpdump -r` (libpcap 1.10.3) did: `ok, N pkts` or `ERROR rc=1 after N pkts: MESSAGE`.
    var libpcapResult: String

    var testDescription: String { path }

    var libpcapReadsIt: Bool { libpcapResult.hasPrefix("ok") }

    /// Packets libpcap delivered before it stopped.
    var libpcapPackets: Int {
        let digits = libpcapResult.split(separator: " ").compactMap { Int($0) }
        return digits.first ?? 0
    }

    static func load() throws -> [ManifestEntry] {
        let manifest = TestPaths.corpus.appendingPathComponent("MANIFEST.tsv")
        let text = try String(contentsOf: manifest, encoding: .utf8)
        var entries: [ManifestEntry] = []
        for line in text.split(separator: "\n").dropFirst() {
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard columns.count >= 8, let packets = Int(columns[5]) else { continue }
            entries.append(ManifestEntry(path: columns[0], packets: packets, libpcapResult: columns[7]))
        }
        return entries
    }
}

/// Counts packets and runs them through the full pipeline (decode, flows) with no output.
struct CountingPipeline: PacketHandler {
    var pipeline = Pipeline(configuration: PipelineConfiguration(), output: nil)
    var packets = 0

    mutating func handle(_ packet: CapturedPacket) {
        packets += 1
        pipeline.handle(packet)
    }
}

@Suite("Corpus")
struct CorpusTests {
    static let entries: [ManifestEntry] = (try? ManifestEntry.load()) ?? []

    @Test("the MANIFEST lists the corpus")
    func manifestIsThere() throws {
        #expect(Self.entries.count > 700, "expected ../shared/corpus/MANIFEST.tsv beside the clone")
    }

    @Test("every corpus file is read as libpcap reads it", arguments: entries)
    func readsLikeLibpcap(_ entry: ManifestEntry) throws {
        let path = TestPaths.corpusFile(entry.path)
        let source = ReplaySource(paths: [path])
        var handler = CountingPipeline()
        source.run(&handler)
        handler.pipeline.finish()
        if entry.libpcapReadsIt {
            #expect(source.errors.isEmpty, "libpcap reads \(entry.path) but we reported \(source.errors)")
            #expect(handler.packets == entry.packets, "\(entry.path): \(handler.packets) packets, MANIFEST says \(entry.packets)")
        } else {
            #expect(source.errors.count == 1, "\(entry.path): libpcap fails (\(entry.libpcapResult)) so must we")
            if let error = source.errors.first {
                #expect(error.source == path)
                #expect(error.description.hasPrefix(path + ": "))
                #expect(!error.message.isEmpty)
                #expect(!error.description.contains("\n"))
            }
            #expect(handler.packets == entry.libpcapPackets,
                    "\(entry.path): \(handler.packets) packets before the error, libpcap delivered \(entry.libpcapPackets)")
        }
        #expect(handler.pipeline.decode.packets == UInt64(handler.packets))
    }
}
