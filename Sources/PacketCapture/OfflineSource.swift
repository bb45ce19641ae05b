// A saved capture (pcap or pcapng, any byte order, micro- or nanosecond) read through libpcap, or through
// PcapngReader for the pcapng files libpcap 1.10 refuses and Wireshark reads.
//
// Which reader: libpcap for every pcap file and every pcapng file it reads, so the hot path stays pcap_next_ex.
// libpcap refuses a pcapng file whose interfaces differ in link type or snapshot length only when it meets the
// interface that differs, possibly after delivering packets, and it stops right after that block; a regular file is
// then handed to PcapngReader, which rereads it from the start to learn the interfaces and hands out only the packets
// after the offset where libpcap stopped: none twice, none lost. A file libpcap refuses at open for having no
// interface at all goes to PcapngReader whole. Standard input and pipes cannot be read twice, so there the first
// byte decides: a pcapng stream (a Section Header Block starts with 0x0A) goes to PcapngReader whole, anything else
// to libpcap as before.

import CPcap
import Glibc
import PacketDecoding

public final class OfflineSource {
    public let path: String
    /// The reader in use; libpcap's handle gives way to PcapngReader when libpcap gives up on the file (above).
    enum Reader {
        case libpcap(PcapHandle)
        case pcapng(PcapngReader)
    }
    var reader: Reader
    let filter: String?
    public private(set) var packetsRead = 0
    /// The packet most recently read; its bytes stay valid until the next `advance()`.
    public private(set) var current: CapturedPacket?
    /// Standard input, a pipe or a FIFO: read through a FILE whose reads wait in poll(2) (StreamInput.swift).
    let stream: StreamCookie?
    /// A pcap (not pcapng) file: its record seconds are unsigned 32-bit.
    let isPcapFormat: Bool
    /// The file's link type (pcap) or its first interface's (pcapng), read once rather than per packet; a pcapng
    /// file's packets each carry their own interface's. Ethernet for a pcapng file with no interface (no packets).
    public let linkType: LinkType
    /// The file's snapshot length, or its first interface's (0 in the file means the largest, 262144).
    public let snapshotLength: Int

    /// Opens `path` (`-` is standard input) with nanosecond timestamps and installs `filter` if given. `stop`, once
    /// set, ends a stream read that waits as the end of the input (as a signal does).
    public init(path: String, filter: String? = nil, stop: StopFlag? = nil) throws(PcapError) {
        self.path = path
        self.filter = filter
        let pointer: OpaquePointer
        let (opened, stream) = try OfflineSource.open(path: path, filter: filter, stop: stop)
        self.stream = stream
        switch opened {
        case .pcapng(let pcapng):
            reader = .pcapng(pcapng)
            isPcapFormat = false
            linkType = pcapng.firstInterface?.linkType ?? .ethernet
            let snapLength = pcapng.firstInterface?.snapLength ?? 0
            snapshotLength = snapLength == 0 ? 262_144 : Int(snapLength)
            return
        case .libpcap(let opened):
            pointer = opened
        }
        let handle = PcapHandle(pointer: pointer, source: path)
        reader = .libpcap(handle)
        isPcapFormat = pcap_major_version(pointer) == 2
        linkType = LinkType(rawValue: pcap_datalink(pointer))
        snapshotLength = handle.snapshotLength
        // libpcap passes a link-type field with reserved bits (16-25) through; no reader can know what follows.
        let linkType = handle.linkType.rawValue
        guard linkType >= 0 && linkType <= 0xffff else {
            throw PcapError(source: path, message: "invalid link type \(linkType): reserved bits of the link-type field are set")
        }
        if let filter, !filter.isEmpty {
            try handle.setFilter(filter)
        }
    }

    private enum Opened {
        case libpcap(OpaquePointer)
        case pcapng(PcapngReader)
    }

    /// Opens `path` with libpcap, or with PcapngReader where libpcap cannot be used (see the top of the file).
    /// Streams come with the cookie their FILE reads through.
    private static func open(path: String, filter: String?, stop: StopFlag?) throws(PcapError) -> (Opened, StreamCookie?) {
        let nano = UInt32(PCAP_TSTAMP_PRECISION_NANO)
        guard path == "-" || isStream(path) else {
            let (pointer, message) = withErrorBuffer { buffer in pcap_open_offline_with_tstamp_precision(path, nano, buffer) }
            if let pointer { return (.libpcap(pointer), nil) }
            // libpcap reads to the end looking for an interface; Wireshark reads such a file as empty, so do we.
            if message == noInterfaceMessage, CaptureFileKind.sniff(path: path) == .pcapng {
                return (.pcapng(try PcapngReader(path: path, filter: filter)), nil)
            }
            // A pcap minor version after 2.4 has 2.4's layout: libpcap reads it with the header shown as 2.4.
            if PcapMinorVersion.isNewerMinor(message) {
                let (file, reason) = PcapMinorVersion.open(path)
                guard let file else { throw PcapError(source: path, message: "\(message) (\(reason))") }
                let (pointer, patchedMessage) = withErrorBuffer { buffer in
                    pcap_fopen_offline_with_tstamp_precision(file, nano, buffer)
                }
                guard let pointer else {
                    fclose(file)
                    throw PcapError(source: path, message: explain(patchedMessage, path: path))
                }
                return (.libpcap(pointer), nil)
            }
            throw PcapError(source: path, message: explain(message, path: path))
        }
        // A FILE whose reads wait in poll(2), so a signal ends them (StreamInput.swift); it closes the descriptor
        // (never standard input's) when libpcap or PcapngReader closes it.
        let (file, stream) = try StreamInput.open(path: path, stop: stop)
        // Read once: the first byte decides. ungetc gives it back, so libpcap reads the stream from its start.
        let first = getc(file)
        if first != EOF { ungetc(first, file) }
        if stream.stopped {
            fclose(file)
            throw PcapError(source: path, message: StreamReads.stoppedMessage)
        }
        if first == pcapngFirstByte {
            do {
                return (.pcapng(try PcapngReader(path: path, file: file, closesFile: true, filter: filter)), stream)
            } catch {
                throw stream.stopped ? PcapError(source: path, message: StreamReads.stoppedMessage) : error
            }
        }
        let (pointer, message) = withErrorBuffer { buffer in pcap_fopen_offline_with_tstamp_precision(file, nano, buffer) }
        guard let pointer else {
            fclose(file)
            // The header is consumed: a stream cannot be reread with the version shown as 2.4.
            let hint = PcapMinorVersion.isNewerMinor(message)
                ? " (IdleWatch reads pcap 2.5 and later from a file, not from a pipe: save it to a file first)" : ""
            throw PcapError(source: path, message: stream.stopped ? StreamReads.stoppedMessage
                                : explain(message, path: path) + hint)
        }
        return (.libpcap(pointer), stream)
    }

    /// The input's quiet handler (streams only): called inside a read once the input has brought nothing for
    /// `StreamReads.quietDelay`, on the reading thread.
    public func setQuietHandler(_ handler: (() -> Void)?) {
        stream?.quiet = handler
    }

    /// The first byte of a Section Header Block (0x0A0D0D0A in either byte order); no pcap magic starts with it.
    static let pcapngFirstByte: Int32 = 0x0A
    /// libpcap's message at open for a pcapng file without an Interface Description Block.
    static let noInterfaceMessage = "the capture file has no Interface Description Blocks"

    /// Whether libpcap, reading a pcapng file, stopped for a reason PcapngReader handles.
    static func pcapngReaderTakesOver(_ libpcapMessage: String) -> Bool {
        libpcapMessage.hasPrefix("an interface has a type ")
            || libpcapMessage.hasPrefix("an interface has a snapshot length ")
            || libpcapMessage == "the file has sections with different byte orders"
    }

    /// libpcap reads every section in the first one's byte order: a section written in the other order (two
    /// captures concatenated, as pcapng allows) has its header's length read byte-swapped, refused as too large, after
    /// the block's first 8 bytes. When that is what happened, returns where that Section Header Block starts.
    static func sectionInOtherByteOrder(path: String, libpcapMessage: String, offset: Int64) -> Int64? {
        let start = offset - Int64(Pcapng.blockHeaderLength)
        guard libpcapMessage.hasPrefix("pcapng block size "), start >= 0, let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var header = (UInt32(0), UInt32(0), UInt32(0))  // Block Type, Block Total Length, Byte-Order Magic
        guard fseeko(file, off_t(start), SEEK_SET) == 0, fread(&header, 1, 12, file) == 12 else { return nil }
        let isSectionHeader = header.0 == Pcapng.sectionHeaderBlock
            && (header.2 == Pcapng.byteOrderMagic || header.2 == Pcapng.byteOrderMagic.byteSwapped)
        return isSectionHeader ? start : nil
    }

    /// A pipe, FIFO, socket or character device: readable once, from where it stands.
    static func isStream(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        let type = info.st_mode & S_IFMT
        return type == S_IFIFO || type == S_IFSOCK || type == S_IFCHR
    }

    /// PcapngReader in place of libpcap after libpcap gave up on this file for a reason PcapngReader handles: it
    /// rereads the file and hands out the packets after the offset where libpcap stopped. Any other error, or a file
    /// that cannot be read again, is rethrown as it is.
    private func takeOver(after error: PcapError, packetsRead: Int) throws(PcapError) -> PcapngReader {
        guard !isPcapFormat, let offset = error.offset, ReplaySource.canReopen(path) else { throw error }
        let resumeOffset: Int64
        if OfflineSource.pcapngReaderTakesOver(error.message) {
            resumeOffset = offset
        } else if let sectionStart = OfflineSource.sectionInOtherByteOrder(path: path, libpcapMessage: error.message,
                                                                           offset: offset) {
            resumeOffset = sectionStart
        } else {
            throw error
        }
        let pcapng = try PcapngReader(path: path, filter: filter, resumeOffset: resumeOffset, packetsRead: packetsRead)
        reader = .pcapng(pcapng)
        return pcapng
    }

    /// Byte position in the file, or nil for standard input and pipes read by libpcap.
    public var byteOffset: Int64? {
        switch reader {
        case .libpcap(let handle):
            guard let file = pcap_file(handle.pointer) else { return nil }
            let position = ftello(file)
            return position >= 0 ? Int64(position) : nil
        case .pcapng(let pcapng):
            return pcapng.offset
        }
    }

    /// Reads the next packet into `current` (nil at the end of the file). A read error names the file, the
    /// packets read before it and the byte offset.
    @discardableResult
    public func advance() throws(PcapError) -> CapturedPacket? {
        let next: CapturedPacket?
        switch reader {
        case .libpcap(let handle):
            do {
                let result = try handle.read(linkType: linkType, nanosecondPrecision: true, unsignedSeconds: isPcapFormat,
                                             packetsRead: packetsRead) { byteOffset }
                if case .packet(let packet) = result { next = packet } else { next = nil }
            } catch {
                // A stream stopped by a signal may end inside a record: that is the stop, not damage.
                if stream?.stopped == true {
                    next = nil
                } else {
                    next = try takeOver(after: error, packetsRead: packetsRead).next(packetsRead: packetsRead)
                }
            }
        case .pcapng(let pcapng):
            do {
                next = try pcapng.next(packetsRead: packetsRead)
            } catch {
                guard stream?.stopped == true else { throw error }
                next = nil
            }
        }
        if next != nil { packetsRead += 1 }
        current = next
        return next
    }

    /// Hands every remaining packet to `handler`, after `current`, until `stop` is set. The loop keeps its state in locals: reading and
    /// writing this object's properties per packet costs a dynamic exclusivity check each (a sixth of the replay
    /// time in perf), and a single file, the common case, needs no merge.
    public func drain<Handler: PacketHandler>(_ handler: inout Handler, until stop: StopFlag = StopFlag()) throws(PcapError) {
        var count = packetsRead
        defer {
            packetsRead = count
            current = nil
        }
        if case .libpcap(let handle) = reader {
            do {
                try drain(handle, count: &count, &handler, until: stop)
                return
            } catch {
                if stream?.stopped == true { return }  // the stop, not damage (see advance)
                _ = try takeOver(after: error, packetsRead: count)
            }
        }
        guard case .pcapng(let pcapng) = reader else { return }
        do {
            while !handler.isDone && !stop.isSet, let packet = try pcapng.next(packetsRead: count) {
                count += 1
                handler.handle(packet)
            }
        } catch {
            guard stream?.stopped == true else { throw error }
        }
    }

    /// The libpcap loop as it was before PcapngReader existed. On its own, with the count in a local, it compiles to
    /// the same instructions per packet as then (callgrind); inline in `drain` beside the other reader's loop, the
    /// compiler reloaded the handle and the handler from the stack for every packet.
    private func drain<Handler: PacketHandler>(_ handle: PcapHandle, count: inout Int, _ handler: inout Handler,
                                               until stop: StopFlag) throws(PcapError)
    {
        let linkType = linkType, unsignedSeconds = isPcapFormat
        var read = count
        defer { count = read }
        while !handler.isDone && !stop.isSet {
            let result = try handle.read(linkType: linkType, nanosecondPrecision: true, unsignedSeconds: unsignedSeconds,
                                         packetsRead: read) { byteOffset }
            guard case .packet(let packet) = result else { return }
            read += 1
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
