// Activity that fades with packet time: exponentially decayed sums at three time scales, so "how busy is this
// host usually" and "how busy is it right now" are both a few numbers, whatever the length of the input.
//
// Counters are added raw on the hot path and folded into the decayed sums only when read or when a flow starts,
// so no exp() runs per packet.

import Foundation
import PacketDecoding

public struct DecayedActivity: Sendable {
    /// Time constants in seconds: one minute, one hour, one day.
    public static let scales: [Double] = [60, 3600, 86_400]

    /// One decayed sum per time scale. Plain fields, not arrays: host records stay free of reference counting, so
    /// the per-packet path never retains, copies or allocates.
    public struct Sums: Sendable, Equatable {
        public var minute = 0.0, hour = 0.0, day = 0.0

        public subscript(scale: Int) -> Double {
            switch scale {
            case 0: minute
            case 1: hour
            default: day
            }
        }

        /// Multiplies each sum by its scale's decay factor (see `fold`).
        mutating func decay(_ factors: Sums) {
            minute *= factors.minute
            hour *= factors.hour
            day *= factors.day
        }

        mutating func add(_ value: Double) {
            minute += value
            hour += value
            day += value
        }
    }

    // The pending counts come first: each packet adds to them, so they share a cache line with the host record's
    // per-packet fields (see HostRecord); the sums are touched only when the activity is folded.
    var pendingPackets: UInt64 = 0
    var pendingBytes: UInt64 = 0
    var pendingFlows: UInt64 = 0
    var foldedAt = Timestamp(nanoseconds: Int64.min)
    /// Exponentially decayed sums of packets, bytes and flows (events per time constant at steady state).
    public internal(set) var packets = Sums()
    public internal(set) var bytes = Sums()
    public internal(set) var flows = Sums()

    public init() {}

    @inline(__always)
    public mutating func add(packets: UInt64 = 0, bytes: UInt64 = 0, flows: UInt64 = 0) {
        pendingPackets &+= packets
        pendingBytes &+= bytes
        pendingFlows &+= flows
    }

    /// Decays the sums to `time` and adds what came in since the last fold.
    public mutating func fold(at time: Timestamp) {
        if foldedAt.nanoseconds != Int64.min, time > foldedAt {
            // The three factors serve all three sums: three exp() per fold, not nine.
            let elapsed = (time - foldedAt).seconds
            let factors = Sums(minute: exp(-elapsed / 60), hour: exp(-elapsed / 3600), day: exp(-elapsed / 86_400))
            packets.decay(factors)
            bytes.decay(factors)
            flows.decay(factors)
        }
        if time > foldedAt { foldedAt = time }
        packets.add(Double(pendingPackets))
        bytes.add(Double(pendingBytes))
        flows.add(Double(pendingFlows))
        pendingPackets = 0
        pendingBytes = 0
        pendingFlows = 0
    }

    /// Packets per second at scale `i` (0: last minute, 1: last hour, 2: last day), as of the last fold.
    public func packetRate(_ i: Int) -> Double { packets[i] / DecayedActivity.scales[i] }
}
