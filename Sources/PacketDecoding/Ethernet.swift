// Ethernet II header and 802.1Q/802.1ad tags (IEEE 802.3, IEEE 802.1Q).
//
// Views are made only by `init?(_:)`, which checks once that the bytes hold every field of the view's offset table
// (`Field`); after that no accessor can trap or needs a check. The bytes are borrowed from the capture buffer and
// must not outlive it.

/// Ethernet II: destination MAC, source MAC, EtherType (or an 802.3 length below 0x0600).
public struct EthernetHeader {
    @usableFromInline enum Field {
        @inlinable static var destination: Int { 0 }  // 6 bytes
        @inlinable static var source: Int { 6 }  // 6 bytes
        @inlinable static var etherType: Int { 12 }  // 2 bytes
        @inlinable static var end: Int { 14 }
    }
    public static let length = Field.end

    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Field.end else { return nil }
        self.bytes = bytes
    }

    @inlinable public var destination: UInt64 { bytes.mac(Field.destination) }
    @inlinable public var source: UInt64 { bytes.mac(Field.source) }
    @inlinable public var etherType: UInt16 { bytes.u16(Field.etherType) }
}

/// One 802.1Q or 802.1ad tag as it follows an EtherType of 0x8100/0x88a8: TCI, then the next EtherType.
public struct VLANTag {
    @usableFromInline enum Field {
        @inlinable static var tagControl: Int { 0 }  // PCP (3 bits), DEI (1 bit), VID (12 bits)
        @inlinable static var etherType: Int { 2 }
        @inlinable static var end: Int { 4 }
    }
    public static let length = Field.end

    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Field.end else { return nil }
        self.bytes = bytes
    }

    /// The 12-bit VLAN identifier.
    @inlinable public var vlanID: UInt16 { bytes.u16(Field.tagControl) & 0x0fff }
    @inlinable public var priority: UInt8 { UInt8(bytes.u16(Field.tagControl) >> 13) }
    @inlinable public var etherType: UInt16 { bytes.u16(Field.etherType) }
}
