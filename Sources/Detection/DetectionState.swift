// Saving and restoring what the detections remember between packets, for the state file: when learning began,
// what each open flow was found to be, each detection's saved section (each written by its detection, in its own
// file), and the ledger's suppression and incidents, in key order (the same state gives the same bytes). Run counters (alerts raised in this run) are not
// state and start at zero. The host table and the exposure ledger are saved by the state store in tables of their own.
//
// Layout: the schema 2 layout first, unchanged (so files of schema 2 load): when learning began, the maintenance
// ports' names, the open flows (with the bytes of maintenance-port-inbound and maintenance-exposure at their old
// places), the sections of the detections that existed then in the registry's order, the ledger. Then the detections
// added since: a count, and for each its name, its section and its byte for each open flow in the order above, each
// as a length-prefixed byte string. A schema 2 file ends before the count: those detections start empty.

import FlowTracking
import HostBaselines
import PacketDecoding
import StateCoding

extension DetectionEngine {
    /// When learning began (the first packet ever analysed into this state).
    public var learningStart: Timestamp? { start }

    /// Open flows are saved with their table positions (the flow table restores them there, and each flow's storage
    /// is written back to the flow found there). Their maintenance
    /// ports are saved as positions in the list of port names written before them (the layout of schema 2); the
    /// position is found from the flow in the site loaded now, never kept between events.
    public func encodeWindows(openFlows: FlowTable, into writer: inout StateWriter) {
        writer.put(start)
        writer.putCount(site.maintenancePorts.count)
        for port in site.maintenancePorts { writer.put(port.name) }
        let slots = openFlows.openFlowSlots
        writer.putCount(slots.count)
        for slot in slots {
            let a = openFlows.storage(at: slot).load(FlowAnnotation.self)
            writer.put(slot)
            for reference in [a.originator, a.responder] {
                writer.put(reference.index)
                writer.put(reference.generation)
            }
            writer.put(a.originatorIsLocal)
            writer.put(a.responderIsLocal)
            let position = a.maintenance.isDeclared
                ? site.maintenancePortIndex(reachedBy: openFlows.flow(at: slot)).map(Int32.init) ?? Self.noPort
                : Self.noPort
            // `maintenance`: the port when its use is unexpected, -2 for an undeclared one, -1 for none or expected
            // use; `declaredPort`: the port, expected use or not, or -1.
            switch a.maintenance {
            case .unexpected where position >= 0: writer.put(position)
            case .undeclared, .unexpected: writer.put(Self.undeclaredPort)
            case .none, .expected: writer.put(Self.noPort)
            }
            writer.put(position)
            writer.put(a.maintenanceReason.code)
            writer.put(maintenancePosition.map { a.marks[$0] } ?? 0)
            // The furthest stage noted, or -1 (the exposure ledger's byte is that plus one).
            writer.put(UInt8(bitPattern: Int8(truncatingIfNeeded: Int(exposurePosition.map { a.marks[$0] } ?? 0) - 1)))
        }
        for detection in detections where type(of: detection).savedInSchema2Layout { detection.encode(into: &writer) }
        ledger.encode(into: &writer)
        let added = detections.indices.filter { !type(of: detections[$0]).savedInSchema2Layout }
        writer.putCount(added.count)
        for position in added {
            writer.put(type(of: detections[position]).name)
            var section = StateWriter()
            detections[position].encode(into: &section)
            writer.put(byteString: section.bytes)
            writer.put(byteString: slots.map { openFlows.storage(at: $0).load(FlowAnnotation.self).marks[position] })
        }
    }

    /// Where the two detections whose per-flow bytes schema 2 saved stand in this engine's list.
    var maintenancePosition: Int? { position(of: MaintenancePortInbound.self) }
    var exposurePosition: Int? { position(of: MaintenanceExposure.self) }

    /// Saved port positions: none, and a remote-administration port nobody declared.
    static let noPort: Int32 = -1
    static let undeclaredPort: Int32 = -2

    /// Restores what `encodeWindows` wrote into the restored flow table's storage. Call after the host table (flows
    /// refer to its slots) and the flow table are restored, then `replaceSite` with the site the state will be used
    /// with: it finds each flow's maintenance port again in that site, and classifies again the flows whose port it
    /// no longer declares.
    public mutating func restoreWindows(from reader: inout StateReader, openFlows: inout FlowTable) throws {
        start = try reader.optionalTimestamp()
        // The port names are the saved positions' meaning; which port a flow reaches is found again from the flow.
        let savedPorts = try reader.count(minimumItemSize: 4)
        for _ in 0..<savedPorts { _ = try reader.string() }
        let count = try reader.count(minimumItemSize: 24)
        var slots: [Int32] = []
        for _ in 0..<count {
            let slot = try reader.int32()
            guard openFlows.isOpen(slot) else {
                throw StateDecodingError("a saved flow annotation names position \(slot), where no saved flow is")
            }
            var a = FlowAnnotation()
            a.originator = HostReference(index: try reader.int32(), generation: try reader.uint32())
            a.responder = HostReference(index: try reader.int32(), generation: try reader.uint32())
            a.originatorIsLocal = try reader.bool()
            a.responderIsLocal = try reader.bool()
            let maintenance = try reader.int32()
            let declaredPort = try reader.int32()
            a.maintenanceReason = try MaintenanceReason(code: reader.uint8())
            let raisedStages = try reader.uint8()
            let exposureStage = Int8(bitPattern: try reader.uint8())
            if let position = maintenancePosition { a.marks[position] = raisedStages }
            if let position = exposurePosition, exposureStage >= 0 { a.marks[position] = UInt8(exposureStage) + 1 }
            for position in [maintenance, declaredPort] where Int(position) >= savedPorts {
                throw StateDecodingError("a saved flow names maintenance port \(position) of \(savedPorts)")
            }
            // As schema 2 read them: a port whose use is unexpected, else any other mark (-2) undeclared, else a
            // declared port used as expected.
            a.maintenance = maintenance >= 0 ? .unexpected : maintenance != Self.noPort ? .undeclared
                : declaredPort >= 0 ? .expected : .none
            openFlows.setStorage(storage(a), at: slot)
            slots.append(slot)
        }
        for position in detections.indices where type(of: detections[position]).savedInSchema2Layout {
            try detections[position].restore(from: &reader)
        }
        try ledger.restore(from: &reader)
        guard !reader.isAtEnd else { return }  // schema 2, before detections were added
        for _ in 0..<(try reader.count(minimumItemSize: 12)) {
            let name = try reader.string()
            var section = StateReader(try reader.byteString())
            let marks = try reader.byteString()
            // A section of a detection this build does not run has nothing to go back into.
            guard let position = detections.firstIndex(where: { type(of: $0).name == name }) else { continue }
            guard marks.count == slots.count else {
                throw StateDecodingError("detection \(name) saved \(marks.count) flow marks for \(slots.count) flows")
            }
            detections[position] = type(of: detections[position]).init()
            do {
                try detections[position].restore(from: &section)
                guard section.isAtEnd else { throw StateDecodingError("trailing bytes") }
            } catch let error as StateDecodingError {
                throw StateDecodingError("detection \(name): \(error.description)")
            }
            for (slot, mark) in zip(slots, marks) {
                var a = openFlows.storage(at: slot).load(FlowAnnotation.self)
                a.marks[position] = mark
                openFlows.setStorage(storage(a), at: slot)
            }
        }
        guard reader.isAtEnd else { throw StateDecodingError("saved detection state has trailing bytes") }
    }

    /// Puts back the learned host table (see `HostTable.restore`) and the exposure ledger.
    public mutating func restoreHosts(layout: [UInt8], hosts saved: [SavedHost], services: [ServiceKey: ServiceRecord],
                                      exposures: [ExposureKey: ExposureRecord]) throws {
        try hosts.restore(layout: layout, hosts: saved, services: services)
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
        }
        writer.putCount(incidents.count)
        for (host, incident) in incidents.sorted(by: { $0.key < $1.key }) {
            writer.put(host)
            writer.put(incident.id)
            writer.put(incident.last)
        }
    }

    mutating func restore(from reader: inout StateReader) throws {
        nextID = try reader.uint64()
        lastRaised = [:]
        for _ in 0..<(try reader.count(minimumItemSize: 40)) {
            let ruleName = try reader.string()
            guard let rule = RuleID(rawValue: ruleName) else {
                throw StateDecodingError("saved suppression names an unknown rule '\(ruleName)'")
            }
            let source = try reader.address()
            let destination = try reader.bool() ? try reader.address() : nil
            let port = try reader.bool() ? try reader.uint16() : nil
            let key = SuppressionKey(rule: rule, source: source, destination: destination, port: port,
                                     detail: try reader.string())
            lastRaised[key] = (try reader.timestamp(), try reader.uint64())
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
