// HashIndex: the open-addressed index under the flow and host tables, checked against a dictionary through long
// random sequences of inserts and removals with deliberately colliding hashes (long probe runs that wrap around
// the end of the slot array, where backward-shift deletion is easiest to get wrong).

import Testing
@testable import BoundedTables
import PacketDecoding

@Suite struct HashIndexTests {
    /// Hashes that collide on purpose: `spread` distinct home slots, all in the last few slots of the array.
    static func weakHash(_ key: Int, spread: Int, slots: Int) -> UInt64 {
        UInt64(slots - 1 - key % spread) | UInt64(key) << 40
    }

    @Test(arguments: [1, 3, 7, 64])
    func matchesADictionary(spread: Int) {
        var index = HashIndex(capacity: 32)
        let slots = 64
        var model: [Int: Int32] = [:]  // key -> entry
        var generator = SystemRandomNumberGenerator()
        var nextEntry: Int32 = 0
        for step in 0..<20_000 {
            let key = Int.random(in: 0..<48, using: &generator)
            let hash = HashIndexTests.weakHash(key, spread: spread, slots: slots)
            let keys = model  // what the match closure compares against
            let found = index.find(hash: hash) { entry in keys[key] == entry }
            #expect(found == (model[key] ?? -1), "step \(step): key \(key)")
            if let entry = model[key], Bool.random(using: &generator) || model.count >= 32 {
                index.remove(hash: hash, entry: entry)
                model[key] = nil
            } else if model[key] == nil && model.count < 32 {
                index.insert(hash: hash, entry: nextEntry)
                model[key] = nextEntry
                nextEntry += 1
            }
            #expect(index.count == model.count)
        }
        // Every remaining key is still found, and the index lists exactly the model's entries.
        for (key, entry) in model {
            let hash = HashIndexTests.weakHash(key, spread: spread, slots: slots)
            #expect(index.find(hash: hash) { $0 == entry } == entry)
        }
        #expect(index.entries.sorted() == model.values.sorted())
    }

    /// The index doubles while entries arrive (starting at 1,024 slots), keeps every entry findable across each
    /// doubling, including probe runs that wrapped around the end before it, and stops at its capacity's size.
    @Test func growsWithItsEntriesUpToItsCapacity() {
        var index = HashIndex(capacity: 5_000)
        #expect(index.size == 1_024)
        var model: [Int: Int32] = [:]
        // Keys 0..<5000; a third of them share home slots at the top of every size (wrapping runs).
        func hash(_ key: Int) -> UInt64 {
            key % 3 == 0 ? UInt64(0xffff_fff8 | (key % 7)) | UInt64(key) << 40 : HashIndex.mix(UInt64(key))
        }
        var sizes: [Int] = []
        for key in 0..<5_000 {
            index.insert(hash: hash(key), entry: Int32(key))
            model[key] = Int32(key)
            if sizes.last != index.size { sizes.append(index.size) }
            if key % 3 == 1 {  // remove some as we go, so growth meets holes left by backward shifts
                let gone = key / 2
                if let entry = model.removeValue(forKey: gone) { index.remove(hash: hash(gone), entry: entry) }
            }
        }
        #expect(sizes == [1_024, 2_048, 4_096, 8_192, 16_384].filter { $0 <= index.size })
        #expect(index.size <= 16_384, "never beyond twice the next power of two of the capacity")
        #expect(index.count == model.count)
        for key in 0..<5_000 {
            let found = index.find(hash: hash(key)) { $0 == Int32(key) }
            #expect(found == (model[key] ?? -1), "key \(key)")
        }
        #expect(index.entries.sorted() == model.values.sorted())
    }

    @Test func addressHashesDependOnFamilyAndSeed() {
        let v4 = IPAddress(ipv4: 0x0A00_0001)
        let v6 = IPAddress(ipv6High: 0, low: 0x0A00_0001)
        #expect(v4.hash(seed: 1) != v6.hash(seed: 1))
        #expect(v4.hash(seed: 1) != v4.hash(seed: 2))
        #expect(v4.hash(seed: 7) == IPAddress(ipv4: 0x0A00_0001).hash(seed: 7))
    }
}
