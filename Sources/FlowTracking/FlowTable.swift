// The flow table: bounded, open-addressed, keyed by canonical flow keys hashed with a per-process seed, with
// timeouts per protocol and state in packet time.
//
// Memory follows the most flows open at once, up to `capacity`: entries are added as flows need new slots (slots
// freed by ended flows are reused first, newest first) and the index doubles with them. A table sized for 262,144
// flows that never holds more than 2,000 uses 2,000 entries' worth of memory; a flood fills it to the capacity and
// no further. Space for the entries is reserved up front (address space only: pages are touched as entries are
// added), so growing never copies them. Nothing is allocated per packet.
//
// Timeouts (packet time, configurable): each flow belongs to one timeout class, and each class is a list ordered by
// last activity, so expiry looks only at the oldest end of each list. Expired flows are reaped by a sweep every
// `sweepInterval` of packet time, and also when a packet arrives for a flow that has already timed out.
//
// Eviction order when the table is full: the least recently active flow of the first non-empty class in this order:
// TCP closed or reset, TCP attempts without answer, TCP half-open (SYN answered, handshake never completed), ICMP,
// other protocols, UDP, TCP established. Closed, unanswered and half-open flows go first because they carry the
// least information and are what scans and SYN floods create. One exception keeps a flood of UDP or ICMP from
// killing real connections as they open: attempts and half-open handshakes younger than `handshakeGrace` are passed
// over for the oldest ICMP, other or UDP flow (never for an established one), since their answer may still come.
// Evicted flows end with reason `evicted` and are counted by class.

import BoundedTables
import PacketDecoding

public struct FlowTableConfiguration: Sendable {
    /// Most flows held at once.
    public var capacity = 262_144
    /// TCP SYN with no answer, or answered by a SYN-ACK the originator never acknowledged (Suricata `tcp.new` 60 s,
    /// Zeek `tcp_attempt_delay` 5 s; 30 s catches slow retries).
    public var tcpAttemptTimeout = Duration.seconds(30)
    /// TCP established, half-closed or mid-stream (Suricata `tcp.established` 600 s; Zeek 5 min inactivity).
    public var tcpEstablishedTimeout = Duration.seconds(600)
    /// TCP after both FINs or a RST: long enough for the last ACKs and retransmissions (Zeek lingers 5 s).
    public var tcpClosedTimeout = Duration.seconds(10)
    /// UDP (Zeek `udp_inactivity_timeout` 1 min).
    public var udpTimeout = Duration.seconds(60)
    /// ICMP (Zeek `icmp_inactivity_timeout` 1 min).
    public var icmpTimeout = Duration.seconds(60)
    /// Other IP protocols (GRE, ESP, ...).
    public var otherTimeout = Duration.seconds(60)
    /// A flow active this long raises `longLived` once (an interactive session rather than a probe).
    public var longLivedThreshold = Duration.seconds(300)
    /// When the table is full, attempts and half-open handshakes younger than this are evicted only when no ICMP,
    /// other or UDP flow can go instead: their answer may still come (round trips across the internet are well
    /// under a second, and Linux retransmits an unanswered SYN after 1 s), whereas the oldest flow of a UDP or ICMP
    /// flood has had its chance.
    public var handshakeGrace = Duration.seconds(1)
    /// How often, in packet time, expired flows are swept.
    public var sweepInterval = Duration.milliseconds(100)
    /// Hash seed; nil picks a random one per table. Results never depend on it, only the slot layout does.
    public var hashSeed: UInt64?
    /// First fragments remembered so later fragments can be counted against their flow.
    public var fragmentSlots = 4096
    public var fragmentTimeout = Duration.seconds(30)
    /// Datagrams whose TCP header is split across fragments, reassembled at once (see Reassembly.swift).
    public var reassemblySlots = 1024

    public init() {}

    public func timeout(_ timeoutClass: TimeoutClass) -> Duration {
        switch timeoutClass {
        case .tcpClosed: tcpClosedTimeout
        case .tcpAttempt, .tcpHalfOpen: tcpAttemptTimeout
        case .icmp: icmpTimeout
        case .other: otherTimeout
        case .udp: udpTimeout
        case .tcpEstablished: tcpEstablishedTimeout
        }
    }
}

public struct FlowCounters: Equatable, Sendable {
    public var created: UInt64 = 0
    public var ended: UInt64 = 0
    public var timedOut: UInt64 = 0
    public var evicted: UInt64 = 0
    /// Evictions per timeout class (by `TimeoutClass.rawValue`).
    public var evictedByClass = [UInt64](repeating: 0, count: TimeoutClass.allCases.count)
    public var reused: UInt64 = 0
    public var endedAtEndOfInput: UInt64 = 0
    public var peakActive = 0
    /// Later fragments matched to the first fragment's flow.
    public var fragmentsMatched: UInt64 = 0
    /// Later fragments whose first fragment was never seen (or was forgotten): reported, not attached to a flow.
    public var fragmentsUnmatched: UInt64 = 0
    /// First fragments forgotten before their timeout because another took their slot (a flood of fragments).
    public var fragmentsForgotten: UInt64 = 0
    /// TCP or UDP packets whose ports could not be read (truncated or malformed transport header).
    public var withoutPorts: UInt64 = 0
    /// IPv4 fragments of datagrams whose fixed TCP header is split across fragments (RFC 1858's tiny fragments),
    /// held for reassembly rather than accounted on arrival.
    public var fragmentsHeld: UInt64 = 0
    /// Such datagrams made whole and accounted as the segment they carry.
    public var datagramsReassembled: UInt64 = 0
    /// Such datagrams dropped, as Linux drops them, because a fragment overlapped data already held.
    public var datagramsOverlapping: UInt64 = 0
    /// Such datagrams dropped, as Linux drops them, for lengths that contradict each other, an empty fragment, or
    /// a TCP header TCP refuses.
    public var datagramsInconsistent: UInt64 = 0
    /// Such datagrams given up for arriving in more than 16 separate pieces at once.
    public var datagramsInTooManyPieces: UInt64 = 0
    /// Such datagrams never made whole: timed out, forgotten to make room, or still open at the end.
    public var datagramsIncomplete: UInt64 = 0
    public init() {}
}

/// What happened to one packet in the flow table.
public struct PacketDisposition: Sendable {
    public enum Outcome: UInt8, Sendable {
        case counted
        /// Not IP (ARP and others): flows are IP only.
        case notIP
        /// A later fragment whose first fragment is unknown.
        case unmatchedFragment
        /// TCP/UDP without readable ports.
        case withoutPorts
        /// An IPv4 fragment held for reassembly (its datagram's TCP header is split across fragments), or dropped
        /// with its datagram as the receiver would drop it.
        case heldFragment
    }
    public var outcome: Outcome
    /// Index of the flow in the table, valid until the next call (when `outcome == .counted`).
    public var flowIndex: Int32 = -1
    public var fromOriginator = false
    public var isNewFlow = false

    public init(outcome: Outcome, flowIndex: Int32 = -1, fromOriginator: Bool = false, isNewFlow: Bool = false) {
        self.outcome = outcome
        self.flowIndex = flowIndex
        self.fromOriginator = fromOriginator
        self.isNewFlow = isNewFlow
    }
}

public struct FlowTable {
    public let configuration: FlowTableConfiguration
    public internal(set) var counters = FlowCounters()
    public internal(set) var activeCount = 0
    /// The latest packet time seen (the earliest representable time before the first packet, so captures from
    /// before 1970 keep a working clock).
    public internal(set) var now = Timestamp(nanoseconds: Int64.min)

    var entries: [Flow]
    /// Each entry's room for the stages above, beside it (so no stage keeps an array of its own by position).
    var storage: [FlowStorage]
    var freeList: [Int32]
    /// Flow keys' hashes to entry indices.
    var index: HashIndex
    let seed: UInt64
    /// Per timeout class: the oldest and newest flow (entry indices, -1 when empty).
    var oldest: [Int32]
    var newest: [Int32]
    var timeouts: [Duration]
    var nextSweep = Timestamp(nanoseconds: Int64.min)
    var nextID: UInt64 = 1
    var fragments: FragmentTracker

    /// Entries whose space is reserved at creation; a larger capacity grows past it by doubling (a 100-million
    /// flow table should not ask for 16 GB of address space it may never use).
    static let reservedEntries = 1 << 22
    /// What a slot holds before its first flow.
    static let unusedEntry = Flow(key: FlowKey(addressA: .unspecified, addressB: .unspecified, portA: 0, portB: 0,
                                               ipProtocol: 0, vlan: 0),
                                  originatorIsA: true, id: 0, firstSeen: .zero, lastSeen: .zero)

    public init(configuration: FlowTableConfiguration = FlowTableConfiguration()) {
        precondition(configuration.capacity > 0 && configuration.capacity < Int(Int32.max) / 2)
        self.configuration = configuration
        index = HashIndex(capacity: configuration.capacity)
        seed = configuration.hashSeed ?? UInt64.random(in: .min ... .max)
        entries = []
        entries.reserveCapacity(min(configuration.capacity, FlowTable.reservedEntries))
        storage = []
        storage.reserveCapacity(min(configuration.capacity, FlowTable.reservedEntries))
        freeList = []
        oldest = [Int32](repeating: -1, count: TimeoutClass.allCases.count)
        newest = oldest
        timeouts = TimeoutClass.allCases.map { configuration.timeout($0) }
        fragments = FragmentTracker(slots: configuration.fragmentSlots, reassemblySlots: configuration.reassemblySlots,
                                    timeout: configuration.fragmentTimeout, seed: seed)
    }

    /// The flow at `index` (from a `PacketDisposition`).
    public func flow(at index: Int32) -> Flow { entries[Int(index)] }

    /// What the stages above keep with the flow at `index` (see `FlowStorage`).
    public func storage(at index: Int32) -> FlowStorage { storage[Int(index)] }
    public mutating func setStorage(_ value: FlowStorage, at index: Int32) { storage[Int(index)] = value }

    /// Whether `index` holds an open flow (not a free position).
    public func isOpen(_ index: Int32) -> Bool {
        index >= 0 && Int(index) < entries.count && entries[Int(index)].slot == index
            && find(entries[Int(index)].key, hash: entries[Int(index)].key.hash(seed: seed)) == index
    }

    /// Accounts one decoded packet: finds or creates its flow, updates counters and TCP state, and raises events.
    public mutating func process<Handler: FlowEventHandler>(
        _ packet: PacketSummary, at time: Timestamp, wireLength: Int, handler: inout Handler
    ) -> PacketDisposition {
        // Every frame moves packet time, ARP included: flows that expired before it end before the stages above
        // see it (an ARP frame an hour after a scan must not find the scan's attempts still open).
        advanceTime(to: time, handler: &handler)
        guard packet.isIP else { return PacketDisposition(outcome: .notIP) }
        return account(packet, at: time, wireLength: wireLength, handler: &handler)
    }

    /// Moves packet time forward (it never goes back) and reaps expired flows when a sweep is due. A live sensor
    /// calls this on read timeouts too, so flows end even when no packet comes.
    public mutating func advanceTime<Handler: FlowEventHandler>(to time: Timestamp, handler: inout Handler) {
        if time > now { now = time }
        if now >= nextSweep {
            expire(handler: &handler)
            nextSweep = now + configuration.sweepInterval
        }
    }

    /// Ends every flow still open, in creation order (so output does not depend on the hash seed).
    public mutating func endAll<Handler: FlowEventHandler>(handler: inout Handler) {
        var live = openFlowSlots.map { (id: entries[Int($0)].id, index: $0) }
        live.sort { $0.id < $1.id }
        for item in live { end(item.index, reason: .endOfInput, handler: &handler) }
        counters.datagramsIncomplete &+= UInt64(fragments.endReassembly())
    }

    // MARK: Accounting

    mutating func account<Handler: FlowEventHandler>(
        _ packet: PacketSummary, at time: Timestamp, wireLength: Int, handler: inout Handler
    ) -> PacketDisposition {
        var sourcePort: UInt16 = 0
        var destinationPort: UInt16 = 0
        let proto = packet.ipProtocol
        let isPortProtocol = proto == IPProtocol.tcp || proto == IPProtocol.udp
        if packet.fragment.isNonFirst {
            guard let ports = fragments.lookup(packet, now: time) else {
                if fragments.mayReassemble(packet) {
                    return reassemble(packet, at: time, wireLength: wireLength, handler: &handler)
                }
                counters.fragmentsUnmatched &+= 1
                return PacketDisposition(outcome: .unmatchedFragment)
            }
            (sourcePort, destinationPort) = ports
            counters.fragmentsMatched &+= 1
        } else if packet.fragment.isFragment && fragments.mayReassemble(packet) {
            if packet.fragment.transportSplit, let ports = fragments.lookup(packet, now: time) {
                // A whole first fragment of this datagram came before: this one lies inside it and adds nothing
                // the receiver keeps. It counts against that flow as a later fragment does.
                var later = packet
                later.fragment.offset = Int32(FragmentHead.capacity)
                counters.fragmentsMatched &+= 1
                return accountFlow(later, sourcePort: ports.0, destinationPort: ports.1, at: time,
                                   wireLength: wireLength, handler: &handler)
            }
            return reassemble(packet, at: time, wireLength: wireLength, handler: &handler)
        } else {
            if isPortProtocol || proto == IPProtocol.sctp {
                guard packet.hasPorts else {
                    counters.withoutPorts &+= 1
                    return PacketDisposition(outcome: .withoutPorts)
                }
                sourcePort = packet.sourcePort
                destinationPort = packet.destinationPort
            } else if packet.hasICMP {
                (sourcePort, destinationPort, _) = ICMPPorts.ports(
                    type: packet.icmpType, code: packet.icmpCode, isIPv6: packet.network == .ipv6)
            }
            // A first fragment: later ones, which carry no transport header, find their flow through it.
            if packet.fragment.isFragment
                && fragments.remember(packet, sourcePort: sourcePort, destinationPort: destinationPort, now: time)
            {
                counters.fragmentsForgotten &+= 1
            }
        }
        return accountFlow(packet, sourcePort: sourcePort, destinationPort: destinationPort, at: time,
                           wireLength: wireLength, handler: &handler)
    }

    /// Finds or creates the flow of a packet whose ports are known, and applies the packet to it.
    mutating func accountFlow<Handler: FlowEventHandler>(
        _ packet: PacketSummary, sourcePort: UInt16, destinationPort: UInt16, at time: Timestamp, wireLength: Int,
        handler: inout Handler
    ) -> PacketDisposition {
        let proto = packet.ipProtocol
        var senderIsA = true
        let key = FlowKey(
            source: packet.source, sourcePort: sourcePort, destination: packet.destination,
            destinationPort: destinationPort, ipProtocol: proto,
            vlan: UInt32(packet.outerVLAN) << 16 | UInt32(packet.innerVLAN), senderIsA: &senderIsA)
        let hash = key.hash(seed: seed)
        var isNew = false
        var index = find(key, hash: hash)
        if index >= 0 {
            // Only the two fields needed: copying the whole flow here would copy it for every packet.
            let lastSeen = entries[Int(index)].lastSeen
            let timeoutClass = entries[Int(index)].timeoutClass
            if time - lastSeen > timeouts[timeoutClass.rawValue] {
                end(index, reason: .timeout, at: lastSeen + timeouts[timeoutClass.rawValue], handler: &handler)
                index = -1
            } else if timeoutClass == .tcpClosed && packet.tcpFlags.contains(.syn)
                && !packet.tcpFlags.contains(.ack) && !packet.fragment.isNonFirst
            {
                end(index, reason: .reused, handler: &handler)
                index = -1
            }
        }
        if index < 0 {
            index = insert(key, hash: hash, senderIsA: senderIsA, packet: packet, at: time, handler: &handler)
            isNew = true
        }
        let fromOriginator = update(index, packet: packet, senderIsA: senderIsA, at: time, wireLength: wireLength,
                                    isNew: isNew, handler: &handler)
        return PacketDisposition(outcome: .counted, flowIndex: index, fromOriginator: fromOriginator, isNewFlow: isNew)
    }

    /// Applies the packet to the flow's counters and state, then raises its events (`started` first for a new
    /// flow): every event sees the flow with the packet that raised it counted, so an alert's packets and bytes
    /// include the packet it was raised on. Returns whether it came from the originator.
    mutating func update<Handler: FlowEventHandler>(
        _ index: Int32, packet: PacketSummary, senderIsA: Bool, at time: Timestamp, wireLength: Int,
        isNew: Bool = false, handler: inout Handler
    ) -> Bool {
        let i = Int(index)
        let fromOriginator = senderIsA == entries[i].originatorIsA
        let payload = UInt64(max(0, packet.payloadLength))
        if time > entries[i].lastSeen { entries[i].lastSeen = time }
        if packet.fragment.isNonFirst { entries[i].fragments &+= 1 }
        if fromOriginator {
            entries[i].originatorMAC = packet.sourceMAC
            entries[i].originatorPackets &+= 1
            entries[i].originatorBytes &+= UInt64(wireLength)
            entries[i].originatorPayload &+= payload
        } else {
            entries[i].responderMAC = packet.sourceMAC
            entries[i].responderPackets &+= 1
            entries[i].responderBytes &+= UInt64(wireLength)
            entries[i].responderPayload &+= payload
        }
        if entries[i].key.ipProtocol == IPProtocol.tcp && !packet.fragment.isNonFirst {
            let flags = packet.tcpFlags
            var history = TCPHistory()
            if flags.contains(.syn) { history.insert(flags.contains(.ack) ? .synAck : .syn) }
            if flags.contains(.fin) { history.insert(.fin) }
            if flags.contains(.rst) { history.insert(.rst) }
            if packet.payloadLength > 0 { history.insert(.data) }
            if flags == .ack && packet.payloadLength == 0 { history.insert(.ack) }
            var originatorState = entries[i].originatorState
            var responderState = entries[i].responderState
            if fromOriginator {
                entries[i].originatorHistory.formUnion(history)
                updateTCPState(sender: &originatorState, peer: &responderState, senderIsOriginator: true,
                               flags: flags, payloadLength: packet.payloadLength)
            } else {
                entries[i].responderHistory.formUnion(history)
                if flags.contains(.ack) {
                    noteResponderAcknowledgment(i, packet.tcpAcknowledgment, syn: flags.contains(.syn))
                }
                updateTCPState(sender: &responderState, peer: &originatorState, senderIsOriginator: false,
                               flags: flags, payloadLength: packet.payloadLength)
            }
            entries[i].originatorState = originatorState
            entries[i].responderState = responderState
        } else if fromOriginator {
            entries[i].originatorState = .active
        } else {
            entries[i].responderState = .active
        }
        if isNew { handler.flowEvent(.started, entries[i], storage: &storage[i], at: time) }
        raiseEvents(i, at: time, handler: &handler)
        let newClass = classify(entries[i])
        if newClass != entries[i].timeoutClass {
            unlink(index)
            entries[i].timeoutClass = newClass
            linkNewest(index)
        } else {
            touch(index)
        }
        return fromOriginator
    }

    /// Keeps the responder's acknowledgments: the SYN-ACK's as the base, the furthest later one past it (within
    /// 2^30 bytes, so a wrapped or forged number is not taken for data).
    mutating func noteResponderAcknowledgment(_ i: Int, _ acknowledgment: UInt32, syn: Bool) {
        if syn {
            if !entries[i].hasResponderAckBase {
                entries[i].responderAckBase = acknowledgment
                entries[i].hasResponderAckBase = true
            }
        } else if entries[i].hasResponderAckBase {
            let advance = acknowledgment &- entries[i].responderAckBase
            if advance < 1 << 30 && advance > entries[i].originatorBytesAcknowledged {
                entries[i].originatorBytesAcknowledged = advance
            }
        }
    }

    mutating func raiseEvents<Handler: FlowEventHandler>(_ i: Int, at time: Timestamp, handler: inout Handler) {
        let raised = entries[i].raised
        if !raised.contains(.answered) && entries[i].responderPackets > 0 {
            entries[i].raised.insert(.answered)
            handler.flowEvent(.answered, entries[i], storage: &storage[i], at: time)
        }
        // Established: the responder's SYN-ACK answered the originator's SYN, or came before anything from the
        // originator at all (the capture sees only the responder's side, or started after the SYN): either way
        // the port answered.
        if !raised.contains(.established) && entries[i].key.ipProtocol == IPProtocol.tcp
            && entries[i].responderState == .established && entries[i].responderHistory.contains(.synAck)
            && (entries[i].originatorHistory.contains(.syn) || entries[i].originatorPackets == 0)
        {
            entries[i].raised.insert(.established)
            handler.flowEvent(.established, entries[i], storage: &storage[i], at: time)
        }
        if !raised.contains(.dataBothWays) && entries[i].originatorSentData && entries[i].responderPayload > 0 {
            entries[i].raised.insert(.dataBothWays)
            handler.flowEvent(.dataBothWays, entries[i], storage: &storage[i], at: time)
        }
        if !raised.contains(.longLived) && entries[i].lastSeen - entries[i].firstSeen >= configuration.longLivedThreshold {
            entries[i].raised.insert(.longLived)
            handler.flowEvent(.longLived, entries[i], storage: &storage[i], at: time)
        }
    }

    func classify(_ flow: Flow) -> TimeoutClass {
        switch flow.key.ipProtocol {
        case IPProtocol.tcp:
            let o = flow.originatorState, r = flow.responderState
            if o == .reset || r == .reset || (o == .closed && r == .closed) { return .tcpClosed }
            // Nothing from the responder yet: a SYN, or a FIN/NULL/Xmas/ACK probe, or backscatter. Scans and floods
            // make these; they get the short timeout and go first when the table is full.
            if flow.responderPackets == 0 { return .tcpAttempt }
            // Answered, and the originator has sent only SYNs: no ACK, data, FIN or RST completed the handshake.
            if flow.originatorHistory == .syn { return .tcpHalfOpen }
            return .tcpEstablished
        case IPProtocol.udp: return .udp
        case IPProtocol.icmp, IPProtocol.icmpv6: return .icmp
        default: return .other
        }
    }

    // MARK: Creation, lookup and removal

    mutating func insert<Handler: FlowEventHandler>(
        _ key: FlowKey, hash: UInt64, senderIsA: Bool, packet: PacketSummary, at time: Timestamp,
        handler: inout Handler
    ) -> Int32 {
        if freeList.isEmpty {
            if entries.count < configuration.capacity {
                freeList.append(Int32(entries.count))
                entries.append(FlowTable.unusedEntry)
                storage.append(FlowStorage())
            } else {
                evictOne(handler: &handler)
            }
        }
        let index = freeList.removeLast()
        var originatorIsA = senderIsA
        let answer = FlowTable.senderIsLikelyResponder(packet)
        // Never turned round toward a group: the destination would become the originator of a flow it never sent in.
        if answer && !FlowTable.isGroupDestination(packet) { originatorIsA.toggle() }
        var flow = Flow(key: key, originatorIsA: originatorIsA, id: nextID, firstSeen: time, lastSeen: time)
        flow.slot = index
        flow.firstFrameToGroupMAC = MACAddress.isGroup(packet.destinationMAC)
        flow.originatorSentFirst = originatorIsA == senderIsA
        flow.openedByAnswer = answer
        nextID &+= 1
        flow.timeoutClass = classify(flow)
        entries[Int(index)] = flow
        storage[Int(index)] = FlowStorage()
        self.index.insert(hash: hash, entry: index)
        linkNewest(index)
        activeCount += 1
        counters.created &+= 1
        if activeCount > counters.peakActive { counters.peakActive = activeCount }
        return index
    }

    /// The first packet of a flow that came from the server side: a SYN-ACK (the SYN was missed), an ICMP reply,
    /// or TCP/UDP without a SYN from a well-known port to an ephemeral one. Zeek flips roles the same way. A DHCP
    /// server's answer goes from one well-known port to another (67 to 68; DHCPv6 547 to 546), so it is named.
    static func senderIsLikelyResponder(_ packet: PacketSummary) -> Bool {
        switch packet.ipProtocol {
        case IPProtocol.tcp:
            let flags = packet.tcpFlags
            if flags.contains(.syn) { return flags.contains(.ack) }
            return isLikelyServerPort(packet.sourcePort) && !isLikelyServerPort(packet.destinationPort)
        case IPProtocol.udp:
            if isDHCPServerAnswer(sourcePort: packet.sourcePort, destinationPort: packet.destinationPort) { return true }
            return isLikelyServerPort(packet.sourcePort) && !isLikelyServerPort(packet.destinationPort)
        case IPProtocol.icmp, IPProtocol.icmpv6:
            return packet.hasICMP && ICMPPorts.isReply(type: packet.icmpType, isIPv6: packet.network == .ipv6)
        default:
            return false
        }
    }

    /// DHCP server to client (RFC 2131: server port 67, client port 68) or DHCPv6 server to client (RFC 8415: 547
    /// to 546). A relay talks 67 to 67 and is left as it comes.
    static func isDHCPServerAnswer(sourcePort: UInt16, destinationPort: UInt16) -> Bool {
        (sourcePort == 67 && destinationPort == 68) || (sourcePort == 547 && destinationPort == 546)
    }

    /// The packet went to no one host: a multicast group, the limited broadcast, the unspecified address, or any
    /// address through a broadcast or multicast MAC (a directed broadcast). A flow is never turned round toward such
    /// a destination: it sent nothing and is no host to originate anything, so the sender stays the originator
    /// (`Flow.openedByAnswer` says its first packet answered someone). Loopback is not here: its two ends are real
    /// sockets of one machine, and a SYN-ACK between them is turned round as any other.
    static func isGroupDestination(_ packet: PacketSummary) -> Bool {
        let destination = packet.destination
        return destination.isMulticast || destination.isLimitedBroadcast || destination.isUnspecified
            || MACAddress.isGroup(packet.destinationMAC)
    }

    /// Ports below 1024 are services; so are the registered ports of common remote-administration and database
    /// services that sit above it.
    static func isLikelyServerPort(_ port: UInt16) -> Bool {
        if port != 0 && port < 1024 { return true }
        switch port {
        case 1433, 1521, 2049, 3306, 3389, 5432, 5900, 5985, 5986, 6379, 8080, 8443, 9200, 27017: return true
        default: return false
        }
    }

    func find(_ key: FlowKey, hash: UInt64) -> Int32 {
        index.find(hash: hash) { entries[Int($0)].key == key }
    }

    mutating func removeSlot(of entry: Int32) {
        index.remove(hash: entries[Int(entry)].key.hash(seed: seed), entry: entry)
    }

    /// Ends a flow. `time` is when it ended: for a timeout, the moment it expired (its last packet plus the
    /// timeout), not the later packet that noticed it, so events downstream keep their place in time even across a
    /// gap between capture files.
    mutating func end<Handler: FlowEventHandler>(_ index: Int32, reason: FlowEndReason, at time: Timestamp? = nil,
                                                 handler: inout Handler) {
        entries[Int(index)].endReason = reason
        handler.flowEvent(.ended, entries[Int(index)], storage: &storage[Int(index)], at: min(time ?? now, now))
        unlink(index)
        removeSlot(of: index)
        freeList.append(index)
        activeCount -= 1
        counters.ended &+= 1
        switch reason {
        case .timeout: counters.timedOut &+= 1
        case .evicted:
            counters.evicted &+= 1
            counters.evictedByClass[entries[Int(index)].timeoutClass.rawValue] &+= 1
        case .endOfInput: counters.endedAtEndOfInput &+= 1
        case .reused: counters.reused &+= 1
        }
    }

    mutating func expire<Handler: FlowEventHandler>(handler: inout Handler) {
        for c in TimeoutClass.allCases {
            let timeout = timeouts[c.rawValue]
            while oldest[c.rawValue] >= 0 {
                let index = oldest[c.rawValue]
                guard now - entries[Int(index)].lastSeen > timeout else { break }
                end(index, reason: .timeout, at: entries[Int(index)].lastSeen + timeout, handler: &handler)
            }
        }
    }

    /// Makes room: the oldest flow of the cheapest non-empty class, passing over attempts and half-open handshakes
    /// younger than `handshakeGrace` while an ICMP, other or UDP flow can go instead (see the file header).
    mutating func evictOne<Handler: FlowEventHandler>(handler: inout Handler) {
        var young: Int32 = -1
        for c in TimeoutClass.evictionOrder {
            let candidate = oldest[c.rawValue]
            guard candidate >= 0 else { continue }
            if c == .tcpEstablished && young >= 0 { break }
            // Each list is ordered by last activity: when its oldest flow is young, all of them are.
            if c == .tcpAttempt || c == .tcpHalfOpen,
                now - entries[Int(candidate)].lastSeen < configuration.handshakeGrace
            {
                if young < 0 { young = candidate }
                continue
            }
            end(candidate, reason: .evicted, handler: &handler)
            return
        }
        if young >= 0 { end(young, reason: .evicted, handler: &handler) }
    }

    // MARK: Timeout-class lists

    mutating func linkNewest(_ index: Int32) {
        let c = entries[Int(index)].timeoutClass.rawValue
        entries[Int(index)].older = newest[c]
        entries[Int(index)].newer = -1
        if newest[c] >= 0 { entries[Int(newest[c])].newer = index } else { oldest[c] = index }
        newest[c] = index
    }

    mutating func unlink(_ index: Int32) {
        let c = entries[Int(index)].timeoutClass.rawValue
        let older = entries[Int(index)].older, newer = entries[Int(index)].newer
        if older >= 0 { entries[Int(older)].newer = newer } else { oldest[c] = newer }
        if newer >= 0 { entries[Int(newer)].older = older } else { newest[c] = older }
        entries[Int(index)].older = -1
        entries[Int(index)].newer = -1
    }

    mutating func touch(_ index: Int32) {
        let c = entries[Int(index)].timeoutClass.rawValue
        guard newest[c] != index else { return }
        unlink(index)
        linkNewest(index)
    }
}

/// Discards events (used where the caller has no handler to give).
public struct DiscardingHandler: FlowEventHandler {
    public init() {}
    public mutating func flowEvent(_ event: FlowEvent, _ flow: Flow, at time: Timestamp) {}
}
