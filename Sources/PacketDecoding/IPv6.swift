// IPv6 header (RFC 8200) and the extension headers IdleWatch walks to reach the transport layer.

public struct IPv6Header {
    @usableFromInline enum Field {
        @inlinable static var versionClassFlow: Int { 0 }
        @inlinable static var payloadLength: Int { 4 }
        @inlinable static var nextHeader: Int { 6 }
        @inlinable static var hopLimit: Int { 7 }
        @inlinable static var source: Int { 8 }  // 16 bytes
        @inlinable static var destination: Int { 24 }  // 16 bytes
        @inlinable static var end: Int { 40 }
    }
    public static let length = Field.end

    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Field.end else { return nil }
        self.bytes = bytes
    }

    @inlinable public var version: UInt8 { bytes.u8(Field.versionClassFlow) >> 4 }
    /// Bytes after the fixed header, extension headers included. Zero means a jumbogram (RFC 2675) or garbage.
    @inlinable public var payloadLength: Int { Int(bytes.u16(Field.payloadLength)) }
    @inlinable public var nextHeader: UInt8 { bytes.u8(Field.nextHeader) }
    @inlinable public var hopLimit: UInt8 { bytes.u8(Field.hopLimit) }
    @inlinable public var source: IPAddress { IPAddress.readIPv6(bytes, Field.source) }
    @inlinable public var destination: IPAddress { IPAddress.readIPv6(bytes, Field.destination) }
}

/// A generic IPv6 extension header: next header, then a length byte whose unit depends on the header type. The view
/// checks the 8 bytes every extension header has, which hold every field it reads (the fragment header's included);
/// `headerLength`, the whole header, is a value the decoder checks against the datagram and the capture.
public struct IPv6ExtensionHeader {
    @usableFromInline enum Field {
        @inlinable static var nextHeader: Int { 0 }
        @inlinable static var length: Int { 1 }
        // The fragment header (RFC 8200 section 4.5): offset in 8-byte units (13 bits), 2 reserved bits, M flag.
        @inlinable static var fragmentOffsetFlags: Int { 2 }
        @inlinable static var fragmentIdentification: Int { 4 }  // 4 bytes
        @inlinable static var end: Int { 8 }
    }
    /// Every extension header is at least 8 bytes.
    public static let minimumLength = Field.end

    public let bytes: UnsafeRawBufferPointer
    public let kind: UInt8

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer, kind: UInt8) {
        guard bytes.count >= Field.end else { return nil }
        self.bytes = bytes
        self.kind = kind
    }

    /// Whether `value` names an extension header IdleWatch walks past (RFC 8200 section 4, RFC 4302, RFC 6275,
    /// RFC 7401, RFC 5533, RFC 3692). ESP is not walkable: what follows it is encrypted.
    @inlinable
    public static func isExtension(_ value: UInt8) -> Bool {
        switch value {
        case IPProtocol.hopByHop, IPProtocol.ipv6Routing, IPProtocol.ipv6Fragment, IPProtocol.ipv6DestinationOptions,
            IPProtocol.authenticationHeader, IPProtocol.mobility, IPProtocol.hip, IPProtocol.shim6,
            IPProtocol.experimental1, IPProtocol.experimental2:
            true
        default: false
        }
    }

    @inlinable public var nextHeader: UInt8 { bytes.u8(Field.nextHeader) }

    /// The header's length in bytes: the fragment header is always 8; AH counts 4-byte words minus 2 (RFC 4302);
    /// the others count 8-byte words beyond the first 8.
    @inlinable public var headerLength: Int {
        switch kind {
        case IPProtocol.ipv6Fragment: Field.end
        case IPProtocol.authenticationHeader: (Int(bytes.u8(Field.length)) + 2) * 4
        default: (Int(bytes.u8(Field.length)) + 1) * 8
        }
    }

    // Fragment header fields (RFC 8200 section 4.5), meaningful when `kind` is 44.
    /// Fragment offset in bytes.
    @inlinable public var fragmentOffset: Int { Int(bytes.u16(Field.fragmentOffsetFlags) >> 3) * 8 }
    @inlinable public var moreFragments: Bool { bytes.u16(Field.fragmentOffsetFlags) & 1 != 0 }
    @inlinable public var fragmentIdentification: UInt32 { bytes.u32(Field.fragmentIdentification) }
}
