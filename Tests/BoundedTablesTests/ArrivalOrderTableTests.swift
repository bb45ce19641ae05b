// The bounded arrival-order map against a plain array model: random adds, removals by key and expiry, through many
// wraps of the ring and growths of its index, under two hash seeds (one of them making every key collide).

import BoundedTables
import PacketDecoding
import Testing

@Suite("Arrival-order table")
struct ArrivalOrderTableTests {
    @Test("adds, removals and expiry match a model; the oldest goes when full; holes are reclaimed",
          arguments: [UInt64(0x1d1e), 0])
    func againstModel(seedBits: UInt64) {
        let capacity = 37
        var table = ArrivalOrderTable<UInt32, Int>(capacity: capacity)
        // The model is the ring itself: entries in arrival order with holes, trimmed from the front.
        var ring: [(key: UInt32, value: Int, time: Timestamp, live: Bool)] = []
        func hash(_ key: UInt32) -> UInt64 { seedBits == 0 ? 7 : HashIndex.mix(seedBits ^ UInt64(key)) }
        func trimHoles() {
            while let last = ring.last, !last.live { ring.removeLast() }
            while let first = ring.first, !first.live { ring.removeFirst() }
        }
        var random: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            random ^= random << 13
            random ^= random >> 7
            random ^= random << 17
            return Int(random % UInt64(bound))
        }
        var time = Timestamp(seconds: 1_000)
        var forgottenLive = 0
        for step in 0..<20_000 {
            time = time + .milliseconds(Int64(next(20)))
            let key = UInt32(next(120))
            let found = table.find(key, hash: hash(key))
            let modelIndex = ring.firstIndex { $0.live && $0.key == key }
            #expect((found != nil) == (modelIndex != nil), "step \(step)")
            if let found, let modelIndex {
                #expect(table[found].value == ring[modelIndex].value && table[found].time == ring[modelIndex].time)
            }
            switch next(10) {
            case 0..<6 where found == nil:
                let forgotten = table.append(key, hash: hash(key), value: step, at: time)
                if ring.count == capacity {
                    let oldest = ring.removeFirst()
                    #expect((forgotten?.key) == (oldest.live ? oldest.key : nil), "step \(step)")
                    if forgotten != nil { forgottenLive += 1 }
                } else {
                    #expect(forgotten == nil)
                }
                ring.append((key, step, time, true))
            case 6..<9 where found != nil:
                table.remove(at: found!)
                ring[modelIndex!].live = false
                trimHoles()
            case 9:
                let removed = table.removeExpired(now: time, window: .milliseconds(400))
                var expected = 0
                while let first = ring.first, !first.live || time - first.time > .milliseconds(400) {
                    if first.live { expected += 1 }
                    ring.removeFirst()
                }
                #expect(removed == expected)
            default:
                break
            }
            #expect(table.count == ring.filter(\.live).count, "step \(step)")
        }
        #expect(table.entries.map(\.key) == ring.filter(\.live).map(\.key))
        #expect(forgottenLive > 100, "the table should have been full often")
    }
}
