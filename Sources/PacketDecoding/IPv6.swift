// IPv6 header (RFC 8200) and the extension headers IdleWatch walks to reach the transport layer.

public struct IPv6Header {
    enum Field {
        static let versionClassFlow = 0
        static let payloadLength = 4
        static let nextHeader = 6
        static let hopLimit = 7
        static let source = 8  // 16 bytes
        static let destination = 24  // 16 bytes
    }
    public static let length = 40

    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.length else { return nil }
        self.bytes = bytes
    }

    @inlinable public var version: UInt8 { bytes.u8(0) >> 4 }
    /// Bytes after the fixed header, extension headers included. Zero means a jumbogram (RFC 2675) or garbage.
    @inlinable public var payloadLength: Int { Int(bytes.u16(4)) }
    @inlinable public var nextHeader: UInt8 { bytes.u8(6) }
    @inlinable public var hopLimit: UInt8 { bytes.u8(7) }
    @inlinable public var source: IPAddress { IPAddress.readIPv6(bytes, 8) }
    @inlinable public var destination: IPAddress { IPAddress.readIPv6(bytes, 24) }
}

/// A generic IPv6 extension header: next header, then a length byte whose unit depends on the header type.
public struct IPv6ExtensionHeader {
    enum Field {
        static let nextHeader = 0
        static let length = 1
    }
    /// Every extension header is at least 8 bytes.
    public static let minimumLength = 8

    public let bytes: UnsafeRawBufferPointer
    public let kind: UInt8

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer, kind: UInt8) {
        guard bytes.count >= Self.minimumLength else { return nil }
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

    @inlinable public var nextHeader: UInt8 { bytes.u8(0) }

    /// The header's length in bytes: the fragment header is always 8; AH counts 4-byte words minus 2 (RFC 4302);
    /// the others count 8-byte words beyond the first 8.
    @inlinable public var headerLength: Int {
        switch kind {
        case IPProtocol.ipv6Fragment: 8
        case IPProtocol.authenticationHeader: (Int(bytes.u8(1)) + 2) * 4
        default: (Int(bytes.u8(1)) + 1) * 8
        }
    }

    // Fragment header fields (RFC 8200 section 4.5), meaningful when `kind` is 44.
    /// Fragment offset in bytes.
    @inlinable public var fragmentOffset: Int { Int(bytes.u16(2) >> 3) * 8 }
    @inlinable public var moreFragments: Bool { bytes.u16(2) & 1 != 0 }
    @inlinable public var fragmentIdentification: UInt32 { bytes.u32(4) }
}
