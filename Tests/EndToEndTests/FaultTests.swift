// Faults around a replay: the capture ends inside a record, the reader of standard output goes away, the disk
// under the state file fills up. Each time the user must get every alert found so far, the state saved where it
// can be, a message that names what failed, and an exit status that says so.

import Foundation
import Testing

@Suite("Faults: broken captures and failing sinks", .serialized)
struct FaultTests {
    /// Byte offsets where the records of a pcap file end (the file header is 24 bytes, each record header 16).
    static func recordEnds(_ data: Data) -> [Int] {
        var ends: [Int] = []
        var offset = 24
        let littleEndian = data.prefix(4) == Data([0xd4, 0xc3, 0xb2, 0xa1]) || data.prefix(4) == Data([0x4d, 0x3c, 0xb2, 0xa1])
        while offset + 16 <= data.count {
            let field = data.subdata(in: offset + 8 ..< offset + 12).reduce(0) { $0 << 8 | Int($1) }
            let length = littleEndian ? Int(UInt32(field).byteSwapped) : field
            guard offset + 16 + length <= data.count else { break }
            offset += 16 + length
            ends.append(offset)
        }
        return ends
    }

    @Test("a capture cut inside a record: alerts before the cut written, state saved, error with file and offset, exit 1")
    func truncatedCaptureWithState() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // SSH password guessing against a server of ours: the alerts come early (the first session) and later
        // (guessing, once enough short sessions have ended).
        let site = directory.appendingPathComponent("site.yaml").path
        try "local_networks: [192.168.56.103/32]\n".write(toFile: site, atomically: true, encoding: .utf8)
        let original = TestPaths.corpusFile("zeek/ssh__sshguess.pcap")
        let whole = try Data(contentsOf: URL(fileURLWithPath: original))
        let ends = Self.recordEnds(whole)
        #expect(ends.last == whole.count && ends.count > 300, "the capture is a well-formed pcap file")
        // Cut 5 bytes into the record after the 200th: its header is there but its bytes are not.
        let cutAt = ends[199] + 21
        let cut = directory.appendingPathComponent("cut.pcap")
        try whole.prefix(cutAt).write(to: cut)
        let clean = directory.appendingPathComponent("clean.pcap")
        try whole.prefix(ends[199]).write(to: clean)
        let state = directory.appendingPathComponent("cut.db").path
        let reference = directory.appendingPathComponent("clean.db").path

        let damaged = try runIdleWatch(["replay", "--site", site, "--state", state, cut.path])
        let intact = try runIdleWatch(["replay", "--site", site, "--state", reference, clean.path])
        #expect(damaged.status == 1)
        #expect(intact.status == 0, "\(intact.standardError)")
        // The same 200 packets were analysed, so the same alerts were written.
        #expect(!intact.outputLines.isEmpty)
        #expect(damaged.standardOutput == intact.standardOutput)
        let errors = damaged.standardError.split(separator: "\n").filter { $0.contains("error:") }
        #expect(errors.count == 1)
        #expect(errors.first?.contains("\(cut.path): truncated dump file") == true, "\(errors)")
        #expect(errors.first?.contains("after 200 packets, at byte offset \(cutAt)") == true, "\(errors)")
        #expect(damaged.standardError.contains("state: saved"), "\(damaged.standardError)")

        // The saved state carries on: the whole file from it skips the 200 packets and raises what the rest adds,
        // exactly as one run over the whole file does.
        let rest = try runIdleWatch(["replay", "--site", site, "--state", state, original])
        #expect(rest.status == 0, "\(rest.standardError)")
        #expect(rest.standardError.contains("200 packets skipped"), "\(rest.standardError)")
        let once = try runIdleWatch(["replay", "--site", site, "--state", directory.appendingPathComponent("once.db").path,
                                     original])
        #expect(!rest.outputLines.isEmpty)
        #expect(damaged.outputLines + rest.outputLines == once.outputLines)
    }

    @Test("standard output closed by its reader (| head -1): the run finishes, saves its state, counts what it could not write and exits 1, as tcpdump does")
    func standardOutputClosed() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = directory.appendingPathComponent("state.db").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestPaths.executable)
        process.arguments = ["replay", "--flows", "--state", state, "--end-flows", TestPaths.corpusFile("mercury/capture2.pcap")]
        let output = Pipe()
        // A one-page pipe, so the flow records overflow it long before the end.
        _ = fcntl(output.fileHandleForWriting.fileDescriptor, 1031 /* F_SETPIPE_SZ */, 4096)
        let errURL = directory.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
        try output.fileHandleForWriting.close()
        // Read one line, then go away, as `head -1` does.
        var first = Data()
        while !first.contains(0x0a), let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty {
            first.append(byte)
        }
        try output.fileHandleForReading.close()
        process.waitUntilExit()
        let errors = try String(contentsOf: errURL, encoding: .utf8)
        #expect(first.count > 10)
        #expect(process.terminationReason == .exit, "no death by SIGPIPE")
        // tcpdump says "Unable to write output: Broken pipe" and exits non-zero: output that did not all reach its
        // reader is a failure, which `set -o pipefail` scripts see.
        #expect(process.terminationStatus == 1, "\(errors)")
        let lost = try #require(errors.firstMatch(of: /standard output closed by its reader: (.*) not written/), "\(errors)")
        #expect(lost.1.matches(of: /\d+/).compactMap { Int($0.0) }.reduce(0, +) > 100, "\(lost.0)")
        // The whole capture was still analysed: the same hosts line as a run whose output has a reader throughout.
        let whole = try runIdleWatch(["replay", "--flows", TestPaths.corpusFile("mercury/capture2.pcap")])
        let hosts = try #require(whole.standardError.firstMatch(of: /hosts: \d+ \(/)).0
        #expect(errors.contains(hosts), "\(errors)")
        #expect(errors.contains("state: saved"), "\(errors)")
    }

    @Test("standard output on a full device (> /dev/full): every alert counted as not written, exit 1")
    func standardOutputFull() throws {
        let site = TestPaths.captures.appendingPathComponent("site.yaml").path
        let reference = try runIdleWatch(["replay", "--site", site, TestPaths.captures.path])
        #expect(reference.status == 0, "\(reference.standardError)")
        let alerts = reference.outputLines.count
        #expect(alerts > 0)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestPaths.executable)
        process.arguments = ["replay", "--site", site, TestPaths.captures.path]
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let errURL = directory.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: "/dev/full"))
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
        process.waitUntilExit()
        let errors = try String(contentsOf: errURL, encoding: .utf8)
        #expect(process.terminationStatus == 1, "\(errors)")
        #expect(errors.contains("standard output: No space left on device: \(alerts) alerts not written"), "\(errors)")
    }

    @Test("the disk under the state file fills up: every alert still written, each failed save reported, exit 1",
          .enabled(if: getuid() == 0, "mounts a small tmpfs"))
    func stateDiskFull() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (capture, site) = try SynthesizerTests.capture(in: directory, seed: 5, packets: 150000,
                                                           clients: 2000, outside: 6000)
        // 256 KiB holds the new file and a save or two of the first hosts, not the state of 8,000 hosts.
        let full = directory.appendingPathComponent("full")
        try FileManager.default.createDirectory(at: full, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=256k", "tmpfs", full.path]
        try mount.run()
        mount.waitUntilExit()
        #expect(mount.terminationStatus == 0)
        defer {
            let unmount = Process()
            unmount.executableURL = URL(fileURLWithPath: "/bin/umount")
            unmount.arguments = [full.path]
            try? unmount.run()
            unmount.waitUntilExit()
        }
        let arguments = ["replay", "--site", site, "--save-interval", "600", "--format", "json"]
        let starved = try runIdleWatch(arguments + ["--state", full.appendingPathComponent("state.db").path, capture])
        let roomy = try runIdleWatch(arguments + ["--state", directory.appendingPathComponent("state.db").path, capture])
        #expect(roomy.status == 0, "\(roomy.standardError)")
        #expect(starved.status == 1)
        // Saving is apart from analysing: the alerts are the same, every one written.
        #expect(!roomy.outputLines.isEmpty)
        #expect(starved.standardOutput == roomy.standardOutput)
        let failed = try #require(starved.standardError.firstMatch(of: /state: (\d+) saves? failed; last: (.*)/),
                                  "\(starved.standardError)")
        #expect(Int(failed.1)! >= 1)
        #expect(failed.2.contains("state.db") && failed.2.contains("full"), "\(failed.2)")
        // The summary names no save that did not happen: the end of the run was not saved, with the reason.
        let end = try #require(starved.standardError.firstMatch(of: /state: NOT saved at the end of the run \((.*)\); the file holds/),
                               "\(starved.standardError)")
        #expect(end.1.contains("full"), "\(end.1)")
        #expect(!starved.standardError.contains("flows left open in it for the next run"), "\(starved.standardError)")
        #expect(roomy.standardError.contains("flows left open in it for the next run"), "\(roomy.standardError)")
    }
}

@Suite("Faults: a replay interrupted by a signal", .serialized)
struct InterruptedReplayTests {
    /// Starts `idlewatch` with `arguments`, standard input from `input` (nil: none), output to files.
    static func start(_ arguments: [String], input: FileHandle? = nil, in directory: URL) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestPaths.executable)
        process.arguments = arguments
        for name in ["stdout", "stderr"] {
            FileManager.default.createFile(atPath: directory.appendingPathComponent(name).path, contents: nil)
        }
        process.standardOutput = try FileHandle(forWritingTo: directory.appendingPathComponent("stdout"))
        process.standardError = try FileHandle(forWritingTo: directory.appendingPathComponent("stderr"))
        if let input { process.standardInput = input }
        try process.run()
        return process
    }

    static func text(_ name: String, in directory: URL) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    @Test("SIGINT midway: what was read is analysed, alerts written, state saved; the next run continues to the same alerts as one run")
    func interruptedWithState() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (capture, site) = try SynthesizerTests.capture(in: directory, seed: 9, packets: 100000,
                                                           clients: 1500, outside: 4000)
        let whole = try Data(contentsOf: URL(fileURLWithPath: capture))
        let state = directory.appendingPathComponent("state.db").path
        let first = directory.appendingPathComponent("first")
        try FileManager.default.createDirectory(at: first, withIntermediateDirectories: true)
        // The first 60% through a pipe that then stays open: the signal comes while the replay is under way,
        // whatever the machine's speed (no race with the end of the input).
        let pipe = Pipe()
        let process = try Self.start(["replay", "--site", site, "--state", state, "-"], input: pipe.fileHandleForReading,
                                     in: first)
        try pipe.fileHandleForWriting.write(contentsOf: whole.prefix(whole.count * 3 / 5))
        Thread.sleep(forTimeInterval: 1)
        process.interrupt()
        process.waitUntilExit()
        try pipe.fileHandleForWriting.close()
        let errors = try Self.text("stderr", in: first)
        #expect(process.terminationReason == .exit && process.terminationStatus == 130, "\(errors)")
        let analysed = try #require(errors.firstMatch(of: /interrupted by SIGINT after (\d+) packets: their alerts are written and the state saved/),
                                    "\(errors)")
        let packets = Int(analysed.1)!
        #expect(packets > 1_000 && packets < 100_000, "part of the capture, not all of it")
        #expect(errors.contains("state: saved"))

        // The whole file with the saved state skips what was analysed and raises the rest.
        let second = directory.appendingPathComponent("second")
        try FileManager.default.createDirectory(at: second, withIntermediateDirectories: true)
        let rest = try Self.start(["replay", "--site", site, "--state", state, capture], in: second)
        rest.waitUntilExit()
        #expect(rest.terminationStatus == 0)
        #expect(try Self.text("stderr", in: second).contains("\(packets) packets skipped"))
        let once = try runIdleWatch(["replay", "--site", site, "--state", directory.appendingPathComponent("once.db").path, capture])
        #expect(!once.standardOutput.isEmpty)
        #expect(try Self.text("stdout", in: first) + Self.text("stdout", in: second) == once.standardOutput)
    }

    /// Waits up to `seconds` for `process` to end; kills it if it does not. Returns whether it ended by itself.
    static func waitForExit(_ process: Process, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        let ended = !process.isRunning
        if !ended { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return ended
    }

    @Test("replay - from a pipe that stays open: the alerts of the packets written so far appear before the pipe closes")
    func quietPipeAlertsEarly() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let site = TestPaths.captures.appendingPathComponent("site.yaml").path
        let capture = TestPaths.captures.appendingPathComponent("nat-forgotten-mapping.pcap")
        let expected = try runIdleWatch(["replay", "--site", site, capture.path])
        #expect(expected.outputLines.count == 3, "\(expected.standardOutput)")
        let pipe = Pipe()
        let process = try Self.start(["replay", "--site", site, "-"], input: pipe.fileHandleForReading, in: directory)
        // The whole capture (24 packets, far fewer than a batch), then the writer stays: a capture still coming.
        try pipe.fileHandleForWriting.write(contentsOf: Data(contentsOf: capture))
        let deadline = Date().addingTimeInterval(10)
        var early: [String] = []
        while early.count < 3 && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            early = try Self.text("stdout", in: directory).split(separator: "\n").map(String.init)
        }
        #expect(process.isRunning, "the replay waits for the rest of the input")
        #expect(early == expected.outputLines, "the alerts came while the pipe was open")
        try pipe.fileHandleForWriting.close()
        #expect(Self.waitForExit(process, seconds: 10))
        let errors = try Self.text("stderr", in: directory)
        #expect(process.terminationStatus == 0, "\(errors)")
        #expect(try Self.text("stdout", in: directory) == expected.standardOutput)
    }

    @Test("standard output nobody reads: the replay waits for it (drops nothing), yet SIGTERM ends it within seconds, counting what it could not write")
    func stalledStandardOutputReplay() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let capture = TestPaths.corpusFile("mercury/capture2.pcap")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestPaths.executable)
        process.arguments = ["replay", "--flows", capture]
        let output = Pipe()
        _ = fcntl(output.fileHandleForWriting.fileDescriptor, 1031 /* F_SETPIPE_SZ */, 4096)
        let errURL = directory.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
        try output.fileHandleForWriting.close()
        Thread.sleep(forTimeInterval: 1.5)
        #expect(process.isRunning, "a replay waits for its reader rather than drop records")
        process.terminate()
        let ended = Self.waitForExit(process, seconds: 10)
        let errors = try String(contentsOf: errURL, encoding: .utf8)
        #expect(ended, "SIGTERM must end a replay whose standard output is stuck")
        #expect(process.terminationStatus == 143, "\(errors)")
        let reached = try output.fileHandleForReading.readToEnd() ?? Data()
        let lost = try #require(errors.firstMatch(of: /standard output did not keep up \(its reader stopped reading\): (.*) not written/),
                                "\(errors)")
        let notWritten = lost.1.matches(of: /\d+/).compactMap { Int($0.0) }.reduce(0, +)
        // Every flow record is in the pipe or counted: together, the records of a run with a reader.
        let whole = try runIdleWatch(["replay", "--flows", capture])
        let newlines = reached.reduce(0) { $0 + ($1 == 0x0a ? 1 : 0) }
        #expect(notWritten > 0 && newlines + notWritten == whole.outputLines.count,
                "\(newlines) in the pipe, \(notWritten) not written, \(whole.outputLines.count) in all")
    }

    @Test("SIGTERM before the first packet (a pipe that brings nothing): the replay ends at once, exit 143")
    func interruptedBeforeFirstPacket() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let pipe = Pipe()
        let process = try Self.start(["replay", "-"], input: pipe.fileHandleForReading, in: directory)
        Thread.sleep(forTimeInterval: 1)
        process.terminate()
        let ended = Self.waitForExit(process, seconds: 5)
        try pipe.fileHandleForWriting.close()
        let errors = try Self.text("stderr", in: directory)
        #expect(ended, "SIGTERM must end a replay still waiting for its first byte")
        #expect(process.terminationStatus == 143, "\(errors)")
        #expect(errors.contains("interrupted by SIGTERM after 0 packets"), "\(errors)")
        #expect(!errors.contains("error:"), "a stop is not a damaged input: \(errors)")
    }

    @Test("a FIFO nobody writes to, then SIGINT or SIGTERM: the replay ends at once with 128 + the signal",
          arguments: [SIGINT, SIGTERM])
    func interruptedOnFIFOWithoutWriter(signal: Int32) throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let fifo = directory.appendingPathComponent("capture.fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let process = try Self.start(["replay", fifo], in: directory)
        Thread.sleep(forTimeInterval: 1)
        kill(process.processIdentifier, signal)
        let ended = Self.waitForExit(process, seconds: 5)
        let errors = try Self.text("stderr", in: directory)
        #expect(ended, "the signal must end a replay waiting for a FIFO's writer")
        #expect(process.terminationStatus == 128 + signal, "\(errors)")
    }

    @Test("SIGTERM while standard input stalls mid-capture: the replay still ends, with what it analysed")
    func interruptedOnStalledPipe() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let whole = try Data(contentsOf: URL(fileURLWithPath: TestPaths.corpusFile("mercury/capture2.pcap")))
        let pipe = Pipe()
        let process = try Self.start(["replay", "--flows", "-"], input: pipe.fileHandleForReading, in: directory)
        // Half the capture, then nothing: the writer stays open, as a stalled producer would.
        try pipe.fileHandleForWriting.write(contentsOf: whole.prefix(whole.count / 2))
        Thread.sleep(forTimeInterval: 1)
        process.terminate()
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        let ended = !process.isRunning
        if !ended { kill(process.processIdentifier, SIGKILL) }
        try pipe.fileHandleForWriting.close()
        process.waitUntilExit()
        #expect(ended, "the replay must not wait for ever on a stalled pipe")
        #expect(process.terminationStatus == 143)
        let errors = try Self.text("stderr", in: directory)
        #expect(errors.contains("interrupted by SIGTERM"))
        // Every packet that came through the pipe was analysed: none held back in a batch the reader never handed
        // over. The packets in the half written are those a reader of exactly that half counts.
        let half = directory.appendingPathComponent("half.pcap")
        try whole.prefix(whole.count / 2).write(to: half)
        let reference = try runIdleWatch(["replay", "--flows", half.path])
        let packets = try #require(reference.standardError.firstMatch(of: /idlewatch: 1 file, (\d+) packets/)).1
        #expect(errors.contains("interrupted by SIGTERM after \(packets) packets"), "\(errors)")
    }
}
