// A directory of capture files that all overlap in time, replayed under a small descriptor limit: the replay stops
// with one error that names the limit, instead of one "Too many open files" per file and a replay that goes on
// without them (749 of 1,000 files lost that way under `ulimit -n 256`).

import Foundation
import PacketCapture
import PacketDecoding
import Testing

@Suite("Replay of many overlapping files")
struct ReplayFileSetTests {
    @Test("300 overlapping files under ulimit -n 256: one error naming the budget, exit 1, no file failing alone")
    func descriptorLimit() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var frame = [UInt8](repeating: 0, count: 60)
        frame[12] = 0x08
        for index in 0..<300 {
            let writer = try CaptureWriter(path: directory.appendingPathComponent(String(format: "f%03d.pcap", index)).path,
                                           linkType: .ethernet)
            for time in [Int64(1_000 + index), Int64(5_000 + index)] {
                frame.withUnsafeBytes { writer.write(timestamp: Timestamp(seconds: time), bytes: $0) }
            }
            try writer.flush()
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        // A soft and hard limit of 256: the replay cannot raise it, and keeps 64 for everything else.
        process.arguments = ["-c", "ulimit -n 256 && exec \"$0\" replay --no-progress \"$1\"", TestPaths.executable,
                             directory.path]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1, "\(text)")
        let errorLines = text.split(separator: "\n").filter { $0.hasPrefix("  error:") }
        #expect(errorLines.count == 1, "\(errorLines.prefix(3))")
        #expect(errorLines.first?.contains("more than 192 capture files overlap in time at 1970-01-01T00:19:52.000000Z") == true,
                "\(errorLines.first ?? "")")
        #expect(!text.contains("Too many open files"))
        #expect(text.contains("192 packets"), "\(text)")
    }
}
