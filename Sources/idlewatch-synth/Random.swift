// A seeded generator, so a seed and a packet count name one capture byte for byte on every machine and Swift
// version (the standard library's generators are neither seedable nor stable across releases).

import Glibc

/// xoshiro256** (Blackman and Vigna), seeded through SplitMix64 as its authors recommend.
struct SeededGenerator: RandomNumberGenerator {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9e37_79b9_7f4a_7c15
            var z = x
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
        s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
    }

    mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in 0..<bound (bound > 0), by multiply-shift: no division, negligible bias for these bounds.
    mutating func below(_ bound: Int) -> Int {
        Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    mutating func chance(_ probability: Double) -> Bool { unit() < probability }

    /// Exponentially distributed with the given mean (Poisson arrivals, think times).
    mutating func exponential(mean: Double) -> Double { -mean * log1p(-unit()) }

    /// Geometric count >= 1 with the given mean.
    mutating func count(mean: Double) -> Int {
        guard mean > 1 else { return 1 }
        return 1 + Int(exponential(mean: mean - 1).rounded(.down))
    }

    /// An index in 0..<n where low indices are much more popular (popularity roughly 1/rank, as for web servers and
    /// DNS names): the inverse of a log-uniform draw.
    mutating func popular(_ n: Int) -> Int {
        min(n - 1, Int(exp(unit() * log(Double(n) + 1))) - 1)
    }
}
