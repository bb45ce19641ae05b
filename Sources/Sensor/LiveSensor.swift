// The live sensor's loop: packets from the interface through the same pipeline as a replay, signals between
// reads, periodic statistics and capture-health alerts, and a clean stop that loses nothing.

import Detection
import Glibc
import OutputSinks
import PacketCapture
import PacketDecoding
import SiteModel

/// Somewhere alerts go besides standard output (a syslog collector).
public protocol AlertDelivery: AnyObject {
    func send(_ alert: Alert)
    /// Called every read timeout: retry connections, flush queues.
    func tick()
    /// Delivers what it can within `seconds` and returns a one-line account of what was sent and lost.
    func close(waitingUpTo seconds: Double) -> String
}

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
    let source: LiveSource
    public private(set) var pipeline: Pipeline
    let output: BufferedOutput
    let deliveries: [AlertDelivery]
    let settings: LiveSettings
    let signals: SignalWatcher
    let log: (String) -> Void

    var lastStatistics = CaptureStatistics(received: 0, dropped: 0, interfaceDropped: 0)
    var lastLossCheck = CaptureStatistics(received: 0, dropped: 0, interfaceDropped: 0)
    var lastPacketClock = WallClock.monotonic()
    var silentRaised = false
    public private(set) var reloads = 0
    public private(set) var failedReloads = 0

    public init(source: LiveSource, pipeline: Pipeline, output: BufferedOutput, deliveries: [AlertDelivery],
                settings: LiveSettings, signals: SignalWatcher, log: @escaping (String) -> Void) {
        self.source = source
        self.pipeline = pipeline
        self.output = output
        self.deliveries = deliveries
        self.settings = settings
        self.signals = signals
        self.log = log
        let sinks = deliveries
        self.pipeline.onAlert = { alert in for sink in sinks { sink.send(alert) } }
    }

    /// Captures until SIGINT or SIGTERM (or the interface goes away), then ends every flow, flushes every sink and
    /// returns. Read errors are thrown after the same clean stop.
    public func run() throws(PcapError) {
        var nextStatistics = WallClock.monotonic() + settings.statisticsInterval
        var nextLossCheck = WallClock.monotonic() + settings.lossCheckInterval
        var nextHousekeeping = 0.0
        var packetsSinceCheck = 0
        var failure: PcapError?
        loop: while true {
            var housekeeping = false
            do {
                switch try source.read() {
                case .packet(let packet):
                    pipeline.handle(packet)
                    packetsSinceCheck += 1
                    // Busy links never time out the read: look after signals and timers every so often anyway.
                    if packetsSinceCheck >= 4096 { housekeeping = true }
                case .timeout:
                    housekeeping = true
                case .end:
                    break loop
                }
            } catch {
                failure = error
                break loop
            }
            guard housekeeping else { continue }
            let now = WallClock.monotonic()
            if packetsSinceCheck > 0 {
                lastPacketClock = now
                silentRaised = false
            }
            packetsSinceCheck = 0
            var stop = false
            for signal in signals.pending() {
                switch signal {
                case SIGINT, SIGTERM:
                    log("received \(signal == SIGINT ? "SIGINT" : "SIGTERM"): stopping")
                    stop = true
                case SIGHUP:
                    reloadSite()
                case SIGUSR1:
                    logStatistics()
                default:
                    break
                }
            }
            if stop { break loop }
            if now >= nextHousekeeping {
                nextHousekeeping = now + 0.2
                output.flush()
                for sink in deliveries { sink.tick() }
            }
            if now >= nextLossCheck {
                nextLossCheck = now + settings.lossCheckInterval
                checkLoss()
            }
            if settings.silentAfter > 0 && !silentRaised && now - lastPacketClock >= settings.silentAfter {
                silentRaised = true
                raiseHealth(.captureSilent, severity: 2,
                            message: "no packet on \(source.interface) for \(Int(now - lastPacketClock)) s: check the SPAN port")
            }
            if settings.statisticsInterval > 0 && now >= nextStatistics {
                nextStatistics = now + settings.statisticsInterval
                logStatistics()
            }
        }
        pipeline.finish()
        output.flush()
        for sink in deliveries { log(sink.close(waitingUpTo: 5)) }
        logStatistics(final: true)
        if let failure { throw failure }
    }

    func reloadSite() {
        guard let path = settings.sitePath else {
            log("received SIGHUP: no site file to reload")
            return
        }
        do {
            let site = try SiteLoader.load(path: path)
            pipeline.replaceSite(site)
            reloads += 1
            log("received SIGHUP: reloaded \(path)")
        } catch {
            failedReloads += 1
            log("received SIGHUP: \(path) has problems; keeping the site file loaded before\n\(error.description)")
        }
    }

    func checkLoss() {
        guard let statistics = try? source.statistics() else { return }
        let received = statistics.received &- lastLossCheck.received
        let dropped = (statistics.dropped &- lastLossCheck.dropped) &+ (statistics.interfaceDropped &- lastLossCheck.interfaceDropped)
        lastLossCheck = statistics
        guard dropped > 0 else { return }
        let fraction = Double(dropped) / Double(received + dropped)
        guard fraction > settings.lossThreshold else { return }
        raiseHealth(.captureLoss, severity: fraction > 0.01 ? 1 : 2,
                    message: "\(source.interface) lost \(dropped) of \(received + dropped) packets "
                        + "(\(decimalSeconds(Int64((fraction * 1e11).rounded()), digits: 2))%) in the last \(Int(settings.lossCheckInterval)) s: "
                        + "alerts may be missing; raise -B or reduce the mirrored traffic")
    }

    func raiseHealth(_ rule: RuleID, severity: Int, message: String) {
        var alert = Alert(timestamp: WallClock.now(), rule: rule, severity: severity, message: message,
                          source: .unspecified, host: AlertHost(address: .unspecified))
        alert.interface = source.interface
        pipeline.raise(alert, key: SuppressionKey(rule: rule, source: .unspecified, detail: source.interface))
        output.flush()
    }

    public func logStatistics(final: Bool = false) {
        let statistics = (try? source.statistics()) ?? lastStatistics
        let delta = statistics.received &- lastStatistics.received
        lastStatistics = statistics
        let engine = pipeline.analyzer.engine
        log("\(final ? "final statistics" : "statistics"): \(source.interface): \(pipeline.decode.packets) packets decoded, "
            + "\(statistics.received) received by the filter (+\(delta)), \(statistics.dropped) dropped by the kernel, "
            + "\(statistics.interfaceDropped) by the interface; \(pipeline.flows.activeCount) flows open, "
            + "\(engine.hosts.count) hosts, \(engine.ledger.raised) alerts (\(engine.ledger.suppressed) held back)")
    }
}
