// `idlewatch replay`: read saved captures in timestamp order through the same pipeline a live sensor uses.

import ArgumentParser
import FlowTracking
import HostBaselines
import Glibc
import OutputSinks
import PacketCapture
import Sensor
import SiteModel
import StateStore

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay pcap/pcapng files or directories of them, in timestamp order.",
        discussion: """
            Arguments are capture files, directories (read recursively; files that are not captures are skipped) \
            or - for standard input, followed by an optional BPF filter expression as with tcpdump:
              idlewatch replay --flows captures/ tcp port 22
            With -r, every argument is part of the filter expression.
            SIGINT or SIGTERM stop the reading: what was read is analysed, alerts are written, the state is saved, \
            and the exit status is 128 + the signal.
            With --syslog the alerts go to each collector too; at the end the replay waits up to 30 s for them to be \
            delivered, and the summary counts what was not (exit status 1).
            """
    )

    @OptionGroup var siteOptions: SiteOptions

    @OptionGroup var formatOptions: FormatOptions

    @Flag(name: .long, help: "Do not run the detections (flow records only).")
    var noAlerts = false

    @OptionGroup var sinkOptions: SinkOptions

    @Option(name: .customShort("r"), help: "A capture file to read (repeatable); then all arguments are the filter.")
    var readFiles: [String] = []

    @OptionGroup var capacities: CapacityOptions

    @Option(name: .long, help: ArgumentHelp(
        "The state file (SQLite) to continue from and save into: learned hosts, baselines, open flows.",
        discussion: "Packets the state already accounts for (up to its clock) are skipped, so a replay stopped "
            + "midway resumes where its last save was. Without --state nothing is kept between runs."))
    var state: String?

    @Option(name: .long, help: "Save the state every this many seconds of packet time (and at the end).")
    var saveInterval = 300

    @Flag(name: .long, help: "With --state: end the flows still open at the end (as without a state file) instead of saving them for the next run.")
    var endFlows = false

    @Flag(name: .long, help: "Never show the progress line (it is shown only when standard error is a terminal).")
    var noProgress = false

    @Argument(help: "Capture files, directories or -, then an optional BPF filter expression.")
    var arguments: [String] = []

    /// How long a replay waits at its end for the sinks besides standard output (syslog) to deliver what they hold,
    /// TCP collectors' acknowledgments included (after a signal: `BufferedOutput.interruptGrace`). Enough for a
    /// collector that restarts, or for several reconnection attempts (0.5 s doubling); a collector that is down
    /// costs a replay at most this, and what it did not get is counted as lost in the summary.
    static let deliveryWait = 30.0

    func validate() throws {
        guard saveInterval > 0 && saveInterval <= 86_400 * 365 else {
            throw ValidationError("--save-interval must be between 1 and 31536000 seconds")
        }
        if state != nil && noAlerts {
            throw ValidationError("--state keeps what the detections learned: it cannot be used with --no-alerts")
        }
        let (paths, _) = try splitArguments()
        guard !paths.isEmpty else {
            throw ValidationError("no capture given: name files, directories or - (standard input)")
        }
    }

    /// Leading arguments that exist (or are `-`) are inputs; the rest is the filter expression.
    func splitArguments() throws -> ([String], String?) {
        if !readFiles.isEmpty {
            return (readFiles, arguments.isEmpty ? nil : arguments.joined(separator: " "))
        }
        var paths: [String] = []
        var index = 0
        while index < arguments.count, arguments[index] == "-" || access(arguments[index], F_OK) == 0 {
            paths.append(arguments[index])
            index += 1
        }
        let rest = Array(arguments[index...])
        if let first = rest.first, paths.isEmpty || Replay.looksLikePath(first) {
            throw ValidationError("\(first): no such file or directory")
        }
        return (paths, rest.isEmpty ? nil : rest.joined(separator: " "))
    }

    static func looksLikePath(_ argument: String) -> Bool {
        argument.contains("/") || [".pcap", ".pcapng", ".cap", ".gz", ".zst"].contains { argument.hasSuffix($0) }
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        // SIGINT and SIGTERM stop the reading, not the process: what was read is analysed, alerts are written,
        // the state is saved, and the exit status (128 + the signal, as a shell reports it) says the replay is
        // incomplete.
        let signals = SignalLatch(SignalWatcher([SIGINT, SIGTERM]))
        // Reads of standard input, pipes and FIFOs wait in poll(2) and end when a signal has come, even before the
        // first packet or on a FIFO nobody writes to (PacketCapture/StreamInput.swift).
        StreamReads.stopCheck = { signals.check() }
        let (paths, filter) = try splitArguments()
        if let filter {
            do { try validateFilter(filter) } catch { throw CommandFailure(error.message, exitCode: 2) }
        }
        var configuration = PipelineConfiguration()
        try siteOptions.load(into: &configuration)
        configuration.alerts = !noAlerts
        formatOptions.apply(to: &configuration)
        capacities.apply(to: &configuration)
        // Written by a thread of its own: a reader that stops reading makes the analysis wait (a forensic replay
        // drops nothing), but a signal still ends the wait (BufferedOutput.interruptGrace).
        let output = BufferedOutput(descriptor: STDOUT_FILENO, mode: .waiting(capacity: BufferedOutput.defaultQueueCapacity))
        let standardOutput = StandardOutputSink(output: output, format: formatOptions.format)
        let sinks: [AlertSink] = try [standardOutput]
            + sinkOptions.makeSinks(log: { FileOutput.standardError.write("idlewatch: \($0)\n") })
        let source = ReplaySource(paths: paths, filter: filter)
        var pipeline = Pipeline(configuration: configuration, sinks: sinks)
        if let state {
            do {
                let file = try StateFile.openForWriting(path: state)
                try pipeline.attachState(file, interval: .seconds(Int64(saveInterval)), resume: true)
            } catch {
                throw CommandFailure("\(error)", exitCode: 2)
            }
        }
        let progress = ProgressLine(enabled: !noProgress && isatty(STDERR_FILENO) == 1)
        let interrupted = { signals.check() }
        output.interrupted = interrupted
        // A replay's files keep their read errors (source.errors) and the others go on; an error that ended the
        // whole input (none does today) would be one more, after every packet before it was analysed.
        var readFailure: PcapError?
        let readerEnded: Bool
        do {
            readerEnded = try ReadAhead.replay(source, into: &pipeline, interrupted: interrupted,
                                               progress: progress.enabled ? { progress.update(packets: $0, read: $1) } : nil)
        } catch {
            readFailure = error
            readerEnded = true
        }
        pipeline.finish(endingFlows: endFlows)
        progress.clear()
        // Standard output has waited for its reader all along (unless a signal cut the wait short): nothing is left
        // to wait for. The other sinks get `deliveryWait` to deliver what they still hold.
        let wait = signals.signal == nil ? Replay.deliveryWait : BufferedOutput.interruptGrace
        let reports = sinks.map { $0.close(within: $0 === standardOutput ? 0 : wait) }
        // A reader left blocked on a stalled pipe may still touch the source: its errors are not read then.
        let readErrors = readerEnded ? source.errors + (readFailure.map { [$0] } ?? []) : []
        let errors = readErrors.map(\.description) + reports.compactMap(\.lossMessage)
        let summary = RunSummary.render(
            decode: pipeline.decode, flows: pipeline.flows.counters, files: source.files.count,
            skippedFiles: source.skippedFiles.count, errors: errors,
            engine: pipeline.analyzer.detecting ? pipeline.analyzer.engine : nil, flowCapacity: capacities.flowCapacity,
            timeOutliers: pipeline.timeOutliers, firstTimeOutlier: pipeline.firstTimeOutlier)
        // Each sink besides standard output, with what it delivered and lost.
        let deliveries = reports.dropFirst().map { "  \($0.line)\n" }.joined()
        FileOutput.standardError.write(summary + "\n" + deliveries + peakMemory() + "\n")
        if let keeper = pipeline.state {
            FileOutput.standardError.write(RunSummary.renderState(keeper, pipeline: pipeline) + "\n")
        }
        if let signal = signals.signal {
            FileOutput.standardError.write("idlewatch: interrupted by \(signal == SIGINT ? "SIGINT" : "SIGTERM") after "
                + "\(pipeline.decode.packets) packets: their alerts are written"
                + "\(pipeline.state.map { $0.latestSaveFailed ? " but the state NOT saved (see above)" : " and the state saved" } ?? ""); "
                + "the rest of the input was not read\n")
            throw ExitCode(128 + signal)
        }
        if !readErrors.isEmpty || (pipeline.state?.failures ?? 0) > 0 {
            throw ExitCode(1)
        }
        // As tcpdump ("Unable to write output: Broken pipe", non-zero status): output that did not all reach its
        // reader (or its collector), whatever the reason, is a failure the exit status shows.
        if reports.contains(where: { $0.lost > 0 }) {
            throw ExitCode(1)
        }
    }
}

/// The process's peak resident memory so far (`VmHWM` in /proc/self/status): with the caps, what the tables cost,
/// for an operator sizing a sensor and for the flood tests. Not `getrusage`: Linux carries `ru_maxrss` across
/// exec, so a process spawned by a large parent (vfork-style, as posix_spawn does) reports the parent's peak.
func peakMemory() -> String {
    guard let status = fopen("/proc/self/status", "r") else { return "  memory: peak RSS unknown" }
    defer { fclose(status) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), status) != nil {
        let text = String(cString: line)
        guard text.hasPrefix("VmHWM:") else { continue }
        let kibibytes = text.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) }
        return kibibytes.map { "  memory: peak RSS \($0 / 1024) MiB" } ?? "  memory: peak RSS unknown"
    }
    return "  memory: peak RSS unknown"
}

/// Writes straight to a descriptor (standard error), unbuffered.
enum FileOutput {
    case standardError

    func write(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(STDERR_FILENO, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { return }
            offset += n
        }
    }
}

/// A progress line on standard error for long replays: packets analysed and how far through the input.
final class ProgressLine {
    let enabled: Bool
    var lastUpdate = timespec()
    var shown = false

    init(enabled: Bool) {
        self.enabled = enabled
    }

    /// `read`: bytes read so far and in all (the replay source's `progress`, taken on the thread that reads).
    func update(packets: UInt64, read: (done: Int64, total: Int64)) {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        guard now.tv_sec - lastUpdate.tv_sec >= 1 else { return }
        lastUpdate = now
        let (done, total) = read
        let percent = total > 0 ? " (\(done * 100 / total)%)" : ""
        FileOutput.standardError.write("\r\u{1b}[Kidlewatch: \(packets) packets\(percent)")
        shown = true
    }

    func clear() {
        if shown { FileOutput.standardError.write("\r\u{1b}[K") }
    }
}

extension CommandFailure {
    static func exit(_ failure: CommandFailure) -> Never {
        FileOutput.standardError.write("idlewatch: \(failure.description)\n")
        Glibc.exit(failure.exitCode)
    }
}
