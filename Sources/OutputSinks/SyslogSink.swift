// Alerts to a syslog collector without ever blocking the capture loop: non-blocking sockets, a bounded FIFO that
// holds messages while the collector is away, reconnection with backoff (both DeliveryQueue.swift, shared with any
// other network sink), and counters for every message that does not make it (no alert is lost silently).

import Detection
import Glibc

/// What a syslog sink did. `accepted == sent + queued + droppedQueueFull + rejected + undeliverable` always.
public struct SyslogStatistics: Sendable, Equatable, CustomStringConvertible {
    /// The destination as the user wrote it, normalized: `tcp://127.0.0.1:514`.
    public var destination: String
    /// Alerts given to `send`.
    public var accepted: UInt64 = 0
    /// Messages handed to the kernel in full. For UDP that is all anyone can know; for TCP the bytes are in the
    /// connection: a message the collector's TCP had not acknowledged when the connection broke is taken back
    /// (no longer counted here) and queued again, and `close` waits for the collector to acknowledge the rest.
    public var sent: UInt64 = 0
    /// TCP: messages queued again because the connection broke before the collector's TCP acknowledged all of
    /// their bytes (SIOCOUTQ), and so sent again on the next connection. The collector may have received some of
    /// them (the acknowledgment lost with the connection): a resent message may arrive twice.
    public var resent: UInt64 = 0
    /// TCP: messages sent whose bytes the collector had not acknowledged when `close` gave up waiting. The kernel
    /// still tries to deliver them after the close; they may be lost.
    public var unacknowledgedAtClose: UInt64 = 0
    /// Messages waiting now.
    public var queued: Int = 0
    /// The oldest messages, dropped to make room when the queue was full.
    public var droppedQueueFull: UInt64 = 0
    /// Messages the socket refused for good (EMSGSIZE: a datagram larger than the transport carries).
    public var rejected: UInt64 = 0
    /// Messages still queued when `close` gave up, or sent after it.
    public var undeliverable: UInt64 = 0
    /// Connections made again after the first one was lost (or the collector restarted).
    public var reconnects: UInt64 = 0
    /// The latest failure, with the C library's words: `connect tcp://127.0.0.1:514: Connection refused`.
    public var lastError: String?

    public init(destination: String) {
        self.destination = destination
    }

    /// Every message that will never reach the collector.
    public var lost: UInt64 { droppedQueueFull &+ rejected &+ undeliverable }

    /// `syslog tcp://127.0.0.1:514: 120 sent, 0 queued, 0 lost (0 queue full, 0 rejected, 0 undeliverable), 1 reconnect`.
    public var description: String {
        var line = "syslog \(destination): \(sent) sent, \(queued) queued, \(lost) lost (\(droppedQueueFull) queue full, "
        line += "\(rejected) rejected, \(undeliverable) undeliverable), \(reconnects) reconnect"
        if reconnects != 1 { line += "s" }
        if resent > 0 { line += ", \(resent) resent after a broken connection (possible duplicates)" }
        if unacknowledgedAtClose > 0 {
            line += ", \(unacknowledgedAtClose) not acknowledged by the collector at close (at risk)"
        }
        if let lastError { line += ", last error: " + lastError }
        return line
    }
}

/// A syslog sink: formats each alert and delivers it to one destination.
///
/// Nothing here blocks: sockets are non-blocking, TCP connects complete in the background, and a message that
/// cannot be written now waits in the queue for the next `send` or `tick`. Call `tick()` periodically (the live
/// loop does every read timeout) so retries happen while no alert arrives. Host names are resolved once, by
/// `init`, before capture starts. One thread at a time, like `BufferedOutput`.
///
/// A message leaves the queue only when all of its bytes are written; a TCP connection that breaks half-way
/// through one resends it whole on the next connection (at worst the collector also logs the cut frame of the
/// old connection: a message may arrive twice, never not at all). Before each TCP write the sink checks whether the collector has closed its side, because the
/// kernel accepts a write after the peer's FIN and then throws it away: a collector that stops or restarts loses
/// nothing. RFC 6587 has no acknowledgements, but TCP's are visible: the messages written on a connection are kept
/// until the kernel says the collector's TCP acknowledged their last byte (SIOCOUTQ, bytes not yet acknowledged),
/// and when the connection breaks (a collector killed with bytes in flight or in our send buffer) the ones not
/// acknowledged go back to the front of the queue and are sent again (possible duplicates). Still at risk: what
/// the collector's TCP acknowledged but its process had not read when it died (at most its receive buffer);
/// RELP exists for that.
public final class SyslogSink {
    public static let defaultQueueCapacity = 10_000
    /// Reconnection backoff: the first retry after a lost connection is immediate, then 0.5 s doubling to 30 s.
    public static let initialRetryDelay = 0.5
    public static let maximumRetryDelay = 30.0
    /// A TCP connect that neither succeeds nor fails in this time (a collector behind a black hole) is abandoned.
    public static let connectTimeout = 10.0

    public let destination: SyslogDestination
    public let formatter: SyslogFormatter
    public let queueCapacity: Int

    private enum Phase {
        case disconnected(retryAt: Double)
        case connecting(since: Double)
        case connected
    }

    private let addresses: [SocketAddress]
    private var nextAddress = 0
    /// For unix destinations: the socket turned out to be SOCK_STREAM (connect said EPROTOTYPE).
    private var usesStream: Bool
    private var socket: SyslogSocket?
    private var phase = Phase.disconnected(retryAt: 0)
    private var backoff = RetryBackoff(initial: SyslogSink.initialRetryDelay, maximum: SyslogSink.maximumRetryDelay)
    private var hasConnected = false
    /// A message went through on the current connection: if it breaks now, reconnect at once, not after a delay.
    private var deliveredOnConnection = false
    private var queue: DeliveryQueue
    /// The head message's frame and how much of it this connection has taken (stream sockets).
    private var headFrame: [UInt8] = []
    private var headWritten = 0
    /// TCP: messages written whole on this connection whose last byte the collector's TCP has not acknowledged
    /// (as far as the last look at SIOCOUTQ knows), oldest first, with their frame lengths; and the bytes of
    /// this connection before the first of them.
    private var unacknowledged = MessageFIFO()
    private var unacknowledgedLengths = FIFO<Int>()
    /// TCP: bytes written on this connection, whole frames and the head's part.
    private var connectionBytes = 0
    /// TCP: bytes of this connection before the first message in `unacknowledged`.
    private var acknowledgedBytes = 0
    private var counters: SyslogStatistics
    private var isClosed = false

    /// A sink for `destination`. Throws for an unusable app name or capacity and for a host name that does not
    /// resolve; a collector that is not there yet is not an error (messages wait for it).
    public convenience init(destination: SyslogDestination = .unix(path: SyslogDestination.defaultSocketPath),
                            format: SyslogMessageFormat = .rfc5424, facility: SyslogFacility = .local0,
                            appName: String = "idlewatch",
                            queueCapacity: Int = SyslogSink.defaultQueueCapacity) throws(SyslogError) {
        var isUnix = false
        if case .unix = destination { isUnix = true }
        let formatter = try SyslogFormatter(format: format, facility: facility, appName: appName,
                                            omitsHostnameIn3164: isUnix)
        try self.init(destination: destination, formatter: formatter, queueCapacity: queueCapacity)
    }

    /// A sink with a formatter of your own (a fixed host name or process id, for tests and golden files).
    public init(destination: SyslogDestination, formatter: SyslogFormatter,
                queueCapacity: Int = SyslogSink.defaultQueueCapacity) throws(SyslogError) {
        guard queueCapacity >= 1 else { throw .invalidQueueCapacity(queueCapacity) }
        self.destination = destination
        self.formatter = formatter
        self.queueCapacity = queueCapacity
        queue = DeliveryQueue(capacity: queueCapacity)
        switch destination {
        case .unix(let path):
            addresses = [SocketAddress.unix(path: path)]
            usesStream = false
        case .udp(let host, let port):
            addresses = try SocketAddress.resolve(host: host, port: port, stream: false)
            usesStream = false
        case .tcp(let host, let port):
            addresses = try SocketAddress.resolve(host: host, port: port, stream: true)
            usesStream = true
        }
        counters = SyslogStatistics(destination: destination.description)
        pump(now: monotonicSeconds())
    }

    public var statistics: SyslogStatistics {
        var snapshot = counters
        snapshot.queued = queue.count
        return snapshot
    }

    /// Whether a connection is up (datagram sockets: connected to the collector's address).
    public var isConnected: Bool {
        if case .connected = phase { return true }
        return false
    }

    /// Queues the alert and writes what the socket takes now.
    public func send(_ alert: Alert) {
        deliver(formatter.message(alert), what: "alert \(alert.id)")
    }

    /// Queues the closing record as `send` an alert.
    public func send(heldBack record: HeldBackRecord) {
        deliver(formatter.message(record), what: "a closing record")
    }

    /// Counts `message` accepted, queues it (or counts it undeliverable after `close`) and writes what it can.
    private func deliver(_ message: @autoclosure () -> [UInt8], what: String) {
        counters.accepted &+= 1
        guard !isClosed else {
            counters.undeliverable &+= 1
            counters.lastError = "\(what) sent after the sink was closed"
            return
        }
        enqueue(message())
        pump(now: monotonicSeconds())
    }

    /// Retries a connection that is due and writes what is queued. Cheap when there is nothing to do.
    public func tick() {
        guard !isClosed else { return }
        pump(now: monotonicSeconds())
    }

    /// Delivers what is queued within `seconds` (trying a connection straight away if there is none, and for TCP
    /// waiting until the collector has acknowledged every byte), then counts whatever is left as undeliverable and
    /// closes. Later `send`s are counted as undeliverable too.
    @discardableResult
    public func close(waitingUpTo seconds: Double) -> SyslogStatistics {
        guard !isClosed else { return statistics }
        var now = monotonicSeconds()
        let deadline = now + max(0, seconds)
        if case .disconnected = phase { phase = .disconnected(retryAt: now) }
        while true {
            pump(now: now)
            let inKernel = isConnected ? socket?.unacknowledgedBytes() ?? 0 : 0
            if queue.isEmpty && inKernel == 0 { break }
            now = monotonicSeconds()
            if now >= deadline {
                if inKernel > 0 {
                    if isConnected { trimAcknowledged() }
                    counters.unacknowledgedAtClose = UInt64(unacknowledged.count)
                }
                if queue.isEmpty {
                    counters.lastError = "\(inKernel) bytes not yet acknowledged by the collector at close"
                }
                break
            }
            let milliseconds = Int32(min(10, max(1, (deadline - now) * 1000)))
            if isConnected && !queue.isEmpty && socket?.isStream == true {
                socket?.waitWritable(milliseconds: milliseconds)
            } else {
                usleep(UInt32(milliseconds) * 1000)
            }
            now = monotonicSeconds()
        }
        if !queue.isEmpty {
            counters.undeliverable &+= UInt64(queue.count)
            if counters.lastError == nil { counters.lastError = "collector unreachable at close" }
            queue.removeAll()
        }
        if isConnected { socket?.shutdownWriting() }
        socket = nil
        isClosed = true
        return statistics
    }

    deinit {
        if !isClosed { close(waitingUpTo: 0) }
    }

    // MARK: The queue

    /// Appends, dropping the oldest message when full. A half-written head stays (dropping it would cut a TCP
    /// frame), so the next oldest goes instead, or this message when the head is all there is.
    private func enqueue(_ message: [UInt8]) {
        if queue.enqueue(message, headInProgress: headWritten > 0) {
            counters.droppedQueueFull &+= 1
            counters.lastError = "queue full (\(queueCapacity) messages): oldest dropped"
        }
    }

    // MARK: Connection and writing

    private func pump(now: Double) {
        if case .disconnected(let retryAt) = phase {
            guard now >= retryAt else { return }
            connect(now: now)
        }
        if case .connecting(let since) = phase {
            switch socket?.connectionResult() {
            case nil:
                if now - since >= SyslogSink.connectTimeout { failed("connect", SocketErrno(code: ETIMEDOUT), now: now) }
                return
            case .success?:
                connected()
            case .failure(let error)?:
                failed("connect", error, now: now)
                return
            }
        }
        if case .connected = phase { flush(now: now) }
    }

    private func connect(now: Double) {
        let address = addresses[nextAddress % addresses.count]
        do {
            do {
                try open(address, now: now)
            } catch let error where error.code == EPROTOTYPE && address.family == AF_UNIX {
                // The socket is of the other type (SOCK_STREAM, as syslog-ng's unix-stream): switch, try again now.
                usesStream.toggle()
                try open(address, now: now)
            }
        } catch {
            failed("connect", error, now: now)
        }
    }

    private func open(_ address: SocketAddress, now: Double) throws(SocketErrno) {
        let opened = try SyslogSocket(connectingTo: address, stream: usesStream)
        let inProgress = opened.isConnecting
        socket = consume opened
        if inProgress { phase = .connecting(since: now) } else { connected() }
    }

    private func connected() {
        phase = .connected
        if hasConnected { counters.reconnects &+= 1 }
        hasConnected = true
        deliveredOnConnection = false
        headWritten = 0
        connectionBytes = 0
        acknowledgedBytes = 0
    }

    /// A whole message is out: the connection works, so the backoff starts again from the beginning.
    private func delivered() {
        if case .tcp = destination, let message = queue.first {
            // Kept until the collector's TCP acknowledges it (`trimAcknowledged`).
            unacknowledged.append(message)
            unacknowledgedLengths.append(headFrame.count)
        }
        queue.removeFirst()
        counters.sent &+= 1
        deliveredOnConnection = true
        backoff.reset()
    }

    /// TCP: forgets the messages whose every byte the collector's TCP has acknowledged. SIOCOUTQ counts the bytes
    /// written but not acknowledged (sent or not), so the acknowledged ones are the first `connectionBytes - outq`.
    private func trimAcknowledged() {
        guard let outstanding = socket?.unacknowledgedBytes() else { return }
        let acknowledged = connectionBytes - min(outstanding, connectionBytes)
        while let length = unacknowledgedLengths.first, acknowledgedBytes + length <= acknowledged {
            acknowledgedBytes += length
            unacknowledgedLengths.removeFirst()
            unacknowledged.removeFirst()
        }
    }

    /// TCP, the connection broke: the messages the collector's TCP never acknowledged go back to the front of the
    /// queue, in order, to be sent again (taken back from `sent`, counted as `resent`).
    private func requeueUnacknowledged() {
        trimAcknowledged()
        let count = unacknowledged.count
        if count > 0 {
            var messages: [[UInt8]] = []
            messages.reserveCapacity(count)
            while let message = unacknowledged.first {
                messages.append(message)
                unacknowledged.removeFirst()
            }
            let dropped = queue.requeue(messages)
            counters.sent &-= UInt64(count)
            counters.resent &+= UInt64(count)
            // The queue's bound holds for them too: beyond it the oldest go, counted.
            if dropped > 0 {
                counters.droppedQueueFull &+= UInt64(dropped)
                counters.lastError = "queue full (\(queueCapacity) messages): oldest dropped"
            }
        }
        unacknowledged.removeAll()
        unacknowledgedLengths.removeAll()
        connectionBytes = 0
        acknowledgedBytes = 0
    }

    /// A connect that failed: try the next address after the backoff delay, which doubles up to the maximum.
    private func failed(_ operation: String, _ error: SocketErrno, now: Double) {
        socket = nil
        counters.lastError = "\(operation) \(addresses[nextAddress % addresses.count].text): \(error)"
        nextAddress &+= 1
        phase = .disconnected(retryAt: now + backoff.next())
    }

    /// A connection that was up and broke: the head message will be resent whole. After a connection that
    /// delivered, reconnect at once (a restarted collector is usually back); after one that did not, back off, so
    /// a collector that accepts and then refuses every message is not hammered.
    private func lost(_ reason: String, now: Double) {
        // Before the socket goes: SIOCOUTQ still tells, after a reset, what the collector never acknowledged.
        if case .tcp = destination { requeueUnacknowledged() }
        socket = nil
        counters.lastError = "\(destination): \(reason)"
        headWritten = 0
        if deliveredOnConnection {
            phase = .disconnected(retryAt: now)
        } else {
            phase = .disconnected(retryAt: now + backoff.next())
        }
    }

    private func flush(now: Double) {
        guard let stream = socket?.isStream else { return }
        if stream {
            // Asked on every tick, even with nothing to send, so a restarted collector is reconnected before
            // the next alert needs it.
            if let reason = socket?.peerGone() { return lost(reason, now: now) }
            writeStream(now: now)
            if case .tcp = destination, !unacknowledged.isEmpty { trimAcknowledged() }
        } else {
            writeDatagrams(now: now)
        }
    }

    private func writeStream(now: Double) {
        while let message = queue.first {
            if headWritten == 0 { headFrame = frame(message) }
            guard let result = socket?.send(headFrame[headWritten...]) else { return }
            switch result {
            case .success(let count):
                headWritten += count
                connectionBytes += count
                if headWritten == headFrame.count {
                    headWritten = 0
                    delivered()
                }
            case .failure(let error) where error.code == EAGAIN || error.code == EWOULDBLOCK:
                return  // the collector is slow: the rest waits for the next tick
            case .failure(let error):
                return lost(error.description, now: now)
            }
        }
    }

    private func writeDatagrams(now: Double) {
        while let message = queue.first {
            guard let result = socket?.send(message[...]) else { return }
            switch result {
            case .success:
                delivered()
            case .failure(let error) where error.code == EMSGSIZE:
                queue.removeFirst()
                counters.rejected &+= 1
                counters.lastError = "send \(destination): \(error) (\(message.count) bytes)"
            case .failure(let error) where addresses[0].family == AF_UNIX && error.code != EAGAIN
                && error.code != EWOULDBLOCK && error.code != ENOBUFS:
                // The reader went away (ECONNREFUSED, ENOTCONN): connect again, to whoever owns the path now.
                return lost("send: \(error)", now: now)
            case .failure(let error):
                // A full buffer (EAGAIN, ENOBUFS) or, for UDP, an ICMP error about an earlier datagram reported
                // now (ECONNREFUSED, EHOSTUNREACH): this one was not sent; it waits for the next tick.
                counters.lastError = "send \(destination): \(error)"
                return
            }
        }
    }

    /// TCP: RFC 6587 octet counting, `LEN SP MSG`. Unix stream: the message and a NUL, as glibc's syslog(3).
    private func frame(_ message: [UInt8]) -> [UInt8] {
        if case .tcp = destination { return Array("\(message.count) ".utf8) + message }
        return message + [0]
    }
}

extension SyslogSink: AlertSink {
    public var name: String { "syslog \(destination)" }

    public func close(within seconds: Double) -> SinkReport {
        let statistics = close(waitingUpTo: seconds)
        var loss: String?
        if statistics.lost > 0 {
            loss = "syslog \(destination): \(statistics.lost) alert\(statistics.lost == 1 ? "" : "s") not delivered ("
                + "\(statistics.droppedQueueFull) queue full, \(statistics.rejected) rejected, "
                + "\(statistics.undeliverable) undeliverable)" + (statistics.lastError.map { ", last error: " + $0 } ?? "")
        }
        return SinkReport(name: name, line: statistics.description, lost: statistics.lost, lossMessage: loss)
    }

    public var statusLine: String { statistics.description }
}
