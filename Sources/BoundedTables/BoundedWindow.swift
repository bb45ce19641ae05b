// One bounded time window per key, shared by the detections that count something per source over time (scans,
// ARP sweeps, password guessing, idle hosts' peers), in the spirit of Zeek's SumStats: observations about a key are
// reduced to what the window needs (`WindowMembers`: distinct members with their last-seen times, or occurrences),
// and memory is bounded in keys and in members per key, whatever an attacker sends.
//
// Forgetting, each kind counted in `counters`:
// - a key whose last activity is older than the window holds nothing that can count: it starts again when seen
//   (`restarted`), and a periodic sweep drops such keys (`swept`), so memory follows the traffic of the last window,
//   not the length of the input;
// - a new key in a full table first makes the stale keys go, then (`.forgetOldest`, when fewer than a quarter were
//   stale) half of the rest, the least recently active first, ties broken by key (`forgotten`: state lost to the
//   bound while it could still count); or (`.refuseNew`) the new key is not kept (`refused`);
// - members past their per-key bound, through `observe`: the oldest member goes (`membersForgotten`), or the new
//   one is refused (`membersRefused`).
// Nothing depends on the hash seed or a dictionary's order: the same input forgets the same entries.
//
// Cost per observation: one dictionary lookup, the entry's own cost (`WindowMembers`: O(members)), and O(log n)
// amortised for a new key in a full table (a sort of the table once per half-table of new keys), O(1) amortised for
// the sweep (it walks the table at most once per window of packet time, or once per `capacity` calls when the clock
// misbehaves). Memory per key: the key, the entry, and the dictionary's own overhead (about 1.5 times key plus
// entry, for its load factor); at most `capacity` keys, each at most `memberCapacity` members.

import PacketDecoding
import StateCoding

/// What a window holds per key: anything with a time of last activity and a number of members.
public protocol WindowEntry {
    init()
    /// When the entry was last active: an entry older than the window holds nothing that can count.
    var lastActive: Timestamp { get }
    /// Members held (`forgetSingletonsFirst` ranks entries with one member lowest).
    var memberCount: Int { get }
}

public struct BoundedWindow<Key: Hashable & Comparable, Entry: WindowEntry> {
    /// How long an observation counts; nil: forever (nothing goes stale, nothing is swept).
    public let window: Duration?
    /// Keys held at once.
    public let capacity: Int
    /// What a new key does to a full table.
    public let whenFull: WhenFull
    /// When making room, forget the entries with a single member before the others: a flood of forged sources leaves
    /// one member each, and must not push out a key that is collecting many (a host sweeping the segment).
    public let forgetSingletonsFirst: Bool
    /// Members per key, and what a new member does to a full key (`observe` only).
    public let memberCapacity: Int
    public let membersWhenFull: WhenFull

    @usableFromInline var entries: [Key: Entry] = [:]

    /// What was forgotten, and why (run counters, not saved).
    public struct Counters: Sendable, Equatable {
        /// Keys dropped to make room while their window was still open.
        public var forgotten: UInt64 = 0
        /// New keys not kept because the table was full (`.refuseNew`).
        public var refused: UInt64 = 0
        /// Members forgotten (oldest first) or refused because their key held `memberCapacity`.
        public var membersForgotten: UInt64 = 0
        public var membersRefused: UInt64 = 0
        /// Keys whose window had closed: started again when seen, or dropped by the sweep (nothing lost).
        public var restarted: UInt64 = 0
        public var swept: UInt64 = 0
        public init() {}
    }
    public var counters: Counters { tally }
    @usableFromInline var tally = Counters()

    /// Packet time of the next sweep, and observations since the last one (see `sweep`).
    @usableFromInline var nextSweep = Timestamp(nanoseconds: Int64.min)
    @usableFromInline var callsSinceSweep = 0

    public init(window: Duration?, capacity: Int, whenFull: WhenFull = .forgetOldest,
                forgetSingletonsFirst: Bool = false, memberCapacity: Int = .max,
                membersWhenFull: WhenFull = .forgetOldest) {
        self.window = window
        self.capacity = max(1, capacity)
        self.whenFull = whenFull
        self.forgetSingletonsFirst = forgetSingletonsFirst
        self.memberCapacity = max(1, memberCapacity)
        self.membersWhenFull = membersWhenFull
    }

    @inlinable public var count: Int { entries.count }
    @inlinable public var isEmpty: Bool { entries.isEmpty }
    @inlinable public subscript(key: Key) -> Entry? { entries[key] }
    @inlinable public func contains(_ key: Key) -> Bool { entries[key] != nil }
    /// The entries in key order (for a saved section and for tests).
    public var sorted: [(key: Key, entry: Entry)] {
        entries.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    @inlinable func isStale(_ entry: Entry, now: Timestamp) -> Bool {
        guard let window else { return false }
        return now - entry.lastActive > window
    }

    /// Runs `body` on `key`'s entry at `time`: an entry whose window has closed starts again empty; an absent key
    /// gets a new entry (room made first) when `create`, else `body` is not run. Returns `body`'s result, or nil when
    /// it did not run (absent and not created, or refused by a full table).
    @inlinable
    public mutating func update<Result>(_ key: Key, at time: Timestamp, create: Bool = true,
                                        _ body: (inout Entry) -> Result) -> Result? {
        if let held = entries[key] {
            if isStale(held, now: time) {
                tally.restarted &+= 1
                entries[key] = Entry()
            }
            return body(&entries[key]!)
        }
        guard create, makeRoom(at: time) else { return nil }
        var entry = Entry()
        let result = body(&entry)
        entries[key] = entry
        return result
    }

    /// Removes `key`'s entry; returns it.
    @inlinable @discardableResult
    public mutating func remove(_ key: Key) -> Entry? { entries.removeValue(forKey: key) }

    /// Room for one new key; false when the table is full and refuses new keys.
    @usableFromInline
    mutating func makeRoom(at time: Timestamp) -> Bool {
        guard entries.count >= capacity else { return true }
        switch whenFull {
        case .forgetOldest:
            // Without a window nothing is stale: forget by last activity alone.
            let window = self.window ?? Duration(nanoseconds: .max)
            let singletonsFirst = forgetSingletonsFirst
            let before = entries.count
            let forgotten = entries.makeRoom(capacity: capacity, now: time, window: window,
                                             rank: { singletonsFirst && $0.memberCount <= 1 ? 0 : 1 },
                                             lastActivity: { $0.lastActive })
            tally.forgotten &+= UInt64(forgotten)
            tally.swept &+= UInt64(before - entries.count - forgotten)
            return true
        case .refuseNew:
            if let window {
                let before = entries.count
                entries.removeStale(now: time, window: window) { $0.lastActive }
                tally.swept &+= UInt64(before - entries.count)
            }
            guard entries.count >= capacity else { return true }
            tally.refused &+= 1
            return false
        }
    }

    /// Drops, once per window of packet time, the keys whose last activity is older than the window; returns whether
    /// it swept. Also after `capacity` calls without a sweep, whatever the clock says: a capture whose timestamps jump
    /// to the representable end (2262) and back would otherwise put the next sweep out of reach for the rest of the
    /// run. A sweep walks at most `capacity` keys, so this costs O(1) per call amortised. Callers call it once per
    /// event that may add a key; a window without `window` never sweeps.
    @inlinable @discardableResult
    public mutating func sweep(at time: Timestamp) -> Bool {
        guard let window else { return false }
        callsSinceSweep &+= 1
        guard time >= nextSweep || callsSinceSweep >= capacity else { return false }
        callsSinceSweep = 0
        nextSweep = time + window
        let before = entries.count
        entries.removeStale(now: time, window: window) { $0.lastActive }
        tally.swept &+= UInt64(before - entries.count)
        return true
    }

    public mutating func removeAll() {
        entries = [:]
    }

    /// The counters by name, for a detection's own counters and the run summary.
    public var namedCounters: [(name: String, value: UInt64)] {
        [("forgotten", counters.forgotten), ("refused", counters.refused),
         ("membersForgotten", counters.membersForgotten), ("membersRefused", counters.membersRefused),
         ("restarted", counters.restarted), ("swept", counters.swept)]
    }
}

extension BoundedWindow {
    /// Notes `member` for `key` at `time` as a distinct member (see `WindowMembers.observe`), within the key and member
    /// bounds. Returns the key's members after it, or nil when the key was refused.
    @inlinable @discardableResult
    public mutating func observe<Member>(_ member: Member, for key: Key, at time: Timestamp)
        -> (outcome: WindowMembers<Member>.Outcome, members: WindowMembers<Member>)?
    where Entry == WindowMembers<Member> {
        note(member, for: key, at: time, distinct: true)
    }

    /// Counts one occurrence for `key` at `time` (see `WindowMembers.occur`). Returns the key's occurrences after
    /// it, or nil when the key was refused.
    @inlinable @discardableResult
    public mutating func occur<Member>(_ member: Member, for key: Key, at time: Timestamp) -> WindowMembers<Member>?
    where Entry == WindowMembers<Member> {
        note(member, for: key, at: time, distinct: false)?.members
    }

    @inlinable
    mutating func note<Member>(_ member: Member, for key: Key, at time: Timestamp, distinct: Bool)
        -> (outcome: WindowMembers<Member>.Outcome, members: WindowMembers<Member>)?
    where Entry == WindowMembers<Member> {
        let (window, capacity, whenFull) = (self.window, memberCapacity, membersWhenFull)
        guard let result = update(key, at: time, { members in
            let outcome = distinct
                ? members.observe(member, at: time, window: window, capacity: capacity, whenFull: whenFull)
                : members.occur(member, at: time, window: window, capacity: capacity, whenFull: whenFull)
            return (outcome, members)
        }) else { return nil }
        countOutcome(result.0)
        return result
    }

    @inlinable
    mutating func countOutcome<Member>(_ outcome: WindowMembers<Member>.Outcome) {
        switch outcome {
        case .addedForgettingOldest: tally.membersForgotten &+= 1
        case .refused: tally.membersRefused &+= 1
        case .added, .seenAgain: break
        }
    }

    /// Removes `member` from `key`'s members (an ARP target that replied); the key stays, possibly empty, until it
    /// goes stale.
    @inlinable
    public mutating func remove<Member>(_ member: Member, for key: Key) where Entry == WindowMembers<Member> {
        guard entries[key] != nil else { return }
        entries[key]!.remove(member)
    }
}

// Saved sections: entries in key order, so the same state gives the same bytes; each detection writes its own layout.
extension BoundedWindow {
    /// Writes the number of entries, then each through `put`, in key order.
    public func encode(into writer: inout StateWriter, _ put: (Key, Entry, inout StateWriter) -> Void) {
        writer.putCount(entries.count)
        for (key, entry) in entries.sorted(by: { $0.key < $1.key }) { put(key, entry, &writer) }
    }

    /// Replaces the entries with what `encode` wrote: a count checked against what is left (each entry takes at
    /// least `minimumItemSize` bytes), then each through `read` (a key read twice keeps the later entry).
    public mutating func restore(from reader: inout StateReader, minimumItemSize: Int,
                                 _ read: (inout StateReader) throws -> (Key, Entry)) throws {
        entries = [:]
        for _ in 0..<(try reader.count(minimumItemSize: minimumItemSize)) {
            let (key, entry) = try read(&reader)
            entries[key] = entry
        }
    }

    /// Puts back one entry read from a saved section (for a detection whose section interleaves other tables).
    public mutating func restore(_ key: Key, _ entry: Entry) {
        entries[key] = entry
    }
}
