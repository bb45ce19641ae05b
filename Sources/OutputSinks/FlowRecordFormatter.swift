// Flow records for people (one line) and for machines (an EVE-style JSON line, `event_type: "flow"`).

import FlowTracking
import PacketDecoding

public enum OutputFormat: String, CaseIterable, Sendable {
    case text
    case json
}

public enum FlowRecordFormatter {
    /// Suricata's EVE protocol names.
    public static func protocolName(_ value: UInt8) -> String {
        switch value {
        case IPProtocol.tcp: "TCP"
        case IPProtocol.udp: "UDP"
        case IPProtocol.icmp: "ICMP"
        case IPProtocol.icmpv6: "IPv6-ICMP"
        default: IPProtocol.name(value).uppercased()
        }
    }

    static func isICMP(_ flow: Flow) -> Bool {
        flow.ipProtocol == IPProtocol.icmp || flow.ipProtocol == IPProtocol.icmpv6
    }

    static func hasPorts(_ flow: Flow) -> Bool {
        flow.ipProtocol == IPProtocol.tcp || flow.ipProtocol == IPProtocol.udp || flow.ipProtocol == 132
    }

    /// ICMP flows that are not request/reply pairs keep (type, code) as their ports.
    static func isOneWayICMP(_ flow: Flow) -> Bool {
        CommunityID.isOneWayICMP(ipProtocol: flow.ipProtocol, type: flow.originatorPort, counterpart: flow.responderPort)
    }

    public static func communityID(_ flow: Flow) -> String {
        CommunityID.forFlow(originator: flow.originator, originatorPort: flow.originatorPort, responder: flow.responder,
                            responderPort: flow.responderPort, ipProtocol: flow.ipProtocol)
    }

    /// One EVE-style JSON object: `src` is the originator, `dest` the responder.
    public static func json(_ flow: Flow) -> String {
        var w = JSONObjectWriter()
        w.string("timestamp", flow.lastSeen.rfc3339(fractionDigits: 6))
        w.number("flow_id", flow.id)
        w.string("event_type", "flow")
        if flow.outerVLAN != 0 || flow.innerVLAN != 0 {
            w.raw("vlan", flow.innerVLAN != 0 ? "[\(flow.outerVLAN),\(flow.innerVLAN)]" : "[\(flow.outerVLAN)]")
        }
        w.string("src_ip", flow.originator.description)
        if hasPorts(flow) { w.number("src_port", flow.originatorPort) }
        w.string("dest_ip", flow.responder.description)
        if hasPorts(flow) { w.number("dest_port", flow.responderPort) }
        w.string("proto", protocolName(flow.ipProtocol))
        if isICMP(flow) {
            w.number("icmp_type", flow.originatorPort)
            w.number("icmp_code", isOneWayICMP(flow) ? flow.responderPort : 0)
        }
        w.string("community_id", communityID(flow))
        w.object("flow") { f in
            f.number("pkts_toserver", flow.originatorPackets)
            f.number("pkts_toclient", flow.responderPackets)
            f.number("bytes_toserver", flow.originatorBytes)
            f.number("bytes_toclient", flow.responderBytes)
            f.number("payload_bytes_toserver", flow.originatorPayload)
            f.number("payload_bytes_toclient", flow.responderPayload)
            f.string("start", flow.firstSeen.rfc3339(fractionDigits: 6))
            f.string("end", flow.lastSeen.rfc3339(fractionDigits: 6))
            f.decimal("age", nanoseconds: flow.duration.nanoseconds)
            f.string("state", flow.connectionState.rawValue)
            f.string("reason", flow.endReason.description)
            if flow.fragments > 0 { f.number("fragments", flow.fragments) }
        }
        return w.finish()
    }

    /// `[v6addr]:port` or `v4addr:port`; just the address for protocols without ports.
    static func endpoint(_ address: IPAddress, _ port: UInt16, withPort: Bool) -> String {
        guard withPort else { return address.description }
        return address.isIPv6 ? "[\(address)]:\(port)" : "\(address):\(port)"
    }

    /// One line: end time, protocol, originator -> responder, conn_state, packets and bytes each way, duration,
    /// why it ended. For example:
    /// `2026-11-21T10:00:03.120000Z TCP 10.10.0.1:43512 -> 10.10.0.2:8080 SF 6/5 pkts 482/1234 bytes 1.203s timeout`
    public static func text(_ flow: Flow) -> String {
        var line = flow.lastSeen.rfc3339(fractionDigits: 6) + " " + protocolName(flow.ipProtocol) + " "
        if isICMP(flow) {
            line += "\(flow.originator) -> \(flow.responder) type \(flow.originatorPort)"
            if isOneWayICMP(flow) { line += " code \(flow.responderPort)" }
        } else {
            line += endpoint(flow.originator, flow.originatorPort, withPort: hasPorts(flow)) + " -> "
                + endpoint(flow.responder, flow.responderPort, withPort: hasPorts(flow))
        }
        if flow.outerVLAN != 0 { line += " vlan \(flow.outerVLAN)" + (flow.innerVLAN != 0 ? "/\(flow.innerVLAN)" : "") }
        line += " \(flow.connectionState.rawValue)"
        line += " \(flow.originatorPackets)/\(flow.responderPackets) pkts"
        line += " \(flow.originatorBytes)/\(flow.responderBytes) bytes"
        line += " " + decimalSeconds(flow.duration.nanoseconds, digits: 3) + "s"
        line += " \(flow.endReason)"
        return line
    }
}
