// Capture-health alerts on their own path (issue 15, item 8): judged on the sensor's monotonic clock, numbered in
// the one sequence of alert ids, never through the ledger's packet-time suppression. In process: repeats held back
// and counted, incidents linked. Live: a second silence of the port within the hour is reported (the ledger's
// suppression used to hold it back, so it was lost).

import Detection
import Foundation
import Glibc
import OutputSinks
import PacketDecoding
import Sensor
import Testing

@Suite("Capture-health path")
struct SensorHealthTests {
    @Test("capture health: repeat-limited rules once per interval with the held-back count on the next; others every time; one incident within the window")
    func health() {
        var configuration = AlertLedgerConfiguration()
        configuration.suppressionInterval = .seconds(3600)
        configuration.incidentWindow = .seconds(86_400)
        var health = SensorHealth(configuration: configuration)
        #expect(health.admit(.captureLoss, at: 0, limitRepeats: true) == 0)
        #expect(health.admit(.captureLoss, at: 10, limitRepeats: true) == nil)
        #expect(health.admit(.captureLoss, at: 20, limitRepeats: true) == nil)
        #expect(health.admit(.captureLoss, at: 3600, limitRepeats: true) == 2)
        #expect(health.admit(.captureSilent, at: 3601, limitRepeats: false) == 0)
        #expect(health.admit(.captureSilent, at: 3602, limitRepeats: false) == 0)

        // Numbered by the ledger in the one sequence, linked by the health path.
        var pipeline = Pipeline(configuration: PipelineConfiguration(), output: nil)
        let silent = Alert(timestamp: Timestamp(seconds: 1_800_000_000), rule: .captureSilent, severity: 2, message: "no packet",
                           source: .unspecified, host: AlertHost(address: .unspecified))
        #expect(health.incident(at: 0) == nil)
        let first = pipeline.raiseSensorAlert(silent, incident: health.incident(at: 0), heldBefore: 0)
        health.noteRaised(first, at: 0)
        let second = pipeline.raiseSensorAlert(silent, incident: health.incident(at: 500), heldBefore: 0)
        health.noteRaised(second, at: 500)
        #expect(first.id == 1 && first.incident == 1 && second.id == 2 && second.incident == 1)
        #expect(health.incident(at: 500 + 86_401) == nil)
        #expect(pipeline.analyzer.engine.ledger.raised == 2)
        pipeline.countSensorAlertHeldBack(.captureLoss)
        #expect(pipeline.analyzer.engine.ledger.suppressed == 1)
    }
}

@Suite("Capture-health closing records")
struct SensorHealthHeldBackTests {
    @Test("capture-loss repeats held back are reported in a closing record with the interface, counted once")
    func heldBackReported() {
        var health = SensorHealth(configuration: AlertLedgerConfiguration())
        var pipeline = Pipeline(configuration: PipelineConfiguration(), output: nil)
        final class Box { var records: [HeldBackRecord] = [] }
        let box = Box()
        pipeline.onHeldBack = { box.records.append($0) }
        let noticed = Timestamp(seconds: 1_800_000_000)
        #expect(health.admit(.captureLoss, at: 0, limitRepeats: true) == 0)
        let loss = Alert(timestamp: noticed, rule: .captureLoss, severity: 2, message: "lost", source: .unspecified,
                         host: AlertHost(address: .unspecified))
        health.noteRaised(pipeline.raiseSensorAlert(loss, incident: nil, heldBefore: 0), at: 0)
        for second in [10, 20, 30] {
            #expect(health.admit(.captureLoss, at: Double(second), limitRepeats: true) == nil)
            health.noteHeldBack(.captureLoss, at: noticed + .seconds(Int64(second)))
        }
        pipeline.writeHeldBack(health.takeHeldBack(at: noticed + .seconds(40), occasion: .interval, interface: "eth0"))
        #expect(box.records.count == 1)
        let record = box.records[0]
        #expect(record.held == 3 && record.alert == 1 && record.interface == "eth0")
        #expect(record.firstHeld == noticed + .seconds(10) && record.lastHeld == noticed + .seconds(30))
        #expect(AlertFormatter.json(record) == #"{"timestamp":"2027-01-15T08:00:40.000000Z","event_type":"alert_summary","alert_summary":{"rule":"capture-loss","held_back":3,"alert":1,"first_held":"2027-01-15T08:00:10.000000Z","last_held":"2027-01-15T08:00:30.000000Z","reason":"interval"},"sensor":{"interface":"eth0"}}"#)
        #expect(AlertFormatter.text(record) == "2027-01-15T08:00:40.000000Z alert-summary capture-loss eth0: 3 similar alerts held back after alert 1, 2027-01-15T08:00:10.000000Z to 2027-01-15T08:00:30.000000Z (interval)")
        // Counted once: the next loss alert says nothing was held back before it; nothing is left to report.
        #expect(health.admit(.captureLoss, at: 3600, limitRepeats: true) == 0)
        #expect(health.takeHeldBack(at: noticed + .seconds(3600), occasion: .endOfRun, interface: "eth0").isEmpty)
    }
}

@Suite("idlewatch live: capture health", .serialized, .enabled(if: geteuid() == 0, "needs root for a veth pair and a namespace"))
struct SensorHealthLiveTests {
    @Test("capture-silent for every silence: a packet between two silences, two alerts, the second continuing the first's incident")
    func everySilenceReported() throws {
        let link = try TestLink()
        let live = try LiveProcess(["-i", link.local, "--format", "json", "--silent-after", "1", "--stats-interval", "0",
                                    "--user", "root", "udp and port 7"])
        #expect(live.waitForError("capturing on"))
        func silences() -> [[String: Any]] {
            ((try? parseJSONLines(live.standardOutput)) ?? []).filter {
                ($0["alert"] as? [String: Any])?["rule"] as? String == "capture-silent"
            }
        }
        func waitFor(_ count: Int) -> Bool {
            let deadline = Date().addingTimeInterval(15)
            while Date() < deadline {
                if silences().count >= count { return true }
                usleep(50_000)
            }
            return false
        }
        #expect(waitFor(1), "\(live.standardOutput)")
        link.sendUDP(toPorts: 7...7)  // the port is alive again
        #expect(waitFor(2), "\(live.standardOutput)\n\(live.standardError)")
        live.signal(SIGTERM)
        #expect(live.waitForExit() == 0)
        let alerts = silences()
        #expect(alerts.count == 2, "\(live.standardOutput)")
        guard alerts.count == 2 else { return }
        let first = alerts[0]["alert"] as? [String: Any], second = alerts[1]["alert"] as? [String: Any]
        let firstID = (first?["id"] as? NSNumber)?.intValue
        #expect(firstID != nil && (second?["incident"] as? NSNumber)?.intValue == firstID, "\(alerts)")
        #expect((second?["id"] as? NSNumber)?.intValue == (firstID ?? 0) + 1)
        #expect(second?["suppressed_before"] == nil)
    }
}
