// Buffered output to a file descriptor with every write checked: a reader that goes away (`| head`) or a full
// disk is reported, not ignored.

import Glibc

public final class BufferedOutput {
    public let descriptor: Int32
    var buffer: [UInt8] = []
    let limit: Int
    /// Set when a write failed; later writes are dropped and counted.
    public private(set) var failure: Int32?
    public private(set) var linesWritten: UInt64 = 0
    public private(set) var linesLost: UInt64 = 0

    public init(descriptor: Int32 = 1, bufferSize: Int = 1 << 16) {
        self.descriptor = descriptor
        limit = bufferSize
        buffer.reserveCapacity(bufferSize + 1024)
    }

    deinit { flush() }

    /// Appends `line` and a newline; flushes when the buffer is full.
    public func writeLine(_ line: String) {
        guard failure == nil else {
            linesLost &+= 1
            return
        }
        buffer.append(contentsOf: line.utf8)
        buffer.append(0x0a)
        linesWritten &+= 1
        if buffer.count >= limit { flush() }
    }

    /// Writes everything buffered. Returns false (and records `failure`) if the descriptor refused it.
    @discardableResult
    public func flush() -> Bool {
        guard failure == nil else { return false }
        var written = 0
        while written < buffer.count {
            let result = buffer.withUnsafeBytes { raw in
                write(descriptor, raw.baseAddress! + written, raw.count - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                failure = errno
                buffer.removeAll(keepingCapacity: true)
                return false
            }
            written += result
        }
        buffer.removeAll(keepingCapacity: true)
        return true
    }

    /// The failure as text (`Broken pipe`, `No space left on device`, ...).
    public var failureDescription: String? {
        failure.map { String(cString: strerror($0)) }
    }
}
