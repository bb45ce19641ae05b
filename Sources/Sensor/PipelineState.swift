// The pipeline and its state file: restore what earlier runs learned, save at an interval of packet time and at
// the end, and, for a replay of input already analysed into the state (a run resumed after a crash), skip the
// packets the state already accounts for.
//
// Order of a save: alerts raised so far are written and the output flushed first, then a snapshot of the state is
// taken and committed. So whatever a saved state accounts for has reached the output; a process killed at any
// moment restarts from the last save and writes again at most what came after it.
//
// The snapshot is a value taken on the packet path (copying the tables); SQLite writes it on GRDB's writer queue
// while packets go on (a full host table takes about half a second to write). One save is in flight at most, and
// one snapshot exists at most: the next is taken once the previous is written. The last save of a run takes no
// snapshot: nothing analyses after it, so it writes from the tables themselves, one host and one blob at a time.

import Detection
import FlowTracking
import Foundation
import Glibc
import HostBaselines
import PacketDecoding
import SiteModel
import StateCoding
import StateStore

public final class StateKeeper: @unchecked Sendable {
    public let file: StateFile
    /// Packet time between saves.
    public let interval: Duration
    /// What the file held when the run began (nil: a new state file).
    public internal(set) var restored: (hosts: Int, flows: Int, clock: Timestamp?, packets: UInt64)?
    /// Packets analysed into the state by earlier runs.
    var packetsBefore: UInt64 = 0
    /// Guards the outcome counters, which the writer queue updates.
    let lock = NSLock()
    var savesDone = 0
    var failuresSeen = 0
    var lastFailure: String?
    /// The clock of the last save that reached the file, and whether the latest save failed (the summary must not
    /// name a save that did not happen).
    var savedClock: Timestamp?
    var latestFailed = false
    /// Taken while a save is in flight.
    let inFlight = DispatchSemaphore(value: 1)

    init(file: StateFile, interval: Duration) {
        self.file = file
        self.interval = interval
    }

    public var saves: Int { lock.withLock { savesDone } }
    public var failures: Int { lock.withLock { failuresSeen } }
    public var lastError: String? { lock.withLock { lastFailure } }
    public var lastSavedClock: Timestamp? { lock.withLock { savedClock } }
    public var latestSaveFailed: Bool { lock.withLock { latestFailed } }

    /// Saves `snapshot` once the previous save has finished. A failure is reported on standard error and the run
    /// goes on; the next save tries again.
    func save(_ snapshot: SavedState) {
        inFlight.wait()
        let clock = snapshot.clock
        file.saveInBackground(snapshot) { error in
            self.lock.withLock {
                if let error {
                    self.failuresSeen += 1
                    self.lastFailure = error.description
                    self.latestFailed = true
                } else {
                    self.savesDone += 1
                    self.savedClock = clock
                    self.latestFailed = false
                }
            }
            if let error {
                let line = Array("idlewatch: state not saved: \(error) (retrying at the next save)\n".utf8)
                _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            }
            self.inFlight.signal()
        }
    }

    /// Saves `source` on this thread, once the previous save has finished (the last save of a run, written from
    /// the pipeline's own tables). A failure is reported as in `save`.
    func saveNow(_ source: some StateSource) {
        inFlight.wait()
        defer { inFlight.signal() }
        do {
            try file.save(source)
            lock.withLock {
                savesDone += 1
                savedClock = source.clock
                latestFailed = false
            }
        } catch {
            let description = (error as? StateFileError)?.description ?? "\(file.path): cannot save the state: \(error)"
            lock.withLock {
                failuresSeen += 1
                lastFailure = description
                latestFailed = true
            }
            let line = Array("idlewatch: state not saved: \(description)\n".utf8)
            _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        }
    }

    /// Returns when no save is in flight.
    public func waitForSaves() {
        inFlight.wait()
        inFlight.signal()
    }
}

extension Pipeline {
    /// Loads the state file into this new pipeline and saves into it from now on. With `resume`, packets up to the
    /// state's clock are taken as already analysed and skipped (a replay of the same input continues where the
    /// state stopped); a live sensor passes false and analyses every packet it captures.
    public mutating func attachState(_ file: StateFile, interval: Duration, resume: Bool) throws {
        precondition(analyzer.detecting, "a state file needs the detections")
        precondition(decode.packets == 0, "attach the state before the first packet")
        let keeper = StateKeeper(file: file, interval: interval)
        if let saved = try file.load() {
            try restore(saved, from: file.path)
            keeper.restored = (saved.hosts.count, flows.activeCount, saved.clock, saved.packetsAnalysed)
            keeper.packetsBefore = saved.packetsAnalysed
            if resume, let savedClock = saved.clock {
                resumeClock = savedClock
                resumeCount = saved.packetsAtClock
                skipping = true
            }
        }
        state = keeper
        nextSave = Timestamp(nanoseconds: Int64.min)
    }

    mutating func restore(_ saved: SavedState, from path: String) throws {
        // Each blob is checked by the stage that wrote it (every read bounds-checked, every count against what
        // follows, every position against the table); the message says which one is wrong.
        func decoding(_ blob: String, _ body: () throws -> Void) throws {
            do {
                try body()
            } catch let error as StateDecodingError {
                throw StateFileError(path, "cannot continue from this state: blob \(blob): \(error.description)")
            }
        }
        try decoding("host_layout (with the hosts table)") {
            try analyzer.engine.restoreHosts(layout: saved.hostLayout, hosts: saved.hosts, services: saved.services,
                                             exposures: saved.exposures)
        }
        try decoding("open_flows") {
            var openFlows = StateReader(saved.openFlows)
            try flows.restoreOpenFlows(from: &openFlows)
            guard openFlows.isAtEnd else { throw StateDecodingError("saved flows have trailing bytes") }
        }
        try decoding("detection_windows") {
            var windows = StateReader(saved.detectionWindows)
            try analyzer.engine.restoreWindows(from: &windows, openFlows: &flows)
        }
        // Hosts point at inventory entries by position, flows at maintenance ports by what they reach: match both
        // against the site file in use now.
        analyzer.engine.replaceSite(analyzer.engine.site, openFlows: &flows)
        if let savedClock = saved.clock {
            clock = savedClock
            packetsAtClock = saved.packetsAtClock
            if !guardsWithWallClock { aheadLimit = savedClock + PacketClock.aheadLimit }
        }
    }

    /// Whether a packet of a resumed replay is one the state already accounts for.
    mutating func isAlreadyAnalysed(_ time: Timestamp) -> Bool {
        if time < resumeClock || time == resumeClock && resumeCount > 0 {
            if time == resumeClock { resumeCount -= 1 }
            skippedAsAnalysed &+= 1
            return true
        }
        skipping = false
        return false
    }

    /// Writes pending alerts, flushes the output, then saves the state in one transaction. A failed save is
    /// reported and retried at the next interval; the run goes on.
    mutating func checkpoint() {
        guard let state else {
            nextSave = Timestamp(nanoseconds: Int64.max)
            return
        }
        writeAlerts()
        output?.flush()
        // One snapshot at a time: the previous one is written and freed before this one is taken.
        state.waitForSaves()
        state.save(savedState())
        nextSave = savesOnPacketTime ? clock + state.interval : Timestamp(nanoseconds: Int64.max)
    }

    /// The last save of a run: nothing analyses after it, so it is written from the tables themselves, on this
    /// thread, with no snapshot (a snapshot of full tables doubled the peak memory of a flood replayed with a state).
    mutating func finalCheckpoint() {
        guard let state else { return }
        writeAlerts()
        output?.flush()
        state.saveNow(PipelineTables(pipeline: self))
        nextSave = Timestamp(nanoseconds: Int64.max)
    }

    /// A live sensor: saves come from its monotonic timer (`saveNow`), not from packet time, so packets whose
    /// stamps stand still or jump cannot stop them. The first packet analysed still saves at once.
    public mutating func saveOnMonotonicClock() {
        savesOnPacketTime = false
    }

    /// Writes pending alerts and saves the state now (the live sensor's timer); nothing without a state file.
    public mutating func saveNow() {
        guard state != nil else { return }
        checkpoint()
    }

    /// Everything the state file keeps, as it stands now.
    public func savedState() -> SavedState {
        var saved = SavedState()
        let engine = analyzer.engine
        saved.clock = clock.nanoseconds != Int64.min ? clock : nil  // unset until a packet or a restore
        saved.packetsAtClock = packetsAtClock
        saved.packetsAnalysed = (state?.packetsBefore ?? 0) &+ decode.packets
        saved.learningStart = engine.learningStart
        saved.hosts = engine.hosts.savedHosts
        var layout = StateWriter()
        engine.hosts.encodeLayout(into: &layout)
        saved.hostLayout = layout.bytes
        saved.services = engine.hosts.services
        saved.exposures = engine.exposures
        saved.inventory = engine.site.hosts
        var openFlows = StateWriter()
        flows.encodeOpenFlows(into: &openFlows)
        saved.openFlows = openFlows.bytes
        var windows = StateWriter()
        engine.encodeWindows(openFlows: flows, into: &windows)
        saved.detectionWindows = windows.bytes
        return saved
    }
}

/// The pipeline's tables as the state file's source, read in place (see `Pipeline.finalCheckpoint`). The copies of
/// the table values share their storage with the pipeline's, which does not change while the save runs.
struct PipelineTables: StateSource {
    let flows: FlowTable
    let engine: DetectionEngine
    let clock: Timestamp?
    let packetsAtClock: UInt64
    let packetsAnalysed: UInt64

    init(pipeline: Pipeline) {
        flows = pipeline.flows
        engine = pipeline.analyzer.engine
        clock = pipeline.clock.nanoseconds != Int64.min ? pipeline.clock : nil
        packetsAtClock = pipeline.packetsAtClock
        packetsAnalysed = (pipeline.state?.packetsBefore ?? 0) &+ pipeline.decode.packets
    }

    var learningStart: Timestamp? { engine.learningStart }
    var services: [ServiceKey: ServiceRecord] { engine.hosts.services }
    var exposures: [ExposureKey: ExposureRecord] { engine.exposures }
    var inventory: [InventoryEntry] { engine.site.hosts }

    func forEachHost(_ body: (SavedHost) throws -> Void) rethrows {
        try engine.hosts.forEachSavedHost(body)
    }

    func encode(_ blob: StateBlob) -> [UInt8] {
        var writer = StateWriter()
        switch blob {
        case .hostLayout: engine.hosts.encodeLayout(into: &writer)
        case .openFlows: flows.encodeOpenFlows(into: &writer)
        case .detectionWindows: engine.encodeWindows(openFlows: flows, into: &writer)
        }
        return writer.bytes
    }
}

