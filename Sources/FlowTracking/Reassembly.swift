// Reassembly of IPv4 TCP datagrams whose fixed TCP header is split across fragments (RFC 1858's tiny fragments:
// the first fragment carries the ports but not the flags), following Linux's ip_fragment.c exactly, so the sensor
// sees the segment the receiving kernel delivers, or none when the kernel drops the datagram:
//
// - a fragment with more to come is trimmed to a multiple of 8 bytes; one left empty drops the datagram;
// - a last fragment ending before data already held, or a second last fragment with another end, or data past a
//   known end, drops the datagram;
// - a fragment wholly inside one contiguous run of data already held is a duplicate: ignored, the first data wins;
// - any other overlap drops the whole datagram (Linux since 4.19 for IPv4, as RFC 5722 asks for IPv6);
// - the segment is delivered when the first and last fragments are in and every byte between them.
//
// Only these datagrams take this path: a first fragment that holds the whole fixed TCP header is accounted at once,
// as before, and its later fragments matched by the ports it left (`FragmentTracker`). Memory is bounded: at most
// `reassemblySlots` datagrams in reassembly (the oldest forgotten first, `ArrivalOrderTable`) of at most
// `maximumRuns` separate pieces each (runs of adjacent fragments count as one, as in Linux), 30 s each like Linux's
// `ipfrag_time`; what does not fit is counted. Linux's `ipfrag_max_dist` (a queue restarted after 64 fragments from
// the same source in between) is not followed.

import BoundedTables
import PacketDecoding

/// One datagram in reassembly: the runs of data held (Linux's fragment runs), its known length, the fixed TCP
/// header's bytes as far as they came, and what was held, to be counted against the flow once the header is known.
struct Reassembly {
    /// Separate runs of data one datagram may have at once; a fragment that would make more is counted and the
    /// datagram given up (real fragmentation makes one run, arriving in order).
    static let maximumRuns = 16

    var runCount = 0
    var firstIn = false
    var lastIn = false
    /// The datagram's end as far as known (Linux's `q.len`) and the bytes held (`q.meat`).
    var length = 0
    var meat = 0
    var head = FragmentHead()
    /// Which of the header's 20 bytes `head` holds.
    var headMask: UInt32 = 0
    var heldPackets: UInt32 = 0
    var heldBytes: UInt64 = 0

    static let wholeHead: UInt32 = (1 << UInt32(FragmentHead.capacity)) - 1
}

enum ReassemblyResult {
    /// Kept: the datagram is not complete yet.
    case held
    /// Wholly inside data already held: ignored, as Linux ignores it (the datagram goes on).
    case duplicate
    /// The receiver would drop the datagram; its fragments are gone.
    case dropped(ReassemblyDrop)
    /// The datagram is whole; the value holds its TCP header and what was held.
    case complete(Reassembly)
}

enum ReassemblyDrop {
    /// A fragment overlapped data already held without lying inside one run of it.
    case overlap
    /// Lengths that contradict one another, or an empty fragment.
    case inconsistent
    /// More separate pieces than `Reassembly.maximumRuns`.
    case tooManyPieces
}

extension FragmentTracker {
    /// Whether `packet` belongs to reassembly: a fragment carrying part of a split TCP header, or any fragment of a
    /// datagram already in reassembly.
    func mayReassemble(_ packet: PacketSummary) -> Bool {
        guard packet.network == .ipv4, packet.ipProtocol == IPProtocol.tcp, packet.fragment.isFragment else {
            return false
        }
        if packet.fragment.transportSplit || (packet.fragment.head.count > 0 && packet.fragment.isNonFirst) {
            return true
        }
        return isReassembling(packet)
    }

    func isReassembling(_ packet: PacketSummary) -> Bool {
        guard reassembly.count > 0 else { return false }
        let datagram = Datagram(packet)
        return reassembly.find(datagram, hash: hash(datagram)) != nil
    }

    /// Adds one fragment to its datagram's reassembly, as Linux's ip_frag_queue and inet_frag_queue_insert do.
    mutating func reassemble(_ packet: PacketSummary, wireLength: Int, now: Timestamp) -> ReassemblyResult {
        let datagram = Datagram(packet)
        let h = hash(datagram)
        reassemblyIncomplete &+= UInt64(reassembly.removeExpired(now: now, window: timeout))
        if reassembly.find(datagram, hash: h) == nil,
            reassembly.append(datagram, hash: h, value: Reassembly(), at: now) != nil
        {
            reassemblyIncomplete &+= 1
        }
        guard let position = reassembly.find(datagram, hash: h) else { return .dropped(.inconsistent) }
        var r = reassembly[position].value
        r.heldPackets &+= 1
        r.heldBytes &+= UInt64(wireLength)

        let offset = Int(packet.fragment.offset)
        var end = offset + Int(packet.fragment.dataLength)
        if !packet.fragment.moreFragments {
            if end < r.length || (r.lastIn && end != r.length) { return drop(position, .inconsistent) }
            r.lastIn = true
            r.length = end
        } else {
            end &= ~7
            if end > r.length {
                if r.lastIn { return drop(position, .inconsistent) }
                r.length = end
            }
        }
        if end <= offset { return drop(position, .inconsistent) }

        let base = position * Reassembly.maximumRuns
        if r.runCount == 0 {
            runs[base] = Run(start: offset, end: end)
            r.runCount = 1
        } else if runs[base + r.runCount - 1].end < end {
            // The common case: past the data with the highest end (Linux's tail).
            let tail = runs[base + r.runCount - 1]
            if offset < tail.end { return drop(position, .overlap) }
            if offset == tail.end {
                runs[base + r.runCount - 1].end = end
            } else {
                guard r.runCount < Reassembly.maximumRuns else { return drop(position, .tooManyPieces) }
                runs[base + r.runCount] = Run(start: offset, end: end)
                r.runCount += 1
            }
        } else {
            // Before the tail: inside one run is a duplicate, across any held data an overlap, else a new run.
            var insertAt = r.runCount
            for k in 0..<r.runCount {
                let run = runs[base + k]
                if end <= run.start {
                    insertAt = k
                    break
                }
                if offset >= run.end { continue }
                if offset >= run.start && end <= run.end {
                    reassembly[position].value = r
                    return .duplicate
                }
                return drop(position, .overlap)
            }
            guard r.runCount < Reassembly.maximumRuns else { return drop(position, .tooManyPieces) }
            var k = r.runCount
            while k > insertAt {
                runs[base + k] = runs[base + k - 1]
                k -= 1
            }
            runs[base + insertAt] = Run(start: offset, end: end)
            r.runCount += 1
        }
        r.meat += end - offset
        if offset == 0 { r.firstIn = true }
        let carried = Int(packet.fragment.head.count)
        if offset < FragmentHead.capacity {
            for i in offset..<min(end, offset + carried, FragmentHead.capacity) {
                r.head[i] = packet.fragment.head[i - offset]
                r.headMask |= 1 << UInt32(i)
            }
        }
        if r.firstIn && r.lastIn && r.meat == r.length {
            reassembly.remove(at: position)
            return .complete(r)
        }
        reassembly[position].value = r
        return .held
    }

    mutating func drop(_ position: Int, _ reason: ReassemblyDrop) -> ReassemblyResult {
        reassembly.remove(at: position)
        return .dropped(reason)
    }

    /// Datagrams still in reassembly, given up at the end of the input.
    mutating func endReassembly() -> Int {
        let open = reassembly.count
        reassembly.removeAll()
        return open
    }
}

/// A run of adjacent data held, in bytes of the datagram (Int32 to keep the per-slot table small).
struct Run {
    private var first: Int32 = 0
    private var last: Int32 = 0
    var start: Int {
        get { Int(first) }
        set { first = Int32(truncatingIfNeeded: newValue) }
    }
    var end: Int {
        get { Int(last) }
        set { last = Int32(truncatingIfNeeded: newValue) }
    }

    init() {}

    init(start: Int, end: Int) {
        self.start = start
        self.end = end
    }
}

extension FlowTable {
    /// A fragment of a datagram whose fixed TCP header is split across fragments: held until the datagram is whole
    /// (the receiver delivers nothing before), then accounted as the segment it makes, with every fragment counted
    /// against the flow as the fast path counts them.
    mutating func reassemble<Handler: FlowEventHandler>(
        _ packet: PacketSummary, at time: Timestamp, wireLength: Int, handler: inout Handler
    ) -> PacketDisposition {
        let result = fragments.reassemble(packet, wireLength: wireLength, now: time)
        counters.datagramsIncomplete &+= fragments.reassemblyIncomplete
        fragments.reassemblyIncomplete = 0
        switch result {
        case .held, .duplicate:
            counters.fragmentsHeld &+= 1
            return PacketDisposition(outcome: .heldFragment)
        case .dropped(let reason):
            counters.fragmentsHeld &+= 1
            switch reason {
            case .overlap: counters.datagramsOverlapping &+= 1
            case .inconsistent: counters.datagramsInconsistent &+= 1
            case .tooManyPieces: counters.datagramsInTooManyPieces &+= 1
            }
            return PacketDisposition(outcome: .heldFragment)
        case .complete(let r):
            var segment = packet
            segment.fragment = FragmentInfo()
            var headerLength = 0
            let decoded: Bool = withUnsafeBytes(of: r.head.bytes) { raw in
                guard r.headMask == Reassembly.wholeHead, let tcp = TCPHeader(raw) else { return false }
                segment.sourcePort = tcp.sourcePort
                segment.destinationPort = tcp.destinationPort
                segment.tcpSequence = tcp.sequenceNumber
                segment.tcpAcknowledgment = tcp.acknowledgmentNumber
                segment.tcpFlags = tcp.flags
                headerLength = tcp.headerLength
                return true
            }
            // A header the snapshot length cut, or one TCP itself refuses (data offset below 5 words or past the
            // datagram): nothing is delivered.
            guard decoded, headerLength >= TCPHeader.minimumLength, headerLength <= r.length else {
                counters.fragmentsHeld &+= 1
                counters.datagramsInconsistent &+= 1
                return PacketDisposition(outcome: .heldFragment)
            }
            segment.hasPorts = true
            segment.payloadLength = Int32(r.length - headerLength)
            counters.datagramsReassembled &+= 1
            let disposition = accountFlow(segment, sourcePort: segment.sourcePort,
                                          destinationPort: segment.destinationPort, at: time, wireLength: wireLength,
                                          handler: &handler)
            // The fragments held before this one count as the packets they were, as later fragments do.
            let i = Int(disposition.flowIndex)
            let earlier = UInt64(r.heldPackets &- 1), earlierBytes = r.heldBytes &- UInt64(wireLength)
            if disposition.fromOriginator {
                entries[i].originatorPackets &+= earlier
                entries[i].originatorBytes &+= earlierBytes
            } else {
                entries[i].responderPackets &+= earlier
                entries[i].responderBytes &+= earlierBytes
            }
            entries[i].fragments &+= UInt32(truncatingIfNeeded: earlier)
            counters.fragmentsMatched &+= earlier
            return disposition
        }
    }
}
