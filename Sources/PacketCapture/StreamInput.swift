// Standard input, pipes and FIFOs read through a FILE of our own (glibc's fopencookie) whose reads wait in poll(2).
//
// Why: libpcap and the pcapng reader read through stdio, and a stdio read of a blocking descriptor waits in read(2)
// until data comes; the replay's signals are blocked and taken with sigtimedwait, so nothing interrupts that read:
// SIGINT and SIGTERM were ignored before the first packet, and for ever on a FIFO with no writer (whose open(2)
// blocks too). Here a FIFO is opened with O_NONBLOCK (the open returns at once), and each read waits for data in
// poll(2) steps of 100 ms, asking `StreamReads.stopCheck` (a signal came) and the source's `breakLoop()` flag
// between steps; once either says stop, the read ends as the end of the input, so the reader finishes the way it
// does at the end of a file. And when the input has been quiet for `StreamReads.quietDelay`, the read calls the
// source's `quiet` handler first: the replay's reader hands over the packets it holds then, so alerts do not wait
// for a batch to fill (or for the pipe to close).
//
// stdio calls the read function only when its own buffer is empty, so a busy pipe costs one poll(2) per buffer
// refill (up to 64 KiB), not per packet; regular files named on the command line never come here.

import CPcap
import Glibc

public enum StreamReads {
    /// Asked every 100 ms while a stream read waits, from whichever thread reads: true ends the read as the end of
    /// the input. Set once by the command before anything is read (the replay's signal check).
    nonisolated(unsafe) public static var stopCheck: (@Sendable () -> Bool)?
    /// Milliseconds of a quiet input before the source's `quiet` handler is called.
    public static let quietDelay: Int32 = 20
    static let checkInterval: Int32 = 100
    /// The message of an error that only says the input was stopped by `stopCheck` (not a damaged file).
    public static let stoppedMessage = "reading stopped by a signal"
}

/// One stream: its descriptor and what happens while a read waits. Owned by the FILE made for it (its close frees
/// this), used only by the thread that reads the FILE.
final class StreamCookie {
    let descriptor: Int32
    let closesDescriptor: Bool
    /// Called when the input has brought nothing for `quietDelay`, before the read goes on waiting.
    var quiet: (() -> Void)?
    /// The read ended because `stopCheck` said so.
    var stopped = false
    /// The last read failed with this errno.
    var failure: Int32?
    /// The source's `breakLoop()` flag: once set, a waiting read ends as `stopCheck` would end it.
    let stop: StopFlag?

    init(descriptor: Int32, closesDescriptor: Bool, stop: StopFlag?) {
        self.descriptor = descriptor
        self.closesDescriptor = closesDescriptor
        self.stop = stop
    }

    /// Waits for data (or the end) in poll steps, then reads once. 0 is the end of the input (or a stop).
    func read(into buffer: UnsafeMutablePointer<CChar>, count: Int) -> Int {
        guard !stopped else { return 0 }
        // Data now (the common case on a busy pipe), or within the quiet delay.
        if let got = read(into: buffer, count: count, waitingUpTo: 0) { return got }
        if let got = read(into: buffer, count: count, waitingUpTo: StreamReads.quietDelay) { return got }
        quiet?()
        while true {
            if stop?.isSet == true || StreamReads.stopCheck?() == true {
                stopped = true
                return 0
            }
            if let got = read(into: buffer, count: count, waitingUpTo: StreamReads.checkInterval) { return got }
        }
    }

    /// One poll(2) of at most `milliseconds`, then a read if the descriptor is ready: nil when it was not (or a
    /// signal cut the wait short), else read(2)'s result (-1 with `failure` set on an error).
    private func read(into buffer: UnsafeMutablePointer<CChar>, count: Int, waitingUpTo milliseconds: Int32) -> Int? {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let ready = poll(&entry, 1, milliseconds)
        if ready < 0 && errno != EINTR {
            failure = errno
            return -1
        }
        guard ready > 0 else { return nil }
        // POLLIN, or POLLHUP (the writer went: read returns what is left, then 0), or POLLERR/POLLNVAL (read says
        // what is wrong).
        let got = Glibc.read(descriptor, buffer, count)
        if got >= 0 { return got }
        if errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK { return nil }
        failure = errno
        return -1
    }
}

/// Opening streams as FILEs whose reads wait in poll(2).
enum StreamInput {
    /// A FILE over `descriptor` reading through `cookie`; nil (errno set) if glibc cannot make one.
    static func file(_ cookie: StreamCookie) -> UnsafeMutablePointer<FILE>? {
        let io = idlewatch_cookie_io(
            read: { context, buffer, size in
                guard let context, let buffer else { return -1 }
                let cookie = Unmanaged<StreamCookie>.fromOpaque(context).takeUnretainedValue()
                return cookie.read(into: buffer, count: Int(size))
            },
            write: nil,
            seek: nil,
            close: { context in
                guard let context else { return 0 }
                let cookie = Unmanaged<StreamCookie>.fromOpaque(context).takeRetainedValue()
                if cookie.closesDescriptor { Glibc.close(cookie.descriptor) }
                return 0
            })
        let context = Unmanaged.passRetained(cookie)
        guard let file = idlewatch_fopencookie_io(context.toOpaque(), "r", io) else {
            context.release()
            return nil
        }
        return file
    }

    /// Standard input (`-`) or the pipe, FIFO, socket or device at `path`, opened without blocking (a FIFO with no
    /// writer yet opens at once; its reads wait for one, interruptibly).
    static func open(path: String, stop: StopFlag?) throws(PcapError) -> (UnsafeMutablePointer<FILE>, StreamCookie) {
        let cookie: StreamCookie
        if path == "-" {
            // Not fd 0's flags: the descriptor is shared with whoever started us. poll(2) before read(2) suffices.
            cookie = StreamCookie(descriptor: STDIN_FILENO, closesDescriptor: false, stop: stop)
        } else {
            let descriptor = Glibc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
            guard descriptor >= 0 else { throw PcapError(source: path, message: String(cString: strerror(errno))) }
            cookie = StreamCookie(descriptor: descriptor, closesDescriptor: true, stop: stop)
        }
        guard let file = StreamInput.file(cookie) else {
            let message = String(cString: strerror(errno))
            if cookie.closesDescriptor { Glibc.close(cookie.descriptor) }
            throw PcapError(source: path, message: message)
        }
        // A pipe's worth per refill (a read returns what is there, so a bigger buffer delays nothing).
        setvbuf(file, nil, _IOFBF, 1 << 16)
        return (file, cookie)
    }
}
