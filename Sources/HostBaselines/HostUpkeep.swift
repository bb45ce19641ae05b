// The hosts stage's upkeep: what a flow's start, its answer and an ARP frame change in the host table (first and last
// seen, waking from silence, client and server activity, peers, what the learning period counts), and the facts it
// hands on about a flow's hosts (their locality, the originator's silence, their rates). The per-packet part is
// `HostTable.accountPacket`, the ledger of services `HostTable.recordService`. The detections read these facts; none
// writes the host table.
//
// Where a new host stands (local or outside, which inventory entry covers it) is the site file's to say: the stage
// asks through `HostPlacement`, which the site model provides, so this module needs no site file of its own.

import PacketDecoding

/// Where an address stands in the site: inside or outside, and which inventory entry (by position) covers it.
public protocol HostPlacement {
    func isLocal(_ address: IPAddress) -> Bool
    func inventoryIndex(for address: IPAddress) -> Int?
}

/// The two hosts of an open flow, as the hosts stage found them when it started.
public struct FlowHosts: Sendable {
    public var originator = HostReference.none
    public var responder = HostReference.none
    public var originatorIsLocal = false
    public var responderIsLocal = false
    public init() {}
}

extension HostTable {
    /// The waking frame (often the ARP before the connection) and the first flow the host starts must be this close
    /// to count as one waking (read by dormant-host-active as the flow's `originatorSilence`).
    public static let wakeWindow = Duration.seconds(600)

    /// The host for `address`, added if new (placed and matched to the inventory as `placement` says).
    public mutating func host(_ address: IPAddress, at time: Timestamp, sparing spared: HostReference? = nil,
                              placement: some HostPlacement) -> HostReference {
        let (reference, isNew) = findOrInsert(address, isLocal: placement.isLocal(address), at: time, sparing: spared)
        if isNew, let entry = placement.inventoryIndex(for: address) {
            self[reference].inventoryIndex = Int32(entry)
        }
        return reference
    }

    /// A flow started: both hosts found or added (the originator spared while the responder is added), the
    /// originator's frame and client activity, both sides' peers, and during learning the originator's flows and
    /// peers.
    public mutating func flowStarted(originator: IPAddress, responder: IPAddress, at time: Timestamp,
                                     dormantAfter: Duration, duringLearning: Bool,
                                     placement: some HostPlacement) -> FlowHosts {
        var hosts = FlowHosts()
        hosts.originator = host(originator, at: time, placement: placement)
        hosts.responder = host(responder, at: time, sparing: hosts.originator, placement: placement)
        hosts.originatorIsLocal = self[hosts.originator].isLocal
        hosts.responderIsLocal = self[hosts.responder].isLocal
        touch(hosts.originator, at: time, dormantAfter: dormantAfter)
        self[hosts.originator].lastActiveAsClient = time
        self[hosts.originator].flowsOriginated &+= 1
        self[hosts.originator].activity.add(flows: 1)
        self[hosts.originator].activity.fold(at: time)
        self[hosts.originator].peers.insert(responder)
        self[hosts.responder].peers.insert(originator)
        if duringLearning {
            self[hosts.originator].learningFlows &+= 1
            self[hosts.originator].learningPeers.insert(responder)
        }
        return hosts
    }

    /// The flow's responder answered: its server activity.
    public mutating func flowAnswered(by responder: HostReference, at time: Timestamp) {
        self[responder].lastActiveAsServer = time
        self[responder].flowsAnswered &+= 1
    }

    /// The silence the host broke, if it woke within `wakeWindow` before `time` (once: the waking is then judged).
    public mutating func takeWaking(_ reference: HostReference, at time: Timestamp) -> Duration? {
        guard let woke = self[reference].wokeAt else { return nil }
        self[reference].wokeAt = nil
        return time - woke > HostTable.wakeWindow ? nil : self[reference].silenceBeforeWaking
    }

    /// Packets per second the host sent over the last minute (decayed, folded up to `time`), and its average
    /// during learning.
    public mutating func foldedRates(_ reference: HostReference, at time: Timestamp,
                                     learningPeriod: Duration) -> (recent: Double, learned: Double) {
        self[reference].activity.fold(at: time)
        return (self[reference].activity.packetRate(0),
                Double(self[reference].learningPackets) / max(1, learningPeriod.seconds))
    }

    /// An ARP frame from `sender`: the host found or added, its frame noted and counted.
    public mutating func arpFrame(from sender: IPAddress, at time: Timestamp, dormantAfter: Duration,
                                  placement: some HostPlacement) -> HostReference {
        let reference = host(sender, at: time, placement: placement)
        touch(reference, at: time, dormantAfter: dormantAfter)
        self[reference].arpFrames &+= 1
        return reference
    }
}

extension HostTable {
    /// The host's latest flow (as client: `peer` is the responder; as server: the originator). The engine calls it
    /// after the detections have judged the flow's event, so an alert about a host that woke still finds the flow
    /// it had before its silence.
    public mutating func noteFlow(_ reference: HostReference, _ note: HostFlowNote) {
        self[reference].lastFlow = note
    }

    /// When the host was last active before the silence it breaks at `time`, and its last flow then: the silence
    /// it broke within `wakeWindow` before (`touch` noted it), or the one it is breaking with this very frame (its
    /// record not touched yet: a flow's responder answering). Nil when it broke none.
    public func beforeSilence(_ reference: HostReference, at time: Timestamp,
                              dormantAfter: Duration) -> (lastActive: Timestamp, flow: HostFlowNote?)? {
        let i = Int(reference.index)  // fields read in place: the record is about 400 bytes
        if time - storage[i].lastSeen >= dormantAfter {
            return (storage[i].lastSeen, storage[i].lastFlow)
        }
        guard let woke = storage[i].wokeAt, let silence = storage[i].silenceBeforeWaking,
            time - woke <= HostTable.wakeWindow
        else { return nil }
        return (woke + Duration(nanoseconds: 0 &- silence.nanoseconds), storage[i].flowBeforeSilence)
    }
}
