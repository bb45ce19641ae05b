// Hand-built pcapng files for the reader's tests: each block written field by field in the chosen byte order, with
// ways to lie about lengths, so every check of the reader has an input that trips it.

import Foundation

struct PcapngBuilder {
    var bigEndian: Bool
    private(set) var bytes: [UInt8] = []

    init(bigEndian: Bool = false) {
        self.bigEndian = bigEndian
    }

    /// Byte offset of the next block: where a test expects an error about that block.
    var offset: Int { bytes.count }

    func u16(_ value: UInt16) -> [UInt8] {
        bigEndian ? [UInt8(value >> 8), UInt8(value & 0xff)] : [UInt8(value & 0xff), UInt8(value >> 8)]
    }

    func u32(_ value: UInt32) -> [UInt8] {
        let little = (0..<4).map { UInt8((value >> (8 * UInt32($0))) & 0xff) }
        return bigEndian ? little.reversed() : little
    }

    func u64(_ value: UInt64) -> [UInt8] {
        let little = (0..<8).map { UInt8((value >> (8 * UInt64($0))) & 0xff) }
        return bigEndian ? little.reversed() : little
    }

    /// A block: type, total length, the body padded to 32 bits, total length again. `headerLength` and
    /// `trailerLength` replace the true total length in the header or the trailer.
    mutating func block(_ type: UInt32, _ body: [UInt8], headerLength: UInt32? = nil, trailerLength: UInt32? = nil) {
        let padded = body + [UInt8](repeating: 0, count: (4 - body.count % 4) % 4)
        let total = UInt32(12 + padded.count)
        bytes += u32(type) + u32(headerLength ?? total) + padded + u32(trailerLength ?? total)
    }

    /// Options as a list of (code, value), each padded, then opt_endofopt.
    func options(_ list: [(UInt16, [UInt8])]) -> [UInt8] {
        guard !list.isEmpty else { return [] }
        var result: [UInt8] = []
        for (code, value) in list {
            result += u16(code) + u16(UInt16(value.count)) + value + [UInt8](repeating: 0, count: (4 - value.count % 4) % 4)
        }
        return result + u16(0) + u16(0)
    }

    mutating func sectionHeader(major: UInt16 = 1, minor: UInt16 = 0) {
        block(0x0A0D_0D0A, u32(0x1A2B_3C4D) + u16(major) + u16(minor) + u64(UInt64.max))
    }

    /// `tsresol`: the if_tsresol byte (high bit set: a power of 2); `tsoffset`: if_tsoffset seconds.
    mutating func interface(linkType: UInt16, snapLength: UInt32, tsresol: UInt8? = nil, tsoffset: Int64? = nil) {
        var list: [(UInt16, [UInt8])] = [(2, Array("eth0".utf8))]  // if_name, to be skipped
        if let tsresol { list.append((9, [tsresol])) }
        if let tsoffset { list.append((14, u64(UInt64(bitPattern: tsoffset)))) }
        block(1, u16(linkType) + u16(0) + u32(snapLength) + options(list))
    }

    /// An Enhanced Packet Block; `capturedLength` replaces the true captured length.
    mutating func enhancedPacket(interface: UInt32, timestamp: UInt64, data: [UInt8], originalLength: UInt32? = nil,
                                 capturedLength: UInt32? = nil) {
        block(6, u32(interface) + u32(UInt32(timestamp >> 32)) + u32(UInt32(timestamp & 0xffff_ffff))
              + u32(capturedLength ?? UInt32(data.count)) + u32(originalLength ?? UInt32(data.count)) + data
              + options([(1, Array("a comment".utf8))]))
    }

    /// The obsolete Packet Block: a 16-bit interface id and a drop count.
    mutating func obsoletePacket(interface: UInt16, timestamp: UInt64, data: [UInt8]) {
        block(2, u16(interface) + u16(7) + u32(UInt32(timestamp >> 32)) + u32(UInt32(timestamp & 0xffff_ffff))
              + u32(UInt32(data.count)) + u32(UInt32(data.count)) + data)
    }

    mutating func simplePacket(originalLength: UInt32, data: [UInt8]) {
        block(3, u32(originalLength) + data)
    }

    /// Raw bytes, for a block cut short.
    mutating func append(_ raw: [UInt8]) {
        bytes += raw
    }

    func write(to url: URL) throws {
        try Data(bytes).write(to: url)
    }
}

/// Recognisable packet bytes: `count` bytes counting up from `first`.
func payload(_ count: Int, first: UInt8 = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: Int(first) + $0) }
}

/// A new file path in a directory of its own; `removeTemporaryFile` removes both.
func temporaryFile(_ name: String) -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("idlewatch-pcapng-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory.appendingPathComponent(name)
}

func removeTemporaryFile(_ url: URL) {
    try? FileManager.default.removeItem(at: url.deletingLastPathComponent())
}
