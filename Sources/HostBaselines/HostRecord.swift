// One host as the traffic shows it: when it was seen, when it last acted as a client and as a server, how much it
// does, and how many peers it has. Small and fixed-size; services it serves are kept in the host table's ledger.

import PacketDecoding

public struct HostRecord: Sendable {
    // Declaration order is memory order. Every packet checks `generation`, then updates `lastSeen`, the counters
    // and `activity`'s pending sums; every flow start compares `address`. Kept together at the front, they span two
    // cache lines of the ~400-byte record instead of five (the rest is read when flows start and end).

    /// Bumped whenever the slot is reused for another address, so stale references can be detected.
    public internal(set) var generation: UInt32 = 0
    /// Index of the site inventory entry that covers this address (-1: none), set by whoever creates the record.
    public var inventoryIndex: Int32 = -1
    /// The last frame from this host (IP or ARP); `firstSeen` while it has sent none (`hasSent`: a host first seen
    /// as a destination has no frame of its own yet).
    public var lastSeen: Timestamp
    public var packetsSent: UInt64 = 0
    public var bytesSent: UInt64 = 0
    /// During the learning period: packets sent, flows originated, distinct peers.
    public var learningPackets: UInt64 = 0
    public var address: IPAddress
    public var isLocal: Bool
    public var activity = DecayedActivity()
    /// When the host broke a silence longer than the dormancy threshold, and how long that silence was; cleared
    /// once the waking has been judged.
    public var wokeAt: Timestamp?
    public var silenceBeforeWaking: Duration?
    public var firstSeen: Timestamp
    /// The last time it started a flow.
    public var lastActiveAsClient: Timestamp?
    /// The last time it answered a flow.
    public var lastActiveAsServer: Timestamp?
    public var flowsOriginated: UInt64 = 0
    public var flowsAnswered: UInt64 = 0
    public var arpFrames: UInt64 = 0
    public var learningFlows: UInt64 = 0
    /// Distinct peers it talked to or was reached by.
    public var peers = DistinctCounter()
    public var learningPeers = DistinctCounter()
    /// The last flow it started or answered, and the one it had when it last broke a silence (copied when the
    /// silence was broken): what a host that woke did before, for its alert. Fixed size, saved with the baseline.
    public var lastFlow: HostFlowNote?
    public var flowBeforeSilence: HostFlowNote?

    public init(address: IPAddress, isLocal: Bool, firstSeen: Timestamp) {
        self.address = address
        self.isLocal = isLocal
        self.firstSeen = firstSeen
        self.lastSeen = firstSeen
    }

    /// The host has sent a frame (an IP packet or ARP). Until then it has no silence to break: its first frame starts
    /// its history rather than waking it. Read from the counters, so state files saved before this existed say the
    /// same (their destination-only hosts have counted no frame).
    @inlinable
    public var hasSent: Bool { packetsSent > 0 || arpFrames > 0 }
}

/// One flow as a host's record remembers it: the peer, the service (the responder's port and the protocol) and
/// whether the host was the server.
public struct HostFlowNote: Sendable, Equatable {
    public var peer: IPAddress
    public var port: UInt16
    public var ipProtocol: UInt8
    public var asServer: Bool

    public init(peer: IPAddress, port: UInt16, ipProtocol: UInt8, asServer: Bool) {
        self.peer = peer
        self.port = port
        self.ipProtocol = ipProtocol
        self.asServer = asServer
    }
}

/// A reference to a host table slot that notices when the slot was reused.
public struct HostReference: Sendable, Equatable, BitwiseCopyable {
    public var index: Int32
    public var generation: UInt32

    /// No host, by nature: that end of a flow is an address that names none (unspecified, loopback, multicast,
    /// broadcast). Never found again.
    public static let none = HostReference(index: -1, generation: 0)
    /// A host the holder had and lost track of (its record not held when the state was saved): found again by
    /// address when next needed, as an evicted one is.
    public static let lost = HostReference(index: -2, generation: 0)

    public init(index: Int32, generation: UInt32) {
        self.index = index
        self.generation = generation
    }
}

/// A port a host has answered on, and to whom.
public struct ServiceKey: Hashable, Sendable {
    public var host: IPAddress
    public var port: UInt16
    public var ipProtocol: UInt8

    public init(host: IPAddress, port: UInt16, ipProtocol: UInt8) {
        self.host = host
        self.port = port
        self.ipProtocol = ipProtocol
    }
}

public struct ServiceRecord: Sendable {
    public var firstServed: Timestamp
    public var lastServed: Timestamp
    public var servedInside = false
    public var servedOutside = false
    /// First served during the learning period.
    public var learned = false
    public var sessions: UInt64 = 0

    public init(firstServed: Timestamp, lastServed: Timestamp, servedInside: Bool = false, servedOutside: Bool = false,
                learned: Bool = false, sessions: UInt64 = 0) {
        self.firstServed = firstServed
        self.lastServed = lastServed
        self.servedInside = servedInside
        self.servedOutside = servedOutside
        self.learned = learned
        self.sessions = sessions
    }
}
