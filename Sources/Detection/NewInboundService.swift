// Rule new-inbound-service: after the learning period, a local host answers an outside client on a port it has
// never served before, to anyone. A port forwarded "for maintenance" or a backdoor listener shows up this way.
//
// Every answered flow teaches the ledger of services (host, port, protocol), inside clients and outside alike; during
// the learning period (`learning.period` from the first packet) nothing is raised. A service counts as answered on a
// TCP handshake (SYN-ACK) or a UDP reply; a RST is not a service.
// Only ports below `ephemeralStart` count: above it, a local host "answering" an outside peer is usually the
// other half of something it started (active FTP data, VoIP media, peer-to-peer, STUN), not a service.
// A port declared in the site's maintenance registry is left to maintenance-port-inbound, which knows who may use
// it and when: an allowed vendor session over a declared mapping is not news, and an unexpected one is raised there.
// Tunables: severity 2; `ephemeralStart` 32768 (Linux's ephemeral range starts there, Windows' at 49152); one alert
// per host and port per suppression interval (in practice once: the port is then known).
// Reads: the hosts stage's ledger of services, through `FlowContext.serviceKnownBefore` (the engine records every
// answered service before the detections see the event), and `FlowContext.maintenance`. No state of its own.

import FlowTracking
import PacketDecoding
import SiteModel

struct NewInboundService: Detection {
    static let name = "new-inbound-service"
    static let events: DetectionEvents = [.established, .answered]
    static let savedInSchema2Layout = true
    static let severity = 2
    let ephemeralStart: UInt16 = 32768

    mutating func flow(_ context: FlowContext, site: Site, mark: inout UInt8, ledger: inout AlertLedger) {
        let flow = context.flow
        switch (context.event, flow.ipProtocol) {
        case (.established, IPProtocol.tcp), (.answered, IPProtocol.udp): break
        default: return
        }
        // A client that is no host (a broadcast or unspecified source) is forged: nothing to say about its "service".
        guard context.responderIsLocal, context.responderIsHost, context.originatorIsHost else { return }
        let learning = context.time < context.learningEnds
        guard !context.serviceKnownBefore, !learning, !context.originatorIsLocal, flow.responderPort < ephemeralStart,
            !context.maintenance.isDeclared
        else { return }
        var alert = Alert(flow: flow, at: context.time, rule: .newInboundService, severity: Self.severity,
                          host: AlertHost(flow.responder, context.responderEntry))
        let name = context.responderEntry.map { "\($0.name) (\(flow.responder))" } ?? "\(flow.responder)"
        alert.message = "\(name) answered outside client \(flow.originator) on \(describe(flow)), a port it never served before"
        alert.reason = "new \(describe(flow).lowercased())"
        ledger.raise(alert, key: SuppressionKey(rule: .newInboundService, source: flow.responder,
                                                port: flow.responderPort, detail: describe(flow)))
    }
}
