// Every capture in ../shared/corpus goes through capture, decode and flows: no crash, no hang; every file Wireshark's
// capinfos reads gives capinfos's packet count (the MANIFEST's), including the pcapng files libpcap 1.10 refuses for
// their interfaces' differing link types or snapshot lengths; compressed files give the command that decompresses
// them; every other file gives a clear error naming it, after as many packets as libpcap delivered before failing.

import Foundation
import PacketCapture
import PacketDecoding
import Sensor
import Testing

struct ManifestEntry: Sendable, CustomTestStringConvertible {
    var path: String
    /// The MANIFEST's `packets` column: complete records in the file.
    var packets: Int
    /// The MANIFEST's `format | link_type(s)` column: `pcapng LE IDBs=2 | multi: 1(EN10MB), 113(LINUX_SLL) ...`.
    var format: String
    /// How the count was made: `capinfos` when capinfos read the whole file, else why not.
    var countMethod: String
    /// What `tcpdump -r` (libpcap 1.10.3) did: `ok, N pkts` or `ERROR rc=1 after N pkts: MESSAGE`.
    var libpcapResult: String

    var testDescription: String { path }

    var libpcapReadsIt: Bool { libpcapResult.hasPrefix("ok") }
    var capinfosReadsIt: Bool { countMethod == "capinfos" }
    var isCompressed: Bool { format.hasPrefix("gzip-compressed") || format.hasPrefix("zstd-compressed") }

    /// The link types the MANIFEST lists for the file's interfaces: the numbers before each `(NAME)` after the `|`.
    var interfaceLinkTypes: Set<Int32> {
        guard let bar = format.firstIndex(of: "|") else { return [] }
        var types: Set<Int32> = []
        for part in format[bar...].split(whereSeparator: { $0 == " " || $0 == "," || $0 == ":" }) {
            guard let open = part.firstIndex(of: "("), let value = Int32(part[..<open]) else { continue }
            types.insert(value)
        }
        return types
    }

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
            entries.append(ManifestEntry(path: columns[0], packets: packets, format: columns[4], countMethod: columns[6],
                                         libpcapResult: columns[7]))
        }
        return entries
    }
}

/// Counts packets and runs them through the full pipeline (decode, flows) with no output.
struct CountingPipeline: PacketHandler {
    var pipeline = Pipeline(configuration: PipelineConfiguration(), output: nil)
    var packets = 0
    var linkTypes: Set<Int32> = []

    mutating func handle(_ packet: CapturedPacket) {
        packets += 1
        linkTypes.insert(packet.linkType.rawValue)
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

    /// Files capinfos reads that IdleWatch refuses on purpose, with what the error says: not pcapng, so not
    /// PcapngReader's business, and libpcap refuses them.
    static let refusedOnPurpose: [String: String] = [
        // Another format: the error says how to convert it.
        "PcapPlusPlus/solaris.snoop": "Solaris snoop capture: convert it with `editcap -F pcap`",
    ]

    @Test("every corpus file capinfos reads is read with capinfos's count; the others fail as libpcap does",
          arguments: entries)
    func readsLikeCapinfos(_ entry: ManifestEntry) throws {
        let path = TestPaths.corpusFile(entry.path)
        let source = ReplaySource(paths: [path])
        var handler = CountingPipeline()
        source.run(&handler)
        handler.pipeline.finish()
        if entry.libpcapReadsIt || (entry.capinfosReadsIt && !entry.isCompressed && Self.refusedOnPurpose[entry.path] == nil) {
            #expect(source.errors.isEmpty, "capinfos reads \(entry.path) but we reported \(source.errors)")
            #expect(handler.packets == entry.packets, "\(entry.path): \(handler.packets) packets, MANIFEST says \(entry.packets)")
            if !entry.libpcapReadsIt {
                // Read by PcapngReader, at least in part: each packet has the link type of one of the file's interfaces.
                let seen = handler.linkTypes
                #expect(seen.isSubset(of: entry.interfaceLinkTypes), "\(entry.path): link types \(seen)")
            }
        } else {
            #expect(source.errors.count == 1, "\(entry.path): libpcap fails (\(entry.libpcapResult)) so must we")
            if let error = source.errors.first {
                #expect(error.source == path)
                #expect(error.description.hasPrefix(path + ": "))
                #expect(!error.message.isEmpty)
                #expect(!error.description.contains("\n"))
                if entry.isCompressed {
                    let command = entry.format.hasPrefix("gzip") ? "zcat" : "zstdcat"
                    #expect(error.message.hasSuffix("-compressed: `\(command) '\(path)' | idlewatch replay -`)"))
                }
                if let reason = Self.refusedOnPurpose[entry.path] {
                    #expect(error.message.contains(reason), "\(error)")
                }
            }
            #expect(handler.packets == entry.libpcapPackets,
                    "\(entry.path): \(handler.packets) packets before the error, libpcap delivered \(entry.libpcapPackets)")
        }
        // Every packet is analysed or counted: the ones stamped too far ahead to be believed (PacketClock.swift) are
        // counted, not analysed.
        #expect(handler.pipeline.decode.packets + handler.pipeline.timeOutliers == UInt64(handler.packets))
    }

    /// Facts from `tshark -r PcapPlusPlus/pcapng-example.pcapng -T fields -e frame.interface_id -e frame.encap_type
    /// -e frame.time_epoch -e frame.cap_len -e frame.len` (Wireshark 4.0): 59 Ethernet packets on interface 0
    /// (nanosecond resolution), then 100 Linux cooked packets on interface 1, where libpcap stops.
    @Test("a pcapng file whose second interface libpcap refuses gives Wireshark's packets")
    func mixedInterfacesAsWiresharkReadsThem() throws {
        let path = TestPaths.corpusFile("PcapPlusPlus/pcapng-example.pcapng")
        struct Record: PacketHandler {
            var packets: [(time: Timestamp, linkType: Int32, captured: Int, wire: Int)] = []
            mutating func handle(_ packet: CapturedPacket) {
                packets.append((packet.timestamp, packet.linkType.rawValue, packet.capturedLength, packet.wireLength))
            }
        }
        let source = ReplaySource(paths: [path])
        var record = Record()
        source.run(&record)
        #expect(source.errors.isEmpty)
        let packets = record.packets
        try #require(packets.count == 159)
        #expect(packets.prefix(59).allSatisfy { $0.linkType == 1 })
        #expect(packets.suffix(100).allSatisfy { $0.linkType == 113 })
        #expect(packets[0].time == Timestamp(seconds: 1_422_527_998, nanoseconds: 578_402_281))
        #expect(packets[58].time == Timestamp(seconds: 1_422_528_033, nanoseconds: 92_194_163))
        #expect(packets[58].captured == 66 && packets[58].wire == 66)
        // Interface 1's timestamps are about 1.8e13 s (year 586,000): kept representable as libpcap's are.
        #expect(packets[59].time.seconds == Timestamp.representableSeconds.upperBound - 1)
        #expect(packets[59].time.subsecondNanoseconds == 126_329_000)
        #expect(packets[60].captured == 128 && packets[60].wire == 1444)
        #expect(packets[158].time.subsecondNanoseconds == 277_451_000)
    }
}
