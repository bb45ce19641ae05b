// Ethernet II header and 802.1Q/802.1ad tags (IEEE 802.3, IEEE 802.1Q).
//
// Views are made only by `init?(_:)`, which checks the fixed header length; after that no accessor can trap.
// The bytes are borrowed from the capture buffer and must not outlive it.

/// Ethernet II: destination MAC, source MAC, EtherType (or an 802.3 length below 0x0600).
public struct EthernetHeader {
    enum Field {
        static let destination = 0  // 6 bytes
        static let source = 6  // 6 bytes
        static let etherType = 12  // 2 bytes
    }
    public static let length = 14

    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.length else { return nil }
        self.bytes = bytes
    }

    @inlinable public var destination: UInt64 { bytes.mac(0) }
    @inlinable public var source: UInt64 { bytes.mac(6) }
    @inlinable public var etherType: UInt16 { bytes.u16(12) }
}

/// One 802.1Q or 802.1ad tag as it follows an EtherType of 0x8100/0x88a8: TCI, then the next EtherType.
public struct VLANTag {
    enum Field {
        static let tagControl = 0  // PCP (3 bits), DEI (1 bit), VID (12 bits)
        static let etherType = 2
    }
    public static let length = 4

    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.length else { return nil }
        self.bytes = bytes
    }

    /// The 12-bit VLAN identifier.
    @inlinable public var vlanID: UInt16 { bytes.u16(0) & 0x0fff }
    @inlinable public var priority: UInt8 { UInt8(bytes.u16(0) >> 13) }
    @inlinable public var etherType: UInt16 { bytes.u16(2) }
}
