// Big-endian field reads over borrowed packet bytes.
//
// Every read goes through a header view whose failable initializer checked the header's length once, against the
// offset table that names its fields (see each view's `Field`), so these reads cannot run past the buffer and do no
// checks of their own. In debug builds the standard library still checks bounds, which the tests rely on.

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

    /// The bytes from `offset` up to `end` or the end of the buffer, whichever comes first; empty when `offset` is
    /// past them. What a view is made over, so that its initializer alone decides whether its header is there.
    @inlinable @inline(__always)
    func bytes(from offset: Int, upTo end: Int) -> UnsafeRawBufferPointer {
        let limit = Swift.min(end, count)
        guard offset >= 0, offset <= limit else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(rebasing: self[offset..<limit])
    }
}
