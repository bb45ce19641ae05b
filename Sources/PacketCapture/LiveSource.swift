// Live capture from an interface: pcap_create, options, pcap_activate (warnings kept, errors typed), a BPF filter,
// and pcap_stats figures; a `PacketSource` (PacketSource.swift), read by the same reader loop as a replay.

import CPcap
import Glibc
import PacketDecoding

/// Capture options, named as tcpdump's flags.
public struct LiveOptions: Sendable {
    /// `-s`: bytes kept per packet; 0 means libpcap's default (262144).
    public var snapshotLength = 262_144
    /// Promiscuous mode (on unless `-p`).
    public var promiscuous = true
    /// `-B`: kernel buffer size in bytes; nil keeps libpcap's default (2 MiB on Linux).
    public var bufferSize: Int?
    /// `--immediate-mode`: deliver each packet at once instead of when the buffer fills or the timeout passes.
    public var immediate = false
    /// Read timeout in milliseconds: how often an idle read returns so the caller can check signals and timers.
    public var timeoutMilliseconds = 200
    /// BPF filter expression, compiled by libpcap.
    public var filter: String?

    public init() {}
}

/// Packet counts from `pcap_stats`: received by the filter, dropped for lack of buffer space, dropped by the
/// interface or driver (not supported everywhere).
public struct CaptureStatistics: Equatable, Sendable {
    public var received: UInt64
    public var dropped: UInt64
    public var interfaceDropped: UInt64

    public init(received: UInt64, dropped: UInt64, interfaceDropped: UInt64) {
        self.received = received
        self.dropped = dropped
        self.interfaceDropped = interfaceDropped
    }
}

public final class LiveSource: PacketSource {
    public let interface: String
    /// Set by `breakLoop()`, from any thread; `deliver` checks it between reads.
    let stop = StopFlag()
    let handle: PcapHandle
    let nanosecondPrecision: Bool
    public private(set) var packetsRead = 0
    /// Warnings from pcap_activate (for example, promiscuous mode not supported), in libpcap's words.
    public private(set) var warnings: [String] = []

    public init(interface: String, options: LiveOptions = LiveOptions()) throws(PcapError) {
        self.interface = interface
        let (created, message) = withErrorBuffer { buffer in pcap_create(interface, buffer) }
        guard let created else { throw PcapError(source: interface, message: message) }
        let handle = PcapHandle(pointer: created, source: interface)
        self.handle = handle
        func check(_ status: Int32, _ what: String) throws(PcapError) {
            guard status == 0 else {
                throw PcapError(source: interface, message: "\(what): \(String(cString: pcap_statustostr(status)))")
            }
        }
        try check(pcap_set_snaplen(created, Int32(clamping: options.snapshotLength == 0 ? 262_144 : options.snapshotLength)),
                  "cannot set snapshot length")
        try check(pcap_set_promisc(created, options.promiscuous ? 1 : 0), "cannot set promiscuous mode")
        try check(pcap_set_timeout(created, Int32(clamping: options.timeoutMilliseconds)), "cannot set read timeout")
        if let bufferSize = options.bufferSize {
            try check(pcap_set_buffer_size(created, Int32(clamping: bufferSize)), "cannot set buffer size")
        }
        if options.immediate {
            try check(pcap_set_immediate_mode(created, 1), "cannot set immediate mode")
        }
        nanosecondPrecision = pcap_set_tstamp_precision(created, Int32(PCAP_TSTAMP_PRECISION_NANO)) == 0
        let status = pcap_activate(created)
        if status < 0 {
            // For these codes libpcap's buffer holds the detail; for the others the status text says it all.
            let detail = handle.lastError
            let summary = String(cString: pcap_statustostr(status))
            let text = detail.isEmpty ? summary : (detail.contains(summary) ? detail : "\(summary): \(detail)")
            throw PcapError(source: interface, message: "cannot start capture: \(text)")
        }
        if status > 0 {
            let detail = handle.lastError
            warnings.append(detail.isEmpty ? String(cString: pcap_statustostr(status)) : detail)
        }
        if let filter = options.filter, !filter.isEmpty {
            try handle.setFilter(filter)
        }
        // A blocking read on Linux may wait for ever when no packet comes (TPACKET_V3 leaves the timeout to the
        // kernel's block timer; immediate mode polls without one), so the sensor could neither stop nor report.
        // Non-blocking reads plus our own poll() with the timeout keep the loop awake.
        let (nonblock, nonblockMessage) = withErrorBuffer { buffer in pcap_setnonblock(created, 1, buffer) }
        guard nonblock == 0 else {
            throw PcapError(source: interface, message: "cannot set non-blocking mode: \(nonblockMessage)")
        }
        selectableDescriptor = pcap_get_selectable_fd(created)
        linkType = handle.linkType
        timeoutMilliseconds = Int32(clamping: options.timeoutMilliseconds)
    }

    /// The read timeout in use (`LiveOptions.timeoutMilliseconds`).
    public let timeoutMilliseconds: Int32
    /// The descriptor poll() waits on (-1 where libpcap offers none; then the read timeout is libpcap's).
    var selectableDescriptor: Int32 = -1

    /// Read once the capture is active.
    public private(set) var linkType = LinkType.ethernet
    public var snapshotLength: Int { handle.snapshotLength }

    /// The next packet, `.timeout` when the read timeout passed with none, or `.end` after `breakLoop()`.
    @inline(__always)
    public func read() throws(PcapError) -> ReadResult {
        var result = try handle.read(linkType: linkType, nanosecondPrecision: nanosecondPrecision,
                                     packetsRead: packetsRead) { nil }
        if case .timeout = result, selectableDescriptor >= 0 {
            // Nothing buffered: wait for the descriptor, at most the timeout, then try once more.
            var poller = pollfd(fd: selectableDescriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, timeoutMilliseconds)
            if ready > 0 {
                result = try handle.read(linkType: linkType, nanosecondPrecision: nanosecondPrecision,
                                         packetsRead: packetsRead) { nil }
            }
        }
        if case .packet = result { packetsRead += 1 }
        return result
    }

    public var name: String { interface }
    /// A read waits at most the read timeout, then says the link is quiet.
    public var quietAfter: Duration? { .milliseconds(Int64(timeoutMilliseconds)) }

    /// Reads until the capture ends (`breakLoop()`, the interface went away: thrown) or `receiver` is done; each
    /// read timeout is a quiet period.
    public func deliver<Receiver: PacketHandler>(to receiver: inout Receiver, whenQuiet quiet: (() -> Void)?)
        throws(PcapError)
    {
        while !receiver.isDone && !stop.isSet {
            switch try read() {
            case .packet(let packet): receiver.handle(packet)
            case .timeout: quiet?()
            case .end: return
            }
        }
    }

    /// Makes a blocked or later `read()` return `.end` and `deliver` return; safe to call from another thread or a
    /// signal handler (an atomic store and pcap_breakloop, which libpcap documents as such).
    public func breakLoop() {
        stop.set()
        pcap_breakloop(handle.pointer)
    }

    /// The kernel's counters; nil when libpcap cannot read them now.
    public func captureStatistics() -> CaptureStatistics? {
        try? statistics()
    }

    /// Kernel and interface counters since the capture started.
    public func statistics() throws(PcapError) -> CaptureStatistics {
        var stats = pcap_stat()
        guard pcap_stats(handle.pointer, &stats) == 0 else {
            throw PcapError(source: interface, message: "cannot read statistics: \(handle.lastError)")
        }
        return CaptureStatistics(received: UInt64(stats.ps_recv), dropped: UInt64(stats.ps_drop),
                                 interfaceDropped: UInt64(stats.ps_ifdrop))
    }
}

/// A capture device as `pcap_findalldevs` lists it (`tcpdump -D`).
public struct CaptureInterface: Sendable {
    public var name: String
    public var description: String?
    public var isUp: Bool
    public var isRunning: Bool
    public var isLoopback: Bool
}

/// The interfaces libpcap can capture on.
public func captureInterfaces() throws(PcapError) -> [CaptureInterface] {
    var list: UnsafeMutablePointer<pcap_if_t>?
    let (status, message) = withErrorBuffer { buffer in pcap_findalldevs(&list, buffer) }
    guard status == 0 else { throw PcapError(source: "interfaces", message: message) }
    defer { pcap_freealldevs(list) }
    var result: [CaptureInterface] = []
    var node = list
    while let current = node {
        let flags = current.pointee.flags
        result.append(CaptureInterface(
            name: String(cString: current.pointee.name),
            description: current.pointee.description.map { String(cString: $0) },
            isUp: flags & UInt32(PCAP_IF_UP) != 0,
            isRunning: flags & UInt32(PCAP_IF_RUNNING) != 0,
            isLoopback: flags & UInt32(PCAP_IF_LOOPBACK) != 0))
        node = current.pointee.next
    }
    return result
}
