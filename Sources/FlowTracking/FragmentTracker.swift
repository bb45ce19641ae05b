// Remembers the ports of first fragments so that later fragments (which carry no transport header) can be counted
// against their flow. Bounded and oldest-first: the first fragments are kept in a ring in the order they arrived, and
// when the ring is full the oldest is forgotten (counted when it had not yet timed out). A flood of fragments makes
// the tracker forget, never grow; which datagram it forgets depends only on the traffic, not on the hash seed (a
// direct-mapped table, as before, dropped whichever datagram shared the newcomer's slot under that run's seed, so two
// runs over one capture could count differently).
//
// The hash index finds a datagram's entry (seeded, so an attacker cannot aim fragments at one probe run); the ring
// decides what is forgotten. Expired entries at the ring's head are reclaimed as new ones arrive.

import PacketDecoding

struct FragmentTracker {
    struct Entry {
        var source = IPAddress.unspecified
        var destination = IPAddress.unspecified
        var identification: UInt32 = 0
        var ipProtocol: UInt8 = 0
        var sourcePort: UInt16 = 0
        var destinationPort: UInt16 = 0
        var seen = Timestamp.zero
        var hash: UInt64 = 0

        func isDatagram(of packet: PacketSummary) -> Bool {
            identification == packet.fragment.identification && ipProtocol == packet.ipProtocol
                && source == packet.source && destination == packet.destination
        }
    }

    /// The remembered first fragments, in arrival order from `head`, `count` of them (a ring of `capacity`).
    private(set) var ring: [Entry] = []
    private(set) var head = 0
    private(set) var count = 0
    let capacity: Int
    var index: HashIndex
    let timeout: Duration
    let seed: UInt64

    init(slots: Int, timeout: Duration, seed: UInt64) {
        capacity = max(1, slots)
        index = HashIndex(capacity: capacity)
        self.timeout = timeout
        self.seed = seed
    }

    func hash(_ packet: PacketSummary) -> UInt64 {
        var h = seed ^ UInt64(packet.fragment.identification) ^ UInt64(packet.ipProtocol) << 40
        h = HashIndex.mix(h ^ packet.source.low ^ packet.source.high)
        return HashIndex.mix(h ^ packet.destination.low ^ packet.destination.high)
    }

    func find(_ packet: PacketSummary, hash: UInt64) -> Int {
        Int(index.find(hash: hash) { ring[Int($0)].isDatagram(of: packet) })
    }

    /// Remembers a first fragment's ports. Returns whether this forgot another datagram's first fragment before its
    /// timeout (counted: the later fragments of what was forgotten are then reported unmatched).
    mutating func remember(_ packet: PacketSummary, sourcePort: UInt16, destinationPort: UInt16,
                           now: Timestamp) -> Bool {
        let h = hash(packet)
        let existing = find(packet, hash: h)
        if existing >= 0 {
            // The same first fragment again (a duplicate on a SPAN port, or a resend): refresh it where it stands.
            ring[existing].sourcePort = sourcePort
            ring[existing].destinationPort = destinationPort
            ring[existing].seen = now
            return false
        }
        while count > 0 && isExpired(ring[head], now: now) { forgetOldest() }
        var forgot = false
        if count == capacity {
            forgetOldest()
            forgot = true
        }
        let slot = (head + count) % capacity
        let entry = Entry(
            source: packet.source, destination: packet.destination, identification: packet.fragment.identification,
            ipProtocol: packet.ipProtocol, sourcePort: sourcePort, destinationPort: destinationPort, seen: now, hash: h)
        if slot == ring.count { ring.append(entry) } else { ring[slot] = entry }
        index.insert(hash: h, entry: Int32(slot))
        count += 1
        return forgot
    }

    func lookup(_ packet: PacketSummary, now: Timestamp) -> (UInt16, UInt16)? {
        let i = find(packet, hash: hash(packet))
        guard i >= 0, !isExpired(ring[i], now: now), now >= ring[i].seen else { return nil }
        return (ring[i].sourcePort, ring[i].destinationPort)
    }

    func isExpired(_ entry: Entry, now: Timestamp) -> Bool { now - entry.seen > timeout }

    private mutating func forgetOldest() {
        index.remove(hash: ring[head].hash, entry: Int32(head))
        head = (head + 1) % capacity
        count -= 1
    }
}
