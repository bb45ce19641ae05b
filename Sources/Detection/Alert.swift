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
    init(flow: Flow, at time: Timestamp, rule: RuleID, severity: Int, host: AlertHost) {
        let hasPorts = flow.ipProtocol == IPProtocol.tcp || flow.ipProtocol == IPProtocol.udp
            || flow.ipProtocol == IPProtocol.icmp || flow.ipProtocol == IPProtocol.icmpv6 || flow.ipProtocol == IPProtocol.sctp
        self.init(timestamp: time, rule: rule, severity: severity, message: "", source: flow.originator,
                  sourcePort: hasPorts ? flow.originatorPort : nil, destination: flow.responder,
                  destinationPort: hasPorts ? flow.responderPort : nil, ipProtocol: flow.ipProtocol,
                  flowID: flow.id, host: host)
    }
}
