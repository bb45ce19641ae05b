// The one owner of a `pcap_t`: every libpcap call goes through it, every return code is checked, and the handle
// is closed exactly once when the owner goes away.
//
// Packets are read with `pcap_next_ex` rather than a `pcap_dispatch` callback. Both hand over libpcap's own buffer
// without copying; `pcap_next_ex` lets the caller's loop stay generic over its handler (`some PacketHandler`), so
// the per-packet call is direct and specialised, with no C callback, no context box and no retain/release, and
// it lets the replay merge several files by holding one pending packet per file.

import CPcap
import PacketDecoding

/// Size of libpcap's error buffer (`PCAP_ERRBUF_SIZE`).
let errorBufferSize = 256

/// Calls `body` with a zeroed libpcap error buffer and returns its text too.
func withErrorBuffer<T>(_ body: (UnsafeMutablePointer<CChar>) -> T) -> (T, String) {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: errorBufferSize) { buffer in
        buffer.initialize(repeating: 0)
        let result = body(buffer.baseAddress!)
        return (result, String(cString: buffer.baseAddress!))
    }
}

public final class PcapHandle {
    let pointer: OpaquePointer
    /// The file path or interface name, for error messages.
    public let source: String

    init(pointer: OpaquePointer, source: String) {
        self.pointer = pointer
        self.source = source
    }

    deinit {
        pcap_close(pointer)
    }

    /// libpcap's message for the last error on this handle.
    var lastError: String { String(cString: pcap_geterr(pointer)) }

    public var linkType: LinkType { LinkType(rawValue: pcap_datalink(pointer)) }
    public var snapshotLength: Int { Int(pcap_snapshot(pointer)) }

    /// Compiles `expression` with libpcap for this handle's link type and installs it.
    func setFilter(_ expression: String) throws(PcapError) {
        var program = bpf_program()
        guard pcap_compile(pointer, &program, expression, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            throw PcapError(source: source, message: "bad filter expression '\(expression)': \(lastError)")
        }
        defer { pcap_freecode(&program) }
        guard pcap_setfilter(pointer, &program) == 0 else {
            throw PcapError(source: source, message: "cannot install filter '\(expression)': \(lastError)")
        }
    }

    /// Reads the next packet. Timestamps are nanoseconds when the handle was opened with nanosecond precision.
    /// `unsignedSeconds`: the seconds field of a pcap file record is an unsigned 32-bit count (good until 2106), which
    /// libpcap 1.10 sign-extends; pcapng and live captures carry full 64-bit times.
    @inline(__always)
    func read(linkType: LinkType, nanosecondPrecision: Bool, unsignedSeconds: Bool = false, packetsRead: Int,
              offset: () -> Int64?) throws(PcapError) -> ReadResult {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        let status = pcap_next_ex(pointer, &header, &data)
        switch status {
        case 1:
            let h = header!.pointee
            let fraction = Int64(h.ts.tv_usec)
            let nanos = nanosecondPrecision ? fraction : fraction &* 1000
            var seconds = Int64(h.ts.tv_sec)
            if unsignedSeconds { seconds = Int64(UInt32(truncatingIfNeeded: seconds)) }
            // pcapng time offsets and resolutions can describe times no clock needs; keep them representable.
            seconds = min(max(seconds, Timestamp.representableSeconds.lowerBound + 1),
                          Timestamp.representableSeconds.upperBound - 1)
            let captured = Int(h.caplen)
            return .packet(
                CapturedPacket(
                    timestamp: Timestamp(seconds: seconds, nanoseconds: nanos),
                    capturedLength: captured,
                    wireLength: Int(h.len),
                    linkType: linkType,
                    bytes: UnsafeRawBufferPointer(start: data, count: captured)))
        case 0:
            return .timeout
        case PCAP_ERROR_BREAK:
            return .end
        default:
            throw PcapError(source: source, message: lastError, offset: offset(), packetsRead: packetsRead)
        }
    }
}

/// Checks a filter expression's syntax once, before any file is opened, so a typo stops the run up front.
public func validateFilter(_ expression: String, linkType: LinkType = .ethernet) throws(PcapError) {
    guard let dead = pcap_open_dead(linkType.rawValue, 262_144) else {
        throw PcapError(source: "filter", message: "pcap_open_dead failed")
    }
    let handle = PcapHandle(pointer: dead, source: "filter")
    try handle.setFilterCompileOnly(expression)
}

extension PcapHandle {
    func setFilterCompileOnly(_ expression: String) throws(PcapError) {
        var program = bpf_program()
        guard pcap_compile(pointer, &program, expression, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            throw PcapError(source: "filter", message: "bad filter expression '\(expression)': \(lastError)")
        }
        pcap_freecode(&program)
    }
}

/// The libpcap version string (`pcap_lib_version`).
public var libpcapVersion: String { String(cString: pcap_lib_version()) }
