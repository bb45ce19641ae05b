// Helpers shared by the decoder tests: hex literals, decoding an exact-size copy of the bytes, and shorthands
// for addresses and MACs so expectations read like the tcpdump line they come from.

import Testing
@testable import PacketDecoding

/// Bytes from hex text. Spaces, newlines and `|` (used to mark header boundaries in hand-written literals) are
/// ignored; anything else that is not a hex digit is a mistake in the test.
func hex(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.utf8.count / 2)
    var high: UInt8?
    for byte in text.utf8 {
        let nibble: UInt8
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\t"), UInt8(ascii: "|"): continue
        default: preconditionFailure("not a hex digit: \(Character(Unicode.Scalar(byte)))")
        }
        if let h = high {
            bytes.append(h << 4 | nibble)
            high = nil
        } else {
            high = nibble
        }
    }
    precondition(high == nil, "odd number of hex digits")
    return bytes
}

/// Four lower-case hex digits, for hand-built headers.
func hex4(_ value: Int) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}

/// Decodes `bytes` as one captured packet. `wireLength` defaults to the captured length (nothing was cut).
///
/// The decoder sees a buffer of exactly `bytes.count` bytes, so a read past the captured part traps in a debug
/// build instead of reading a neighbour's memory.
func decode(_ bytes: [UInt8], wireLength: Int? = nil, link: LinkType = .ethernet) -> PacketSummary {
    bytes.withUnsafeBytes { PacketDecoder.decode($0, wireLength: wireLength ?? bytes.count, linkType: link) }
}

/// Decodes the first `count` bytes of `bytes` (a copy of exactly that size), as the snapshot length would cut them.
func decodePrefix(_ bytes: [UInt8], _ count: Int, wireLength: Int, link: LinkType = .ethernet) -> PacketSummary {
    decode(Array(bytes[0..<count]), wireLength: wireLength, link: link)
}

/// `bytes` with the bytes at the given offsets replaced: the contradictory variants of a real packet.
func patched(_ bytes: [UInt8], _ changes: [Int: UInt8]) -> [UInt8] {
    var copy = bytes
    for (offset, value) in changes { copy[offset] = value }
    return copy
}

/// An address from its text form; the tests only write valid ones.
func ip(_ text: String) -> IPAddress {
    guard let address = IPAddress(text) else { preconditionFailure("bad address literal \(text)") }
    return address
}

/// A MAC address written `aa:bb:cc:dd:ee:ff`, as the low 48 bits of a `UInt64` (the decoder's representation).
func mac(_ text: String) -> UInt64 {
    let parts = text.split(separator: ":")
    precondition(parts.count == 6, "bad MAC literal \(text)")
    return parts.reduce(UInt64(0)) { $0 << 8 | UInt64($1, radix: 16)! }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a small seeded generator so the random sweeps repeat exactly.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
