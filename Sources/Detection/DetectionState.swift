// Saving and restoring what the detection engine remembers between packets, as named sections of the state file:
// `engine.flows`, the facts about each open flow; `ledger`, the alerts' suppression and incidents; `detection.<name>`
// for each detection, its own section (written by the detection, in its own file) and its byte for each open flow.
// Per-flow entries are keyed by the flow's key, never by a table position, and a flow's hosts are not saved at all:
// they are found again by address in the restored host table (a host the flow had lost, evicted while it was open,
// stays lost, as it would have in one run). Entries are written in a fixed order (flows in the flow table's order,
// dictionaries in key order), so the same state gives the same bytes. A missing section is empty state; a
// detection's section of a newer layout than this build reads starts that detection empty (said on standard
// error: its windows are minutes of history, not worth refusing the learned hosts for). Run counters are not state
// and start at zero. Learning's start, the host table and the exposure ledger are saved by the state store in
// tables of their own. Schema 2 files (one positional blob) are converted by DetectionStateSchema2.swift.

import FlowTracking
import HostBaselines
import PacketDecoding
import StateCoding

extension DetectionEngine {
    /// The engine's sections and the versions of their layouts this build writes and reads.
    public static let flowFactsSection = "engine.flows"
    public static let ledgerSection = "ledger"
    static let flowFactsVersion = 1
    /// Version 2: each suppression key also keeps its alert's id, the span of what it held back and the latest
    /// held-back alert's counts (for the closing records, AlertLedger.swift).
    static let ledgerVersion = 2

    /// A detection's section name.
    public static func sectionName(of detection: any Detection.Type) -> String { "detection." + detection.name }

    /// When learning began (the first packet ever analysed into this state).
    public var learningStart: Timestamp? { start }

    /// The engine's sections, in the order they are written: the flows' facts, the ledger, then each detection's
    /// in the registry's order.
    public var sections: [(name: String, version: Int)] {
        [(Self.flowFactsSection, Self.flowFactsVersion), (Self.ledgerSection, Self.ledgerVersion)]
            + detections.map { (Self.sectionName(of: type(of: $0)), type(of: $0).stateVersion) }
    }

    /// Writes the section `name` (one of `sections`).
    public func encodeSection(_ name: String, openFlows: FlowTable, into writer: inout StateWriter) {
        switch name {
        case Self.flowFactsSection:
            encodeFlowFacts(openFlows: openFlows, into: &writer)
        case Self.ledgerSection:
            ledger.encode(into: &writer)
        default:
            guard let position = detections.firstIndex(where: { Self.sectionName(of: type(of: $0)) == name }) else {
                preconditionFailure("no section \(name) in this engine")
            }
            var section = StateWriter()
            detections[position].encode(into: &section)
            Self.encodeDetectionSection(section.bytes, marks: openFlows.openFlowSlots.compactMap { slot in
                let mark = openFlows.storage(at: slot).load(FlowAnnotation.self).marks[position]
                return mark == 0 ? nil : (openFlows.flow(at: slot).key, mark)
            }, into: &writer)
        }
    }

    /// A detection's section: its own bytes, then its byte for each open flow where it is not 0 (0 is what a flow
    /// starts with), keyed by the flow.
    static func encodeDetectionSection(_ own: [UInt8], marks: [(FlowKey, UInt8)], into writer: inout StateWriter) {
        writer.put(byteString: own)
        writer.putCount(marks.count)
        for (key, mark) in marks {
            key.encode(into: &writer)
            writer.put(mark)
        }
    }

    /// Per open flow, in the flow table's order: its key, whether each of its host records was still held (the
    /// host itself is found again by address), which side is local, and what it is to the maintenance ports (never
    /// a position in the site file's list: the port is found again from the flow, in the site loaded now).
    func encodeFlowFacts(openFlows: FlowTable, into writer: inout StateWriter) {
        let slots = openFlows.openFlowSlots
        writer.putCount(slots.count)
        for slot in slots {
            let a = openFlows.storage(at: slot).load(FlowAnnotation.self)
            openFlows.flow(at: slot).key.encode(into: &writer)
            Self.encodeFacts(a, originatorHeld: hosts.isCurrent(a.originator), responderHeld: hosts.isCurrent(a.responder),
                             into: &writer)
        }
    }

    static func encodeFacts(_ a: FlowAnnotation, originatorHeld: Bool, responderHeld: Bool, into writer: inout StateWriter) {
        writer.put(originatorHeld)
        writer.put(responderHeld)
        writer.put(a.originatorIsLocal)
        writer.put(a.responderIsLocal)
        writer.put(a.maintenance.rawValue)
        writer.put(a.maintenanceReason.code)
    }

    /// Bytes one flow's facts take after its key.
    static let savedFactsSize = 6

    /// Restores the engine's sections from `sections` (by name) into the restored flow table's storage. Call after
    /// the host table (`restoreHosts`) and the flow table are restored, then `replaceSite` with the site the state
    /// will be used with: it finds each flow's maintenance port again in that site, and classifies again the flows
    /// whose port it no longer declares. Returns what to say on standard error (detections started empty because
    /// their section is of a newer layout). Errors name the section. Without saved open flows (`openFlowsSaved`
    /// false: a file without the `flows` section), the per-flow entries have no flow to go back to and are dropped.
    public mutating func restore(sections: [String: StateSection], openFlows: inout FlowTable,
                                 openFlowsSaved: Bool = true) throws -> [String] {
        func within(_ name: String, _ body: () throws -> Void) throws {
            do {
                try body()
            } catch let error as StateDecodingError {
                throw StateDecodingError("section \(name): \(error.description)")
            }
        }
        if let facts = sections[Self.flowFactsSection] {
            try within(Self.flowFactsSection) {
                var reader = try facts.reader(upTo: Self.flowFactsVersion)
                if openFlowsSaved { try restoreFlowFacts(from: &reader, openFlows: &openFlows) }
            }
        } else {
            deriveFlowFacts(openFlows: &openFlows)
        }
        if let saved = sections[Self.ledgerSection] {
            try within(Self.ledgerSection) {
                var reader = try saved.reader(upTo: Self.ledgerVersion)
                try ledger.restore(from: &reader, version: saved.version)
                guard reader.isAtEnd else { throw StateDecodingError("trailing bytes") }
            }
        }
        var notes: [String] = []
        for position in detections.indices {
            let detection = type(of: detections[position])
            let name = Self.sectionName(of: detection)
            guard let saved = sections[name] else { continue }  // saved before it existed: it starts empty
            guard saved.version <= detection.stateVersion else {
                notes.append("section \(name) has layout version \(saved.version), newer than this IdleWatch reads "
                    + "(\(detection.stateVersion)): \(detection.name) starts with empty state")
                continue
            }
            try within(name) {
                var reader = StateReader(saved.data)
                var own = StateReader(try reader.byteString())
                try detections[position].restore(from: &own, version: saved.version)
                guard own.isAtEnd else { throw StateDecodingError("trailing bytes after the detection's own section") }
                guard openFlowsSaved else { return }
                for _ in 0..<(try reader.count(minimumItemSize: FlowKey.savedSize + 1)) {
                    let slot = try Self.openSlot(of: FlowKey(from: &reader), in: openFlows)
                    var a = openFlows.storage(at: slot).load(FlowAnnotation.self)
                    a.marks[position] = try reader.uint8()
                    openFlows.setStorage(storage(a), at: slot)
                }
                guard reader.isAtEnd else { throw StateDecodingError("trailing bytes") }
            }
        }
        return notes
    }

    static func openSlot(of key: FlowKey, in openFlows: FlowTable) throws -> Int32 {
        guard let slot = openFlows.openSlot(of: key) else {
            throw StateDecodingError("an entry names flow \(key.addressA) \(key.portA) - \(key.addressB) \(key.portB) "
                + "protocol \(key.ipProtocol), which is not among the saved open flows")
        }
        return slot
    }

    mutating func restoreFlowFacts(from reader: inout StateReader, openFlows: inout FlowTable) throws {
        let count = try reader.count(minimumItemSize: FlowKey.savedSize + Self.savedFactsSize)
        guard count == openFlows.activeCount else {
            throw StateDecodingError("facts for \(count) flows, where \(openFlows.activeCount) open flows were saved")
        }
        var restored = Set<Int32>()
        for _ in 0..<count {
            let slot = try Self.openSlot(of: FlowKey(from: &reader), in: openFlows)
            guard restored.insert(slot).inserted else { throw StateDecodingError("a flow's facts appear twice") }
            let flow = openFlows.flow(at: slot)
            var a = FlowAnnotation()
            // A host the flow still held is found again by address; one it had lost stays lost (its next event finds
            // it again, as in one run); an end that is no host stays none.
            a.originator = restoredReference(flow, originator: true, held: try reader.bool())
            a.responder = restoredReference(flow, originator: false, held: try reader.bool())
            a.originatorIsLocal = try reader.bool()
            a.responderIsLocal = try reader.bool()
            let match = try reader.uint8()
            guard let maintenance = MaintenanceMatch(rawValue: match) else {
                throw StateDecodingError("a saved flow has maintenance match \(match)")
            }
            a.maintenance = maintenance
            a.maintenanceReason = try MaintenanceReason(code: reader.uint8())
            openFlows.setStorage(storage(a), at: slot)
        }
        guard reader.isAtEnd else { throw StateDecodingError("trailing bytes") }
    }

    /// Without saved facts (a file that lacks the section): each open flow's facts found again as when it started,
    /// from the host table and the site, without touching either.
    mutating func deriveFlowFacts(openFlows: inout FlowTable) {
        for slot in openFlows.openFlowSlots {
            let flow = openFlows.flow(at: slot)
            var a = FlowAnnotation()
            a.originator = restoredReference(flow, originator: true, held: hosts.find(flow.originator) != nil)
            a.responder = restoredReference(flow, originator: false, held: hosts.find(flow.responder) != nil)
            a.originatorIsLocal = hosts.isCurrent(a.originator) ? hosts[a.originator].isLocal : site.isLocal(flow.originator)
            a.responderIsLocal = hosts.isCurrent(a.responder) ? hosts[a.responder].isLocal : site.isLocal(flow.responder)
            Self.classify(flow, annotation: &a, site: site)
            openFlows.setStorage(storage(a), at: slot)
        }
    }

    /// The reference for one end of a restored flow: `.none` when it is no host by nature (even if a file saved
    /// before that rule holds a record for the address), the host found again by address when the flow held it,
    /// else `.lost` (found again at its next event). Which end a flow's first frame went to is not saved, so when
    /// that frame went to a group MAC, an IPv4 end the flow did not hold is taken for the directed broadcast it most
    /// likely was (a host evicted while such a flow was open then stays uncounted for the rest of the flow, where one
    /// run would have found it again).
    func restoredReference(_ flow: Flow, originator: Bool, held: Bool) -> HostReference {
        let address = originator ? flow.originator : flow.responder
        guard site.namesHost(address) else { return .none }
        if held { return hosts.find(address) ?? .lost }
        let opening = FlowOpening(firstFrameToGroupMAC: flow.firstFrameToGroupMAC)
        return HostTable.isHost(address, receivedFirstFrame: true, opening: opening, placement: site) ? .lost : .none
    }

    /// Puts back when learning began, the learned host table (see `HostTable.restore`; without the records an older
    /// state holds for addresses that are no host: `HostTable.removeHosts`) and the exposure ledger.
    public mutating func restoreHosts(learningStart: Timestamp?, layout: [UInt8], hosts saved: [SavedHost],
                                      services: [ServiceKey: ServiceRecord],
                                      exposures: [ExposureKey: ExposureRecord]) throws {
        start = learningStart
        try hosts.restore(layout: layout, hosts: saved, services: services)
        hosts.removeHosts { !site.namesHost($0) }
        if let position = exposurePosition, var ledger = detections[position] as? MaintenanceExposure {
            ledger.entries = exposures
            detections[position] = ledger
        }
    }
}

extension MaintenanceReason {
    static let allInOrder: [MaintenanceReason] = [.closed, .expired, .sourceNotAllowed, .outsideWindow, .undeclared]

    var code: UInt8 { UInt8(MaintenanceReason.allInOrder.firstIndex(of: self)!) }

    init(code: UInt8) throws {
        guard Int(code) < MaintenanceReason.allInOrder.count else {
            throw StateDecodingError("saved flow has maintenance reason \(code)")
        }
        self = MaintenanceReason.allInOrder[Int(code)]
    }
}

extension AlertLedger {
    func encode(into writer: inout StateWriter) {
        writer.put(nextID)
        writer.putCount(lastRaised.count)
        for (key, value) in lastRaised.sorted(by: { $0.key < $1.key }) {
            writer.put(key.rule.rawValue)
            writer.put(key.source)
            writer.put(key.destination != nil)
            if let destination = key.destination { writer.put(destination) }
            writer.put(key.port != nil)
            if let port = key.port { writer.put(port) }
            writer.put(key.detail)
            writer.put(value.time)
            writer.put(value.held)
            writer.put(value.alert)
            writer.put(value.firstHeld)
            writer.put(value.lastHeld)
            value.tally.encode(into: &writer)
        }
        writer.putCount(incidents.count)
        for (host, incident) in incidents.sorted(by: { $0.key < $1.key }) {
            writer.put(host)
            writer.put(incident.id)
            writer.put(incident.last)
        }
    }

    /// Layout 1 (schema 2 files and version 1 sections) kept each key's time and count only: its alert's id reads as
    /// 0 (unknown) and the span of what it held as the alert's time.
    mutating func restore(from reader: inout StateReader, version: Int = DetectionEngine.ledgerVersion) throws {
        let full = version >= 2
        nextID = try reader.uint64()
        lastRaised = [:]
        for _ in 0..<(try reader.count(minimumItemSize: full ? 65 : 40)) {
            let ruleName = try reader.string()
            guard let rule = RuleID(rawValue: ruleName) else {
                throw StateDecodingError("saved suppression names an unknown rule '\(ruleName)'")
            }
            let source = try reader.address()
            let destination = try reader.bool() ? try reader.address() : nil
            let port = try reader.bool() ? try reader.uint16() : nil
            let key = SuppressionKey(rule: rule, source: source, destination: destination, port: port,
                                     detail: try reader.string())
            var value = Suppression(time: try reader.timestamp(), alert: 0)
            value.held = try reader.uint64()
            if full {
                value.alert = try reader.uint64()
                value.firstHeld = try reader.timestamp()
                value.lastHeld = try reader.timestamp()
                value.tally = try AlertTally(from: &reader)
            } else {
                (value.firstHeld, value.lastHeld) = (value.time, value.time)
            }
            lastRaised[key] = value
        }
        incidents = [:]
        for _ in 0..<(try reader.count(minimumItemSize: 33)) {
            let host = try reader.address()
            incidents[host] = (try reader.uint64(), try reader.timestamp())
        }
    }

    /// Open incidents: the local hosts with an alert within the incident window of `time`, with the incident id and
    /// the time of its last alert.
    public func openIncidents(at time: Timestamp) -> [(host: IPAddress, id: UInt64, last: Timestamp)] {
        incidents.filter { time - $0.value.last <= configuration.incidentWindow }
            .map { (host: $0.key, id: $0.value.id, last: $0.value.last) }
            .sorted { $0.id < $1.id }
    }
}

extension AlertTally {
    /// A byte saying which counts are present, then each present one (UInt64 counts, then durations).
    func encode(into writer: inout StateWriter) {
        let counts = [portsTried, hostsTried, sessions]
        let durations = [shortestSession, medianSession, longestSession]
        var present: UInt8 = 0
        for (bit, value) in counts.enumerated() where value != nil { present |= 1 << UInt8(bit) }
        for (bit, value) in durations.enumerated() where value != nil { present |= 1 << UInt8(bit + 3) }
        writer.put(present)
        for value in counts { if let value { writer.put(value) } }
        for value in durations { if let value { writer.put(value) } }
    }

    init(from reader: inout StateReader) throws {
        let present = try reader.uint8()
        guard present < 1 << 6 else { throw StateDecodingError("saved alert counts are malformed (\(present))") }
        var counts: [UInt64?] = []
        for bit in 0..<3 { counts.append(present & 1 << UInt8(bit) != 0 ? try reader.uint64() : nil) }
        var durations: [Duration?] = []
        for bit in 3..<6 {
            guard present & 1 << UInt8(bit) != 0 else {
                durations.append(nil)
                continue
            }
            let duration = try reader.duration()
            guard duration.nanoseconds >= 0 else { throw StateDecodingError("saved session duration is negative") }
            durations.append(duration)
        }
        self.init(portsTried: counts[0], hostsTried: counts[1], sessions: counts[2], shortestSession: durations[0],
                  medianSession: durations[1], longestSession: durations[2])
    }
}
