// Alerts for people (one line read at a glance) and for machines (an EVE-style JSON line, `event_type: "alert"`,
// described by schema/idlewatch-eve.schema.json).

import Detection
import PacketDecoding
import SiteModel

public enum AlertFormatter {
    public static func json(_ alert: Alert) -> String {
        var w = JSONObjectWriter()
        w.string("timestamp", alert.timestamp.rfc3339(fractionDigits: 6))
        if let flowID = alert.flowID { w.number("flow_id", flowID) }
        w.string("event_type", "alert")
        if alert.rule.isCaptureHealth {
            // About the sensor, not about traffic: no addresses, the interface instead.
            w.object("alert") { a in alertFields(alert, &a) }
            w.object("sensor") { s in s.string("interface", alert.interface ?? "") }
            return w.finish()
        }
        w.string("src_ip", alert.source.description)
        if let port = alert.sourcePort, hasPorts(alert) { w.number("src_port", port) }
        if let destination = alert.destination { w.string("dest_ip", destination.description) }
        if let port = alert.destinationPort, hasPorts(alert) { w.number("dest_port", port) }
        if let proto = alert.ipProtocol { w.string("proto", FlowRecordFormatter.protocolName(proto)) }
        if let id = communityID(alert) { w.string("community_id", id) }
        w.object("alert") { a in alertFields(alert, &a) }
        w.object("host") { h in
            h.string("address", alert.host.address.description)
            if let name = alert.host.name { h.string("name", name) } else { h.null("name") }
            if let state = alert.host.state { h.string("state", state.rawValue) } else { h.null("state") }
        }
        return w.finish()
    }

    static func alertFields(_ alert: Alert, _ a: inout JSONObjectWriter) {
        a.number("id", alert.id)
        a.string("rule", alert.rule.rawValue)
        a.number("severity", alert.severity)
        a.string("message", alert.message)
        if let reason = alert.reason { a.string("reason", reason) } else { a.null("reason") }
        if let stage = alert.stage { a.string("stage", stage.description) } else { a.null("stage") }
        a.number("incident", alert.incident)
        if alert.suppressedBefore > 0 { a.number("suppressed_before", alert.suppressedBefore) }
    }

    /// `TIME sev1 RULE [stage] SRC -> DST: MESSAGE (alert N, incident M)`, always one line: characters that could
    /// forge or hide text (`DisplayText.isUnsafe`) are escaped.
    public static func text(_ alert: Alert) -> String {
        var line = alert.timestamp.rfc3339(fractionDigits: 6) + " sev\(alert.severity) " + alert.rule.rawValue
        if alert.rule.isCaptureHealth {
            return line + " \(DisplayText.escaped(alert.interface ?? "-")): \(DisplayText.escaped(alert.message)) (alert \(alert.id))"
        }
        if let stage = alert.stage { line += " [\(stage)]" }
        line += " " + endpoint(alert.source, hasPorts(alert) ? alert.sourcePort : nil)
        if let destination = alert.destination {
            line += " -> " + endpoint(destination, hasPorts(alert) ? alert.destinationPort : nil)
        }
        // The message quotes site-file names: escaped, so none can end the line early or rewrite the terminal.
        line += ": " + DisplayText.escaped(alert.message)
        line += alert.incident == alert.id ? " (alert \(alert.id))" : " (alert \(alert.id), incident \(alert.incident))"
        if alert.suppressedBefore > 0 { line += " [\(alert.suppressedBefore) similar held back before]" }
        return line
    }

    static func hasPorts(_ alert: Alert) -> Bool {
        alert.ipProtocol == IPProtocol.tcp || alert.ipProtocol == IPProtocol.udp || alert.ipProtocol == 132
    }

    static func endpoint(_ address: IPAddress, _ port: UInt16?) -> String {
        guard let port else { return address.description }
        return address.isIPv6 ? "[\(address)]:\(port)" : "\(address):\(port)"
    }

    /// The flow's Community ID, for alerts about a flow (not for ARP or scan summaries).
    static func communityID(_ alert: Alert) -> String? {
        guard alert.flowID != nil, let proto = alert.ipProtocol, let destination = alert.destination else { return nil }
        return CommunityID.forFlow(originator: alert.source, originatorPort: alert.sourcePort ?? 0, responder: destination,
                                   responderPort: alert.destinationPort ?? 0, ipProtocol: proto)
    }
}
