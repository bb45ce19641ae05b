// The hosts stage's upkeep: what a flow's start, its answer and an ARP frame change in the host table (first and last
// seen, waking from silence, client and server activity, peers, what the learning period counts), and the facts it
// hands on about a flow's hosts (their locality, the originator's silence, their rates). The per-packet part is
// `HostTable.accountPacket`, the ledger of services `HostTable.recordService`. The detections read these facts; none
// writes the host table.
//
// Where a new host stands (local or outside, which inventory entry covers it) is the site file's to say: the stage
// asks through `HostPlacement`, which the site model provides, so this module needs no site file of its own.
//
// Some addresses are no host at all: unspecified, loopback, multicast, broadcast (`HostPlacement.namesHost`, and a
// unicast IPv4 destination reached by a broadcast frame). The stage makes no record for them and hands on
// `HostReference.none` for that end of a flow; the flow itself is still tracked, and its other end is a host as
// usual. A host's frames are the only thing that feed its last-seen time and its waking: being the destination of
// a flow, or the originator of a flow whose first packet came from the other side, is not a frame of its own.

import PacketDecoding

/// Where an address stands in the site: inside or outside, which inventory entry (by position) covers it, and
/// whether it can be a host at all.
public protocol HostPlacement {
    func isLocal(_ address: IPAddress) -> Bool
    func inventoryIndex(for address: IPAddress) -> Int?
    /// False for an address that names no single host (unspecified, loopback, multicast, broadcast): the stage makes
    /// no host for it.
    func namesHost(_ address: IPAddress) -> Bool
}

extension HostPlacement {
    /// Without site networks, only what the address itself says (`IPAddress.canBeHost`).
    public func namesHost(_ address: IPAddress) -> Bool { address.canBeHost }
}

/// How a flow began, as the hosts stage needs it: who sent its first packet, whether that packet answered someone,
/// and where its first frame went below IP.
public struct FlowOpening: Sendable {
    /// The first packet came from the originator. False when the flow table turned the flow round (a SYN-ACK, a
    /// server's reply: the originator's packet was not captured), so the originator has sent nothing yet.
    public var originatorSentFirst = true
    /// The first packet looked like an answer but was not turned round, its destination being no host (a DHCP offer
    /// to 255.255.255.255): the originator answered someone, it started nothing.
    public var originatorAnswered = false
    /// The first frame went to a broadcast or multicast MAC: its unicast IPv4 destination is a directed broadcast.
    public var firstFrameToGroupMAC = false

    public init(originatorSentFirst: Bool = true, originatorAnswered: Bool = false, firstFrameToGroupMAC: Bool = false) {
        self.originatorSentFirst = originatorSentFirst
        self.originatorAnswered = originatorAnswered
        self.firstFrameToGroupMAC = firstFrameToGroupMAC
    }
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

    /// The host for `address`, added if new (placed and matched to the inventory as `placement` says); `.none` for
    /// an address that names no host.
    public mutating func host(_ address: IPAddress, at time: Timestamp, sparing spared: HostReference? = nil,
                              placement: some HostPlacement) -> HostReference {
        guard placement.namesHost(address) else { return .none }
        let (reference, isNew) = findOrInsert(address, isLocal: placement.isLocal(address), at: time, sparing: spared)
        if isNew, let entry = placement.inventoryIndex(for: address) {
            self[reference].inventoryIndex = Int32(entry)
        }
        return reference
    }

    /// Whether one end of a flow can be a host: `placement` says for the address, and the end the first frame went
    /// to is no host either when that frame went to a group MAC with a unicast IPv4 destination (a directed broadcast
    /// of a subnet the site file does not list: `192.168.1.255` on a sensor without a site file).
    public static func isHost(_ address: IPAddress, receivedFirstFrame: Bool, opening: FlowOpening,
                              placement: some HostPlacement) -> Bool {
        if receivedFirstFrame && opening.firstFrameToGroupMAC && !address.isIPv6 { return false }
        return placement.namesHost(address)
    }

    /// A flow started: both hosts found or added (the originator spared while the responder is added), `.none` for
    /// an end that is no host; the frame of the first packet's sender (never a host's that sent nothing: silence
    /// counts from a host's own frames); the originator's client activity, unless its first packet answered someone;
    /// both sides' peers, and during learning the originator's flows and peers.
    public mutating func flowStarted(originator: IPAddress, responder: IPAddress, opening: FlowOpening = FlowOpening(),
                                     at time: Timestamp, dormantAfter: Duration, duringLearning: Bool,
                                     placement: some HostPlacement) -> FlowHosts {
        var hosts = FlowHosts()
        if HostTable.isHost(originator, receivedFirstFrame: !opening.originatorSentFirst, opening: opening,
                            placement: placement) {
            hosts.originator = host(originator, at: time, placement: placement)
        }
        if HostTable.isHost(responder, receivedFirstFrame: opening.originatorSentFirst, opening: opening,
                            placement: placement) {
            hosts.responder = host(responder, at: time, sparing: hosts.originator, placement: placement)
        }
        let (o, r) = (hosts.originator, hosts.responder)
        hosts.originatorIsLocal = o == .none ? placement.isLocal(originator) : self[o].isLocal
        hosts.responderIsLocal = r == .none ? placement.isLocal(responder) : self[r].isLocal
        let sender = opening.originatorSentFirst ? o : r
        if sender != .none { touch(sender, at: time, dormantAfter: dormantAfter) }
        if o != .none {
            if opening.originatorAnswered {
                self[o].lastActiveAsServer = time
                self[o].flowsAnswered &+= 1
            } else {
                self[o].lastActiveAsClient = time
                self[o].flowsOriginated &+= 1
                self[o].activity.add(flows: 1)
                self[o].activity.fold(at: time)
                if duringLearning { self[o].learningFlows &+= 1 }
            }
            self[o].peers.insert(responder)
            if duringLearning { self[o].learningPeers.insert(responder) }
        }
        if r != .none { self[r].peers.insert(originator) }
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

    /// An ARP frame from `sender`: the host found or added, its frame noted and counted; `.none` when the sender
    /// address names no host (`0.0.0.0` in an ARP probe).
    public mutating func arpFrame(from sender: IPAddress, at time: Timestamp, dormantAfter: Duration,
                                  placement: some HostPlacement) -> HostReference {
        let reference = host(sender, at: time, placement: placement)
        guard reference != .none else { return .none }
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
        guard isCurrent(reference) else { return }  // no host by nature, or evicted
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
