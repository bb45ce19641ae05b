// Alerts for people (one line read at a glance) and for machines (an EVE-style JSON line, `event_type: "alert"`,
// described by schema/idlewatch-eve.schema.json), and the closing records of what suppression held back
// (`event_type: "alert_summary"`: not "alert", so tools that count intrusions do not count them).

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
        let vlans = alert.link.vlans
        if !vlans.isEmpty { w.raw("vlan", "[" + vlans.map { String($0) }.joined(separator: ",") + "]") }
        w.string("src_ip", alert.source.description)
        if let port = alert.sourcePort, hasPorts(alert) { w.number("src_port", port) }
        if let destination = alert.destination { w.string("dest_ip", destination.description) }
        if let port = alert.destinationPort, hasPorts(alert) { w.number("dest_port", port) }
        if let proto = alert.ipProtocol { w.string("proto", FlowRecordFormatter.protocolName(proto)) }
        if let id = communityID(alert) { w.string("community_id", id) }
        if alert.link.sourceMAC != 0 { w.string("src_mac", MACAddress(alert.link.sourceMAC).description) }
        if alert.link.destinationMAC != 0 { w.string("dest_mac", MACAddress(alert.link.destinationMAC).description) }
        w.object("alert") { a in alertFields(alert, &a) }
        if let flow = alert.flowSoFar {
            w.object("flow") { f in
                f.number("pkts_toserver", flow.packetsToServer)
                f.number("pkts_toclient", flow.packetsToClient)
                f.number("bytes_toserver", flow.bytesToServer)
                f.number("bytes_toclient", flow.bytesToClient)
                f.string("start", flow.start.rfc3339(fractionDigits: 6))
                f.decimal("age", nanoseconds: flow.age.nanoseconds)
            }
        }
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
        tallyFields(alert.tally, &a)
        if let before = alert.beforeSilence {
            a.string("last_active_before", before.lastActive.rfc3339(fractionDigits: 6))
            if let peer = before.lastPeer {
                a.string("last_peer", peer.description)
                a.string("last_service", service(port: before.lastPort, ipProtocol: before.lastProtocol))
                a.string("last_role", before.lastAsServer ? "server" : "client")
            }
        }
    }

    /// What a threshold stands for (AlertTally): counts, and session lengths in seconds.
    static func tallyFields(_ tally: AlertTally, _ a: inout JSONObjectWriter) {
        if let ports = tally.portsTried { a.number("ports_tried", ports) }
        if let hosts = tally.hostsTried { a.number("hosts_tried", hosts) }
        if let sessions = tally.sessions { a.number("sessions", sessions) }
        if let shortest = tally.shortestSession { a.decimal("session_shortest", nanoseconds: shortest.nanoseconds) }
        if let median = tally.medianSession { a.decimal("session_median", nanoseconds: median.nanoseconds) }
        if let longest = tally.longestSession { a.decimal("session_longest", nanoseconds: longest.nanoseconds) }
    }

    /// `tcp/445`, `udp/53`; the protocol's name alone for protocols without ports (`icmp`).
    static func service(port: UInt16, ipProtocol: UInt8) -> String {
        let name = IPProtocol.name(ipProtocol)
        let ported = ipProtocol == IPProtocol.tcp || ipProtocol == IPProtocol.udp || ipProtocol == 132
        return ported ? "\(name)/\(port)" : name
    }

    /// The closing record of what one suppression key held back (AlertLedger.swift): the key's parties, how many
    /// alerts and the one they were held against, the span, and the latest held-back alert's counts.
    public static func json(_ record: HeldBackRecord) -> String {
        var w = JSONObjectWriter()
        w.string("timestamp", record.timestamp.rfc3339(fractionDigits: 6))
        w.string("event_type", "alert_summary")
        if record.interface == nil {
            w.string("src_ip", record.source.description)
            if let destination = record.destination { w.string("dest_ip", destination.description) }
            if let port = record.port { w.number("dest_port", port) }
        }
        w.object("alert_summary") { a in
            a.string("rule", record.rule.rawValue)
            a.number("held_back", record.held)
            if record.alert > 0 { a.number("alert", record.alert) } else { a.null("alert") }
            a.string("first_held", record.firstHeld.rfc3339(fractionDigits: 6))
            a.string("last_held", record.lastHeld.rfc3339(fractionDigits: 6))
            if !record.detail.isEmpty { a.string("detail", record.detail) }
            a.string("reason", record.occasion.rawValue)
            tallyFields(record.tally, &a)
        }
        if let interface = record.interface { w.object("sensor") { s in s.string("interface", interface) } }
        return w.finish()
    }

    /// `TIME alert-summary RULE SRC -> DST:PORT: N alerts held back after alert M, FIRST to LAST (REASON) [...]`.
    public static func text(_ record: HeldBackRecord) -> String {
        var line = record.timestamp.rfc3339(fractionDigits: 6) + " alert-summary " + record.rule.rawValue + " "
        line += record.interface.map { DisplayText.escaped($0) } ?? record.source.description
        if record.interface == nil, let destination = record.destination { line += " -> " + endpoint(destination, record.port) }
        line += ": \(record.held) similar alert\(record.held == 1 ? "" : "s") held back"
        line += record.alert > 0 ? " after alert \(record.alert)" : ""
        line += ", " + record.firstHeld.rfc3339(fractionDigits: 6) + " to " + record.lastHeld.rfc3339(fractionDigits: 6)
        line += " (" + record.occasion.rawValue + (record.detail.isEmpty ? "" : ", " + DisplayText.escaped(record.detail)) + ")"
        let counts = tallyText(record.tally)
        if !counts.isEmpty { line += " [" + counts + "]" }
        return line
    }

    /// `ports_tried 1000, hosts_tried 1`, `sessions 700, shortest 1.200s, median 2.000s, longest 9.000s`.
    static func tallyText(_ tally: AlertTally) -> String {
        var parts: [String] = []
        if let ports = tally.portsTried { parts.append("ports_tried \(ports)") }
        if let hosts = tally.hostsTried { parts.append("hosts_tried \(hosts)") }
        if let sessions = tally.sessions { parts.append("sessions \(sessions)") }
        if let shortest = tally.shortestSession { parts.append("shortest \(decimalSeconds(shortest.nanoseconds, digits: 3))s") }
        if let median = tally.medianSession { parts.append("median \(decimalSeconds(median.nanoseconds, digits: 3))s") }
        if let longest = tally.longestSession { parts.append("longest \(decimalSeconds(longest.nanoseconds, digits: 3))s") }
        return parts.joined(separator: ", ")
    }

    /// The text line's details after the message, each in brackets: link layer, flow so far, counts, what a host
    /// that woke did before.
    static func details(_ alert: Alert) -> String {
        var text = ""
        var link: [String] = []
        if alert.link.sourceMAC != 0 { link.append("src_mac " + MACAddress(alert.link.sourceMAC).description) }
        if alert.link.destinationMAC != 0 { link.append("dest_mac " + MACAddress(alert.link.destinationMAC).description) }
        let vlans = alert.link.vlans
        if !vlans.isEmpty { link.append("vlan " + vlans.map { String($0) }.joined(separator: "/")) }
        if !link.isEmpty { text += " [" + link.joined(separator: ", ") + "]" }
        if let flow = alert.flowSoFar {
            text += " [flow pkts \(flow.packetsToServer)/\(flow.packetsToClient), bytes \(flow.bytesToServer)/\(flow.bytesToClient)"
                + ", age \(decimalSeconds(flow.age.nanoseconds, digits: 3))s]"
        }
        let counts = tallyText(alert.tally)
        if !counts.isEmpty { text += " [" + counts + "]" }
        if let before = alert.beforeSilence {
            text += " [last active before " + before.lastActive.rfc3339(fractionDigits: 6)
            if let peer = before.lastPeer {
                text += ": " + (before.lastAsServer ? "server to " : "client of ") + peer.description + " "
                    + service(port: before.lastPort, ipProtocol: before.lastProtocol)
            }
            text += "]"
        }
        return text
    }

    /// `TIME sev1 RULE [stage] SRC -> DST: MESSAGE (alert N, incident M)`, then what is known in brackets (`details`:
    /// link layer, flow so far, counts, what a woken host did before), always one line: characters that could
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
        return line + details(alert)
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
