// Packet time: every clock in IdleWatch's analysis is the capture timestamp, never the wall clock.

/// A capture timestamp in nanoseconds since the Unix epoch (UTC).
public struct Timestamp: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64

    @inlinable
    public init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
    }

    @inlinable
    public init(seconds: Int64, nanoseconds: Int64 = 0) {
        self.nanoseconds = seconds &* 1_000_000_000 &+ nanoseconds
    }

    public static let zero = Timestamp(nanoseconds: 0)

    /// Whole seconds since the epoch, rounded towards minus infinity.
    @inlinable
    public var seconds: Int64 {
        nanoseconds >= 0 ? nanoseconds / 1_000_000_000 : (nanoseconds + 1) / 1_000_000_000 - 1
    }

    /// The nanoseconds within the second, `0..<1_000_000_000`.
    @inlinable
    public var subsecondNanoseconds: Int64 {
        let remainder = nanoseconds % 1_000_000_000
        return remainder < 0 ? remainder + 1_000_000_000 : remainder
    }

    /// Seconds a `Timestamp` can hold: about the years 1678 to 2262.
    public static let representableSeconds: ClosedRange<Int64> = -9_223_372_035 ... 9_223_372_035

    @inlinable
    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    /// Saturating: a capture can hold timestamps from 1970 and from 2262 (the representable ends), and a wrapped
    /// sum or difference would turn "long ago" into "just now" (a flow never expiring, a span printed negative).
    @inlinable
    public static func + (lhs: Timestamp, rhs: Duration) -> Timestamp {
        let (sum, overflow) = lhs.nanoseconds.addingReportingOverflow(rhs.nanoseconds)
        return Timestamp(nanoseconds: overflow ? (rhs.nanoseconds > 0 ? .max : .min) : sum)
    }

    @inlinable
    public static func - (lhs: Timestamp, rhs: Timestamp) -> Duration {
        let (difference, overflow) = lhs.nanoseconds.subtractingReportingOverflow(rhs.nanoseconds)
        return Duration(nanoseconds: overflow ? (rhs.nanoseconds < 0 ? .max : .min) : difference)
    }

    /// RFC 3339 in UTC with microseconds, as Suricata's EVE writes it: `2026-11-21T10:04:05.123456+0000`
    /// uses an offset; IdleWatch writes the `Z` form, which every RFC 3339 parser reads.
    public var description: String { rfc3339(fractionDigits: 6) }

    /// RFC 3339 in UTC: `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, with 0, 3, 6 or 9 fraction digits (truncated, not rounded).
    public func rfc3339(fractionDigits: Int = 6) -> String {
        let civil = CivilTime(secondsSinceEpoch: seconds)
        var text = ""
        text.reserveCapacity(32)
        text += pad(civil.year, 4) + "-" + pad(civil.month, 2) + "-" + pad(civil.day, 2)
        text += "T" + pad(civil.hour, 2) + ":" + pad(civil.minute, 2) + ":" + pad(civil.second, 2)
        if fractionDigits > 0 {
            var fraction = subsecondNanoseconds
            var digits = 9
            while digits > fractionDigits {
                fraction /= 10
                digits -= 1
            }
            text += "." + pad(fraction, fractionDigits)
        }
        return text + "Z"
    }
}

/// A span of packet time in nanoseconds.
public struct Duration: Comparable, Hashable, Sendable {
    public var nanoseconds: Int64

    @inlinable
    public init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
    }

    @inlinable
    public static func seconds(_ seconds: Int64) -> Duration {
        Duration(nanoseconds: seconds &* 1_000_000_000)
    }

    @inlinable
    public static func milliseconds(_ milliseconds: Int64) -> Duration {
        Duration(nanoseconds: milliseconds &* 1_000_000)
    }

    @inlinable
    public static func microseconds(_ microseconds: Int64) -> Duration {
        Duration(nanoseconds: microseconds &* 1_000)
    }

    @inlinable
    public static func < (lhs: Duration, rhs: Duration) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    /// Seconds as a floating-point value, for display.
    public var seconds: Double { Double(nanoseconds) / 1e9 }
}

/// Gregorian calendar date and time of day in UTC, from days since the epoch (Howard Hinnant's civil_from_days).
public struct CivilTime: Equatable, Sendable {
    public var year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64
    /// 0 = Sunday ... 6 = Saturday.
    public var weekday: Int64

    public init(secondsSinceEpoch: Int64) {
        var days = secondsSinceEpoch / 86_400
        var secondOfDay = secondsSinceEpoch % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        hour = secondOfDay / 3600
        minute = secondOfDay % 3600 / 60
        second = secondOfDay % 60
        weekday = ((days % 7) + 11) % 7  // 1970-01-01 was a Thursday (4)
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }
}

private func pad(_ value: Int64, _ width: Int) -> String {
    let digits = String(value)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}
