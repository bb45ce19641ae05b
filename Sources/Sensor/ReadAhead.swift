// Reading and decoding on one thread, analysis on another: a replay's wall time becomes the longer of the two
// instead of their sum.
//
// The reader thread takes packets from libpcap (the file read, its system time and the copy out of stdio's buffer)
// and decodes each into a `PacketSummary`, which holds plain values only, so nothing points into libpcap's buffer
// once the packet is decoded. Summaries go to the analysing thread in fixed batches through a small ring; the
// analysing thread runs flows, hosts, detections and output on them in the order they were read. Order is the
// only thing the analysis depends on, so the output is the same as a single-threaded run's, packet for packet.
//
// The ring's batches are allocated once; a full ring makes the reader wait and an empty one makes the analyser
// wait, so memory stays at `batches x batchSize` summaries whatever the input. The reader thread's loop is the one
// every capture source is read by (PacketReader.swift); the live sensor (LiveSensor.swift) analyses its batches
// with the live housekeeping between them, `ReadAhead.replay` below with a replay's progress and interruption.

import Glibc
import PacketCapture
import PacketDecoding

/// A packet after decoding: everything the analysis reads.
public struct DecodedPacket {
    public var timestamp = Timestamp(nanoseconds: 0)
    /// The record's length on the wire, as libpcap gave it.
    public var wireLength = 0
    public var summary = PacketSummary()

    public init() {}
}

/// Fixed batches of decoded packets passed from one producer thread to one consumer thread, in order.
///
/// Everything the two threads share is in memory allocated here and touched only under the mutex (the batches
/// themselves belong to one side at a time). The mutex and condition live at fixed addresses: passing a Swift
/// stored property with `&` may hand pthreads a temporary copy, and an array property written by one thread
/// while the other reads it is a race on its buffer even when the elements are not.
final class DecodedBatches: @unchecked Sendable {
    let batches: [UnsafeMutableBufferPointer<DecodedPacket>]
    /// Packets in each published batch.
    let counts: UnsafeMutableBufferPointer<Int>
    /// Read progress (bytes done, bytes in all) when each batch was published, for the progress line.
    let progress: UnsafeMutableBufferPointer<(Int64, Int64)>
    /// Batches published and taken so far; `published - taken` are waiting.
    var published = 0
    var taken = 0
    var finished = false
    var stopRequested = false
    var latestStatistics: CaptureStatistics?
    let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init(batches count: Int, batchSize: Int) {
        batches = (0..<count).map { _ in
            let batch = UnsafeMutableBufferPointer<DecodedPacket>.allocate(capacity: batchSize)
            batch.initialize(repeating: DecodedPacket())
            return batch
        }
        counts = .allocate(capacity: count)
        counts.initialize(repeating: 0)
        progress = .allocate(capacity: count)
        progress.initialize(repeating: (0, 0))
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
    }

    deinit {
        for batch in batches {
            batch.deinitialize()
            batch.deallocate()
        }
        counts.deallocate()
        progress.deallocate()
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(mutex)
        changed.deallocate()
        mutex.deallocate()
    }

    /// Producer: the batch to fill next, once the consumer has let go of it.
    ///
    /// A full ring makes the producer wait until half of it is free, not just one batch: on a busy machine every
    /// wake-up may wait for a time slice, and waking once per batch made a replay four times slower with other
    /// work running (each side sleeping in turn). Woken at half, it refills half the ring in one go.
    func batchToFill() -> UnsafeMutableBufferPointer<DecodedPacket> {
        pthread_mutex_lock(mutex)
        if published - taken == batches.count {
            while published - taken > batches.count / 2 { pthread_cond_wait(changed, mutex) }
        }
        let batch = batches[published % batches.count]
        pthread_mutex_unlock(mutex)
        return batch
    }

    /// Producer: hands over the batch being filled with `count` packets (none is allowed: it passes on the
    /// statistics). Returns whether the consumer asked the producer to stop.
    @discardableResult
    func publish(count: Int, progress: (Int64, Int64) = (0, 0), statistics: CaptureStatistics? = nil) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if let statistics { latestStatistics = statistics }
        guard count > 0 else { return stopRequested }
        counts[published % batches.count] = count
        self.progress[published % batches.count] = progress
        published += 1
        pthread_cond_broadcast(changed)
        return stopRequested
    }

    /// Producer: whether the consumer asked it to stop.
    var shouldStop: Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return stopRequested
    }

    /// Producer: no more batches.
    func finish() {
        pthread_mutex_lock(mutex)
        finished = true
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(mutex)
    }

    /// Consumer: asks the producer to stop after its current read; the batches it already published still come.
    func requestStop() {
        pthread_mutex_lock(mutex)
        stopRequested = true
        pthread_mutex_unlock(mutex)
    }

    /// Consumer: the capture statistics the producer took last.
    var statistics: CaptureStatistics? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return latestStatistics
    }

    enum Next {
        case batch(UnsafeMutableBufferPointer<DecodedPacket>, progress: (Int64, Int64))
        /// The wait passed with no batch.
        case idle
        /// The producer finished and every batch was taken.
        case finished
    }

    /// Consumer: the next batch in order, waiting at most `milliseconds` (for ever when nil). A batch stays the
    /// consumer's until `release()`.
    func next(waitingUpTo milliseconds: Int? = nil) -> Next {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if published == taken && !finished {
            if let milliseconds {
                var deadline = timespec()
                clock_gettime(CLOCK_REALTIME, &deadline)
                let nanoseconds = Int(deadline.tv_nsec) + milliseconds % 1000 * 1_000_000
                deadline.tv_sec += milliseconds / 1000 + nanoseconds / 1_000_000_000
                deadline.tv_nsec = nanoseconds % 1_000_000_000
                while published == taken && !finished {
                    if pthread_cond_timedwait(changed, mutex, &deadline) == ETIMEDOUT { break }
                }
            } else {
                while published == taken && !finished { pthread_cond_wait(changed, mutex) }
            }
        }
        guard published > taken else { return finished ? .finished : .idle }
        let slot = taken % batches.count
        return .batch(UnsafeMutableBufferPointer(rebasing: batches[slot][0..<counts[slot]]), progress: progress[slot])
    }

    /// Consumer: done with the batch `next()` returned.
    func release() {
        pthread_mutex_lock(mutex)
        taken += 1
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(mutex)
    }
}

public enum ReadAhead {
    /// Summaries per batch: enough that the two threads meet a few thousand times per ten million packets, few
    /// enough that a batch stays in the shared cache between the writer and the reader. 16 batches of 1,024
    /// summaries take 3 MiB.
    public static let batchSize = 1024
    public static let batches = 16

    /// Replays `source` (any `PacketSource`: files, a pipe, a source of a test's own) into `pipeline`: read and
    /// decoded on a second thread (PacketReader.swift), analysed on this one, in order.
    /// `progress` is called on this thread, every `pipeline.progressInterval` packets analysed, with that count and
    /// the bytes read when their batch was published. `interrupted` is asked after every batch and every 200 ms:
    /// once it says yes, the reader stops (the source's `breakLoop`), and the packets already read are still
    /// analysed (the caller then finishes the pipeline as usual, so alerts are written and the state saved).
    ///
    /// Returns true when the input was read (or the reader stopped when asked) and the reader thread has ended, so
    /// the caller may read the source's errors; false when the reader could not be stopped (it waits on a pipe that
    /// brings nothing) and was left behind: then the caller must not touch `source` again. A read error that ended
    /// the input is thrown once every packet before it was analysed (a replay's files keep theirs in `errors`
    /// instead); the pipeline is then as at the end of the input. `batches` and `batchSize` are for tests (small
    /// rings wrap around many times).
    @discardableResult
    public static func replay<Source: PacketSource>(
        _ source: Source, into pipeline: inout Pipeline, batches: Int = ReadAhead.batches,
        batchSize: Int = ReadAhead.batchSize, interrupted: (() -> Bool)? = nil,
        progress: ((UInt64, (Int64, Int64)) -> Void)? = nil
    ) throws(PcapError) -> Bool {
        precondition(batches >= 2 && batchSize >= 1)
        let reader = PacketReader(source: source, batches: batches, batchSize: batchSize)
        guard reader.start() else {
            // No second thread to be had: read and analyse here, one packet at a time.
            try source.deliver(to: &pipeline)
            return true
        }
        let ring = reader.ring
        let interval = pipeline.progressInterval
        // Without `interrupted` the wait for a batch is unbounded; with it, the wait wakes every 200 ms to ask.
        let wait = interrupted == nil ? nil : 200
        var stopAsked: Double?
        loop: while true {
            switch ring.next(waitingUpTo: wait) {
            case .batch(let packets, let read):
                for index in packets.indices {
                    let before = pipeline.decode.packets
                    pipeline.analyse(packets[index].summary, at: packets[index].timestamp,
                                     wireLength: packets[index].wireLength)
                    // Packets skipped as already analysed (a resumed replay) do not count, nor call. One call can
                    // analyse several packets (held ones, PacketClock.swift): report each multiple crossed.
                    let analysed = pipeline.decode.packets
                    if let progress, analysed / interval != before / interval { progress(analysed, read) }
                }
                // A batch handed over before it was full comes from a quiet stream (or is the last): its alerts
                // go out now, not when a later batch fills the output's buffer.
                let partial = packets.count < batchSize
                ring.release()
                if partial { pipeline.output?.flush() }
            case .idle:
                // Stream reads end on a signal (StreamInput.swift), so the reader normally sees the stop at once;
                // should it still be blocked (a read no poll(2) covers), give it two seconds, then leave it behind
                // (the process is about to end) with the packets of its unfinished batch.
                if let asked = stopAsked, WallClock.monotonic() - asked > 2 { return false }
            case .finished:
                break loop
            }
            if let interrupted, stopAsked == nil, interrupted() {
                stopAsked = WallClock.monotonic()
                reader.stop()
            }
        }
        reader.join()
        if let failure = reader.failure { throw failure }
        return true
    }
}
