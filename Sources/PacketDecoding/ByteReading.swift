// Big-endian field reads over borrowed packet bytes.
//
// Every caller has already checked the header length when it made its view (see the `init?(checking:)` of each
// view), so these reads cannot run past the buffer. In debug builds the standard library still checks bounds.

extension UnsafeRawBufferPointer {
    @inlinable @inline(__always)
    func u8(_ offset: Int) -> UInt8 {
        self[offset]
    }

    @inlinable @inline(__always)
    func u16(_ offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inlinable @inline(__always)
    func u32(_ offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inlinable @inline(__always)
    func u64(_ offset: Int) -> UInt64 {
        UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// A 48-bit hardware address as the low bits of a `UInt64`.
    @inlinable @inline(__always)
    func mac(_ offset: Int) -> UInt64 {
        UInt64(u16(offset)) << 32 | UInt64(u32(offset + 2))
    }

    /// The bytes from `offset` on; `offset` must be within `0...count`.
    @inlinable @inline(__always)
    func from(_ offset: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[offset...])
    }
}
