// Packet time is the analysis clock, so one packet stamped far in the future must not carry the clock with it: a
// single record stamped 2106 (a 32-bit seconds field of all ones, a corrupt record, a NIC's broken hardware clock)
// would expire every flow, put the resume point of the state file in 2106 (the next replay skipping everything) and
// stop the save schedule. Zeek and Suricata take packet time as it comes; IdleWatch keeps a state file across runs,
// so it screens it.
//
// Replay: a packet more than `aheadLimit` (a day) ahead of the clock (the latest packet time analysed) is held,
// and so is every packet after it, until its time is settled by the packets that follow:
// - contradicted: one of the next `agreeing - 1` packets is more than `aheadLimit` earlier than it (the input went
//   back to where it was): the packet is an outlier, counted and not analysed; the clock does not move;
// - confirmed: the next `agreeing - 1` packets (3) are none of them more than `aheadLimit` earlier: the input
//   jumped forward (a second file a week later, a clock stepped by NTP, captures of a few hours each day): it is
//   analysed, and so the clock follows;
// - at the end of the input, a held packet that was not contradicted is analysed if any packet followed it; the
//   last packet of the input, more than `aheadLimit` ahead and followed by nothing, is an outlier (nothing
//   confirms it, and believing it would move the state's resume point to its time).
// Without a clock yet (the first packets of a replay without a state), the first packet is held the same way,
// so a first packet stamped 2106 is found out by the ones after it. Held packets are analysed in their order, so
// the output is the same as without the guard whenever nothing is an outlier, and a replay stays deterministic:
// the decision depends on the packets only.
//
// Why a day: far beyond any reordering in a capture (milliseconds; seconds between the interfaces of a pcapng
// file) and beyond an interface stamped in local time instead of UTC (14 hours at most), so such traffic is never
// held; longer gaps are legitimate (a capture a day, a second file a week later) and are held only for the next 3
// packets, which confirm them. Corrupt stamps are typically years away: over the 767 corpus captures this rule
// finds 80 outliers with an hour, 74 with a day, 72 with a week (nearly all in the fuzzed captures of tcpdump's
// tests). A stray stamp less than a day ahead is believed: it costs at most a day of the next replay's packets,
// skipped as already analysed.
//
// Live: the kernel stamps packets with the wall clock as they arrive, so a packet more than `aheadLimit` ahead of
// the wall clock (read once per batch) is an outlier at once, counted and not analysed; a live sensor holds
// nothing, and saves on the monotonic clock (LiveSensor.swift), whatever the packet times say. Between packets the
// sensor clock moves packet time on (SensorClock.swift): from a packet this screen believed, at the monotonic
// clock's rate, so it cannot carry the clock ahead by itself.

import PacketDecoding

public enum PacketClock {
    /// How far ahead of the clock a packet's time is believed without confirmation.
    public static let aheadLimit = Duration.seconds(86_400)
    /// `aheadLimit` for messages.
    public static let aheadLimitText = "a day"
    /// A far-ahead packet is confirmed by this many packets in all (itself and the next three).
    public static let agreeing = 4
}

struct HeldPacket {
    var summary: PacketSummary
    var time: Timestamp
    var wireLength: Int
}

extension Pipeline {
    /// Live: the packet-time guard follows the wall clock (see above); call once per batch with the wall clock.
    public mutating func guardWithWallClock(now: Timestamp) {
        guardsWithWallClock = true
        aheadLimit = now + PacketClock.aheadLimit
    }

    /// A packet beyond `aheadLimit`, or any packet while others are held.
    mutating func screen(_ summary: PacketSummary, at time: Timestamp, wireLength: Int) {
        if guardsWithWallClock {
            countOutlier(time)
            return
        }
        held.append(HeldPacket(summary: summary, time: time, wireLength: wireLength))
        settleHeldPackets(atEnd: false)
    }

    /// Analyses or drops held packets, oldest first, as far as the packets that followed them decide.
    mutating func settleHeldPackets(atEnd: Bool) {
        while let head = held.first {
            if head.time <= aheadLimit {
                // In step with the clock (which may have moved since it was held).
                held.removeFirst()
                analyseInStep(head.summary, at: head.time, wireLength: head.wireLength)
                continue
            }
            let earliestBelieved = head.time + Duration(nanoseconds: -PacketClock.aheadLimit.nanoseconds)
            let followers = held.count - 1
            if held.dropFirst().contains(where: { $0.time < earliestBelieved }) {
                held.removeFirst()
                countOutlier(head.time)
            } else if followers >= PacketClock.agreeing - 1 || atEnd && followers > 0 {
                held.removeFirst()
                analyseInStep(head.summary, at: head.time, wireLength: head.wireLength)
            } else if atEnd && clock.nanoseconds == Int64.min {
                // The only packet of the input, or the last of a few that agree: nothing to compare it with.
                held.removeFirst()
                analyseInStep(head.summary, at: head.time, wireLength: head.wireLength)
            } else if atEnd {
                held.removeFirst()
                countOutlier(head.time)
            } else {
                return  // wait for the packets after it
            }
        }
    }

    mutating func countOutlier(_ time: Timestamp) {
        timeOutliers &+= 1
        if firstTimeOutlier == nil { firstTimeOutlier = time }
    }
}
