// What the pipeline saw: packets, bytes, time span, and every packet that was not fully decoded, by reason.
// Malformed input is counted here, never logged per packet.

import PacketDecoding

public struct DecodeCounters: Sendable {
    public var packets: UInt64 = 0
    /// Bytes on the wire (`len`), summed.
    public var wireBytes: UInt64 = 0
    public var first: Timestamp?
    public var last: Timestamp?
    /// Packets whose timestamp is earlier than one already seen (clock steps, merged taps, reordering).
    public var outOfOrder: UInt64 = 0
    public var ipv4: UInt64 = 0
    public var ipv6: UInt64 = 0
    public var arp: UInt64 = 0
    /// IPv4 packets with a total length of 0 (segmentation offload) whose length came from the frame.
    public var ipLengthInferred: UInt64 = 0
    /// Per `StopReason.rawValue`.
    public var byStop = [UInt64](repeating: 0, count: StopReason.allCases.count)
    /// Per link type, packets of link types the decoder does not read.
    public var unsupportedLinkTypes: [Int32: UInt64] = [:]
    /// Where truncated packets were cut, per layer (`Layer.rawValue`).
    public var truncatedAt = [UInt64](repeating: 0, count: Layer.allCases.count)

    public init() {}

    @inline(__always)
    public mutating func count(_ summary: PacketSummary, at time: Timestamp, wireLength: Int) {
        packets &+= 1
        wireBytes &+= UInt64(wireLength)
        if let latest = last {
            if time < latest { outOfOrder &+= 1 } else { last = time }
        } else {
            first = time
            last = time
        }
        if let earliest = first, time < earliest { first = time }
        switch summary.network {
        case .ipv4: ipv4 &+= 1
        case .ipv6: ipv6 &+= 1
        case .arp: arp &+= 1
        case .none: break
        }
        if summary.ipLengthInferred { ipLengthInferred &+= 1 }
        byStop[Int(summary.stop.rawValue)] &+= 1
        if summary.stop == .truncated { truncatedAt[Int(summary.stopLocation.layer.rawValue)] &+= 1 }
        if summary.stop == .unsupportedLinkType { unsupportedLinkTypes[summary.linkType.rawValue, default: 0] &+= 1 }
    }

    public func count(_ reason: StopReason) -> UInt64 { byStop[Int(reason.rawValue)] }

    public var malformed: UInt64 { StopReason.allCases.filter(\.isMalformed).reduce(0) { $0 + count($1) } }
    public var skipped: UInt64 { StopReason.allCases.filter(\.isSkipped).reduce(0) { $0 + count($1) } }
}
