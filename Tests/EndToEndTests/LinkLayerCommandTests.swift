// MAC bindings through the command line: saved in the state file's `hosts.macs` section and shown by `idlewatch
// hosts` with vendors from an OUI list (a tiny one the test writes, so it does not depend on ieee-data); and real
// captures with gratuitous ARP from the corpus as benign controls for the layer-2 rules.

import Foundation
import Testing

/// Frames for a classic pcap file (Ethernet, microseconds), built byte by byte.
struct FrameCapture {
    var records: [(seconds: UInt32, bytes: [UInt8])] = []

    static func mac(_ value: UInt64) -> [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: value >> (40 - 8 * UInt64($0))) } }
    static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
    static func ethernet(from source: UInt64, to destination: UInt64, vlan: UInt16, type: UInt16) -> [UInt8] {
        mac(destination) + mac(source) + (vlan == 0 ? [] : be16(0x8100) + be16(vlan)) + be16(type)
    }

    /// An ARP request (or reply) from `sender` at `senderMAC` about `target`.
    mutating func arp(at seconds: UInt32, _ senderMAC: UInt64, _ sender: [UInt8], _ target: [UInt8], reply: Bool = false,
                      to targetMAC: UInt64 = 0, vlan: UInt16 = 0) {
        let body: [UInt8] = [0, 1, 8, 0, 6, 4, 0, reply ? 2 : 1] + Self.mac(senderMAC) + sender + Self.mac(targetMAC) + target
        records.append((seconds, Self.ethernet(from: senderMAC, to: reply ? targetMAC : 0xFFFF_FFFF_FFFF, vlan: vlan,
                                               type: 0x0806) + body))
    }

    /// A TCP segment (IPv4, no options, checksums zero).
    mutating func tcp(at seconds: UInt32, _ sourceMAC: UInt64, _ destinationMAC: UInt64, _ source: [UInt8], _ sourcePort: UInt16,
                      _ destination: [UInt8], _ destinationPort: UInt16, flags: UInt8, vlan: UInt16 = 0) {
        let ipv4: [UInt8] = [0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0] + source + destination
        let segment: [UInt8] = Self.be16(sourcePort) + Self.be16(destinationPort) + [0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]
        records.append((seconds, Self.ethernet(from: sourceMAC, to: destinationMAC, vlan: vlan, type: 0x0800) + ipv4 + segment))
    }

    /// A host's ARP for its peer, the peer's reply, and a connection between them (SYN, SYN-ACK, ACK).
    mutating func uses(at seconds: UInt32, _ hostMAC: UInt64, _ host: [UInt8], port: UInt16, peerMAC: UInt64, _ peer: [UInt8]) {
        arp(at: seconds, hostMAC, host, peer)
        arp(at: seconds, peerMAC, peer, host, reply: true, to: hostMAC)
        tcp(at: seconds, hostMAC, peerMAC, host, port, peer, 445, flags: 0x02)
        tcp(at: seconds, peerMAC, hostMAC, peer, 445, host, port, flags: 0x12)
        tcp(at: seconds, hostMAC, peerMAC, host, port, peer, 445, flags: 0x10)
    }

    func write(to path: String) throws {
        func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } }
        var bytes: [UInt8] = le32(0xA1B2_C3D4) + [2, 0, 4, 0] + le32(0) + le32(0) + le32(65535) + le32(1)
        for (i, record) in records.enumerated() {
            bytes += le32(record.seconds) + le32(UInt32(i)) + le32(UInt32(record.bytes.count)) + le32(UInt32(record.bytes.count))
            bytes += record.bytes
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}

let base: UInt32 = 1_763_769_600  // 2025-11-22T00:00:00Z
let serverMAC: UInt64 = 0x00_1B_21_0A_0B_0C, peerMAC: UInt64 = 0x00_1B_21_99_99_99, intruderMAC: UInt64 = 0x00_50_56_11_22_33
let routerMAC: UInt64 = 0x00_00_0C_07_AC_01
let server: [UInt8] = [10, 0, 0, 5], peer: [UInt8] = [10, 0, 0, 9], gateway: [UInt8] = [10, 0, 0, 1]

@Suite("Layer 2 on the command line", .serialized)
struct LinkLayerCommandTests {
    @Test("a takeover after silence and a gateway spoof, found through bindings saved in one run and restored in the next")
    func acrossRuns() throws {
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let site = work.appendingPathComponent("site.yaml").path
        try "local_networks: [10.0.0.0/8]\nlearning: { period: 1h, dormant_after: 72h }\n"
            .write(toFile: site, atomically: true, encoding: .utf8)
        var first = FrameCapture()
        first.uses(at: base, serverMAC, server, port: 40001, peerMAC: peerMAC, peer)
        first.uses(at: base + 7200, serverMAC, server, port: 40002, peerMAC: peerMAC, peer)
        first.arp(at: base + 7200, routerMAC, gateway, peer)  // the gateway: its ARP, and outside traffic through it
        first.tcp(at: base + 7201, peerMAC, routerMAC, peer, 40100, [93, 184, 216, 34], 443, flags: 0x02)
        first.tcp(at: base + 7201, routerMAC, peerMAC, [93, 184, 216, 34], 443, peer, 40100, flags: 0x12)
        var second = FrameCapture()
        second.tcp(at: base + 5 * 86_400 - 60, peerMAC, routerMAC, peer, 40101, [93, 184, 216, 34], 443, flags: 0x02)
        second.tcp(at: base + 5 * 86_400 - 60, routerMAC, peerMAC, [93, 184, 216, 34], 443, peer, 40101, flags: 0x12)
        second.uses(at: base + 5 * 86_400, intruderMAC, server, port: 40003, peerMAC: peerMAC, peer)
        second.arp(at: base + 5 * 86_400 + 5, intruderMAC, gateway, peer, reply: true, to: peerMAC)
        let one = work.appendingPathComponent("one.pcap").path, two = work.appendingPathComponent("two.pcap").path
        try first.write(to: one)
        try second.write(to: two)
        let state = work.appendingPathComponent("state.db").path
        let learn = try runIdleWatch(["replay", "--format", "json", "--state", state, "--site", site, one])
        #expect(learn.status == 0, "\(learn.standardError)")
        let rules = try parseJSONLines(learn.standardOutput).compactMap { ($0["alert"] as? [String: Any])?["rule"] as? String }
        #expect(!rules.contains("address-takeover") && !rules.contains("arp-spoof"))
        let replay = try runIdleWatch(["replay", "--format", "json", "--state", state, "--site", site, two])
        #expect(replay.status == 0, "\(replay.standardError)")
        let alerts = try parseJSONLines(replay.standardOutput).compactMap { $0["alert"] as? [String: Any] }
        let takeover = try #require(alerts.first { $0["rule"] as? String == "address-takeover" })
        #expect(takeover["severity"] as? Int == 1)
        #expect((takeover["message"] as? String)?.contains("it was 00:1b:21:0a:0b:0c for 2h") == true)
        let spoof = try #require(alerts.first { $0["rule"] as? String == "arp-spoof" })
        #expect(spoof["severity"] as? Int == 1)
        #expect((spoof["message"] as? String)?.contains("the gateway is 00:00:0c:07:ac:01") == true)
        // Without the first run's state, the same second capture knows no binding and raises neither.
        let fresh = try runIdleWatch(["replay", "--format", "json", "--site", site, two])
        #expect(!fresh.standardOutput.contains("address-takeover") && !fresh.standardOutput.contains("arp-spoof"))
    }

    @Test("the hosts report shows each host's MAC, its vendor from the OUI list (text or CSV form) and its VLAN")
    func hostsReportShowsMACs() throws {
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        var capture = FrameCapture()
        capture.arp(at: base, serverMAC, server, peer, vlan: 20)
        capture.arp(at: base + 1, peerMAC, peer, server, reply: true, to: serverMAC, vlan: 20)
        capture.tcp(at: base + 2, 0x02_AA_BB_CC_DD_EE, peerMAC, [10, 0, 0, 7], 40000, peer, 22, flags: 0x02)
        let pcap = work.appendingPathComponent("lan.pcap").path
        try capture.write(to: pcap)
        let state = work.appendingPathComponent("state.db").path
        let replay = try runIdleWatch(["replay", "--state", state, pcap])
        #expect(replay.status == 0, "\(replay.standardError)")

        let missing = work.appendingPathComponent("no-such-oui.txt").path
        let plain = try runIdleWatch(["hosts", "--state", state, "--format", "json", "--oui", missing])
        #expect(plain.status == 0, "\(plain.standardError)")
        #expect(plain.standardError.contains("no OUI list at \(missing)"))
        let document = try #require(try JSONSerialization.jsonObject(with: Data(plain.standardOutput.utf8)) as? [String: Any])
        #expect(document["oui_list"] is NSNull)
        func macs(_ document: [String: Any], _ address: String) -> [[String: Any]] {
            let hosts = document["hosts"] as? [[String: Any]] ?? []
            return hosts.first { $0["address"] as? String == address }?["macs"] as? [[String: Any]] ?? []
        }
        #expect(macs(document, "10.0.0.5").map { $0["mac"] as? String } == ["00:1b:21:0a:0b:0c"])
        #expect(macs(document, "10.0.0.5").first?["vendor"] is NSNull)
        #expect(macs(document, "10.0.0.5").first?["vlan"] as? String == "20")
        #expect(macs(document, "10.0.0.5").first?["learned_by"] as? String == "arp")
        #expect(macs(document, "10.0.0.5").first?["first_seen"] as? String == "2025-11-22T00:00:00.000000Z")
        #expect(macs(document, "10.0.0.7").first?["locally_administered"] as? Bool == true)

        // A tiny OUI list in the IEEE's text form (CRLF lines, as ieee-data ships it).
        let oui = work.appendingPathComponent("oui.txt").path
        try "OUI/MA-L\t\tOrganization\r\n\r\n00-1B-21   (hex)\t\tExample Networks Ltd\r\n001B21     (base 16)\t\tExample Networks Ltd\r\n"
            .write(toFile: oui, atomically: true, encoding: .utf8)
        let named = try runIdleWatch(["hosts", "--state", state, "--format", "json", "--oui", oui])
        let again = try #require(try JSONSerialization.jsonObject(with: Data(named.standardOutput.utf8)) as? [String: Any])
        #expect(again["oui_list"] as? String == oui)
        #expect(macs(again, "10.0.0.5").first?["vendor"] as? String == "Example Networks Ltd")
        #expect(macs(again, "10.0.0.9").first?["vendor"] as? String == "Example Networks Ltd")
        let text = try runIdleWatch(["hosts", "--state", state, "--oui", oui]).standardOutput
        let row = try #require(text.split(separator: "\n").first { $0.hasPrefix("  10.0.0.5 ") })
        #expect(row.contains("00:1b:21:0a:0b:0c Example Networks Ltd") && row.contains(" 20 "), "\(row)")
        let random = try #require(text.split(separator: "\n").first { $0.hasPrefix("  10.0.0.7 ") })
        #expect(random.contains("02:aa:bb:cc:dd:ee (locally administered)"), "\(random)")

        // The CSV form gives the same vendor, a quoted name with its comma.
        let csv = work.appendingPathComponent("oui.csv").path
        try "Registry,Assignment,Organization Name,Organization Address\nMA-L,001B21,\"Example Networks, Ltd\",Somewhere\n"
            .write(toFile: csv, atomically: true, encoding: .utf8)
        let fromCSV = try runIdleWatch(["hosts", "--state", state, "--format", "json", "--oui", csv])
        #expect(fromCSV.standardOutput.contains("\"vendor\":\"Example Networks, Ltd\""))
    }

    @Test("real captures with gratuitous ARP and no site file raise no arp-spoof and no ip-conflict", arguments: [
        "ICS-Security-Tools/ModbusTCP__mb2.pcap", "zeek/arp-leak.pcap", "ICS-Security-Tools/openics__EIP-FirmwareChange.pcap",
    ])
    func benignGratuitousARP(_ relative: String) throws {
        let replay = try runIdleWatch(["replay", "--format", "json", TestPaths.corpusFile(relative)])
        #expect(replay.status == 0, "\(replay.standardError)")
        let rules = try parseJSONLines(replay.standardOutput).compactMap { ($0["alert"] as? [String: Any])?["rule"] as? String }
        #expect(!rules.contains("arp-spoof") && !rules.contains("ip-conflict"), "\(relative): \(rules)")
    }
}
