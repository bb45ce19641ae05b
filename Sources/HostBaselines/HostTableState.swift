// Saving and restoring the host table for the state file. Records are saved one per host (the state store keeps
// their plain fields in columns a person can query, and the baselines as bytes); the layout (which slot each host
// sat in, the generation of every slot, the free list and the eviction generator: section `hosts.layout`) is saved
// as well. The slots are the host table's own business, kept because eviction samples slots at random: a restored
// table with the same slots evicts exactly as the table that was saved would have, so split replays match whole
// ones. Nothing outside the table names a saved slot: the stages above find hosts again by address.

import BoundedTables
import PacketDecoding
import StateCoding

extension HostRecord {
    /// The decayed activity, peer sketches and pending waking, as bytes.
    public func encodeBaseline(into writer: inout StateWriter) {
        for sums in [activity.packets, activity.bytes, activity.flows] {
            writer.put(sums.minute)
            writer.put(sums.hour)
            writer.put(sums.day)
        }
        writer.put(activity.pendingPackets)
        writer.put(activity.pendingBytes)
        writer.put(activity.pendingFlows)
        writer.put(activity.foldedAt)
        peers.encode(into: &writer)
        learningPeers.encode(into: &writer)
        writer.put(wokeAt)
        writer.put(silenceBeforeWaking != nil)
        if let silenceBeforeWaking { writer.put(silenceBeforeWaking) }
        // Since layout version 2: the last flow and the flow before the last silence.
        for note in [lastFlow, flowBeforeSilence] {
            writer.put(note != nil)
            if let note {
                writer.put(note.peer)
                writer.put(note.port)
                writer.put(note.ipProtocol)
                writer.put(note.asServer)
            }
        }
    }

    /// Decayed sums are packets, bytes and flows: a file holding a negative, infinite or NaN one (or one beyond
    /// what a 100 Gb/s link carries in a day, 2^50) is damaged, and its value would reach rates and messages.
    static let largestSum = Double(1 << 50)

    public mutating func restoreBaseline(from reader: inout StateReader) throws {
        var sums: [DecayedActivity.Sums] = []
        for _ in 0..<3 {
            var values: [Double] = []
            for _ in 0..<3 {
                let value = try reader.double()
                guard value >= 0 && value <= HostRecord.largestSum else {
                    throw StateDecodingError("saved activity has an impossible sum (\(value)) at offset \(reader.offset - 8)")
                }
                values.append(value)
            }
            sums.append(DecayedActivity.Sums(minute: values[0], hour: values[1], day: values[2]))
        }
        activity = DecayedActivity(packets: sums[0], bytes: sums[1], flows: sums[2], pendingPackets: try reader.uint64(),
                                   pendingBytes: try reader.uint64(), pendingFlows: try reader.uint64(),
                                   foldedAt: try reader.timestamp())
        peers = try DistinctCounter(from: &reader)
        learningPeers = try DistinctCounter(from: &reader)
        wokeAt = try reader.optionalTimestamp()
        silenceBeforeWaking = try reader.bool() ? try reader.duration() : nil
        if let silenceBeforeWaking, silenceBeforeWaking.nanoseconds < 0 {
            throw StateDecodingError("saved silence before waking is negative (\(silenceBeforeWaking.nanoseconds) ns)")
        }
        // A baseline of layout version 1 ends here: it kept no flows.
        guard !reader.isAtEnd else { return }
        func note() throws -> HostFlowNote? {
            guard try reader.bool() else { return nil }
            return HostFlowNote(peer: try reader.address(), port: try reader.uint16(), ipProtocol: try reader.uint8(),
                                asServer: try reader.bool())
        }
        lastFlow = try note()
        flowBeforeSilence = try note()
    }
}

extension DistinctCounter {
    func encode(into writer: inout StateWriter) {
        withUnsafeBytes(of: registers) { for byte in $0 { writer.put(byte) } }
    }

    init(from reader: inout StateReader) throws {
        self.init()
        for i in 0..<64 {
            let rank = try reader.uint8()
            guard rank <= 64 else { throw StateDecodingError("saved peer sketch has an impossible register (\(rank))") }
            setRegister(i, rank)
        }
    }
}

extension DecayedActivity {
    init(packets: Sums, bytes: Sums, flows: Sums, pendingPackets: UInt64, pendingBytes: UInt64, pendingFlows: UInt64,
         foldedAt: Timestamp) {
        self.packets = packets
        self.bytes = bytes
        self.flows = flows
        self.pendingPackets = pendingPackets
        self.pendingBytes = pendingBytes
        self.pendingFlows = pendingFlows
        self.foldedAt = foldedAt
    }
}

/// One live host with the table slot it occupies.
public struct SavedHost: Sendable {
    public var slot: Int32
    public var record: HostRecord

    public init(slot: Int32, record: HostRecord) {
        self.slot = slot
        self.record = record
    }

    /// A host read back from the state file, with the generation its slot had.
    public init(slot: Int32, generation: UInt32, record: HostRecord) {
        self.slot = slot
        self.record = record
        self.record.generation = generation
    }
}

extension HostTable {
    /// Live hosts with their slots, in slot order.
    public var savedHosts: [SavedHost] {
        index.entries.sorted().map { SavedHost(slot: $0, record: storage[Int($0)]) }
    }

    /// The same, one at a time, without copying the table (the last save of a run writes from the table itself).
    public func forEachSavedHost(_ body: (SavedHost) throws -> Void) rethrows {
        for slot in index.entries.sorted() { try body(SavedHost(slot: slot, record: storage[Int(slot)])) }
    }

    /// The version of the `hosts.layout` section this build writes and reads (the schema 2 file's `host_layout`
    /// blob is its version 1, read as it is). Version 2: the same layout, and every host's baseline ends with its
    /// last flow and the flow before its last silence (`encodeBaseline`); a version 1 baseline, which ends before
    /// them, reads as one without them. Raised so that a build that knows only version 1 refuses the file instead
    /// of failing on each baseline's trailing bytes.
    public static let layoutVersion = 2

    /// Slot count, every slot's generation, the free list, the eviction generator and the newcomer queues (outside,
    /// local; added in schema version 2 at the end, so a version 1 layout reads as one without them).
    public func encodeLayout(into writer: inout StateWriter) {
        writer.putCount(storage.count)
        for record in storage { writer.put(record.generation) }
        writer.putCount(free.count)
        for slot in free { writer.put(slot) }
        writer.put(random)
        for queue in newcomers {
            let references = queue.inOrder
            writer.putCount(references.count)
            for reference in references {
                writer.put(reference.index)
                writer.put(reference.generation)
            }
        }
    }

    /// Rebuilds the table from a saved layout, hosts and services. Anything inconsistent (a slot out of range or
    /// used twice, an address twice, a generation that does not match the layout) is an error, not a guess. When
    /// the saved table holds more hosts than this table's capacity, the excess is evicted as usual.
    public mutating func restore(layout: [UInt8], hosts: [SavedHost], services: [ServiceKey: ServiceRecord]) throws {
        var reader = StateReader(layout)
        let slotCount = try reader.count(minimumItemSize: 4)
        var generations: [UInt32] = []
        generations.reserveCapacity(slotCount)
        for _ in 0..<slotCount { generations.append(try reader.uint32()) }
        let freeCount = try reader.count(minimumItemSize: 4)
        var freeSlots: [Int32] = []
        for _ in 0..<freeCount {
            let slot = try reader.int32()
            guard slot >= 0 && Int(slot) < slotCount else { throw StateDecodingError("saved host table frees slot \(slot) of \(slotCount)") }
            freeSlots.append(slot)
        }
        let savedRandom = try reader.uint64()
        guard savedRandom != 0 else { throw StateDecodingError("saved host table layout is malformed") }
        var savedNewcomers: [[HostReference]]?
        if !reader.isAtEnd {
            savedNewcomers = []
            for _ in 0..<2 {
                var references: [HostReference] = []
                for _ in 0..<(try reader.count(minimumItemSize: 8)) {
                    let reference = HostReference(index: try reader.int32(), generation: try reader.uint32())
                    guard reference.index >= 0 && Int(reference.index) < slotCount else {
                        throw StateDecodingError("saved newcomer queue names slot \(reference.index) of \(slotCount)")
                    }
                    references.append(reference)
                }
                savedNewcomers?.append(references)
            }
        }
        guard reader.isAtEnd else { throw StateDecodingError("saved host table layout is malformed") }
        guard freeSlots.count + hosts.count == slotCount else {
            throw StateDecodingError("saved host table has \(hosts.count) hosts and \(freeSlots.count) free slots for \(slotCount) slots")
        }

        var rebuilt = [HostRecord](repeating: HostRecord(address: .unspecified, isLocal: false, firstSeen: .zero), count: slotCount)
        for slot in 0..<slotCount { rebuilt[slot].generation = generations[slot] }
        var used = [Bool](repeating: false, count: slotCount)
        for slot in freeSlots {
            guard !used[Int(slot)] else { throw StateDecodingError("saved host table frees slot \(slot) twice") }
            used[Int(slot)] = true
        }
        var newIndex = HashIndex(capacity: max(slotCount, configuration.localCapacity + configuration.externalCapacity))
        var locals = 0, externals = 0
        for host in hosts {
            let slot = Int(host.slot)
            guard slot >= 0 && slot < slotCount, !used[slot] else {
                throw StateDecodingError("saved host \(host.record.address) has slot \(host.slot), free or out of range")
            }
            guard host.record.generation == generations[slot] else {
                throw StateDecodingError("saved host \(host.record.address) has generation \(host.record.generation), its slot \(generations[slot])")
            }
            let hash = host.record.address.hash(seed: seed)
            guard newIndex.find(hash: hash, where: { rebuilt[Int($0)].address == host.record.address }) < 0 else {
                throw StateDecodingError("saved host \(host.record.address) appears twice")
            }
            newIndex.insert(hash: hash, entry: host.slot)
            used[slot] = true
            rebuilt[slot] = host.record
            if host.record.isLocal { locals += 1 } else { externals += 1 }
        }
        storage = []
        storage.reserveCapacity(max(rebuilt.count, HostTable.reservedSlots(configuration)))
        storage.append(contentsOf: rebuilt)
        index = newIndex
        free = freeSlots
        live = [Bool](repeating: true, count: slotCount)
        for slot in freeSlots { live[Int(slot)] = false }
        random = savedRandom
        localCount = locals
        externalCount = externals
        // A version 1 file kept no queues: the hosts that are debris now, oldest first, make the best guess.
        let queued = savedNewcomers ?? [false, true].map { local in
            hosts.filter { $0.record.isLocal == local && HostTable.keepRank($0.record) == 0 }
                .sorted { ($0.record.firstSeen, $0.slot) < ($1.record.firstSeen, $1.slot) }
                .map { HostReference(index: $0.slot, generation: $0.record.generation) }
        }
        newcomers = HostTable.emptyNewcomers(configuration)
        // Only references to a host of that side still in its slot: a stale one would be passed over anyway, and a
        // damaged file must not name a free slot (evicting it would remove what the index does not hold) or the
        // other side's host (the side's count would drift).
        for (side, references) in queued.enumerated() {
            for reference in references where isCurrent(reference) && live[Int(reference.index)]
                && storage[Int(reference.index)].isLocal == (side == 1)
            {
                newcomers[side].append(reference)
            }
        }
        self.services = services
        while localCount > configuration.localCapacity { evict(local: true) }
        while externalCount > configuration.externalCapacity { evict(local: false) }
    }

    /// Removes the hosts whose address `isNoHost` says names no host, with the services recorded for them: a state
    /// saved before the hosts stage knew such addresses holds records for 0.0.0.0, groups and broadcasts, which
    /// nothing would ever find again (the stage no longer looks them up) and which the hosts report would show
    /// forever. Not counted as evictions. Returns how many went.
    @discardableResult
    public mutating func removeHosts(where isNoHost: (IPAddress) -> Bool) -> Int {
        let doomed = index.entries.filter { isNoHost(storage[Int($0)].address) }.sorted()
        for slot in doomed {
            let i = Int(slot)
            index.remove(hash: storage[i].address.hash(seed: seed), entry: slot)
            storage[i].generation &+= 1
            live[i] = false
            free.append(slot)
            if storage[i].isLocal { localCount -= 1 } else { externalCount -= 1 }
        }
        if !doomed.isEmpty { services = services.filter { !isNoHost($0.key.host) } }
        return doomed.count
    }
}
