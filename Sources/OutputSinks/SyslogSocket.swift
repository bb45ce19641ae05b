// The syslog sink's C side: resolved socket addresses and one owned non-blocking socket (the messages waiting for
// it are in DeliveryQueue.swift). Every call that can fail returns the C errno; `strerror` text goes into statistics.

import Glibc

/// An errno value from a socket call (swift-system's `Errno`, without the dependency).
struct SocketErrno: Error, Equatable, CustomStringConvertible {
    var code: Int32

    static var current: SocketErrno { SocketErrno(code: errno) }

    var description: String { String(cString: strerror(code)) }
}

/// A `sockaddr` in bytes, with the family it belongs to and a printable form for messages.
struct SocketAddress: Sendable {
    var family: Int32
    var bytes: [UInt8]
    var text: String

    /// `sockaddr_un` for `path`: the family, the path bytes, a NUL.
    static func unix(path: String) -> SocketAddress {
        var bytes = withUnsafeBytes(of: sa_family_t(AF_UNIX)) { Array($0) }
        bytes += path.utf8
        bytes.append(0)
        return SocketAddress(family: AF_UNIX, bytes: bytes, text: path)
    }

    /// Every address `host` resolves to for `port`, in getaddrinfo's order (RFC 6724 preference).
    ///
    /// getaddrinfo blocks on DNS for names, so this runs once, when the sink is made (before capture starts);
    /// literals never touch the resolver.
    static func resolve(host: String, port: UInt16, stream: Bool) throws(SyslogError) -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(stream ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0 else {
            let reason = status == EAI_SYSTEM ? SocketErrno.current.description : String(cString: gai_strerror(status))
            throw .unresolvableHost(host, reason: reason)
        }
        defer { freeaddrinfo(list) }
        var addresses: [SocketAddress] = []
        var entry = list
        while let info = entry?.pointee {
            if let raw = info.ai_addr, info.ai_family == AF_INET || info.ai_family == AF_INET6 {
                let bytes = Array(UnsafeRawBufferPointer(start: raw, count: Int(info.ai_addrlen)))
                addresses.append(SocketAddress(family: info.ai_family, bytes: bytes,
                                               text: numericText(raw, length: info.ai_addrlen)))
            }
            entry = info.ai_next
        }
        guard !addresses.isEmpty else { throw .unresolvableHost(host, reason: "no IPv4 or IPv6 address") }
        return addresses
    }

    /// `192.0.2.1:514`, `[2001:db8::1]:514`.
    private static func numericText(_ address: UnsafePointer<sockaddr>, length: socklen_t) -> String {
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        guard getnameinfo(address, length, &host, socklen_t(host.count), &service, socklen_t(service.count),
                          NI_NUMERICHOST | NI_NUMERICSERV) == 0 else { return "?" }
        let hostText = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let serviceText = String(decoding: service.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return SyslogDestination.bracketed(hostText) + ":" + serviceText
    }
}

/// One non-blocking, close-on-exec socket, connected or connecting to a syslog collector. Closed when this value
/// goes away, so the sink cannot leak or double-close a descriptor.
struct SyslogSocket: ~Copyable {
    let descriptor: Int32
    let isStream: Bool
    /// connect() returned EINPROGRESS: writable (or failed) later; see `connectionResult()`.
    let isConnecting: Bool

    /// `socket()` then `connect()`, never blocking.
    init(connectingTo address: SocketAddress, stream: Bool) throws(SocketErrno) {
        let type = (stream ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue) | SOCK_NONBLOCK.rawValue
            | SOCK_CLOEXEC.rawValue
        let descriptor = socket(address.family, Int32(type), 0)
        guard descriptor >= 0 else { throw SocketErrno.current }
        if stream && address.family != AF_UNIX {
            // A collector that vanishes without a FIN (power loss, a dropped route) is noticed within hours
            // instead of never; RFC 6587 has no application-level keepalive.
            var on: Int32 = 1
            _ = setsockopt(descriptor, SOL_SOCKET, SO_KEEPALIVE, &on, socklen_t(MemoryLayout<Int32>.size))
        }
        var result: Int32
        repeat {
            result = address.bytes.withUnsafeBytes { raw in
                connect(descriptor, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
            }
        } while result < 0 && errno == EINTR
        if result < 0 && errno != EINPROGRESS {
            let failure = SocketErrno.current
            Glibc.close(descriptor)
            throw failure
        }
        self.descriptor = descriptor
        self.isStream = stream
        self.isConnecting = result < 0
    }

    deinit { Glibc.close(descriptor) }

    /// For a connect in progress: nil while it is still going, then success or the error (SO_ERROR).
    func connectionResult() -> Result<Void, SocketErrno>? {
        var entry = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
        guard poll(&entry, 1, 0) > 0, entry.revents != 0 else { return nil }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &length) == 0 else {
            return .failure(.current)
        }
        return error == 0 ? .success(()) : .failure(SocketErrno(code: error))
    }

    /// Stream sockets: whether the collector has closed its side. Collectors never write to us (RFC 6587), so
    /// anything readable is an end of stream or an error; a write after the collector's FIN would be accepted by
    /// the kernel and lost, which is why this is asked before writing. Returns the reason the peer is gone.
    func peerGone() -> String? {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, 0) > 0, entry.revents != 0 else { return nil }
        var scratch = [UInt8](repeating: 0, count: 512)
        while true {
            let count = recv(descriptor, &scratch, scratch.count, Int32(MSG_DONTWAIT))
            if count == 0 { return "the collector closed the connection" }
            if count > 0 { continue }  // something a collector sent unasked: read and ignore
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
            return SocketErrno.current.description
        }
    }

    /// One non-blocking `send` without SIGPIPE: the byte count, or the errno.
    func send(_ bytes: ArraySlice<UInt8>) -> Result<Int, SocketErrno> {
        while true {
            let count = bytes.withUnsafeBytes { raw in
                Glibc.send(descriptor, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            }
            if count >= 0 { return .success(count) }
            if errno != EINTR { return .failure(.current) }
        }
    }

    /// Waits up to `milliseconds` until the socket is writable (or failed).
    func waitWritable(milliseconds: Int32) {
        var entry = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
        _ = poll(&entry, 1, milliseconds)
    }

    /// Bytes written but not yet acknowledged by the peer (Linux SIOCOUTQ); 0 for datagram sockets.
    func unacknowledgedBytes() -> Int {
        guard isStream else { return 0 }
        var count: Int32 = 0
        guard ioctl(descriptor, siocOutQ, &count) == 0 else { return 0 }
        return Int(count)
    }

    /// Tells the collector no more is coming; what the kernel holds is still sent.
    func shutdownWriting() {
        _ = shutdown(descriptor, Int32(SHUT_WR))
    }
}

/// `SIOCOUTQ` (= `TIOCOUTQ`) from linux/sockios.h, which Glibc does not export to Swift.
private let siocOutQ: UInt = 0x5411

/// Seconds on the monotonic clock: for retry schedules only. Analysis never reads a clock (packet time rules);
/// delivery to a collector is I/O and happens in real time.
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
