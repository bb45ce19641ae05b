// TCP (RFC 9293), UDP (RFC 768), ICMP (RFC 792), ICMPv6 (RFC 4443) and SCTP (RFC 9260) headers, and the shorter
// starts of TCP and UDP headers that a tiny fragment or an ICMP error's quote carries.
//
// Each view's `init?(_:)` checks once that the bytes hold every field of its offset table (`Field`), so no accessor
// can trap or needs a check. TCP options are not read; the data offset is a value the decoder checks.

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
    @usableFromInline enum Field {
        @inlinable static var sourcePort: Int { 0 }
        @inlinable static var destinationPort: Int { 2 }
        @inlinable static var sequenceNumber: Int { 4 }
        @inlinable static var acknowledgmentNumber: Int { 8 }
        @inlinable static var dataOffsetFlags: Int { 12 }  // 4-bit data offset, 3 reserved bits, 9 flag bits
        @inlinable static var window: Int { 14 }
        @inlinable static var checksum: Int { 16 }
        @inlinable static var urgentPointer: Int { 18 }
        @inlinable static var end: Int { 20 }
    }
    /// The fixed header (data offset 5); options follow up to the data offset.
    public static let minimumLength = Field.end

    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Field.end else { return nil }
        self.bytes = bytes
    }

    @inlinable public var sourcePort: UInt16 { bytes.u16(Field.sourcePort) }
    @inlinable public var destinationPort: UInt16 { bytes.u16(Field.destinationPort) }
    @inlinable public var sequenceNumber: UInt32 { bytes.u32(Field.sequenceNumber) }
    @inlinable public var acknowledgmentNumber: UInt32 { bytes.u32(Field.acknowledgmentNumber) }
    /// Header length in bytes from the data offset field; below 20 is malformed.
    @inlinable public var headerLength: Int { Int(bytes.u8(Field.dataOffsetFlags) >> 4) * 4 }
    @inlinable public var flags: TCPFlags { TCPFlags(rawValue: bytes.u16(Field.dataOffsetFlags) & 0x01ff) }
    @inlinable public var window: UInt16 { bytes.u16(Field.window) }
}

/// The first 8 bytes of a TCP header, ports and sequence number: what an IPv4 first fragment that ends inside the
/// fixed header must carry for Linux to reassemble it (it trims a fragment with more to come to a multiple of 8).
public struct TCPHeaderStart {
    @usableFromInline enum Field {
        @inlinable static var sourcePort: Int { TCPHeader.Field.sourcePort }
        @inlinable static var destinationPort: Int { TCPHeader.Field.destinationPort }
        @inlinable static var sequenceNumber: Int { TCPHeader.Field.sequenceNumber }
        @inlinable static var end: Int { TCPHeader.Field.acknowledgmentNumber }
    }
    public static let length = Field.end

    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Field.end else { return nil }
        self.bytes = bytes
    }

    @inlinable public var sourcePort: UInt16 { bytes.u16(Field.sourcePort) }
    @inlinable public var destinationPort: UInt16 { bytes.u16(Field.destinationPort) }
    @inlinable public var sequenceNumber: UInt32 { bytes.u32(Field.sequenceNumber) }
}

/// The two ports that open a TCP, UDP or SCTP header: all an ICMP error's quote is sure to show of them once the
/// quoted IP header is there (RFC 792 quotes 8 bytes; routers cut quotes anywhere).
public struct TransportPorts {
    @usableFromInline enum Field {
        @inlinable static var sourcePort: Int { 0 }
        @inlinable static var destinationPort: Int { 2 }
        @inlinable static var end: Int { 4 }
    }
    public static let length = Field.end

    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Field.end else { return nil }
        self.bytes = bytes
    }

    @inlinable public var sourcePort: UInt16 { bytes.u16(Field.sourcePort) }
    @inlinable public var destinationPort: UInt16 { bytes.u16(Field.destinationPort) }
}

public struct UDPHeader {
    @usableFromInline enum Field {
        @inlinable static var sourcePort: Int { 0 }
        @inlinable static var destinationPort: Int { 2 }
        @inlinable static var length: Int { 4 }
        @inlinable static var checksum: Int { 6 }
        @inlinable static var end: Int { 8 }
    }
    public static let length = Field.end

    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Field.end else { return nil }
        self.bytes = bytes
    }

    @inlinable public var sourcePort: UInt16 { bytes.u16(Field.sourcePort) }
    @inlinable public var destinationPort: UInt16 { bytes.u16(Field.destinationPort) }
    /// Header plus payload; below 8 is malformed (0 is legal only in IPv6 jumbograms, which IdleWatch treats as malformed).
    @inlinable public var length: Int { Int(bytes.u16(Field.length)) }
}

/// ICMP and ICMPv6 share the first four bytes (type, code, checksum) and a 4-byte rest-of-header.
public struct ICMPHeader {
    @usableFromInline enum Field {
        @inlinable static var type: Int { 0 }
        @inlinable static var code: Int { 1 }
        @inlinable static var checksum: Int { 2 }
        @inlinable static var identifier: Int { 4 }  // echo messages
        @inlinable static var sequence: Int { 6 }  // echo messages
        @inlinable static var end: Int { 8 }
    }
    public static let length = Field.end
    /// Errors quote the offending packet from this offset, right after the header.
    public static let quotedPacketOffset = Field.end

    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Field.end else { return nil }
        self.bytes = bytes
    }

    @inlinable public var type: UInt8 { bytes.u8(Field.type) }
    @inlinable public var code: UInt8 { bytes.u8(Field.code) }
    @inlinable public var identifier: UInt16 { bytes.u16(Field.identifier) }
    @inlinable public var sequence: UInt16 { bytes.u16(Field.sequence) }

    /// What an error message quotes: the bytes after the header, as far as the view's bytes go (the decoder makes
    /// the view over the captured part of the datagram).
    @inlinable public var quotedPacket: UnsafeRawBufferPointer { bytes.from(Field.end) }

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
    @usableFromInline enum Field {
        @inlinable static var sourcePort: Int { 0 }
        @inlinable static var destinationPort: Int { 2 }
        @inlinable static var verificationTag: Int { 4 }
        @inlinable static var checksum: Int { 8 }
        @inlinable static var end: Int { 12 }
    }
    public static let length = Field.end

    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Field.end else { return nil }
        self.bytes = bytes
    }

    @inlinable public var sourcePort: UInt16 { bytes.u16(Field.sourcePort) }
    @inlinable public var destinationPort: UInt16 { bytes.u16(Field.destinationPort) }
    @inlinable public var verificationTag: UInt32 { bytes.u32(Field.verificationTag) }
}
