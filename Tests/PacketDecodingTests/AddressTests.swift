// IPAddress: dotted-quad and RFC 4291 parsing, RFC 5952 formatting, byte order, and the family-first ordering
// that flow keys rely on.

import Testing
@testable import PacketDecoding

@Suite struct AddressTests {
    @Test func ipv4ParseAndFormat() {
        let address = ip("192.0.2.1")
        #expect(!address.isIPv6)
        #expect(address.ipv4Value == 0xC000_0201)
        #expect(address.high == 0)
        #expect(address.bytes == [192, 0, 2, 1])
        #expect(address.description == "192.0.2.1")
        #expect(ip("0.0.0.0") == .unspecified)
        #expect(ip("255.255.255.255").ipv4Value == .max)
        #expect(IPAddress(ipv4: 0x0A00_0001).description == "10.0.0.1")
    }

    @Test(arguments: [
        "", "1", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.300", "1..2.3", ".1.2.3", "1.2.3.", "1.2.3.4 ", " 1.2.3.4",
        "a.b.c.d", "1.2.3.-4", "1.2.3.0x1", "1234.1.1.1", "0001.2.3.4", "\u{661}.2.3.4",
    ])
    func ipv4Rejects(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test(
        arguments: ["+1.2.3.4", "1.2.3.+4"])
    func ipv4RejectsSignedOctets(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test(
        arguments: ["010.0.0.1", "10.0.0.01", "00.0.0.0", "::ffff:010.0.0.1"])
    func ipv4RejectsLeadingZeros(text: String) {
        // inet_pton(3) rejects these, and inet_aton(3) reads "010" as octal 8: the same text names two hosts.
        // Python's ipaddress started rejecting them for that reason (CVE-2021-29921).
        #expect(IPAddress(text) == nil)
    }

    @Test(arguments: [
        // (input, RFC 5952 text)
        ("2001:db8::1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("::", "::"),
        ("0:0:0:0:0:0:0:0", "::"),
        ("::1", "::1"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("1::", "1::"),
        ("1:0:0:0:0:0:0:0", "1::"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),  // equal runs: the first is compressed (4.2.3)
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),  // the longest run is compressed (4.2.3)
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),  // a single zero group stays (4.2.2)
        ("0:1:2:3:4:5:6:7", "0:1:2:3:4:5:6:7"),
        ("::1:2:3:4:5:6:7", "0:1:2:3:4:5:6:7"),
        ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
        ("1:2:3:4:5:6::", "1:2:3:4:5:6::"),
        ("2001:DB8::A:B", "2001:db8::a:b"),  // lower case (4.3)
        ("fe80::8c36:06ff:fe44:acaf", "fe80::8c36:6ff:fe44:acaf"),  // no leading zeros (4.1)
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),  // IPv4-mapped in mixed notation (5)
        ("::ffff:c000:201", "::ffff:192.0.2.1"),
        ("0:0:0:0:0:ffff:192.0.2.1", "::ffff:192.0.2.1"),
        ("2001:db8:1:0:306e:739d:dea6:99a4", "2001:db8:1:0:306e:739d:dea6:99a4"),
    ])
    func ipv6ParseAndFormat(input: String, expected: String) {
        let address = IPAddress(input)
        #expect(address?.isIPv6 == true)
        #expect(address?.description == expected)
        #expect(address.flatMap { IPAddress($0.description) } == address)
    }

    @Test func ipv6EmbeddedIPv4Tail() {
        // RFC 6052's well-known NAT64 prefix: the dotted quad fills the last 32 bits.
        let address = ip("64:ff9b::192.0.2.33")
        #expect(address.high == 0x0064_ff9b_0000_0000)
        #expect(address.low == 0x0000_0000_c000_0221)
        #expect(ip("::192.0.2.33").low == 0xc000_0221)
    }

    @Test(arguments: [
        ":", ":::", "1:::2", "1::2::3", "::1::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8::",
        "::1:2:3:4:5:6:7:8", "12345::", "g::1", ":1::", "1::2:", ":1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:",
        "::1.2.3", "1.2.3.4::", "::1.2.3.4:5", "::ffff:1.2.3.256", "fe80::1%eth0", "[::1]", "::1 ", "1:2:3:4:5:6:1.2.3.4:8",
        "1:2:3:4:5:6:7:1.2.3.4",
    ])
    func ipv6Rejects(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test(
        arguments: ["+1::", "::+1", "1:2:3:4:5:6:7:+8", "+ab::"])
    func ipv6RejectsSignedGroups(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func ipv6Bytes() {
        #expect(ip("2001:db8::1").bytes == [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
        #expect(ip("::").bytes == [UInt8](repeating: 0, count: 16))
        let address = IPAddress(ipv6High: 0x0102_0304_0506_0708, low: 0x090a_0b0c_0d0e_0f10)
        #expect(address.bytes == Array(1...16))
        #expect(address.description == "102:304:506:708:90a:b0c:d0e:f10")
    }

    @Test func familyKeepsEqualBitsApart() {
        #expect(ip("0.0.0.1") != ip("::1"))
        #expect(ip("0.0.0.0") != ip("::"))
        #expect(Set([ip("0.0.0.1"), ip("::1"), ip("0.0.0.1")]).count == 2)
    }

    @Test func orderingIsIPv4ThenIPv6ThenNumeric() {
        #expect(ip("255.255.255.255") < ip("::"))
        #expect(!(ip("::") < ip("0.0.0.0")))
        #expect(ip("10.0.0.1") < ip("10.0.0.2"))
        #expect(ip("9.255.255.255") < ip("10.0.0.0"))
        #expect(ip("::1") < ip("::2"))
        #expect(ip("::ffff:ffff:ffff") < ip("0:0:0:1::"))  // low half compared only when the high halves tie
        #expect(ip("2001:db8::1") < ip("fe80::1"))
        let sorted = [ip("fe80::1"), ip("10.0.0.2"), ip("::1"), ip("10.0.0.1"), ip("192.0.2.1")].sorted()
        #expect(sorted == [ip("10.0.0.1"), ip("10.0.0.2"), ip("192.0.2.1"), ip("::1"), ip("fe80::1")])
    }

    @Test func randomAddressesRoundTrip() {
        var generator = SplitMix64(seed: 0x1D1E_3A7C)
        for _ in 0..<2000 {
            let v4 = IPAddress(ipv4: UInt32.random(in: .min ... .max, using: &generator))
            #expect(IPAddress(v4.description) == v4)

            // Groups drawn so that runs of zeros of every length and position occur.
            var high: UInt64 = 0
            var low: UInt64 = 0
            for index in 0..<8 {
                let group: UInt64 = Bool.random(using: &generator) ? 0 : UInt64.random(in: 0...0xffff, using: &generator)
                if index < 4 { high = high << 16 | group } else { low = low << 16 | group }
            }
            let v6 = IPAddress(ipv6High: high, low: low)
            let text = v6.description
            #expect(IPAddress(text) == v6, "\(text)")
            #expect(!text.contains(":::"), "\(text)")
            #expect(text == text.lowercased(), "\(text)")
        }
    }
}
