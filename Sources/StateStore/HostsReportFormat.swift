// The hosts report for people (aligned sections, the ones to act on first) and for machines (one JSON document).

import Detection
import OutputSinks
import PacketDecoding
import SiteModel

extension HostsReport {
    public func text(statePath: String, inventorySource: String) -> String {
        var out: [String] = []
        var head = "IdleWatch hosts report for \(DisplayText.escaped(statePath, maximumBytes: 4096))"
        if let from = observedFrom, let to = observedTo {
            head += "\n  traffic from \(time(from)) to \(time(to)) (\(formatDuration(to - from))), \(packetsAnalysed) packets; "
                + "\(localHostsSeen) local and \(outsideHostsSeen) outside hosts sent traffic"
        } else {
            head += "\n  no traffic analysed yet"
        }
        head += "\n  declared states from \(DisplayText.escaped(inventorySource, maximumBytes: 4096)); times are packet times, \"now\" is the last packet"
        out.append(head)

        var silentHeader = "Decommission candidates: declared active, nothing from them for \(formatDuration(silentThreshold)) or more "
            + "(\(decommissionCandidates.count))"
        if let from = observedFrom, let to = observedTo, to - from < silentThreshold {
            silentHeader += "\n  (the traffic covers only \(formatDuration(to - from)): nothing can be silent that long yet; see --silent-days)"
        }
        out.append(section(silentHeader, ["NAME", "NETWORK", "LAST FRAME", "SILENT FOR"], decommissionCandidates.map {
            [shown($0.entry.name), $0.entry.declared, $0.lastSeen.map(time) ?? "never seen", formatDuration($0.silentFor)]
        }))
        out.append(section("Local hosts seen but not in the inventory (\(unknownHosts.count))",
                           ["ADDRESS", "MAC", "VENDOR", "VLAN", "FIRST SEEN", "LAST FRAME", "FLOWS OUT/IN", "PEERS", "SERVES"],
                           unknownHosts.map {
            [$0.record.address.description] + linkCells($0) + [time($0.record.firstSeen), time($0.record.lastSeen),
             "\($0.record.flowsOriginated)/\($0.record.flowsAnswered)", "\($0.record.peers.estimate)", services($0)]
        }))
        out.append(section("Declared idle or decommissioned, and sent traffic (\(declaredQuietButTalked.count))",
                           ["NAME", "ADDRESS", "DECLARED", "FIRST SEEN", "LAST FRAME", "FLOWS OUT/IN", "PEERS", "SERVES"],
                           declaredQuietButTalked.map {
            [$0.entry.map { shown($0.name) } ?? "", $0.record.address.description, $0.entry?.state.rawValue ?? "", time($0.record.firstSeen),
             time($0.record.lastSeen), "\($0.record.flowsOriginated)/\($0.record.flowsAnswered)",
             "\($0.record.peers.estimate)", services($0)]
        }))
        var exposureRows: [[String]] = []
        for port in exposures {
            let label = (port.name.isEmpty ? "undeclared" : shown(port.name)) + " "
                + (port.entry.map { "\(shown($0.name)) " } ?? "") + "\(port.host):\(port.port)/\(proto(port.ipProtocol))"
            for (index, source) in port.sources.enumerated() {
                exposureRows.append([index == 0 ? label : "", source.address.description, "\(source.record.flows)",
                                     source.record.stage.description, source.record.expected ? "expected" : "UNEXPECTED",
                                     time(source.record.firstSeen), time(source.record.lastSeen)])
            }
        }
        out.append(section("Maintenance ports reached from outside (\(exposures.count) ports, \(exposureRows.count) sources)",
                           ["PORT", "SOURCE", "FLOWS", "FURTHEST", "USE", "FIRST", "LAST"], exposureRows))
        out.append(section("Hosts that sent traffic (\(hosts.count))",
                           ["ADDRESS", "NAME", "DECLARED", "MAC", "VENDOR", "VLAN", "FIRST SEEN", "LAST FRAME", "LAST CLIENT",
                            "LAST SERVER", "PACKETS", "FLOWS OUT/IN", "PEERS", "SERVES"],
                           hosts.map {
            [$0.record.address.description, $0.entry.map { shown($0.name) } ?? "-", $0.entry?.state.rawValue ?? "-"]
                + linkCells($0) + [time($0.record.firstSeen),
             time($0.record.lastSeen), $0.record.lastActiveAsClient.map(time) ?? "-",
             $0.record.lastActiveAsServer.map(time) ?? "-", "\($0.record.packetsSent)" + ($0.record.arpFrames > 0 ? " +\($0.record.arpFrames) ARP" : ""),
             "\($0.record.flowsOriginated)/\($0.record.flowsAnswered)", "\($0.record.peers.estimate)", services($0)]
        }))
        var notes: [String] = []
        if let linksProblem { notes.append("  (MACs not shown: \(DisplayText.escaped(linksProblem, maximumBytes: 4096)))") }
        if !notes.isEmpty { out.append("Notes\n" + notes.joined(separator: "\n")) }
        return out.joined(separator: "\n\n")
    }

    public func json(statePath: String, inventorySource: String) -> String {
        var o = JSONObjectWriter()
        o.string("state", statePath)
        o.string("inventory", inventorySource)
        if let from = observedFrom { o.string("observed_from", from.rfc3339(fractionDigits: 6)) } else { o.null("observed_from") }
        if let to = observedTo { o.string("observed_to", to.rfc3339(fractionDigits: 6)) } else { o.null("observed_to") }
        o.number("packets", packetsAnalysed)
        o.number("silent_threshold_seconds", silentThreshold.nanoseconds / 1_000_000_000)
        o.raw("decommission_candidates", array(decommissionCandidates.map { candidate in
            var c = JSONObjectWriter()
            c.string("name", candidate.entry.name)
            if let network = candidate.entry.network { c.string("network", network.description) } else { c.null("network") }
            if let last = candidate.lastSeen { c.string("last_seen", last.rfc3339(fractionDigits: 6)) } else { c.null("last_seen") }
            c.number("silent_seconds", candidate.silentFor.nanoseconds / 1_000_000_000)
            return c.finish()
        }))
        o.raw("unknown_hosts", array(unknownHosts.map(hostJSON)))
        o.raw("declared_quiet_but_active", array(declaredQuietButTalked.map(hostJSON)))
        o.raw("maintenance_exposures", array(exposures.map { port in
            var p = JSONObjectWriter()
            p.string("host", port.host.description)
            if let entry = port.entry { p.string("host_name", entry.name) }
            p.number("port", port.port)
            p.string("proto", proto(port.ipProtocol).uppercased())
            if port.name.isEmpty { p.null("maintenance_port") } else { p.string("maintenance_port", port.name) }
            p.raw("sources", array(port.sources.map { source in
                var s = JSONObjectWriter()
                s.string("address", source.address.description)
                s.number("flows", source.record.flows)
                s.string("stage", source.record.stage.description)
                s.bool("expected", source.record.expected)
                s.string("first_seen", source.record.firstSeen.rfc3339(fractionDigits: 6))
                s.string("last_seen", source.record.lastSeen.rfc3339(fractionDigits: 6))
                return s.finish()
            }))
            return p.finish()
        }))
        if let vendors { o.string("oui_list", vendors.path) } else { o.null("oui_list") }
        o.raw("hosts", array(hosts.map(hostJSON)))
        return o.finish()
    }

    func hostJSON(_ host: Host) -> String {
        let r = host.record
        var h = JSONObjectWriter()
        h.string("address", r.address.description)
        h.bool("local", r.isLocal)
        if let entry = host.entry {
            h.string("name", entry.name)
            h.string("declared", entry.state.rawValue)
        } else {
            h.null("name")
            h.null("declared")
        }
        h.string("first_seen", r.firstSeen.rfc3339(fractionDigits: 6))
        h.string("last_seen", r.lastSeen.rfc3339(fractionDigits: 6))
        if let t = r.lastActiveAsClient { h.string("last_client", t.rfc3339(fractionDigits: 6)) } else { h.null("last_client") }
        if let t = r.lastActiveAsServer { h.string("last_server", t.rfc3339(fractionDigits: 6)) } else { h.null("last_server") }
        h.number("packets_sent", r.packetsSent)
        h.number("bytes_sent", r.bytesSent)
        h.number("flows_originated", r.flowsOriginated)
        h.number("flows_answered", r.flowsAnswered)
        h.number("arp_frames", r.arpFrames)
        h.number("peers", r.peers.estimate)
        h.raw("macs", array(host.links.map { link in
            var m = JSONObjectWriter()
            m.string("mac", link.binding.mac.description)
            if link.binding.mac.isLocallyAdministered {
                m.null("vendor")
                m.bool("locally_administered", true)
            } else {
                if let vendor = vendors?.vendor(of: link.binding.mac) { m.string("vendor", vendor) } else { m.null("vendor") }
                m.bool("locally_administered", false)
            }
            if link.vlan == 0 { m.null("vlan") } else { m.string("vlan", vlanText(link.vlan)) }
            m.string("learned_by", link.binding.learnedBy.names)
            m.string("first_seen", link.binding.firstSeen.rfc3339(fractionDigits: 6))
            m.string("last_seen", link.binding.lastSeen.rfc3339(fractionDigits: 6))
            return m.finish()
        }))
        h.raw("services", array(host.services.map { service in
            var s = JSONObjectWriter()
            s.number("port", service.port)
            s.string("proto", proto(service.ipProtocol).uppercased())
            s.bool("served_inside", service.record.servedInside)
            s.bool("served_outside", service.record.servedOutside)
            s.bool("learned", service.record.learned)
            s.number("sessions", service.record.sessions)
            s.string("first_served", service.record.firstServed.rfc3339(fractionDigits: 6))
            s.string("last_served", service.record.lastServed.rfc3339(fractionDigits: 6))
            return s.finish()
        }))
        return h.finish()
    }

    /// MAC, vendor and VLAN cells: each of the host's MACs (most recent first), joined by spaces.
    func linkCells(_ host: Host) -> [String] {
        guard !host.links.isEmpty else { return ["-", "-", "-"] }
        let macs = host.links.map(\.binding.mac.description).joined(separator: " ")
        let vendorCells = host.links.map { link -> String in
            if link.binding.mac.isLocallyAdministered { return "(locally administered)" }
            return vendors?.vendor(of: link.binding.mac).map(shown) ?? "?"
        }
        let vlans = Array(Set(host.links.map(\.vlan))).sorted().map { $0 == 0 ? "-" : vlanText($0) }
        return [macs, vendorCells.joined(separator: "; "), vlans.joined(separator: " ")]
    }

    /// `20`, or `100/20` for an outer and inner tag.
    func vlanText(_ vlan: UInt32) -> String {
        let outer = vlan >> 16, inner = vlan & 0xFFFF
        return inner == 0 ? "\(outer)" : "\(outer)/\(inner)"
    }

    func array(_ items: [String]) -> String { "[" + items.joined(separator: ",") + "]" }

    func services(_ host: Host) -> String {
        guard !host.services.isEmpty else { return "-" }
        return host.services.map { s in
            let to = [s.record.servedInside ? "in" : nil, s.record.servedOutside ? "out" : nil].compactMap { $0 }
            return s.label + "(" + to.joined(separator: "+") + ")"
        }.joined(separator: " ")
    }

    /// A name in a text cell: escaped (one line, nothing that rewrites the terminal) and at most a site-file name's
    /// length. Names read back from a state file were checked by no loader, and every cell of a column is padded to
    /// the widest one: one 100 KB name made a 500 MB report.
    func shown(_ name: String) -> String { DisplayText.escaped(name, maximumBytes: DisplayText.maximumNameBytes) }

    func proto(_ ipProtocol: UInt8) -> String { ipProtocol == IPProtocol.udp ? "udp" : "tcp" }

    func time(_ t: Timestamp) -> String { t.rfc3339(fractionDigits: 0) }

    func section(_ title: String, _ header: [String], _ rows: [[String]]) -> String {
        guard !rows.isEmpty else { return title + "\n  (none)" }
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            var text = " "
            for (i, cell) in cells.enumerated() {
                text += " " + (i == cells.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0))
            }
            return text
        }
        return ([title, line(header)] + rows.map(line)).joined(separator: "\n")
    }
}
