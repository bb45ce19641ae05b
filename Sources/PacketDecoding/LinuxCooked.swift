// Linux cooked capture headers, written by libpcap for the `any` device (tcpdump.org LINKTYPE_LINUX_SLL/SLL2).
//
// Each view's `init?(_:)` checks once that the bytes hold every field of its offset table (`Field`, the 8-byte
// address field whole), so no accessor can trap or needs a check.

/// LINKTYPE_LINUX_SLL: packet type, ARPHRD type, link-address length, 8 bytes of address, protocol.
public struct LinuxSLLHeader {
    @usableFromInline enum Field {
        @inlinable static var packetType: Int { 0 }
        @inlinable static var arphrdType: Int { 2 }
        @inlinable static var addressLength: Int { 4 }
        @inlinable static var address: Int { 6 }  // 8 bytes, first `addressLength` meaningful
        @inlinable static var protocolType: Int { 14 }
        @inlinable static var end: Int { 16 }
    }
    public static let length = Field.end

    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Field.end else { return nil }
        self.bytes = bytes
    }

    /// 0 to us, 1 broadcast, 2 multicast, 3 to someone else, 4 sent by us.
    @inlinable public var packetType: UInt16 { bytes.u16(Field.packetType) }
    @inlinable public var arphrdType: UInt16 { bytes.u16(Field.arphrdType) }
    @inlinable public var addressLength: UInt16 { bytes.u16(Field.addressLength) }
    /// The sender's 6-byte hardware address when `addressLength` is 6, else 0.
    @inlinable public var sourceMAC: UInt64 { addressLength == 6 ? bytes.mac(Field.address) : 0 }
    /// An EtherType for Ethernet-like devices.
    @inlinable public var protocolType: UInt16 { bytes.u16(Field.protocolType) }
}

/// LINKTYPE_LINUX_SLL2: protocol, reserved, interface index, ARPHRD type, packet type, address length, address.
public struct LinuxSLL2Header {
    @usableFromInline enum Field {
        @inlinable static var protocolType: Int { 0 }
        @inlinable static var reserved: Int { 2 }
        @inlinable static var interfaceIndex: Int { 4 }
        @inlinable static var arphrdType: Int { 8 }
        @inlinable static var packetType: Int { 10 }
        @inlinable static var addressLength: Int { 11 }
        @inlinable static var address: Int { 12 }  // 8 bytes, first `addressLength` meaningful
        @inlinable static var end: Int { 20 }
    }
    public static let length = Field.end

    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Field.end else { return nil }
        self.bytes = bytes
    }

    @inlinable public var protocolType: UInt16 { bytes.u16(Field.protocolType) }
    @inlinable public var interfaceIndex: UInt32 { bytes.u32(Field.interfaceIndex) }
    @inlinable public var arphrdType: UInt16 { bytes.u16(Field.arphrdType) }
    @inlinable public var packetType: UInt8 { bytes.u8(Field.packetType) }
    @inlinable public var addressLength: UInt8 { bytes.u8(Field.addressLength) }
    /// The sender's 6-byte hardware address when `addressLength` is 6, else 0.
    @inlinable public var sourceMAC: UInt64 { addressLength == 6 ? bytes.mac(Field.address) : 0 }
}
