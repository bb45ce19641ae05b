// Hosts of one side in the order they were added, for eviction: the oldest newcomer that is still flood debris (one
// frame, nothing answered, not in the inventory) is the first to go when the side is full.
//
// A flood of forged sources adds a host per packet, and each needs room: finding the room by sampling slots at random
// costs a cache miss per sample (8 or more per eviction, a seventh of a SYN flood's time). The queue hands out
// victims in arrival order at about one look per host added: a reference that no longer names its host (evicted, slot
// reused) or a host that has since earned its place (a second frame, an answer, an inventory entry) is dropped from
// the queue when it reaches the front, and never comes back (those only grow). Bounded by the side's capacity: when
// full, the oldest reference is dropped; eviction then falls back to sampling.

struct NewcomerQueue {
    /// References in arrival order from `head`, `count` of them, in a ring of `capacity` that grows as it fills.
    private(set) var ring: [HostReference] = []
    private(set) var head = 0
    private(set) var count = 0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    mutating func append(_ reference: HostReference) {
        if count == capacity { _ = popFirst() }
        let slot = (head + count) % capacity
        if slot == ring.count { ring.append(reference) } else { ring[slot] = reference }
        count += 1
    }

    mutating func popFirst() -> HostReference? {
        guard count > 0 else { return nil }
        let first = ring[head]
        head = (head + 1) % capacity
        count -= 1
        return first
    }

    /// Puts back the reference just taken by `popFirst` (its slot in the ring is still there).
    mutating func putBack(_ reference: HostReference) {
        head = (head + capacity - 1) % capacity
        ring[head] = reference
        count += 1
    }

    /// The references from oldest to newest.
    var inOrder: [HostReference] { (0..<count).map { ring[(head + $0) % capacity] } }
}
