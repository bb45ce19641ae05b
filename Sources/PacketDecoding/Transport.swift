// TCP (RFC 9293), UDP (RFC 768), ICMP (RFC 792) and ICMPv6 (RFC 4443) headers.

/// TCP control bits as they sit in the low 9 bits of bytes 12-13.
public struct TCPFlags: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }

    // Computed and inlinable rather than `static let`: a stored static is reached through an accessor that checks
    // its one-time initialisation on every use, from other modules, several times per TCP packet.
    @inlinable public static var fin: TCPFlags { TCPFlags(rawValue: 0x001) }
    @inlinable public static var syn: TCPFlags { TCPFlags(rawValue: 0x002) }
    @inlinable public static var rst: TCPFlags { TCPFlags(rawValue: 0x004) }
    @inlinable public static var psh: TCPFlags { TCPFlags(rawValue: 0x008) }
    @inlinable public static var ack: TCPFlags { TCPFlags(rawValue: 0x010) }
    @inlinable public static var urg: TCPFlags { TCPFlags(rawValue: 0x020) }
    @inlinable public static var ece: TCPFlags { TCPFlags(rawValue: 0x040) }
    @inlinable public static var cwr: TCPFlags { TCPFlags(rawValue: 0x080) }
    @inlinable public static var ns: TCPFlags { TCPFlags(rawValue: 0x100) }

    /// tcpdump's letters: S F R P U E W and `.` for ACK.
    public var description: String {
        var text = ""
        if contains(.syn) { text += "S" }
        if contains(.fin) { text += "F" }
        if contains(.rst) { text += "R" }
        if contains(.psh) { text += "P" }
        if contains(.urg) { text += "U" }
        if contains(.ece) { text += "E" }
        if contains(.cwr) { text += "W" }
        if contains(.ack) { text += "." }
        return text.isEmpty ? "none" : text
    }
}

public struct TCPHeader {
    enum Field {
        static let sourcePort = 0
        static let destinationPort = 2
        static let sequenceNumber = 4
        static let acknowledgmentNumber = 8
        static let dataOffsetFlags = 12  // 4-bit data offset, 3 reserved bits, 9 flag bits
        static let window = 14
        static let checksum = 16
        static let urgentPointer = 18
    }
    public static let minimumLength = 20

    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.minimumLength else { return nil }
        self.bytes = bytes
    }

    @inlinable public var sourcePort: UInt16 { bytes.u16(0) }
    @inlinable public var destinationPort: UInt16 { bytes.u16(2) }
    @inlinable public var sequenceNumber: UInt32 { bytes.u32(4) }
    @inlinable public var acknowledgmentNumber: UInt32 { bytes.u32(8) }
    /// Header length in bytes from the data offset field; below 20 is malformed.
    @inlinable public var headerLength: Int { Int(bytes.u8(12) >> 4) * 4 }
    @inlinable public var flags: TCPFlags { TCPFlags(rawValue: bytes.u16(12) & 0x01ff) }
    @inlinable public var window: UInt16 { bytes.u16(14) }
}

public struct UDPHeader {
    enum Field {
        static let sourcePort = 0
        static let destinationPort = 2
        static let length = 4
        static let checksum = 6
    }
    public static let length = 8

    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.length else { return nil }
        self.bytes = bytes
    }

    @inlinable public var sourcePort: UInt16 { bytes.u16(0) }
    @inlinable public var destinationPort: UInt16 { bytes.u16(2) }
    /// Header plus payload; below 8 is malformed (0 is legal only in IPv6 jumbograms, which IdleWatch treats as malformed).
    @inlinable public var length: Int { Int(bytes.u16(4)) }
}

/// ICMP and ICMPv6 share the first four bytes (type, code, checksum) and a 4-byte rest-of-header.
public struct ICMPHeader {
    enum Field {
        static let type = 0
        static let code = 1
        static let checksum = 2
        static let identifier = 4  // echo messages
        static let sequence = 6  // echo messages
    }
    public static let length = 8
    /// Errors quote the offending packet from this offset.
    public static let quotedPacketOffset = 8

    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.length else { return nil }
        self.bytes = bytes
    }

    @inlinable public var type: UInt8 { bytes.u8(0) }
    @inlinable public var code: UInt8 { bytes.u8(1) }
    @inlinable public var identifier: UInt16 { bytes.u16(4) }
    @inlinable public var sequence: UInt16 { bytes.u16(6) }

    /// ICMPv4 error messages that quote the IP header and first 8 bytes of the datagram that caused them:
    /// destination unreachable, source quench, redirect, time exceeded, parameter problem.
    @inlinable
    public static func isIPv4Error(_ type: UInt8) -> Bool {
        type == 3 || type == 4 || type == 5 || type == 11 || type == 12
    }

    /// ICMPv6 error messages (types 1-4: unreachable, packet too big, time exceeded, parameter problem).
    @inlinable
    public static func isIPv6Error(_ type: UInt8) -> Bool {
        type >= 1 && type <= 4
    }
}

/// SCTP common header (RFC 9260 section 3.1): ports, verification tag, checksum; chunks follow.
public struct SCTPHeader {
    enum Field {
        static let sourcePort = 0
        static let destinationPort = 2
        static let verificationTag = 4
        static let checksum = 8
    }
    public static let length = 12

    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.length else { return nil }
        self.bytes = bytes
    }

    @inlinable public var sourcePort: UInt16 { bytes.u16(0) }
    @inlinable public var destinationPort: UInt16 { bytes.u16(2) }
    @inlinable public var verificationTag: UInt32 { bytes.u32(4) }
}
