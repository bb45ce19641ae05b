// Rule maintenance-port-inbound: someone outside `local_networks` reaches a maintenance port of a local host.
//
// A declared port (`maintenance_ports`, matched by internal host:port, or by the external address:port of its
// mapping when the sensor sees traffic before NAT) raises when the use is not expected, with the first reason that
// applies: `closed` (the mapping should not exist), `expired`, `source-not-allowed`, `outside-window`. Use from an
// allowed source, inside a window, before expiry is silent. An undeclared port from `remote_admin_ports` raises
// `undeclared` once the local host answers: a probe nobody answered is not an open door (scans have their own rule).
//
// Stages (see `Stage`): raised at the first stage the flow reaches and again, once, at each higher one:
// probe (declared ports only: a SYN or first datagram), open (SYN-ACK, or a UDP reply), session (payload both ways),
// interactive (the flow's long-lived event, 5 minutes by default), guessing (one source completed
// `guessingSessions` short sessions, each under `shortSession`, to one host and port within `guessingWindow`).
//
// What a guessing alert counts (`alert.sessions`, `alert.session_shortest`/`_median`/`_longest`, and its message): the
// short sessions since the source's history with the service began (exact: a count beside the bounded window; the
// history restarts after `guessingWindow` without one), and the shortest, median and longest of those the window
// holds (within `guessingWindow`, at most the last `sessionsKept`).
//
// Severity: 1 from session on (someone got in) and for `closed`; 2 at open; 3 for a probe.
// Suppression: one alert per source, host, port and stage per interval; repeats are counted.
// Reads: `FlowContext.maintenance` (what the flow is to the site's ports, judged by the engine: see
// MaintenanceClassification.swift). Its own byte per flow: the stages raised for it. Saved: the short-session
// histories (DetectionState.swift).

import BoundedTables
import FlowTracking
import PacketDecoding
import SiteModel
import StateCoding

struct MaintenancePortInbound: Detection {
    static let name = "maintenance-port-inbound"
    static let events = DetectionEvents.allFlowEvents
    static let savedInSchema2Layout = true
    /// Version 2: each history's count of short sessions, and each session's duration.
    static let stateVersion = 2

    /// Short sessions from one source to one service that make it password guessing (Zeek's SSH bruteforcing
    /// script uses 30 failed logins in 30 minutes; a session here is one TCP connection carrying data both ways,
    /// and SSH clients try 3 to 6 passwords per connection, so 5 connections in 10 minutes is a comparable rate).
    let guessingSessions = MaintenancePortInbound.guessingSessions
    static let guessingSessions = 5
    let guessingWindow = MaintenancePortInbound.guessingWindow
    static let guessingWindow = Duration.seconds(600)
    let shortSession = Duration.seconds(30)
    /// Short-session histories kept (source, host, port); the stalest are forgotten beyond it.
    static let historyCapacity = 65_536

    struct GuessKey: Hashable, Comparable {
        var source: IPAddress
        var host: IPAddress
        var port: UInt16
        var ipProtocol: UInt8

        static func < (a: GuessKey, b: GuessKey) -> Bool {
            (a.source, a.host, a.port, a.ipProtocol) < (b.source, b.host, b.port, b.ipProtocol)
        }
    }
    /// Only the most recent sessions matter for the count: four times `guessingSessions` are kept per history, the
    /// oldest forgotten first, so the work per session stays bounded.
    static let sessionsKept = MaintenancePortInbound.guessingSessions * 4
    /// One short session: how long it lasted (members of a history are counted, not distinct).
    struct SessionLength: Comparable {
        var duration: Duration
        static func < (a: SessionLength, b: SessionLength) -> Bool { a.duration < b.duration }
    }
    /// The short sessions of one (source, host, port): those within `guessingWindow` (at most `sessionsKept`), and
    /// how many since the history began.
    struct History: WindowEntry {
        var sessions = WindowMembers<SessionLength>()
        var counted: UInt64 = 0
        var lastActive: Timestamp { sessions.lastActive }
        var memberCount: Int { sessions.count }
    }
    /// Short sessions per (source, host, port) within `guessingWindow`, counted (not distinct).
    var shortSessions = BoundedWindow<GuessKey, History>(
        window: MaintenancePortInbound.guessingWindow, capacity: MaintenancePortInbound.historyCapacity)

    /// Histories dropped to stay within `historyCapacity` while still inside the window.
    var counters: [DetectionCounter] {
        [DetectionCounter("guessingHistoriesForgotten", "guessing histories", shortSessions.counters.forgotten)]
    }

    /// `raisedStages`: this detection's byte for the flow, one bit per `Stage.rawValue` already raised.
    mutating func flow(_ context: FlowContext, site: Site, mark raisedStages: inout UInt8, ledger: inout AlertLedger) {
        let flow = context.flow
        // A broadcast or multicast destination is no port of any host, and a source that is no host reached nothing.
        guard context.originatorIsHost, context.responderIsHost else { return }
        if context.event == .started {
            if context.maintenance == .unexpected { raise(.probe, context, &raisedStages, ledger: &ledger) }
            return
        }
        guard context.maintenance.isWatched else { return }
        switch context.event {
        case .established:
            raise(.open, context, &raisedStages, ledger: &ledger)
        case .answered where flow.ipProtocol != IPProtocol.tcp:
            raise(.open, context, &raisedStages, ledger: &ledger)
        case .dataBothWays:
            raise(.session, context, &raisedStages, ledger: &ledger)
        case .longLived:
            if flow.originatorSentData && flow.responderPayload > 0 {
                raise(.interactive, context, &raisedStages, ledger: &ledger)
            }
        case .ended:
            guard flow.originatorSentData, flow.responderPayload > 0, flow.duration < shortSession else { return }
            let key = GuessKey(source: flow.originator, host: flow.responder, port: flow.responderPort,
                               ipProtocol: flow.ipProtocol)
            let (window, kept) = (guessingWindow, Self.sessionsKept)
            guard let history = shortSessions.update(key, at: context.time, { history -> History in
                history.sessions.occur(SessionLength(duration: flow.duration), at: context.time, window: window,
                                       capacity: kept, whenFull: .forgetOldest)
                history.counted &+= 1
                return history
            }) else { return }
            if history.sessions.count >= guessingSessions {
                raise(.guessing, context, &raisedStages, ledger: &ledger, history: history)
            }
        default:
            return
        }
    }

    mutating func raise(_ stage: Stage, _ context: FlowContext, _ raisedStages: inout UInt8, ledger: inout AlertLedger,
                        history: History = History()) {
        let flow = context.flow
        let bit: UInt8 = 1 << UInt8(stage.rawValue)
        guard stage == .guessing || raisedStages & bit == 0 else { return }
        let reason = context.maintenanceReason
        let severity = stage >= .session || reason == .closed ? 1 : (stage == .open ? 2 : 3)
        let declared = context.declaredPort
        var alert = Alert(flow: flow, at: context.time, rule: .maintenancePortInbound, severity: severity,
                          host: AlertHost(flow.responder, context.responderEntry))
        alert.stage = stage
        alert.reason = reason.rawValue
        let service = "\(flow.responder):\(flow.responderPort)/\(flow.ipProtocol == IPProtocol.tcp ? "tcp" : "udp")"
        let target = declared.map { "maintenance port \($0.name) (\(service))" } ?? "remote-administration port \(service)"
        let why: String
        switch reason {
        case .closed: why = "which should be closed"
        case .expired: why = "after its expiry date"
        case .sourceNotAllowed: why = "from a source not allowed to use it"
        case .outsideWindow: why = "outside its maintenance windows"
        case .undeclared: why = "which is not declared"
        }
        let how: String
        switch stage {
        case .probe: how = "probe, no answer yet"
        case .open: how = "the port answered"
        case .session: how = "a session exchanged data"
        case .interactive: how = "a session has lasted \(formatDuration(flow.duration))"
        case .guessing:
            let inWindow = history.sessions.count
            how = UInt64(inWindow) == history.counted
                ? "\(inWindow) short sessions within \(formatDuration(guessingWindow)): guessing"
                : "\(history.counted) short sessions, \(inWindow) of them within the last \(formatDuration(guessingWindow)): guessing"
            let lengths = history.sessions.oldestFirst.map(\.member.duration).sorted()
            alert.tally = AlertTally(sessions: history.counted, shortestSession: lengths.first,
                                     medianSession: lengths.isEmpty ? nil : lengths[(lengths.count - 1) / 2],
                                     longestSession: lengths.last)
        }
        alert.message = "outside host \(flow.originator) reached \(target) \(why): \(how)"
        let key = SuppressionKey(rule: .maintenancePortInbound, source: flow.originator, destination: flow.responder,
                                 port: flow.responderPort, detail: stage.description)
        raisedStages |= bit
        ledger.raise(alert, key: key)
    }
}

/// Why an inbound use of a maintenance port is unexpected, in the order they are checked.
public enum MaintenanceReason: String, Sendable, BitwiseCopyable {
    case closed
    case expired
    case sourceNotAllowed = "source-not-allowed"
    case outsideWindow = "outside-window"
    case undeclared
}

// Its saved section: the short sessions of each (source, host, port), in key order (the same state gives the same
// bytes).
extension MaintenancePortInbound {
    func encode(into writer: inout StateWriter) {
        shortSessions.encode(into: &writer) { key, history, writer in
            writer.put(key.source)
            writer.put(key.host)
            writer.put(key.port)
            writer.put(key.ipProtocol)
            history.sessions.encode(into: &writer, inMemberOrder: false) { session, writer in
                writer.put(session.time)
                writer.put(session.member.duration)
            }
            writer.put(history.counted)
        }
    }

    /// The layout this build writes.
    mutating func restore(from reader: inout StateReader) throws {
        try restore(from: &reader, version: Self.stateVersion)
    }

    /// Layout 2 adds each session's duration after its time, and the history's count after its sessions; a layout
    /// 1 history's sessions come back with no duration (0) and counted as many as it holds.
    mutating func restore(from reader: inout StateReader, version: Int) throws {
        let counted = version >= 2
        try shortSessions.restore(from: &reader, minimumItemSize: counted ? 49 : 41) { reader in
            let key = GuessKey(source: try reader.address(), host: try reader.address(), port: try reader.uint16(),
                               ipProtocol: try reader.uint8())
            var history = History()
            history.sessions = try WindowMembers.decode(from: &reader, minimumItemSize: counted ? 16 : 8,
                                                        distinct: false) {
                let time = try $0.timestamp()
                let duration = counted ? try $0.duration() : Duration(nanoseconds: 0)
                guard duration.nanoseconds >= 0 else {
                    throw StateDecodingError("saved short session has a negative duration (\(duration.nanoseconds) ns)")
                }
                return .init(member: SessionLength(duration: duration), time: time)
            }
            history.counted = max(counted ? try reader.uint64() : 0, UInt64(history.sessions.count))
            return (key, history)
        }
    }
}
