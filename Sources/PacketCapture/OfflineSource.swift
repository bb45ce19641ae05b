// A saved capture (pcap or pcapng, any byte order, micro- or nanosecond) read through libpcap.

import CPcap
import Glibc
import PacketDecoding

public final class OfflineSource {
    public let path: String
    let handle: PcapHandle
    public private(set) var packetsRead = 0
    /// The packet most recently read; its bytes stay valid until the next `advance()`.
    public private(set) var current: CapturedPacket?
    /// A pcap (not pcapng) file: its record seconds are unsigned 32-bit.
    let isPcapFormat: Bool
    /// One link type per handle (libpcap refuses files that mix them), read once rather than per packet.
    public let linkType: LinkType

    /// Opens `path` (`-` is standard input) with nanosecond timestamps and installs `filter` if given.
    public init(path: String, filter: String? = nil) throws(PcapError) {
        self.path = path
        let (pointer, message) = withErrorBuffer { buffer in
            pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), buffer)
        }
        guard let pointer else {
            throw PcapError(source: path, message: OfflineSource.explain(message, path: path))
        }
        handle = PcapHandle(pointer: pointer, source: path)
        isPcapFormat = pcap_major_version(pointer) == 2
        linkType = LinkType(rawValue: pcap_datalink(pointer))
        // libpcap passes a link-type field with reserved bits (16-25) through; no reader can know what follows.
        let linkType = handle.linkType.rawValue
        guard linkType >= 0 && linkType <= 0xffff else {
            throw PcapError(source: path, message: "invalid link type \(linkType): reserved bits of the link-type field are set")
        }
        if let filter, !filter.isEmpty {
            try handle.setFilter(filter)
        }
    }

    public var snapshotLength: Int { handle.snapshotLength }

    /// Byte position in the file, or nil for standard input and pipes.
    public var byteOffset: Int64? {
        guard let file = pcap_file(handle.pointer) else { return nil }
        let position = ftello(file)
        return position >= 0 ? Int64(position) : nil
    }

    /// Reads the next packet into `current` (nil at the end of the file). A read error names the file, the
    /// packets read before it and the byte offset.
    @discardableResult
    public func advance() throws(PcapError) -> CapturedPacket? {
        let result = try handle.read(linkType: linkType, nanosecondPrecision: true, unsignedSeconds: isPcapFormat,
                                     packetsRead: packetsRead) { byteOffset }
        switch result {
        case .packet(let packet):
            packetsRead += 1
            current = packet
        case .end, .timeout:
            current = nil
        }
        return current
    }

    /// Hands every remaining packet to `handler`, after `current`. The loop keeps its state in locals: reading and
    /// writing this object's properties per packet costs a dynamic exclusivity check each (a sixth of the replay
    /// time in perf), and a single file, the common case, needs no merge.
    public func drain<Handler: PacketHandler>(_ handler: inout Handler) throws(PcapError) {
        var count = packetsRead
        defer {
            packetsRead = count
            current = nil
        }
        let linkType = linkType, unsignedSeconds = isPcapFormat, handle = handle
        while !handler.isDone {
            let result = try handle.read(linkType: linkType, nanosecondPrecision: true, unsignedSeconds: unsignedSeconds,
                                         packetsRead: count) { byteOffset }
            guard case .packet(let packet) = result else { return }
            count += 1
            handler.handle(packet)
        }
    }

    /// Adds a hint to libpcap's text when the file is compressed or is something else IdleWatch recognises.
    static func explain(_ libpcapMessage: String, path: String) -> String {
        // libpcap starts some messages with the path; the error already names the file.
        let message = libpcapMessage.hasPrefix(path + ": ") ? String(libpcapMessage.dropFirst(path.count + 2)) : libpcapMessage
        guard path != "-", ReplaySource.canReopen(path), let kind = CaptureFileKind.sniff(path: path) else { return message }
        switch kind {
        case .gzip: return "\(message) (the file is gzip-compressed: `zcat '\(path)' | idlewatch replay -`)"
        case .zstd: return "\(message) (the file is zstd-compressed: `zstdcat '\(path)' | idlewatch replay -`)"
        case .xz: return "\(message) (the file is xz-compressed: `xzcat '\(path)' | idlewatch replay -`)"
        case .bzip2: return "\(message) (the file is bzip2-compressed: `bzcat '\(path)' | idlewatch replay -`)"
        case .snoop: return "\(message) (the file is a Solaris snoop capture: convert it with `editcap -F pcap`)"
        case .pcap, .pcapng, .other: return message
        }
    }
}

/// What the first bytes of a file say it is.
public enum CaptureFileKind: Equatable, Sendable {
    case pcap, pcapng, gzip, zstd, xz, bzip2, snoop, other

    /// Whether libpcap can be asked to read it.
    public var isCapture: Bool { self == .pcap || self == .pcapng }
    public var isCompressed: Bool { self == .gzip || self == .zstd || self == .xz || self == .bzip2 }

    /// Classifies a file by its magic number; nil when it cannot be read.
    public static func sniff(path: String) -> CaptureFileKind? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var magic = [UInt8](repeating: 0, count: 8)
        let count = fread(&magic, 1, 8, file)
        return classify(Array(magic.prefix(count)))
    }

    public static func classify(_ magic: [UInt8]) -> CaptureFileKind {
        guard magic.count >= 4 else { return .other }
        let word = UInt32(magic[0]) << 24 | UInt32(magic[1]) << 16 | UInt32(magic[2]) << 8 | UInt32(magic[3])
        switch word {
        case 0xa1b2_c3d4, 0xd4c3_b2a1, 0xa1b2_3c4d, 0x4d3c_b2a1: return .pcap
        case 0x0a0d_0d0a: return .pcapng
        case 0x28b5_2ffd: return .zstd
        case 0xfd37_7a58: return .xz
        default: break
        }
        if magic[0] == 0x1f && magic[1] == 0x8b { return .gzip }
        if magic[0] == 0x42 && magic[1] == 0x5a && magic[2] == 0x68 { return .bzip2 }
        if magic.count >= 8 && magic == Array("snoop\0\0\0".utf8) { return .snoop }
        return .other
    }
}
