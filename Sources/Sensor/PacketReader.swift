// The one reader loop, for every capture source (PacketCapture/PacketSource.swift): a thread of its own takes the
// source's packets, decodes each into a `PacketSummary` and hands them in fixed batches through the ring
// (ReadAhead.swift, `DecodedBatches`) to the analysing thread, which runs flows, hosts, detections and output in
// the order they were read. A live sensor (LiveSensor.swift) and a replay (ReadAhead.replay) both read this way; they
// differ only in what the analysing thread does between batches.
//
// When a batch is handed over: when it is full; when the source says it is quiet (a live read timed out, a pipe
// brought nothing for a moment), so alerts on a quiet link or a slow pipe do not wait for a batch to fill; and, with
// `publishDelay` (live), once its first packet has waited that long. The source's statistics (live: pcap_stats)
// are taken on this thread every `statisticsPeriod`, since a pcap_t is used by one thread only, and passed on with
// a publish. A stop asked by the analysing thread (`stop()`) is seen at the next publish and by the source's
// `breakLoop()`; what was read before it is handed over and analysed.

import Glibc
import PacketCapture
import PacketDecoding

/// The reader thread around one source: start it, take its batches, stop it, join it.
final class PacketReader<Source: PacketSource>: @unchecked Sendable {
    let source: Source
    let ring: DecodedBatches
    /// A partial batch is handed over once its first packet has waited this long (seconds); nil: only when full or
    /// when the source is quiet (a replay: the batches of a file fill at once).
    let publishDelay: Double?
    /// The read error that ended the input; read after `join()`.
    private(set) var failure: PcapError?
    /// Times the source said it was quiet; read after `join()`.
    private(set) var quietPeriods = 0
    var thread: pthread_t?

    /// How often the source's statistics are taken, at most (seconds).
    static var statisticsPeriod: Double { 0.1 }

    init(source: Source, batches: Int = ReadAhead.batches, batchSize: Int = ReadAhead.batchSize,
         publishDelay: Double? = nil) {
        self.source = source
        ring = DecodedBatches(batches: batches, batchSize: batchSize)
        self.publishDelay = publishDelay
    }

    /// Starts the reader thread; false when no thread can be had.
    func start() -> Bool {
        thread = startThread { [self] in readAll() }
        return thread != nil
    }

    /// The reader thread's loop: the source delivers into the batches until its input ends or it is stopped.
    private func readAll() {
        var decoder = BatchingDecoder(ring: ring, source: source, publishDelay: publishDelay)
        defer {
            quietPeriods = decoder.quietPeriods
            decoder.finish()
        }
        do {
            try source.deliver(to: &decoder, whenQuiet: { [decoder] in decoder.quiet() })
        } catch {
            failure = error
        }
    }

    /// From the analysing thread: the reader stops after its current read (the source's `breakLoop`) and hands over
    /// what it holds; the batches already published still come.
    func stop() {
        ring.requestStop()
        source.breakLoop()
    }

    /// Waits for the reader thread to end (after `next` said `.finished`).
    func join() {
        guard let thread else { return }
        pthread_join(thread, nil)
        self.thread = nil
    }
}

/// The reader thread's packet handler: decodes into the batch being filled and publishes it when full, when the
/// source is quiet, or (with a publish delay) when its first packet has waited long enough.
///
/// The batch and its count live behind a pointer, not in the struct: the quiet callback runs from inside a read,
/// on this same thread, while the struct itself is out of reach (inout to the source). One more load per packet,
/// from a line the packet's write touches anyway.
struct BatchingDecoder<Source: PacketSource>: PacketHandler {
    let ring: DecodedBatches
    let source: Source
    let publishDelay: Double?
    let fill: UnsafeMutablePointer<Fill>

    struct Fill {
        var batch: UnsafeMutableBufferPointer<DecodedPacket>
        var count = 0
        /// Whether the consumer asked for a stop (seen at the last publish).
        var stopRequested = false
        /// When the batch's first packet came (coarse monotonic seconds), with a publish delay.
        var batchStarted = 0.0
        var nextStatistics = 0.0
        var quietPeriods = 0
    }

    init(ring: DecodedBatches, source: Source, publishDelay: Double?) {
        self.ring = ring
        self.source = source
        self.publishDelay = publishDelay
        fill = .allocate(capacity: 1)
        fill.initialize(to: Fill(batch: ring.batchToFill()))
    }

    var count: Int { fill.pointee.count }
    var isDone: Bool { fill.pointee.stopRequested }
    var quietPeriods: Int { fill.pointee.quietPeriods }

    func handle(_ packet: CapturedPacket) {
        let batch = fill.pointee.batch
        let count = fill.pointee.count
        batch[count].timestamp = packet.timestamp
        batch[count].wireLength = packet.wireLength
        PacketDecoder.decode(packet.bytes, wireLength: packet.wireLength, linkType: packet.linkType,
                             into: &batch[count].summary)
        fill.pointee.count = count + 1
        if count + 1 == batch.count {
            publish(statistics: statisticsIfDue(at: publishDelay == nil ? nil : BatchingDecoder.coarseClock()))
            return
        }
        guard let publishDelay else { return }
        let now = BatchingDecoder.coarseClock()
        if count == 0 { fill.pointee.batchStarted = now }
        // A batch waited long enough, or the statistics are due: hand over what there is.
        if now - fill.pointee.batchStarted >= publishDelay || now >= fill.pointee.nextStatistics {
            publish(statistics: statisticsIfDue(at: now))
        }
    }

    /// The source is quiet: hand over what there is (an empty publish still passes the statistics on and learns
    /// whether to stop).
    func quiet() {
        fill.pointee.quietPeriods += 1
        publish(statistics: statisticsIfDue(at: BatchingDecoder.coarseClock()))
    }

    /// The source's statistics when `statisticsPeriod` has passed since the last taken (nil: not due, or no clock).
    private func statisticsIfDue(at now: Double?) -> CaptureStatistics? {
        guard let now, now >= fill.pointee.nextStatistics else { return nil }
        fill.pointee.nextStatistics = now + PacketReader<Source>.statisticsPeriod
        return source.captureStatistics()
    }

    /// Hands over what the batch holds (possibly nothing, to pass on `statistics`) and takes the next one.
    func publish(statistics: CaptureStatistics? = nil) {
        let filled = fill.pointee.count
        fill.pointee.stopRequested = ring.publish(count: filled, progress: source.progress ?? (0, 0),
                                                  statistics: statistics)
        guard filled > 0 else { return }
        fill.pointee.count = 0
        fill.pointee.batch = ring.batchToFill()
    }

    /// Publishes the last batch, tells the consumer there is no more and frees the fill state (no publish after).
    func finish() {
        publish()
        ring.finish()
        fill.deinitialize(count: 1)
        fill.deallocate()
    }

    /// The monotonic clock at the kernel tick's resolution (a few ms): cheap enough to read per packet.
    static func coarseClock() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}

/// A closure moved to a new thread whole. The threads that use this hand each other data only through
/// `DecodedBatches`, under its mutex.
final class ThreadBody: @unchecked Sendable {
    let body: () -> Void

    init(_ body: @escaping () -> Void) {
        self.body = body
    }
}

/// Runs `body` on a new thread; nil when no thread can be started.
func startThread(_ body: @escaping () -> Void) -> pthread_t? {
    let context = Unmanaged.passRetained(ThreadBody(body))
    var thread = pthread_t()
    let status = pthread_create(&thread, nil, { context in
        Unmanaged<ThreadBody>.fromOpaque(context!).takeRetainedValue().body()
        return nil
    }, context.toOpaque())
    guard status == 0 else {
        context.release()
        return nil
    }
    return thread
}
