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
import HostBaselines
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
    /// A local address seen sending from a MAC it was not bound to, or from one of several it is bound to (the hosts
    /// stage's MAC bindings, MACBindings.swift): at a flow's start, its answer, and every ARP frame.
    public static let linkBinding = DetectionEvents(rawValue: 1 << 8)
    /// The events there are (bits 0 to `count` - 1).
    static let count = 9
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

/// What kind of ARP frame a binding came from.
public enum ARPFrameKind: Sendable, Equatable {
    /// Not ARP: an IP frame from the address.
    case none
    /// A request from the address (its sender protocol address), asking for another.
    case request
    /// A reply to a request for the address seen within `MACBindings.requestWindow`.
    case solicitedReply
    /// A reply no request asked for: what a cache poisoner sends.
    case unsolicitedReply
    /// Gratuitous ARP: a request or reply for the sender's own address (an announcement, RFC 5227).
    case announcement
}

/// Everything a detection may read about one MAC binding (see `DetectionEvents.linkBinding`).
extension LinkBindingContext {
    /// What an alert about this observation knows below IP: the MAC that sent it, and its VLAN tags.
    public var alertLink: AlertLink {
        AlertLink(sourceMAC: mac.value, outerVLAN: UInt16(truncatingIfNeeded: vlan >> 16),
                  innerVLAN: UInt16(truncatingIfNeeded: vlan))
    }
}

public struct LinkBindingContext {
    public var address: IPAddress
    /// `outer << 16 | inner`, 0 untagged.
    public var vlan: UInt32
    public var mac: MACAddress
    public var learnedBy: BindingSources
    public var time: Timestamp
    /// The address's bindings on this VLAN before this frame (this MAC's own earlier one included, if it had one).
    public var previous: [MACBinding]
    /// The MAC was not bound to the address before.
    public var isNewMAC: Bool
    /// This frame is the first in which the MAC speaks for the address itself (`MACBinding.claimsAddress`: an ARP
    /// sender, neighbour discovery, DHCP). Any station that uses an address on the segment does so (it must answer
    /// ARP or neighbour solicitations for it to get its traffic); a router forwarding others' frames never does.
    public var firstClaim: Bool
    /// The address was first seen (in the host table or its bindings) at least the learning period ago.
    public var knownForLearningPeriod: Bool
    /// The address was silent for longer than `learning.dormant_after` before this frame, and for how long.
    public var silence: Duration?
    /// The address's inventory entry (its `macs` declared or not).
    public var entry: InventoryEntry?
    public var arp: ARPFrameKind
    /// For an ARP frame: the address it was sent to (the target protocol address).
    public var arpTarget: IPAddress?
    /// The MAC of the segment's gateway when the address is the gateway's (bound to a MAC that carries outside
    /// traffic, active within `MACBindings.gatewayLiveWindow`; see MACBindings.swift).
    public var gatewayMAC: MACAddress?
    /// The MAC joined within `MACBindings.joinWindow` (a DHCP exchange, or an ARP probe, RFC 5227): the address is
    /// likely a lease it was given, or one it checked was free.
    public var recentJoin: Bool
    /// The MAC carries traffic for others (a router, see MACBindings.swift): only its ARP frames reach detections.
    public var fromRouter: Bool

    /// The other MACs bound to the address, most recently seen first.
    public var others: [MACBinding] {
        previous.filter { $0.mac != mac }.sorted { ($0.lastSeen, $0.mac) > ($1.lastSeen, $1.mac) }
    }

    /// The other MACs that spoke for the address themselves (not a router's forwarded frames), most recent first.
    public var claimants: [MACBinding] { others.filter(\.claimsAddress) }

    /// Whether the address is declared with MACs in the inventory.
    public var declaredMACs: [MACAddress] { entry?.macs ?? [] }
}

/// `00:11:22:33:44:55`, or with ` (locally administered)` for a MAC not from a vendor's block.
func describe(_ mac: MACAddress) -> String {
    mac.isLocallyAdministered ? "\(mac) (locally administered)" : mac.description
}

/// `10.0.0.5` or `erp-old (10.0.0.5)`, with ` on VLAN 20` when tagged.
func describe(_ address: IPAddress, _ entry: InventoryEntry?, vlan: UInt32) -> String {
    let name = entry.map { "\($0.name) (\(address))" } ?? "\(address)"
    guard vlan != 0 else { return name }
    let outer = vlan >> 16, inner = vlan & 0xFFFF
    return name + (inner != 0 ? " on VLAN \(outer)/\(inner)" : " on VLAN \(outer)")
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
    /// A MAC binding (see `DetectionEvents.linkBinding`).
    mutating func linkBinding(_ context: LinkBindingContext, site: Site, ledger: inout AlertLedger)
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
    public mutating func linkBinding(_ context: LinkBindingContext, site: Site, ledger: inout AlertLedger) {}
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
        AddressTakeover.self,
        IPConflict.self,
        ARPSpoof.self,
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
