// Remembers the ports of first fragments so that later fragments (which carry no transport header) can be counted
// against their flow. Bounded and oldest-first (`ArrivalOrderTable`): when full, the first fragment that arrived
// earliest is forgotten (counted when it had not yet timed out). A flood of fragments makes the tracker forget, never
// grow; which datagram it forgets depends only on the traffic, not on the hash seed (a direct-mapped table, as
// before, dropped whichever datagram shared the newcomer's slot under that run's seed, so two runs over one capture
// could count differently). Timed-out entries are reclaimed first, without counting. IPv4 TCP datagrams whose
// first fragment ends inside the fixed TCP header are not remembered here but reassembled (Reassembly.swift).

import BoundedTables
import PacketDecoding

struct FragmentTracker {
    /// One datagram: the IP identification is unique per source, destination and protocol while it is in flight.
    struct Datagram: Equatable {
        var source: IPAddress
        var destination: IPAddress
        var identification: UInt32
        var ipProtocol: UInt8

        init(_ packet: PacketSummary) {
            source = packet.source
            destination = packet.destination
            identification = packet.fragment.identification
            ipProtocol = packet.ipProtocol
        }
    }

    var table: ArrivalOrderTable<Datagram, (sourcePort: UInt16, destinationPort: UInt16)>
    let timeout: Duration
    let seed: UInt64
    /// Datagrams whose TCP header is split across fragments, in reassembly (see Reassembly.swift), and their runs
    /// of data: `Reassembly.maximumRuns` per ring position of `reassembly`, made once.
    var reassembly: ArrivalOrderTable<Datagram, Reassembly>
    var runs: [Run]
    /// Datagrams given up in reassembly before they were whole: timed out, or forgotten to make room.
    var reassemblyIncomplete: UInt64 = 0

    init(slots: Int, reassemblySlots: Int = 1024, timeout: Duration, seed: UInt64) {
        table = ArrivalOrderTable(capacity: slots)
        reassembly = ArrivalOrderTable(capacity: reassemblySlots)
        runs = [Run](repeating: Run(), count: reassembly.capacity * Reassembly.maximumRuns)
        self.timeout = timeout
        self.seed = seed
    }

    func hash(_ datagram: Datagram) -> UInt64 {
        var h = seed ^ UInt64(datagram.identification) ^ UInt64(datagram.ipProtocol) << 40
        h = HashIndex.mix(h ^ datagram.source.low ^ datagram.source.high)
        return HashIndex.mix(h ^ datagram.destination.low ^ datagram.destination.high)
    }

    /// Remembers a first fragment's ports. Returns whether this forgot another datagram's first fragment before its
    /// timeout (counted: the later fragments of what was forgotten are then reported unmatched).
    mutating func remember(_ packet: PacketSummary, sourcePort: UInt16, destinationPort: UInt16,
                           now: Timestamp) -> Bool {
        let datagram = Datagram(packet)
        let h = hash(datagram)
        if let existing = table.find(datagram, hash: h) {
            // The same first fragment again (a duplicate on a SPAN port, or a resend): it moves to the newest end, so
            // the ring stays in time order (expiry looks only at the oldest end). Its old place is a hole until the
            // ring comes round to it, so a repeat costs room like a new datagram would.
            table.remove(at: existing)
        }
        table.removeExpired(now: now, window: timeout)
        return table.append(datagram, hash: h, value: (sourcePort, destinationPort), at: now) != nil
    }

    func lookup(_ packet: PacketSummary, now: Timestamp) -> (UInt16, UInt16)? {
        let datagram = Datagram(packet)
        guard let i = table.find(datagram, hash: hash(datagram)) else { return nil }
        let entry = table[i]
        guard now - entry.time <= timeout, now >= entry.time else { return nil }
        return entry.value
    }
}
