// What an alert carries for an analyst (issue 16, item 4), byte for byte in JSON, text and syslog: the MACs and VLAN
// tags, the flow so far, the counts behind a threshold, what a woken host did before its silence, and the closing
// record of what suppression held back.

import Detection
import OutputSinks
import PacketDecoding
import SiteModel
import Testing

enum ContentSamples {
    /// A port scan on a Q-in-Q link whose closing count reached 1,000 ports.
    static var scan: Alert {
        var alert = Alert(
            timestamp: Timestamp(seconds: 1_763_769_600), rule: .hostScan, severity: 2,
            message: "local host 10.0.0.5 failed to connect to 15 ports of 10.0.0.9 within 5m: port scan",
            reason: "port-scan", source: IPAddress("10.0.0.5")!, destination: IPAddress("10.0.0.9")!, ipProtocol: 6,
            host: AlertHost(address: IPAddress("10.0.0.5")!))
        alert.id = 9
        alert.incident = 9
        alert.link = AlertLink(sourceMAC: 0x02_00_00_00_00_05, destinationMAC: 0x02_00_00_00_00_09, outerVLAN: 200,
                               innerVLAN: 300)
        alert.flowSoFar = AlertFlow(packetsToServer: 1, packetsToClient: 1, bytesToServer: 74, bytesToClient: 54,
                                    start: Timestamp(seconds: 1_763_769_599), age: .milliseconds(1500))
        alert.tally = AlertTally(portsTried: 1000, hostsTried: 1)
        return alert
    }

    /// Password guessing on one tag, with the sessions' lengths.
    static var guessing: Alert {
        var alert = Alert(
            timestamp: Timestamp(seconds: 1_763_769_700), rule: .maintenancePortInbound, severity: 1,
            message: "guessing", reason: "undeclared", stage: .guessing, source: IPAddress("192.0.2.66")!,
            sourcePort: 40004, destination: IPAddress("10.0.1.1")!, destinationPort: 22, ipProtocol: 6, flowID: 5,
            host: AlertHost(address: IPAddress("10.0.1.1")!))
        alert.id = 4
        alert.incident = 1
        alert.link = AlertLink(sourceMAC: 0x00_1b_21_aa_bb_cc, outerVLAN: 100)
        alert.flowSoFar = AlertFlow(packetsToServer: 4, packetsToClient: 3, bytesToServer: 300, bytesToClient: 260,
                                    start: Timestamp(seconds: 1_763_769_699), age: .milliseconds(60))
        alert.tally = AlertTally(sessions: 700, shortestSession: .milliseconds(60), medianSession: .milliseconds(120),
                                 longestSession: .milliseconds(2500))
        return alert
    }

    /// A decommissioned host's ARP after a silence: its last flow before it, no flow of its own now.
    static var woke: Alert {
        var alert = Alert(
            timestamp: Timestamp(seconds: 1_763_769_800), rule: .decommissionedHostActive, severity: 1,
            message: "decommissioned host old-erp (10.0.5.20) sent ARP for 10.0.5.1", reason: "arp",
            source: IPAddress("10.0.5.20")!, destination: IPAddress("10.0.5.1")!,
            host: AlertHost(address: IPAddress("10.0.5.20")!, name: "old-erp", state: .decommissioned))
        alert.id = 7
        alert.incident = 7
        alert.link = AlertLink(sourceMAC: 0x00_50_56_01_02_03)
        alert.beforeSilence = AlertBeforeSilence(lastActive: Timestamp(seconds: 1_762_905_600),
                                                 lastPeer: IPAddress("10.0.5.9")!, lastPort: 1433, lastProtocol: 6,
                                                 lastAsServer: true)
        return alert
    }

    /// What the scan's key held back until the end of the run.
    static var heldBack: HeldBackRecord {
        HeldBackRecord(timestamp: Timestamp(seconds: 1_763_769_900), occasion: .endOfRun, rule: .hostScan,
                       source: IPAddress("10.0.0.5")!, held: 985, alert: 9,
                       firstHeld: Timestamp(seconds: 1_763_769_601), lastHeld: Timestamp(seconds: 1_763_769_650),
                       tally: AlertTally(portsTried: 1000, hostsTried: 1))
    }

    /// Guessing's: a destination, a port and a detail; the alert it was held against is unknown (an older file).
    static var heldBackGuessing: HeldBackRecord {
        HeldBackRecord(timestamp: Timestamp(seconds: 1_763_769_900), occasion: .interval,
                       rule: .maintenancePortInbound, source: IPAddress("192.0.2.66")!,
                       destination: IPAddress("10.0.1.1")!, port: 22, detail: "guessing", held: 1, alert: 0,
                       firstHeld: Timestamp(seconds: 1_763_769_800), lastHeld: Timestamp(seconds: 1_763_769_800),
                       tally: AlertTally(sessions: 701, shortestSession: .milliseconds(60),
                                         medianSession: .milliseconds(120), longestSession: .milliseconds(2500)))
    }
}

@Suite("Alert content")
struct AlertContentFormatTests {
    let formatter5424 = try! SyslogFormatter(format: .rfc5424, hostname: "sensor1", processID: 4242)
    let formatter3164 = try! SyslogFormatter(format: .rfc3164, hostname: "sensor1", processID: 4242)

    @Test("JSON: vlan, src_mac, dest_mac, the flow so far, ports and hosts tried")
    func scanJSON() {
        #expect(AlertFormatter.json(ContentSamples.scan) == #"{"timestamp":"2025-11-22T00:00:00.000000Z","event_type":"alert","vlan":[200,300],"src_ip":"10.0.0.5","dest_ip":"10.0.0.9","proto":"TCP","src_mac":"02:00:00:00:00:05","dest_mac":"02:00:00:00:00:09","alert":{"id":9,"rule":"host-scan","severity":2,"message":"local host 10.0.0.5 failed to connect to 15 ports of 10.0.0.9 within 5m: port scan","reason":"port-scan","stage":null,"incident":9,"ports_tried":1000,"hosts_tried":1},"flow":{"pkts_toserver":1,"pkts_toclient":1,"bytes_toserver":74,"bytes_toclient":54,"start":"2025-11-21T23:59:59.000000Z","age":1.500000},"host":{"address":"10.0.0.5","name":null,"state":null}}"#)
    }

    @Test("JSON: guessing sessions and their shortest, median and longest lengths; one VLAN tag; no dest_mac")
    func guessingJSON() {
        #expect(AlertFormatter.json(ContentSamples.guessing) == #"{"timestamp":"2025-11-22T00:01:40.000000Z","flow_id":5,"event_type":"alert","vlan":[100],"src_ip":"192.0.2.66","src_port":40004,"dest_ip":"10.0.1.1","dest_port":22,"proto":"TCP","community_id":"1:if2IaxX8IqIUTt46pQHr1GncM7g=","src_mac":"00:1b:21:aa:bb:cc","alert":{"id":4,"rule":"maintenance-port-inbound","severity":1,"message":"guessing","reason":"undeclared","stage":"guessing","incident":1,"sessions":700,"session_shortest":0.060000,"session_median":0.120000,"session_longest":2.500000},"flow":{"pkts_toserver":4,"pkts_toclient":3,"bytes_toserver":300,"bytes_toclient":260,"start":"2025-11-22T00:01:39.000000Z","age":0.060000},"host":{"address":"10.0.1.1","name":null,"state":null}}"#)
    }

    @Test("JSON: a woken host's last activity, peer, service and role; an ARP alert has no flow")
    func wokeJSON() {
        #expect(AlertFormatter.json(ContentSamples.woke) == #"{"timestamp":"2025-11-22T00:03:20.000000Z","event_type":"alert","src_ip":"10.0.5.20","dest_ip":"10.0.5.1","src_mac":"00:50:56:01:02:03","alert":{"id":7,"rule":"decommissioned-host-active","severity":1,"message":"decommissioned host old-erp (10.0.5.20) sent ARP for 10.0.5.1","reason":"arp","stage":null,"incident":7,"last_active_before":"2025-11-12T00:00:00.000000Z","last_peer":"10.0.5.9","last_service":"tcp/1433","last_role":"server"},"host":{"address":"10.0.5.20","name":"old-erp","state":"decommissioned"}}"#)
    }

    @Test("text: the details follow the message, each in brackets")
    func text() {
        #expect(AlertFormatter.text(ContentSamples.scan) == "2025-11-22T00:00:00.000000Z sev2 host-scan 10.0.0.5 -> 10.0.0.9: local host 10.0.0.5 failed to connect to 15 ports of 10.0.0.9 within 5m: port scan (alert 9) [src_mac 02:00:00:00:00:05, dest_mac 02:00:00:00:00:09, vlan 200/300] [flow pkts 1/1, bytes 74/54, age 1.500s] [ports_tried 1000, hosts_tried 1]")
        #expect(AlertFormatter.text(ContentSamples.guessing) == "2025-11-22T00:01:40.000000Z sev1 maintenance-port-inbound [guessing] 192.0.2.66:40004 -> 10.0.1.1:22: guessing (alert 4, incident 1) [src_mac 00:1b:21:aa:bb:cc, vlan 100] [flow pkts 4/3, bytes 300/260, age 0.060s] [sessions 700, shortest 0.060s, median 0.120s, longest 2.500s]")
        #expect(AlertFormatter.text(ContentSamples.woke) == "2025-11-22T00:03:20.000000Z sev1 decommissioned-host-active 10.0.5.20 -> 10.0.5.1: decommissioned host old-erp (10.0.5.20) sent ARP for 10.0.5.1 (alert 7) [src_mac 00:50:56:01:02:03] [last active before 2025-11-12T00:00:00.000000Z: server to 10.0.5.9 tcp/1433]")
    }

    @Test("syslog structured data: MACs, VLANs, the flow so far, the counts, the waking")
    func syslog() {
        #expect(formatter5424.structuredData(ContentSamples.scan) == #"[idlewatch@32473 rule="host-scan" severity="2" src="10.0.0.5" dst="10.0.0.9" proto="TCP" reason="port-scan" incident="9" alert="9" host="10.0.0.5" srcmac="02:00:00:00:00:05" dstmac="02:00:00:00:00:09" vlan="200,300" pkts_toserver="1" pkts_toclient="1" bytes_toserver="74" bytes_toclient="54" flow_start="2025-11-21T23:59:59.000000Z" flow_age="1.500000" ports_tried="1000" hosts_tried="1"]"#)
        #expect(formatter5424.structuredData(ContentSamples.guessing).hasSuffix(#" srcmac="00:1b:21:aa:bb:cc" vlan="100" pkts_toserver="4" pkts_toclient="3" bytes_toserver="300" bytes_toclient="260" flow_start="2025-11-22T00:01:39.000000Z" flow_age="0.060000" sessions="700" session_shortest="0.060000" session_median="0.120000" session_longest="2.500000"]"#))
        #expect(formatter5424.structuredData(ContentSamples.woke) == #"[idlewatch@32473 rule="decommissioned-host-active" severity="1" src="10.0.5.20" dst="10.0.5.1" reason="arp" incident="7" alert="7" host="10.0.5.20" hostname="old-erp" hoststate="decommissioned" srcmac="00:50:56:01:02:03" last_active_before="2025-11-12T00:00:00.000000Z" last_peer="10.0.5.9" last_service="tcp/1433" last_role="server"]"#)
    }

    @Test("the closing record: alert_summary in JSON (not alert), its text line, its syslog message")
    func closingRecord() {
        #expect(AlertFormatter.json(ContentSamples.heldBack) == #"{"timestamp":"2025-11-22T00:05:00.000000Z","event_type":"alert_summary","src_ip":"10.0.0.5","alert_summary":{"rule":"host-scan","held_back":985,"alert":9,"first_held":"2025-11-22T00:00:01.000000Z","last_held":"2025-11-22T00:00:50.000000Z","reason":"end-of-run","ports_tried":1000,"hosts_tried":1}}"#)
        #expect(AlertFormatter.json(ContentSamples.heldBackGuessing) == #"{"timestamp":"2025-11-22T00:05:00.000000Z","event_type":"alert_summary","src_ip":"192.0.2.66","dest_ip":"10.0.1.1","dest_port":22,"alert_summary":{"rule":"maintenance-port-inbound","held_back":1,"alert":null,"first_held":"2025-11-22T00:03:20.000000Z","last_held":"2025-11-22T00:03:20.000000Z","detail":"guessing","reason":"interval","sessions":701,"session_shortest":0.060000,"session_median":0.120000,"session_longest":2.500000}}"#)
        #expect(AlertFormatter.text(ContentSamples.heldBack) == "2025-11-22T00:05:00.000000Z alert-summary host-scan 10.0.0.5: 985 similar alerts held back after alert 9, 2025-11-22T00:00:01.000000Z to 2025-11-22T00:00:50.000000Z (end-of-run) [ports_tried 1000, hosts_tried 1]")
        #expect(AlertFormatter.text(ContentSamples.heldBackGuessing) == "2025-11-22T00:05:00.000000Z alert-summary maintenance-port-inbound 192.0.2.66 -> 10.0.1.1:22: 1 similar alert held back, 2025-11-22T00:03:20.000000Z to 2025-11-22T00:03:20.000000Z (interval, guessing) [sessions 701, shortest 0.060s, median 0.120s, longest 2.500s]")
        let message = String(decoding: formatter5424.message(ContentSamples.heldBack), as: UTF8.self)
        #expect(message == #"<133>1 2025-11-22T00:05:00.000000Z sensor1 idlewatch 4242 alert-summary [idlewatch@32473 event="alert_summary" rule="host-scan" src="10.0.0.5" held="985" alert="9" first_held="2025-11-22T00:00:01.000000Z" last_held="2025-11-22T00:00:50.000000Z" reason="end-of-run" ports_tried="1000" hosts_tried="1"] 2025-11-22T00:05:00.000000Z alert-summary host-scan 10.0.0.5: 985 similar alerts held back after alert 9, 2025-11-22T00:00:01.000000Z to 2025-11-22T00:00:50.000000Z (end-of-run) [ports_tried 1000, hosts_tried 1]"#)
        let bsd = String(decoding: formatter3164.message(ContentSamples.heldBack), as: UTF8.self)
        #expect(bsd == "<133>Nov 22 00:05:00 sensor1 idlewatch[4242]: 2025-11-22T00:05:00.000000Z alert-summary host-scan 10.0.0.5: 985 similar alerts held back after alert 9, 2025-11-22T00:00:01.000000Z to 2025-11-22T00:00:50.000000Z (end-of-run) [ports_tried 1000, hosts_tried 1]")
    }
}
