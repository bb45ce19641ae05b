// The value grammars on their own: CIDR networks, ports, endpoints, durations, dates and maintenance windows.

import PacketDecoding
import SiteModel
import Testing

/// The message a parser gives for `text`, or nil when it accepts it.
func complaint<T>(_ parse: (String) throws(SiteValueError) -> T, _ text: String) -> String? {
    do {
        _ = try parse(text)
        return nil
    } catch {
        return error.message
    }
}

@Suite struct IPNetworkTests {
    @Test func hostBitsSetIsNil() {
        #expect(IPNetwork("10.0.0.1/8") == nil)
        #expect(IPNetwork("192.168.1.1/24") == nil)
        #expect(IPNetwork("10.0.7.8/28") == nil)
        #expect(IPNetwork("2001:db8::1/64") == nil)
        #expect(IPNetwork("fd00::1/8") == nil)
        #expect(complaint(SiteSyntax.network, "192.168.1.1/24")
            == "host bits are set in '192.168.1.1/24': the network is 192.168.1.0/24; for one host write 192.168.1.1")
    }

    @Test func prefixZero() throws {
        let all4 = try #require(IPNetwork("0.0.0.0/0"))
        #expect(all4.prefixLength == 0)
        #expect(all4.contains(ip("255.255.255.255")) && all4.contains(ip("0.0.0.0")))
        #expect(!all4.contains(ip("::1")))
        #expect(all4.description == "0.0.0.0/0")
        let all6 = try #require(IPNetwork("::/0"))
        #expect(all6.contains(ip("ffff::1")) && !all6.contains(ip("10.0.0.1")))
        #expect(IPNetwork("1.0.0.0/0") == nil)
    }

    @Test func singleAddresses() throws {
        let host = try #require(IPNetwork("10.1.2.3/32"))
        #expect(host == IPNetwork("10.1.2.3"))
        #expect(host.prefixLength == 32)
        #expect(host.description == "10.1.2.3")
        #expect(host.contains(ip("10.1.2.3")) && !host.contains(ip("10.1.2.4")))
        let host6 = try #require(IPNetwork("2001:db8::1/128"))
        #expect(host6 == IPNetwork("2001:db8::1"))
        #expect(host6.prefixLength == 128)
        #expect(host6.description == "2001:db8::1")
        #expect(host6.contains(ip("2001:db8::1")) && !host6.contains(ip("2001:db8::2")))
    }

    @Test func ipv6Prefixes() throws {
        let lan = try #require(IPNetwork("2001:db8:1:2::/64"))
        #expect(lan.contains(ip("2001:db8:1:2::5")))
        #expect(lan.contains(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")))
        #expect(!lan.contains(ip("2001:db8:1:3::")))
        #expect(lan.description == "2001:db8:1:2::/64")
        let odd = try #require(IPNetwork("2001:db8::/61"))
        #expect(odd.contains(ip("2001:db8:0:7::1")) && !odd.contains(ip("2001:db8:0:8::1")))
        let low = try #require(IPNetwork("2001:db8::ff00/120"))
        #expect(low.contains(ip("2001:db8::ffab")) && !low.contains(ip("2001:db8::1:ff00")))
        #expect(IPNetwork("fd00::/8")?.contains(ip("fdab::1")) == true)
    }

    @Test func badPrefixes() {
        for text in ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8/8", "10.0.0.0/ 8",
                     "10.0.0.0/x", "/8", "10.0.0/8", "10.0.0.0.0/8", "fd00:::/8", ""]
        {
            #expect(IPNetwork(text) == nil, "\(text)")
        }
        #expect(complaint(SiteSyntax.network, "10.0.0.0/33") == "bad prefix length '/33' (0-32 for IPv4)")
        #expect(complaint(SiteSyntax.network, "10.0.0.0/") == "bad prefix length '/' (0-32 for IPv4)")
        #expect(complaint(SiteSyntax.network, "10.0.0/8") == "'10.0.0' is not an IPv4 or IPv6 address")
        #expect(complaint(SiteSyntax.network, "10.0.0.0/8/8") == "'10.0.0.0/8/8' is not an address or network (ADDRESS/PREFIX)")
    }
}

@Suite struct SiteSyntaxTests {
    @Test func ports() throws {
        #expect(try SiteSyntax.port("1") == 1)
        #expect(try SiteSyntax.port("65535") == 65535)
        #expect(complaint({ (text: String) throws(SiteValueError) in try SiteSyntax.port(text) }, "0") != nil)
        #expect(try SiteSyntax.portSpec("623/udp") == PortSpec(port: 623, transport: .udp))
        #expect(try SiteSyntax.portSpec("22/TCP") == PortSpec(port: 22))
        #expect(try SiteSyntax.portSpec("udp/161") == PortSpec(port: 161, transport: .udp))
        #expect(try SiteSyntax.portSpec("8080") == PortSpec(port: 8080))
        #expect(complaint(SiteSyntax.portSpec, "22/tcp/x") == "'22/tcp/x' is not a port (PORT, PORT/PROTO or PROTO/PORT, e.g. 161/udp)")
        #expect(complaint(SiteSyntax.portSpec, "+22") != nil)
        #expect(complaint(SiteSyntax.portSpec, "") != nil)
    }

    @Test func endpoints() throws {
        let (v4, port4) = try SiteSyntax.endpoint("203.0.113.10:2222")
        #expect(v4 == ip("203.0.113.10") && port4 == 2222)
        let (v6, port6) = try SiteSyntax.endpoint("[2001:db8::10]:443")
        #expect(v6 == ip("2001:db8::10") && port6 == 443)
        #expect(complaint(SiteSyntax.endpoint, "[2001:db8::10]") == "'[2001:db8::10]' is not [IPV6-ADDRESS]:PORT")
        #expect(complaint(SiteSyntax.endpoint, "host.example:22") == "'host.example' is not an IP address")
        #expect(complaint(SiteSyntax.endpoint, "10.0.0.1:") != nil)
    }

    @Test func durations() throws {
        #expect(try SiteSyntax.duration("90s") == .seconds(90))
        #expect(try SiteSyntax.duration("15m") == .seconds(900))
        #expect(try SiteSyntax.duration("24h") == .seconds(86_400))
        #expect(try SiteSyntax.duration("7d") == .seconds(7 * 86_400))
        #expect(try SiteSyntax.duration("2w") == .seconds(14 * 86_400))
        #expect(try SiteSyntax.duration("1d12h") == .seconds(36 * 3600))
        #expect(try SiteSyntax.duration("1h30m15s") == .seconds(5415))
        #expect(complaint(SiteSyntax.duration, "0s") == "the duration must be more than zero")
        #expect(complaint(SiteSyntax.duration, "0h0m") == "the duration must be more than zero")
        #expect(complaint(SiteSyntax.duration, "24")?.hasPrefix("'24' needs a unit") == true)
        #expect(complaint(SiteSyntax.duration, "1d12") != nil)
        #expect(complaint(SiteSyntax.duration, "h") != nil)
        #expect(complaint(SiteSyntax.duration, "-1h") != nil)
        #expect(complaint(SiteSyntax.duration, "1.5h") != nil)
        #expect(complaint(SiteSyntax.duration, "1y") != nil)
        #expect(complaint(SiteSyntax.duration, "99999999999999999999s") == "'99999999999999999999s' is too long a duration")
        #expect(complaint(SiteSyntax.duration, "99999999999w") == "'99999999999w' is too long a duration")
    }

    @Test func durationText() {
        #expect(SiteSyntax.text(.seconds(86_400)) == "24h")
        #expect(SiteSyntax.text(.seconds(72 * 3600)) == "72h")
        #expect(SiteSyntax.text(.seconds(7 * 86_400)) == "7d")
        #expect(SiteSyntax.text(.seconds(90)) == "1m30s")
        #expect(SiteSyntax.text(.seconds(5 * 86_400 + 3600)) == "5d1h")
    }

    @Test func dates() throws {
        #expect(try SiteSyntax.date("1970-01-01") == 0)
        #expect(try SiteSyntax.date("2000-03-01") == 11_017)
        #expect(try SiteSyntax.date("2024-02-29") == 19_782)
        #expect(try SiteSyntax.expiry("2026-12-31") == Timestamp(seconds: 1_798_761_600))
        // The inverse of CivilTime, across many days.
        for day in stride(from: Int64(-800_000), through: 800_000, by: 997) {
            let civil = CivilTime(secondsSinceEpoch: day * 86_400)
            #expect(SiteSyntax.daysFromCivil(year: civil.year, month: civil.month, day: civil.day) == day)
        }
        #expect(complaint(SiteSyntax.date, "2026-13-01") == "'2026-13-01': no month 13")
        #expect(complaint(SiteSyntax.date, "1900-02-29") == "'1900-02-29': there is no day 29 in that month")
        #expect(complaint(SiteSyntax.date, "2026-1-01") == "'2026-1-01' is not a date YYYY-MM-DD")
        #expect(complaint(SiteSyntax.date, "2026-12-31T00:00:00Z") == "'2026-12-31T00:00:00Z' is not a date YYYY-MM-DD")
    }

    @Test func windowDays() throws {
        #expect(try SiteSyntax.window("Mon-Fri 22:00-02:00").days == [1, 2, 3, 4, 5])
        #expect(try SiteSyntax.window("Fri-Mon 09:00-10:00").days == [5, 6, 0, 1])
        #expect(try SiteSyntax.window("Sat,Sun 09:00-10:00").days == [6, 0])
        #expect(try SiteSyntax.window("Mon-Wed,fri 09:00-10:00").days == [1, 2, 3, 5])
        #expect(try SiteSyntax.window("daily 9:00-10:00").days == Set(0..<7))
        #expect(try SiteSyntax.window("Sun  23:30-00:15").start == 23 * 60 + 30)
        #expect(complaint(SiteSyntax.window, "Mon-Mon 01:00-02:00") == "'Mon-Mon' starts and ends on the same day; write the day alone")
        #expect(complaint(SiteSyntax.window, "Mon-Tue-Wed 01:00-02:00") == "'Mon-Tue-Wed' is not a day or a range of days (Mon-Fri)")
        #expect(complaint(SiteSyntax.window, "Sat, 01:00-02:00") != nil)
        #expect(complaint(SiteSyntax.window, "Sat 01:00") != nil)
        #expect(complaint(SiteSyntax.window, "Sat 01:00-02:00 extra") != nil)
    }

    @Test func suggestions() {
        #expect(SiteSyntax.suggestion(for: "dormant_afer", among: ["period", "dormant_after"]) == "dormant_after")
        #expect(SiteSyntax.suggestion(for: "Hosts", among: ["hosts", "learning"]) == "hosts")
        #expect(SiteSyntax.suggestion(for: "colour", among: ["hosts", "learning"]) == nil)
        #expect(SiteSyntax.suggestion(for: "maintenance-ports", among: ["maintenance_ports", "remote_admin_ports"])
            == "maintenance_ports")
    }
}
