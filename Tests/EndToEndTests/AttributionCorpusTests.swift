// Attribution on real benign captures from ../shared/corpus, replayed together with no site file: no alert names an
// address that cannot be a host (as source, destination or the host it is about), and the host table holds none.
//
// The benign set (named in the README): DHCP (a DORA exchange, leasequery, a DHCPv6 IA_NA exchange), ICMPv6
// neighbour and router discovery, mDNS, SSDP/UPnP and WS-Discovery, NetBIOS name service broadcasts, Tuya LAN
// broadcasts, HSRP to its multicast group, and a loopback capture. Replayed as one run, captures taken years apart
// share addresses (fe80:: routers, 127.0.0.1, 0.0.0.0 in every DHCP discover), so an address that got a host would
// look silent for years and then "wake": the router advertisement in icmp__icmp6-nd-options was reported as
// ff02::1 sending a router solicitation after 2,000 days of silence.

import Foundation
import PacketDecoding
import SiteModel
import Testing

@Suite("Attribution on benign captures",
       .enabled(if: FileManager.default.fileExists(atPath: TestPaths.corpusFile("MANIFEST.tsv")), "needs ../shared/corpus"))
struct AttributionCorpusTests {
    static let benign = [
        "zeek/dhcp__dhcp.pcap", "tcpdump/dhcp-rfc4388.pcap", "tcpdump/dhcpv6-ia-na.pcap", "tcpdump/icmpv6.pcap",
        "zeek/icmp__icmp6-nd-options.pcap", "mercury/mdns_capture.pcap", "nDPI/upnp.pcap", "nDPI/ssdp-m-search.pcap",
        "suricata-verify/sip-ssdp-pm__ssdp.pcap", "nDPI/netbios.pcap", "nDPI/tuya_lp.pcap", "tcpdump/HSRP_failover.pcap",
        "gopacket/test_loopback.pcap",
    ]

    /// Every string value under the key `key`, anywhere in a parsed JSON value.
    func values(of key: String, in json: Any) -> [String] {
        if let object = json as? [String: Any] {
            return object.flatMap { name, value in
                (name == key ? [value as? String].compactMap { $0 } : []) + values(of: key, in: value)
            }
        }
        if let array = json as? [Any] { return array.flatMap { values(of: key, in: $0) } }
        return []
    }

    @Test("no alert and no host for an address that cannot be a host")
    func noMisattribution() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = directory.appendingPathComponent("state.db").path
        let replay = try runIdleWatch(["replay", "--format", "json", "--state", state]
            + Self.benign.map(TestPaths.corpusFile))
        #expect(replay.status == 0, "\(replay.standardError)")
        #expect(replay.standardError.contains("13 files, 3689 packets"))
        let site = Site()  // no site file: the private ranges are local
        func cannotBeHost(_ text: String) -> Bool { IPAddress(text).map { !site.namesHost($0) } ?? false }

        let alerts = try parseJSONLines(replay.standardOutput).filter { $0["event_type"] as? String == "alert" }
        for alert in alerts {
            let named = [alert["src_ip"], alert["dest_ip"], (alert["host"] as? [String: Any])?["address"]]
                .compactMap { $0 as? String }
            #expect(!named.contains(where: cannotBeHost), "\(alert)")
        }

        let hosts = try runIdleWatch(["hosts", "--state", state, "--format", "json", "--outside"])
        #expect(hosts.status == 0, "\(hosts.standardError)")
        let report = try JSONSerialization.jsonObject(with: Data(hosts.standardOutput.utf8))
        let addresses = Set(values(of: "address", in: report))
        // The set's real hosts are there (DHCP servers and clients, routers, mDNS and SSDP speakers) ...
        #expect(addresses.count > 40)
        #expect(addresses.isSuperset(of: ["192.168.1.1", "fe80::c000:54ff:fef5:0"]))
        // ... and nothing that is no host: not 0.0.0.0, ::, 255.255.255.255, a group, or 127.0.0.1.
        #expect(addresses.filter(cannotBeHost).sorted() == [])
    }
}
