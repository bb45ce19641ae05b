// What one key of a `BoundedWindow` saw: distinct members with the time each was last seen (a scanner's failed
// ports, a requester's unanswered ARP targets, an idle host's peers), or occurrences counted over the window (a
// source's short sessions). In the spirit of Zeek's SumStats "unique" reducer with its `unique_max`, but with each
// member's time kept, so the window slides instead of closing by epoch.
//
// Sightings are kept oldest first, in one small array: the stale ones are a prefix (dropped in O(1) each), the oldest
// live one is the first, the latest the last. No hashing, so what is forgotten depends on the input alone, never on
// a hash seed or a dictionary's order.
//
// Cost per observation: O(`capacity`) in the worst case (finding a distinct member is a linear search, re-seeing it
// moves it to the end), plus O(1) amortised for each stale sighting dropped. The capacities this is used with are
// small (60 to 256): a linear search over a few hundred plain values beats hashing them, and it allocates nothing once
// the array has grown. Memory per member: `MemoryLayout<Sighting>.stride` (an IPv4 or IPv6 address and its time:
// 32 bytes; a port and its time: 16 bytes), plus the array's header (32 bytes) per key.

import PacketDecoding
import StateCoding

/// What to do when a bound is reached.
public enum WhenFull: Sendable {
    /// Forget the oldest to make room for the new (a sliding window).
    case forgetOldest
    /// Keep what is held and refuse the new: for a set whose answer is known once it is full (a scan past four times
    /// its threshold), or that must not be displaced (peers learned during a learning period).
    case refuseNew
}

/// The member of a window that counts occurrences instead of distinct members: every observation is one more.
public struct Occurrence: Comparable, Hashable, Sendable {
    public init() {}
    public static func < (_: Occurrence, _: Occurrence) -> Bool { false }
}

public struct WindowMembers<Member: Comparable>: WindowEntry {
    public struct Sighting {
        public var member: Member
        public var time: Timestamp

        @inlinable public init(member: Member, time: Timestamp) {
            self.member = member
            self.time = time
        }
    }

    /// What an observation did.
    public enum Outcome: Equatable, Sendable {
        /// A member not held before is now held.
        case added
        /// A member already held: its time moved on.
        case seenAgain
        /// Added, and the oldest member forgotten to make room (`.forgetOldest`).
        case addedForgettingOldest
        /// Not held: the window is full (`.refuseNew`).
        case refused
    }

    /// Oldest first (by time; equal times in arrival order).
    @usableFromInline var sightings: [Sighting] = []

    public init() {}

    @inlinable public var count: Int { sightings.count }
    @inlinable public var isEmpty: Bool { sightings.isEmpty }
    /// The latest sighting's time; zero when empty (an empty window is as stale as any).
    @inlinable public var lastActive: Timestamp { sightings.last?.time ?? .zero }
    @inlinable public var memberCount: Int { sightings.count }
    /// The sightings, oldest first.
    @inlinable public var oldestFirst: [Sighting] { sightings }
    /// The sightings in member order (for a saved section: the same members give the same bytes).
    public var byMember: [Sighting] { sightings.sorted { $0.member < $1.member } }

    @inlinable public func contains(_ member: Member) -> Bool { sightings.contains { $0.member == member } }

    @inlinable public func time(of member: Member) -> Timestamp? {
        sightings.first { $0.member == member }?.time
    }

    /// Drops the sightings older than `window` before `now`; returns how many.
    @inlinable @discardableResult
    public mutating func removeStale(now: Timestamp, window: Duration) -> Int {
        var stale = 0
        while stale < sightings.count && now - sightings[stale].time > window { stale += 1 }
        if stale > 0 { sightings.removeFirst(stale) }
        return stale
    }

    /// Notes `member` at `time` as a distinct member: first drops what is older than `window` (nil: nothing goes
    /// stale), then moves a member already held to its new time, or adds a new one within `capacity`.
    @inlinable @discardableResult
    public mutating func observe(_ member: Member, at time: Timestamp, window: Duration?, capacity: Int,
                                 whenFull: WhenFull) -> Outcome {
        if let window { removeStale(now: time, window: window) }
        if let held = sightings.firstIndex(where: { $0.member == member }) {
            sightings.remove(at: held)
            insert(Sighting(member: member, time: time))
            return .seenAgain
        }
        return add(Sighting(member: member, time: time), capacity: capacity, whenFull: whenFull)
    }

    /// Counts one occurrence at `time` (members need not be distinct): drops what is older than `window`, then adds
    /// it within `capacity`.
    @inlinable @discardableResult
    public mutating func occur(_ member: Member, at time: Timestamp, window: Duration?, capacity: Int,
                               whenFull: WhenFull) -> Outcome {
        if let window { removeStale(now: time, window: window) }
        return add(Sighting(member: member, time: time), capacity: capacity, whenFull: whenFull)
    }

    /// Removes `member` (an ARP target that replied); returns whether it was held.
    @inlinable @discardableResult
    public mutating func remove(_ member: Member) -> Bool {
        guard let held = sightings.firstIndex(where: { $0.member == member }) else { return false }
        sightings.remove(at: held)
        return true
    }

    @inlinable
    mutating func add(_ sighting: Sighting, capacity: Int, whenFull: WhenFull) -> Outcome {
        guard sightings.count >= max(1, capacity) else {
            insert(sighting)
            return .added
        }
        switch whenFull {
        case .refuseNew:
            return .refused
        case .forgetOldest:
            sightings.removeFirst(sightings.count - max(1, capacity) + 1)
            insert(sighting)
            return .addedForgettingOldest
        }
    }

    /// Inserts in time order: at the end for input in time order (the common case), else after the last sighting
    /// not later than it (a flow that ends at its expiry time can be reported after a later packet's event).
    @inlinable
    mutating func insert(_ sighting: Sighting) {
        var position = sightings.count
        while position > 0 && sightings[position - 1].time > sighting.time { position -= 1 }
        sightings.insert(sighting, at: position)
    }

    /// Adds a sighting read from a saved section: in time order, a distinct member kept once (at its latest time).
    public mutating func restore(_ sighting: Sighting, distinct: Bool) {
        if distinct, let held = sightings.firstIndex(where: { $0.member == sighting.member }) {
            guard sightings[held].time < sighting.time else { return }
            sightings.remove(at: held)
        }
        insert(sighting)
    }
}

extension WindowMembers {
    /// Writes the count, then each sighting through `put`, in member order (`byMember`) or oldest first.
    public func encode(into writer: inout StateWriter, inMemberOrder: Bool = true,
                       _ put: (Sighting, inout StateWriter) -> Void) {
        let ordered = inMemberOrder ? byMember : sightings
        writer.putCount(ordered.count)
        for sighting in ordered { put(sighting, &writer) }
    }

    /// Reads what `encode` wrote: a count checked against what is left (each sighting takes at least
    /// `minimumItemSize` bytes), then each sighting through `read`.
    public static func decode(from reader: inout StateReader, minimumItemSize: Int, distinct: Bool,
                              _ read: (inout StateReader) throws -> Sighting) throws -> WindowMembers {
        var members = WindowMembers()
        for _ in 0..<(try reader.count(minimumItemSize: minimumItemSize)) {
            members.restore(try read(&reader), distinct: distinct)
        }
        return members
    }
}
