// The replay of many capture files as one stream: overlapping files interleave in timestamp order through the heap,
// ties go to the file that came first, files that do not overlap are never open together, and more overlapping
// files than the open-file budget stop the replay with an error that says so instead of failing file by file.

import Foundation
import Glibc
@testable import PacketCapture
import PacketDecoding
import Testing

/// Writes a pcap file per entry of `timestamps` (seconds) into a new directory, each packet a 60-byte frame whose
/// first two bytes are the file's number; returns the directory.
func writeCaptureFiles(_ timestamps: [[Int64]]) throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("merge-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    for (index, times) in timestamps.enumerated() {
        let writer = try CaptureWriter(path: directory.appendingPathComponent(String(format: "f%06d.pcap", index)).path,
                                       linkType: .ethernet)
        var frame = [UInt8](repeating: 0, count: 60)
        frame[0] = UInt8(index >> 8)
        frame[1] = UInt8(index & 0xff)
        for time in times {
            frame.withUnsafeBytes { writer.write(timestamp: Timestamp(seconds: time), bytes: $0) }
        }
        try writer.flush()
    }
    return directory
}

/// Packets as (seconds, file number).
struct MergeRecorder: PacketHandler {
    var packets: [(Int64, Int)] = []

    mutating func handle(_ packet: CapturedPacket) {
        packets.append((packet.timestamp.seconds, Int(packet.bytes[0]) << 8 | Int(packet.bytes[1])))
    }
}

@Suite struct ReplayMergeTests {
    @Test("200 files that all overlap interleave packet by packet in time order; equal times keep file order")
    func overlappingFilesInterleave() throws {
        // File i has packets at i, i+200, i+400 ... and one at 1000 that every file shares.
        let files = (0..<200).map { i in (0..<5).map { Int64(i + 200 * $0) } + [Int64(1000)] }
        let directory = try writeCaptureFiles(files)
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = ReplaySource(paths: [directory.path])
        var recorder = MergeRecorder()
        source.run(&recorder)
        #expect(source.errors.isEmpty)
        #expect(recorder.packets.count == 200 * 6)
        let expected = (0..<1000).map { (Int64($0), $0 % 200) } + (0..<200).map { (Int64(1000), $0) }
        #expect(recorder.packets.map(\.0) == expected.map(\.0))
        #expect(recorder.packets.map(\.1) == expected.map(\.1))
        #expect(source.filesRead == 200)
        #expect(source.peakOpenFiles == 200)
    }

    @Test("Files that follow each other are opened one at a time: 500 files with a budget of 2 read in full")
    func sequentialFilesNeedFewDescriptors() throws {
        let files = (0..<500).map { i in [Int64(10 * i), Int64(10 * i + 5)] }
        let directory = try writeCaptureFiles(files)
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = ReplaySource(paths: [directory.path], maximumOpenFiles: 2)
        var recorder = MergeRecorder()
        source.run(&recorder)
        #expect(source.errors.isEmpty, "\(source.errors)")
        #expect(recorder.packets.count == 1000)
        #expect(source.peakOpenFiles == 1)
    }

    @Test("More overlapping files than the budget: one error saying so, everything before it read in order")
    func tooManyOverlappingFiles() throws {
        // 30 files overlap from t=100 on; the budget is 8.
        let files = (0..<30).map { i in [Int64(100 + i), Int64(1000 + i)] }
        let directory = try writeCaptureFiles(files)
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = ReplaySource(paths: [directory.path], maximumOpenFiles: 8)
        var recorder = MergeRecorder()
        source.run(&recorder)
        #expect(source.errors.count == 1, "\(source.errors)")
        let message = source.errors.first?.description ?? ""
        #expect(message.contains("more than 8 capture files overlap in time at 1970-01-01T00:01:48.000000Z"), "\(message)")
        #expect(message.contains("30 files not read to the end") && message.contains("mergecap"), "\(message)")
        // The packets before the ninth file's first one, all in order.
        #expect(recorder.packets.map(\.0) == (100..<108).map { Int64($0) })
    }
}
