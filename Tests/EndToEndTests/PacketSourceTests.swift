// The capture-source seam (PacketCapture/PacketSource.swift): the one reader loop must take any source that keeps
// the contract. A second, small source written here (the packets of a real capture read through libpcap, handed
// over in chunks with quiet periods between them, as a slow mirror would) gives the alerts and the summary that
// `idlewatch replay` gives for the same file, and each quiet period reaches the reader, which hands over the partial
// batch at once. And `breakLoop()` from another thread ends a replay blocked on a pipe that brings nothing more, with
// every packet read before it analysed.

import Foundation
import Glibc
import OutputSinks
import PacketCapture
import PacketDecoding
import Sensor
import SiteModel
import Testing

/// The packets of one capture file, through libpcap (OfflineSource), `chunk` at a time; after each chunk the source
/// is quiet and waits until `caughtUp` says the analysis has every packet delivered so far (at most `patience`
/// seconds: a reader that kept the partial batch would otherwise make the test wait for ever). Stops at the end of
/// the file or at `breakLoop()`.
final class ChunkedCaptureSource: PacketSource {
    let file: OfflineSource
    let chunk: Int
    let caughtUp: (Int) -> Bool
    let stop = StopFlag()
    static let patience = 20.0
    /// Read on the test's thread after the replay: how many were handed over, and the quiet periods the analysis
    /// did not catch up after.
    private(set) var delivered = 0
    private(set) var quietPeriods = 0
    private(set) var notCaughtUp = 0

    init(path: String, chunk: Int, caughtUp: @escaping (Int) -> Bool) throws {
        file = try OfflineSource(path: path)
        self.chunk = chunk
        self.caughtUp = caughtUp
    }

    var name: String { file.path }
    var quietAfter: PacketDecoding.Duration? { .milliseconds(10) }

    func deliver<Receiver: PacketHandler>(to receiver: inout Receiver, whenQuiet quiet: (() -> Void)?)
        throws(PcapError)
    {
        while !receiver.isDone && !stop.isSet, let packet = try file.advance() {
            receiver.handle(packet)
            delivered += 1
            guard delivered % chunk == 0 else { continue }
            quiet?()
            quietPeriods += 1
            // Once one quiet period was not caught up, the others are not waited for (the test has failed).
            let deadline = Date().addingTimeInterval(notCaughtUp == 0 ? Self.patience : 0)
            while !caughtUp(delivered) && !stop.isSet {
                guard Date() < deadline else {
                    notCaughtUp += 1
                    break
                }
                usleep(1_000)
            }
        }
    }

    func breakLoop() { stop.set() }
}

/// The analysed-packet count, written on the analysing thread and read on the reading one.
final class AnalysedCount: @unchecked Sendable {
    private let lock = NSLock()
    private var value: UInt64 = 0

    func set(_ count: UInt64) { lock.withLock { value = count } }
    var count: UInt64 { lock.withLock { value } }
}

/// A value handed to another thread whose use there the test orders itself (breakLoop is safe from any thread).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
}

@Suite("The capture-source seam: one reader loop for every PacketSource")
struct PacketSourceTests {
    static let capture = TestPaths.corpusFile("zeek/ssh__sshguess.pcap")
    static let site = TestPaths.packageRoot.appendingPathComponent("Tests/Baselines/sites/sshguess.yaml").path

    /// The summary's lines about the input and the analysis (the memory line differs between processes).
    static func summaryLines(_ text: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { !$0.contains("memory: peak RSS") }
    }

    @Test("a chunked source with quiet periods through the shared loop = `idlewatch replay` of the file, and every quiet period hands its packets over")
    func chunkedSourceEqualsReplay() throws {
        let command = try runIdleWatch(["replay", "--site", Self.site, "--format", "json", "--flows", Self.capture])
        #expect(command.status == 0, "\(command.standardError)")

        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outputPath = directory.appendingPathComponent("out").path
        let descriptor = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        try #require(descriptor >= 0)
        var configuration = PipelineConfiguration()
        configuration.site = try SiteLoader.load(path: Self.site)
        configuration.format = .json
        configuration.writeFlows = true
        var pipeline = Pipeline(configuration: configuration, output: BufferedOutput(descriptor: descriptor))
        pipeline.progressInterval = 1
        let analysed = AnalysedCount()
        // A batch far larger than a chunk: only the quiet callback can hand a chunk over before the file ends.
        let source = try ChunkedCaptureSource(path: Self.capture, chunk: 50) { UInt64($0) <= analysed.count }
        let readerEnded = try ReadAhead.replay(source, into: &pipeline, batches: 4, batchSize: 1024,
                                               progress: { packets, _ in analysed.set(packets) })
        pipeline.finish()
        close(descriptor)
        #expect(readerEnded)

        #expect(source.delivered == 431 && source.quietPeriods == 431 / 50, "\(source.delivered) packets, \(source.quietPeriods) quiet periods")
        #expect(source.notCaughtUp == 0, "\(source.notCaughtUp) quiet periods did not hand their packets over")
        let alerts = try String(contentsOfFile: outputPath, encoding: .utf8)
        #expect(alerts.contains("\"event_type\":\"alert\""))
        #expect(alerts == command.standardOutput)
        let summary = RunSummary.render(
            decode: pipeline.decode, flows: pipeline.flows.counters, files: 1, skippedFiles: 0, errors: [],
            engine: pipeline.analyzer.engine, flowCapacity: configuration.flows.capacity,
            timeOutliers: pipeline.timeOutliers, firstTimeOutlier: pipeline.firstTimeOutlier)
        #expect(Self.summaryLines(summary) == Self.summaryLines(command.standardError))
    }

    @Test("breakLoop from another thread ends a replay waiting on a pipe, with every packet read before it analysed",
          .timeLimit(.minutes(1)))
    func breakLoopFromAnotherThread() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let fifo = directory.appendingPathComponent("fifo").path
        try #require(mkfifo(fifo, 0o600) == 0)
        // The writer keeps the FIFO open after the first part of a capture: no end of input ever comes.
        let whole = try Data(contentsOf: URL(fileURLWithPath: Self.capture))
        let writer = open(fifo, O_RDWR | O_CLOEXEC)
        try #require(writer >= 0)
        defer { close(writer) }
        let total = packetCount([Self.capture])
        // The pcap header and whole records only, so no packet is read in part: the first half of the records.
        var offset = 24, records = 0
        while records < Int(total / 2) {
            let captured = whole[whole.startIndex + offset + 8..<whole.startIndex + offset + 12]
                .withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            offset += 16 + Int(UInt32(littleEndian: captured))
            records += 1
        }
        let written = whole.prefix(offset).withUnsafeBytes { write(writer, $0.baseAddress, $0.count) }
        try #require(written == offset)

        var pipeline = Pipeline(configuration: PipelineConfiguration(), output: nil)
        pipeline.progressInterval = 1
        let analysed = AnalysedCount()
        let source = ReplaySource(paths: [fifo])
        let stoppable = UncheckedSendable(value: source), recordsWritten = records
        let stopped = StopFlag()
        let stopper = Thread {
            // Once every packet written is analysed (at most 20 s), the reader waits on the pipe: stop it.
            let deadline = Date().addingTimeInterval(20)
            while analysed.count < UInt64(recordsWritten) && Date() < deadline { usleep(1_000) }
            stoppable.value.breakLoop()
            stopped.set()
        }
        stopper.start()
        // After the breakLoop the replay is asked to stop too: a reader that did not end by then is left behind
        // after two seconds (readerEnded false) rather than waiting for ever.
        let readerEnded = try ReadAhead.replay(source, into: &pipeline, interrupted: { stopped.isSet },
                                               progress: { packets, _ in analysed.set(packets) })
        pipeline.finish()
        #expect(readerEnded, "the reader was left behind, still waiting on the pipe")
        #expect(pipeline.decode.packets == UInt64(records))
        #expect(source.errors.isEmpty, "\(source.errors)")
    }
}
