// Buffered output to a file descriptor with every write checked and every line accounted for: a reader that goes
// away (`| head`), a full disk or a reader that stops reading is reported and counted, never ignored.
//
// Three ways to write. `.direct` writes on the caller's thread (reports, tests, the fuzz harness). The two queued
// modes hand 64 KiB chunks to a writer thread of their own, so the thread that analyses never calls write(2):
// `.waiting` (replay) makes the producer wait for room when the queue is full, as a forensic replay must not drop
// an alert, but checks `interrupted` every 200 ms while it waits and, once it says yes, waits at most
// `BufferedOutput.interruptGrace` more before it counts what it cannot write and goes on; `.dropping` (live) never
// waits: when the queue is full the oldest chunk not yet being written is dropped, and its lines counted.
//
// A writer thread blocked for ever in write(2) (a pipe nobody reads) is left behind when the process ends; the lines
// it held are counted as not written.

import Glibc

public final class BufferedOutput: @unchecked Sendable {
    public enum Mode: Sendable, Equatable {
        /// write(2) on the caller's thread.
        case direct
        /// A writer thread; a full queue (`capacity` lines) makes the producer wait (replay).
        case waiting(capacity: Int)
        /// A writer thread; a full queue drops the oldest lines, counted (live: capture never waits for a reader).
        case dropping(capacity: Int)
    }

    /// What a line is, for the counts in messages ("3 alerts and 120 flow records not written").
    public enum Kind: Sendable {
        case alert, record
    }

    /// Lines by kind.
    public struct Lines: Sendable, Equatable {
        public var alerts: UInt64 = 0
        public var records: UInt64 = 0

        public init() {}

        public var total: UInt64 { alerts &+ records }

        mutating func add(_ kind: Kind, _ count: UInt64 = 1) {
            if kind == .alert { alerts &+= count } else { records &+= count }
        }

        mutating func add(_ other: Lines) {
            alerts &+= other.alerts
            records &+= other.records
        }

        /// `3 alerts and 120 flow records`, `1 alert`, `0 lines`.
        public var description: String {
            func plural(_ n: UInt64, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
            switch (alerts, records) {
            case (0, 0): return "0 lines"
            case (_, 0): return plural(alerts, "alert")
            case (0, _): return plural(records, "flow record")
            default: return plural(alerts, "alert") + " and " + plural(records, "flow record")
            }
        }
    }

    /// Every line given to `writeLine`, where it went. `given == written + queued + dropped + notWritten`.
    public struct Statistics: Sendable, Equatable {
        /// Lines whose every byte the descriptor took.
        public var written = Lines()
        /// Lines waiting in the queue or being written now.
        public var queued = Lines()
        /// Lines dropped because the queue was full (`.dropping` only).
        public var dropped = Lines()
        /// Lines lost to a failed write (and every line after it), or still queued when `close` gave up.
        public var notWritten = Lines()
        /// The write error, with the C library's words.
        public var failure: Int32?

        public var lost: Lines {
            var lines = dropped
            lines.add(notWritten)
            return lines
        }

        /// One line on what did not reach the output, or nil when everything did: `standard output closed by its
        /// reader: 59999 alerts not written`, `standard output: No space left on device: 10 alerts not written`.
        public var lossMessage: String? {
            let lost = self.lost
            guard lost.total > 0 else { return nil }
            if let failure {
                return failure == EPIPE ? "standard output closed by its reader: \(lost.description) not written"
                    : "standard output: \(String(cString: strerror(failure))): \(lost.description) not written"
            }
            var parts: [String] = []
            if dropped.total > 0 { parts.append("\(dropped.description) dropped from the full queue") }
            if notWritten.total > 0 { parts.append("\(notWritten.description) given up on") }
            return "standard output did not keep up (its reader stopped reading): \(lost.description) not written ("
                + parts.joined(separator: ", ") + ")"
        }

        /// `standard output: 120 lines written (100 alerts, 20 flow records), 0 queued, 0 lost`.
        public var description: String {
            var line = "standard output: \(written.description) written, \(queued.total) queued, "
            line += "\(lost.total) lost (\(dropped.total) queue full, \(notWritten.total) not written)"
            if let failure {
                line += failure == EPIPE ? ", closed by its reader" : ", " + String(cString: strerror(failure))
            }
            return line
        }
    }

    /// After `interrupted` said yes, how long a `.waiting` output still waits for its reader before it counts the
    /// rest as not written.
    public static let interruptGrace = 2.0
    public static let defaultQueueCapacity = 10_000

    public let descriptor: Int32
    public let mode: Mode
    /// Asked every 200 ms while a `.waiting` output waits for its reader (the replay's signal check).
    public var interrupted: (() -> Bool)?

    /// The chunk being filled by the producer (no lock: it is the producer's alone until handed over).
    var buffer: [UInt8] = []
    var marks: [LineMark] = []
    let limit: Int

    // Shared with the writer thread, under `mutex`.
    let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    var queue: [Chunk] = []
    var queueHead = 0
    var queuedLines = 0
    /// The chunk the writer thread is writing (its lines are counted in `counters.queued` until accounted), how
    /// many of its bytes went out, and how many of its lines are accounted for.
    var writing = false
    var inFlight = Chunk(bytes: [], marks: [])
    var inFlightAccounted = 0
    /// `close` gave up on the chunk being written and counted its unwritten lines: the writer must not count them.
    var inFlightAbandoned = false
    /// A pipe or FIFO: written in pieces of at most PIPE_BUF bytes, each atomic, so the lines that reached the
    /// reader are known exactly even while a write is blocked.
    let isPipe: Bool
    var closing = false
    /// `close` was called: later lines are counted as not written.
    var closed = false
    /// A writer thread runs (a queued mode whose thread could be started).
    var threaded = false
    var counters = Statistics()
    /// Set once `interrupted` said yes: waiting ends at this monotonic time.
    var giveUpAt: Double?

    /// `bufferSize`: bytes gathered before a write (direct) or a hand-over (queued).
    public init(descriptor: Int32 = 1, bufferSize: Int = 1 << 16, mode: Mode = .direct) {
        self.descriptor = descriptor
        self.mode = descriptor < 0 ? .direct : mode
        limit = bufferSize
        var info = stat()
        isPipe = descriptor >= 0 && fstat(descriptor, &info) == 0 && (info.st_mode & S_IFMT) == S_IFIFO
        buffer.reserveCapacity(bufferSize + 1024)
        pthread_mutex_init(mutex, nil)
        // Timed waits measure against the monotonic clock (waitLocked), not the settable wall clock.
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(changed, &attributes)
        pthread_condattr_destroy(&attributes)
        if self.mode != .direct { startWriter() }
    }

    deinit {
        // Queued modes: the writer thread holds a reference until it ends, so this runs after it (or never).
        if !threaded { writeDirect() }
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(mutex)
        changed.deallocate()
        mutex.deallocate()
    }

    /// Set when a write failed; later lines are not written, and counted.
    public var failure: Int32? { locked { counters.failure } }

    public var statistics: Statistics {
        var snapshot = locked { counters }
        // Lines still in the producer's chunk are queued too.
        for mark in marks { snapshot.queued.add(mark.kind) }
        return snapshot
    }

    /// Lines written in full so far.
    public var linesWritten: UInt64 { statistics.written.total }
    /// Lines that will never be written: dropped, or lost to a write error.
    public var linesLost: UInt64 { statistics.lost.total }

    /// Appends `line` and a newline; writes or hands over the chunk when it is full.
    public func writeLine(_ line: String, kind: Kind = .alert) {
        if locked({ counters.failure != nil || closed }) {
            locked { counters.notWritten.add(kind) }
            return
        }
        buffer.append(contentsOf: line.utf8)
        buffer.append(0x0a)
        marks.append(LineMark(end: buffer.count, kind: kind))
        if buffer.count >= limit { flush() }
    }

    /// Direct: writes everything buffered, returning false (and recording `failure`) if the descriptor refused it.
    /// Waiting: hands the chunk over and waits until the writer thread has written everything (so a state save that
    /// follows accounts only for lines that reached the output), unless interrupted. Dropping: hands the chunk over
    /// and returns at once. Returns whether no write has failed.
    @discardableResult
    public func flush() -> Bool {
        switch threaded ? mode : .direct {
        case .direct:
            writeDirect()
        case .waiting:
            handOver()
            waitUntilWritten(deadline: nil)
        case .dropping:
            handOver()
        }
        return failure == nil
    }

    /// Hands over what is buffered and waits at most `seconds` for the writer to write it all, whatever the mode (for
    /// a process about to replace itself, which would lose what the writer thread still holds). Returns whether
    /// everything was written.
    @discardableResult
    public func drain(waitingUpTo seconds: Double) -> Bool {
        guard threaded else { writeDirect(); return failure == nil }
        handOver()
        waitUntilWritten(deadline: monotonic() + max(0, seconds))
        return locked { queueHead >= queue.count && !writing && counters.failure == nil }
    }

    /// Hands over what is buffered and waits at most `seconds` (for ever when nil, unless interrupted) for the writer
    /// to write it all; what is still queued then is counted as not written. Later lines are counted as not written.
    /// Returns the final statistics.
    @discardableResult
    public func close(waitingUpTo seconds: Double?) -> Statistics {
        if !threaded {
            writeDirect()
        } else {
            handOver()
            waitUntilWritten(deadline: seconds.map { monotonic() + max(0, $0) })
            locked {
                abandonQueue()
                if writing && !inFlightAbandoned {
                    // Stuck in write(2): the lines of this chunk that did not go out are not written. (A piece the
                    // writer is blocked on is not in the pipe: pipe writes of PIPE_BUF bytes or less are atomic.)
                    inFlightAbandoned = true
                    for mark in inFlight.marks[inFlightAccounted...] {
                        counters.queued.remove(mark.kind)
                        counters.notWritten.add(mark.kind)
                    }
                    inFlightAccounted = inFlight.marks.count
                }
                closing = true
                pthread_cond_broadcast(changed)
            }
        }
        locked { closed = true }
        return statistics
    }

    /// The failure as text (`Broken pipe`, `No space left on device`, ...).
    public var failureDescription: String? {
        failure.map { String(cString: strerror($0)) }
    }

    // MARK: Direct writing

    private func writeDirect() {
        guard !buffer.isEmpty else { return }
        let chunk = takeChunk()
        let (written, error) = BufferedOutput.write(chunk.bytes, to: descriptor)
        locked { account(chunk, written: written, error: error) }
    }

    // MARK: Queued writing

    private func takeChunk() -> Chunk {
        let chunk = Chunk(bytes: buffer, marks: marks)
        buffer.removeAll(keepingCapacity: true)
        marks.removeAll(keepingCapacity: true)
        return chunk
    }

    /// Moves the producer's chunk to the queue: waiting for room (`.waiting`) or dropping the oldest (`.dropping`).
    private func handOver() {
        guard !marks.isEmpty else { return }
        let chunk = takeChunk()
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if counters.failure != nil || closing {
            for mark in chunk.marks { counters.notWritten.add(mark.kind) }
            return
        }
        switch mode {
        case .waiting(let capacity):
            while queuedLines > 0 && queuedLines + chunk.marks.count > capacity && counters.failure == nil {
                if !waitLocked() {
                    // Gave up on the reader: what cannot be queued is not written.
                    for mark in chunk.marks { counters.notWritten.add(mark.kind) }
                    return
                }
            }
        case .dropping(let capacity):
            while queuedLines > 0 && queuedLines + chunk.marks.count > capacity && queueHead < queue.count {
                let oldest = queue[queueHead]
                queue[queueHead] = Chunk(bytes: [], marks: [])
                queueHead += 1
                queuedLines -= oldest.marks.count
                for mark in oldest.marks {
                    counters.queued.remove(mark.kind)
                    counters.dropped.add(mark.kind)
                }
            }
        case .direct:
            break
        }
        if counters.failure != nil {
            for mark in chunk.marks { counters.notWritten.add(mark.kind) }
            return
        }
        if queueHead > 64 && queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        queue.append(chunk)
        queuedLines += chunk.marks.count
        for mark in chunk.marks { counters.queued.add(mark.kind) }
        pthread_cond_broadcast(changed)
    }

    /// Waits (mutex held) until the queue is empty and nothing is being written, the deadline passes, or the wait
    /// is given up after an interruption.
    private func waitUntilWritten(deadline: Double?) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while (queueHead < queue.count || writing) && counters.failure == nil {
            if let deadline, monotonic() >= deadline { return }
            if !waitLocked(until: deadline) { return }
        }
    }

    /// One wait of at most 200 ms for the writer (mutex held). Returns false once the output gives up: `interrupted`
    /// said yes `interruptGrace` seconds ago (or the deadline passed).
    private func waitLocked(until deadline: Double? = nil) -> Bool {
        let now = monotonic()
        if giveUpAt == nil, let interrupted {
            // Asked without the lock: the check may take signals, and must not run under our mutex.
            pthread_mutex_unlock(mutex)
            let stop = interrupted()
            pthread_mutex_lock(mutex)
            if stop && giveUpAt == nil { giveUpAt = now + BufferedOutput.interruptGrace }
        }
        if let giveUpAt, now >= giveUpAt { return false }
        var until = now + 0.2
        if let deadline { until = min(until, deadline) }
        if let giveUpAt { until = min(until, giveUpAt) }
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        let nanoseconds = Int(spec.tv_nsec) + Int((until - now) * 1e9)
        spec.tv_sec += nanoseconds / 1_000_000_000
        spec.tv_nsec = nanoseconds % 1_000_000_000
        pthread_cond_timedwait(changed, mutex, &spec)
        return true
    }

    /// Counts everything still queued (not being written) as not written (mutex held).
    private func abandonQueue() {
        while queueHead < queue.count {
            let chunk = queue[queueHead]
            queue[queueHead] = Chunk(bytes: [], marks: [])
            queueHead += 1
            queuedLines -= chunk.marks.count
            for mark in chunk.marks {
                counters.queued.remove(mark.kind)
                counters.notWritten.add(mark.kind)
            }
        }
    }

    private func startWriter() {
        threaded = true
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        // The thread keeps this object alive until it ends.
        let context = Unmanaged.passRetained(self)
        var thread = pthread_t()
        let status = pthread_create(&thread, &attributes, { context in
            Unmanaged<BufferedOutput>.fromOpaque(context!).takeRetainedValue().writerLoop()
            return nil
        }, context.toOpaque())
        pthread_attr_destroy(&attributes)
        if status != 0 {
            // No thread to be had: write on the caller's thread after all (the old behaviour).
            context.release()
            threaded = false
        }
    }

    /// The writer thread: takes chunks in order and writes each whole (blocking), until closed.
    private func writerLoop() {
        pthread_mutex_lock(mutex)
        while true {
            while queueHead == queue.count && !closing { pthread_cond_wait(changed, mutex) }
            if queueHead == queue.count { break }
            let chunk = queue[queueHead]
            queue[queueHead] = Chunk(bytes: [], marks: [])
            queueHead += 1
            queuedLines -= chunk.marks.count
            writing = true
            inFlight = chunk
            inFlightAccounted = 0
            var written = 0
            var error: Int32?
            let piece = isPipe ? Int(PIPE_BUF) : chunk.bytes.count
            while written < chunk.bytes.count && error == nil {
                pthread_mutex_unlock(mutex)
                let end = min(chunk.bytes.count, written + piece)
                let (count, failure) = BufferedOutput.write(chunk.bytes, from: written, to: end, descriptor: descriptor)
                pthread_mutex_lock(mutex)
                written += count
                error = failure
                // Lines count as written as soon as their last byte is out.
                while !inFlightAbandoned && inFlightAccounted < chunk.marks.count
                    && chunk.marks[inFlightAccounted].end <= written {
                    counters.queued.remove(chunk.marks[inFlightAccounted].kind)
                    counters.written.add(chunk.marks[inFlightAccounted].kind)
                    inFlightAccounted += 1
                }
            }
            writing = false
            if !inFlightAbandoned {
                for mark in chunk.marks[inFlightAccounted...] {
                    counters.queued.remove(mark.kind)
                    counters.notWritten.add(mark.kind)
                }
            }
            inFlight = Chunk(bytes: [], marks: [])
            inFlightAccounted = 0
            if let error {
                if counters.failure == nil { counters.failure = error }
                abandonQueue()
            }
            pthread_cond_broadcast(changed)
        }
        pthread_mutex_unlock(mutex)
    }

    /// Counts the lines of `chunk` whose bytes all went out as written and the others as not written (mutex held).
    private func account(_ chunk: Chunk, written: Int, error: Int32?) {
        for mark in chunk.marks {
            if mark.end <= written { counters.written.add(mark.kind) } else { counters.notWritten.add(mark.kind) }
        }
        if let error, counters.failure == nil { counters.failure = error }
    }

    /// write(2) until done or failed: the bytes written and the error, if any.
    static func write(_ bytes: [UInt8], to descriptor: Int32) -> (Int, Int32?) {
        write(bytes, from: 0, to: bytes.count, descriptor: descriptor)
    }

    /// write(2) of `bytes[start..<end]` until done or failed: the bytes written and the error, if any.
    static func write(_ bytes: [UInt8], from start: Int, to end: Int, descriptor: Int32) -> (Int, Int32?) {
        var written = 0
        while start + written < end {
            let result = bytes.withUnsafeBytes { raw in
                Glibc.write(descriptor, raw.baseAddress! + start + written, end - start - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                return (written, errno)
            }
            written += result
        }
        return (written, nil)
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    private func monotonic() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    struct LineMark {
        /// Offset just past the line's newline in its chunk.
        var end: Int
        var kind: Kind
    }

    struct Chunk {
        var bytes: [UInt8]
        var marks: [LineMark]
    }
}

extension BufferedOutput.Lines {
    mutating func remove(_ kind: BufferedOutput.Kind) {
        if kind == .alert { alerts &-= 1 } else { records &-= 1 }
    }
}
