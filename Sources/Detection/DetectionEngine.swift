// The detection engine: flow events and ARP frames come in; the hosts stage (HostBaselines, HostUpkeep.swift) keeps
// the host table up to date; the facts about the flow are gathered (its hosts' inventory entries, whether its
// originator woke from silence, its hosts' rates, what it is to the site's maintenance ports, whether its service
// was known), and each detection of the registry (Detection.swift) that reacts to the event gets them, read-only, in
// the registry's order. Detections raise alerts into the ledger; they never write host state or each other's state.
//
// Per packet, only the sending host's counters are touched, through the host references each flow keeps in its
// storage; host lookups happen when a flow starts or an ARP frame arrives.
//
// An end of a flow that is no host by nature (unspecified, loopback, multicast, broadcast: see HostUpkeep.swift)
// has the reference `HostReference.none`: nothing is counted for it and it is never looked for again, unlike a host
// evicted while its flow was open, which is found again. The flow still reaches the detections with its other end's
// facts (`FlowContext.originatorIsHost`/`responderIsHost` say which ends are hosts; a non-host end has no inventory
// entry), and no detection raises an alert about a non-host.

import FlowTracking
import HostBaselines
import PacketDecoding
import SiteModel

/// What the engine keeps per open flow, in the flow's `FlowStorage` (the flow table's, beside the flow).
struct FlowAnnotation: BitwiseCopyable {
    var originator = HostReference.none
    var responder = HostReference.none
    var originatorIsLocal = false
    var responderIsLocal = false
    /// What the flow is to the site's maintenance ports. Never a position in the site file's list of ports (a
    /// reload reorders or shortens it): the port itself is found again from the flow, in the site file loaded now.
    var maintenance = MaintenanceMatch.none
    var maintenanceReason = MaintenanceReason.undeclared
    /// Each detection's own byte for this flow.
    var marks = FlowMarks()
}

/// Everything a detection may read about one flow event.
public struct FlowContext {
    public var event: FlowEvent
    public var flow: Flow
    public var time: Timestamp
    public var originatorIsLocal: Bool
    public var responderIsLocal: Bool
    public var originatorEntry: InventoryEntry?
    public var responderEntry: InventoryEntry?
    /// Whether each end can be a host (false: unspecified, loopback, multicast or broadcast; no alert is about it).
    public var originatorIsHost = true
    public var responderIsHost = true
    /// Before this event (for `started`): whether the originator woke from a long silence, and how long it was.
    public var originatorSilence: Duration?
    /// The packet time after which learning is over.
    public var learningEnds: Timestamp
    /// Packets per second each side sent over the last minute (decayed), and its average during learning.
    public var originatorRecentRate = 0.0
    public var originatorLearnedRate = 0.0
    public var responderRecentRate = 0.0
    public var responderLearnedRate = 0.0
    /// What the flow is to the site's maintenance ports (judged when it started, and again when the site file changed
    /// under it: see `siteReplaced`), why its use is unexpected, and the declared port it reaches as the site file
    /// loaded now describes it.
    public var maintenance = MaintenanceMatch.none
    public var maintenanceReason = MaintenanceReason.undeclared
    public var declaredPort: MaintenancePort?
    /// For a host that broke a silence (see `HostTable.beforeSilence`): what it did last before it. The originator's
    /// for `started`, the responder's for `answered`; nil otherwise.
    public var originatorBeforeSilence: AlertBeforeSilence?
    public var responderBeforeSilence: AlertBeforeSilence?
    /// For a service answering (TCP established, a UDP reply, by a local host): whether the host had served that port
    /// and protocol before this flow (the ledger of services is the hosts stage's).
    public var serviceKnownBefore = false
}

/// Hosts found again for open flows (what the detections forgot to stay bounded is in their own counters:
/// `DetectionEngine.forgotten`).
public struct DetectionCounters: Sendable, Equatable {
    /// Flows whose host record was evicted while they were open: the host was found (or recreated) again.
    public var hostsReattached: UInt64 = 0
    public init() {}
}

public struct DetectionEngine: FlowEventHandler {
    public private(set) var site: Site
    public internal(set) var hosts: HostTable
    /// The MAC each local address sends from (MACBindings.swift; fed by LinkLearning.swift).
    public internal(set) var links: MACBindings
    public var ledger: AlertLedger
    /// First packet time of the run: learning is measured from it.
    public internal(set) var start: Timestamp?
    /// Flows whose host record was evicted while they were open and found again (a run counter, not saved).
    var hostsReattached: UInt64 = 0

    /// The detections, in the registry's order, and for each event the positions of those that react to it.
    var detections: [any Detection]
    let reacting: [[Int]]
    /// Packet time of the next `timePassed` event. One second: finer than any window or timeout a detection keeps
    /// (the shortest, the guessing window, is minutes), coarse enough that the per-packet cost is one comparison.
    public static let tickInterval = Duration.seconds(1)
    public private(set) var nextTick = Timestamp(nanoseconds: Int64.min)

    /// Who reached which maintenance port from outside (for the hosts report).
    public var exposures: [ExposureKey: ExposureRecord] { detection(MaintenanceExposure.self)?.entries ?? [:] }

    /// The detection of type `type`, if the engine runs it.
    public func detection<D: Detection>(_ type: D.Type) -> D? {
        for detection in detections { if let found = detection as? D { return found } }
        return nil
    }

    /// The registry's detections by type, for tests and the state store.
    var idle: IdleHostActive { detection(IdleHostActive.self)! }
    var scans: ScanDetection { detection(ScanDetection.self)! }

    /// The position of the detection of type `type` in the engine's list, if it runs it.
    func position<D: Detection>(of type: D.Type) -> Int? {
        detections.firstIndex { $0 is D }
    }

    /// A run counter of the detections or the ledger, by name (0 when none keeps it).
    public func counter(_ name: String) -> UInt64 {
        forgotten.reduce(0) { sum, counter in counter.name == name ? sum &+ counter.value : sum }
    }

    /// What the detections (in the registry's order), then the ledger, forgot to stay bounded (for the run summary).
    public var forgotten: [DetectionCounter] {
        detections.flatMap(\.counters) + ledger.counters
    }

    /// Hosts found again (for the run summary).
    public var counters: DetectionCounters {
        var c = DetectionCounters()
        c.hostsReattached = hostsReattached
        return c
    }

    /// `detections`: the registry's, unless a test runs others.
    public init(site: Site, hosts: HostTableConfiguration = HostTableConfiguration(),
                ledger: AlertLedgerConfiguration = AlertLedgerConfiguration(),
                detections: [any Detection.Type] = DetectionRegistry.all) {
        precondition(detections.count <= FlowMarks.capacity, "at most \(FlowMarks.capacity) detections")
        precondition(Set(detections.map { $0.name }).count == detections.count, "detection names must differ")
        self.detections = detections.map { $0.init() }
        reacting = (0..<DetectionEvents.count).map { bit in
            detections.indices.filter { detections[$0].events.contains(DetectionEvents(rawValue: 1 << UInt16(bit))) }
        }
        self.site = site
        self.hosts = HostTable(configuration: hosts)
        self.links = MACBindings(capacity: hosts.bindingCapacity)
        self.ledger = AlertLedger(configuration: ledger)
    }

    /// Replaces the site model (a reloaded site file, or the one a restored state is used with); learned state
    /// stays, every known host is matched against the new inventory, and every open flow's maintenance port is
    /// looked up again in the new file (see `siteReplaced`, MaintenanceClassification.swift).
    public mutating func replaceSite(_ newSite: Site, openFlows: inout FlowTable) {
        site = newSite
        hosts.reassignInventory { address in newSite.inventoryIndex(for: address).map(Int32.init) ?? -1 }
        for slot in openFlows.openFlowSlots {
            var annotation = openFlows.storage(at: slot).load(FlowAnnotation.self)
            Self.siteReplaced(openFlows.flow(at: slot), annotation: &annotation, site: newSite)
            openFlows.setStorage(storage(annotation), at: slot)
        }
    }

    /// A flow's storage holding `annotation`.
    func storage(_ annotation: FlowAnnotation) -> FlowStorage {
        var storage = FlowStorage()
        storage.store(annotation)
        return storage
    }

    var learningEnds: Timestamp { (start ?? .zero) + site.learning.period }

    // MARK: Per packet

    /// Accounts a packet to the host that sent it. Call after the flow table processed the packet. Returns false
    /// when the sender's host record was evicted while its flow was open: then call `reattach` with the flow.
    @inline(__always) @discardableResult
    public mutating func account(_ disposition: PacketDisposition, flows: FlowTable, at time: Timestamp,
                                 wireLength: Int) -> Bool {
        guard disposition.outcome == .counted else { return true }
        let annotation = flows.storage(at: disposition.flowIndex).load(FlowAnnotation.self)
        let sender = disposition.fromOriginator ? annotation.originator : annotation.responder
        guard hosts.isCurrent(sender) else { return sender == .none }
        hosts.accountPacket(sender, at: time, wireLength: wireLength, dormantAfter: site.learning.dormantAfter,
                            duringLearning: time < learningEnds)
        return true
    }

    /// For a packet `account` could not count: finds the flow's hosts again (see `reattach(_:_:at:)`), then counts
    /// it.
    public mutating func reattach(_ disposition: PacketDisposition, flows: inout FlowTable, at time: Timestamp,
                                  wireLength: Int) {
        guard disposition.outcome == .counted else { return }
        let slot = disposition.flowIndex
        var annotation = flows.storage(at: slot).load(FlowAnnotation.self)
        reattach(&annotation, flows.flow(at: slot), at: time)
        flows.setStorage(storage(annotation), at: slot)
        account(disposition, flows: flows, at: time, wireLength: wireLength)
    }

    /// A flood of new addresses can fill a side of the host table and evict a host while one of its flows is open.
    /// Dropping that flow's later events would lose its alerts (a remote-desktop session hidden in a flood would
    /// never reach `session`), so the flow finds its host again, recreated with no history if it has to be.
    /// An end that is no host (`.none`) has nothing to find.
    mutating func reattach(_ annotation: inout FlowAnnotation, _ flow: Flow, at time: Timestamp) {
        if !holds(annotation.originator) {
            annotation.originator = hosts.host(flow.originator, at: time, placement: site)
            hostsReattached &+= 1
        }
        if !holds(annotation.responder) {
            annotation.responder = hosts.host(flow.responder, at: time, sparing: annotation.originator, placement: site)
            hostsReattached &+= 1
        }
    }

    /// Whether a flow's reference to one of its ends is as it should be: the host still held, or no host by nature.
    @inline(__always)
    func holds(_ reference: HostReference) -> Bool {
        reference == .none || hosts.isCurrent(reference)
    }

    /// An ARP frame: its sender protocol address is a host that is alive (0.0.0.0 probes, and any other address
    /// that names no host, reach no detection).
    public mutating func arp(_ packet: PacketSummary, at time: Timestamp) {
        if start == nil { start = time }
        let sender = packet.source
        if sender == IPAddress(ipv4: 0) { links.noteJoin(MACAddress(packet.arpSenderMAC), at: time) }  // a probe
        let reference = hosts.arpFrame(from: sender, at: time, dormantAfter: site.learning.dormantAfter, placement: site)
        let mac = packet.arpSenderMAC != 0 ? packet.arpSenderMAC : packet.sourceMAC
        // An ARP probe (from 0.0.0.0, RFC 5227) names no host by its address, but a MAC declared in the site file
        // still names its machine: a retired host probing for an address is that host waking.
        guard reference != .none || site.inventoryIndex(forMAC: mac) != nil else { return }
        let context = ARPContext(sender: sender, target: packet.destination, isReply: packet.arpOperation == 2,
                                 senderEntry: inventory(of: reference, address: sender, mac: mac), time: time,
                                 link: AlertLink(sourceMAC: packet.sourceMAC, outerVLAN: packet.outerVLAN,
                                                 innerVLAN: packet.innerVLAN),
                                 senderBeforeSilence: beforeSilence(reference, at: time))
        for position in reacting[6] { detections[position].arp(context, ledger: &ledger) }
        learnLink(arp: packet, sender: reference, at: time)
    }

    /// Packet time reached `time`: the detections that asked for it hear so, once per `tickInterval` at most. A
    /// clock that jumps ahead gives one event at the new time, not one per second skipped.
    public mutating func timePassed(to time: Timestamp) {
        guard time >= nextTick else { return }
        nextTick = time + Self.tickInterval
        for position in reacting[7] { detections[position].timePassed(time, site: site, ledger: &ledger) }
    }

    /// What the host did last before the silence it breaks at `time`, for its alerts.
    func beforeSilence(_ reference: HostReference, at time: Timestamp) -> AlertBeforeSilence? {
        guard hosts.isCurrent(reference),
            let before = hosts.beforeSilence(reference, at: time, dormantAfter: site.learning.dormantAfter)
        else { return nil }
        var result = AlertBeforeSilence(lastActive: before.lastActive)
        if let flow = before.flow {
            result.lastPeer = flow.peer
            result.lastPort = flow.port
            result.lastProtocol = flow.ipProtocol
            result.lastAsServer = flow.asServer
        }
        return result
    }

    func inventory(of reference: HostReference) -> InventoryEntry? {
        guard hosts.isCurrent(reference) else { return nil }
        let index = hosts[reference].inventoryIndex
        return index >= 0 && Int(index) < site.hosts.count ? site.hosts[Int(index)] : nil
    }

    /// As above, from the site file when the host's record was evicted (its slot may hold another host by now); none
    /// for an end that is no host (a site file declaring a whole subnet covers its broadcast address too).
    /// `mac`: the MAC the end sent from (0: unknown, or it never sent): an entry declaring it wins over the
    /// address's (see `Site.inventoryIndex(for:mac:)`), so a machine declared by its MAC is found whatever address
    /// it uses, the unspecified address of duplicate-address detection included (a group never sends, so a group
    /// end has no MAC).
    func inventory(of reference: HostReference, address: IPAddress, mac: UInt64 = 0) -> InventoryEntry? {
        if let index = site.inventoryIndex(forMAC: mac) { return site.hosts[index] }
        if reference == .none { return nil }
        if hosts.isCurrent(reference) { return inventory(of: reference) }
        return site.inventoryIndex(for: address).map { site.hosts[$0] }
    }

    // MARK: Flow events

    public mutating func flowEvent(_ event: FlowEvent, _ flow: Flow, storage: inout FlowStorage, at time: Timestamp) {
        var annotation = storage.load(FlowAnnotation.self)
        defer { storage.store(annotation) }
        if event == .started {
            if start == nil { start = time }
            let found = hosts.flowStarted(originator: flow.originator, responder: flow.responder,
                                          opening: FlowOpening(flow), at: time,
                                          dormantAfter: site.learning.dormantAfter, duringLearning: time < learningEnds,
                                          placement: site)
            annotation = FlowAnnotation()
            annotation.originator = found.originator
            annotation.responder = found.responder
            annotation.originatorIsLocal = found.originatorIsLocal
            annotation.responderIsLocal = found.responderIsLocal
            Self.classify(flow, annotation: &annotation, site: site)
        }
        let known = holds(annotation.originator) && holds(annotation.responder)
        // A flow's last event needs no host record (its verdicts read addresses, the site and the flow), so an
        // evicted host is not recreated just to see its flow end: a SYN flood's forged sources stay evicted.
        if !known && event != .ended { reattach(&annotation, flow, at: time) }
        let current = holds(annotation.originator) && holds(annotation.responder)
        // Finding one side again can evict the other when both are on the same full side (rarely): skip the event.
        guard current || event == .ended else { return }
        let (originatorIsHost, responderIsHost) = (annotation.originator != .none, annotation.responder != .none)
        if event == .answered && responderIsHost { hosts.flowAnswered(by: annotation.responder, at: time) }
        if event == .started || event == .answered { learnLink(event, flow, annotation, at: time) }
        // The originator's waking is judged only when its own first packet started the flow: not when the flow was
        // turned round (it has sent nothing yet) nor when that packet answered someone (a DHCP server's offer).
        let judgesWaking = event == .started && originatorIsHost && flow.originatorSentFirst && !flow.openedByAnswer
        // Before `takeWaking` clears the waking it reads.
        let originatorBefore = judgesWaking ? beforeSilence(annotation.originator, at: time) : nil
        let responderBefore = event == .answered && responderIsHost ? beforeSilence(annotation.responder, at: time) : nil
        let silence = judgesWaking ? hosts.takeWaking(annotation.originator, at: time) : nil
        // Volume is judged when a flow has carried its packets: fold the decayed activity of both sides (an evicted
        // host's activity went with it).
        var rates = (originatorRecent: 0.0, originatorLearned: 0.0, responderRecent: 0.0, responderLearned: 0.0)
        if current && (event == .ended || event == .longLived) {
            let period = site.learning.period
            if originatorIsHost {
                (rates.originatorRecent, rates.originatorLearned) =
                    hosts.foldedRates(annotation.originator, at: time, learningPeriod: period)
            }
            if responderIsHost {
                (rates.responderRecent, rates.responderLearned) =
                    hosts.foldedRates(annotation.responder, at: time, learningPeriod: period)
            }
        }
        // The ledger of services: every answered service teaches it, inside clients and outside alike.
        var serviceKnownBefore = false
        let serves = event == .established && flow.ipProtocol == IPProtocol.tcp
            || event == .answered && flow.ipProtocol == IPProtocol.udp
        if serves && annotation.responderIsLocal && responderIsHost {
            serviceKnownBefore = hosts.recordService(
                host: flow.responder, port: flow.responderPort, ipProtocol: flow.ipProtocol,
                clientIsLocal: annotation.originatorIsLocal, during: time < learningEnds, at: time) != nil
        }
        // One immutable context, borrowed by every detection (a `var` would be copied for each call).
        let context = FlowContext(
            event: event, flow: flow, time: time, originatorIsLocal: annotation.originatorIsLocal,
            responderIsLocal: annotation.responderIsLocal,
            originatorEntry: inventory(of: annotation.originator, address: flow.originator, mac: flow.originatorMAC),
            responderEntry: inventory(of: annotation.responder, address: flow.responder, mac: flow.responderMAC),
            originatorIsHost: originatorIsHost, responderIsHost: responderIsHost, originatorSilence: silence,
            learningEnds: learningEnds,
            originatorRecentRate: rates.originatorRecent, originatorLearnedRate: rates.originatorLearned,
            responderRecentRate: rates.responderRecent, responderLearnedRate: rates.responderLearned,
            maintenance: annotation.maintenance, maintenanceReason: annotation.maintenanceReason,
            declaredPort: annotation.maintenance.isDeclared ? site.maintenancePort(reachedBy: flow) : nil,
            originatorBeforeSilence: originatorBefore, responderBeforeSilence: responderBefore,
            serviceKnownBefore: serviceKnownBefore)
        let bit = DetectionEvents(event).rawValue.trailingZeroBitCount
        for position in reacting[bit] {
            detections[position].flow(context, site: site, mark: &annotation.marks[position], ledger: &ledger)
        }
        // Each host's latest flow, after the detections: a waking host's alert above still saw the one before.
        // An end that is no host has no record to note it in.
        if event == .started && originatorIsHost {
            hosts.noteFlow(annotation.originator, HostFlowNote(peer: flow.responder, port: flow.responderPort,
                                                               ipProtocol: flow.ipProtocol, asServer: false))
        } else if event == .answered && responderIsHost {
            hosts.noteFlow(annotation.responder, HostFlowNote(peer: flow.originator, port: flow.responderPort,
                                                              ipProtocol: flow.ipProtocol, asServer: true))
        }
    }
}

/// The site file says where hosts stand for the hosts stage (`namesHost` is the site's own: directed broadcasts
/// depend on its networks).
extension Site: HostPlacement {}

extension FlowOpening {
    /// How `flow` began, from what the flow table noted at its first packet.
    init(_ flow: Flow) {
        self.init(originatorSentFirst: flow.originatorSentFirst,
                  originatorAnswered: flow.openedByAnswer && flow.originatorSentFirst,
                  firstFrameToGroupMAC: flow.firstFrameToGroupMAC)
    }
}

extension AlertHost {
    init(_ address: IPAddress, _ entry: InventoryEntry?) {
        self.init(address: address, name: entry?.name, state: entry?.state)
    }
}
