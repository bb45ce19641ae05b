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
// snapshot: nothing analyses after it, so it writes from the tables themselves, one host and one section at a time.
//
// The sections, each written and read by its stage: `hosts.layout` (the host table's slots), `flows` (the open
// flows, by flow key), `hosts.macs` (the MAC bindings, MACBindings.swift), then the engine's: `engine.flows` (what
// each open flow is to the detections), `ledger`, and `detection.<name>` for each detection. A missing section is empty state; a section this build does not know (a
// removed detection's, a newer build's) is skipped and said once on standard error; a stage's section of a newer
// layout than this build reads is refused (the stages' sections refer to each other, so one cannot start empty
// under the others), a detection's starts that detection empty and is said.

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
        // Each section is checked by the stage that wrote it (every read bounds-checked, every count against what
        // follows, every flow against the table); the message says which one is wrong.
        func decoding(_ what: String, _ body: () throws -> Void) throws {
            do {
                try body()
            } catch let error as StateDecodingError {
                throw StateFileError(path, "cannot continue from this state: \(what): \(error.description)")
            }
        }
        var sections = saved.sectionsByName
        if !saved.schema2Blobs.isEmpty {
            try decoding("blobs of schema 2") { sections = try convertSchema2(saved) }
        }
        try decoding("section \(Self.hostLayoutSection) (with the hosts table)") {
            let layout: [UInt8]
            if let section = sections[Self.hostLayoutSection] {
                _ = try section.reader(upTo: HostTable.layoutVersion)  // the version
                layout = section.data
            } else if saved.hosts.isEmpty {
                var empty = StateWriter()
                analyzer.engine.hosts.encodeLayout(into: &empty)  // a new table's
                layout = empty.bytes
            } else {
                throw StateDecodingError("missing, where \(saved.hosts.count) hosts are saved in their slots")
            }
            try analyzer.engine.restoreHosts(learningStart: saved.learningStart, layout: layout, hosts: saved.hosts, services: saved.services,
                                             exposures: saved.exposures)
        }
        if let section = sections[DetectionEngine.linksSection] {  // absent: saved before bindings existed, none yet
            try decoding("section \(DetectionEngine.linksSection)") {
                var reader = try section.reader(upTo: MACBindings.sectionVersion)
                try analyzer.engine.restoreLinks(from: &reader)
            }
        }
        if let section = sections[Self.flowsSection] {
            try decoding("section \(Self.flowsSection)") {
                var reader = try section.reader(upTo: FlowTable.openFlowsVersion)
                try flows.restoreOpenFlows(from: &reader, version: section.version)
                guard reader.isAtEnd else { throw StateDecodingError("saved flows have trailing bytes") }
            }
        }
        var notes: [String] = []
        do {
            notes = try analyzer.engine.restore(sections: sections, openFlows: &flows,
                                                openFlowsSaved: sections[Self.flowsSection] != nil)
        } catch let error as StateDecodingError {  // it names the section
            throw StateFileError(path, "cannot continue from this state: \(error.description)")
        }
        let known = Set(stateSections.map(\.name))
        let unknown = sections.keys.filter { !known.contains($0) }.sorted()
        if !unknown.isEmpty {
            notes.append("skipped section\(unknown.count == 1 ? "" : "s") \(unknown.joined(separator: ", ")): not "
                + "known to this IdleWatch (a removed detection's, or a newer IdleWatch's)")
        }
        for note in notes {
            let line = Array("idlewatch: state \(path): \(note)\n".utf8)
            _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
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

    /// A schema 1 or 2 file's blobs as sections: the host layout is the same bytes; the flows and the detection
    /// state, which named flows by table position and hosts by slot, are converted by their stages.
    func convertSchema2(_ saved: SavedState) throws -> [String: StateSection] {
        let blobs = saved.schema2Blobs
        let flowsBlob = blobs[Schema2Blob.openFlows.rawValue] ?? []
        let converted = try FlowTable.convertSchema2OpenFlows(flowsBlob)
        var sections = try analyzer.engine.convertSchema2Windows(blobs[Schema2Blob.detectionWindows.rawValue] ?? [],
                                                                 flowKeys: converted.keys, hosts: saved.hosts)
        sections[Self.hostLayoutSection] = StateSection(version: 1, data: blobs[Schema2Blob.hostLayout.rawValue] ?? [])
        sections[Self.flowsSection] = StateSection(version: 1, data: converted.section)
        return sections
    }

    static let hostLayoutSection = "hosts.layout"
    static let flowsSection = "flows"

    /// Every section a save writes, in order, with the versions of their layouts.
    var stateSections: [(name: String, version: Int)] {
        [(Self.hostLayoutSection, HostTable.layoutVersion), (Self.flowsSection, FlowTable.openFlowsVersion),
         (DetectionEngine.linksSection, MACBindings.sectionVersion)]
            + analyzer.engine.sections
    }

    /// The bytes of section `name`, from the tables as they stand.
    static func encodeSection(_ name: String, flows: FlowTable, engine: DetectionEngine) -> [UInt8] {
        var writer = StateWriter()
        switch name {
        case hostLayoutSection: engine.hosts.encodeLayout(into: &writer)
        case flowsSection: flows.encodeOpenFlows(into: &writer)
        case DetectionEngine.linksSection: engine.encodeLinks(into: &writer)
        default: engine.encodeSection(name, openFlows: flows, into: &writer)
        }
        return writer.bytes
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
        saved.services = engine.hosts.services
        saved.exposures = engine.exposures
        saved.inventory = engine.site.hosts
        saved.sections = stateSections.map { name, version in
            (name, StateSection(version: version, data: Self.encodeSection(name, flows: flows, engine: engine)))
        }
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
    let sectionList: [(name: String, version: Int)]

    init(pipeline: Pipeline) {
        flows = pipeline.flows
        engine = pipeline.analyzer.engine
        clock = pipeline.clock.nanoseconds != Int64.min ? pipeline.clock : nil
        packetsAtClock = pipeline.packetsAtClock
        packetsAnalysed = (pipeline.state?.packetsBefore ?? 0) &+ pipeline.decode.packets
        sectionList = pipeline.stateSections
    }

    var learningStart: Timestamp? { engine.learningStart }
    var services: [ServiceKey: ServiceRecord] { engine.hosts.services }
    var exposures: [ExposureKey: ExposureRecord] { engine.exposures }
    var inventory: [InventoryEntry] { engine.site.hosts }

    func forEachHost(_ body: (SavedHost) throws -> Void) rethrows {
        try engine.hosts.forEachSavedHost(body)
    }

    func encode(section name: String) -> [UInt8] {
        Pipeline.encodeSection(name, flows: flows, engine: engine)
    }
}
