// Signals for a long-running sensor, without handlers: the signals are blocked and collected with sigtimedwait
// from the capture loop, so nothing runs in signal context and no state is shared with a handler.

import Glibc
import PacketDecoding

public final class SignalWatcher {
    var set = sigset_t()

    /// Blocks `signals` for this thread (and threads it starts later); they wait until `pending()` takes them.
    public init(_ signals: [Int32]) {
        sigemptyset(&set)
        for signal in signals {
            // An inherited SIG_IGN would discard the signal even while it is blocked.
            Glibc.signal(signal, SIG_DFL)
            sigaddset(&set, signal)
        }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// The signals that arrived since the last call, oldest first, each once.
    public func pending() -> [Int32] {
        var result: [Int32] = []
        var zero = timespec(tv_sec: 0, tv_nsec: 0)
        var info = siginfo_t()
        while true {
            let signal = sigtimedwait(&set, &info, &zero)
            if signal <= 0 { break }
            result.append(signal)
        }
        return result
    }
}

/// The first watched signal to arrive, asked from any thread: a replay's analysing thread, its reading thread
/// (inside a stream read, StreamInput.swift) and its output's wait all ask, and whichever takes the signal keeps
/// it here for the others.
public final class SignalLatch: @unchecked Sendable {
    let watcher: SignalWatcher
    let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    var taken: Int32?

    public init(_ watcher: SignalWatcher) {
        self.watcher = watcher
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Takes what arrived; true once a signal has.
    public func check() -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if taken == nil { taken = watcher.pending().first }
        return taken != nil
    }

    /// The signal that arrived first, if any.
    public var signal: Int32? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return taken
    }
}

/// Wall-clock and monotonic time for operational matters only (statistics intervals, capture-health alerts);
/// the analysis never reads them.
public enum WallClock {
    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(seconds: Int64(spec.tv_sec), nanoseconds: Int64(spec.tv_nsec))
    }

    /// Seconds on the monotonic clock.
    public static func monotonic() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
