// What an inbound flow is to the site's maintenance ports: a fact about the flow under the site file, found by the
// engine when the flow starts and again whenever the site file changes under it (a reload, a restore), and read by
// maintenance-port-inbound (which raises), maintenance-exposure (which notes who reached what) and
// new-inbound-service (which leaves declared ports to the first). Which declared port a flow reaches is never kept
// as a position in the site file's list: the flow's responder address, port and protocol (or the external mapping
// they match) name it, in whichever site file is loaded now.

import FlowTracking
import PacketDecoding
import SiteModel

extension DetectionEngine {
    /// Decides at the flow's start whether it is an inbound use of a maintenance port, and why it is unexpected.
    static func classify(_ flow: Flow, annotation: inout FlowAnnotation, site: Site) {
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
    static func siteReplaced(_ flow: Flow, annotation: inout FlowAnnotation, site: Site) {
        if annotation.maintenance.isDeclared && site.maintenancePort(reachedBy: flow) != nil { return }
        classify(flow, annotation: &annotation, site: site)
    }
}

/// What an inbound flow is to the maintenance rule. Which declared port it reaches is not kept: the flow's responder
/// address, port and protocol (or the external mapping they match) name it, and `Site.maintenancePort(reachedBy:)`
/// finds it in whichever site file is loaded now.
public enum MaintenanceMatch: UInt8, Sendable, BitwiseCopyable {
    /// Not an inbound use of a maintenance port.
    case none
    /// A remote-administration port nobody declared.
    case undeclared
    /// A declared port, used as declared (silent; the exposure ledger still notes it).
    case expected
    /// A declared port, used against its declaration (`FlowAnnotation.maintenanceReason` says how).
    case unexpected

    public var isDeclared: Bool { self == .expected || self == .unexpected }
    /// Raises alerts at its stages.
    public var isWatched: Bool { self == .undeclared || self == .unexpected }
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

