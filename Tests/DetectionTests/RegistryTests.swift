// A detection added through the protocol and the engine's list alone, as a contributor adds one (here without
// touching the sources at all: the engine takes the registry plus this one): it sees the events it asked for, keeps
// its own bounded state and its own byte per flow, reports its counter, and both survive a save and a restore into a
// new engine, as a state file carries them to the next run. A state saved without it (as by a build before it
// existed) restores with it empty.

@testable import Detection
import FlowTracking
import HostBaselines
import PacketDecoding
import SiteModel
import StateCoding
import Testing

/// The throwaway detection: learns which addresses sent ARP (at most `capacity`, the rest counted), and counts the
/// events of each flow in its byte, noting the count each flow ended with. It raises nothing.
struct ARPSenders: Detection {
    static let name = "test-arp-senders"
    static let events: DetectionEvents = [.arp, .started, .established, .data, .ended]
    let capacity = 3
    var senders: [IPAddress] = []
    var notKept: UInt64 = 0
    var endedWith: [UInt8] = []

    mutating func arp(_ context: ARPContext, ledger: inout AlertLedger) {
        guard !senders.contains(context.sender) else { return }
        guard senders.count < capacity else { return notKept += 1 }
        senders.append(context.sender)
    }

    mutating func flow(_ context: FlowContext, site: Site, mark: inout UInt8, ledger: inout AlertLedger) {
        mark &+= 1
        if context.event == .ended { endedWith.append(mark) }
    }

    var counters: [DetectionCounter] { [DetectionCounter("arpSendersNotKept", "ARP senders", notKept)] }

    func encode(into writer: inout StateWriter) {
        writer.putCount(senders.count)
        for sender in senders { writer.put(sender) }
        writer.putCount(endedWith.count)
        for count in endedWith { writer.put(count) }
    }

    mutating func restore(from reader: inout StateReader) throws {
        for _ in 0..<(try reader.count(minimumItemSize: 17)) { senders.append(try reader.address()) }
        for _ in 0..<(try reader.count(minimumItemSize: 1)) { endedWith.append(try reader.uint8()) }
    }
}

/// The throwaway detection with a changed layout (version 2: the version 1 layout, then when it last saw ARP), which
/// still reads version 1 sections.
struct ARPSendersVersion2: Detection {
    static let name = ARPSenders.name
    static let events = ARPSenders.events
    static let stateVersion = 2
    var base = ARPSenders()
    var lastARP: Timestamp?
    var versionRead = 0

    mutating func arp(_ context: ARPContext, ledger: inout AlertLedger) {
        base.arp(context, ledger: &ledger)
        lastARP = context.time
    }

    func encode(into writer: inout StateWriter) {
        base.encode(into: &writer)
        writer.put(lastARP)
    }

    mutating func restore(from reader: inout StateReader) throws { try restore(from: &reader, version: Self.stateVersion) }

    mutating func restore(from reader: inout StateReader, version: Int) throws {
        try base.restore(from: &reader)
        if version >= 2 { lastARP = try reader.optionalTimestamp() }
        versionRead = version
    }
}

@Suite("the detection registry")
struct RegistryTests {
    static let withThrowaway = DetectionRegistry.all + [ARPSenders.self]

    /// Saves `h` as the state file would (hosts, open flows, the engine's sections) and restores it into a new
    /// harness running `detections`; returns it with what the restore had to say.
    func saveAndRestore(_ h: Harness, into detections: [any Detection.Type],
                        editing edit: (inout [String: StateSection]) -> Void = { _ in }) throws -> (Harness, [String]) {
        var later = try Harness(detections: detections)
        later.time = h.time
        var flows = StateWriter(), layout = StateWriter()
        h.flows.encodeOpenFlows(into: &flows)
        h.engine.hosts.encodeLayout(into: &layout)
        var sections: [String: StateSection] = [:]
        for (name, version) in h.engine.sections {
            var writer = StateWriter()
            h.engine.encodeSection(name, openFlows: h.flows, into: &writer)
            sections[name] = StateSection(version: version, data: writer.bytes)
        }
        edit(&sections)
        var flowReader = StateReader(flows.bytes)
        try later.engine.restoreHosts(learningStart: h.engine.learningStart, layout: layout.bytes,
                                      hosts: h.engine.hosts.savedHosts, services: h.engine.hosts.services,
                                      exposures: h.engine.exposures)
        try later.flows.restoreOpenFlows(from: &flowReader)
        let notes = try later.engine.restore(sections: sections, openFlows: &later.flows)
        later.engine.replaceSite(later.engine.site, openFlows: &later.flows)
        return (later, notes)
    }

    @Test("a detection added to the list gets its events, keeps its state and flow byte across a save, counts")
    func throwawayDetection() throws {
        var h = try Harness(detections: Self.withThrowaway)
        h.feed([arp("10.0.0.1", asks: "10.0.0.2"), arp("10.0.0.2", asks: "10.0.0.1"), arp("10.0.0.3", asks: "10.0.0.1"),
                arp("10.0.0.4", asks: "10.0.0.1"), arp("10.0.0.1", asks: "10.0.0.9")])
        // A session half done: started and established seen (2), data and the end still to come.
        h.feed([tcp("10.0.0.1", 40000, "10.0.0.2", 443, .syn), tcp("10.0.0.2", 443, "10.0.0.1", 40000, [.syn, .ack])])
        let throwaway = try #require(h.engine.detection(ARPSenders.self))
        #expect(throwaway.senders == [ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3")])
        #expect(h.engine.counter("arpSendersNotKept") == 1)

        var (later, _) = try saveAndRestore(h, into: Self.withThrowaway)
        #expect(later.engine.detection(ARPSenders.self)?.senders == throwaway.senders, "its section came back")
        #expect(later.engine.counter("arpSendersNotKept") == 0, "counters are the run's, not saved")
        later.feed([tcp("10.0.0.1", 40000, "10.0.0.2", 443, [.psh, .ack], payload: 20),
                    tcp("10.0.0.2", 443, "10.0.0.1", 40000, [.psh, .ack], payload: 40)])
        later.finish()
        #expect(later.engine.detection(ARPSenders.self)?.endedWith == [4], "its byte for the open flow came back")
    }

    @Test("a state saved without the added detection restores with it empty; one saved with it, by a build without it")
    func addedAndRemoved() throws {
        var before = try Harness()
        before.feed([arp("10.0.0.1", asks: "10.0.0.2"), tcp("10.0.0.1", 40000, "10.0.0.2", 443, .syn)])
        let (upgraded, _) = try saveAndRestore(before, into: Self.withThrowaway)
        #expect(upgraded.engine.detection(ARPSenders.self)?.senders == [])

        var with = try Harness(detections: Self.withThrowaway)
        with.feed([arp("10.0.0.1", asks: "10.0.0.2"), tcp("10.0.0.1", 40000, "10.0.0.2", 443, .syn)])
        let (downgraded, _) = try saveAndRestore(with, into: DetectionRegistry.all)
        #expect(downgraded.engine.detection(ARPSenders.self) == nil)
        #expect(downgraded.flows.activeCount == 1)
    }

    @Test("a detection's section of an older layout is read by its version; one of a newer layout starts it empty, said")
    func sectionVersions() throws {
        var old = try Harness(detections: Self.withThrowaway)
        old.feed([arp("10.0.0.1", asks: "10.0.0.2"), arp("10.0.0.2", asks: "10.0.0.1")])
        let (upgraded, quiet) = try saveAndRestore(old, into: DetectionRegistry.all + [ARPSendersVersion2.self])
        let read = try #require(upgraded.engine.detection(ARPSendersVersion2.self))
        #expect(read.versionRead == 1 && read.base.senders == [ip("10.0.0.1"), ip("10.0.0.2")] && read.lastARP == nil)
        #expect(quiet.isEmpty)

        var newer = try Harness(detections: DetectionRegistry.all + [ARPSendersVersion2.self])
        newer.feed([arp("10.0.0.1", asks: "10.0.0.2")])
        #expect(newer.engine.sections.last?.version == 2)
        let (downgraded, notes) = try saveAndRestore(newer, into: Self.withThrowaway)
        #expect(downgraded.engine.detection(ARPSenders.self)?.senders == [], "a layout it cannot read is not misread")
        #expect(notes == ["section detection.test-arp-senders has layout version 2, newer than this IdleWatch reads (1): "
            + "test-arp-senders starts with empty state"])
    }

    @Test("a missing section is empty state; a damaged one is refused naming it")
    func missingAndDamagedSections() throws {
        var h = try Harness(detections: Self.withThrowaway)
        h.feed([arp("10.0.0.1", asks: "10.0.0.2"), tcp("10.0.0.1", 40000, "10.0.0.2", 443, .syn)])
        let (missing, _) = try saveAndRestore(h, into: Self.withThrowaway) { $0["detection.test-arp-senders"] = nil }
        #expect(missing.engine.detection(ARPSenders.self)?.senders == [])
        #expect(missing.flows.activeCount == 1)
        #expect(throws: StateDecodingError.self) {
            _ = try saveAndRestore(h, into: Self.withThrowaway) { $0["detection.test-arp-senders"]?.data.append(0) }
        }
        do {
            _ = try saveAndRestore(h, into: Self.withThrowaway) { $0["engine.flows"]?.version = 2 }
            Issue.record("a newer engine.flows was read")
        } catch let error as StateDecodingError {
            #expect(error.description.contains("section engine.flows: layout version 2"), "\(error)")
        }
    }

    @Test("every registered detection has a distinct name and reacts to something")
    func registry() {
        #expect(Set(DetectionRegistry.all.map { $0.name }).count == DetectionRegistry.all.count)
        #expect(DetectionRegistry.all.allSatisfy { !$0.events.isEmpty })
        // Schema 2 files hold the detections that existed then, in their order: those come first, the later ones after.
        let schema2 = DetectionRegistry.all.map { $0.savedInSchema2Layout }
        #expect(schema2 == schema2.sorted { $0 && !$1 } && schema2.filter { $0 }.count == 7)
    }
}
