// A 48-bit IEEE 802 MAC address, as the decoder reads it (the six bytes big-endian in the low 48 bits of a
// UInt64; 0 where the link type carries none), with the two bits of the first byte that say what kind it is and
// the text form every output uses (`00:11:22:33:44:55`, lower case, as Zeek, Suricata and tcpdump print it).

public struct MACAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The six bytes in the low 48 bits, first byte highest.
    public var value: UInt64

    public init(_ value: UInt64) {
        self.value = value & 0xFFFF_FFFF_FFFF
    }

    /// Reads `00:11:22:33:44:55` (also with `-` between the bytes, and upper case); nil for anything else.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: text.contains("-") ? "-" : ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var value: UInt64 = 0
        for part in parts {
            guard part.count == 2, let byte = UInt8(part, radix: 16) else { return nil }
            value = value << 8 | UInt64(byte)
        }
        self.value = value
    }

    /// The group bit (I/G, the first byte's lowest bit): broadcast and multicast MACs, which no one station owns.
    @inlinable
    public static func isGroup(_ value: UInt64) -> Bool { value >> 40 & 1 == 1 }

    public var isGroup: Bool { Self.isGroup(value) }

    /// The locally administered bit (U/L, the first byte's second bit): not from a vendor's block. Phones and
    /// laptops set it on the MACs they randomise per network (RFC 7042 section 2.1; IEEE 802c).
    public var isLocallyAdministered: Bool { value >> 41 & 1 == 1 }

    /// No MAC known (the link type carries none).
    public var isUnknown: Bool { value == 0 }

    /// The first three bytes: the vendor's block (OUI) for a universally administered address.
    public var oui: UInt32 { UInt32(truncatingIfNeeded: value >> 24) }

    public var description: String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(17)
        for shift in stride(from: 40, through: 0, by: -8) {
            let byte = Int(value >> UInt64(shift) & 0xFF)
            if shift != 40 { bytes.append(UInt8(ascii: ":")) }
            bytes.append(digits[byte >> 4])
            bytes.append(digits[byte & 0xF])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool { lhs.value < rhs.value }
}
