// IPv4 header (RFC 791). The view checks the 20-byte fixed part, every field its offset table names; it reads no
// options. IHL and total length are values the decoder checks against the frame (they decide the counted reason),
// not lengths the view needs.

public struct IPv4Header {
    @usableFromInline enum Field {
        @inlinable static var versionIHL: Int { 0 }
        @inlinable static var dscpECN: Int { 1 }
        @inlinable static var totalLength: Int { 2 }
        @inlinable static var identification: Int { 4 }
        @inlinable static var flagsFragmentOffset: Int { 6 }  // 3 flag bits, 13-bit offset in 8-byte units
        @inlinable static var ttl: Int { 8 }
        @inlinable static var protocolNumber: Int { 9 }
        @inlinable static var checksum: Int { 10 }
        @inlinable static var source: Int { 12 }  // 4 bytes
        @inlinable static var destination: Int { 16 }  // 4 bytes
        @inlinable static var end: Int { 20 }
    }
    /// Fixed header length (IHL 5).
    public static let minimumLength = Field.end

    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Field.end else { return nil }
        self.bytes = bytes
    }

    @inlinable public var version: UInt8 { bytes.u8(Field.versionIHL) >> 4 }
    /// IHL in bytes (the field counts 32-bit words); below 20 is malformed.
    @inlinable public var headerLength: Int { Int(bytes.u8(Field.versionIHL) & 0x0f) * 4 }
    @inlinable public var totalLength: Int { Int(bytes.u16(Field.totalLength)) }
    @inlinable public var identification: UInt16 { bytes.u16(Field.identification) }
    @inlinable public var dontFragment: Bool { bytes.u16(Field.flagsFragmentOffset) & 0x4000 != 0 }
    @inlinable public var moreFragments: Bool { bytes.u16(Field.flagsFragmentOffset) & 0x2000 != 0 }
    /// Fragment offset in bytes.
    @inlinable public var fragmentOffset: Int { Int(bytes.u16(Field.flagsFragmentOffset) & 0x1fff) * 8 }
    @inlinable public var ttl: UInt8 { bytes.u8(Field.ttl) }
    @inlinable public var protocolNumber: UInt8 { bytes.u8(Field.protocolNumber) }
    @inlinable public var source: IPAddress { IPAddress.readIPv4(bytes, Field.source) }
    @inlinable public var destination: IPAddress { IPAddress.readIPv4(bytes, Field.destination) }
}
