// Alerts: domain values that flow to sinks (never log lines), each with a stable rule id, a severity, what happened
// and how far it got, and the local host it concerns.

import FlowTracking
import PacketDecoding
import SiteModel

/// Stable rule identifiers: they appear in output, suppression keys and the JSON schema, and never change meaning.
public enum RuleID: String, CaseIterable, Sendable {
    case decommissionedHostActive = "decommissioned-host-active"
    case idleHostActive = "idle-host-active"
    case dormantHostActive = "dormant-host-active"
    case maintenancePortInbound = "maintenance-port-inbound"
    case newInboundService = "new-inbound-service"
    case hostScan = "host-scan"
    case inboundScan = "inbound-scan"
    case addressTakeover = "address-takeover"
    case arpSpoof = "arp-spoof"
    case ipConflict = "ip-conflict"
    /// The sensor itself: the kernel or the interface dropped packets beyond the threshold.
    case captureLoss = "capture-loss"
    /// The sensor itself: no packet arrived for longer than the threshold (a dead SPAN port, a pulled cable).
    case captureSilent = "capture-silent"

    /// Alerts about the sensor's own capture rather than about traffic.
    public var isCaptureHealth: Bool { self == .captureLoss || self == .captureSilent }
}

/// How far an inbound connection to a maintenance port got.
public enum Stage: Int, Comparable, CaseIterable, Sendable, CustomStringConvertible {
    /// A connection attempt with no answer yet (or refused).
    case probe = 0
    /// The server answered (SYN-ACK, or a UDP reply).
    case open
    /// Payload flowed both ways.
    case session
    /// The session lasted long enough to be interactive use.
    case interactive
    /// One source made many short sessions: password guessing.
    case guessing

    public static func < (lhs: Stage, rhs: Stage) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        switch self {
        case .probe: "probe"
        case .open: "open"
        case .session: "session"
        case .interactive: "interactive"
        case .guessing: "guessing"
        }
    }
}

/// The local host an alert is about, as the site file describes it.
public struct AlertHost: Sendable, Equatable {
    public var address: IPAddress
    public var name: String?
    public var state: HostState?

    public init(address: IPAddress, name: String? = nil, state: HostState? = nil) {
        self.address = address
        self.name = name
        self.state = state
    }
}

public struct Alert: Sendable {
    /// Order of emission in this run, from 1.
    public var id: UInt64 = 0
    public var timestamp: Timestamp
    public var rule: RuleID
    /// 1 (highest) to 3 (lowest), as Suricata.
    public var severity: Int
    public var message: String
    public var reason: String?
    public var stage: Stage?
    /// Id of the first alert of this host's story (its own id when it opens one).
    public var incident: UInt64 = 0
    public var source: IPAddress
    public var sourcePort: UInt16?
    public var destination: IPAddress?
    public var destinationPort: UInt16?
    public var ipProtocol: UInt8?
    /// For ICMP flows: whether the ports are a type/code pair that is not a request/reply (Community ID needs it).
    public var flowID: UInt64?
    public var host: AlertHost
    /// Earlier alerts with the same suppression key that were counted instead of repeated.
    public var suppressedBefore: UInt64 = 0
    /// For capture-health alerts: the interface concerned.
    public var interface: String?
    /// Below IP: the MAC each side sent from and the VLAN tags (all unknown for capture-health alerts).
    public var link = AlertLink()
    /// The flow that raised it, as it stood then (its packet included): nil for alerts not raised by a flow (ARP,
    /// capture health).
    public var flowSoFar: AlertFlow?
    /// What a threshold stands for, counted (scans, password guessing).
    public var tally = AlertTally()
    /// For a host that broke a silence: what it did last before it.
    public var beforeSilence: AlertBeforeSilence?

    public init(timestamp: Timestamp, rule: RuleID, severity: Int, message: String, reason: String? = nil,
                stage: Stage? = nil, source: IPAddress, sourcePort: UInt16? = nil, destination: IPAddress? = nil,
                destinationPort: UInt16? = nil, ipProtocol: UInt8? = nil, flowID: UInt64? = nil, host: AlertHost) {
        self.timestamp = timestamp
        self.rule = rule
        self.severity = severity
        self.message = message
        self.reason = reason
        self.stage = stage
        self.source = source
        self.sourcePort = sourcePort
        self.destination = destination
        self.destinationPort = destinationPort
        self.ipProtocol = ipProtocol
        self.flowID = flowID
        self.host = host
    }
}

/// What an alert knows below IP. MACs are 0 when unknown: the link type carries none, or that side never sent.
public struct AlertLink: Sendable, Equatable {
    /// The source MAC of the latest frame the alert's source sent (for an ARP frame: the frame's source MAC).
    public var sourceMAC: UInt64 = 0
    /// The source MAC of the latest frame the alert's destination sent (never the MAC the source addressed it by:
    /// that can be a router's or a group MAC).
    public var destinationMAC: UInt64 = 0
    /// 802.1Q/802.1ad tags, outer then inner (0: absent).
    public var outerVLAN: UInt16 = 0
    public var innerVLAN: UInt16 = 0

    public init(sourceMAC: UInt64 = 0, destinationMAC: UInt64 = 0, outerVLAN: UInt16 = 0, innerVLAN: UInt16 = 0) {
        self.sourceMAC = sourceMAC
        self.destinationMAC = destinationMAC
        self.outerVLAN = outerVLAN
        self.innerVLAN = innerVLAN
    }

    /// The tags as Suricata writes them: `[outer]` or `[outer, inner]`; empty when untagged.
    public var vlans: [UInt16] {
        if innerVLAN != 0 { return [outerVLAN, innerVLAN] }
        return outerVLAN != 0 ? [outerVLAN] : []
    }
}

/// The flow an alert was raised on, as far as it had got (Suricata's alert `flow` object): originator to
/// responder is "to server".
public struct AlertFlow: Sendable, Equatable {
    public var packetsToServer: UInt64
    public var packetsToClient: UInt64
    /// Bytes on the wire, link layer included.
    public var bytesToServer: UInt64
    public var bytesToClient: UInt64
    public var start: Timestamp
    /// From its first packet to its latest.
    public var age: Duration

    public init(packetsToServer: UInt64, packetsToClient: UInt64, bytesToServer: UInt64, bytesToClient: UInt64,
                start: Timestamp, age: Duration) {
        self.packetsToServer = packetsToServer
        self.packetsToClient = packetsToClient
        self.bytesToServer = bytesToServer
        self.bytesToClient = bytesToClient
        self.start = start
        self.age = age
    }

    public init(_ flow: Flow) {
        self.init(packetsToServer: flow.originatorPackets, packetsToClient: flow.responderPackets,
                  bytesToServer: flow.originatorBytes, bytesToClient: flow.responderBytes, start: flow.firstSeen,
                  age: flow.duration)
    }
}

/// What a threshold stands for, counted so far: nil where the rule does not count it. Fixed size, so the ledger can
/// keep the latest one per suppression key (an alert held back still moves the count on, and the closing record
/// says where it got).
public struct AlertTally: Sendable, Equatable {
    /// Scans: distinct ports of the destination, and distinct hosts, the source failed to reach since its window
    /// opened (see ScanDetection.swift for how they stay exact past the windows' bounds).
    public var portsTried: UInt64?
    public var hostsTried: UInt64?
    /// Password guessing: short sessions from the source to the service since its history began, and the shortest,
    /// median and longest of the last ones kept (`MaintenancePortInbound.sessionsKept`).
    public var sessions: UInt64?
    public var shortestSession: Duration?
    public var medianSession: Duration?
    public var longestSession: Duration?

    public init(portsTried: UInt64? = nil, hostsTried: UInt64? = nil, sessions: UInt64? = nil,
                shortestSession: Duration? = nil, medianSession: Duration? = nil, longestSession: Duration? = nil) {
        self.portsTried = portsTried
        self.hostsTried = hostsTried
        self.sessions = sessions
        self.shortestSession = shortestSession
        self.medianSession = medianSession
        self.longestSession = longestSession
    }

    public var isEmpty: Bool { self == AlertTally() }
}

/// For a host that woke from a silence: when it was last active before it and what it did then.
public struct AlertBeforeSilence: Sendable, Equatable {
    /// Its last frame before the silence.
    public var lastActive: Timestamp
    /// Its last flow before the silence: the peer, the service (the responder's port and the protocol) and whether
    /// the host was the client or the server. Nil when no flow was seen (only ARP, or saved before this was kept).
    public var lastPeer: IPAddress?
    public var lastPort: UInt16 = 0
    public var lastProtocol: UInt8 = 0
    public var lastAsServer = false

    public init(lastActive: Timestamp, lastPeer: IPAddress? = nil, lastPort: UInt16 = 0, lastProtocol: UInt8 = 0,
                lastAsServer: Bool = false) {
        self.lastActive = lastActive
        self.lastPeer = lastPeer
        self.lastPort = lastPort
        self.lastProtocol = lastProtocol
        self.lastAsServer = lastAsServer
    }
}

/// `TCP/445`, `UDP/53`, `ICMP type 8`, `GRE` for messages.
func describe(_ flow: Flow) -> String {
    switch flow.ipProtocol {
    case IPProtocol.tcp: "TCP/\(flow.responderPort)"
    case IPProtocol.udp: "UDP/\(flow.responderPort)"
    case IPProtocol.icmp, IPProtocol.icmpv6: "ICMP type \(flow.originatorPort)"
    default: IPProtocol.name(flow.ipProtocol).uppercased()
    }
}

extension Alert {
    /// An alert about a flow: originator as source, responder as destination.
    init(flow: Flow, at time: Timestamp, rule: RuleID, severity: Int, host: AlertHost,
         beforeSilence: AlertBeforeSilence? = nil) {
        let hasPorts = flow.ipProtocol == IPProtocol.tcp || flow.ipProtocol == IPProtocol.udp
            || flow.ipProtocol == IPProtocol.icmp || flow.ipProtocol == IPProtocol.icmpv6 || flow.ipProtocol == IPProtocol.sctp
        self.init(timestamp: time, rule: rule, severity: severity, message: "", source: flow.originator,
                  sourcePort: hasPorts ? flow.originatorPort : nil, destination: flow.responder,
                  destinationPort: hasPorts ? flow.responderPort : nil, ipProtocol: flow.ipProtocol,
                  flowID: flow.id, host: host)
        link = AlertLink(flow)
        flowSoFar = AlertFlow(flow)
        self.beforeSilence = beforeSilence
    }
}

extension AlertLink {
    /// A flow's: the originator's MAC as the source's, the responder's as the destination's.
    init(_ flow: Flow) {
        self.init(sourceMAC: flow.originatorMAC, destinationMAC: flow.responderMAC, outerVLAN: flow.outerVLAN,
                  innerVLAN: flow.innerVLAN)
    }
}
