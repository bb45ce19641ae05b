// Who reached which maintenance port from outside: not a detection but the ledger behind the hosts report's
// "maintenance ports reached from outside" section, kept with the learned state.
//
// A port counts as reached when it answered (a SYN-ACK, a UDP reply), expected use included: the report shows the
// vendor's sanctioned sessions next to the ones that raised alerts. Probes nobody answered are left out: the
// internet knocks on port 22 of every address all day, and an unanswered knock is not an open door.

import BoundedTables
import FlowTracking
import PacketDecoding
import SiteModel

public struct ExposureKey: Hashable, Comparable, Sendable {
    public var host: IPAddress
    public var port: UInt16
    public var ipProtocol: UInt8
    public var source: IPAddress

    public init(host: IPAddress, port: UInt16, ipProtocol: UInt8, source: IPAddress) {
        self.host = host
        self.port = port
        self.ipProtocol = ipProtocol
        self.source = source
    }

    public static func < (a: ExposureKey, b: ExposureKey) -> Bool {
        (a.host, a.port, a.ipProtocol, a.source) < (b.host, b.port, b.ipProtocol, b.source)
    }
}

public struct ExposureRecord: Sendable, Equatable {
    public var firstSeen: Timestamp
    public var lastSeen: Timestamp
    /// Flows from the source that the port answered.
    public var flows: UInt64
    /// The furthest any of them got: open or session.
    public var stage: Stage
    /// The use matched the maintenance-port registry (allowed source, inside a window, before expiry).
    public var expected: Bool
    /// The declared port's name, or empty for an undeclared remote-administration port.
    public var name: String

    public init(firstSeen: Timestamp, lastSeen: Timestamp, flows: UInt64, stage: Stage, expected: Bool, name: String) {
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.flows = flows
        self.stage = stage
        self.expected = expected
        self.name = name
    }
}

struct MaintenanceExposure: Detection {
    static let name = "maintenance-exposure"
    static let events: DetectionEvents = [.established, .answered, .data]
    static let savedInSchema2Layout = true

    /// Entries kept; the stalest are forgotten beyond it (a week without use makes an entry forgettable first).
    let capacity = 65_536
    let staleAfter = Duration.seconds(7 * 86_400)
    var entries: [ExposureKey: ExposureRecord] = [:]
    /// Entries dropped to stay within `capacity` before going a week unused (a run counter).
    var forgotten: UInt64 = 0

    /// Notes how far an outside-to-local flow on a maintenance port got. Call for every event: a flow counts once,
    /// when it first reaches `open` (TCP: the handshake completed, since a RST also answers; UDP: a reply) or
    /// `session` (a TCP flow picked up mid-stream has no handshake), and raises the entry's stage after that.
    var counters: [DetectionCounter] { [DetectionCounter("exposuresForgotten", "exposures", forgotten)] }

    mutating func flow(_ context: FlowContext, site: Site, mark noted: inout UInt8, ledger: inout AlertLedger) {
        let flow = context.flow
        let stage: Stage
        switch context.event {
        case .established: stage = .open
        case .answered where flow.ipProtocol == IPProtocol.udp: stage = .open
        case .dataBothWays: stage = .session
        default: return
        }
        guard !context.originatorIsLocal, context.responderIsLocal, context.originatorIsHost, context.responderIsHost,
            flow.ipProtocol == IPProtocol.tcp || flow.ipProtocol == IPProtocol.udp,
            Int(noted) - 1 < stage.rawValue
        else { return }
        // The maintenance rule matched the flow against the site's ports when it started: a declared port, used as
        // expected (`maintenance` unmarked) or not, or an undeclared remote-administration port.
        guard context.maintenance != .none else { return }
        let name = context.declaredPort?.name ?? ""
        let expected = context.maintenance == .expected
        let isNewFlow = noted == 0
        noted = UInt8(stage.rawValue + 1)
        let key = ExposureKey(host: flow.responder, port: flow.responderPort, ipProtocol: flow.ipProtocol,
                              source: flow.originator)
        if var record = entries[key] {
            if isNewFlow { record.flows &+= 1 }
            record.lastSeen = max(record.lastSeen, context.time)
            record.stage = max(record.stage, stage)
            record.expected = record.expected && expected
            record.name = name  // as the site file loaded now names the port (a reload may rename it)
            entries[key] = record
        } else {
            forgotten &+= UInt64(entries.makeRoom(capacity: capacity, now: context.time, window: staleAfter) {
                $0.lastSeen
            })
            entries[key] = ExposureRecord(firstSeen: context.time, lastSeen: context.time, flows: 1, stage: stage,
                                          expected: expected, name: name)
        }
    }
}
