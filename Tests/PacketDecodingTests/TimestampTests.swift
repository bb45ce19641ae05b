// Packet time: RFC 3339 text for known epochs (checked against Python's datetime), truncated fractions, times
// before 1970, the civil calendar and its weekday.

import Testing
@testable import PacketDecoding

@Suite struct TimestampTests {
    @Test(arguments: [
        // (seconds since the epoch, RFC 3339 without fraction, weekday 0 = Sunday)
        (Int64(0), "1970-01-01T00:00:00Z", Int64(4)),
        (951_782_400, "2000-02-29T00:00:00Z", 2),  // leap day of a year divisible by 400
        (951_868_800, "2000-03-01T00:00:00Z", 3),
        (946_684_800, "2000-01-01T00:00:00Z", 6),
        (1_234_567_890, "2009-02-13T23:31:30Z", 5),
        (1_672_531_200, "2023-01-01T00:00:00Z", 0),
        (2_147_483_647, "2038-01-19T03:14:07Z", 2),  // last second of signed 32-bit time
        (2_147_483_648, "2038-01-19T03:14:08Z", 2),
        (4_294_967_295, "2106-02-07T06:28:15Z", 0),  // last second of unsigned 32-bit time
        (4_107_542_400, "2100-03-01T00:00:00Z", 1),  // 2100 is not a leap year
        (253_402_300_799, "9999-12-31T23:59:59Z", 5),
        (-1, "1969-12-31T23:59:59Z", 3),
        (-86_400, "1969-12-31T00:00:00Z", 3),
        (-31_536_000, "1969-01-01T00:00:00Z", 3),
        (-2_208_988_800, "1900-01-01T00:00:00Z", 1),
        (-2_203_891_200, "1900-03-01T00:00:00Z", 4),  // 1900 is not a leap year
        (-62_135_596_800, "0001-01-01T00:00:00Z", 1),
    ])
    func knownEpochs(seconds: Int64, text: String, weekday: Int64) {
        let civil = CivilTime(secondsSinceEpoch: seconds)
        #expect(Self.format(civil) == text)
        #expect(civil.weekday == weekday)
        // A Timestamp holds Int64 nanoseconds: about 1677-09-21 to 2262-04-11. Years 1 and 9999 are CivilTime only.
        if abs(seconds) <= Int64.max / 1_000_000_000 {
            #expect(Timestamp(seconds: seconds).rfc3339(fractionDigits: 0) == text)
        }
    }

    /// The test's own RFC 3339 rendering of a civil time, to check `CivilTime` apart from `Timestamp`.
    static func format(_ civil: CivilTime) -> String {
        func pad(_ value: Int64, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(civil.year, 4))-\(pad(civil.month, 2))-\(pad(civil.day, 2))T"
            + "\(pad(civil.hour, 2)):\(pad(civil.minute, 2)):\(pad(civil.second, 2))Z"
    }

    @Test func civilTimeFields() {
        let civil = CivilTime(secondsSinceEpoch: 1_234_567_890)
        #expect(civil == {
            var expected = CivilTime(secondsSinceEpoch: 0)
            (expected.year, expected.month, expected.day) = (2009, 2, 13)
            (expected.hour, expected.minute, expected.second) = (23, 31, 30)
            expected.weekday = 5  // Friday
            return expected
        }())
        let beforeEpoch = CivilTime(secondsSinceEpoch: -1)
        #expect(beforeEpoch.year == 1969)
        #expect(beforeEpoch.month == 12)
        #expect(beforeEpoch.day == 31)
        #expect(beforeEpoch.hour == 23)
        #expect(beforeEpoch.minute == 59)
        #expect(beforeEpoch.second == 59)
    }

    @Test func weekdayRunsThroughTheWeekBothSidesOfTheEpoch() {
        for day in Int64(-30)...30 {
            let expected = ((day + 4) % 7 + 7) % 7
            #expect(CivilTime(secondsSinceEpoch: day * 86_400).weekday == expected, "day \(day)")
            #expect(CivilTime(secondsSinceEpoch: day * 86_400 + 86_399).weekday == expected, "day \(day), last second")
        }
    }

    @Test func fractionDigitsAreTruncated() {
        let timestamp = Timestamp(seconds: 1_234_567_890, nanoseconds: 987_654_321)
        #expect(timestamp.rfc3339(fractionDigits: 0) == "2009-02-13T23:31:30Z")
        #expect(timestamp.rfc3339(fractionDigits: 3) == "2009-02-13T23:31:30.987Z")
        #expect(timestamp.rfc3339(fractionDigits: 6) == "2009-02-13T23:31:30.987654Z")
        #expect(timestamp.rfc3339(fractionDigits: 9) == "2009-02-13T23:31:30.987654321Z")
        #expect(timestamp.rfc3339() == "2009-02-13T23:31:30.987654Z")
        #expect(timestamp.description == "2009-02-13T23:31:30.987654Z")

        let almost = Timestamp(seconds: 59, nanoseconds: 999_999_999)
        #expect(almost.rfc3339(fractionDigits: 3) == "1970-01-01T00:00:59.999Z")  // not rounded up to 01:00
        let leadingZeros = Timestamp(seconds: 0, nanoseconds: 1_002_003)
        #expect(leadingZeros.rfc3339(fractionDigits: 3) == "1970-01-01T00:00:00.001Z")
        #expect(leadingZeros.rfc3339(fractionDigits: 6) == "1970-01-01T00:00:00.001002Z")
        #expect(leadingZeros.rfc3339(fractionDigits: 9) == "1970-01-01T00:00:00.001002003Z")
        #expect(Timestamp.zero.rfc3339(fractionDigits: 9) == "1970-01-01T00:00:00.000000000Z")
    }

    @Test func negativeTimesFloorToTheSecondBefore() {
        let oneNanosecondBefore = Timestamp(nanoseconds: -1)
        #expect(oneNanosecondBefore.seconds == -1)
        #expect(oneNanosecondBefore.subsecondNanoseconds == 999_999_999)
        #expect(oneNanosecondBefore.rfc3339(fractionDigits: 9) == "1969-12-31T23:59:59.999999999Z")
        #expect(oneNanosecondBefore.rfc3339(fractionDigits: 6) == "1969-12-31T23:59:59.999999Z")

        let halfSecondBefore = Timestamp(seconds: -1, nanoseconds: 500_000_000)
        #expect(halfSecondBefore.nanoseconds == -500_000_000)
        #expect(halfSecondBefore.rfc3339(fractionDigits: 3) == "1969-12-31T23:59:59.500Z")

        let exactSecond = Timestamp(nanoseconds: -1_000_000_000)
        #expect(exactSecond.seconds == -1)
        #expect(exactSecond.subsecondNanoseconds == 0)
        #expect(exactSecond.rfc3339() == "1969-12-31T23:59:59.000000Z")

        let justPast = Timestamp(nanoseconds: -1_000_000_001)
        #expect(justPast.seconds == -2)
        #expect(justPast.subsecondNanoseconds == 999_999_999)
        #expect(justPast.rfc3339(fractionDigits: 9) == "1969-12-31T23:59:58.999999999Z")
    }

    @Test func arithmeticAndOrdering() {
        let start = Timestamp(seconds: 100)
        let later = start + .seconds(2) + .milliseconds(500)
        #expect(later.nanoseconds == 102_500_000_000)
        #expect(later - start == Duration(nanoseconds: 2_500_000_000))
        #expect((later - start).seconds == 2.5)
        #expect(start < later)
        #expect(Duration.seconds(1) < .milliseconds(1001))
        #expect(Timestamp(seconds: -1) < .zero)
    }

    @Test("differences and sums saturate at the representable ends instead of wrapping")
    func saturation() {
        // A capture can hold both ends (a pcapng timestamp clamped to 2262 beside one just before 1970): the span
        // between them must read as very long, not negative, and a deadline past the end must stay in the future.
        let last = Timestamp(nanoseconds: .max), beforeEpoch = Timestamp(seconds: -420)
        #expect(last - beforeEpoch == Duration(nanoseconds: .max))
        #expect(beforeEpoch - last == Duration(nanoseconds: .min))
        #expect(last - beforeEpoch > .seconds(300))
        #expect(last + .seconds(300) == last)
        #expect(Timestamp(nanoseconds: .min) + Duration(nanoseconds: -1) == Timestamp(nanoseconds: .min))
        #expect(last - Timestamp(seconds: 1) == Duration(nanoseconds: Int64.max - 1_000_000_000))
    }
}
