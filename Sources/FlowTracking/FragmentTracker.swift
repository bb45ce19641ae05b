// Remembers the ports of first fragments so that later fragments (which carry no transport header) can be counted
// against their flow. Direct-mapped and fixed-size: a flood of fragments overwrites old entries instead of growing.

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
        var isUsed = false
    }

    var entries: [Entry]
    let mask: Int
    let timeout: Duration
    let seed: UInt64

    init(slots: Int, timeout: Duration, seed: UInt64) {
        var count = 1
        while count < max(1, slots) { count <<= 1 }
        entries = [Entry](repeating: Entry(), count: count)
        mask = count - 1
        self.timeout = timeout
        self.seed = seed
    }

    func slot(_ packet: PacketSummary) -> Int {
        var h = seed ^ UInt64(packet.fragment.identification) ^ UInt64(packet.ipProtocol) << 40
        h = HashIndex.mix(h ^ packet.source.low ^ packet.source.high)
        h = HashIndex.mix(h ^ packet.destination.low ^ packet.destination.high)
        return Int(truncatingIfNeeded: h) & mask
    }

    /// Returns whether this displaced another datagram's first fragment before its timeout (counted: a flood of
    /// fragments makes the tracker forget, and the later fragments of what it forgot are then reported unmatched).
    mutating func remember(_ packet: PacketSummary, sourcePort: UInt16, destinationPort: UInt16,
                           now: Timestamp) -> Bool {
        let i = slot(packet)
        let old = entries[i]
        let displaced = old.isUsed && now - old.seen <= timeout
            && !(old.identification == packet.fragment.identification && old.ipProtocol == packet.ipProtocol
                 && old.source == packet.source && old.destination == packet.destination)
        entries[i] = Entry(
            source: packet.source, destination: packet.destination, identification: packet.fragment.identification,
            ipProtocol: packet.ipProtocol, sourcePort: sourcePort, destinationPort: destinationPort, seen: now,
            isUsed: true)
        return displaced
    }

    func lookup(_ packet: PacketSummary, now: Timestamp) -> (UInt16, UInt16)? {
        let entry = entries[slot(packet)]
        guard entry.isUsed, entry.identification == packet.fragment.identification, entry.ipProtocol == packet.ipProtocol,
            entry.source == packet.source, entry.destination == packet.destination,
            now - entry.seen <= timeout, now >= entry.seen
        else { return nil }
        return (entry.sourcePort, entry.destinationPort)
    }
}
