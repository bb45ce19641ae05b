// IPv4 and IPv6 addresses as two plain integers, so packet summaries and flow keys stay fixed-width values.

/// An IPv4 or IPv6 address. IPv4 addresses live in the low 32 bits of `low` with `high == 0`; the family flag keeps
/// `0.0.0.1` and `::1` apart. Ordering is by family (IPv4 first), then numerically, as flow keys need.
public struct IPAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64
    public var isIPv6: Bool

    @inlinable
    public init(ipv4 value: UInt32) {
        high = 0
        low = UInt64(value)
        isIPv6 = false
    }

    @inlinable
    public init(ipv6High high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
        isIPv6 = true
    }

    public static let unspecified = IPAddress(ipv4: 0)

    @inlinable
    public var ipv4Value: UInt32 { UInt32(truncatingIfNeeded: low) }

    @inlinable
    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        if lhs.isIPv6 != rhs.isIPv6 { return !lhs.isIPv6 }
        if lhs.high != rhs.high { return lhs.high < rhs.high }
        return lhs.low < rhs.low
    }

    // MARK: What kind of address it is
    //
    // Addresses that never name one host of a network: the hosts stage makes no host for them, and no alert is about
    // one (a directed broadcast, the last address of a site's subnet, depends on the site's networks and is the site
    // model's to say).

    /// `0.0.0.0` or `::`: "no address yet" (a DHCP discover's source, a duplicate-address probe's source).
    @inlinable
    public var isUnspecified: Bool { high == 0 && low == 0 }

    /// `127.0.0.0/8` or `::1`: the capturing machine talking to itself (RFC 1122 section 3.2.1.3, RFC 4291 2.5.3).
    @inlinable
    public var isLoopback: Bool {
        isIPv6 ? high == 0 && low == 1 : ipv4Value >> 24 == 127
    }

    /// `224.0.0.0/4` or `ff00::/8` (link-local groups such as `224.0.0.251` and `ff02::1` included): a group, which
    /// any number of hosts may have joined.
    @inlinable
    public var isMulticast: Bool {
        isIPv6 ? high >> 56 == 0xff : ipv4Value >> 28 == 0xe
    }

    /// `255.255.255.255`: every host of the link (RFC 919).
    @inlinable
    public var isLimitedBroadcast: Bool { !isIPv6 && ipv4Value == 0xFFFF_FFFF }

    /// Whether the address can name one host: not unspecified, loopback, multicast or the limited broadcast.
    @inlinable
    public var canBeHost: Bool { !(isUnspecified || isLoopback || isMulticast || isLimitedBroadcast) }

    /// The address in network byte order: 4 bytes for IPv4, 16 for IPv6.
    public var bytes: [UInt8] {
        if !isIPv6 {
            let v = ipv4Value
            return [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)]
        }
        var out = [UInt8]()
        out.reserveCapacity(16)
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(high >> UInt64(shift) & 0xff)) }
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(low >> UInt64(shift) & 0xff)) }
        return out
    }

    /// Dotted quad for IPv4; RFC 5952 text for IPv6 (lower case, longest run of zero groups compressed,
    /// IPv4-mapped addresses in mixed notation).
    public var description: String {
        if !isIPv6 {
            let v = ipv4Value
            return "\(v >> 24).\(v >> 16 & 0xff).\(v >> 8 & 0xff).\(v & 0xff)"
        }
        var groups = [UInt16](repeating: 0, count: 8)
        for i in 0..<4 {
            groups[i] = UInt16(truncatingIfNeeded: high >> UInt64(48 - 16 * i))
            groups[4 + i] = UInt16(truncatingIfNeeded: low >> UInt64(48 - 16 * i))
        }
        if high == 0 && low >> 32 == 0xffff {
            let v4 = IPAddress(ipv4: UInt32(truncatingIfNeeded: low))
            return "::ffff:\(v4)"
        }
        // Longest run of two or more zero groups; the first one wins a tie (RFC 5952 section 4.2.3).
        var bestStart = -1, bestLength = 0, runStart = -1
        for i in 0...8 {
            if i < 8 && groups[i] == 0 {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                let length = i - runStart
                if length > bestLength && length >= 2 {
                    bestStart = runStart
                    bestLength = length
                }
                runStart = -1
            }
        }
        var text = ""
        var i = 0
        while i < 8 {
            if i == bestStart {
                text += "::"
                i += bestLength
                continue
            }
            if !text.isEmpty && !text.hasSuffix(":") { text += ":" }
            text += String(groups[i], radix: 16)
            i += 1
        }
        return text
    }

    /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text (with `::` and an optional trailing dotted quad).
    public init?(_ text: some StringProtocol) {
        if !text.contains(":") {
            guard let v4 = IPAddress.parseIPv4(Substring(text)) else { return nil }
            self.init(ipv4: v4)
            return
        }
        guard let (h, l) = IPAddress.parseIPv6(Substring(text)) else { return nil }
        self.init(ipv6High: h, low: l)
    }

    private static func parseIPv4(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            // Decimal digits only, no sign, no leading zero (inet_pton's rule; "010" means 8 to inet_aton).
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                part.count == 1 || part.first != "0", let octet = UInt32(part), octet <= 255
            else { return nil }
            value = value << 8 | octet
        }
        return value
    }

    private static func firstDoubleColon(in text: Substring) -> Range<Substring.Index>? {
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(after: index)
            if text[index] == ":" && next < text.endIndex && text[next] == ":" {
                return index..<text.index(after: next)
            }
            index = next
        }
        return nil
    }

    private static func parseIPv6(_ text: Substring) -> (UInt64, UInt64)? {
        var groups: [UInt16] = []
        var tailGroups: [UInt16] = []
        var sawDoubleColon = false
        var halves: [String] = []
        if let split = IPAddress.firstDoubleColon(in: text) {
            let rest = text[split.upperBound...]
            guard IPAddress.firstDoubleColon(in: rest) == nil else { return nil }
            halves = [String(text[..<split.lowerBound]), String(rest)]
        } else {
            halves = [String(text)]
        }
        func parseGroups(_ part: String, allowIPv4Tail: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var result: [UInt16] = []
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, field) in fields.enumerated() {
                if field.contains(".") {
                    guard allowIPv4Tail, index == fields.count - 1, let v4 = parseIPv4(field) else { return nil }
                    result.append(UInt16(v4 >> 16))
                    result.append(UInt16(v4 & 0xffff))
                } else {
                    guard !field.isEmpty, field.count <= 4, field.allSatisfy({ $0.isASCII && $0.isHexDigit }),
                        let g = UInt16(field, radix: 16)
                    else { return nil }
                    result.append(g)
                }
            }
            return result
        }
        if halves.count == 2 {
            sawDoubleColon = true
            guard let head = parseGroups(halves[0], allowIPv4Tail: false),
                let tail = parseGroups(halves[1], allowIPv4Tail: true)
            else { return nil }
            groups = head
            tailGroups = tail
            guard groups.count + tailGroups.count <= 7 else { return nil }
        } else {
            guard let all = parseGroups(halves[0], allowIPv4Tail: true), all.count == 8 else { return nil }
            groups = all
        }
        if sawDoubleColon {
            groups += [UInt16](repeating: 0, count: 8 - groups.count - tailGroups.count) + tailGroups
        }
        var h: UInt64 = 0, l: UInt64 = 0
        for i in 0..<4 { h = h << 16 | UInt64(groups[i]) }
        for i in 4..<8 { l = l << 16 | UInt64(groups[i]) }
        return (h, l)
    }
}

extension IPAddress {
    /// Reads an IPv4 address at `offset` (4 bytes, network order).
    @inlinable
    static func readIPv4(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> IPAddress {
        IPAddress(ipv4: bytes.u32(offset))
    }

    /// Reads an IPv6 address at `offset` (16 bytes, network order).
    @inlinable
    static func readIPv6(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> IPAddress {
        IPAddress(ipv6High: bytes.u64(offset), low: bytes.u64(offset + 8))
    }
}
