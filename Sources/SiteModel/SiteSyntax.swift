// The small text grammars inside site-file values: addresses and networks, ports, durations, dates, maintenance
// windows. Each parser says why a value is wrong, in words a site-file author can act on.

import PacketDecoding

/// Why one value could not be read; `SiteLoader` adds the file, line and key.
public struct SiteValueError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// Parsers for the values of a site file. They work on the text of a YAML scalar, whatever YAML type it resolved to
/// (so `2026-12-31` is a date however Yams tags it, and a quoted `"22"` is a port like `22`).
public enum SiteSyntax {
    /// A network in CIDR notation or a single address (a /32 or /128 network). IPv4-mapped IPv6 networks
    /// (`::ffff:10.0.5.20`, `::ffff:10.0.0.0/104`) are read as the IPv4 network they map: that is what IPv4 packets
    /// carry, and the mapped form never matched them.
    public static func network(_ text: String) throws(SiteValueError) -> IPNetwork {
        if let network = IPNetwork(text) { return ipv4Mapped(network) ?? network }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { throw SiteValueError("'\(text)' is not an address or network (ADDRESS/PREFIX)") }
        guard let address = IPAddress(parts[0]) else {
            throw SiteValueError("'\(parts[0])' is not an IPv4 or IPv6 address")
        }
        let maximum = address.isIPv6 ? 128 : 32
        guard parts.count == 2, let prefix = Int(parts[1]), parts[1].allSatisfy({ $0.isASCII && $0.isNumber }),
            prefix <= maximum
        else {
            let family = address.isIPv6 ? "IPv6" : "IPv4"
            throw SiteValueError("bad prefix length '/\(parts.count == 2 ? parts[1] : "")' (0-\(maximum) for \(family))")
        }
        // The only other way to fail: host bits set below the prefix.
        let network = IPNetwork(address: address, prefixLength: prefix)!
        throw SiteValueError(
            "host bits are set in '\(text)': the network is \(network.address)/\(prefix); for one host write \(address)")
    }

    /// The IPv4 network an IPv4-mapped IPv6 network (inside `::ffff:0:0/96`) stands for; nil for any other.
    public static func ipv4Mapped(_ network: IPNetwork) -> IPNetwork? {
        let address = network.address
        guard address.isIPv6, network.prefixLength >= 96, address.high == 0, address.low >> 32 == 0xffff else { return nil }
        return IPNetwork(address: IPAddress(ipv4: address.ipv4Value), prefixLength: network.prefixLength - 96)
    }

    /// A station's MAC address, `00:11:22:33:44:55` or `00-11-22-33-44-55`, either case. Group MACs (the first
    /// byte's lowest bit: broadcast, multicast) and the all-zero MAC belong to no one machine, so they are refused.
    public static func mac(_ text: String) throws(SiteValueError) -> MACAddress {
        guard let mac = MACAddress(text) else {
            throw SiteValueError("'\(text)' is not a MAC address (six hex bytes: 00:11:22:33:44:55)")
        }
        guard !mac.isGroup else {
            throw SiteValueError("\(mac) is a group (broadcast or multicast) MAC: no one machine sends from it")
        }
        guard mac.value != 0 else { throw SiteValueError("00:00:00:00:00:00 is no machine's MAC") }
        return mac
    }

    /// A single address (no prefix; `/32` and `/128` are accepted as the same thing); IPv4-mapped IPv6 addresses
    /// as their IPv4 address (see `network`).
    public static func address(_ text: String) throws(SiteValueError) -> IPAddress {
        if let address = IPAddress(text) { return ipv4Mapped(address) }
        let network = try network(text)
        guard network.prefixLength == (network.address.isIPv6 ? 128 : 32) else {
            throw SiteValueError("'\(text)' is a network; a single address is needed here")
        }
        return network.address
    }

    /// `::ffff:a.b.c.d` as `a.b.c.d`; any other address as it is.
    static func ipv4Mapped(_ address: IPAddress) -> IPAddress {
        address.isIPv6 && address.high == 0 && address.low >> 32 == 0xffff ? IPAddress(ipv4: address.ipv4Value) : address
    }

    /// A port number, 1-65535, in decimal.
    public static func port(_ text: some StringProtocol) throws(SiteValueError) -> UInt16 {
        let digits = text.hasPrefix("-") ? Substring(text).dropFirst() : Substring(text)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw SiteValueError("'\(text)' is not a port number (a whole number, 1-65535)")
        }
        // YAML 1.1 reads `022` as octal 18; refuse rather than guess which was meant.
        guard digits.count == 1 || digits.first != "0" else {
            throw SiteValueError("'\(text)' has a leading zero (YAML 1.1 reads it as octal); write the port in decimal")
        }
        guard !text.hasPrefix("-"), let value = Int(digits), value >= 1, value <= 65535 else {
            throw SiteValueError("port \(text) is out of range (1-65535)")
        }
        return UInt16(value)
    }

    /// `tcp` or `udp` (any case).
    public static func transport(_ text: some StringProtocol) throws(SiteValueError) -> TransportProtocol {
        guard let transport = TransportProtocol(rawValue: text.lowercased()) else {
            throw SiteValueError("'\(text)' is not a transport protocol (tcp or udp)")
        }
        return transport
    }

    /// `22` (TCP), `22/tcp`, `623/udp`, `tcp/8080` or `udp/161`.
    public static func portSpec(_ text: String) throws(SiteValueError) -> PortSpec {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            return PortSpec(port: try port(parts[0]))
        case 2:
            // PORT/PROTO when it starts like a number, PROTO/PORT otherwise.
            if parts[0].first?.isNumber == true || parts[0].first == "-" {
                return PortSpec(port: try port(parts[0]), transport: try self.transport(parts[1]))
            }
            return PortSpec(port: try port(parts[1]), transport: try self.transport(parts[0]))
        default:
            throw SiteValueError("'\(text)' is not a port (PORT, PORT/PROTO or PROTO/PORT, e.g. 161/udp)")
        }
    }

    /// `ADDRESS:PORT` for IPv4, `[ADDRESS]:PORT` for IPv6.
    public static func endpoint(_ text: String) throws(SiteValueError) -> (IPAddress, UInt16) {
        let addressText: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw SiteValueError("'\(text)' is not [IPV6-ADDRESS]:PORT")
            }
            addressText = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw SiteValueError("'\(text)' has no port: write ADDRESS:PORT (or [IPV6-ADDRESS]:PORT)")
            }
            addressText = text[..<colon]
            portText = text[text.index(after: colon)...]
            if addressText.contains(":") {
                throw SiteValueError("'\(text)': write an IPv6 address in brackets, [ADDRESS]:PORT")
            }
        }
        guard let address = IPAddress(addressText) else {
            throw SiteValueError("'\(addressText)' is not an IP address")
        }
        return (ipv4Mapped(address), try port(portText))
    }

    /// Seconds in each duration unit.
    static let durationUnits: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]

    /// `90s`, `15m`, `24h`, `7d`, `2w`, or a combination such as `1d12h`; always more than zero.
    public static func duration(_ text: String) throws(SiteValueError) -> Duration {
        let usage = "a duration such as 90s, 15m, 24h, 7d, 2w or 1d12h"
        guard !text.isEmpty else { throw SiteValueError("expected \(usage)") }
        var seconds: Int64 = 0
        var number: Int64? = nil
        for character in text {
            if let digit = character.wholeNumberValue, character.isASCII {
                let (times10, overflow1) = (number ?? 0).multipliedReportingOverflow(by: 10)
                let (next, overflow2) = times10.addingReportingOverflow(Int64(digit))
                guard !overflow1, !overflow2 else { throw SiteValueError("'\(text)' is too long a duration") }
                number = next
            } else if let unit = durationUnits[character] {
                guard let value = number else { throw SiteValueError("'\(text)' is not \(usage)") }
                let (part, overflow1) = value.multipliedReportingOverflow(by: unit)
                let (sum, overflow2) = seconds.addingReportingOverflow(part)
                guard !overflow1, !overflow2 else { throw SiteValueError("'\(text)' is too long a duration") }
                seconds = sum
                number = nil
            } else {
                throw SiteValueError("'\(text)' is not \(usage)")
            }
        }
        if number != nil {
            throw SiteValueError("'\(text)' needs a unit (s, m, h, d or w), e.g. \(text)s or \(text)h")
        }
        guard seconds <= Int64.max / 1_000_000_000 else { throw SiteValueError("'\(text)' is too long a duration") }
        guard seconds > 0 else { throw SiteValueError("the duration must be more than zero") }
        return .seconds(seconds)
    }

    /// Compact text for a duration as the site file writes it: whole hours under 100h in hours (`24h`, `72h`),
    /// otherwise days, hours, minutes and seconds (`7d`, `1d12h`, `90s` -> `1m30s`).
    public static func text(_ duration: Duration) -> String {
        var seconds = duration.nanoseconds / 1_000_000_000
        if seconds == 0 { return "0s" }
        if seconds % 3600 == 0 && seconds < 100 * 3600 { return "\(seconds / 3600)h" }
        var text = ""
        for (unit, size) in [("d", Int64(86_400)), ("h", 3600), ("m", 60), ("s", 1)] where seconds >= size {
            text += "\(seconds / size)\(unit)"
            seconds %= size
        }
        return text
    }

    /// `YYYY-MM-DD` (a valid Gregorian date) as days since 1970-01-01.
    public static func date(_ text: String) throws(SiteValueError) -> Int64 {
        let bad = SiteValueError("'\(text)' is not a date YYYY-MM-DD")
        let fields = text.split(separator: "-", omittingEmptySubsequences: false)
        guard fields.count == 3, fields[0].count == 4, fields[1].count == 2, fields[2].count == 2,
            fields.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            let year = Int64(fields[0]), let month = Int64(fields[1]), let day = Int64(fields[2])
        else { throw bad }
        guard (1...12).contains(month) else { throw SiteValueError("'\(text)': no month \(month)") }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let monthDays: [Int64] = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard day >= 1 && day <= monthDays[Int(month - 1)] else {
            throw SiteValueError("'\(text)': there is no day \(day) in that month")
        }
        return daysFromCivil(year: year, month: month, day: day)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil; the inverse of
    /// `CivilTime`).
    public static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The end of an `expires` date: 00:00 UTC of the following day.
    public static func expiry(_ text: String) throws(SiteValueError) -> Timestamp {
        Timestamp(seconds: (try date(text) + 1) * 86_400)
    }

    static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
    static let windowUsage = "DAYS HH:MM-HH:MM, e.g. \"Sat 01:00-05:00\", \"Mon-Fri 22:00-02:00\" or \"daily 03:00-04:00\""

    /// `DAYS HH:MM-HH:MM` in UTC. DAYS is `Mon`..`Sun` (any case), a range `Mon-Fri` (wrapping: `Fri-Mon` is
    /// Fri, Sat, Sun, Mon), a comma list of those (`Sat,Sun`, `Mon-Wed,Fri`), or `daily`. The end may be before the
    /// start (the window runs past midnight into the next day) and may be `24:00`; start and end may not be equal.
    public static func window(_ text: String) throws(SiteValueError) -> MaintenanceWindow {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard words.count == 2 else { throw SiteValueError("'\(text)' is not a window: write \(windowUsage)") }
        var days = Set<Int>()
        if words[0].lowercased() == "daily" {
            days = Set(0..<7)
        } else {
            for item in words[0].split(separator: ",", omittingEmptySubsequences: false) {
                let ends = item.split(separator: "-", omittingEmptySubsequences: false)
                guard ends.count <= 2 else { throw SiteValueError("'\(item)' is not a day or a range of days (Mon-Fri)") }
                var numbers: [Int] = []
                for end in ends {
                    guard let number = dayNames.firstIndex(of: end.lowercased()) else {
                        throw SiteValueError(
                            "'\(end)' is not a day: use Mon, Tue, Wed, Thu, Fri, Sat, Sun, a range (Mon-Fri), "
                                + "a list (Sat,Sun) or daily")
                    }
                    numbers.append(number)
                }
                if numbers.count == 2 && numbers[0] == numbers[1] {
                    throw SiteValueError("'\(item)' starts and ends on the same day; write the day alone")
                }
                var day = numbers[0]
                days.insert(day)
                while day != numbers[numbers.count - 1] {
                    day = (day + 1) % 7
                    days.insert(day)
                }
            }
        }
        let times = words[1].split(separator: "-", omittingEmptySubsequences: false)
        guard times.count == 2 else {
            throw SiteValueError("'\(words[1])' is not a time range HH:MM-HH:MM (in \(windowUsage))")
        }
        let start = try minuteOfDay(times[0], allowEndOfDay: false)
        let end = try minuteOfDay(times[1], allowEndOfDay: true)
        guard start != end else {
            throw SiteValueError("'\(words[1])' starts and ends at the same time; a whole day is 00:00-24:00")
        }
        return MaintenanceWindow(days: days, start: start, end: end, text: text)
    }

    /// `HH:MM` as minutes after midnight; `24:00` only as the end of a window.
    static func minuteOfDay(_ text: Substring, allowEndOfDay: Bool) throws(SiteValueError) -> Int {
        let fields = text.split(separator: ":", omittingEmptySubsequences: false)
        guard fields.count == 2, (1...2).contains(fields[0].count), fields[1].count == 2,
            fields.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            let hour = Int(fields[0]), let minute = Int(fields[1])
        else { throw SiteValueError("'\(text)' is not a time HH:MM") }
        if hour == 24 && minute == 0 {
            guard allowEndOfDay else { throw SiteValueError("24:00 can only end a window; start at 00:00") }
            return 24 * 60
        }
        guard hour < 24, minute < 60 else { throw SiteValueError("'\(text)' is not a time of day (00:00-23:59)") }
        return hour * 60 + minute
    }

    /// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
    public static func suggestion(for word: String, among candidates: some Sequence<String>) -> String? {
        let lowered = word.lowercased()
        var best: (String, Int)? = nil
        for candidate in candidates {
            let distance = editDistance(Array(lowered), Array(candidate.lowercased()))
            let limit = max(1, min(3, candidate.count / 3))
            if distance <= limit && (best == nil || distance < best!.1) { best = (candidate, distance) }
        }
        return best?.0
    }

    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
