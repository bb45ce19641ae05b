// An open-addressed index from hashes to entry numbers, for tables that keep their records in an array (flows,
// hosts): linear probing, backward-shift deletion (no tombstones), at most half full.
//
// A slot is 0 when empty, else the hash's low 32 bits above (entry + 1). Comparing those 32 bits first means a
// probe touches a record only when its hash matches. Callers hash with a per-process seed (`HashIndex.mix`), so an
// attacker cannot aim packets at one probe run without knowing it.
//
// The index starts small and doubles as entries arrive, up to the size its table's capacity needs: a flow table
// sized for 262,144 flows that holds 2,000 probes 32 KiB of slots (in cache) instead of 4 MiB (a cache miss per
// lookup). Growing is the only allocation, a few times per run; the index never shrinks, so memory stays at the
// high-water mark, which the capacity bounds. Home slots are recomputed from the stored 32 hash bits, so growing
// needs no help from the table.

import PacketDecoding

public struct HashIndex: Sendable {
    @usableFromInline var slots: [UInt64]
    @usableFromInline var mask: Int
    /// Slots when the index holds its capacity.
    let maximumSize: Int
    public private(set) var count = 0

    /// An index for up to `capacity` entries, at most half full.
    public init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        maximumSize = size
        let initial = min(size, 1024)
        slots = [UInt64](repeating: 0, count: initial)
        mask = initial - 1
    }

    /// Slots allocated now.
    public var size: Int { slots.count }

    /// The entry with this hash for which `matches` is true, or -1.
    @inlinable
    public func find(hash: UInt64, where matches: (Int32) -> Bool) -> Int32 {
        let tag = hash & 0xffff_ffff
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let value = slots[slot]
            if value == 0 { return -1 }
            if value >> 32 == tag {
                let entry = Int32(truncatingIfNeeded: value & 0xffff_ffff) - 1
                if matches(entry) { return entry }
            }
            slot = (slot + 1) & mask
        }
    }

    /// Adds `entry` under `hash`; the caller has checked it is absent and that the index has room.
    public mutating func insert(hash: UInt64, entry: Int32) {
        if count >= slots.count / 2 && slots.count < maximumSize { grow() }
        precondition(count < slots.count / 2 + 1, "hash index over capacity")
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = (hash & 0xffff_ffff) << 32 | UInt64(UInt32(entry) + 1)
        count += 1
    }

    /// Removes `entry`, which must be present under `hash`.
    public mutating func remove(hash: UInt64, entry: Int32) {
        var slot = Int(truncatingIfNeeded: hash) & mask
        let wanted = (hash & 0xffff_ffff) << 32 | UInt64(UInt32(entry) + 1)
        while slots[slot] != wanted { slot = (slot + 1) & mask }
        // Backward shift: pull later members of the probe run back into the hole when their home allows it.
        var hole = slot
        var probe = slot
        while true {
            probe = (probe + 1) & mask
            let value = slots[probe]
            if value == 0 { break }
            let home = Int(truncatingIfNeeded: value >> 32) & mask
            let stays = hole <= probe ? (hole < home && home <= probe) : (hole < home || home <= probe)
            if stays { continue }
            slots[hole] = value
            hole = probe
        }
        slots[hole] = 0
        count -= 1
    }

    /// Doubles the slots and moves every entry to its home in the larger index.
    mutating func grow() {
        let old = slots
        slots = [UInt64](repeating: 0, count: old.count * 2)
        mask = slots.count - 1
        for value in old where value != 0 {
            var slot = Int(truncatingIfNeeded: value >> 32) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = value
        }
    }

    /// Every entry in the index, in no particular order.
    public var entries: [Int32] {
        slots.compactMap { $0 == 0 ? nil : Int32(truncatingIfNeeded: $0 & 0xffff_ffff) - 1 }
    }

    /// A multiply-xorshift finalizer (SplitMix64's): every input bit affects every output bit.
    @inlinable @inline(__always)
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension IPAddress {
    /// A 64-bit hash of the address mixed with `seed`, for `HashIndex`.
    @inlinable
    public func hash(seed: UInt64) -> UInt64 {
        HashIndex.mix(HashIndex.mix(seed ^ high ^ (isIPv6 ? 0x8000_0000_0000_0000 : 0)) ^ low)
    }
}
