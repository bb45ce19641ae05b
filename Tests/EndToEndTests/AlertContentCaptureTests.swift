// What alerts carry on the project's sample captures (issue 16, item 4): every alert names the MAC its source sent
// from (the samples are Ethernet), every alert raised on a flow carries the flow's counters, the tagged samples'
// alerts their VLANs, and a replay whose suppression held alerts back ends with closing records that account for
// every one of them.

import Detection
import Foundation
import OutputSinks
import PacketCapture
import PacketDecoding
import SiteModel
import Sensor
import Testing

/// Replays `paths` with `site`: every alert and closing record, and the run's count of alerts held back.
func replayWithHeldBack(_ paths: [String], site: Site) -> (alerts: [Alert], heldBack: [HeldBackRecord], held: UInt64) {
    var configuration = PipelineConfiguration()
    configuration.site = site
    var pipeline = Pipeline(configuration: configuration, output: nil)
    final class Box {
        var alerts: [Alert] = []
        var heldBack: [HeldBackRecord] = []
    }
    let box = Box()
    pipeline.onAlert = { box.alerts.append($0) }
    pipeline.onHeldBack = { box.heldBack.append($0) }
    ReplaySource(paths: paths).run(&pipeline)
    pipeline.finish()
    return (box.alerts, box.heldBack, pipeline.analyzer.engine.ledger.suppressed)
}

@Suite("Alert content on the sample captures")
struct AlertContentCaptureTests {
    /// The sample cases of the golden baselines: each capture with its own site file, and all of them together.
    var cases: [(site: String, paths: [String])] {
        get throws {
            let tsv = try String(contentsOf: TestPaths.packageRoot.appendingPathComponent("Tests/Baselines/cases.tsv"),
                                 encoding: .utf8)
            return tsv.split(separator: "\n").compactMap { line in
                let fields = line.split(separator: "\t").map(String.init)
                guard fields.count == 3, !line.hasPrefix("#"), fields[2].hasPrefix("captures") else { return nil }
                return (fields[1], [TestPaths.packageRoot.appendingPathComponent(fields[2]).path])
            }
        }
    }

    @Test("every alert carries src_mac; every alert raised on a flow carries its counters, its packet included")
    func macAndFlowOnEveryAlert() throws {
        var seen = 0
        for (sitePath, paths) in try cases {
            let yaml = try String(contentsOf: TestPaths.packageRoot.appendingPathComponent(sitePath), encoding: .utf8)
            let (alerts, _, _) = replayWithHeldBack(paths, site: try site(yaml))
            for alert in alerts {
                seen += 1
                #expect(alert.link.sourceMAC != 0, "\(sitePath): \(AlertFormatter.text(alert))")
                let fromARP = alert.reason == "arp" || alert.reason == "arp-sweep"
                if fromARP {
                    #expect(alert.flowSoFar == nil)
                } else {
                    let flow = try #require(alert.flowSoFar, "\(sitePath): \(AlertFormatter.text(alert))")
                    #expect(flow.packetsToServer + flow.packetsToClient >= 1)
                    #expect(flow.bytesToServer + flow.bytesToClient >= 42, "at least one minimal frame")
                }
                let json = AlertFormatter.json(alert)
                #expect(json.contains(#""src_mac":""#))
                #expect(json.contains(#""flow":{"pkts_toserver":"#) != fromARP)
            }
        }
        #expect(seen >= 20, "the samples raise alerts of every rule")
    }

    @Test("the tagged samples' alerts carry their VLANs: [100] on vlan-tagged, [200, 300] on qinq")
    func vlans() throws {
        for (name, server, tags) in [("vlan-tagged.pcap", "10.100.0.2", [UInt16(100)]),
                                     ("qinq.pcap", "10.200.0.2", [200, 300])] {
            let retired = try site("hosts: [{ address: \(server), name: retired, state: decommissioned }]")
            let (alerts, _, _) = replayWithHeldBack([TestPaths.captures.appendingPathComponent(name).path], site: retired)
            #expect(!alerts.isEmpty, "\(name)")
            for alert in alerts {
                #expect(alert.link.vlans == tags, "\(name): \(AlertFormatter.text(alert))")
                #expect(AlertFormatter.json(alert).contains(#""vlan":[\#(tags.map { String($0) }.joined(separator: ","))]"#))
            }
        }
    }

    @Test("closing records account for every alert held back: with suppressed_before, the run's held-back figure")
    func closingRecordsAddUp() throws {
        let yaml = try String(contentsOf: TestPaths.captures.appendingPathComponent("site.yaml"), encoding: .utf8)
        let (alerts, heldBack, held) = replayWithHeldBack([TestPaths.captures.path], site: try site(yaml))
        #expect(held > 0, "the samples repeat alerts within the suppression hour")
        #expect(!heldBack.isEmpty && heldBack.allSatisfy { $0.occasion == .endOfRun && $0.held > 0 })
        let reported = alerts.reduce(0) { $0 + $1.suppressedBefore } + heldBack.reduce(0) { $0 + $1.held }
        #expect(reported == held)
        // Each record names the alert it was held against, which was raised in this run with the same rule.
        for record in heldBack {
            let alert = try #require(alerts.first { $0.id == record.alert })
            #expect(alert.rule == record.rule)
            #expect(record.firstHeld >= alert.timestamp && record.lastHeld >= record.firstHeld)
            #expect(!AlertFormatter.json(record).contains(#""event_type":"alert""#))
        }
    }
}
