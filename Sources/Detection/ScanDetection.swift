// Rules host-scan and inbound-scan: one source with many failed TCP attempts in a short time. `host-scan` is a local
// host doing it (a taken-over server mapping the inside); `inbound-scan` is an outside source doing it to local
// addresses.
//
// A failed attempt is a flow whose originator sent a SYN and never got a SYN-ACK: refused (REJ), counted when the
// RST comes back, or unanswered (S0), counted when the flow expires (its last SYN plus the attempt timeout) or
// the input ends. On the local segment, an ARP request that gets no reply is a failed
// contact too: host discovery (`nmap -sn`, `arp-scan`) sweeps a subnet with ARP before any TCP is sent.
// Thresholds (Zeek's scan.zeek defaults): 15 distinct ports of one host (port scan) or 25 distinct hosts (address
// scan), within 5 minutes. Severity 2. One alert per scanner per suppression interval; what follows is counted.
//
// What an alert counts (`alert.ports_tried`, `alert.hosts_tried`, and its message): the ports of the destination and the
// hosts the source failed to reach since its window opened, exact past the windows' bounds (60 ports, 100 hosts): each
// window keeps a count beside its members, raised by every attempt at a member it does not hold (a new one, or one
// refused because the window is full). A scanner that tries each port once (nmap, masscan) is counted exactly; one
// that retries a port it tried beyond the first 60 is counted once per try. The alert fires at the threshold; the
// count a scan of 1,000 ports reaches is in the alerts held back after it, and so in the closing record
// (`alert_summary`, AlertLedger.swift) that reports them.
//
// Memory: a source's first failure is noted in a compact table of its own (no per-source tables), and only its second
// gives it a window: a SYN flood leaves one failure per forged source, and a million of them must neither cost a
// scanner's worth of memory each nor push the real scanners out. Both tables hold `scannerCapacity` sources. The
// first-failure table forgets in arrival order (`ArrivalOrderTable`): the flood's own oldest debris goes first, at
// constant cost per forged source (a dictionary sorted to make room was a tenth of a SYN flood's time). The windows
// of sources with two failures or more, and the ARP requests, are `BoundedWindow`s (BoundedTables): bounded in
// sources and in members per source, swept together once per window of packet time.

import BoundedTables
import FlowTracking
import PacketDecoding
import SiteModel
import StateCoding

struct ScanDetection: Detection {
    static let name = "scans"
    static let events: DetectionEvents = [.arp, .answered, .ended]
    static let savedInSchema2Layout = true
    /// Version 2: each scanner's hosts tried and each host window's ports tried (`tried`).
    static let stateVersion = 2
    static let severity = 2
    let portScanThreshold = ScanDetection.portScanThreshold
    let addressScanThreshold = ScanDetection.addressScanThreshold
    static let portScanThreshold = 15
    static let addressScanThreshold = 25
    /// Unanswered ARP requests for distinct addresses that make a sweep. Higher than the TCP threshold: a router
    /// asks for the unused addresses that outside scanners probe, a DHCP server checks for conflicts, hosts ask for
    /// peers that went away; a discovery sweep asks for most of a subnet (nmap -sn, arp-scan: 254 for a /24).
    let arpSweepThreshold = 64
    let window = ScanDetection.window
    static let window = Duration.seconds(300)
    /// Sources tracked at once in each table (one failure; more); the ones idle longest are forgotten beyond it.
    static let sourceCapacity = 65_536
    let scannerCapacity = ScanDetection.sourceCapacity
    /// Members kept per window: past four times a threshold nothing more is added (the answer is known), so the work
    /// per event stays bounded whatever the scanner does (a scan of every port would otherwise cost time quadratic in
    /// the number of probes). Hosts per scanner: 100; ports per host: 60; ARP targets per requester: 256.
    static let boundFactor = 4

    /// A source with at least two failures in its window: the hosts it failed to reach, and per host the ports.
    struct ScannerState: WindowEntry {
        var failedHosts = WindowMembers<IPAddress>()
        /// Hosts tried since the window opened (see the header): exact past `failedHosts`' bound.
        var hostsTried: UInt64 = 0
        /// Hosts beyond four times the address threshold get no port window (their ports cannot make a port scan
        /// before the address scan is reported).
        var failedPorts = BoundedWindow<IPAddress, PortWindow>(
            window: ScanDetection.window, capacity: ScanDetection.addressScanThreshold * ScanDetection.boundFactor,
            whenFull: .refuseNew, memberCapacity: ScanDetection.portScanThreshold * ScanDetection.boundFactor, membersWhenFull: .refuseNew)
        var last = Timestamp.zero
        var lastActive: Timestamp { last }
        var memberCount: Int { failedHosts.count }
    }
    /// The failed ports of one host, and how many ports were tried (see the header): exact past the bound.
    struct PortWindow: WindowEntry {
        var ports = WindowMembers<UInt16>()
        var tried: UInt64 = 0
        var lastActive: Timestamp { ports.lastActive }
        var memberCount: Int { ports.count }
    }
    /// Sources with at least two failures in their window.
    var scanners = BoundedWindow<IPAddress, ScannerState>(window: ScanDetection.window,
                                                          capacity: ScanDetection.sourceCapacity)
    /// Sources with one failure so far: which host and port (and, as the entry's time, when). Kept apart from
    /// `scanners` on purpose: a window per forged source would cost a scanner's memory for each, and a table that
    /// forgets in arrival order forgets a flood's debris at constant cost (see the header).
    struct FirstFailure {
        var host: IPAddress
        var port: UInt16
    }
    var firstFailures = ArrivalOrderTable<IPAddress, FirstFailure>(capacity: ScanDetection.sourceCapacity)
    /// Seeds the first-failure table's index only (nothing depends on its layout).
    let seed = UInt64.random(in: .min ... .max)
    /// ARP requests per requester: the targets not answered yet, removed when the target replies. Requesters with one
    /// unanswered request are forgotten first: each forged sender of a flood leaves one, and they must not push out a
    /// sweeping host's window.
    var arpRequests = BoundedWindow<IPAddress, WindowMembers<IPAddress>>(
        window: ScanDetection.window, capacity: ScanDetection.sourceCapacity, forgetSingletonsFirst: true,
        memberCapacity: 64 * ScanDetection.boundFactor, membersWhenFull: .refuseNew)
    /// First failures dropped to stay within their table's capacity while still inside the window (a run counter).
    var firstFailuresForgotten: UInt64 = 0

    var counters: [DetectionCounter] {
        [DetectionCounter("scanWindowsForgotten", "scan windows", scanners.counters.forgotten),
         DetectionCounter("firstFailuresForgotten", "sources with one failed attempt", firstFailuresForgotten),
         DetectionCounter("arpWindowsForgotten", "ARP windows", arpRequests.counters.forgotten)]
    }

    /// An ARP request or reply on the local segment.
    mutating func arp(_ context: ARPContext, ledger: inout AlertLedger) {
        let (sender, target, isReply, senderEntry, time) =
            (context.sender, context.target, context.isReply, context.senderEntry, context.time)
        if isReply {
            // `sender` answers whoever asked for it.
            arpRequests.remove(sender, for: target)
            return
        }
        guard sender != target else { return }  // gratuitous ARP announces, it does not look for anyone
        sweep(at: time)
        guard let pending = arpRequests.observe(target, for: sender, at: time)?.members,
            pending.count >= arpSweepThreshold
        else { return }
        var alert = Alert(timestamp: time, rule: .hostScan, severity: Self.severity, message: "", source: sender,
                          host: AlertHost(sender, senderEntry))
        alert.link = context.link
        let who = senderEntry.map { "\($0.name) (\(sender))" } ?? "\(sender)"
        alert.message = "local host \(who) sent ARP requests for \(pending.count) addresses in \(formatDuration(window)) "
            + "that no host answered: host discovery"
        alert.reason = "arp-sweep"
        ledger.raise(alert, key: SuppressionKey(rule: .hostScan, source: sender))
    }

    /// `counted`: this detection's byte for the flow, 1 once its failure was counted (when refused), so its end does
    /// not count it again: the windows would take it as seen again, the counts of what was tried would not.
    mutating func flow(_ context: FlowContext, site: Site, mark counted: inout UInt8, ledger: inout AlertLedger) {
        let flow = context.flow
        let refused = context.event == .answered && flow.responderState == .reset
        guard context.event == .ended || refused, flow.ipProtocol == IPProtocol.tcp,
            flow.originatorHistory.contains(.syn), !flow.raised.contains(.established), counted == 0,
            // A scanner is a host, and so is what it failed to reach: a SYN to a broadcast address is no host's port.
            context.originatorIsHost, context.responderIsHost
        else { return }
        counted = 1
        let rule: RuleID
        if context.originatorIsLocal {
            rule = .hostScan
        } else if context.responderIsLocal {
            rule = .inboundScan
        } else {
            return
        }
        let time = context.time
        sweep(at: time)
        let (host, port) = (flow.responder, flow.responderPort)
        let first: ArrivalOrderTable<IPAddress, FirstFailure>.Entry?
        if scanners.contains(flow.originator) {
            first = nil
        } else if let position = firstFailures.find(flow.originator, hash: flow.originator.hash(seed: seed)) {
            // The second failure: the source gets a window, holding its first failure as it was noted.
            first = firstFailures[position]
            firstFailures.remove(at: position)
        } else {
            // One failure reaches no threshold (15 ports, 25 hosts): noted compactly, nothing to judge yet.
            noteFirstFailure(of: flow.originator, FirstFailure(host: host, port: port), at: time)
            return
        }
        guard let failed = scanners.update(flow.originator, at: time, { state in
            if let first {
                _ = state.note(first.value.host, port: first.value.port, at: first.time)
            }
            return state.note(host, port: port, at: time)
        }) else { return }
        let (hostCount, portCount) = (failed.hosts, failed.ports)

        let kind: String, count: UInt64
        if portCount >= portScanThreshold {
            (kind, count) = ("port", failed.portsTried)
        } else if hostCount >= addressScanThreshold {
            (kind, count) = ("address", failed.hostsTried)
        } else {
            return
        }
        let scanner = flow.originator
        let local = rule == .hostScan ? scanner : flow.responder
        let entry = rule == .hostScan ? context.originatorEntry : context.responderEntry
        var alert = Alert(timestamp: time, rule: rule, severity: Self.severity, message: "", source: scanner,
                          destination: kind == "port" ? flow.responder : nil, ipProtocol: IPProtocol.tcp,
                          host: AlertHost(local, entry))
        // The attempt that crossed the threshold, for its link layer and counters.
        alert.link = AlertLink(flow)
        if kind == "address" { alert.link.destinationMAC = 0 }
        alert.flowSoFar = AlertFlow(flow)
        alert.tally = AlertTally(portsTried: kind == "port" ? failed.portsTried : nil, hostsTried: failed.hostsTried)
        let who = rule == .hostScan ? "local host \(entry.map { "\($0.name) (\(scanner))" } ?? "\(scanner)")"
            : "outside host \(scanner)"
        alert.message = kind == "port"
            ? "\(who) failed to connect to \(count) ports of \(flow.responder) within \(formatDuration(window)): port scan"
            : "\(who) failed to connect to \(count) hosts within \(formatDuration(window)): address scan"
        alert.reason = "\(kind)-scan"
        ledger.raise(alert, key: SuppressionKey(rule: rule, source: scanner))
    }

    /// Notes a source's first failure; when the table is full, the oldest one still inside the window is forgotten
    /// (counted) after those older than the window.
    mutating func noteFirstFailure(of source: IPAddress, _ first: FirstFailure, at time: Timestamp) {
        firstFailures.removeExpired(now: time, window: window)
        if firstFailures.append(source, hash: source.hash(seed: seed), value: first, at: time) != nil {
            firstFailuresForgotten &+= 1
        }
    }

    /// Forgets, once per window of packet time, the sources whose latest failure is older than the window, in all
    /// three tables on one schedule (`BoundedWindow.sweep`, with its guard against a clock that jumps to 2262).
    mutating func sweep(at time: Timestamp) {
        arpRequests.sweep(at: time)
        if scanners.sweep(at: time) { firstFailures.removeExpired(now: time, window: window) }
    }
}

extension ScanDetection.ScannerState {
    /// Notes a failed attempt to `host`:`port`; returns the failed hosts and the failed ports of `host` after it
    /// (as the bounded windows hold them), and the hosts and ports of `host` tried (see the file header).
    mutating func note(_ host: IPAddress, port: UInt16, at time: Timestamp)
        -> (hosts: Int, ports: Int, hostsTried: UInt64, portsTried: UInt64)
    {
        last = time
        let hostOutcome = failedHosts.observe(host, at: time, window: ScanDetection.window,
                                              capacity: ScanDetection.addressScanThreshold * ScanDetection.boundFactor,
                                              whenFull: .refuseNew)
        // Held already (seen again): not a new host; anything else (added, or refused by the full window) is.
        if hostOutcome != .seenAgain { hostsTried &+= 1 }
        // A host refused a port window counts its one port, as it always did: no port scan from it.
        let window = ScanDetection.window, capacity = ScanDetection.portScanThreshold * ScanDetection.boundFactor
        let ports = failedPorts.update(host, at: time) { entry -> (Int, UInt64) in
            let outcome = entry.ports.observe(port, at: time, window: window, capacity: capacity, whenFull: .refuseNew)
            if outcome != .seenAgain { entry.tried &+= 1 }
            return (entry.ports.count, entry.tried)
        } ?? (1, 1)
        return (failedHosts.count, ports.0, hostsTried, ports.1)
    }
}

// Its saved section: the scanners' windows and the ARP requests, in address and port order (the same state gives the
// same bytes); the first-failure table in its arrival order, which is its meaning.
extension ScanDetection {
    /// Sources with one failure are saved as windows holding that failure, oldest first, so the saved form is the
    /// same whichever table held them; `restore` sorts them back into their table by their time.
    func encode(into writer: inout StateWriter) {
        writer.putCount(scanners.count + firstFailures.count)
        for first in firstFailures.entries {
            writer.put(first.key)
            writer.put(first.time)
            writer.putCount(1)
            writer.put(first.value.host)
            writer.put(first.time)
            writer.put(UInt64(1))
            writer.putCount(1)
            writer.put(first.value.host)
            writer.putCount(1)
            writer.put(first.value.port)
            writer.put(first.time)
            writer.put(UInt64(1))
        }
        for (source, state) in scanners.sorted {
            writer.put(source)
            writer.put(state.last)
            encode(state.failedHosts, into: &writer)
            writer.put(state.hostsTried)
            state.failedPorts.encode(into: &writer) { host, window, writer in
                writer.put(host)
                window.ports.encode(into: &writer) { sighting, writer in
                    writer.put(sighting.member)
                    writer.put(sighting.time)
                }
                writer.put(window.tried)
            }
        }
        arpRequests.encode(into: &writer) { requester, targets, writer in
            writer.put(requester)
            encode(targets, into: &writer)
        }
    }

    /// Addresses and their times, in address order.
    func encode(_ times: WindowMembers<IPAddress>, into writer: inout StateWriter) {
        times.encode(into: &writer) { sighting, writer in
            writer.put(sighting.member)
            writer.put(sighting.time)
        }
    }

    static func decodeTimes(from reader: inout StateReader) throws -> WindowMembers<IPAddress> {
        try WindowMembers.decode(from: &reader, minimumItemSize: 25, distinct: true) {
            .init(member: try $0.address(), time: try $0.timestamp())
        }
    }

    /// The layout this build writes.
    mutating func restore(from reader: inout StateReader) throws {
        try restore(from: &reader, version: Self.stateVersion)
    }

    /// Layout 2 adds each scanner's hosts tried after its hosts, and each host window's ports tried after its
    /// ports; a layout 1 section gets the counts its windows hold.
    mutating func restore(from reader: inout StateReader, version: Int) throws {
        let counted = version >= 2
        scanners.removeAll()
        firstFailures.removeAll()
        var firsts: [(source: IPAddress, first: FirstFailure, time: Timestamp)] = []
        for _ in 0..<(try reader.count(minimumItemSize: counted ? 41 : 33)) {
            let source = try reader.address()
            var state = ScannerState()
            state.last = try reader.timestamp()
            state.failedHosts = try Self.decodeTimes(from: &reader)
            state.hostsTried = counted ? try reader.uint64() : UInt64(state.failedHosts.count)
            try state.failedPorts.restore(from: &reader, minimumItemSize: counted ? 29 : 21) { reader in
                let host = try reader.address()
                var window = PortWindow()
                window.ports = try WindowMembers.decode(from: &reader, minimumItemSize: 10, distinct: true) {
                    .init(member: try $0.uint16(), time: try $0.timestamp())
                }
                window.tried = max(counted ? try reader.uint64() : 0, UInt64(window.ports.count))
                return (host, window)
            }
            // Never fewer tried than held (a damaged count must not make a message say less than the window shows).
            state.hostsTried = max(state.hostsTried, UInt64(state.failedHosts.count))
            let hosts = state.failedHosts.oldestFirst, ports = state.failedPorts.sorted
            if hosts.count == 1, ports.count == 1, ports[0].entry.ports.count == 1, ports[0].key == hosts[0].member,
                ports[0].entry.ports.oldestFirst[0].time == hosts[0].time, state.hostsTried == 1,
                ports[0].entry.tried <= 1
            {
                firsts.append((source, FirstFailure(host: hosts[0].member,
                                                    port: ports[0].entry.ports.oldestFirst[0].member),
                               hosts[0].time))
            } else {
                scanners.restore(source, state)
            }
        }
        // Back into arrival order (schema 2 saves it so; schema 1 saved a dictionary's order, which the seed decided),
        // so the table forgets in the same order as before the save. What does not fit is dropped, not counted:
        // the counter is this run's.
        firsts.sort { $0.time < $1.time }
        for entry in firsts where firstFailures.find(entry.source, hash: entry.source.hash(seed: seed)) == nil {
            firstFailures.removeExpired(now: entry.time, window: window)
            firstFailures.append(entry.source, hash: entry.source.hash(seed: seed), value: entry.first, at: entry.time)
        }
        try arpRequests.restore(from: &reader, minimumItemSize: 21) { reader in
            (try reader.address(), try Self.decodeTimes(from: &reader))
        }
    }
}
