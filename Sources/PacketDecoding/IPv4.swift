// IPv4 header (RFC 791). The view checks the 20-byte fixed part; the decoder checks IHL and total length
// against the frame before it trusts them.

public struct IPv4Header {
    enum Field {
        static let versionIHL = 0
        static let dscpECN = 1
        static let totalLength = 2
        static let identification = 4
        static let flagsFragmentOffset = 6  // 3 flag bits, 13-bit offset in 8-byte units
        static let ttl = 8
        static let protocolNumber = 9
        static let checksum = 10
        static let source = 12
        static let destination = 16
    }
    /// Fixed header length (IHL 5).
    public static let minimumLength = 20

    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.minimumLength else { return nil }
        self.bytes = bytes
    }

    @inlinable public var version: UInt8 { bytes.u8(0) >> 4 }
    /// IHL in bytes (the field counts 32-bit words); below 20 is malformed.
    @inlinable public var headerLength: Int { Int(bytes.u8(0) & 0x0f) * 4 }
    @inlinable public var totalLength: Int { Int(bytes.u16(2)) }
    @inlinable public var identification: UInt16 { bytes.u16(4) }
    @inlinable public var dontFragment: Bool { bytes.u16(6) & 0x4000 != 0 }
    @inlinable public var moreFragments: Bool { bytes.u16(6) & 0x2000 != 0 }
    /// Fragment offset in bytes.
    @inlinable public var fragmentOffset: Int { Int(bytes.u16(6) & 0x1fff) * 8 }
    @inlinable public var ttl: UInt8 { bytes.u8(8) }
    @inlinable public var protocolNumber: UInt8 { bytes.u8(9) }
    @inlinable public var source: IPAddress { IPAddress.readIPv4(bytes, 12) }
    @inlinable public var destination: IPAddress { IPAddress.readIPv4(bytes, 16) }
}
