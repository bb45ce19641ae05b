// What the host table and the detections do when an attacker controls how many distinct keys they see: every
// per-source and per-host structure stays within its bound, forgets the flood's debris before real state, and a
// flow whose host was pushed out still raises its alerts.

@testable import Detection
import StateCoding
import FlowTracking
@testable import HostBaselines
import PacketDecoding
import Testing

@Suite("Bounds under floods")
struct BoundsTests {
    @Test("a host evicted while its flow is open is found again: the session stage is still raised")
    func evictedHostFoundAgain() throws {
        var caps = HostTableConfiguration()
        caps.localCapacity = 4
        caps.externalCapacity = 4
        var h = try Harness("local_networks: [10.0.0.0/8]", hosts: caps)
        let (client, server) = ("192.0.2.66", "10.0.1.1")
        h.feed([tcp(client, 40000, server, 3389, .syn), tcp(server, 3389, client, 40000, [.syn, .ack]),
                tcp(client, 40000, server, 3389, .ack)])
        // Outside hosts with a history of their own (two frames each) push the quiet client out of its side.
        for i in 0..<20 {
            h.feed([udp("198.51.100.\(i)", 5000, server, 53), udp("198.51.100.\(i)", 5000, server, 53)])
        }
        #expect(h.engine.hosts.find(ip(client)) == nil, "the client's record was evicted")
        h.feed([tcp(client, 40000, server, 3389, [.psh, .ack], payload: 30),
                tcp(server, 3389, client, 40000, [.psh, .ack], payload: 300)])
        #expect(h.alerts.map { "\($0.stage!) \($0.source)" } == ["open \(client)", "session \(client)"])
        #expect(h.engine.counters.hostsReattached == 1)
        #expect(h.engine.hosts.find(ip(client)) != nil)
    }

    @Test("a full side evicts one-frame hosts before hosts with a history, and named hosts last")
    func floodDebrisGoesFirst() throws {
        var caps = HostTableConfiguration()
        caps.localCapacity = 16
        caps.externalCapacity = 16
        var table = HostTable(configuration: caps)
        var time = start
        func send(_ reference: HostReference, _ frames: Int) {
            for _ in 0..<frames {
                table.accountPacket(reference, at: time, wireLength: 60, dormantAfter: .seconds(86_400),
                                    duringLearning: false)
            }
        }
        let named = table.findOrInsert(ip("192.0.2.200"), isLocal: false, at: time).0
        table[named].inventoryIndex = 0
        let real = (0..<8).map { table.findOrInsert(ip("192.0.2.\($0)"), isLocal: false, at: time).0 }
        for reference in real { send(reference, 5) }
        // Then 10,000 forged sources, one frame each and all more recent: least recently seen alone would have
        // evicted the real hosts first.
        for i in 0..<10_000 {
            time = time + .milliseconds(1)
            let (reference, _) = table.findOrInsert(IPAddress(ipv4: 0xC633_6400 &+ UInt32(i) << 8 | 1), isLocal: false,
                                                    at: time)
            send(reference, 1)
        }
        #expect(table.find(ip("192.0.2.200")) != nil)
        #expect((0..<8).allSatisfy { table.find(ip("192.0.2.\($0)")) != nil })
        #expect(table.counters.evictedExternal == 10_000 - 7)
        #expect(table.count == 16)
        // With nothing but hosts with a history left, the named one is still the last to go.
        for i in 0..<7 {
            let (reference, _) = table.findOrInsert(ip("203.0.113.\(i)"), isLocal: false, at: time)
            send(reference, 5)
        }
        for i in 0..<20 {
            time = time + .seconds(1)
            let (reference, _) = table.findOrInsert(ip("203.0.113.\(100 + i)"), isLocal: false, at: time)
            send(reference, 5)
        }
        #expect(table.find(ip("192.0.2.200")) != nil)
    }

    @Test("debris goes oldest first, and the order survives a save (and a version 1 layout without it)")
    func debrisOldestFirstAcrossSaves() throws {
        var caps = HostTableConfiguration()
        caps.localCapacity = 8
        caps.externalCapacity = 16
        func debris(_ i: Int) -> IPAddress { IPAddress(ipv4: 0xC633_6400 &+ UInt32(i)) }
        func add(_ i: Int, to table: inout HostTable) {
            let time = start + .milliseconds(Int64(i))
            let (reference, _) = table.findOrInsert(debris(i), isLocal: false, at: time)
            table.accountPacket(reference, at: time, wireLength: 60, dormantAfter: .seconds(86_400),
                                duringLearning: false)
        }
        func survivors(_ table: HostTable) -> [Int] { (0..<40).filter { table.find(debris($0)) != nil } }
        var whole = HostTable(configuration: caps)
        for i in 0..<20 { add(i, to: &whole) }
        #expect(survivors(whole) == Array(4..<20), "the four oldest went")

        // Saved and restored (into a table with another hash seed): the next evictions are the same.
        var writer = StateWriter()
        whole.encodeLayout(into: &writer)
        var restored = HostTable(configuration: caps)
        try restored.restore(layout: writer.bytes, hosts: whole.savedHosts, services: whole.services)
        // A version 1 layout (no queues): rebuilt from the debris by first seen.
        var old = StateWriter()
        old.putCount(whole.storage.count)
        for record in whole.storage { old.put(record.generation) }
        old.putCount(whole.free.count)
        for slot in whole.free { old.put(slot) }
        old.put(whole.random)
        var rebuilt = HostTable(configuration: caps)
        try rebuilt.restore(layout: old.bytes, hosts: whole.savedHosts, services: whole.services)
        for i in 20..<30 {
            add(i, to: &whole)
            add(i, to: &restored)
            add(i, to: &rebuilt)
        }
        #expect(survivors(whole) == Array(14..<30))
        #expect(survivors(restored) == survivors(whole))
        #expect(survivors(rebuilt) == survivors(whole))
        #expect(whole.counters.evictedExternal == 14)
    }

    @Test("a damaged newcomer queue (a free slot, the other side's host) is ignored, not followed")
    func damagedNewcomerQueue() throws {
        var caps = HostTableConfiguration()
        caps.localCapacity = 1
        caps.externalCapacity = 1
        // Three slots: an outside host in 0, a local host in 2, slot 1 free. The outside queue names the free slot
        // (with that slot's generation) and the local host; the local queue names the outside host.
        var layout = StateWriter()
        layout.putCount(3)
        for _ in 0..<3 { layout.put(UInt32(0)) }
        layout.putCount(1)
        layout.put(Int32(1))
        layout.put(UInt64(0x2545_F491_4F6C_DD1D))
        layout.putCount(2)
        layout.put(Int32(1))
        layout.put(UInt32(0))
        layout.put(Int32(2))
        layout.put(UInt32(0))
        layout.putCount(1)
        layout.put(Int32(0))
        layout.put(UInt32(0))
        let hosts = [SavedHost(slot: 0, generation: 0, record: HostRecord(address: ip("192.0.2.1"), isLocal: false,
                                                                            firstSeen: start)),
                     SavedHost(slot: 2, generation: 0, record: HostRecord(address: ip("10.0.0.1"), isLocal: true,
                                                                            firstSeen: start))]
        var table = HostTable(configuration: caps)
        try table.restore(layout: layout.bytes, hosts: hosts, services: [:])
        #expect(table.newcomers.allSatisfy { $0.count == 0 })
        // Room for a new host of each side is made from that side, by sampling; nothing hangs or drifts.
        _ = table.findOrInsert(ip("192.0.2.2"), isLocal: false, at: start)
        _ = table.findOrInsert(ip("10.0.0.2"), isLocal: true, at: start)
        #expect(table.find(ip("192.0.2.1")) == nil && table.find(ip("10.0.0.1")) == nil)
        #expect(table.find(ip("192.0.2.2")) != nil && table.find(ip("10.0.0.2")) != nil)
        #expect(table.count == 2 && table.counters.evictedExternal == 1 && table.counters.evictedLocal == 1)
    }

    @Test("first failed attempts are restored in time order, and swept even after a timestamp from 2262")
    func firstFailuresAcrossSavesAndClockJumps() throws {
        // Noted newest first (as a schema 1 file's dictionary order could have it): restored oldest first.
        var scrambled = ScanDetection()
        for minute in [3, 1, 2] {
            scrambled.noteFirstFailure(of: ip("198.51.100.\(minute)"), .init(host: ip("10.0.0.1"), port: 22),
                                       at: start + .seconds(Int64(minute) * 60))
        }
        var writer = StateWriter()
        scrambled.encode(into: &writer)
        var restored = ScanDetection()
        var reader = StateReader(writer.bytes)
        try restored.restore(from: &reader)
        #expect(restored.firstFailures.entries.map(\.key) == [1, 2, 3].map { ip("198.51.100.\($0)") })
        #expect(restored.firstFailuresForgotten == 0)

        // A packet stamped at the representable end puts the next sweep there; later calls at ordinary times still
        // sweep, after at most the tables' capacity of calls.
        var scans = ScanDetection()
        scans.sweep(at: Timestamp(nanoseconds: .max))
        scans.noteFirstFailure(of: ip("198.51.100.9"), .init(host: ip("10.0.0.1"), port: 22), at: start)
        for _ in 0..<ScanDetection.sourceCapacity { scans.sweep(at: start + .seconds(3600)) }
        #expect(scans.firstFailures.count == 0, "a failure an hour old was swept")
    }

    @Test("open incidents are bounded like suppression keys, and what was forgotten is counted")
    func incidentsBounded() {
        var configuration = AlertLedgerConfiguration()
        configuration.incidentCapacity = 100
        var ledger = AlertLedger(configuration: configuration)
        for i in 0..<1_000 {
            let host = IPAddress(ipv4: 0x0A00_0000 | UInt32(i))
            let alert = Alert(timestamp: start + .seconds(Int64(i)), rule: .hostScan, severity: 2, message: "",
                              source: host, host: AlertHost(address: host))
            ledger.raise(alert, key: SuppressionKey(rule: .hostScan, source: host))
        }
        #expect(ledger.raised == 1_000)
        #expect(ledger.incidents.count <= 100)
        #expect(ledger.incidentsForgotten > 0)
        #expect(ledger.incidents.count + Int(ledger.incidentsForgotten) == 1_000)
    }

    @Test("forged sources inside a range declared idle cannot grow the learned peers without bound")
    func idlePeersBounded() throws {
        var h = try Harness("""
            local_networks: [10.0.0.0/8]
            hosts: [{ address: 10.7.0.0/16, name: cameras, state: idle, allow: [ntp] }]
            learning: { period: 1h }
            """)
        for i in 0..<5_000 {
            h.feed([udp("10.7.\(i / 256).\(i % 256)", 123, "10.0.0.1", 123)], spacing: .microseconds(100))
        }
        #expect(h.engine.idle.learnedPeers.count == h.engine.idle.hostCapacity)
        #expect(h.engine.counter("idlePeersNotKept") == UInt64(5_000 - h.engine.idle.hostCapacity))
        // After learning, one camera reaching hundreds of new peers keeps at most `peersPerHost` of them.
        h.wait(.seconds(2 * 3600))
        for i in 0..<400 { h.feed([udp("10.7.0.1", 123, "198.18.\(i / 256).\(i % 256)", 123)]) }
        #expect(h.engine.idle.learnedPeers[ip("10.7.0.1")]?.count == h.engine.idle.peersPerHost)
    }

    @Test("a flood of forged ARP senders does not make the scan rule forget a host that is sweeping the segment")
    func sweepSurvivesARPFlood() throws {
        var h = try Harness("local_networks: [10.0.0.0/8]")
        for i in 1..<64 { h.feed([arp("10.0.0.5", asks: "10.0.1.\(i)")]) }  // 63: one short of a sweep
        for i in 0..<70_000 {
            h.feed([arp("10.\(128 + i / 65536).\((i / 256) % 256).\(i % 256)", asks: "10.0.0.1")],
                   spacing: .microseconds(500))
        }
        h.feed([arp("10.0.0.5", asks: "10.0.1.64")])
        #expect(h.engine.counter("arpWindowsForgotten") > 0, "the table did make room")
        #expect(h.engine.scans.arpRequests.count <= h.engine.scans.scannerCapacity)
        #expect(h.alerts.map { "\($0.rule.rawValue) \($0.reason ?? "")" } == ["host-scan arp-sweep"])
    }

    @Test("a flood of one-shot forged SYNs does not make the scan rule forget a scanner that paused")
    func pausedScannerSurvivesFlood() throws {
        var h = try Harness("local_networks: [10.0.0.0/8]")
        let scanner = "192.0.2.99", target = "10.0.0.9"
        func probe(_ port: UInt16) {
            h.feed([tcp(scanner, 50000, target, port, .syn), tcp(target, port, scanner, 50000, [.rst, .ack])])
        }
        for port in UInt16(1000)..<1014 { probe(port) }  // 14 refused ports: one short of a port scan
        // 70,000 forged sources, one SYN each, more recent than the scanner: more than the scanner table holds.
        for i in 0..<70_000 {
            let source = "198.\(18 + i / 65536).\((i / 256) % 256).\(i % 256)"
            h.feed([tcp(source, 40000, target, 22, .syn)], spacing: .microseconds(500))
        }
        h.wait(.seconds(31))  // their attempts expire and count as failures
        probe(1014)
        #expect(h.engine.counter("firstFailuresForgotten") > 0, "the table did make room")
        #expect(h.engine.counter("scanWindowsForgotten") == 0)
        #expect(h.engine.scans.firstFailures.count <= h.engine.scans.scannerCapacity)
        #expect(h.alerts.map(\.rule) == [.inboundScan])
        #expect(h.alerts.first?.source == ip(scanner))
    }
}
