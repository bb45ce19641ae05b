// The per-packet pipeline: capture -> decode -> flows -> hosts and detections -> alerts and records. One instance
// serves a replay or a live capture, so the same packets give the same output whichever way they arrive.

import Detection
import FlowTracking
import HostBaselines
import OutputSinks
import PacketCapture
import PacketDecoding
import SiteModel
import StateStore

public struct PipelineConfiguration: Sendable {
    public var flows = FlowTableConfiguration()
    public var hosts = HostTableConfiguration()
    public var ledger = AlertLedgerConfiguration()
    /// Write a record for every flow that ends.
    public var writeFlows = false
    /// Run the detections and write alerts.
    public var alerts = true
    /// The site model; without a site file, private address ranges are local and the default remote-administration
    /// ports are watched.
    public var site = Site()
    public var format = OutputFormat.text
    /// The detections run, in order: the registry's, unless a test runs others.
    public var detections: [any Detection.Type] = DetectionRegistry.all

    public init() {}
}

/// Receives flow events for the flow records and the detections.
///
/// The engine is not an Optional on purpose: mutating through `engine!` or `engine?` copies the payload out and
/// back, so every per-packet call would find the host table's storage shared and copy all of it.
public struct Analyzer: FlowEventHandler {
    var records: FlowRecordSink
    public internal(set) var engine: DetectionEngine
    public let detecting: Bool

    public mutating func flowEvent(_ event: FlowEvent, _ flow: Flow, storage: inout FlowStorage, at time: Timestamp) {
        records.flowEvent(event, flow, at: time)
        if detecting { engine.flowEvent(event, flow, storage: &storage, at: time) }
    }
}

/// Gives ended flows to the sinks that carry flow records, when flow records are on.
public struct FlowRecordSink: FlowEventHandler {
    public let output: SinkSet?

    public init(output: SinkSet?) {
        self.output = output
    }

    public mutating func flowEvent(_ event: FlowEvent, _ flow: Flow, at time: Timestamp) {
        guard event == .ended, let output else { return }
        output.send(flowRecord: flow)
    }
}

public struct Pipeline: PacketHandler {
    public private(set) var decode = DecodeCounters()
    public internal(set) var flows: FlowTable
    public internal(set) var analyzer: Analyzer
    /// Every sink alerts (and flow records) go to; nil when there is none.
    let output: SinkSet?
    /// Alerts written so far, for callers that collect them (tests, the state store).
    public var onAlert: ((Alert) -> Void)?
    /// Closing records of what suppression held back (AlertLedger.swift), for callers that collect them.
    public var onHeldBack: ((HeldBackRecord) -> Void)?
    /// Called every `progressInterval` packets (for a progress line); nil for none.
    public var progress: ((UInt64) -> Void)?
    public var progressInterval: UInt64 = 1 << 16

    /// The latest packet time analysed and how many packets carried exactly that time (the resume point saved in
    /// the state file).
    public internal(set) var clock = Timestamp(nanoseconds: Int64.min)
    public internal(set) var packetsAtClock: UInt64 = 0
    /// The state file, when there is one (see PipelineState.swift).
    public internal(set) var state: StateKeeper?
    /// Packet time of the next save: the maximum time when there is no state file, so the check per packet is one
    /// comparison.
    var nextSave = Timestamp(nanoseconds: Int64.max)
    /// Packets before this point were already analysed into the state file (a resumed replay): skipped.
    var resumeClock = Timestamp(nanoseconds: Int64.min)
    var resumeCount: UInt64 = 0
    var skipping = false
    public internal(set) var skippedAsAnalysed: UInt64 = 0
    /// Saves follow packet time (a replay: deterministic, resumable); false for a live sensor, whose loop saves on the
    /// monotonic clock instead (LiveSensor.swift), whatever the packets' stamps say.
    public internal(set) var savesOnPacketTime = true

    /// The packet-time guard (PacketClock.swift): a packet stamped later than this is screened before analysis
    /// (held until the packets after it confirm or contradict its time; live, dropped). In a replay, the clock plus
    /// `PacketClock.aheadLimit`; live, the wall clock plus it; `Int64.min` while no clock is established.
    var aheadLimit = Timestamp(nanoseconds: Int64.min)
    /// Packets held while their time is in doubt, in arrival order (at most `PacketClock.agreeing`; reserved once).
    var held: [HeldPacket] = []
    var guardsWithWallClock = false
    /// Packets stamped too far ahead to be believed: counted, not analysed (see PacketClock.swift).
    public internal(set) var timeOutliers: UInt64 = 0
    public internal(set) var firstTimeOutlier: Timestamp?

    /// Alerts and flow records (in `configuration.format`) to `output` only, or nowhere when it is nil.
    public init(configuration: PipelineConfiguration, output: BufferedOutput?) {
        self.init(configuration: configuration,
                  sinks: output.map { [StandardOutputSink(output: $0, format: configuration.format)] } ?? [])
    }

    /// Alerts to every sink in `sinks`, flow records (when `configuration.writeFlows`) to those that take them.
    public init(configuration: PipelineConfiguration, sinks: [AlertSink]) {
        let output = sinks.isEmpty ? nil : SinkSet(sinks)
        flows = FlowTable(configuration: configuration.flows)
        let engine = DetectionEngine(site: configuration.site, hosts: configuration.hosts,
                                     ledger: configuration.ledger, detections: configuration.detections)
        analyzer = Analyzer(records: FlowRecordSink(output: configuration.writeFlows ? output : nil),
                            engine: engine, detecting: configuration.alerts)
        self.output = output
        held.reserveCapacity(PacketClock.agreeing)
    }

    public mutating func handle(_ packet: CapturedPacket) {
        let summary = PacketDecoder.decode(packet.bytes, wireLength: packet.wireLength, linkType: packet.linkType)
        analyse(summary, at: packet.timestamp, wireLength: packet.wireLength)
    }

    /// Everything after decoding, for a packet decoded elsewhere (the replay's reader thread, see ReadAhead.swift).
    /// `wireLength` is the record's length as libpcap gave it.
    public mutating func analyse(_ summary: PacketSummary, at time: Timestamp, wireLength: Int) {
        // One comparison for a packet in step with the clock; the rest is PacketClock.swift's.
        guard held.isEmpty && time <= aheadLimit else {
            screen(summary, at: time, wireLength: wireLength)
            return
        }
        analyseInStep(summary, at: time, wireLength: wireLength)
    }

    /// A packet whose time is believed: skipped if the state already accounts for it, else analysed.
    mutating func analyseInStep(_ summary: PacketSummary, at time: Timestamp, wireLength: Int) {
        if skipping && isAlreadyAnalysed(time) { return }
        if time > clock {
            clock = time
            packetsAtClock = 1
            if !guardsWithWallClock { aheadLimit = time + PacketClock.aheadLimit }
            if analyzer.detecting && time >= analyzer.engine.nextTick { analyzer.engine.timePassed(to: time) }
        } else if time == clock {
            packetsAtClock &+= 1
        }
        decode.count(summary, at: time, wireLength: wireLength)
        let disposition = flows.process(summary, at: time, wireLength: wireLength, handler: &analyzer)
        if analyzer.detecting {
            if summary.network == .arp { analyzer.engine.arp(summary, at: time) }
            if !analyzer.engine.account(disposition, flows: flows, at: time, wireLength: wireLength) {
                analyzer.engine.reattach(disposition, flows: &flows, at: time, wireLength: wireLength)
            }
            if analyzer.engine.ledger.hasPending { writeAlerts() }
        }
        if let progress, decode.packets % progressInterval == 0 { progress(decode.packets) }
        if time >= nextSave { checkpoint() }
    }

    /// End of input. Without a state file, ends every open flow and writes what that raised, so nothing already
    /// seen is lost. With one, open flows stay open and are saved with the rest: the next run (the next part of
    /// the capture, or the live sensor it seeds) continues them as one run would have.
    /// `endingFlows` ends them anyway (the input is complete and the flows' records and verdicts are wanted now).
    public mutating func finish(endingFlows: Bool = false) {
        settleHeldPackets(atEnd: true)
        // What suppression held back and no later alert reported: one closing record per key, after the alerts
        // the end raised, before the flush. With a state file that goes on (flows kept open), the counts are saved
        // with the rest and reported by the run that continues it, so a replay split in parts writes what one
        // run writes.
        if state == nil || endingFlows {
            flows.endAll(handler: &analyzer)
            analyzer.engine.ledger.reportHeldBack(at: clock, occasion: .endOfRun)
        }
        writeAlerts()
        output?.flush()
        if let state {
            finalCheckpoint()
            state.waitForSaves()
        }
    }

    /// Swaps in a reloaded site model; what was learned stays, and open flows follow the new file.
    public mutating func replaceSite(_ site: Site) {
        analyzer.engine.replaceSite(site, openFlows: &flows)
    }

    /// Live, at each statistics interval: a closing record for every key that held alerts back since its last
    /// alert or record (see `AlertLedger.reportHeldBack`), written now.
    public mutating func reportHeldBack() {
        analyzer.engine.ledger.reportHeldBack(at: clock, occasion: .interval)
        writeAlerts()
    }

    /// Writes what the ledger raised, then the closing records it reported (a key forgotten while an alert was
    /// raised reports before that alert is written, and is written after it). With detections off it holds only
    /// capture-health alerts (SensorHealth.swift).
    mutating func writeAlerts() {
        for alert in analyzer.engine.ledger.drain() {
            onAlert?(alert)
            output?.send(alert)
        }
        for record in analyzer.engine.ledger.drainHeldBack() {
            onHeldBack?(record)
            output?.send(heldBack: record)
        }
    }
}
