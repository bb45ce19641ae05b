// Linux cooked capture headers, written by libpcap for the `any` device (tcpdump.org LINKTYPE_LINUX_SLL/SLL2).

/// LINKTYPE_LINUX_SLL: packet type, ARPHRD type, link-address length, 8 bytes of address, protocol.
public struct LinuxSLLHeader {
    enum Field {
        static let packetType = 0
        static let arphrdType = 2
        static let addressLength = 4
        static let address = 6  // 8 bytes, first `addressLength` meaningful
        static let protocolType = 14
    }
    public static let length = 16

    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.length else { return nil }
        self.bytes = bytes
    }

    /// 0 to us, 1 broadcast, 2 multicast, 3 to someone else, 4 sent by us.
    @inlinable public var packetType: UInt16 { bytes.u16(0) }
    @inlinable public var arphrdType: UInt16 { bytes.u16(2) }
    @inlinable public var addressLength: UInt16 { bytes.u16(4) }
    /// The sender's 6-byte hardware address when `addressLength` is 6, else 0.
    @inlinable public var sourceMAC: UInt64 { addressLength == 6 ? bytes.mac(6) : 0 }
    /// An EtherType for Ethernet-like devices.
    @inlinable public var protocolType: UInt16 { bytes.u16(14) }
}

/// LINKTYPE_LINUX_SLL2: protocol, reserved, interface index, ARPHRD type, packet type, address length, address.
public struct LinuxSLL2Header {
    enum Field {
        static let protocolType = 0
        static let reserved = 2
        static let interfaceIndex = 4
        static let arphrdType = 8
        static let packetType = 10
        static let addressLength = 11
        static let address = 12  // 8 bytes
    }
    public static let length = 20

    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.length else { return nil }
        self.bytes = bytes
    }

    @inlinable public var protocolType: UInt16 { bytes.u16(0) }
    @inlinable public var interfaceIndex: UInt32 { bytes.u32(4) }
    @inlinable public var arphrdType: UInt16 { bytes.u16(8) }
    @inlinable public var packetType: UInt8 { bytes.u8(10) }
    @inlinable public var addressLength: UInt8 { bytes.u8(11) }
    @inlinable public var sourceMAC: UInt64 { addressLength == 6 ? bytes.mac(12) : 0 }
}
