// The example site file, accepted as written, read into exactly the values it describes; and the model's
// queries (window membership, expiry, CIDR containment, most-specific inventory match) on the result.

import Foundation
import PacketDecoding
import SiteModel
import Testing

/// The example of issue 3, kept as written in examples/site.yaml (a starting point for users too).
let exampleSite: String = {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/site.yaml")
    return (try? String(contentsOf: url, encoding: .utf8)) ?? ""
}()

func ip(_ text: String) -> IPAddress { IPAddress(text)! }
func net(_ text: String) -> IPNetwork { IPNetwork(text)! }

/// UTC civil time as a timestamp.
func utc(_ year: Int64, _ month: Int64, _ day: Int64, _ hour: Int64 = 0, _ minute: Int64 = 0, _ second: Int64 = 0)
    -> Timestamp
{
    Timestamp(seconds: SiteSyntax.daysFromCivil(year: year, month: month, day: day) * 86_400 + hour * 3600
        + minute * 60 + second)
}

@Suite struct SiteExampleTests {
    let site: Site

    init() throws {
        site = try SiteLoader.parse(exampleSite, path: "site.yaml")
    }

    @Test func places() {
        #expect(site.path == "site.yaml")
        #expect(site.localNetworks == [net("10.0.0.0/8"), net("192.168.0.0/16"), net("fd00::/8")])
        #expect(site.publicAddresses == [ip("203.0.113.10")])
        #expect(site.isLocal(ip("10.200.1.1")))
        #expect(site.isLocal(ip("fd12:3456::1")))
        #expect(site.isLocal(ip("203.0.113.10")))
        #expect(!site.isLocal(ip("172.16.0.1")))  // not listed: the file overrides the private ranges
        #expect(!site.isLocal(ip("198.51.100.7")))
    }

    @Test func inventory() {
        #expect(site.hosts.count == 3)
        let erp = site.hosts[0]
        #expect(erp.network == net("10.0.5.20"))
        #expect(erp.network?.prefixLength == 32)
        #expect(erp.name == "old-erp")
        #expect(erp.state == .decommissioned)
        #expect(erp.allow.isEmpty)
        #expect(erp.line == 4)
        let cameras = site.hosts[1]
        #expect(cameras.network == net("10.0.7.0/28"))
        #expect(cameras.name == "camera-platform")
        #expect(cameras.state == .idle)
        #expect(cameras.allow == [.service("arp"), .service("dhcp"), .service("ntp"), .service("dns")])
        #expect(cameras.line == 5)
        let jump = site.hosts[2]
        #expect(jump.network == net("10.0.1.10"))
        #expect(jump.name == "jump-host")
        #expect(jump.state == .active)
        #expect(jump.line == 6)
    }

    @Test func inventoryLookup() {
        #expect(site.inventory(for: ip("10.0.5.20"))?.name == "old-erp")
        #expect(site.inventory(for: ip("10.0.7.0"))?.name == "camera-platform")
        #expect(site.inventory(for: ip("10.0.7.15"))?.name == "camera-platform")
        #expect(site.inventory(for: ip("10.0.7.16")) == nil)
        #expect(site.inventory(for: ip("10.0.5.21")) == nil)
        // A /32 entry inside a declared subnet wins over the subnet.
        var nested = site
        nested.hosts.append(InventoryEntry(network: net("10.0.7.5"), name: "camera-5", state: .active))
        nested.hosts.append(InventoryEntry(network: net("10.0.0.0/16"), name: "campus", state: .active))
        #expect(nested.inventory(for: ip("10.0.7.5"))?.name == "camera-5")
        #expect(nested.inventory(for: ip("10.0.7.6"))?.name == "camera-platform")
        #expect(nested.inventory(for: ip("10.0.9.9"))?.name == "campus")
    }

    @Test func inventoryLookupFromFile() throws {
        // Order in the file does not matter: the most specific entry wins.
        let site = try SiteLoader.parse("""
            hosts:
              - { address: 10.0.0.0/16, name: campus, state: active }
              - { address: 10.0.7.5, name: camera-5, state: decommissioned }
              - { address: 10.0.7.0/24, name: cameras, state: idle }
            """, path: "t.yaml")
        #expect(site.inventory(for: ip("10.0.7.5"))?.name == "camera-5")
        #expect(site.inventory(for: ip("10.0.7.6"))?.name == "cameras")
        #expect(site.inventory(for: ip("10.0.8.1"))?.name == "campus")
        #expect(site.inventory(for: ip("10.1.0.1")) == nil)
    }

    @Test("the inventory lookup picks what a walk over every entry picks: the most specific, the first of equals")
    func inventoryLookupMatchesWalk() {
        var random: UInt64 = 0x5151_7e57
        func next(_ bound: Int) -> Int {
            random ^= random << 13
            random ^= random >> 7
            random ^= random << 17
            return Int(random % UInt64(bound))
        }
        // Addresses from a small space so networks nest, repeat and overlap; both families; hosts and networks.
        func address() -> IPAddress {
            next(4) == 0 ? IPAddress(ipv6High: 0xfd00_0000_0000_0000, low: UInt64(next(64)))
                : IPAddress(ipv4: 0x0A00_0000 | UInt32(next(4)) << 8 | UInt32(next(64)))
        }
        for _ in 0..<50 {
            var hosts: [InventoryEntry] = []
            for i in 0..<next(60) {
                let base = address()
                let maximum = base.isIPv6 ? 128 : 32
                let prefix = next(3) == 0 ? maximum : maximum - next(12)
                hosts.append(InventoryEntry(network: IPNetwork(address: base, prefixLength: prefix)!, name: "h\(i)",
                                            state: .active))
            }
            let site = Site(hosts: hosts)
            for _ in 0..<200 {
                let candidate = address()
                var best: Int?
                for (index, entry) in hosts.enumerated() where entry.network!.contains(candidate) {
                    if best == nil || entry.network!.prefixLength > hosts[best!].network!.prefixLength { best = index }
                }
                #expect(site.inventoryIndex(for: candidate) == best, "\(candidate) in \(hosts.map(\.network))")
            }
        }
    }

    @Test func vendorSSH() throws {
        #expect(site.maintenancePorts.count == 2)
        let ssh = site.maintenancePorts[0]
        #expect(ssh.name == "vendor-ssh")
        #expect(ssh.host == ip("10.0.5.30"))
        #expect(ssh.port == 22)
        #expect(ssh.transport == .tcp)
        #expect(ssh.externalAddress == ip("203.0.113.10"))
        #expect(ssh.externalPort == 2222)
        #expect(ssh.allowedSources == [net("198.51.100.0/24")])
        #expect(ssh.windows.count == 1)
        #expect(ssh.windows.first?.days == [6])
        #expect(ssh.windows.first?.start == 60)
        #expect(ssh.windows.first?.end == 300)
        #expect(ssh.windows.first?.text == "Sat 01:00-05:00")
        #expect(ssh.expiresAt == utc(2027, 1, 1))
        #expect(ssh.expiresAt?.rfc3339(fractionDigits: 0) == "2027-01-01T00:00:00Z")
        #expect(ssh.closed == false)
        #expect(ssh.line == 8)
    }

    @Test func oldPLCTelnet() {
        let telnet = site.maintenancePorts[1]
        #expect(telnet.name == "old-plc-telnet")
        #expect(telnet.host == ip("10.0.9.4"))
        #expect(telnet.port == 23)
        #expect(telnet.transport == .tcp)
        #expect(telnet.externalAddress == nil)
        #expect(telnet.externalPort == nil)
        #expect(telnet.allowedSources.isEmpty)
        #expect(telnet.windows.isEmpty)
        #expect(telnet.expiresAt == nil)
        #expect(telnet.closed)
        #expect(telnet.line == 16)
    }

    @Test func remoteAdminPortsAndLearning() {
        #expect(site.remoteAdminPorts == [
            PortSpec(port: 22), PortSpec(port: 23), PortSpec(port: 135), PortSpec(port: 139), PortSpec(port: 445),
            PortSpec(port: 623, transport: .udp), PortSpec(port: 3389), PortSpec(port: 5900), PortSpec(port: 5985),
            PortSpec(port: 5986), PortSpec(port: 161, transport: .udp),
        ])
        #expect(site.learning.period == .seconds(24 * 3600))
        #expect(site.learning.dormantAfter == .seconds(72 * 3600))
    }

    @Test func saturdayWindowBoundaries() throws {
        let window = try #require(site.maintenancePorts[0].windows.first)
        // 2026-01-03 is a Saturday.
        #expect(CivilTime(secondsSinceEpoch: utc(2026, 1, 3).seconds).weekday == 6)
        #expect(!window.contains(utc(2026, 1, 3, 0, 59, 59)))
        #expect(window.contains(utc(2026, 1, 3, 1, 0, 0)))
        #expect(window.contains(utc(2026, 1, 3, 3, 30)))
        #expect(window.contains(utc(2026, 1, 3, 4, 59, 59)))
        #expect(!window.contains(utc(2026, 1, 3, 5, 0, 0)))
        #expect(!window.contains(utc(2026, 1, 2, 1, 30)))  // Friday
        #expect(!window.contains(utc(2026, 1, 4, 1, 30)))  // Sunday
        #expect(window.contains(utc(2026, 1, 10, 2, 0)))  // the next Saturday
        #expect(window.contains(Timestamp(nanoseconds: utc(2026, 1, 3, 4, 59, 59).nanoseconds + 999_999_999)))
    }

    @Test func overMidnightWindow() throws {
        let window = try SiteSyntax.window("Sun 22:00-02:00")
        #expect(window.days == [0])
        #expect(window.start == 22 * 60 && window.end == 120)
        // 2026-01-04 is a Sunday.
        #expect(!window.contains(utc(2026, 1, 4, 21, 59, 59)))
        #expect(window.contains(utc(2026, 1, 4, 22, 0)))
        #expect(window.contains(utc(2026, 1, 4, 23, 59, 59)))
        #expect(window.contains(utc(2026, 1, 5, 0, 0)))  // Monday, after midnight
        #expect(window.contains(utc(2026, 1, 5, 1, 59, 59)))
        #expect(!window.contains(utc(2026, 1, 5, 2, 0)))
        #expect(!window.contains(utc(2026, 1, 5, 22, 30)))  // Monday evening: not a listed day
        #expect(!window.contains(utc(2026, 1, 4, 1, 0)))  // Sunday early: would be Saturday's night
        #expect(!window.contains(utc(2026, 1, 3, 23, 0)))  // Saturday night
    }

    @Test func untilMidnightAndWholeDay() throws {
        let late = try SiteSyntax.window("Sat 22:00-24:00")
        #expect(late.contains(utc(2026, 1, 3, 23, 59, 59)))
        #expect(!late.contains(utc(2026, 1, 4, 0, 0)))
        let allDay = try SiteSyntax.window("daily 00:00-24:00")
        #expect(allDay.days == Set(0..<7))
        for hour in [0, 6, 12, 23] as [Int64] { #expect(allDay.contains(utc(2026, 3, 11, hour, 59))) }
    }

    @Test func expiryBoundary() throws {
        let expiresAt = try #require(site.maintenancePorts[0].expiresAt)
        #expect(utc(2026, 12, 31, 23, 59, 59) < expiresAt)
        #expect(!(utc(2027, 1, 1) < expiresAt))
        #expect(expiresAt.seconds == 1_798_761_600)
    }

    @Test func cidrContains() {
        let cameras = site.hosts[1].network!
        #expect(cameras.contains(ip("10.0.7.0")))
        #expect(cameras.contains(ip("10.0.7.15")))
        #expect(!cameras.contains(ip("10.0.7.16")))
        #expect(!cameras.contains(ip("10.0.6.255")))
        #expect(site.localNetworks[2].contains(ip("fdff:ffff::1")))
        #expect(!site.localNetworks[2].contains(ip("fe80::1")))
        #expect(!site.localNetworks[0].contains(ip("::ffff:10.0.0.1")))  // families never mix
    }
}
