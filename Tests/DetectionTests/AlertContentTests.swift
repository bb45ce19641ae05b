// What alerts carry for an analyst (issue 16, item 4), from the detections: the link layer and the flow so far
// (the packet that raised the alert counted), what a threshold stands for counted past the windows' bounds, what a
// woken host did before its silence, and closing records for what suppression held back.

@testable import Detection
import FlowTracking
import HostBaselines
import PacketDecoding
import SiteModel
import StateCoding
import Testing

/// `packet` as sent from `mac`, on `vlan` (outer, inner).
func framed(_ packet: PacketSummary, from mac: UInt64, to destination: UInt64 = 0x02_00_00_00_00_ff,
            vlan: (UInt16, UInt16) = (0, 0)) -> PacketSummary {
    var p = packet
    p.sourceMAC = mac
    p.destinationMAC = destination
    p.outerVLAN = vlan.0
    p.innerVLAN = vlan.1
    p.vlanCount = vlan.1 != 0 ? 2 : vlan.0 != 0 ? 1 : 0
    return p
}

@Suite("Alert content")
struct AlertContentTests {
    let retired = "hosts: [{ address: 10.0.5.20, name: old-erp, state: decommissioned }]"

    @Test("a flow's alert carries the MAC each side sent from, its VLANs, and counters that include its packet")
    func linkAndFlow() throws {
        var h = try Harness(retired)
        let client: UInt64 = 0x02_00_00_00_00_20, server: UInt64 = 0x02_00_00_00_00_01
        h.feed([framed(tcp("10.0.5.20", 40000, "10.0.5.1", 445, .syn), from: client, to: server, vlan: (10, 20)),
                framed(tcp("10.0.5.1", 445, "10.0.5.20", 40000, [.syn, .ack]), from: server, to: client, vlan: (10, 20))])
        let alert = try #require(h.alerts.first)
        #expect(alert.rule == .decommissionedHostActive)
        #expect(alert.link == AlertLink(sourceMAC: client, destinationMAC: 0, outerVLAN: 10, innerVLAN: 20),
                "the responder had not sent yet: its MAC is unknown, never the one the SYN was addressed to")
        #expect(alert.link.vlans == [10, 20])
        let flow = try #require(alert.flowSoFar)
        #expect(flow.packetsToServer == 1 && flow.bytesToServer == 60, "the SYN that raised it is counted")
        #expect(flow.packetsToClient == 0 && flow.start == start && flow.age == .seconds(0))
    }

    @Test("an ARP-raised alert carries the frame's source MAC and VLAN, and no flow")
    func arpLink() throws {
        var h = try Harness(retired)
        h.feed([framed(arp("10.0.5.20", asks: "10.0.5.1"), from: 0x00_50_56_01_02_03, vlan: (100, 0))])
        let alert = try #require(h.alerts.first)
        #expect(alert.link == AlertLink(sourceMAC: 0x00_50_56_01_02_03, outerVLAN: 100))
        #expect(alert.flowSoFar == nil)
    }

    func portScan(_ h: inout Harness, ports: Int) {
        for port in 0..<ports {
            let p = UInt16(1000 + port)
            h.feed([tcp("10.0.0.5", 50000, "10.0.0.9", p, .syn), tcp("10.0.0.9", p, "10.0.0.5", 50000, [.rst, .ack])])
        }
    }

    @Test("a scan of 1,000 ports says 1,000: the alert at the threshold, the closing record with the count it reached")
    func thousandPorts() throws {
        var h = try Harness()
        portScan(&h, ports: 1000)
        h.finish()
        #expect(h.alerts.map(\.rule) == [.hostScan])
        let alert = h.alerts[0]
        #expect(alert.tally == AlertTally(portsTried: 15, hostsTried: 1))
        #expect(alert.message.contains("15 ports"))
        let record = try #require(h.heldBack.first { $0.rule == .hostScan })
        #expect(record.tally.portsTried == 1000, "past the window's bound of 60 ports")
        #expect(record.held == 985 && record.alert == alert.id && record.occasion == .endOfRun)
        #expect(record.source == ip("10.0.0.5"))
        let state = try #require(h.engine.scans.scanners[ip("10.0.0.5")])
        #expect(state.failedPorts[ip("10.0.0.9")]!.ports.count <= 60, "the window itself stays bounded")
    }

    @Test("an address scan of 300 hosts counts 300 hosts past the window's bound of 100")
    func threeHundredHosts() throws {
        var h = try Harness()
        for host in 0..<300 {
            let target = "10.0.\(1 + host / 250).\(1 + host % 250)"
            h.feed([tcp("10.0.0.5", 50000, target, 445, .syn), tcp(target, 445, "10.0.0.5", 50000, [.rst, .ack])])
        }
        h.finish()
        #expect(h.alerts.map(\.reason) == ["address-scan"])
        #expect(h.alerts[0].tally.hostsTried == 25 && h.alerts[0].tally.portsTried == nil)
        #expect(h.heldBack.first { $0.rule == .hostScan }?.tally.hostsTried == 300)
    }

    @Test("guessing counts every short session and gives the shortest, median and longest of those kept")
    func guessingSessions() throws {
        var h = try Harness()
        // Sessions of 60, 120 and 180 ms (7 packets, 10, 20 or 30 ms apart), one a second: 700 in under 12 minutes
        // of packet time, each well inside the guessing window of the one before.
        for i in 0..<700 {
            h.feed(session("192.0.2.66", UInt16(20000 + i), "10.0.1.1", 22), spacing: .milliseconds(Int64(10 * (i % 3 + 1))))
            h.wait(.seconds(1))
        }
        h.finish()
        let guessing = h.alerts.filter { $0.stage == .guessing }
        #expect(guessing.count == 1)
        #expect(guessing.first?.tally.sessions == 5)
        #expect(guessing.first?.message.contains("5 short sessions within 10m") == true)
        let record = try #require(h.heldBack.first { $0.detail == "guessing" })
        #expect(record.held == 695)
        #expect(record.tally.sessions == 700)
        #expect(record.tally.shortestSession == .milliseconds(60) && record.tally.longestSession == .milliseconds(180))
        #expect(record.tally.medianSession == .milliseconds(120))
    }

    @Test("a dormant host that wakes says when it was last active and what it did then")
    func wokeHost() throws {
        var h = try Harness("learning: { period: 1h, dormant_after: 7d }")
        let lastActive = h.time + .milliseconds(50)  // its FIN, the session's last packet but one
        h.feed(session("10.0.0.7", 40000, "10.0.0.1", 1433))
        h.wait(.seconds(10 * day))
        h.feed([tcp("10.0.0.7", 40001, "10.0.0.2", 80, .syn)])
        let alert = try #require(h.alerts.first { $0.rule == .dormantHostActive })
        #expect(alert.beforeSilence == AlertBeforeSilence(lastActive: lastActive, lastPeer: ip("10.0.0.1"),
                                                          lastPort: 1433, lastProtocol: IPProtocol.tcp,
                                                          lastAsServer: false))
    }

    @Test("a decommissioned server that answers after a silence says what it served last")
    func wokeServer() throws {
        var h = try Harness(retired + "\nlearning: { period: 1h, dormant_after: 7d }")
        h.feed([tcp("10.0.0.3", 40000, "10.0.5.20", 1433, .syn)])  // its last flow: as server, before the silence
        let lastActive = h.time
        h.feed([tcp("10.0.5.20", 1433, "10.0.0.3", 40000, [.syn, .ack])])
        h.wait(.seconds(8 * day))
        h.feed([tcp("10.0.0.4", 40001, "10.0.5.20", 22, .syn), tcp("10.0.5.20", 22, "10.0.0.4", 40001, [.syn, .ack])])
        let answered = try #require(h.alerts.last { $0.reason == "answered" })
        #expect(answered.beforeSilence?.lastActive == lastActive)
        #expect(answered.beforeSilence?.lastPeer == ip("10.0.0.3") && answered.beforeSilence?.lastAsServer == true)
        #expect(answered.beforeSilence?.lastPort == 1433)
    }

    @Test("suppression counts add up: every held-back alert is in a later alert or in one closing record")
    func heldBackAddsUp() throws {
        var h = try Harness(retired)
        for _ in 0..<4 { h.feed([arp("10.0.5.20", asks: "10.0.5.1")]) }
        h.engine.ledger.reportHeldBack(at: h.time, occasion: .interval)
        h.feed([arp("10.0.5.20", asks: "10.0.5.1")])
        h.wait(.seconds(3601))
        h.feed([arp("10.0.5.20", asks: "10.0.5.1"), arp("10.0.5.20", asks: "10.0.5.1")])
        h.finish()
        #expect(h.heldBack.map(\.held) == [3, 1], "3 at the interval; 1 after the next alert, at the end")
        #expect(h.alerts.map(\.suppressedBefore) == [0, 1])
        let reported = h.alerts.reduce(0) { $0 + $1.suppressedBefore } + h.heldBack.reduce(0) { $0 + $1.held }
        #expect(reported == h.engine.ledger.suppressed)
        #expect(h.engine.ledger.heldBackUnreported == 0)
    }

    @Test("a suppression key forgotten to stay bounded reports what it held, instead of losing it")
    func forgottenKeyReports() {
        var configuration = AlertLedgerConfiguration()
        configuration.suppressionCapacity = 4
        var ledger = AlertLedger(configuration: configuration)
        func alert(_ source: String, at second: Int64) -> (Alert, SuppressionKey) {
            let address = ip(source)
            return (Alert(timestamp: start + .seconds(second), rule: .dormantHostActive, severity: 2, message: "m",
                          source: address, host: AlertHost(address: address)),
                    SuppressionKey(rule: .dormantHostActive, source: address))
        }
        for second in 0..<3 {
            let (a, key) = alert("10.0.0.1", at: Int64(second))
            ledger.raise(a, key: key)
        }
        for (i, source) in ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"].enumerated() {
            let (a, key) = alert(source, at: Int64(10 + i))
            ledger.raise(a, key: key)
        }
        #expect(ledger.suppressionForgotten > 0)
        let records = ledger.drainHeldBack()
        #expect(records.count == 1)
        #expect(records.first?.source == ip("10.0.0.1") && records.first?.held == 2)
        #expect(records.first?.occasion == .forgotten && records.first?.alert == 1)
        #expect(records.first?.firstHeld == start + .seconds(1) && records.first?.lastHeld == start + .seconds(2))
    }

    @Test("held-back counts, their alert, span and latest counts survive a save; a version 1 ledger still reads")
    func ledgerSaved() throws {
        var h = try Harness()
        portScan(&h, ports: 40)
        var writer = StateWriter()
        h.engine.ledger.encode(into: &writer)
        var restored = AlertLedger()
        var reader = StateReader(writer.bytes)
        try restored.restore(from: &reader, version: DetectionEngine.ledgerVersion)
        #expect(reader.isAtEnd)
        restored.reportHeldBack(at: h.time, occasion: .endOfRun)
        h.engine.ledger.reportHeldBack(at: h.time, occasion: .endOfRun)
        let before = h.engine.ledger.drainHeldBack(), after = restored.drainHeldBack()
        #expect(after == before && after.first?.tally.portsTried == 40 && after.first?.held == 25)

        // Version 1: the key's time and count only.
        var old = StateWriter()
        old.put(UInt64(7))
        old.putCount(1)
        old.put(RuleID.hostScan.rawValue)
        old.put(ip("10.0.0.5"))
        old.put(false)
        old.put(false)
        old.put("")
        old.put(start)
        old.put(UInt64(3))
        old.putCount(0)
        var v1 = AlertLedger()
        var oldReader = StateReader(old.bytes)
        try v1.restore(from: &oldReader, version: 1)
        v1.reportHeldBack(at: start + .seconds(5), occasion: .endOfRun)
        #expect(v1.drainHeldBack() == [HeldBackRecord(
            timestamp: start + .seconds(5), occasion: .endOfRun, rule: .hostScan, source: ip("10.0.0.5"), held: 3,
            alert: 0, firstHeld: start, lastHeld: start)])
    }

    @Test("scan windows and guessing histories keep their counts across a save; layout 1 sections still read")
    func detectionSectionsSaved() throws {
        var h = try Harness()
        portScan(&h, ports: 70)
        for i in 0..<6 { h.feed(session("192.0.2.66", UInt16(20000 + i), "10.0.1.1", 22)) }
        h.finish()  // the sessions end: short sessions
        var scans = StateWriter()
        h.engine.scans.encode(into: &scans)
        var restoredScans = ScanDetection()
        var reader = StateReader(scans.bytes)
        try restoredScans.restore(from: &reader, version: ScanDetection.stateVersion)
        #expect(reader.isAtEnd)
        #expect(restoredScans.scanners[ip("10.0.0.5")]?.failedPorts[ip("10.0.0.9")]?.tried == 70)
        let guessing = try #require(h.engine.detection(MaintenancePortInbound.self))
        var histories = StateWriter()
        guessing.encode(into: &histories)
        var restoredGuessing = MaintenancePortInbound()
        var historyReader = StateReader(histories.bytes)
        try restoredGuessing.restore(from: &historyReader, version: MaintenancePortInbound.stateVersion)
        #expect(historyReader.isAtEnd)
        let key = MaintenancePortInbound.GuessKey(source: ip("192.0.2.66"), host: ip("10.0.1.1"), port: 22,
                                                  ipProtocol: IPProtocol.tcp)
        #expect(restoredGuessing.shortSessions[key]?.counted == 6)
        #expect(restoredGuessing.shortSessions[key]?.sessions.oldestFirst.map(\.member.duration)
                == guessing.shortSessions[key]?.sessions.oldestFirst.map(\.member.duration))
    }
}
