// A bidirectional flow: who started it, what each side sent, and how its TCP state evolved.

import PacketDecoding

/// Why a flow ended.
public enum FlowEndReason: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    /// Inactive for longer than the timeout of its protocol and state.
    case timeout
    /// Removed to make room for a new flow while the table was full (see `FlowTable` for the order).
    case evicted
    /// The input ended (end of the last file, or capture stopped) with the flow still open.
    case endOfInput
    /// A new connection reused the same addresses and ports after this one closed.
    case reused

    public var description: String {
        switch self {
        case .timeout: "timeout"
        case .evicted: "evicted"
        case .endOfInput: "end-of-input"
        case .reused: "reused"
        }
    }
}

/// Timeout classes: every flow in a class shares one inactivity timeout, so each class is one list ordered by
/// last activity and expiry only ever looks at the oldest end. Raw values are saved in state files: a new class
/// takes the next number, and `evictionOrder` says where it stands.
public enum TimeoutClass: Int, CaseIterable, Sendable {
    /// TCP that both sides closed or either side reset.
    case tcpClosed
    /// TCP attempt: a SYN and no answer yet.
    case tcpAttempt
    case icmp
    case other
    case udp
    /// TCP established, half-closed, or picked up mid-stream.
    case tcpEstablished
    /// TCP whose SYN was answered (a SYN-ACK) while the originator sent nothing but SYNs: the handshake is not
    /// complete (Suricata keeps such flows in its `new` state until the final ACK). A SYN flood that the server
    /// answers leaves one per forged source; a real client completes the handshake within a round trip.
    case tcpHalfOpen

    /// Which flows go first when the table is full: the ones that carry least and that scans and floods make.
    public static let evictionOrder: [TimeoutClass] = [.tcpClosed, .tcpAttempt, .tcpHalfOpen, .icmp, .other, .udp,
                                                       .tcpEstablished]

    public var name: String {
        switch self {
        case .tcpClosed: "closed"
        case .tcpAttempt: "unanswered"
        case .tcpHalfOpen: "half-open"
        case .icmp: "ICMP"
        case .other: "other"
        case .udp: "UDP"
        case .tcpEstablished: "established"
        }
    }
}

public struct Flow: Sendable {
    public var key: FlowKey
    /// Which canonical endpoint (A or B of the key) started the flow.
    public var originatorIsA: Bool
    /// Creation order, starting at 1: stable across runs, unlike table positions.
    public var id: UInt64
    /// Position in the flow table while the flow is open (the table's; stages above keep their per-flow data in the
    /// flow's `FlowStorage`, which the table hands to them with each event).
    public internal(set) var slot: Int32 = -1
    public var firstSeen: Timestamp
    public var lastSeen: Timestamp

    public var originatorPackets: UInt64 = 0
    public var responderPackets: UInt64 = 0
    /// Bytes on the wire, link layer included (as Suricata's `bytes_toserver`).
    public var originatorBytes: UInt64 = 0
    public var responderBytes: UInt64 = 0
    /// Transport payload bytes.
    public var originatorPayload: UInt64 = 0
    public var responderPayload: UInt64 = 0

    public var originatorState = EndpointState.inactive
    public var responderState = EndpointState.inactive
    public var originatorHistory = TCPHistory()
    public var responderHistory = TCPHistory()
    /// Later fragments (offset > 0) counted against this flow.
    public var fragments: UInt32 = 0
    /// Link layer: the source MAC of the latest frame each side sent (0 until it sends, or when the link type has
    /// none), so what a side is below IP is what it says itself, never the MAC a peer addressed it by.
    public var originatorMAC: UInt64 = 0
    public var responderMAC: UInt64 = 0
    /// The flow's first frame was sent to a group MAC (broadcast or multicast): to a unicast IP address, a directed
    /// broadcast, which names no host.
    public var firstFrameToGroupMAC = false
    /// The first packet came from the originator: false when the table turned the flow round (its first packet was
    /// the responder's answer to something not captured). With `openedByAnswer`, who really sent what when the flow
    /// started (for the hosts stage at `started`; not in state files, as nothing after `started` reads them).
    public var originatorSentFirst = true
    /// The first packet looked like an answer (see `FlowTable.senderIsLikelyResponder`). When `originatorSentFirst`
    /// is still true, the table did not turn the flow round because its destination is no host (a DHCP offer to
    /// 255.255.255.255): the originator answered someone rather than starting anything.
    public var openedByAnswer = false
    /// TCP: the acknowledgment number of the responder's SYN-ACK (the originator's first sequence number after its
    /// SYN), and how far past it the responder has acknowledged since: the originator's data as the responder
    /// received it, which a capture that sees only the responder's side cannot see otherwise. Not in state files.
    public var responderAckBase: UInt32 = 0
    public var originatorBytesAcknowledged: UInt32 = 0
    public var hasResponderAckBase = false

    /// Events already raised, so each fires once.
    public var raised = FlowEventSet()
    var timeoutClass = TimeoutClass.other
    public var endReason = FlowEndReason.timeout

    // Intrusive list links (indices into the table's entries) for the flow's timeout class.
    var older: Int32 = -1
    var newer: Int32 = -1

    public init(key: FlowKey, originatorIsA: Bool, id: UInt64, firstSeen: Timestamp, lastSeen: Timestamp) {
        self.key = key
        self.originatorIsA = originatorIsA
        self.id = id
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
    }

    public var ipProtocol: UInt8 { key.ipProtocol }
    public var originator: IPAddress { originatorIsA ? key.addressA : key.addressB }
    public var responder: IPAddress { originatorIsA ? key.addressB : key.addressA }
    public var originatorPort: UInt16 { originatorIsA ? key.portA : key.portB }
    public var responderPort: UInt16 { originatorIsA ? key.portB : key.portA }
    public var outerVLAN: UInt16 { UInt16(truncatingIfNeeded: key.vlan >> 16) }
    public var innerVLAN: UInt16 { UInt16(truncatingIfNeeded: key.vlan) }
    public var duration: Duration { lastSeen - firstSeen }

    /// Zeek's conn_state for the flow as it stands.
    public var connectionState: ConnectionState {
        ConnectionState.summarize(
            ipProtocol: key.ipProtocol, orig: originatorState, resp: responderState, origHistory: originatorHistory,
            origPayload: originatorPayload, respPayload: responderPayload)
    }

    /// The responder sent at least one packet.
    public var isAnswered: Bool { responderPackets > 0 }

    /// The originator sent payload: seen, or, when the capture holds nothing from the originator at all (it sees
    /// only the responder's side), acknowledged by the responder: more than one byte past its SYN-ACK's
    /// acknowledgment number (one could be the originator's FIN).
    public var originatorSentData: Bool {
        originatorPayload > 0 || (originatorPackets == 0 && originatorBytesAcknowledged > 1)
    }
}

/// Flow events, each raised at most once per flow (except `ended`, which is final).
public enum FlowEvent: UInt8, Sendable, CustomStringConvertible {
    /// The first packet of a new flow.
    case started
    /// The responder's first packet (a SYN-ACK, a RST, a UDP or ICMP reply, ...).
    case answered
    /// TCP: the responder accepted the connection (SYN-ACK to a SYN), Zeek's `connection_established`.
    case established
    /// Payload has now flowed in both directions.
    case dataBothWays
    /// The flow has been active for longer than the table's long-lived threshold.
    case longLived
    /// The flow left the table; `Flow.endReason` says why. The last event for a flow.
    case ended

    public var description: String {
        switch self {
        case .started: "started"
        case .answered: "answered"
        case .established: "established"
        case .dataBothWays: "data"
        case .longLived: "long-lived"
        case .ended: "ended"
        }
    }
}

public struct FlowEventSet: OptionSet, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let answered = FlowEventSet(rawValue: 1 << 0)
    public static let established = FlowEventSet(rawValue: 1 << 1)
    public static let dataBothWays = FlowEventSet(rawValue: 1 << 2)
    public static let longLived = FlowEventSet(rawValue: 1 << 3)
}

/// Receives flow events. Use it generically (`some FlowEventHandler`) so calls stay direct. The table calls the
/// variant with `storage`; a handler that keeps nothing per flow implements the other.
public protocol FlowEventHandler {
    mutating func flowEvent(_ event: FlowEvent, _ flow: Flow, at time: Timestamp)
    /// `storage`: the flow's room for this handler (all zero when the flow starts), kept by the table until the flow
    /// ends; what the handler leaves there comes back with the flow's next event.
    mutating func flowEvent(_ event: FlowEvent, _ flow: Flow, storage: inout FlowStorage, at time: Timestamp)
}

extension FlowEventHandler {
    @inline(__always)
    public mutating func flowEvent(_ event: FlowEvent, _ flow: Flow, storage: inout FlowStorage, at time: Timestamp) {
        flowEvent(event, flow, at: time)
    }

    public mutating func flowEvent(_ event: FlowEvent, _ flow: Flow, at time: Timestamp) {}
}

/// What the stages above keep with each open flow, owned by the flow table beside the flow (as Suricata's flow
/// storage): `capacity` bytes, all zero when the flow starts, handed to the handler with each of the flow's events.
/// Typed by whoever uses it: a plain value type (`BitwiseCopyable`: no references, so bytes are all it is) loaded
/// and stored whole. 48 bytes: the detection engine's per-flow facts (two host references, the maintenance verdict,
/// one byte per detection) take 40.
public struct FlowStorage: Sendable {
    var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
    public static let capacity = 48

    public init() {}

    /// The value stored (a zeroed value of `T` if nothing was).
    @inline(__always)
    public func load<T: BitwiseCopyable>(_ type: T.Type) -> T {
        precondition(MemoryLayout<T>.size <= FlowStorage.capacity, "\(T.self) does not fit in a flow's storage")
        return withUnsafeBytes(of: words) { $0.loadUnaligned(as: T.self) }
    }

    @inline(__always)
    public mutating func store<T: BitwiseCopyable>(_ value: T) {
        precondition(MemoryLayout<T>.size <= FlowStorage.capacity, "\(T.self) does not fit in a flow's storage")
        withUnsafeMutableBytes(of: &words) { $0.storeBytes(of: value, as: T.self) }
    }
}
