// The shared bounded window: each bound forgets (or refuses) what it should, counted, and leaves alone what it must
// not touch (a benign control beside each bound); stale state goes first and is swept on a clock that misbehaves;
// the saved form round-trips in sorted order; and the same input forgets the same entries whatever the order keys
// were first seen in.

import BoundedTables
import PacketDecoding
import StateCoding
import Testing

@Suite("Bounded window")
struct BoundedWindowTests {
    let start = Timestamp(seconds: 1_000_000)
    let window = Duration.seconds(300)

    func at(_ seconds: Int64) -> Timestamp { start + .seconds(seconds) }

    func members<M>(_ window: WindowMembers<M>) -> [M] { window.oldestFirst.map(\.member) }

    @Test("members past the bound: the oldest is forgotten and counted; a member seen again displaces nothing")
    func membersForgetOldest() {
        var table = BoundedWindow<UInt32, WindowMembers<UInt16>>(window: window, capacity: 10, memberCapacity: 3)
        for (i, port) in [UInt16(1), 2, 3].enumerated() { table.observe(port, for: 7, at: at(Int64(i))) }
        // Benign: port 1 again at the bound is a sighting, not a new member.
        let step1 = table.observe(1, for: 7, at: at(10))?.outcome
        #expect(step1 == .seenAgain)
        #expect(members(table[7]!) == [2, 3, 1])
        #expect(table.counters.membersForgotten == 0)
        // A fourth distinct port: the oldest sighting (2) goes.
        let step2 = table.observe(4, for: 7, at: at(11))?.outcome
        #expect(step2 == .addedForgettingOldest)
        #expect(members(table[7]!) == [3, 1, 4])
        #expect(table.counters.membersForgotten == 1)
    }

    @Test("members past the bound with refuseNew: the new one is refused and counted; the held ones still move on")
    func membersRefuseNew() {
        var table = BoundedWindow<UInt32, WindowMembers<UInt16>>(
            window: window, capacity: 10, memberCapacity: 2, membersWhenFull: .refuseNew)
        table.observe(1, for: 7, at: at(0))
        table.observe(2, for: 7, at: at(1))
        let step3 = table.observe(3, for: 7, at: at(2))?.outcome
        #expect(step3 == .refused)
        #expect(table.counters.membersRefused == 1)
        let step4 = table.observe(1, for: 7, at: at(3))?.outcome
        #expect(step4 == .seenAgain)
        #expect(table[7]!.time(of: 1) == at(3))
        #expect(members(table[7]!) == [2, 1] && table.counters.membersRefused == 1)
    }

    @Test("members older than the window go before any bound is applied, and are not counted as forgotten")
    func staleMembersFirst() {
        var table = BoundedWindow<UInt32, WindowMembers<UInt16>>(window: window, capacity: 10, memberCapacity: 3,
                                                                 membersWhenFull: .refuseNew)
        table.observe(1, for: 7, at: at(0))
        table.observe(2, for: 7, at: at(200))
        table.observe(3, for: 7, at: at(250))
        // At 301 s port 1 is 301 s old: past the window. Port 4 takes its place, nothing refused.
        let step5 = table.observe(4, for: 7, at: at(301))?.outcome
        #expect(step5 == .added)
        #expect(members(table[7]!) == [2, 3, 4])
        #expect(table.counters.membersRefused == 0 && table.counters.membersForgotten == 0)
        // Exactly the window old still counts (the detections' `> window`).
        let step6 = table.observe(5, for: 7, at: at(500))?.outcome
        #expect(step6 == .refused)
    }

    @Test("keys past the bound: stale keys go first uncounted, then half of the rest, least recently active first")
    func keysForgetOldest() {
        var table = BoundedWindow<UInt32, WindowMembers<UInt16>>(window: window, capacity: 4)
        // Benign: four stale keys make room for a fifth without anything counted as forgotten.
        for key in UInt32(1)...4 { table.observe(80, for: key, at: at(Int64(key))) }
        table.observe(80, for: 5, at: at(1_000))
        #expect(table.sorted.map(\.key) == [5])
        #expect(table.counters.forgotten == 0 && table.counters.swept == 4)
        // Four live keys (5 at 1000 s, then 6, 7, 8): a ninth forgets the two least recently active.
        for key in UInt32(6)...8 { table.observe(80, for: key, at: at(1_000 + Int64(key))) }
        table.observe(80, for: 5, at: at(1_020))  // 5 is now the most recent
        table.observe(80, for: 9, at: at(1_030))
        #expect(table.sorted.map(\.key) == [5, 8, 9])
        #expect(table.counters.forgotten == 2)
    }

    @Test("a flood of one-member keys is forgotten before a key collecting many members, however old")
    func singletonsFirst() {
        var table = BoundedWindow<UInt32, WindowMembers<UInt32>>(window: window, capacity: 100,
                                                                 forgetSingletonsFirst: true)
        for target in UInt32(1)...50 { table.observe(target, for: 0, at: at(0)) }  // sweeping, and the oldest
        for forged in UInt32(1)...200 { table.observe(1, for: 1_000 + forged, at: at(Int64(forged))) }
        #expect(table[0]?.count == 50, "the sweeper survived")
        #expect(table.counters.forgotten > 0 && table.count <= 100)
        // Control: without the ranking, the oldest key (the sweeper) is the first to go.
        var plain = BoundedWindow<UInt32, WindowMembers<UInt32>>(window: window, capacity: 100)
        for target in UInt32(1)...50 { plain.observe(target, for: 0, at: at(0)) }
        for forged in UInt32(1)...200 { plain.observe(1, for: 1_000 + forged, at: at(Int64(forged))) }
        #expect(plain[0] == nil)
    }

    @Test("keys past the bound with refuseNew and no window: the new key is refused, learned keys stay and grow")
    func keysRefuseNew() {
        var table = BoundedWindow<UInt32, WindowMembers<UInt32>>(window: nil, capacity: 2, whenFull: .refuseNew)
        table.observe(1, for: 1, at: at(0))
        table.observe(1, for: 2, at: at(0))
        let step7 = table.observe(1, for: 3, at: at(1_000_000))
        #expect(step7 == nil)
        #expect(table.counters.refused == 1 && table.count == 2)
        // Benign: a held key still takes members, and nothing goes stale without a window, however late.
        let step8 = table.observe(2, for: 1, at: at(9_000_000))?.members.count
        #expect(step8 == 2)
        let step9 = table.sweep(at: at(9_000_000))
        #expect(step9 == false)
        #expect(table.count == 2 && table.counters.swept == 0)
    }

    @Test("a key whose window closed starts again empty when seen (counted as restarted, not forgotten)")
    func staleKeyRestarts() {
        var table = BoundedWindow<UInt32, WindowMembers<UInt16>>(window: window, capacity: 10)
        for port in UInt16(1)...5 { table.observe(port, for: 7, at: at(0)) }
        let step10 = table.observe(9, for: 7, at: at(100))?.members.count
        #expect(step10 == 6, "benign: inside the window")
        let step11 = table.observe(10, for: 7, at: at(401))?.members.count
        #expect(step11 == 1)
        #expect(table.counters.restarted == 1 && table.counters.forgotten == 0)
    }

    @Test("the sweep drops stale keys once per window of packet time, and still sweeps after a clock from 2262")
    func sweep() {
        var table = BoundedWindow<UInt32, WindowMembers<UInt16>>(window: window, capacity: 1_000)
        table.observe(1, for: 1, at: at(0))
        table.observe(1, for: 2, at: at(250))
        let first = table.sweep(at: at(0))  // the first call sweeps, and sets the next sweep a window later
        #expect(first)
        let step12 = table.sweep(at: at(299))
        #expect(step12 == false)
        let step13 = table.sweep(at: at(301))
        #expect(step13)
        #expect(table.sorted.map(\.key) == [2], "benign: key 2 is inside the window")
        #expect(table.counters.swept == 1)
        // A packet stamped at the representable end puts the next sweep out of reach; `capacity` calls later the
        // sweep runs anyway.
        let step14 = table.sweep(at: Timestamp(nanoseconds: .max))
        #expect(step14)
        var swept = false
        for _ in 0..<1_000 where table.sweep(at: at(10_000)) { swept = true }
        #expect(swept && table.isEmpty)
    }

    @Test("occurrences are counted, not deduplicated, within their bound, oldest forgotten first")
    func occurrences() {
        var table = BoundedWindow<UInt32, WindowMembers<Occurrence>>(window: window, capacity: 10, memberCapacity: 4)
        for second in Int64(0)..<6 { table.occur(Occurrence(), for: 7, at: at(second)) }
        #expect(table[7]!.oldestFirst.map(\.time) == (2..<6).map { at($0) })
        #expect(table.counters.membersForgotten == 2)
        let step15 = table.occur(Occurrence(), for: 7, at: at(303))?.count
        #expect(step15 == 4, "the session at 2 s went stale (301 s old); the one at 3 s is exactly the window old")
    }

    @Test("sightings stay oldest first when an event comes in out of time order")
    func outOfOrder() {
        var members = WindowMembers<UInt16>()
        for (port, second) in [(UInt16(1), Int64(10)), (2, 30), (3, 20), (4, 5)] {
            members.observe(port, at: at(second), window: window, capacity: 10, whenFull: .forgetOldest)
        }
        #expect(members.oldestFirst.map(\.member) == [4, 1, 3, 2])
        #expect(members.lastActive == at(30))
    }

    func encoded(_ table: BoundedWindow<UInt32, WindowMembers<UInt16>>) -> [UInt8] {
        var writer = StateWriter()
        table.encode(into: &writer) { key, ports, writer in
            writer.put(key)
            ports.encode(into: &writer) { sighting, writer in
                writer.put(sighting.member)
                writer.put(sighting.time)
            }
        }
        return writer.bytes
    }

    func decoded(_ bytes: [UInt8]) throws -> BoundedWindow<UInt32, WindowMembers<UInt16>> {
        var table = BoundedWindow<UInt32, WindowMembers<UInt16>>(window: window, capacity: 100)
        var reader = StateReader(bytes)
        try table.restore(from: &reader, minimumItemSize: 8) { reader in
            (try reader.uint32(), try WindowMembers.decode(from: &reader, minimumItemSize: 10, distinct: true) {
                .init(member: try $0.uint16(), time: try $0.timestamp())
            })
        }
        #expect(reader.isAtEnd)
        return table
    }

    @Test("the saved form is in key and member order, round-trips, and a corrupt count is an error, not a loop")
    func encodeRestore() throws {
        var forward = BoundedWindow<UInt32, WindowMembers<UInt16>>(window: window, capacity: 100)
        var backward = forward
        var observations: [(key: UInt32, port: UInt16, time: Timestamp)] = []
        for i in 0..<40 { observations.append((UInt32(i % 7), UInt16((i * 37) % 11), at(Int64(i)))) }
        for o in observations { forward.observe(o.port, for: o.key, at: o.time) }
        // The same sightings, keys first seen in another order: the same saved bytes.
        for key in UInt32(0)..<7 {
            for o in observations where o.key == 6 - key { backward.observe(o.port, for: o.key, at: o.time) }
        }
        let bytes = encoded(forward)
        #expect(bytes == encoded(backward))
        let restored = try decoded(bytes)
        #expect(encoded(restored) == bytes)
        #expect(restored.sorted.map(\.key) == Array(0..<7))
        #expect(restored[3]!.oldestFirst.map(\.time) == forward[3]!.oldestFirst.map(\.time))
        var corrupt = bytes
        corrupt[0] = 0xFF
        corrupt[1] = 0xFF
        #expect(throws: StateDecodingError.self) { try decoded(corrupt) }
    }

    @Test("the same input forgets the same keys, whatever order keys with equal activity were first seen in")
    func determinism() {
        func survivors(_ order: [UInt32]) -> [UInt32] {
            var table = BoundedWindow<UInt32, WindowMembers<UInt16>>(window: window, capacity: 8)
            for key in order { table.observe(1, for: key, at: at(0)) }  // all equally recent: ties go by key
            table.observe(1, for: 100, at: at(1))
            return table.sorted.map(\.key)
        }
        let keys = Array(UInt32(1)...8)
        #expect(survivors(keys) == [5, 6, 7, 8, 100])
        #expect(survivors(keys.reversed()) == survivors(keys))
        #expect(survivors([3, 8, 1, 6, 2, 7, 4, 5]) == survivors(keys))
    }
}
