// ARP for IPv4 over Ethernet (RFC 826): the only ARP IdleWatch reads; other hardware/protocol types are counted.

public struct ARPPacket {
    enum Field {
        static let hardwareType = 0
        static let protocolType = 2
        static let hardwareLength = 4
        static let protocolLength = 5
        static let operation = 6
        static let senderHardware = 8  // 6 bytes
        static let senderProtocol = 14  // 4 bytes
        static let targetHardware = 18  // 6 bytes
        static let targetProtocol = 24  // 4 bytes
    }
    /// Length of an Ethernet/IPv4 ARP packet.
    public static let length = 28
    /// The fixed part shared by every ARP packet, before the addresses.
    public static let fixedLength = 8

    public let bytes: UnsafeRawBufferPointer

    /// Checks the fixed part only; `isEthernetIPv4` tells whether the addresses can be read.
    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.fixedLength else { return nil }
        self.bytes = bytes
    }

    @inlinable public var hardwareType: UInt16 { bytes.u16(0) }
    @inlinable public var protocolType: UInt16 { bytes.u16(2) }
    @inlinable public var hardwareLength: UInt8 { bytes.u8(4) }
    @inlinable public var protocolLength: UInt8 { bytes.u8(5) }
    /// 1 request, 2 reply (RARP and InARP use others).
    @inlinable public var operation: UInt16 { bytes.u16(6) }

    /// Ethernet (1) hardware with 6-byte addresses and IPv4 with 4-byte addresses.
    @inlinable public var isEthernetIPv4: Bool {
        hardwareType == 1 && protocolType == EtherType.ipv4 && hardwareLength == 6 && protocolLength == 4
    }

    // The address accessors below require `isEthernetIPv4` and `bytes.count >= ARPPacket.length`.
    @inlinable public var senderHardware: UInt64 { bytes.mac(8) }
    @inlinable public var senderProtocol: IPAddress { IPAddress.readIPv4(bytes, 14) }
    @inlinable public var targetHardware: UInt64 { bytes.mac(18) }
    @inlinable public var targetProtocol: IPAddress { IPAddress.readIPv4(bytes, 24) }
}
