// A pcapng reader in Swift for the files libpcap 1.10 refuses and Wireshark reads: interfaces with different link
// types or snapshot lengths in one file (libpcap stops at the first interface unlike the first), files with no
// interface at all, sections in different byte orders. OfflineSource keeps libpcap as the reader wherever libpcap
// reads and hands a file to this one only when libpcap refuses it for one of those reasons.
//
// Layout and names follow the pcapng specification (draft-ietf-opsawg-pcapng). Every length in a block comes from the
// file, so a block is read whole into one reusable buffer only after its total length is checked (minimum, multiple
// of 4, a 16 MiB cap, the trailer's copy), and every field and packet is read inside that block after a check
// against the block's length: no read goes past a block, and nothing is allocated per packet.

import CPcap
import Glibc
import PacketDecoding

/// Block types, option codes, byte-order magic and fixed sizes of the pcapng specification.
enum Pcapng {
    static let sectionHeaderBlock: UInt32 = 0x0A0D_0D0A
    static let interfaceDescriptionBlock: UInt32 = 0x0000_0001
    /// Obsolete, still written by old tools: an EPB with a 16-bit interface id and a drop count.
    static let packetBlock: UInt32 = 0x0000_0002
    static let simplePacketBlock: UInt32 = 0x0000_0003
    static let enhancedPacketBlock: UInt32 = 0x0000_0006
    static let byteOrderMagic: UInt32 = 0x1A2B_3C4D

    static let optEndOfOpt: UInt16 = 0
    static let ifTsresol: UInt16 = 9
    static let ifTsoffset: UInt16 = 14

    /// Block Type and Block Total Length before the body; Block Total Length again after it.
    static let blockHeaderLength = 8
    static let blockTrailerLength = 4
    /// No block is allowed to make the reader hold more than this (libpcap's starting limit too).
    static let maximumBlockLength = 16 << 20
    /// A timestamp with no if_tsresol option counts microseconds.
    static let defaultResolution: UInt64 = 1_000_000

    /// Field offsets from the start of the block (its Block Type), and the smallest total length that holds them.
    enum SectionHeader {
        static let byteOrderMagic = 8, majorVersion = 12, minorVersion = 14, minimumLength = 28
    }
    enum InterfaceDescription {
        static let linkType = 8, snapLength = 12, options = 16, minimumLength = 20
    }
    /// The Enhanced Packet Block; the obsolete Packet Block has the same offsets with a 16-bit interface id.
    enum EnhancedPacket {
        static let interfaceID = 8, timestampHigh = 12, timestampLow = 16, capturedLength = 20, originalLength = 24
        static let data = 28, minimumLength = 32
    }
    enum SimplePacket {
        static let originalLength = 8, data = 12, minimumLength = 16
    }
}

/// One Interface Description Block of the current section, as the packets that name it need it.
struct PcapngInterface {
    /// The DLT_ value libpcap would report for the IDB's LINKTYPE_ value.
    var linkType: LinkType
    /// 0: no limit.
    var snapLength: UInt32
    /// Timestamp units per second (if_tsresol).
    var resolution: UInt64
    /// Seconds added to every timestamp (if_tsoffset).
    var offsetSeconds: Int64
    /// The filter compiled for this link type, when a filter was given.
    var filter: UnsafeMutablePointer<bpf_program>?
}

final class PcapngReader {
    let path: String
    private let file: UnsafeMutablePointer<FILE>
    private let closesFile: Bool
    /// One block at a time; a packet's bytes point into it until the next read (libpcap's contract too).
    private var buffer: UnsafeMutableRawPointer
    private(set) var capacity: Int
    /// Where reading stands: the byte offset of the next block.
    private(set) var offset: Int64 = 0
    /// The byte offset of the block being read, for errors.
    private var blockStart: Int64 = 0
    /// The current section was written in the other byte order.
    private var swapped = false
    private var sawSectionHeader = false
    private var atEnd = false
    private var interfaces: [PcapngInterface] = []
    private let filterExpression: String?
    /// One compiled filter per link type met so far.
    private var filters: [(linkType: LinkType, program: UnsafeMutablePointer<bpf_program>)] = []
    /// Packet blocks that start before this offset were delivered by libpcap before it gave up on the file.
    private let resumeOffset: Int64
    /// For errors: packets delivered from this file before them.
    private var packetsRead: Int
    /// The first interface of the file: OfflineSource's `linkType` and `snapshotLength`.
    private(set) var firstInterface: PcapngInterface?

    /// Reads `path` from its start, handing out only the packets of blocks that start at or after `resumeOffset`.
    convenience init(path: String, filter: String?, resumeOffset: Int64 = 0, packetsRead: Int = 0) throws(PcapError) {
        guard let file = fopen(path, "rb") else {
            throw PcapError(source: path, message: String(cString: strerror(errno)), packetsRead: packetsRead)
        }
        // Fewer, larger reads than stdio's 4 KiB default (allowed only before the first read).
        setvbuf(file, nil, _IOFBF, 1 << 18)
        try self.init(path: path, file: file, closesFile: true, filter: filter, resumeOffset: resumeOffset,
                      packetsRead: packetsRead)
    }

    /// Reads an open stream (standard input or a pipe) from where it stands; closes it at the end if `closesFile`.
    /// Reads up to the first Interface Description Block, as libpcap does when it opens a file, so errors in the
    /// section header come now and the first interface is known.
    init(path: String, file: UnsafeMutablePointer<FILE>, closesFile: Bool, filter: String?, resumeOffset: Int64 = 0,
         packetsRead: Int = 0) throws(PcapError) {
        self.path = path
        self.file = file
        self.closesFile = closesFile
        self.filterExpression = filter?.isEmpty == false ? filter : nil
        self.resumeOffset = resumeOffset
        self.packetsRead = packetsRead
        capacity = 1 << 16
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        while firstInterface == nil {
            guard let (type, length) = try readBlock() else { break }
            if Self.isPacketBlock(type) {
                throw error("a packet block comes before any Interface Description Block")
            }
            try handleBlock(type, length: length)
        }
    }

    deinit {
        buffer.deallocate()
        for (_, program) in filters {
            pcap_freecode(program)
            program.deallocate()
        }
        if closesFile { fclose(file) }
    }

    /// The next packet that passes the filter, nil at the end of the file. Its bytes are valid until the next call.
    func next(packetsRead: Int) throws(PcapError) -> CapturedPacket? {
        self.packetsRead = packetsRead
        while let (type, length) = try readBlock() {
            if Self.isPacketBlock(type) {
                if blockStart < resumeOffset { continue }  // libpcap delivered it (or filtered it out) already
                if let packet = try packet(type, length: length) { return packet }
            } else {
                try handleBlock(type, length: length)
            }
        }
        return nil
    }

    @inline(__always)
    static func isPacketBlock(_ type: UInt32) -> Bool {
        type == Pcapng.enhancedPacketBlock || type == Pcapng.simplePacketBlock || type == Pcapng.packetBlock
    }

    // MARK: Blocks

    /// Reads the next block whole into `buffer` and checks its lengths; nil at a clean end of the file (between two
    /// blocks). Afterwards `length` bytes of `buffer` are the block, trailer included, and every fixed-offset read
    /// below is checked against `length` before it is made.
    private func readBlock() throws(PcapError) -> (type: UInt32, length: Int)? {
        guard !atEnd else { return nil }
        blockStart = offset
        if !resumed, resumeOffset > 0, blockStart >= resumeOffset {
            // libpcap stopped right after a whole block; a mismatch would deliver a packet twice or lose one.
            guard blockStart == resumeOffset else {
                throw error("cannot resume after libpcap at byte offset \(resumeOffset): no block starts there")
            }
            resumed = true
        }
        let headerRead = fread(buffer, 1, Pcapng.blockHeaderLength, file)
        offset += Int64(headerRead)
        if headerRead == 0 && ferror(file) == 0 {
            atEnd = true
            if blockStart < resumeOffset {
                throw error("cannot resume after libpcap at byte offset \(resumeOffset): the file ends before it")
            }
            if !sawSectionHeader { throw error("empty file") }
            return nil
        }
        guard headerRead == Pcapng.blockHeaderLength else {
            throw shortRead("block header", read: headerRead, of: Pcapng.blockHeaderLength)
        }
        var filled = Pcapng.blockHeaderLength
        // The Section Header Block's type reads the same in both byte orders; its byte-order magic says which
        // order the section's lengths and fields are in, its own total length included.
        if buffer.loadUnaligned(as: UInt32.self) == Pcapng.sectionHeaderBlock {
            let magicEnd = Pcapng.SectionHeader.byteOrderMagic + 4
            let magicRead = fread(buffer + filled, 1, magicEnd - filled, file)
            offset += Int64(magicRead)
            guard magicRead == magicEnd - filled else {
                throw shortRead("Section Header Block", read: filled + magicRead, of: magicEnd)
            }
            filled = magicEnd
            let magic = buffer.loadUnaligned(fromByteOffset: Pcapng.SectionHeader.byteOrderMagic, as: UInt32.self)
            if magic == Pcapng.byteOrderMagic {
                swapped = false
            } else if magic == Pcapng.byteOrderMagic.byteSwapped {
                swapped = true
            } else {
                throw error("Section Header Block with a bad byte-order magic 0x\(String(magic, radix: 16))")
            }
            sawSectionHeader = true
        } else if !sawSectionHeader {
            throw error("not a pcapng file: it does not start with a Section Header Block")
        }
        let type = u32(0)
        let declared = u32(4)
        let minimum = type == Pcapng.sectionHeaderBlock
            ? Pcapng.SectionHeader.minimumLength : Pcapng.blockHeaderLength + Pcapng.blockTrailerLength
        guard declared >= minimum else {
            throw error("block of type \(type) has a total length of \(declared), below the minimum of \(minimum)")
        }
        guard declared % 4 == 0 else {
            throw error("block of type \(type) has a total length of \(declared), not a multiple of 4")
        }
        guard declared <= Pcapng.maximumBlockLength else {
            throw error("block of type \(type) has a total length of \(declared), above the limit of \(Pcapng.maximumBlockLength)")
        }
        let length = Int(declared)
        // The buffer grows only when data arrives to fill it, so a lying length costs at most twice what the file
        // really holds, and never more than the 16 MiB cap.
        while filled < length {
            if filled == capacity { grow(to: min(length, capacity * 2), keeping: filled) }
            let wanted = min(length, capacity) - filled
            let got = fread(buffer + filled, 1, wanted, file)
            filled += got
            offset += Int64(got)
            guard got == wanted else { throw shortRead("block of type \(type)", read: filled, of: length) }
        }
        let trailer = u32(length - Pcapng.blockTrailerLength)
        guard trailer == declared else {
            throw error("block total length \(declared) in the header and \(trailer) in the trailer don't match")
        }
        return (type, length)
    }

    private var resumed = false

    private func grow(to newCapacity: Int, keeping filled: Int) {
        let bigger = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        bigger.copyMemory(from: buffer, byteCount: filled)
        buffer.deallocate()
        buffer = bigger
        capacity = newCapacity
    }

    /// A section header starts a new set of interfaces; an interface description adds one; others are skipped.
    private func handleBlock(_ type: UInt32, length: Int) throws(PcapError) {
        switch type {
        case Pcapng.sectionHeaderBlock:
            // readBlock checked the minimum length of a section header.
            let major = u16(Pcapng.SectionHeader.majorVersion), minor = u16(Pcapng.SectionHeader.minorVersion)
            // Versions 1.0 and 1.2 are the same format; Wireshark and libpcap refuse any other.
            guard major == 1 && (minor == 0 || minor == 2) else {
                throw error("unsupported pcapng version \(major).\(minor)")
            }
            interfaces.removeAll(keepingCapacity: true)
        case Pcapng.interfaceDescriptionBlock:
            try addInterface(length: length)
        default:
            break  // name resolution, statistics, decryption secrets, custom blocks: nothing a sensor needs
        }
    }

    private func addInterface(length: Int) throws(PcapError) {
        typealias IDB = Pcapng.InterfaceDescription
        guard length >= IDB.minimumLength else { throw tooShort("Interface Description Block", length) }
        var interface = PcapngInterface(
            linkType: Self.dataLinkType(u16(IDB.linkType)), snapLength: u32(IDB.snapLength),
            resolution: Pcapng.defaultResolution, offsetSeconds: 0, filter: nil)
        let end = length - Pcapng.blockTrailerLength
        var cursor = IDB.options
        options: while cursor + 4 <= end {
            let code = u16(cursor), valueLength = Int(u16(cursor + 2))
            let value = cursor + 4
            guard value + valueLength <= end else {
                throw error("interface option \(code) of \(valueLength) bytes runs past its block")
            }
            switch code {
            case Pcapng.optEndOfOpt:
                break options
            case Pcapng.ifTsresol where valueLength == 1:
                let exponent = buffer.load(fromByteOffset: value, as: UInt8.self)
                if exponent & 0x80 != 0 {
                    let shift = exponent & 0x7F
                    guard shift <= 63 else { throw error("interface timestamp resolution 2^-\(shift) is too fine") }
                    interface.resolution = 1 << UInt64(shift)
                } else {
                    guard exponent <= 19 else { throw error("interface timestamp resolution 10^-\(exponent) is too fine") }
                    interface.resolution = 1
                    for _ in 0..<exponent { interface.resolution *= 10 }
                }
            case Pcapng.ifTsoffset where valueLength == 8:
                let raw = buffer.loadUnaligned(fromByteOffset: value, as: UInt64.self)
                interface.offsetSeconds = Int64(bitPattern: swapped ? raw.byteSwapped : raw)
            case Pcapng.ifTsresol, Pcapng.ifTsoffset:
                throw error("interface option \(code) has a length of \(valueLength)")
            default:
                break
            }
            cursor = value + ((valueLength + 3) & ~3)  // values are padded to 32 bits
        }
        interface.filter = try filterProgram(for: interface.linkType, interface: interfaces.count)
        if firstInterface == nil { firstInterface = interface }
        interfaces.append(interface)
    }

    /// The packet in an EPB, SPB or PB, or nil when the filter rejects it.
    @inline(__always)
    private func packet(_ type: UInt32, length: Int) throws(PcapError) -> CapturedPacket? {
        let interfaceID: Int, capturedLength: UInt32, originalLength: UInt32, data: Int, units: UInt64
        if type == Pcapng.simplePacketBlock {
            typealias SPB = Pcapng.SimplePacket
            guard length >= SPB.minimumLength else { throw tooShort("Simple Packet Block", length) }
            guard let first = interfaces.first else {
                throw error("a Simple Packet Block, but the section has no Interface Description Block")
            }
            interfaceID = 0
            originalLength = u32(SPB.originalLength)
            // No captured length field: the packet is cut to the first interface's snapshot length.
            capturedLength = first.snapLength == 0 ? originalLength : min(originalLength, first.snapLength)
            data = SPB.data
            units = 0  // no timestamp: libpcap gives time 0 plus the interface's offset
        } else {
            typealias EPB = Pcapng.EnhancedPacket
            guard length >= EPB.minimumLength else {
                throw tooShort(type == Pcapng.packetBlock ? "Packet Block" : "Enhanced Packet Block", length)
            }
            interfaceID = type == Pcapng.packetBlock ? Int(u16(EPB.interfaceID)) : Int(u32(EPB.interfaceID))
            capturedLength = u32(EPB.capturedLength)
            originalLength = u32(EPB.originalLength)
            data = EPB.data
            units = UInt64(u32(EPB.timestampHigh)) << 32 | UInt64(u32(EPB.timestampLow))
        }
        let room = length - data - Pcapng.blockTrailerLength
        guard Int(capturedLength) <= room else {
            throw error("captured length \(capturedLength) is bigger than the \(room) bytes of packet data in its block")
        }
        guard interfaceID < interfaces.count else {
            throw error("a packet on interface \(interfaceID), but the section describes \(interfaces.count) interface(s)")
        }
        let interface = interfaces[interfaceID]
        let bytes = UnsafeRawBufferPointer(start: buffer + data, count: Int(capturedLength))
        if let filter = interface.filter {
            var header = pcap_pkthdr()
            header.caplen = capturedLength
            header.len = originalLength
            guard pcap_offline_filter(filter, &header, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)) != 0
            else { return nil }
        }
        return CapturedPacket(
            timestamp: Self.timestamp(units, resolution: interface.resolution, offsetSeconds: interface.offsetSeconds),
            capturedLength: Int(capturedLength), wireLength: Int(originalLength), linkType: interface.linkType,
            bytes: bytes)
    }

    // MARK: Conversions

    /// A pcapng timestamp in nanoseconds. Seconds as libpcap computes them (unsigned division, the offset added
    /// modulo 2^64, taken as a signed time_t), then kept representable as PcapHandle.read does; the fraction scaled
    /// exactly, in 128 bits (libpcap's 64-bit product overflows for binary resolutions finer than about 2^-34).
    @inline(__always)
    static func timestamp(_ units: UInt64, resolution: UInt64, offsetSeconds: Int64) -> Timestamp {
        var seconds = Int64(truncatingIfNeeded: units / resolution &+ UInt64(bitPattern: offsetSeconds))
        seconds = min(max(seconds, Timestamp.representableSeconds.lowerBound + 1),
                      Timestamp.representableSeconds.upperBound - 1)
        // fraction < resolution, so the quotient is below 10^9 and cannot overflow.
        let fraction = units % resolution
        let nanoseconds = resolution.dividingFullWidth(fraction.multipliedFullWidth(by: 1_000_000_000)).quotient
        return Timestamp(seconds: seconds, nanoseconds: Int64(nanoseconds))
    }

    /// The DLT_ value libpcap reports on Linux for a LINKTYPE_ value in a file (its `linktype_to_dlt`): the values
    /// below 104 that differ between the two numberings; every other value is the same on both sides.
    static func dataLinkType(_ linkType: UInt16) -> LinkType {
        switch linkType {
        case 100: LinkType(rawValue: 11)  // LINKTYPE_ATM_RFC1483
        case 101: LinkType(rawValue: 12)  // LINKTYPE_RAW
        case 102: LinkType(rawValue: 15)  // LINKTYPE_SLIP_BSDOS
        case 103: LinkType(rawValue: 16)  // LINKTYPE_PPP_BSDOS
        case 106: LinkType(rawValue: 19)  // LINKTYPE_ATM_CLIP
        default: LinkType(rawValue: Int32(linkType))
        }
    }

    /// The filter compiled for `linkType` (once per link type), with libpcap, as for a handle of that type.
    private func filterProgram(for linkType: LinkType, interface: Int) throws(PcapError)
        -> UnsafeMutablePointer<bpf_program>?
    {
        guard let expression = filterExpression else { return nil }
        if let known = filters.first(where: { $0.linkType == linkType }) { return known.program }
        guard let dead = pcap_open_dead(linkType.rawValue, 262_144) else {
            throw error("pcap_open_dead failed for link type \(linkType)")
        }
        let handle = PcapHandle(pointer: dead, source: path)
        let program = UnsafeMutablePointer<bpf_program>.allocate(capacity: 1)
        program.initialize(to: bpf_program())
        guard pcap_compile(handle.pointer, program, expression, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            program.deallocate()
            throw error("bad filter expression '\(expression)' for interface \(interface) (link type \(linkType)): \(handle.lastError)")
        }
        filters.append((linkType, program))
        return program
    }

    // MARK: Reads inside the current block (callers check offsets against the block's length first)

    @inline(__always)
    private func u32(_ at: Int) -> UInt32 {
        let raw = buffer.loadUnaligned(fromByteOffset: at, as: UInt32.self)
        return swapped ? raw.byteSwapped : raw
    }

    @inline(__always)
    private func u16(_ at: Int) -> UInt16 {
        let raw = buffer.loadUnaligned(fromByteOffset: at, as: UInt16.self)
        return swapped ? raw.byteSwapped : raw
    }

    // MARK: Errors: one line, naming the file, the packets delivered before and the block's byte offset

    private func error(_ message: String) -> PcapError {
        PcapError(source: path, message: message, offset: blockStart, packetsRead: packetsRead)
    }

    private func tooShort(_ block: String, _ length: Int) -> PcapError {
        error("\(block) of \(length) bytes is too short for its fields")
    }

    private func shortRead(_ what: String, read: Int, of expected: Int) -> PcapError {
        if ferror(file) != 0 { return error("error reading the file: \(String(cString: strerror(errno)))") }
        return error("truncated pcapng file: \(what) of \(expected) bytes, only \(read) in the file")
    }
}
