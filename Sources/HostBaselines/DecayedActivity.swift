// Activity that fades with packet time: exponentially decayed sums at three time scales, so "how busy is this
// host usually" and "how busy is it right now" are both a few numbers, whatever the length of the input.
//
// Counters are added raw on the hot path and folded into the decayed sums only when read or when a flow starts,
// so no exp() runs per packet.

import Foundation
import PacketDecoding

public struct DecayedActivity: Sendable {
    /// Time constants: one minute, one hour, one day.
    public static let scales: [Double] = [60, 3600, 86_400]

    /// Per scale: packets, bytes, flows, each an exponentially decayed sum (events per time constant at steady state).
    public private(set) var packets: [Double] = [0, 0, 0]
    public private(set) var bytes: [Double] = [0, 0, 0]
    public private(set) var flows: [Double] = [0, 0, 0]
    var pendingPackets: UInt64 = 0
    var pendingBytes: UInt64 = 0
    var pendingFlows: UInt64 = 0
    var foldedAt = Timestamp(nanoseconds: Int64.min)

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
            let elapsed = (time - foldedAt).seconds
            for i in 0..<3 {
                let keep = exp(-elapsed / DecayedActivity.scales[i])
                packets[i] *= keep
                bytes[i] *= keep
                flows[i] *= keep
            }
        }
        if time > foldedAt { foldedAt = time }
        for i in 0..<3 {
            packets[i] += Double(pendingPackets)
            bytes[i] += Double(pendingBytes)
            flows[i] += Double(pendingFlows)
        }
        pendingPackets = 0
        pendingBytes = 0
        pendingFlows = 0
    }

    /// Packets per second at scale `i` (0: last minute, 1: last hour, 2: last day), as of the last fold.
    public func packetRate(_ i: Int) -> Double { packets[i] / DecayedActivity.scales[i] }
}
