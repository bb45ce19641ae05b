// Fixed-width little-endian encoding of analysis state (open flows, detection windows, baselines) for the state
// file. Each stage encodes its own internals, so their fields stay private to it; the state store only keeps the
// bytes, as named, versioned sections (`StateSection`): each section's layout is versioned by the stage that writes
// it, so a stage changes its own layout without a new schema of the state file.

import PacketDecoding

public struct StateDecodingError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// One named section of saved state as read back: the version of its layout (the writer's), and its bytes.
public struct StateSection: Sendable, Equatable {
    public var version: Int
    public var data: [UInt8]

    public init(version: Int, data: [UInt8]) {
        self.version = version
        self.data = data
    }

    /// A reader over the bytes, for a stage that reads layouts up to `known`. A newer version is refused (its bytes
    /// would be misread).
    public func reader(upTo known: Int) throws -> StateReader {
        guard version <= known else {
            throw StateDecodingError("layout version \(version), written by a newer IdleWatch (this one reads up to "
                + "version \(known))")
        }
        return StateReader(data)
    }
}

public struct StateWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func put(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
    public mutating func put(_ value: Int64) { put(UInt64(bitPattern: value)) }
    public mutating func put(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
    public mutating func put(_ value: Int32) { put(UInt32(bitPattern: value)) }
    public mutating func put(_ value: UInt16) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
    public mutating func put(_ value: UInt8) { bytes.append(value) }
    public mutating func put(_ value: Bool) { bytes.append(value ? 1 : 0) }
    public mutating func put(_ value: Double) { put(value.bitPattern) }
    public mutating func put(_ value: Timestamp) { put(value.nanoseconds) }
    public mutating func put(_ value: Duration) { put(value.nanoseconds) }
    public mutating func put(_ value: IPAddress) {
        put(value.isIPv6)
        put(value.high)
        put(value.low)
    }
    public mutating func put(_ value: Timestamp?) {
        put(value != nil)
        if let value { put(value) }
    }
    public mutating func put(_ value: String) {
        let utf8 = Array(value.utf8)
        put(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }
    /// A count before a sequence of items.
    public mutating func putCount(_ count: Int) { put(UInt32(count)) }
    /// A length-prefixed byte string (read back by `StateReader.byteString()`).
    public mutating func put(byteString value: [UInt8]) {
        putCount(value.count)
        bytes.append(contentsOf: value)
    }
    /// Bytes written so far.
    public var count: Int { bytes.count }
    /// Room for `total` bytes in all, so a large state is written without the array doubling (which held the old
    /// and the new buffer at once: twice the blob's size at its peak).
    public mutating func reserveCapacity(_ total: Int) { bytes.reserveCapacity(total) }
}

public struct StateReader: Sendable {
    let bytes: [UInt8]
    public private(set) var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var isAtEnd: Bool { offset == bytes.count }

    mutating func take<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let size = MemoryLayout<T>.size
        guard bytes.count - offset >= size else {
            throw StateDecodingError("saved state ends early (offset \(offset), \(bytes.count) bytes)")
        }
        var value = T.zero
        for i in 0..<size { value |= T(bytes[offset + i]) << (8 * i) }
        offset += size
        return value
    }

    public mutating func uint64() throws -> UInt64 { try take(UInt64.self) }
    public mutating func int64() throws -> Int64 { try take(Int64.self) }
    public mutating func uint32() throws -> UInt32 { try take(UInt32.self) }
    public mutating func int32() throws -> Int32 { try take(Int32.self) }
    public mutating func uint16() throws -> UInt16 { try take(UInt16.self) }
    public mutating func uint8() throws -> UInt8 { try take(UInt8.self) }
    public mutating func bool() throws -> Bool {
        let byte = try uint8()
        guard byte <= 1 else { throw StateDecodingError("saved state has \(byte) where a flag belongs (offset \(offset - 1))") }
        return byte == 1
    }
    public mutating func double() throws -> Double { Double(bitPattern: try uint64()) }
    public mutating func timestamp() throws -> Timestamp { Timestamp(nanoseconds: try int64()) }
    public mutating func duration() throws -> Duration { Duration(nanoseconds: try int64()) }
    public mutating func address() throws -> IPAddress {
        let isIPv6 = try bool()
        let high = try uint64(), low = try uint64()
        guard isIPv6 || high == 0 && low >> 32 == 0 else { throw StateDecodingError("saved state has a malformed address") }
        return isIPv6 ? IPAddress(ipv6High: high, low: low) : IPAddress(ipv4: UInt32(low))
    }
    public mutating func optionalTimestamp() throws -> Timestamp? {
        try bool() ? try timestamp() : nil
    }
    public mutating func string() throws -> String {
        let count = Int(try uint32())
        guard bytes.count - offset >= count else { throw StateDecodingError("saved state ends inside a string") }
        defer { offset += count }
        return String(decoding: bytes[offset..<offset + count], as: UTF8.self)
    }
    /// A byte string written by `put(byteString:)`.
    public mutating func byteString() throws -> [UInt8] {
        let count = try self.count()
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }
    /// A count written by `putCount`, checked against what is left (each item takes at least `minimumItemSize`
    /// bytes), so a corrupt count cannot make the reader reserve or loop for billions of items.
    public mutating func count(minimumItemSize: Int = 1) throws -> Int {
        let count = Int(try uint32())
        guard count <= (bytes.count - offset) / max(1, minimumItemSize) else {
            throw StateDecodingError("saved state has a count (\(count)) larger than what follows")
        }
        return count
    }
}
