// The live sensor's loop: packets from the capture source (any `PacketSource`: LiveSource, the sources to come),
// read by the same reader loop as a replay (PacketReader.swift) and analysed by the same pipeline, signals between
// batches, periodic statistics and capture-health alerts, and a clean stop that loses nothing. While no packet comes,
// packet time goes on by the sensor clock (SensorClock.swift), so flows time out and scans are reported on a quiet
// link; capture-health alerts take a path of their own (SensorHealth.swift).

import Detection
import Glibc
import OutputSinks
import PacketCapture
import PacketDecoding
import SiteModel

public struct LiveSettings: Sendable {
    /// Statistics on standard error every this many seconds (0: never, except on SIGUSR1 and at exit).
    public var statisticsInterval = 300.0
    /// How often the kernel's drop counters are read for the capture-loss alert.
    public var lossCheckInterval = 10.0
    /// capture-loss: dropped / (received + dropped) over one check interval above this fraction.
    public var lossThreshold = 0.001
    /// capture-silent: no packet for this many seconds (0: never).
    public var silentAfter = 300.0
    /// The site file to reload on SIGHUP.
    public var sitePath: String?

    public init() {}
}

public final class LiveSensor {
    /// The capture: an interface, or any source that keeps the PacketSource contract.
    let source: any PacketSource
    public private(set) var pipeline: Pipeline
    /// Every sink the pipeline delivers to (OutputSinks/AlertSink.swift): standard output, syslog...
    let output: SinkSet
    let settings: LiveSettings
    let signals: SignalWatcher
    let log: (String) -> Void

    var lastStatistics = CaptureStatistics(received: 0, dropped: 0, interfaceDropped: 0)
    var lastLossCheck = CaptureStatistics(received: 0, dropped: 0, interfaceDropped: 0)
    var lastPacketClock = WallClock.monotonic()
    var silentRaised = false
    /// Packet time between packets (SensorClock.swift).
    public private(set) var sensorClock: SensorClock
    /// Capture-health alerts' own judgement: repeats and incidents on the monotonic clock (SensorHealth.swift).
    var health: SensorHealth
    public private(set) var reloads = 0
    public private(set) var failedReloads = 0
    /// Sinks that failed for good (their notice said so).
    var failedSinks = 0
    /// Each sink's final account, once `run` has closed them.
    public private(set) var closeReports: [SinkReport] = []
    /// How long each output may take at the stop to deliver what it holds.
    public static let closeWait = 5.0

    /// Alerts go to the pipeline's sinks.
    public init(source: any PacketSource, pipeline: Pipeline, settings: LiveSettings, signals: SignalWatcher,
                log: @escaping (String) -> Void) {
        self.source = source
        self.pipeline = pipeline
        self.output = pipeline.output ?? SinkSet([])
        self.settings = settings
        self.signals = signals
        self.log = log
        sensorClock = SensorClock(readTimeout: source.quietAfter ?? .milliseconds(0))
        health = SensorHealth(configuration: pipeline.analyzer.engine.ledger.configuration)
        // Packet times are checked against the wall clock, and the state is saved on the monotonic clock: a packet
        // stamped in 2106, or stamps that stand still, change neither (PacketClock.swift).
        self.pipeline.guardWithWallClock(now: WallClock.now())
        self.pipeline.saveOnMonotonicClock()
    }

    /// Captures until SIGINT or SIGTERM (or the interface goes away), then ends every flow, flushes every sink and
    /// returns. Read errors are thrown after the same clean stop.
    ///
    /// Two threads, as in a replay (ReadAhead.swift): the reader loop (PacketReader.swift) drains the kernel's
    /// buffer and decodes, this thread analyses and looks after signals, timers and sinks. The reader publishes a
    /// partial batch once its first packet has waited `publishDelay`, or when the link is quiet, so an alert on a
    /// quiet link is at most that late.
    public func run() throws(PcapError) {
        try run(reading: source)
    }

    /// A partial batch is handed over once its first packet has waited this long (seconds): the most an alert on a
    /// link with little traffic waits for the reader.
    static let publishDelay = 0.02

    private func run<Source: PacketSource>(reading source: Source) throws(PcapError) {
        // 16 x 1,024 packets, about 16 ms of a busy 10 Gb/s link, on top of the kernel's buffer.
        let reader = PacketReader(source: source, publishDelay: LiveSensor.publishDelay)
        guard reader.start() else {
            throw PcapError(source: source.name, message: "cannot start the capture thread: \(String(cString: strerror(errno)))")
        }
        let ring = reader.ring
        var nextStatistics = WallClock.monotonic() + settings.statisticsInterval
        var nextLossCheck = WallClock.monotonic() + settings.lossCheckInterval
        var nextHousekeeping = 0.0
        let saveInterval = pipeline.state.map { Double($0.interval.nanoseconds) / 1e9 } ?? 0
        var nextSave = WallClock.monotonic() + saveInterval
        var packetsSinceCheck = 0
        var stopping = false
        loop: while true {
            switch ring.next(waitingUpTo: 100) {
            case .batch(let packets, _):
                pipeline.guardWithWallClock(now: WallClock.now())
                let clockBefore = pipeline.clock
                for index in packets.indices {
                    pipeline.analyse(packets[index].summary, at: packets[index].timestamp,
                                     wireLength: packets[index].wireLength)
                }
                ring.release()
                sensorClock.noteBatch(clockBefore: clockBefore, after: pipeline.clock, monotonic: WallClock.monotonic())
                packetsSinceCheck += packets.count
            case .idle:
                break
            case .finished:
                break loop
            }
            let now = WallClock.monotonic()
            // Busy links bring a batch every few milliseconds: look after signals and timers every 50 ms.
            guard now >= nextHousekeeping else { continue }
            nextHousekeeping = now + 0.05
            if packetsSinceCheck > 0 {
                lastPacketClock = now
                silentRaised = false
            }
            packetsSinceCheck = 0
            for signal in signals.pending() {
                switch signal {
                case SIGINT, SIGTERM:
                    guard !stopping else { break }
                    log("received \(signal == SIGINT ? "SIGINT" : "SIGTERM"): stopping")
                    // The reader stops after its current read and publishes what it holds; this loop analyses
                    // every batch until it has.
                    stopping = true
                    reader.stop()
                case SIGHUP:
                    reloadSite()
                case SIGUSR1:
                    logStatistics(ring.statistics)
                default:
                    break
                }
            }
            // A quiet link: packet time goes on, so flows that timed out end now, not with the next packet. On a busy
            // link the advanced time is behind the latest packet's and this does nothing.
            if let time = sensorClock.time(at: now) { pipeline.advanceClock(to: time) }
            // Every sink's tick: standard output hands its lines to its writer thread, never waiting for the reader
            // (BufferedOutput.dropping); network sinks write what their sockets take and retry what is due.
            output.flush()
            if checkOutput() && !stopping {
                stopping = true
                reader.stop()
            }
            if saveInterval > 0 && now >= nextSave {
                nextSave = now + saveInterval
                pipeline.saveNow()
            }
            if now >= nextLossCheck {
                nextLossCheck = now + settings.lossCheckInterval
                checkLoss(ring.statistics)
            }
            if settings.silentAfter > 0 && !silentRaised && now - lastPacketClock >= settings.silentAfter {
                silentRaised = true
                raiseHealth(.captureSilent, severity: 2, limitRepeats: false,
                            message: "no packet on \(source.name) for \(Int(now - lastPacketClock)) s: check the SPAN port")
            }
            if settings.statisticsInterval > 0 && now >= nextStatistics {
                nextStatistics = now + settings.statisticsInterval
                // What suppression held back since the last interval is reported now, not only at exit.
                pipeline.writeHeldBack(health.takeHeldBack(at: WallClock.now(), occasion: .interval,
                                                           interface: source.name))
                pipeline.reportHeldBack()
                logStatistics(ring.statistics)
            }
        }
        reader.join()
        // The capture-health repeats held back since the last one: reported, not lost with the process.
        pipeline.writeHeldBack(health.takeHeldBack(at: WallClock.now(), occasion: .endOfRun, interface: source.name))
        pipeline.finish()
        // Each output gets a bounded time to deliver what it holds, so a reader or collector that stopped reading
        // cannot keep the process from ending; what is left is counted.
        closeReports = output.close(within: LiveSensor.closeWait)
        for report in closeReports { log(report.line) }
        logStatistics(source.captureStatistics() ?? lastStatistics, final: true)
        if pipeline.timeOutliers > 0 {
            log("timestamps: \(pipeline.timeOutliers) packets stamped more than \(PacketClock.aheadLimitText) ahead of the wall clock, not analysed "
                + "(the first stamped \(pipeline.firstTimeOutlier?.rfc3339(fractionDigits: 6) ?? "?"))")
        }
        if let keeper = pipeline.state {
            log("state \(keeper.file.path): saved \(keeper.saves) time\(keeper.saves == 1 ? "" : "s")"
                + (keeper.failures > 0 ? "; \(keeper.failures) saves failed, last: \(keeper.lastError ?? "?")" : ""))
        }
        if let failure = reader.failure { throw failure }
    }

    /// Reports each change in a sink's fortunes once: its reader went away (or a write failed), or it began
    /// dropping lines because its reader does not keep up. Returns true when the sensor should stop: every sink
    /// failed, so every alert from now on would be lost (tcpdump stops too when its output goes).
    func checkOutput() -> Bool {
        var stop = false
        for sink in output.sinks {
            for notice in sink.takeNotices() {
                switch notice {
                case .fallingBehind(let what):
                    log(what)
                case .failed(let what):
                    failedSinks += 1
                    if failedSinks >= output.sinks.count {
                        log("\(what): no other output for alerts, stopping")
                        stop = true
                    } else {
                        let others = output.sinks.filter { $0 !== sink }.map(\.name).joined(separator: ", ")
                        log("\(what): alerts go on to \(others); those for \(sink.name) are counted as not written")
                    }
                }
            }
        }
        return stop
    }

    func reloadSite() {
        guard let path = settings.sitePath else {
            log("received SIGHUP: no site file to reload")
            return
        }
        do {
            let site = try LiveSensor.loadSiteForReload(path: path)
            pipeline.replaceSite(site)
            reloads += 1
            log("received SIGHUP: reloaded \(path)")
        } catch {
            failedReloads += 1
            log("received SIGHUP: \(path) has problems; keeping the site file loaded before\n\(error.description)")
        }
    }

    /// The site file for a reload, opened so that the analysis thread cannot hang on it: with O_NONBLOCK (a FIFO
    /// put in its place opens at once instead of waiting for a writer) and refused unless it is a regular file (a
    /// FIFO, a device or a socket could make the read wait for ever, and a site file is never one of them).
    static func loadSiteForReload(path: String) throws(SiteFileError) -> Site {
        func problem(_ message: String) -> SiteFileError {
            SiteFileError(problems: [.init(file: path, line: 0, column: 0, key: "", message: message)])
        }
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard descriptor >= 0 else { throw problem("cannot open: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw problem("cannot stat: \(String(cString: strerror(errno)))") }
        let type = info.st_mode & S_IFMT
        guard type == S_IFREG else {
            let kind = type == S_IFIFO ? "a FIFO" : type == S_IFDIR ? "a directory" : type == S_IFSOCK ? "a socket"
                : type == S_IFCHR || type == S_IFBLK ? "a device" : "not a file"
            throw problem("\(kind), not a regular file: refused (reading it could block the sensor)")
        }
        guard info.st_size <= SiteLoader.maximumFileSize else {
            throw problem("larger than \(SiteLoader.maximumFileSize >> 20) MiB; not a site file")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw problem("cannot read: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes += chunk[0..<count]
            if bytes.count > SiteLoader.maximumFileSize {
                throw problem("larger than \(SiteLoader.maximumFileSize >> 20) MiB; not a site file")
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw problem("not valid UTF-8 text") }
        return try SiteLoader.parse(text, path: path)
    }

    /// `statistics`: the reader thread's latest reading of the kernel's counters (nil before its first).
    func checkLoss(_ statistics: CaptureStatistics?) {
        guard let statistics else { return }
        let received = statistics.received &- lastLossCheck.received
        let dropped = (statistics.dropped &- lastLossCheck.dropped) &+ (statistics.interfaceDropped &- lastLossCheck.interfaceDropped)
        lastLossCheck = statistics
        guard dropped > 0 else { return }
        let fraction = Double(dropped) / Double(received + dropped)
        guard fraction > settings.lossThreshold else { return }
        raiseHealth(.captureLoss, severity: fraction > 0.01 ? 1 : 2, limitRepeats: true,
                    message: "\(source.name) lost \(dropped) of \(received + dropped) packets "
                        + "(\(decimalSeconds(Int64((fraction * 1e11).rounded()), digits: 2))%) in the last \(Int(settings.lossCheckInterval)) s: "
                        + "alerts may be missing; raise -B or reduce the mirrored traffic")
    }

    /// A capture-health alert, on its own path (SensorHealth.swift): stamped with the wall clock, judged on the
    /// monotonic one; `limitRepeats`: at most once per suppression interval, the rest counted as held back.
    func raiseHealth(_ rule: RuleID, severity: Int, limitRepeats: Bool, message: String) {
        let now = WallClock.monotonic()
        guard let heldBefore = health.admit(rule, at: now, limitRepeats: limitRepeats) else {
            health.noteHeldBack(rule, at: WallClock.now())
            pipeline.countSensorAlertHeldBack(rule)
            return
        }
        var alert = Alert(timestamp: WallClock.now(), rule: rule, severity: severity, message: message,
                          source: .unspecified, host: AlertHost(address: .unspecified))
        alert.interface = source.name
        let raised = pipeline.raiseSensorAlert(alert, incident: health.incident(at: now), heldBefore: heldBefore)
        health.noteRaised(raised, at: now)
        output.flush()
    }

    /// `statistics`: the kernel's counters as the reader thread read them last (nil: none yet).
    func logStatistics(_ statistics: CaptureStatistics?, final: Bool = false) {
        let statistics = statistics ?? lastStatistics
        let delta = statistics.received &- lastStatistics.received
        lastStatistics = statistics
        let engine = pipeline.analyzer.engine
        // The reader waits for the analysis when the ring is full (the kernel's buffer holds what comes meanwhile),
        // so every packet the filter passed was analysed, dropped by the kernel (counted there), or still in the
        // kernel's buffer when the capture stopped.
        let analysed = pipeline.decode.packets
        let unread = statistics.received > statistics.dropped &+ analysed ? statistics.received &- statistics.dropped &- analysed : 0
        var line = "\(final ? "final statistics" : "statistics"): \(source.name): \(analysed) packets decoded, "
            + "\(statistics.received) received by the filter (+\(delta)), \(statistics.dropped) dropped by the kernel, "
            + "\(statistics.interfaceDropped) by the interface"
        if final { line += ", \(unread) left unread in the kernel's buffer at the stop" }
        line += "; \(pipeline.flows.activeCount) flows open, "
            + "\(engine.hosts.count) hosts, \(engine.ledger.raised) alerts (\(engine.ledger.suppressed) held back); "
            + "evicted to stay within the caps: \(pipeline.flows.counters.evicted) flows, "
            + "\(engine.hosts.counters.evictedLocal + engine.hosts.counters.evictedExternal) hosts"
        // Every output's account, so a loss is visible while the sensor runs, not only at exit.
        for status in output.statusLines { line += "\n  " + status }
        log(line)
    }
}
