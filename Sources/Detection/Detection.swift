// What a detection is, and the registry that lists them. The engine (DetectionEngine.swift) keeps the hosts and the
// facts about each flow, then hands every event to the detections that react to it, in the registry's order, each
// with a read-only view of the facts, the site file, its own state and one byte of its own per flow. A detection
// writes nothing but its own state, that byte and the alerts it raises.
//
// Adding a detection: one file (its header on intent, its tunables with their defaults and why, the events it reacts
// to, its bounded state, its counters and its saved section), one line in `DetectionRegistry.all`, its tests, its rule
// in `RuleID` and schema/idlewatch-eve.schema.json, and its row in the README's alert table.
//
// Saving its state: implement `encode(into:)` and `restore(from:)` (entries in a sorted order, so the same state gives
// the same bytes; every value read back checked). The engine saves them as the state file's section
// `detection.<name>`, version `stateVersion`, with the detection's byte for each open flow keyed by the flow's key
// (DetectionState.swift); no schema change, no other file. A file without the section (saved before the detection
// existed) starts it empty. When its layout changes, raise `stateVersion` and implement `restore(from:version:)`
// for the versions it has had; a file holding a version newer than the build knows starts the detection empty
// and says so on standard error.

import FlowTracking
import PacketDecoding
import SiteModel
import StateCoding

/// The events a detection reacts to. The engine calls a detection for these only.
public struct DetectionEvents: OptionSet, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let started = DetectionEvents(rawValue: 1 << 0)
    public static let answered = DetectionEvents(rawValue: 1 << 1)
    public static let established = DetectionEvents(rawValue: 1 << 2)
    public static let data = DetectionEvents(rawValue: 1 << 3)
    public static let longLived = DetectionEvents(rawValue: 1 << 4)
    public static let ended = DetectionEvents(rawValue: 1 << 5)
    /// ARP frames (requests, replies, announcements) on the local segment.
    public static let arp = DetectionEvents(rawValue: 1 << 6)
    /// Packet time going on: at most once per `DetectionEngine.tickInterval` of packet time, when a packet moves the
    /// clock past the next tick (before the packet is analysed), or a quiet live link's sensor clock does
    /// (SensorClock.swift). For what must happen when nothing arrives: a window that closes, a deadline.
    public static let timePassed = DetectionEvents(rawValue: 1 << 7)
    public static let allFlowEvents: DetectionEvents = [.started, .answered, .established, .data, .longLived, .ended]

    public init(_ event: FlowEvent) {
        switch event {
        case .started: self = .started
        case .answered: self = .answered
        case .established: self = .established
        case .dataBothWays: self = .data
        case .longLived: self = .longLived
        case .ended: self = .ended
        }
    }
}

/// Everything a detection may read about one ARP frame.
public struct ARPContext {
    public var sender: IPAddress
    public var target: IPAddress
    public var isReply: Bool
    /// The sender's inventory entry, if the site file names it.
    public var senderEntry: InventoryEntry?
    public var time: Timestamp
    /// The frame's link layer: its source MAC (0 when the link type has none) and VLAN tags, for the alerts it raises.
    public var link = AlertLink()
    /// When the frame (or one shortly before, see `HostTable.wakeWindow`) broke the sender's silence: what it did
    /// last before it.
    public var senderBeforeSilence: AlertBeforeSilence?
}

public protocol Detection: SendableMetatype {
    /// Stable name: its saved section's name and its counters' prefix. Never reused for another meaning.
    static var name: String { get }
    /// The events it reacts to.
    static var events: DetectionEvents { get }
    /// Whether it is one of the detections of schema 2 files (read only to convert those files): its section (empty
    /// for most) sits, unnamed, at its place in their layout, and its byte per flow is saved only where that layout
    /// has one (maintenance-port-inbound's, maintenance-exposure's). A detection added since (the default) was saved
    /// by name after them. Keep false for a new detection.
    static var savedInSchema2Layout: Bool { get }
    /// The version of its saved section's layout (1 unless it changed): raise it when the layout changes.
    static var stateVersion: Int { get }
    init()
    /// A flow event. `mark` is this detection's own byte for the flow: 0 when the flow starts, kept with it until
    /// it ends, saved with it.
    mutating func flow(_ context: FlowContext, site: Site, mark: inout UInt8, ledger: inout AlertLedger)
    mutating func arp(_ context: ARPContext, ledger: inout AlertLedger)
    /// Packet time reached `time` (see `DetectionEvents.timePassed`); never called with a time before an earlier one.
    mutating func timePassed(_ time: Timestamp, site: Site, ledger: inout AlertLedger)
    /// Its run counters (state forgotten to stay bounded), by name; not saved. The run summary lists those above
    /// zero, in the registry's order.
    var counters: [DetectionCounter] { get }
    /// Its saved section (nothing for a detection without state between events).
    func encode(into writer: inout StateWriter)
    /// Reads back what `encode` wrote, checking every value; called on a new instance.
    mutating func restore(from reader: inout StateReader) throws
    /// Reads back a section of layout `version` (1 to `stateVersion`); the default reads it with
    /// `restore(from:)`, which is right while the layout has never changed.
    mutating func restore(from reader: inout StateReader, version: Int) throws
}

extension Detection {
    public static var savedInSchema2Layout: Bool { false }
    public static var stateVersion: Int { 1 }
    public mutating func flow(_ context: FlowContext, site: Site, mark: inout UInt8, ledger: inout AlertLedger) {}
    public mutating func arp(_ context: ARPContext, ledger: inout AlertLedger) {}
    public mutating func timePassed(_ time: Timestamp, site: Site, ledger: inout AlertLedger) {}
    public var counters: [DetectionCounter] { [] }
    public func encode(into writer: inout StateWriter) {}
    public mutating func restore(from reader: inout StateReader) throws {}
    public mutating func restore(from reader: inout StateReader, version: Int) throws { try restore(from: &reader) }
}

/// A run counter of a detection (or of the alert ledger): what was forgotten to stay bounded, for people and tests.
public struct DetectionCounter: Sendable, Equatable {
    /// Stable name, for tests and `DetectionEngine.counter(_:)`: `scanWindowsForgotten`.
    public var name: String
    /// What is counted, for the run summary: `scan windows` (printed as "3 scan windows").
    public var label: String
    public var value: UInt64

    public init(_ name: String, _ label: String, _ value: UInt64) {
        self.name = name
        self.label = label
        self.value = value
    }
}

public enum DetectionRegistry {
    /// Every detection, in the order each event reaches them (and their sections are written). The
    /// order matters where one reads what another raised before it only through the ledger's suppression: keep it.
    public static let all: [any Detection.Type] = [
        DecommissionedHostActive.self,
        IdleHostActive.self,
        DormantHostActive.self,
        MaintenancePortInbound.self,
        MaintenanceExposure.self,
        NewInboundService.self,
        ScanDetection.self,
    ]
}

/// One byte per detection for each open flow, by the detection's place in the engine's list (at most 16).
public struct FlowMarks: Sendable, BitwiseCopyable {
    var low: UInt64 = 0
    var high: UInt64 = 0
    static let capacity = 16

    subscript(position: Int) -> UInt8 {
        get {
            let word = position < 8 ? low : high
            return UInt8(truncatingIfNeeded: word >> (8 * UInt64(position % 8)))
        }
        set {
            let shift = 8 * UInt64(position % 8)
            let cleared = ~(UInt64(0xFF) << shift)
            if position < 8 {
                low = low & cleared | UInt64(newValue) << shift
            } else {
                high = high & cleared | UInt64(newValue) << shift
            }
        }
    }
}
