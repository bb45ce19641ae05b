// The host table: every address seen, bounded separately for local and outside addresses, and the ledger of
// services (host, port, protocol) hosts have answered on.
//
// Lookups happen when a flow starts or an ARP frame arrives, not per packet: flows keep a `HostReference` to their
// two hosts. Local and outside addresses have separate caps, so a flood of spoofed outside sources cannot push
// the inventory out. When a side is full, the host evicted is flood debris if there is any: a host that has sent at
// most one frame and answered nothing (each forged source of a flood leaves one, with no baseline worth keeping),
// the oldest first (`NewcomerQueue`). Without debris, the least valuable of 8 slots of that side picked by a
// fixed-seed generator (Redis's sampled LRU; fixed seed so replays are deterministic): any host the site file does
// not name before named ones, within each the least recently seen. So a flood of new addresses pushes out its own
// debris before the hosts with a history. Evictions are counted.

import BoundedTables
import PacketDecoding

public struct HostTableConfiguration: Sendable {
    public var localCapacity = 65_536
    public var externalCapacity = 65_536
    public var serviceCapacity = 262_144
    /// (local address, VLAN) entries of MAC bindings (MACBindings.swift): about `MACBindings.bindingEntryBytes` (270)
    /// bytes each at most, 18 MB when full; as many as the local hosts held, so every local host can keep its MAC.
    public var bindingCapacity = 65_536
    /// Hash seed; nil picks a random one per table. Nothing but the index's slot layout depends on it; fixing it
    /// makes a run repeatable down to the layout (a fuzzer's crashing input must crash again).
    public var hashSeed: UInt64?
    public init() {}
}

public struct HostTableCounters: Sendable, Equatable {
    public var created: UInt64 = 0
    public var evictedLocal: UInt64 = 0
    public var evictedExternal: UInt64 = 0
    public var servicesDropped: UInt64 = 0
    public init() {}
}

public struct HostTable {
    public let configuration: HostTableConfiguration
    /// Every slot's record (free slots hold an evicted or placeholder record).
    public var records: [HostRecord] { storage }
    /// The records themselves, visible to the inlinable accessors below.
    @usableFromInline var storage: [HostRecord] = []
    public private(set) var counters = HostTableCounters()
    /// Addresses' hashes to record slots (grows with the hosts, up to both sides' capacity).
    var index: HashIndex
    let seed: UInt64
    var free: [Int32] = []
    /// Per slot: it holds a host (not freed by an eviction). Eviction samples slots at random and checks this, not
    /// the hash index, so a sample costs one read instead of a probe.
    var live: [Bool] = []
    var localCount = 0
    var externalCount = 0
    var random: UInt64 = 0x2545_F491_4F6C_DD1D
    /// Hosts added, oldest first, per side (outside, local): where eviction looks for debris first.
    var newcomers: [NewcomerQueue]
    public internal(set) var services: [ServiceKey: ServiceRecord] = [:]

    public init(configuration: HostTableConfiguration = HostTableConfiguration()) {
        self.configuration = configuration
        seed = configuration.hashSeed ?? UInt64.random(in: .min ... .max)
        index = HashIndex(capacity: configuration.localCapacity + configuration.externalCapacity)
        newcomers = HostTable.emptyNewcomers(configuration)
        storage.reserveCapacity(HostTable.reservedSlots(configuration))
    }

    /// One empty newcomer queue per side (outside, local), each as long as its side's capacity.
    static func emptyNewcomers(_ configuration: HostTableConfiguration) -> [NewcomerQueue] {
        [NewcomerQueue(capacity: configuration.externalCapacity), NewcomerQueue(capacity: configuration.localCapacity)]
    }

    /// Record slots whose space is reserved at creation: both sides' capacity, so appending never copies the
    /// records (a doubling copy holds old and new arrays at once: 20 MB at 33,000 hosts). Only address space:
    /// pages are touched as hosts arrive. Capped so a huge configured capacity does not reserve gigabytes.
    static func reservedSlots(_ configuration: HostTableConfiguration) -> Int {
        min(configuration.localCapacity + configuration.externalCapacity, 1 << 21)
    }

    public var count: Int { localCount + externalCount }

    public func find(_ address: IPAddress) -> HostReference? {
        let i = slot(of: address)
        return i < 0 ? nil : HostReference(index: i, generation: storage[Int(i)].generation)
    }

    /// The record slot holding `address`, or -1.
    @inline(__always)
    func slot(of address: IPAddress) -> Int32 {
        index.find(hash: address.hash(seed: seed)) { storage[Int($0)].address == address }
    }

    /// The host for `address`, created (and possibly evicting another) if new. `isNew` says which. `spared` is a
    /// host the caller holds a reference to and still needs (a flow's originator while its responder is added):
    /// it is not evicted to make room, unless it is the only host of its side.
    public mutating func findOrInsert(_ address: IPAddress, isLocal: Bool, at time: Timestamp,
                                      sparing spared: HostReference? = nil) -> (HostReference, isNew: Bool) {
        if let existing = find(address) { return (existing, false) }
        if isLocal ? localCount >= configuration.localCapacity : externalCount >= configuration.externalCapacity {
            evict(local: isLocal, sparing: spared.map { isCurrent($0) ? $0.index : -1 } ?? -1)
        }
        var record = HostRecord(address: address, isLocal: isLocal, firstSeen: time)
        let slot: Int32
        if let reused = free.popLast() {
            slot = reused
            record.generation = storage[Int(slot)].generation &+ 1
            storage[Int(slot)] = record
            live[Int(slot)] = true
        } else {
            slot = Int32(storage.count)
            storage.append(record)
            live.append(true)
        }
        index.insert(hash: address.hash(seed: seed), entry: slot)
        if isLocal { localCount += 1 } else { externalCount += 1 }
        counters.created &+= 1
        let reference = HostReference(index: slot, generation: record.generation)
        newcomers[isLocal ? 1 : 0].append(reference)
        return (reference, true)
    }

    /// Whether `reference` still names the host it was made for (the slot's generation changes when the host is
    /// evicted and again when the slot is reused). Cheap enough for the per-packet path.
    @inlinable @inline(__always)
    public func isCurrent(_ reference: HostReference) -> Bool {
        reference.index >= 0 && Int(reference.index) < storage.count
            && storage[Int(reference.index)].generation == reference.generation
    }

    /// Inlinable, both ways: across the module boundary every `hosts[reference].field` read copied the whole record
    /// (about 400 bytes; a tenth of the replay time in perf) and every write allocated the modify coroutine's frame
    /// (a malloc and a free per call, ten per flow).
    @inlinable
    public subscript(reference: HostReference) -> HostRecord {
        _read { yield storage[Int(reference.index)] }
        _modify { yield &storage[Int(reference.index)] }
    }

    /// Sets every live host's inventory index from `lookup` (after the site file changed).
    public mutating func reassignInventory(_ lookup: (IPAddress) -> Int32) {
        for slot in index.entries { storage[Int(slot)].inventoryIndex = lookup(storage[Int(slot)].address) }
    }

    /// Notes a frame from the host at `time`: when it breaks a silence of at least `dormantAfter`, the waking time
    /// and the length of the silence are kept for the dormancy rule. A host's first frame breaks no silence: it had
    /// none of its own before (see `HostRecord.hasSent`).
    public mutating func touch(_ reference: HostReference, at time: Timestamp, dormantAfter: Duration) {
        let i = Int(reference.index)
        let last = storage[i].lastSeen
        guard storage[i].hasSent else {
            storage[i].lastSeen = max(time, storage[i].firstSeen)
            return
        }
        if time - last >= dormantAfter {
            storage[i].wokeAt = time
            storage[i].silenceBeforeWaking = time - last
            storage[i].flowBeforeSilence = storage[i].lastFlow
        }
        if time > last { storage[i].lastSeen = time }
    }

    /// Accounts one packet sent by the host: the per-packet part of the hosts stage, done here in one call so the
    /// record is updated in place (no accessor coroutine per field across the module boundary).
    public mutating func accountPacket(_ reference: HostReference, at time: Timestamp, wireLength: Int,
                                       dormantAfter: Duration, duringLearning: Bool) {
        touch(reference, at: time, dormantAfter: dormantAfter)
        let i = Int(reference.index)
        storage[i].packetsSent &+= 1
        storage[i].bytesSent &+= UInt64(wireLength)
        storage[i].activity.add(packets: 1, bytes: UInt64(wireLength))
        if duringLearning { storage[i].learningPackets &+= 1 }
    }

    /// Records that `host` answered on `port`; returns the service record as it was before (nil if new).
    @discardableResult
    public mutating func recordService(host: IPAddress, port: UInt16, ipProtocol: UInt8, clientIsLocal: Bool,
                                       during learning: Bool, at time: Timestamp) -> ServiceRecord? {
        let key = ServiceKey(host: host, port: port, ipProtocol: ipProtocol)
        let previous = services[key]
        if previous == nil && services.count >= configuration.serviceCapacity {
            counters.servicesDropped &+= 1
            return nil
        }
        var record = previous ?? ServiceRecord(firstServed: time, lastServed: time, learned: learning)
        record.lastServed = max(record.lastServed, time)
        record.sessions &+= 1
        if clientIsLocal { record.servedInside = true } else { record.servedOutside = true }
        services[key] = record
        return previous
    }

    /// How much a host is worth keeping when its side is full, lowest first (see the file header). One frame is the
    /// threshold because a forged source sends one: a real host that sent one frame and got nothing back has no
    /// baseline either, while two frames or an answered flow is the start of a history.
    @inline(__always)
    static func keepRank(_ record: borrowing HostRecord) -> Int {
        if record.inventoryIndex >= 0 { return 2 }
        let frames = record.packetsSent &+ record.arpFrames, answered = record.flowsAnswered
        return frames <= 1 && answered == 0 ? 0 : 1
    }

    /// Frees one slot of the given side (local or outside): the oldest debris, else the least valuable of 8 sampled
    /// slots; never the `spared` slot unless it is the side's only host. Without sparing, room for a flow's responder
    /// could be made by evicting the originator just added (the newest debris, or tied with others on last seen
    /// when sampling), and the flow would reach no detection.
    mutating func evict(local: Bool, sparing spared: Int32 = -1) {
        var victim = oldestDebris(local: local, sparing: spared)
        if victim < 0 {
            var victimRank = Int.max
            var sampled = 0, attempts = 0
            // 8 samples, and more (up to 64 draws) while none of them is a one-frame host: when hosts with a history
            // hold most of the side, 8 draws would often miss the flood's debris that is there to be taken.
            while (sampled < 8 || victimRank > 0) && attempts < 64 {
                attempts += 1
                random ^= random << 13
                random ^= random >> 7
                random ^= random << 17
                let candidate = Int32(truncatingIfNeeded: random % UInt64(storage.count))
                let i = Int(candidate)
                // Fields read in place: copying each sampled record (about 400 bytes) was a fifth of a SYN flood's
                // time.
                guard candidate != spared, live[i], storage[i].isLocal == local else { continue }
                sampled += 1
                let rank = HostTable.keepRank(storage[i])
                if victim < 0 || rank < victimRank
                    || (rank == victimRank && storage[i].lastSeen < storage[Int(victim)].lastSeen)
                {
                    victim = candidate
                    victimRank = rank
                }
            }
        }
        if victim < 0 {
            // That side is a small part of the table and sampling missed it: take its first live slot.
            func isLive(_ i: Int) -> Bool { live[i] && storage[i].isLocal == local }
            guard let first = storage.indices.first(where: { Int32($0) != spared && isLive($0) })
                ?? storage.indices.first(where: isLive)
            else { return }
            victim = Int32(first)
        }
        index.remove(hash: storage[Int(victim)].address.hash(seed: seed), entry: victim)
        storage[Int(victim)].generation &+= 1
        live[Int(victim)] = false
        free.append(victim)
        if local {
            localCount -= 1
            counters.evictedLocal &+= 1
        } else {
            externalCount -= 1
            counters.evictedExternal &+= 1
        }
    }

    /// The oldest newcomer of that side still worth nothing (keep rank 0), or -1. References it passes over are
    /// dropped from the queue for good (see `NewcomerQueue`), except the spared one.
    mutating func oldestDebris(local: Bool, sparing spared: Int32) -> Int32 {
        let side = local ? 1 : 0
        var held: HostReference?
        defer { if let held { newcomers[side].putBack(held) } }
        while let reference = newcomers[side].popFirst() {
            let i = Int(reference.index)
            guard isCurrent(reference), live[i], storage[i].isLocal == local, HostTable.keepRank(storage[i]) == 0
            else { continue }
            if reference.index == spared {
                held = reference
                continue
            }
            return reference.index
        }
        return -1
    }
}
