// Room in a bounded dictionary keyed by something with a last activity: a flood of distinct keys must not grow
// memory, and making room must not cost time proportional to the table for every new key. `BoundedWindow` makes its
// room so; the alert ledger's suppression keys and incidents and the exposure ledger, which are plain key-to-value
// tables, use it directly.

import PacketDecoding

extension Dictionary where Key: Comparable {
    /// Makes room for a new key when the dictionary holds `capacity` entries: drops the entries whose last activity
    /// is older than `window`, and if fewer than a quarter went, also half of the rest: the lowest `rank` first, then
    /// the least recently active (ties broken by key, so the same input always forgets the same entries). The ARP
    /// windows rank a requester with one unanswered request lowest: each forged sender of a flood leaves one, and
    /// they must not push out a sweeping host's window. Amortised over the insertions that refill it, this
    /// costs O(log n) per new key, where filtering alone on every insertion into a full table would cost O(n).
    /// Returns how many entries were forgotten while still inside the window (state lost to the bound, for the
    /// run summary; entries past the window carried nothing).
    /// `forgetting` sees every entry dropped, stale or not (the alert ledger reports the counts a dropped
    /// suppression key held).
    @discardableResult
    public mutating func makeRoom(capacity: Int, now: Timestamp, window: Duration, rank: (Value) -> Int = { _ in 0 },
                           lastActivity: (Value) -> Timestamp,
                           forgetting: (Key, Value) -> Void = { _, _ in }) -> Int {
        guard count >= capacity else { return 0 }
        removeStale(now: now, window: window, lastActivity: lastActivity, forgetting: forgetting)
        guard count >= capacity * 3 / 4 else { return 0 }
        // Compared field by field: a tuple `<` in this generic code asks the runtime for the tuple's type metadata
        // on every comparison (a lock and a hash each), which made sorting a full 4,096-entry table a quarter of a
        // replay's CPU time.
        let ordered = map { (rank: rank($0.value), last: lastActivity($0.value), key: $0.key) }
            .sorted { a, b in
                if a.rank != b.rank { return a.rank < b.rank }
                if a.last != b.last { return a.last < b.last }
                return a.key < b.key
            }
        let forgotten = count / 2
        for entry in ordered.prefix(forgotten) {
            if let value = removeValue(forKey: entry.key) { forgetting(entry.key, value) }
        }
        return forgotten
    }

    /// Drops the entries whose last activity is older than `window`, in place: `filter` would build a second table
    /// as large as the first, doubling the peak memory of a full table exactly when a flood fills it.
    public mutating func removeStale(now: Timestamp, window: Duration, lastActivity: (Value) -> Timestamp,
                                     forgetting: (Key, Value) -> Void = { _, _ in }) {
        for key in compactMap({ now - lastActivity($0.value) > window ? $0.key : nil }) {
            if let value = removeValue(forKey: key) { forgetting(key, value) }
        }
    }
}
