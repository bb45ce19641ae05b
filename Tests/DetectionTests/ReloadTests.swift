// A site file reloaded (SIGHUP) while flows are open: every per-flow reference to the site must follow the new
// file. Flows to a declared maintenance port once held the port's position in the site's list, which a reload did
// not re-map: a port removed from the file trapped (`Index out of range`) at the flow's next stage, and a reordered
// list named the wrong port. Each test opens a flow under one site file, reloads another, then lets the flow go on.

@testable import Detection
import FlowTracking
import PacketDecoding
import SiteModel
import StateCoding
import Testing

@Suite("site reload with open flows")
struct ReloadTests {
    static let header = """
        local_networks: [10.0.0.0/8]
        hosts:
          - { address: 10.0.5.30, name: erp-app, state: active }
          - { address: 10.0.5.31, name: erp-db, state: active }

        """
    static let vendor = "  - { name: vendor-ssh, host: 10.0.5.30, port: 22, allowed_sources: [198.51.100.0/24] }\n"
    static let vendorRenamed = "  - { name: erp-vendor-ssh, host: 10.0.5.30, port: 22, allowed_sources: [198.51.100.0/24] }\n"
    static let other = "  - { name: db-vendor, host: 10.0.5.31, port: 2222, allowed_sources: [198.51.100.0/24] }\n"
    static let custom = "  - { name: erp-custom, host: 10.0.5.30, port: 8022, allowed_sources: [198.51.100.0/24] }\n"

    static func site(_ ports: String...) throws -> Site {
        try SiteLoader.parse(header + (ports.isEmpty ? "" : "maintenance_ports:\n" + ports.joined()), path: "site.yaml")
    }

    /// The client's half: handshake done (probe and open raised), data still to come.
    static func opening(_ client: String, _ port: UInt16, _ server: String, _ serverPort: UInt16) -> [PacketSummary] {
        [tcp(client, port, server, serverPort, .syn), tcp(server, serverPort, client, port, [.syn, .ack]),
         tcp(client, port, server, serverPort, .ack)]
    }

    /// Data both ways, then the close: the session stage.
    static func rest(_ client: String, _ port: UInt16, _ server: String, _ serverPort: UInt16) -> [PacketSummary] {
        [tcp(client, port, server, serverPort, [.psh, .ack], payload: 20),
         tcp(server, serverPort, client, port, [.psh, .ack], payload: 40),
         tcp(client, port, server, serverPort, [.fin, .ack]), tcp(server, serverPort, client, port, [.fin, .ack])]
    }

    func stages(_ alerts: [Alert]) -> [String] {
        alerts.filter { $0.rule == .maintenancePortInbound }.map { "\($0.stage!) \($0.reason!)" }
    }

    /// Opens a flow from an outside source to 10.0.5.30:`port` under `before`, reloads `after`, finishes the flow;
    /// returns the alerts raised after the reload.
    func run(before: Site, after: Site, port: UInt16 = 22) throws -> (before: [Alert], after: [Alert]) {
        var h = try Harness()
        h.engine.replaceSite(before, openFlows: &h.flows)
        h.feed(Self.opening("192.0.2.66", 40000, "10.0.5.30", port))
        let first = h.alerts
        h.alerts = []
        h.engine.replaceSite(after, openFlows: &h.flows)
        h.feed(Self.rest("192.0.2.66", 40000, "10.0.5.30", port))
        h.finish()
        return (first, h.alerts)
    }

    @Test("a maintenance port removed while a flow to it is open: no trap; the flow is judged by the new file")
    func portRemoved() throws {
        // Port 22 is also a default remote-administration port: once undeclared it is watched as one.
        let r = try run(before: Self.site(Self.vendor), after: Self.site())
        #expect(stages(r.before) == ["probe source-not-allowed", "open source-not-allowed"])
        #expect(stages(r.after) == ["session undeclared"])
        #expect(r.after.first?.message.contains("remote-administration port 10.0.5.30:22/tcp") == true,
                "\(r.after.map(\.message))")
        // A port that is no remote-administration port is not watched at all once undeclared.
        let custom = try run(before: Self.site(Self.custom), after: Self.site(), port: 8022)
        #expect(stages(custom.before) == ["probe source-not-allowed", "open source-not-allowed"])
        #expect(stages(custom.after) == [])
    }

    @Test("maintenance ports reordered while a flow is open: later alerts name the flow's own port")
    func portsReordered() throws {
        let r = try run(before: Self.site(Self.vendor, Self.other), after: Self.site(Self.other, Self.vendor))
        #expect(stages(r.after) == ["session source-not-allowed"])
        #expect(r.after.first?.message.contains("maintenance port vendor-ssh (10.0.5.30:22/tcp)") == true,
                "\(r.after.map(\.message))")
        // With one port removed before it, the flow's port moves up the list: still named right, no trap.
        let removedBefore = try run(before: Self.site(Self.other, Self.vendor), after: Self.site(Self.vendor))
        #expect(removedBefore.after.first?.message.contains("maintenance port vendor-ssh") == true,
                "\(removedBefore.after.map(\.message))")
    }

    @Test("a maintenance port renamed while a flow is open: later alerts carry the new name")
    func portRenamed() throws {
        let r = try run(before: Self.site(Self.vendor), after: Self.site(Self.vendorRenamed))
        #expect(stages(r.after) == ["session source-not-allowed"])
        #expect(r.after.first?.message.contains("maintenance port erp-vendor-ssh (10.0.5.30:22/tcp)") == true,
                "\(r.after.map(\.message))")
    }

    @Test("a port declared by the reload for a flow already open: judged from then on")
    func portAdded() throws {
        let r = try run(before: Self.site(), after: Self.site(Self.custom), port: 8022)
        #expect(stages(r.before) == [])
        #expect(stages(r.after) == ["session source-not-allowed"])
    }

    @Test("an inventory entry changed while a flow is open: later alerts name the host as the new file does")
    func inventoryChanged() throws {
        let renamed = try SiteLoader.parse("""
            local_networks: [10.0.0.0/8]
            hosts:
              - { address: 10.0.5.31, name: erp-db, state: active }
              - { address: 10.0.5.30, name: erp-application, state: active }
            maintenance_ports:
            \(Self.vendor)
            """, path: "site.yaml")
        let r = try run(before: Self.site(Self.vendor), after: renamed)
        #expect(r.before.last?.host.name == "erp-app")
        #expect(r.after.map(\.host.name) == ["erp-application"])
        // Declared decommissioned by the reload: its answer in the open flow is a decommissioned host answering.
        var h = try Harness(Self.header)
        h.feed([tcp("10.0.1.1", 40000, "10.0.5.31", 5432, .syn)])
        h.engine.replaceSite(try SiteLoader.parse("""
            local_networks: [10.0.0.0/8]
            hosts: [{ address: 10.0.5.31, name: retired-db, state: decommissioned }]
            """, path: "site.yaml"), openFlows: &h.flows)
        h.feed([tcp("10.0.5.31", 5432, "10.0.1.1", 40000, [.syn, .ack])])
        #expect(h.alerts.map { "\($0.rule.rawValue) \($0.host.name ?? "-")" } == ["decommissioned-host-active retired-db"])
    }

    @Test("the exposure ledger names the port as the reloaded file does, and takes no trap on a removed one")
    func exposureAfterReload() throws {
        var h = try Harness()
        h.engine.replaceSite(try Self.site(Self.other, Self.vendor), openFlows: &h.flows)
        // Answered, not yet past the handshake: the ledger notes `open` at established, `session` at data.
        h.feed([tcp("192.0.2.66", 40000, "10.0.5.30", 22, .syn), tcp("10.0.5.30", 22, "192.0.2.66", 40000, [.syn, .ack])])
        h.engine.replaceSite(try Self.site(Self.vendorRenamed), openFlows: &h.flows)
        h.feed([tcp("192.0.2.66", 40000, "10.0.5.30", 22, .ack)] + Self.rest("192.0.2.66", 40000, "10.0.5.30", 22))
        let key = ExposureKey(host: ip("10.0.5.30"), port: 22, ipProtocol: IPProtocol.tcp, source: ip("192.0.2.66"))
        #expect(h.engine.exposures[key]?.name == "erp-vendor-ssh", "the entry follows the port's name")
        #expect(h.engine.exposures[key]?.stage == .session)
    }

    @Test("a state saved with a flow to a maintenance port, restored under a file that moved, renamed or removed it")
    func restoreUnderAnotherSite() throws {
        var h = try Harness()
        h.engine.replaceSite(try Self.site(Self.vendor, Self.other), openFlows: &h.flows)
        h.feed(Self.opening("192.0.2.66", 40000, "10.0.5.30", 22))
        var sections: [String: StateSection] = [:]
        for (name, version) in h.engine.sections {
            var writer = StateWriter()
            h.engine.encodeSection(name, openFlows: h.flows, into: &writer)
            sections[name] = StateSection(version: version, data: writer.bytes)
        }
        func resumed(under site: Site) throws -> [String] {
            var later = h
            later.alerts = []
            _ = try later.engine.restore(sections: sections, openFlows: &later.flows)
            later.engine.replaceSite(site, openFlows: &later.flows)
            later.feed(Self.rest("192.0.2.66", 40000, "10.0.5.30", 22))
            return later.alerts.map(\.message)
        }
        #expect(try resumed(under: Self.site(Self.other, Self.vendorRenamed)).first?
            .contains("maintenance port erp-vendor-ssh (10.0.5.30:22/tcp) from a source not allowed") == true)
        #expect(try resumed(under: Self.site(Self.other)).first?
            .contains("remote-administration port 10.0.5.30:22/tcp which is not declared") == true)
    }
}
