// ARP for IPv4 over Ethernet (RFC 826): the only ARP IdleWatch reads; other hardware/protocol types are counted.
//
// Two views, each checking once in its initializer every byte its offset table names: `ARPHeader`, the fixed part
// every ARP packet has (enough to tell whether the addresses are Ethernet and IPv4), and `ARPPacket`, the whole
// 28-byte Ethernet/IPv4 packet with its four addresses.

/// The fixed part shared by every ARP packet, before the addresses: types, address lengths, operation.
public struct ARPHeader {
    @usableFromInline enum Field {
        @inlinable static var hardwareType: Int { 0 }
        @inlinable static var protocolType: Int { 2 }
        @inlinable static var hardwareLength: Int { 4 }
        @inlinable static var protocolLength: Int { 5 }
        @inlinable static var operation: Int { 6 }
        @inlinable static var end: Int { 8 }
    }
    public static let length = Field.end

    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Field.end else { return nil }
        self.bytes = bytes
    }

    @inlinable public var hardwareType: UInt16 { bytes.u16(Field.hardwareType) }
    @inlinable public var protocolType: UInt16 { bytes.u16(Field.protocolType) }
    @inlinable public var hardwareLength: UInt8 { bytes.u8(Field.hardwareLength) }
    @inlinable public var protocolLength: UInt8 { bytes.u8(Field.protocolLength) }
    /// 1 request, 2 reply (RARP and InARP use others).
    @inlinable public var operation: UInt16 { bytes.u16(Field.operation) }

    /// Ethernet (1) hardware with 6-byte addresses and IPv4 with 4-byte addresses: the packet `ARPPacket` reads.
    @inlinable public var isEthernetIPv4: Bool {
        hardwareType == 1 && protocolType == EtherType.ipv4 && hardwareLength == 6 && protocolLength == 4
    }
}

/// An ARP packet for IPv4 over Ethernet, addresses included. Made only when the bytes hold all 28 bytes and the
/// fixed part says Ethernet and IPv4 (the address offsets below hold only for 6- and 4-byte addresses).
public struct ARPPacket {
    @usableFromInline enum Field {
        @inlinable static var senderHardware: Int { ARPHeader.Field.end }  // 6 bytes
        @inlinable static var senderProtocol: Int { 14 }  // 4 bytes
        @inlinable static var targetHardware: Int { 18 }  // 6 bytes
        @inlinable static var targetProtocol: Int { 24 }  // 4 bytes
        @inlinable static var end: Int { 28 }
    }
    /// Length of an Ethernet/IPv4 ARP packet.
    public static let length = Field.end

    public let header: ARPHeader

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Field.end, let header = ARPHeader(bytes), header.isEthernetIPv4 else { return nil }
        self.header = header
    }

    @inlinable public var bytes: UnsafeRawBufferPointer { header.bytes }
    /// 1 request, 2 reply.
    @inlinable public var operation: UInt16 { header.operation }
    @inlinable public var senderHardware: UInt64 { bytes.mac(Field.senderHardware) }
    @inlinable public var senderProtocol: IPAddress { IPAddress.readIPv4(bytes, Field.senderProtocol) }
    @inlinable public var targetHardware: UInt64 { bytes.mac(Field.targetHardware) }
    @inlinable public var targetProtocol: IPAddress { IPAddress.readIPv4(bytes, Field.targetProtocol) }
}
