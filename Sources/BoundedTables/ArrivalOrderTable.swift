// A bounded map that forgets in arrival order: entries sit in a ring in the order they were added, a hash index
// finds them by key, and when the ring is full the oldest entry goes. For state that one packet creates and an
// attacker can create by the million (first fragments, sources with one failed connection): adding and forgetting
// cost O(1) with no sort and no rehash, memory is fixed by the capacity, and what is forgotten depends on the
// traffic's order only, never on the hash seed.
//
// Entries carry the time they were added; `removeExpired` drops the oldest while they are older than a window, so a
// caller that sweeps before adding forgets stale entries before live ones. An entry removed by key from the middle
// leaves a hole in the ring until the ring's head reaches it (no compaction; holes at either end are reclaimed at
// once): holes take ring room, so while the ring holds them the oldest live entry can go a little early. The callers
// remove from the middle far less often than they add.

import PacketDecoding

public struct ArrivalOrderTable<Key: Equatable, Value> {
    public struct Entry {
        public var key: Key
        public var value: Value
        public var time: Timestamp
        @usableFromInline var hash: UInt64
        @usableFromInline var isLive: Bool

        @inlinable
        init(key: Key, value: Value, time: Timestamp, hash: UInt64, isLive: Bool) {
            self.key = key
            self.value = value
            self.time = time
            self.hash = hash
            self.isLive = isLive
        }
    }

    /// Entries (and holes) in arrival order from `head`, `used` of them, in a ring that grows up to `capacity`.
    @usableFromInline var ring: [Entry] = []
    @usableFromInline var head = 0
    @usableFromInline var used = 0
    /// Live entries.
    @inlinable public var count: Int { liveCount }
    @usableFromInline var liveCount = 0
    public let capacity: Int
    @usableFromInline var index: HashIndex

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        index = HashIndex(capacity: self.capacity)
    }

    /// The position of `key`'s entry, or nil.
    @inlinable
    public func find(_ key: Key, hash: UInt64) -> Int? {
        let found = index.find(hash: hash) { ring[Int($0)].key == key }
        return found < 0 ? nil : Int(found)
    }

    @inlinable
    public subscript(position: Int) -> Entry {
        get { ring[position] }
        _modify { yield &ring[position] }
    }

    /// Adds an entry for `key`, which must be absent. Returns the live entry forgotten to make room, if any.
    @inlinable @discardableResult
    public mutating func append(_ key: Key, hash: UInt64, value: Value, at time: Timestamp) -> Entry? {
        var forgotten: Entry?
        if used == capacity {
            forgotten = ring[head].isLive ? ring[head] : nil
            removeOldest()
        }
        let position = (head + used) % capacity
        let entry = Entry(key: key, value: value, time: time, hash: hash, isLive: true)
        if position == ring.count { ring.append(entry) } else { ring[position] = entry }
        index.insert(hash: hash, entry: Int32(position))
        used += 1
        liveCount += 1
        return forgotten
    }

    /// Removes the entry at `position` (from `find`), leaving a hole.
    @inlinable
    public mutating func remove(at position: Int) {
        guard ring[position].isLive else { return }
        index.remove(hash: ring[position].hash, entry: Int32(position))
        ring[position].isLive = false
        liveCount -= 1
        // Holes at either end give their room back at once (the newest removed is the common case: a duplicate).
        while used > 0 && !ring[(head + used - 1) % capacity].isLive { used -= 1 }
        while used > 0 && !ring[head].isLive { removeOldest() }
    }

    /// Removes entries from the oldest while they were added more than `window` before `now`; returns how many.
    @inlinable @discardableResult
    public mutating func removeExpired(now: Timestamp, window: Duration) -> Int {
        var removed = 0
        while used > 0 && (!ring[head].isLive || now - ring[head].time > window) {
            if ring[head].isLive { removed += 1 }
            removeOldest()
        }
        return removed
    }

    @inlinable
    mutating func removeOldest() {
        if ring[head].isLive {
            index.remove(hash: ring[head].hash, entry: Int32(head))
            liveCount -= 1
        }
        head = (head + 1) % capacity
        used -= 1
    }

    public mutating func removeAll() {
        self = ArrivalOrderTable(capacity: capacity)
    }

    /// The live entries, oldest first.
    public var entries: [Entry] {
        (0..<used).compactMap { ring[(head + $0) % capacity].isLive ? ring[(head + $0) % capacity] : nil }
    }
}
