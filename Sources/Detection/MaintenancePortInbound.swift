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
// Severity: 1 from session on (someone got in) and for `closed`; 2 at open; 3 for a probe.
// Suppression: one alert per source, host, port and stage per interval; repeats are counted.

import FlowTracking
import PacketDecoding
import SiteModel

struct MaintenancePortInbound {
    /// Short sessions from one source to one service that make it password guessing (Zeek's SSH bruteforcing
    /// script uses 30 failed logins in 30 minutes; a session here is one TCP connection carrying data both ways,
    /// and SSH clients try 3 to 6 passwords per connection, so 5 connections in 10 minutes is a comparable rate).
    let guessingSessions = 5
    let guessingWindow = Duration.seconds(600)
    let shortSession = Duration.seconds(30)
    /// Short-session histories kept (source, host, port); the stalest are forgotten beyond it.
    let historyCapacity = 65_536

    struct GuessKey: Hashable, Comparable {
        var source: IPAddress
        var host: IPAddress
        var port: UInt16
        var ipProtocol: UInt8

        static func < (a: GuessKey, b: GuessKey) -> Bool {
            (a.source, a.host, a.port, a.ipProtocol) < (b.source, b.host, b.port, b.ipProtocol)
        }
    }
    var shortSessions: [GuessKey: [Timestamp]] = [:]
    /// Histories dropped to stay within `historyCapacity` while still inside the window (a run counter).
    var historiesForgotten: UInt64 = 0

    mutating func flow(_ context: FlowContext, annotation: inout FlowAnnotation, site: Site, ledger: inout AlertLedger) {
        let flow = context.flow
        if context.event == .started {
            classify(flow, annotation: &annotation, site: site)
            if annotation.maintenance == .unexpected { raise(.probe, context, &annotation, site: site, ledger: &ledger) }
            return
        }
        guard annotation.maintenance.isWatched else { return }
        switch context.event {
        case .established:
            raise(.open, context, &annotation, site: site, ledger: &ledger)
        case .answered where flow.ipProtocol != IPProtocol.tcp:
            raise(.open, context, &annotation, site: site, ledger: &ledger)
        case .dataBothWays:
            raise(.session, context, &annotation, site: site, ledger: &ledger)
        case .longLived:
            if flow.originatorSentData && flow.responderPayload > 0 {
                raise(.interactive, context, &annotation, site: site, ledger: &ledger)
            }
        case .ended:
            guard flow.originatorSentData, flow.responderPayload > 0, flow.duration < shortSession else { return }
            let key = GuessKey(source: flow.originator, host: flow.responder, port: flow.responderPort,
                               ipProtocol: flow.ipProtocol)
            if shortSessions[key] == nil {
                historiesForgotten &+= UInt64(shortSessions.makeRoom(capacity: historyCapacity, now: context.time,
                                                                    window: guessingWindow) { $0.last ?? .zero })
            }
            var times = shortSessions[key, default: []].filter { context.time - $0 <= guessingWindow }
            // Only the most recent sessions matter for the count: keep the work per session bounded.
            if times.count >= guessingSessions * 4 { times.removeFirst(times.count - guessingSessions * 4 + 1) }
            times.append(context.time)
            shortSessions[key] = times
            if times.count >= guessingSessions {
                raise(.guessing, context, &annotation, site: site, ledger: &ledger, sessions: times.count)
            }
        default:
            return
        }
    }

    /// Decides at the flow's start whether it is an inbound use of a maintenance port, and why it is unexpected.
    func classify(_ flow: Flow, annotation: inout FlowAnnotation, site: Site) {
        annotation.maintenance = .none
        guard !annotation.originatorIsLocal, annotation.responderIsLocal,
            flow.ipProtocol == IPProtocol.tcp || flow.ipProtocol == IPProtocol.udp
        else { return }
        if let port = site.maintenancePort(reachedBy: flow) {
            let time = flow.firstSeen
            var reason: MaintenanceReason?
            if port.closed {
                reason = .closed
            } else if let expiry = port.expiresAt, time >= expiry {
                reason = .expired
            } else if !port.allowedSources.contains(where: { $0.contains(flow.originator) }) {
                reason = .sourceNotAllowed
            } else if !port.windows.isEmpty && !port.windows.contains(where: { $0.contains(time) }) {
                reason = .outsideWindow
            }
            annotation.maintenance = reason == nil ? .expected : .unexpected
            if let reason { annotation.maintenanceReason = reason }
            return  // a declared port is never also "undeclared", expected or not
        }
        let transport: TransportProtocol = flow.ipProtocol == IPProtocol.tcp ? .tcp : .udp
        if site.remoteAdminPorts.contains(PortSpec(port: flow.responderPort, transport: transport)) {
            annotation.maintenance = .undeclared
            annotation.maintenanceReason = .undeclared
        }
    }

    /// The site file was replaced (SIGHUP, or a state restored under another file) while `flow` is open. A flow to a
    /// port the new file still declares (the same host, port and protocol, or the same external mapping) keeps the
    /// verdict it got when it started, and its later alerts carry the port's name as the new file spells it: a
    /// rename or a new order changes no judgement. A flow whose port the new file no longer declares, or that went
    /// to no declared port, is classified again by the new file, as if it had started under it: an operator who
    /// removes a port's declaration means that port is no longer expected maintenance access, so an open session to
    /// a remote-administration port goes on as an undeclared use (any other port is no longer watched), and a port
    /// declared by the reload applies to the sessions already open to it. Stages already raised are not raised again.
    func siteReplaced(_ flow: Flow, annotation: inout FlowAnnotation, site: Site) {
        if annotation.maintenance.isDeclared && site.maintenancePort(reachedBy: flow) != nil { return }
        classify(flow, annotation: &annotation, site: site)
    }

    mutating func raise(_ stage: Stage, _ context: FlowContext, _ annotation: inout FlowAnnotation, site: Site,
                        ledger: inout AlertLedger, sessions: Int = 0) {
        let flow = context.flow
        let bit: UInt8 = 1 << UInt8(stage.rawValue)
        guard stage == .guessing || annotation.raisedStages & bit == 0 else { return }
        let reason = annotation.maintenanceReason
        let severity = stage >= .session || reason == .closed ? 1 : (stage == .open ? 2 : 3)
        let declared = annotation.maintenance.isDeclared ? site.maintenancePort(reachedBy: flow) : nil
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
        case .guessing: how = "\(sessions) short sessions within \(formatDuration(guessingWindow)): guessing"
        }
        alert.message = "outside host \(flow.originator) reached \(target) \(why): \(how)"
        let key = SuppressionKey(rule: .maintenancePortInbound, source: flow.originator, destination: flow.responder,
                                 port: flow.responderPort, detail: stage.description)
        annotation.raisedStages |= bit
        ledger.raise(alert, key: key)
    }
}

/// What an inbound flow is to the maintenance rule. Which declared port it reaches is not kept: the flow's responder
/// address, port and protocol (or the external mapping they match) name it, and `Site.maintenancePort(reachedBy:)`
/// finds it in whichever site file is loaded now.
enum MaintenanceMatch: UInt8 {
    /// Not an inbound use of a maintenance port.
    case none
    /// A remote-administration port nobody declared.
    case undeclared
    /// A declared port, used as declared (silent; the exposure ledger still notes it).
    case expected
    /// A declared port, used against its declaration (`FlowAnnotation.maintenanceReason` says how).
    case unexpected

    var isDeclared: Bool { self == .expected || self == .unexpected }
    /// Raises alerts at its stages.
    var isWatched: Bool { self == .undeclared || self == .unexpected }
}

extension Site {
    /// The declared maintenance port `flow` goes to, by its internal host and port or by the external address and
    /// port of its mapping (the sensor may see traffic before NAT); the first in the file's order. Host, port and
    /// protocol are unique in a site file, and so are mappings.
    func maintenancePort(reachedBy flow: Flow) -> MaintenancePort? {
        maintenancePortIndex(reachedBy: flow).map { maintenancePorts[$0] }
    }

    /// Where that port stands in the file's list now (for the state file's layout; never kept with the flow).
    func maintenancePortIndex(reachedBy flow: Flow) -> Int? {
        guard flow.ipProtocol == IPProtocol.tcp || flow.ipProtocol == IPProtocol.udp else { return nil }
        let transport: TransportProtocol = flow.ipProtocol == IPProtocol.tcp ? .tcp : .udp
        return maintenancePorts.firstIndex { port in
            port.transport == transport
                && (flow.responder == port.host && flow.responderPort == port.port
                    || port.externalAddress == flow.responder && port.externalPort == flow.responderPort)
        }
    }
}

/// Why an inbound use of a maintenance port is unexpected, in the order they are checked.
enum MaintenanceReason: String {
    case closed
    case expired
    case sourceNotAllowed = "source-not-allowed"
    case outsideWindow = "outside-window"
    case undeclared
}
