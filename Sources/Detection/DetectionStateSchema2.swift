// Reading the detection state of schema 1 and 2 files (one positional blob, `detection_windows`), converted into the
// sections of today's layout (DetectionState.swift), so there is one restore path. That blob named flows by table
// position and hosts by table slot and generation: each position becomes the key of the flow the schema 2 flow
// state held there (`FlowTable.convertSchema2OpenFlows`), each host reference whether it still named its host.
//
// The blob's layout: when learning began, the maintenance ports' names, the open flows (with the bytes of
// maintenance-port-inbound and maintenance-exposure at their places), the sections of the detections of schema 2
// in the registry's order (`savedInSchema2Layout`), the ledger; then the detections added since: a count, and for
// each its name, its section and its byte for each open flow in the order above (a schema 2 file of the build
// before them ends before the count).

import FlowTracking
import HostBaselines
import PacketDecoding
import StateCoding

extension DetectionEngine {
    /// The sections of a schema 2 `detection_windows` blob. `flowKeys`: the key of the flow at each saved position;
    /// `hosts`: the saved hosts (with their slots and generations) the blob's references are judged against.
    public func convertSchema2Windows(_ bytes: [UInt8], flowKeys: [Int32: FlowKey],
                                      hosts saved: [SavedHost]) throws -> [String: StateSection] {
        var reader = StateReader(bytes)
        _ = try reader.optionalTimestamp()  // learning's start: the meta table holds it too
        // The port names were the saved positions' meaning; which port a flow reaches is found again from the flow.
        let savedPorts = try reader.count(minimumItemSize: 4)
        for _ in 0..<savedPorts { _ = try reader.string() }
        var generations: [Int32: UInt32] = [:]
        for host in saved { generations[host.slot] = host.record.generation }
        func held(_ reference: HostReference) -> Bool { generations[reference.index] == reference.generation }

        let count = try reader.count(minimumItemSize: 24)
        var facts = StateWriter()
        facts.putCount(count)
        var keys: [FlowKey] = []
        var marks = [[(FlowKey, UInt8)]](repeating: [], count: detections.count)
        for _ in 0..<count {
            let slot = try reader.int32()
            guard let key = flowKeys[slot] else {
                throw StateDecodingError("a saved flow annotation names position \(slot), where no saved flow is")
            }
            keys.append(key)
            var a = FlowAnnotation()
            let originator = HostReference(index: try reader.int32(), generation: try reader.uint32())
            let responder = HostReference(index: try reader.int32(), generation: try reader.uint32())
            a.originatorIsLocal = try reader.bool()
            a.responderIsLocal = try reader.bool()
            let maintenance = try reader.int32()
            let declaredPort = try reader.int32()
            a.maintenanceReason = try MaintenanceReason(code: reader.uint8())
            let raisedStages = try reader.uint8()
            let exposureStage = Int8(bitPattern: try reader.uint8())
            for position in [maintenance, declaredPort] where Int(position) >= savedPorts {
                throw StateDecodingError("a saved flow names maintenance port \(position) of \(savedPorts)")
            }
            // A port whose use is unexpected, else any other mark (-2) undeclared, else a declared port used as
            // expected.
            a.maintenance = maintenance >= 0 ? .unexpected : maintenance != -1 ? .undeclared
                : declaredPort >= 0 ? .expected : .none
            key.encode(into: &facts)
            Self.encodeFacts(a, originatorHeld: held(originator), responderHeld: held(responder), into: &facts)
            if let position = maintenancePosition, raisedStages != 0 { marks[position].append((key, raisedStages)) }
            // The furthest stage noted, or -1; the detection's byte is that plus one.
            if let position = exposurePosition, exposureStage >= 0 { marks[position].append((key, UInt8(exposureStage) + 1)) }
        }
        var sections = [Self.flowFactsSection: StateSection(version: Self.flowFactsVersion, data: facts.bytes)]
        // Each positional section ends where its detection's reading ends: read into a new instance, written again.
        for position in detections.indices where type(of: detections[position]).savedInSchema2Layout {
            let detection = type(of: detections[position])
            var converted = detection.init()
            try converted.restore(from: &reader, version: 1)
            var own = StateWriter()
            converted.encode(into: &own)
            var section = StateWriter()
            Self.encodeDetectionSection(own.bytes, marks: marks[position], into: &section)
            // Read in layout 1, written in this build's layout.
            sections[Self.sectionName(of: detection)] = StateSection(version: detection.stateVersion, data: section.bytes)
        }
        var ledger = self.ledger
        try ledger.restore(from: &reader, version: 1)
        var ledgerSection = StateWriter()
        ledger.encode(into: &ledgerSection)
        sections[Self.ledgerSection] = StateSection(version: Self.ledgerVersion, data: ledgerSection.bytes)
        guard !reader.isAtEnd else { return sections }  // schema 2, before detections were added
        for _ in 0..<(try reader.count(minimumItemSize: 12)) {
            let name = try reader.string()
            let own = try reader.byteString()
            let flowMarks = try reader.byteString()
            guard flowMarks.count == keys.count else {
                throw StateDecodingError("detection \(name) saved \(flowMarks.count) flow marks for \(keys.count) flows")
            }
            var section = StateWriter()
            Self.encodeDetectionSection(own, marks: zip(keys, flowMarks).filter { $0.1 != 0 }, into: &section)
            // A detection this build does not run keeps its name: the restore skips it and says so.
            sections["detection." + name] = StateSection(version: 1, data: section.bytes)
        }
        guard reader.isAtEnd else { throw StateDecodingError("saved detection state has trailing bytes") }
        return sections
    }

    /// Where the two detections whose per-flow bytes schema 2 saved stand in this engine's list.
    var maintenancePosition: Int? { position(of: MaintenancePortInbound.self) }
    var exposurePosition: Int? { position(of: MaintenanceExposure.self) }
}
