// Per-key histories (scanners, ARP requesters, guessing sources) are bounded: a flood of distinct sources must not
// grow memory, and making room must not cost time proportional to the table for every new key.

import PacketDecoding

extension Dictionary where Key: Comparable {
    /// Makes room for a new key when the dictionary holds `capacity` entries: drops the entries whose last activity
    /// is older than `window`, and if fewer than a quarter went, also the least recently active half (ties broken by
    /// key, so the same input always forgets the same entries). Amortised over the insertions that refill it, this
    /// costs O(log n) per new key, where filtering alone on every insertion into a full table would cost O(n).
    mutating func makeRoom(capacity: Int, now: Timestamp, window: Duration, lastActivity: (Value) -> Timestamp) {
        guard count >= capacity else { return }
        self = filter { now - lastActivity($0.value) <= window }
        guard count >= capacity * 3 / 4 else { return }
        let ordered = sorted { (lastActivity($0.value), $0.key) < (lastActivity($1.value), $1.key) }
        for entry in ordered.prefix(count / 2) { self[entry.key] = nil }
    }
}
