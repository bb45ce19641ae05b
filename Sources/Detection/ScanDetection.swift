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
// Memory: a source's first failure is noted in a compact table of its own (no per-source tables), and only its second
// gives it a window: a SYN flood leaves one failure per forged source, and a million of them must neither cost a
// scanner's worth of memory each nor push the real scanners out. Both tables hold `scannerCapacity` sources. The
// first-failure table forgets in arrival order (`ArrivalOrderTable`): the flood's own oldest debris goes first, at
// constant cost per forged source (a dictionary sorted to make room was a tenth of a SYN flood's time).

import BoundedTables
import FlowTracking
import PacketDecoding
import SiteModel
import StateCoding

struct ScanDetection: Detection {
    static let name = "scans"
    static let events: DetectionEvents = [.arp, .answered, .ended]
    static let savedInSchema2Layout = true
    static let severity = 2
    let portScanThreshold = 15
    let addressScanThreshold = 25
    /// Unanswered ARP requests for distinct addresses that make a sweep. Higher than the TCP threshold: a router
    /// asks for the unused addresses that outside scanners probe, a DHCP server checks for conflicts, hosts ask for
    /// peers that went away; a discovery sweep asks for most of a subnet (nmap -sn, arp-scan: 254 for a /24).
    let arpSweepThreshold = 64
    let window = Duration.seconds(300)
    /// Sources tracked at once in each table (one failure; more); the ones idle longest are forgotten beyond it.
    static let sourceCapacity = 65_536
    let scannerCapacity = ScanDetection.sourceCapacity

    struct ScannerState {
        var failedHosts: [IPAddress: Timestamp] = [:]
        var failedPorts: [IPAddress: [UInt16: Timestamp]] = [:]
        var last = Timestamp.zero
    }
    /// Sources with at least two failures in their window.
    var scanners: [IPAddress: ScannerState] = [:]
    /// Sources with one failure so far: which host and port (and, as the entry's time, when).
    struct FirstFailure {
        var host: IPAddress
        var port: UInt16
    }
    var firstFailures = ArrivalOrderTable<IPAddress, FirstFailure>(capacity: ScanDetection.sourceCapacity)
    /// Seeds the first-failure table's index only (nothing depends on its layout).
    let seed = UInt64.random(in: .min ... .max)
    /// ARP requests per requester: target -> time of the request, removed when the target replies.
    var arpRequests: [IPAddress: [IPAddress: Timestamp]] = [:]
    /// Packet time of the next sweep of sources whose failures are all older than the window. A failure older than
    /// the window can never count towards an alert, so forgetting it changes nothing; without the sweep every
    /// client that once had a connection refused would be remembered until the capacity forced it out, and memory
    /// would grow with the length of the input (6,500 sources after 10 million packets of ordinary traffic,
    /// 9,500 after 30 million).
    var nextSweep = Timestamp(nanoseconds: Int64.min)
    var callsSinceSweep = 0
    /// Windows dropped to stay within `scannerCapacity` while still open (run counters, not saved).
    var scannersForgotten: UInt64 = 0
    var firstFailuresForgotten: UInt64 = 0
    var arpRequestersForgotten: UInt64 = 0

    var counters: [(name: String, value: UInt64)] {
        [("scanWindowsForgotten", scannersForgotten), ("firstFailuresForgotten", firstFailuresForgotten),
         ("arpWindowsForgotten", arpRequestersForgotten)]
    }

    /// An ARP request or reply on the local segment.
    mutating func arp(_ context: ARPContext, ledger: inout AlertLedger) {
        let (sender, target, isReply, senderEntry, time) =
            (context.sender, context.target, context.isReply, context.senderEntry, context.time)
        if isReply {
            // `sender` answers whoever asked for it.
            arpRequests[target]?[sender] = nil
            return
        }
        guard sender != target else { return }  // gratuitous ARP announces, it does not look for anyone
        sweep(at: time)
        if arpRequests[sender] == nil {
            arpRequestersForgotten &+= UInt64(arpRequests.makeRoom(
                capacity: scannerCapacity, now: time, window: window, rank: { $0.count > 1 ? 1 : 0 },
                lastActivity: { $0.values.max() ?? .zero }))
        }
        var pending = arpRequests[sender] ?? [:]
        if let latest = pending.values.max(), time - latest > window { pending = [:] }
        record(target, at: time, in: &pending, threshold: arpSweepThreshold)
        arpRequests[sender] = pending
        guard pending.count >= arpSweepThreshold else { return }
        var alert = Alert(timestamp: time, rule: .hostScan, severity: Self.severity, message: "", source: sender,
                          host: AlertHost(sender, senderEntry))
        let who = senderEntry.map { "\($0.name) (\(sender))" } ?? "\(sender)"
        alert.message = "local host \(who) sent ARP requests for \(pending.count) addresses in \(formatDuration(window)) "
            + "that no host answered: host discovery"
        alert.reason = "arp-sweep"
        ledger.raise(alert, key: SuppressionKey(rule: .hostScan, source: sender))
    }

    mutating func flow(_ context: FlowContext, site: Site, mark: inout UInt8, ledger: inout AlertLedger) {
        let flow = context.flow
        let refused = context.event == .answered && flow.responderState == .reset
        guard context.event == .ended || refused, flow.ipProtocol == IPProtocol.tcp,
            flow.originatorHistory.contains(.syn), !flow.raised.contains(.established)
        else { return }
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
        var state: ScannerState
        if let existing = scanners[flow.originator] {
            // A window whose failures are all stale holds nothing that can count: start it again.
            state = time - existing.last > window ? ScannerState() : existing
        } else if let position = firstFailures.find(flow.originator, hash: flow.originator.hash(seed: seed)) {
            // The second failure: the source gets a window, holding its first failure as it was noted.
            let first = firstFailures[position]
            firstFailures.remove(at: position)
            scannersForgotten &+= UInt64(scanners.makeRoom(capacity: scannerCapacity, now: time, window: window) {
                $0.last
            })
            state = ScannerState(failedHosts: [first.value.host: first.time],
                                 failedPorts: [first.value.host: [first.value.port: first.time]], last: first.time)
        } else {
            // One failure reaches no threshold (15 ports, 25 hosts): noted compactly, nothing to judge yet.
            noteFirstFailure(of: flow.originator, FirstFailure(host: flow.responder, port: flow.responderPort),
                             at: time)
            return
        }
        state.last = time
        record(flow.responder, at: time, in: &state.failedHosts, threshold: addressScanThreshold)
        var ports = state.failedPorts[flow.responder] ?? [:]
        record(flow.responderPort, at: time, in: &ports, threshold: portScanThreshold)
        if state.failedPorts[flow.responder] == nil && state.failedPorts.count >= addressScanThreshold * 4 {
            state.failedPorts = state.failedPorts.filter { $0.value.values.contains { time - $0 <= window } }
        }
        if state.failedPorts[flow.responder] != nil || state.failedPorts.count < addressScanThreshold * 4 {
            state.failedPorts[flow.responder] = ports
        }
        scanners[flow.originator] = state

        let kind: String, count: Int
        if ports.count >= portScanThreshold {
            (kind, count) = ("port", ports.count)
        } else if state.failedHosts.count >= addressScanThreshold {
            (kind, count) = ("address", state.failedHosts.count)
        } else {
            return
        }
        let scanner = flow.originator
        let local = rule == .hostScan ? scanner : flow.responder
        let entry = rule == .hostScan ? context.originatorEntry : context.responderEntry
        var alert = Alert(timestamp: time, rule: rule, severity: Self.severity, message: "", source: scanner,
                          destination: kind == "port" ? flow.responder : nil, ipProtocol: IPProtocol.tcp,
                          host: AlertHost(local, entry))
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

    /// Forgets, once per window of packet time, the sources whose latest failure is older than the window.
    /// Also after `sourceCapacity` calls without a sweep, whatever the clock says: a capture whose timestamps jump to
    /// the representable end (2262) and back would otherwise put the next sweep out of reach for the rest of the
    /// run. A sweep walks at most the tables' capacity, so this costs O(1) per call amortised.
    mutating func sweep(at time: Timestamp) {
        callsSinceSweep &+= 1
        guard time >= nextSweep || callsSinceSweep >= ScanDetection.sourceCapacity else { return }
        callsSinceSweep = 0
        nextSweep = time + window
        scanners.removeStale(now: time, window: window) { $0.last }
        firstFailures.removeExpired(now: time, window: window)
        arpRequests.removeStale(now: time, window: window) { $0.values.max() ?? .zero }
    }

    /// Adds `key` to a window of failures, keeping the work per event bounded whatever the scanner does: entries
    /// older than the window are dropped only once the count reaches the threshold (before that, stale entries
    /// cannot make an alert), and past four times the threshold nothing more is added (the answer is known).
    /// Without these bounds a scan of every port would cost time quadratic in the number of probes.
    func record<Key: Hashable>(_ key: Key, at time: Timestamp, in failures: inout [Key: Timestamp], threshold: Int) {
        if failures.count >= threshold - 1 {
            failures = failures.filter { time - $0.value <= window }
        }
        if failures[key] != nil || failures.count < threshold * 4 { failures[key] = time }
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
            encode([first.value.host: first.time], into: &writer)
            writer.putCount(1)
            writer.put(first.value.host)
            writer.putCount(1)
            writer.put(first.value.port)
            writer.put(first.time)
        }
        for (source, state) in scanners.sorted(by: { $0.key < $1.key }) {
            writer.put(source)
            writer.put(state.last)
            encode(state.failedHosts, into: &writer)
            writer.putCount(state.failedPorts.count)
            for (host, ports) in state.failedPorts.sorted(by: { $0.key < $1.key }) {
                writer.put(host)
                writer.putCount(ports.count)
                for (port, time) in ports.sorted(by: { $0.key < $1.key }) {
                    writer.put(port)
                    writer.put(time)
                }
            }
        }
        writer.putCount(arpRequests.count)
        for (requester, targets) in arpRequests.sorted(by: { $0.key < $1.key }) {
            writer.put(requester)
            encode(targets, into: &writer)
        }
    }

    func encode(_ times: [IPAddress: Timestamp], into writer: inout StateWriter) {
        writer.putCount(times.count)
        for (address, time) in times.sorted(by: { $0.key < $1.key }) {
            writer.put(address)
            writer.put(time)
        }
    }

    func decodeTimes(from reader: inout StateReader) throws -> [IPAddress: Timestamp] {
        var times: [IPAddress: Timestamp] = [:]
        for _ in 0..<(try reader.count(minimumItemSize: 25)) { times[try reader.address()] = try reader.timestamp() }
        return times
    }

    mutating func restore(from reader: inout StateReader) throws {
        scanners = [:]
        firstFailures.removeAll()
        var firsts: [(source: IPAddress, first: FirstFailure, time: Timestamp)] = []
        for _ in 0..<(try reader.count(minimumItemSize: 33)) {
            let source = try reader.address()
            var state = ScannerState()
            state.last = try reader.timestamp()
            state.failedHosts = try decodeTimes(from: &reader)
            for _ in 0..<(try reader.count(minimumItemSize: 21)) {
                let host = try reader.address()
                var ports: [UInt16: Timestamp] = [:]
                for _ in 0..<(try reader.count(minimumItemSize: 10)) { ports[try reader.uint16()] = try reader.timestamp() }
                state.failedPorts[host] = ports
            }
            if state.failedHosts.count == 1, state.failedPorts.count == 1, let host = state.failedPorts.first,
                host.value.count == 1, let port = host.value.first, state.failedHosts[host.key] == port.value
            {
                firsts.append((source, FirstFailure(host: host.key, port: port.key), port.value))
            } else {
                scanners[source] = state
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
        arpRequests = [:]
        for _ in 0..<(try reader.count(minimumItemSize: 21)) {
            let requester = try reader.address()
            arpRequests[requester] = try decodeTimes(from: &reader)
        }
    }
}
