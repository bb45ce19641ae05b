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

@Suite("the detection registry")
struct RegistryTests {
    static let withThrowaway = DetectionRegistry.all + [ARPSenders.self]

    /// Saves `h` as the state file would (hosts, open flows, detection windows) and restores it into a new harness
    /// running `detections`.
    func saveAndRestore(_ h: Harness, into detections: [any Detection.Type]) throws -> Harness {
        var later = try Harness(detections: detections)
        later.time = h.time
        var flows = StateWriter(), layout = StateWriter(), windows = StateWriter()
        h.flows.encodeOpenFlows(into: &flows)
        h.engine.hosts.encodeLayout(into: &layout)
        h.engine.encodeWindows(openFlows: h.flows, into: &windows)
        var flowReader = StateReader(flows.bytes), windowReader = StateReader(windows.bytes)
        try later.engine.restoreHosts(layout: layout.bytes, hosts: h.engine.hosts.savedHosts,
                                      services: h.engine.hosts.services, exposures: h.engine.exposures)
        try later.flows.restoreOpenFlows(from: &flowReader)
        try later.engine.restoreWindows(from: &windowReader, openFlows: &later.flows)
        later.engine.replaceSite(later.engine.site, openFlows: &later.flows)
        return later
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

        var later = try saveAndRestore(h, into: Self.withThrowaway)
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
        let upgraded = try saveAndRestore(before, into: Self.withThrowaway)
        #expect(upgraded.engine.detection(ARPSenders.self)?.senders == [])

        var with = try Harness(detections: Self.withThrowaway)
        with.feed([arp("10.0.0.1", asks: "10.0.0.2"), tcp("10.0.0.1", 40000, "10.0.0.2", 443, .syn)])
        let downgraded = try saveAndRestore(with, into: DetectionRegistry.all)
        #expect(downgraded.engine.detection(ARPSenders.self) == nil)
        #expect(downgraded.flows.activeCount == 1)
    }

    @Test("every registered detection has a distinct name and reacts to something")
    func registry() {
        #expect(Set(DetectionRegistry.all.map { $0.name }).count == DetectionRegistry.all.count)
        #expect(DetectionRegistry.all.allSatisfy { !$0.events.isEmpty && $0.savedInSchema2Layout })
    }
}
