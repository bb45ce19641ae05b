// BSD loopback headers: a 4-byte address family (LINKTYPE_NULL in the writer's byte order, LINKTYPE_LOOP in
// network byte order). AF_INET is 2 everywhere; AF_INET6 differs by operating system.

public struct LoopbackHeader {
    @usableFromInline enum Field {
        @inlinable static var family: Int { 0 }  // 4 bytes, in the writer's byte order (LINKTYPE_NULL)
        @inlinable static var end: Int { 4 }
    }
    public static let length = Field.end

    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Field.end else { return nil }
        self.bytes = bytes
    }

    /// The address family, read in whichever byte order gives a small value (the writer's order is unknown for
    /// LINKTYPE_NULL; families are all below 0x10000).
    @inlinable public var family: UInt32 {
        let bigEndian = bytes.u32(Field.family)
        return bigEndian > 0xffff ? bigEndian.byteSwapped : bigEndian
    }

    /// The EtherType equivalent of `family`, or nil for families IdleWatch does not read.
    @inlinable public var etherType: UInt16? {
        switch family {
        case 2: EtherType.ipv4  // AF_INET
        case 10, 24, 28, 30: EtherType.ipv6  // AF_INET6: Linux, NetBSD/OpenBSD, FreeBSD, Darwin
        default: nil
        }
    }
}
