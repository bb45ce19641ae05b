// The capture-source seam: what the one reader loop (Sensor/PacketReader.swift) needs from a source of packets, a
// live interface (LiveSource) or saved captures (ReplaySource), and what it may rely on. Adding a source (AF_PACKET,
// a tunnelled mirror) is one file conforming to `PacketSource` plus the line where `live` or `replay` chooses it;
// the reader thread, the batches, the statistics, the sensor clock and the stop then work for it as for the others.
//
// The contract a source keeps:
// - Packets: `deliver` hands each packet to the receiver's `handle`, in the order the analysis must see them (a
//   replay of several files merges them by time first), and stops at the end of the input, when the receiver says
//   `isDone`, or soon after `breakLoop()`. A packet's bytes are borrowed: valid only during the call (libpcap's rule,
//   CapturedPacket.swift); the receiver copies what it keeps.
// - Timestamps: as the capture gave them, in nanoseconds; a source does not reorder, correct or screen them (the
//   pipeline's packet-time guard does, PacketClock.swift), so a file replayed gives the times it holds.
// - Link type: each packet carries its own (a pcapng file may mix interfaces); the decoder reads it per packet.
// - End of input: `deliver` returns. Errors: one that ends the input (an interface that went away) is thrown after
//   the packets before it were delivered; a source that can go on past one (the next file of a replay) keeps it
//   for its caller (`ReplaySource.errors`) and goes on. Bad input is an error with the source's name and libpcap's
//   text, never a crash.
// - Quiet periods: when nothing has come for a while, the source calls `quiet` (from the read that waits), within
//   `quietAfter` of the last packet and again while the silence lasts; the reader then hands over the packets it
//   holds and a live sensor's clock goes on (SensorClock.swift). A source that never waits (a regular file) never
//   calls it and has no `quietAfter`.
// - Statistics: optional. A source that has kernel counters (received, dropped) gives them in
//   `captureStatistics()`, called on the reading thread between packets; the others keep the default, nil.
// - Stopping: `breakLoop()` may be called from any thread (or a signal handler): it sets an atomic flag (`StopFlag`)
//   that `deliver` checks between packets, and wakes a read that waits (live: pcap_breakloop). Packets delivered
//   before the stop stay delivered; none is delivered in part.

import Glibc
import PacketDecoding
import Synchronization

/// A source of captured packets: a live interface, saved capture files, and the sources to come. See the contract
/// at the top of this file.
public protocol PacketSource: AnyObject {
    /// What the source reads, for messages: an interface's name, a file's path.
    var name: String { get }
    /// The longest the source lets a silence last before it calls `quiet` (live: the read timeout); nil for a
    /// source that never waits.
    var quietAfter: Duration? { get }
    /// Bytes read so far and in all, for a progress line; nil where there is no end to measure (live).
    var progress: (done: Int64, total: Int64)? { get }

    /// Hands every packet to `receiver` in order until the end of the input, `receiver.isDone` or `breakLoop()`;
    /// calls `quiet` (when given) during silences. Called once, on one thread, which every other call but
    /// `breakLoop` shares.
    func deliver<Receiver: PacketHandler>(to receiver: inout Receiver, whenQuiet quiet: (() -> Void)?)
        throws(PcapError)
    /// Kernel counters since the capture started; nil for a source that has none.
    func captureStatistics() -> CaptureStatistics?
    /// Ends `deliver` soon, from any thread: after the packet being handed over, or at once when a read waits.
    func breakLoop()
}

extension PacketSource {
    public var quietAfter: Duration? { nil }
    public var progress: (done: Int64, total: Int64)? { nil }
    public func captureStatistics() -> CaptureStatistics? { nil }

    /// Every packet to `receiver`, with no quiet callback.
    public func deliver<Receiver: PacketHandler>(to receiver: inout Receiver) throws(PcapError) {
        try deliver(to: &receiver, whenQuiet: nil)
    }
}

/// Receives packets from a capture source. Generic use (`some PacketHandler`) keeps the per-packet call direct.
public protocol PacketHandler {
    mutating func handle(_ packet: CapturedPacket)
    /// True once the handler wants no more packets (the replay was interrupted): reading stops there.
    var isDone: Bool { get }
}

extension PacketHandler {
    /// Most handlers take every packet; specialised generic code folds this away.
    public var isDone: Bool { false }
}

/// The flag `breakLoop()` sets: atomic, since it is set from another thread (or a signal handler) while the reading
/// thread checks it between packets. Relaxed ordering suffices: it guards no other data, only says "stop".
public final class StopFlag: Sendable {
    let flag = Atomic<Bool>(false)

    public init() {}

    public func set() { flag.store(true, ordering: .relaxed) }

    public var isSet: Bool {
        @inline(__always) get { flag.load(ordering: .relaxed) }
    }
}
