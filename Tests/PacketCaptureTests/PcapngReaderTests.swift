// The Swift pcapng reader on hand-built files: both byte orders, sections, interfaces with their own link types,
// resolutions and offsets, every packet block type, and every malformed length it must refuse with the file, the
// packets before and the block's offset; then OfflineSource handing a file over from libpcap to it.

import Foundation
import Glibc
@testable import PacketCapture
import PacketDecoding
import Testing

/// A packet copied out of the reader (its bytes are valid only until the next read).
struct ReadPacket: Equatable, CustomStringConvertible {
    var timestamp: Timestamp
    var linkType: Int32
    var wireLength: Int
    var bytes: [UInt8]

    init(_ packet: CapturedPacket) {
        timestamp = packet.timestamp
        linkType = packet.linkType.rawValue
        wireLength = packet.wireLength
        bytes = Array(packet.bytes)
        #expect(packet.capturedLength == packet.bytes.count)
    }

    init(seconds: Int64, nanoseconds: Int64, linkType: Int32, wireLength: Int? = nil, bytes: [UInt8]) {
        timestamp = Timestamp(seconds: seconds, nanoseconds: nanoseconds)
        self.linkType = linkType
        self.wireLength = wireLength ?? bytes.count
        self.bytes = bytes
    }

    var description: String { "\(timestamp.nanoseconds)ns link \(linkType) \(bytes.count)/\(wireLength)" }
}

/// Every packet PcapngReader gives for `builder`'s bytes, and the error that stopped it, if any.
func readWithPcapngReader(_ builder: PcapngBuilder, filter: String? = nil) throws -> (packets: [ReadPacket], error: PcapError?, path: String) {
    let url = temporaryFile("test.pcapng")
    defer { removeTemporaryFile(url) }
    try builder.write(to: url)
    var packets: [ReadPacket] = []
    do {
        let reader = try PcapngReader(path: url.path, filter: filter)
        while let packet = try reader.next(packetsRead: packets.count) { packets.append(ReadPacket(packet)) }
        return (packets, nil, url.path)
    } catch {
        return (packets, error, url.path)
    }
}

/// A minimal IPv4 packet: 20-byte header (no options) from 10.0.0.1 to 10.0.0.2, then an 8-byte UDP header or a
/// 20-byte TCP header to `port`.
func ipv4Packet(udp: Bool, port: UInt16) -> [UInt8] {
    let transport: [UInt8] = udp
        ? [0x04, 0xd2, UInt8(port >> 8), UInt8(port & 0xff), 0, 8, 0, 0]
        : [0x04, 0xd2, UInt8(port >> 8), UInt8(port & 0xff), 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]
    let total = UInt16(20 + transport.count)
    return [0x45, 0, UInt8(total >> 8), UInt8(total & 0xff), 0, 1, 0x40, 0, 64, udp ? 17 : 6, 0, 0,
            10, 0, 0, 1, 10, 0, 0, 2] + transport
}

func ethernetFrame(_ ip: [UInt8]) -> [UInt8] {
    [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x08, 0x00] + ip
}

/// BSD loopback (DLT_NULL): the address family in the writer's byte order, here little-endian AF_INET.
func loopbackFrame(_ ip: [UInt8]) -> [UInt8] { [2, 0, 0, 0] + ip }

@Suite("pcapng reader")
struct PcapngReaderTests {
    @Test("two interfaces with their own link type, snapshot length, resolution and offset, in both byte orders",
          arguments: [false, true])
    func interfacesInBothByteOrders(bigEndian: Bool) throws {
        var b = PcapngBuilder(bigEndian: bigEndian)
        b.sectionHeader()
        b.interface(linkType: 1, snapLength: 65535)  // no if_tsresol: microseconds
        b.interface(linkType: 101, snapLength: 128, tsresol: 9, tsoffset: 1_000)  // LINKTYPE_RAW, nanoseconds
        b.enhancedPacket(interface: 0, timestamp: 1_700_000_000_123_456, data: payload(60))
        b.enhancedPacket(interface: 1, timestamp: 5_000_000_123, data: payload(20, first: 100), originalLength: 1500)
        b.enhancedPacket(interface: 0, timestamp: 1_700_000_001_000_001, data: payload(61, first: 7))
        let (packets, error, _) = try readWithPcapngReader(b)
        #expect(error == nil)
        #expect(packets == [
            ReadPacket(seconds: 1_700_000_000, nanoseconds: 123_456_000, linkType: 1, bytes: payload(60)),
            // 5 s + 123 ns, plus if_tsoffset; LINKTYPE_RAW (101) is reported as libpcap reports it, DLT_RAW (12).
            ReadPacket(seconds: 1_005, nanoseconds: 123, linkType: 12, wireLength: 1500, bytes: payload(20, first: 100)),
            ReadPacket(seconds: 1_700_000_001, nanoseconds: 1_000, linkType: 1, bytes: payload(61, first: 7)),
        ])
    }

    @Test("power-of-2 and finer-than-nanosecond resolutions are scaled exactly")
    func resolutions() throws {
        var b = PcapngBuilder()
        b.sectionHeader()
        b.interface(linkType: 1, snapLength: 0, tsresol: 0x80 | 20)  // 2^-20 s
        b.interface(linkType: 1, snapLength: 0, tsresol: 0x80 | 40)  // 2^-40 s: libpcap's 64-bit scaling overflows
        b.interface(linkType: 1, snapLength: 0, tsresol: 12)  // picoseconds
        b.interface(linkType: 1, snapLength: 0, tsresol: 0, tsoffset: -10)  // whole seconds, 10 s earlier
        b.enhancedPacket(interface: 0, timestamp: 3 << 20 | 1 << 19, data: payload(1))  // 3.5 s
        b.enhancedPacket(interface: 0, timestamp: 1, data: payload(1))  // 1e9 / 2^20 = 953.67 ns
        b.enhancedPacket(interface: 1, timestamp: 7 << 40 | 1 << 38, data: payload(1))  // 7.25 s
        b.enhancedPacket(interface: 1, timestamp: 1 << 40 - 1, data: payload(1))  // just under 1 s
        b.enhancedPacket(interface: 2, timestamp: 5_000_000_000_000 + 123_456_789_999, data: payload(1))
        b.enhancedPacket(interface: 3, timestamp: 1_000, data: payload(1))
        let (packets, error, _) = try readWithPcapngReader(b)
        #expect(error == nil)
        #expect(packets.map(\.timestamp) == [
            Timestamp(seconds: 3, nanoseconds: 500_000_000),
            Timestamp(seconds: 0, nanoseconds: 953),
            Timestamp(seconds: 7, nanoseconds: 250_000_000),
            Timestamp(seconds: 0, nanoseconds: 999_999_999),
            Timestamp(seconds: 5, nanoseconds: 123_456_789),
            Timestamp(seconds: 990, nanoseconds: 0),
        ])
    }

    @Test("a timestamp past what a Timestamp holds is clamped as libpcap's are")
    func clampedTimestamp() throws {
        var b = PcapngBuilder()
        b.sectionHeader()
        b.interface(linkType: 1, snapLength: 0, tsoffset: Int64.max / 2)
        b.enhancedPacket(interface: 0, timestamp: 250, data: payload(4))
        let (packets, error, _) = try readWithPcapngReader(b)
        #expect(error == nil)
        #expect(packets.first?.timestamp == Timestamp(seconds: Timestamp.representableSeconds.upperBound - 1, nanoseconds: 250_000))
    }

    @Test("each section has its own interfaces and byte order; a packet naming an interface its section lacks stops the file")
    func sections() throws {
        var b = PcapngBuilder(bigEndian: false)
        b.sectionHeader()
        b.interface(linkType: 1, snapLength: 1500)
        b.interface(linkType: 0, snapLength: 1500)
        b.enhancedPacket(interface: 1, timestamp: 1_000_000, data: payload(8))
        b.bigEndian = true
        b.sectionHeader(minor: 2)
        b.interface(linkType: 101, snapLength: 1500)
        b.enhancedPacket(interface: 0, timestamp: 2_000_000, data: payload(9))
        let badBlock = b.offset
        b.enhancedPacket(interface: 1, timestamp: 3_000_000, data: payload(10))  // section 2 has one interface
        b.enhancedPacket(interface: 0, timestamp: 4_000_000, data: payload(11))
        let (packets, error, path) = try readWithPcapngReader(b)
        #expect(packets == [
            ReadPacket(seconds: 1, nanoseconds: 0, linkType: 0, bytes: payload(8)),
            ReadPacket(seconds: 2, nanoseconds: 0, linkType: 12, bytes: payload(9)),
        ])
        let stop = try #require(error)
        #expect(stop.source == path)
        #expect(stop.offset == Int64(badBlock))
        #expect(stop.packetsRead == 2)
        #expect(stop.message.contains("interface 1") && stop.message.contains("1 interface"))
    }

    @Test("simple packet blocks, obsolete packet blocks and unknown blocks")
    func otherBlocks() throws {
        var b = PcapngBuilder(bigEndian: true)
        b.sectionHeader()
        b.block(0x0000_0BAD, payload(10))  // custom block: skipped
        b.interface(linkType: 1, snapLength: 64, tsoffset: 10)
        b.interface(linkType: 0, snapLength: 0)
        b.block(4, [0, 0, 0, 0])  // name resolution block with only opt_endofopt
        b.simplePacket(originalLength: 100, data: payload(64))  // cut to interface 0's snapshot length
        b.simplePacket(originalLength: 30, data: payload(30, first: 1))  // padded to 32 in the block
        b.block(5, [0, 0, 0, 1] + [UInt8](repeating: 0, count: 8))  // interface statistics
        b.obsoletePacket(interface: 1, timestamp: 2_000_001, data: payload(40, first: 3))
        let (packets, error, _) = try readWithPcapngReader(b)
        #expect(error == nil)
        #expect(packets == [
            // No timestamp in a simple packet block: time 0 plus the interface's offset, as libpcap gives.
            ReadPacket(seconds: 10, nanoseconds: 0, linkType: 1, wireLength: 100, bytes: payload(64)),
            ReadPacket(seconds: 10, nanoseconds: 0, linkType: 1, bytes: payload(30, first: 1)),
            ReadPacket(seconds: 2, nanoseconds: 1_000, linkType: 0, bytes: payload(40, first: 3)),
        ])
    }

    @Test("a file cut in its last block: every complete packet, then an error at that block's offset",
          arguments: [5, 20, 60])
    func truncatedLastBlock(keep: Int) throws {
        var b = PcapngBuilder()
        b.sectionHeader()
        b.interface(linkType: 1, snapLength: 0)
        b.enhancedPacket(interface: 0, timestamp: 1, data: payload(60))
        b.enhancedPacket(interface: 0, timestamp: 2, data: payload(60))
        let lastBlock = b.offset
        b.enhancedPacket(interface: 0, timestamp: 3, data: payload(60))
        var cut = PcapngBuilder()
        cut.append(Array(b.bytes.prefix(lastBlock + keep)))
        let (packets, error, path) = try readWithPcapngReader(cut)
        #expect(packets.count == 2)
        let stop = try #require(error)
        #expect(stop.offset == Int64(lastBlock))
        #expect(stop.packetsRead == 2)
        #expect(stop.message.hasPrefix("truncated pcapng file"))
        #expect(stop.description.hasPrefix(path + ": "))
        #expect(stop.description.hasSuffix("(after 2 packets, at byte offset \(lastBlock))"))
    }

    @Test("lengths that contradict themselves or the file stop it at the block that has them")
    func badLengths() throws {
        struct Case {
            var name: String
            var write: (inout PcapngBuilder) -> Void
            var message: String
        }
        let body = [UInt8](repeating: 0, count: 20) + payload(8)  // an EPB's fields and 8 bytes of packet
        let cases: [Case] = [
            Case(name: "trailer", write: { $0.block(6, body, trailerLength: 44) },
                 message: "block total length 40 in the header and 44 in the trailer don't match"),
            Case(name: "not a multiple of 4", write: { $0.block(6, body, headerLength: 42) },
                 message: "not a multiple of 4"),
            Case(name: "below the minimum", write: { $0.block(6, body, headerLength: 8) },
                 message: "below the minimum"),
            Case(name: "absurd", write: { $0.block(6, body, headerLength: 0xFFFF_FFF0) },
                 message: "above the limit of 16777216"),
            Case(name: "longer than the file", write: { $0.block(6, body, headerLength: 15 << 20) },
                 message: "truncated pcapng file"),
            Case(name: "captured length past the block",
                 write: { $0.enhancedPacket(interface: 0, timestamp: 1, data: payload(60), capturedLength: 200) },
                 message: "captured length 200 is bigger than the 80 bytes of packet data in its block"),
            Case(name: "packet block too short for its fields", write: { $0.block(6, payload(8)) },
                 message: "Enhanced Packet Block of 20 bytes is too short"),
            Case(name: "interface option past the block",
                 write: { b in b.block(1, b.u16(1) + b.u16(0) + b.u32(0) + b.u16(9) + b.u16(12) + [6, 0, 0, 0]) },
                 message: "interface option 9 of 12 bytes runs past its block"),
            Case(name: "unsupported version",
                 write: { $0.sectionHeader(major: 2) }, message: "unsupported pcapng version 2.0"),
        ]
        for item in cases {
            var b = PcapngBuilder()
            b.sectionHeader()
            b.interface(linkType: 1, snapLength: 0)
            b.enhancedPacket(interface: 0, timestamp: 1, data: payload(60))
            let bad = b.offset
            item.write(&b)
            b.enhancedPacket(interface: 0, timestamp: 2, data: payload(60))  // never reached
            let (packets, error, _) = try readWithPcapngReader(b)
            #expect(packets.count == 1, "\(item.name)")
            #expect(error?.offset == Int64(bad), "\(item.name)")
            #expect(error?.packetsRead == 1, "\(item.name)")
            #expect(error?.message.contains(item.message) == true, "\(item.name): \(String(describing: error))")
        }
    }

    @Test("a block claiming 15 MiB in a small file does not make the reader allocate 15 MiB")
    func lyingLengthIsNotAllocated() throws {
        var b = PcapngBuilder()
        b.sectionHeader()
        b.interface(linkType: 1, snapLength: 0)
        b.block(6, payload(1000), headerLength: 15 << 20)
        let url = temporaryFile("lying.pcapng")
        defer { removeTemporaryFile(url) }
        try b.write(to: url)
        let reader = try PcapngReader(path: url.path, filter: nil)
        #expect(throws: PcapError.self) { _ = try reader.next(packetsRead: 0) }
        #expect(reader.capacity == 1 << 16)  // the initial buffer: the file never filled it
    }

    @Test("a filter is compiled for each interface's link type")
    func filterPerLinkType() throws {
        var b = PcapngBuilder()
        b.sectionHeader()
        b.interface(linkType: 1, snapLength: 0)
        b.interface(linkType: 101, snapLength: 0)
        b.interface(linkType: 0, snapLength: 0)
        let dns = ipv4Packet(udp: true, port: 53), web = ipv4Packet(udp: false, port: 80)
        b.enhancedPacket(interface: 0, timestamp: 1, data: ethernetFrame(dns))
        b.enhancedPacket(interface: 1, timestamp: 2, data: web)
        b.enhancedPacket(interface: 1, timestamp: 3, data: dns)
        b.enhancedPacket(interface: 2, timestamp: 4, data: loopbackFrame(dns))
        b.enhancedPacket(interface: 0, timestamp: 5, data: ethernetFrame(web))
        let (packets, error, _) = try readWithPcapngReader(b, filter: "udp port 53")
        #expect(error == nil)
        #expect(packets.map(\.timestamp.nanoseconds) == [1_000, 3_000, 4_000])
        #expect(packets.map(\.linkType) == [1, 12, 0])

        // An expression that only makes sense on Ethernet names the interface it cannot be compiled for.
        let (ethernetOnly, failure, _) = try readWithPcapngReader(b, filter: "ether host 00:11:22:33:44:55")
        #expect(ethernetOnly.isEmpty)
        #expect(failure?.message.hasPrefix("bad filter expression 'ether host 00:11:22:33:44:55' for interface 1") == true,
                "\(String(describing: failure))")
    }
}

/// Collects what OfflineSource.drain hands over.
struct Collector: PacketHandler {
    var packets: [ReadPacket] = []
    mutating func handle(_ packet: CapturedPacket) { packets.append(ReadPacket(packet)) }
}

@Suite("pcapng files libpcap refuses")
struct PcapngFallbackTests {
    /// Interface 0 Ethernet; one packet; interface 1 loopback (libpcap stops here, after the first packet);
    /// a packet on each.
    static func mixedFile() -> PcapngBuilder {
        var b = PcapngBuilder()
        b.sectionHeader()
        b.interface(linkType: 1, snapLength: 262_144, tsresol: 9)
        b.enhancedPacket(interface: 0, timestamp: 1_000_000_001, data: ethernetFrame(ipv4Packet(udp: true, port: 53)))
        b.interface(linkType: 0, snapLength: 262_144)
        b.enhancedPacket(interface: 1, timestamp: 2_000_002, data: loopbackFrame(ipv4Packet(udp: true, port: 53)))
        b.enhancedPacket(interface: 0, timestamp: 3_000_000_003, data: ethernetFrame(ipv4Packet(udp: false, port: 80)))
        return b
    }

    static let expected = [
        ReadPacket(seconds: 1, nanoseconds: 1, linkType: 1, bytes: ethernetFrame(ipv4Packet(udp: true, port: 53))),
        ReadPacket(seconds: 2, nanoseconds: 2_000, linkType: 0, bytes: loopbackFrame(ipv4Packet(udp: true, port: 53))),
        ReadPacket(seconds: 3, nanoseconds: 3, linkType: 1, bytes: ethernetFrame(ipv4Packet(udp: false, port: 80))),
    ]

    @Test("libpcap's packets, then the rest from the Swift reader: none twice, none lost (advance)")
    func takeOverByAdvance() throws {
        let url = temporaryFile("mixed.pcapng")
        defer { removeTemporaryFile(url) }
        try Self.mixedFile().write(to: url)
        let source = try OfflineSource(path: url.path)
        guard case .libpcap = source.reader else { Issue.record("libpcap should open the file"); return }
        var packets: [ReadPacket] = []
        while let packet = try source.advance() { packets.append(ReadPacket(packet)) }
        guard case .pcapng = source.reader else { Issue.record("the Swift reader should have taken over"); return }
        #expect(packets == Self.expected)
        #expect(source.packetsRead == 3)
    }

    @Test("the same through drain, and with a filter compiled per link type on both sides of the hand-over")
    func takeOverByDrain() throws {
        let url = temporaryFile("mixed.pcapng")
        defer { removeTemporaryFile(url) }
        try Self.mixedFile().write(to: url)
        var collector = Collector()
        try OfflineSource(path: url.path).drain(&collector)
        #expect(collector.packets == Self.expected)

        let filtered = try OfflineSource(path: url.path, filter: "udp")
        var udp = Collector()
        try filtered.drain(&udp)
        #expect(udp.packets == Array(Self.expected.prefix(2)))
        #expect(filtered.packetsRead == 2)
    }

    @Test("an error after the hand-over counts libpcap's packets too")
    func errorAfterTakeOver() throws {
        var b = Self.mixedFile()
        let bad = b.offset
        b.enhancedPacket(interface: 2, timestamp: 4, data: payload(10))
        let url = temporaryFile("mixed-bad.pcapng")
        defer { removeTemporaryFile(url) }
        try b.write(to: url)
        var collector = Collector()
        let source = try OfflineSource(path: url.path)
        let error = #expect(throws: PcapError.self) { try source.drain(&collector) }
        #expect(error?.offset == Int64(bad))
        #expect(error?.packetsRead == 3)
        #expect(error?.source == url.path)
        #expect(collector.packets == Self.expected)
    }

    @Test("two sections in different byte orders (concatenated captures): libpcap stops at the second, which is read")
    func sectionsInBothByteOrders() throws {
        var b = PcapngBuilder(bigEndian: false)
        b.sectionHeader()
        b.interface(linkType: 1, snapLength: 65535)
        b.enhancedPacket(interface: 0, timestamp: 1_000_000, data: payload(60))
        b.bigEndian = true
        b.sectionHeader()
        b.interface(linkType: 1, snapLength: 65535)
        b.enhancedPacket(interface: 0, timestamp: 2_000_000, data: payload(60, first: 9))
        let url = temporaryFile("orders.pcapng")
        defer { removeTemporaryFile(url) }
        try b.write(to: url)
        let source = try OfflineSource(path: url.path)
        var packets: [ReadPacket] = []
        while let packet = try source.advance() { packets.append(ReadPacket(packet)) }
        guard case .pcapng = source.reader else { Issue.record("the Swift reader should have taken over"); return }
        #expect(packets == [
            ReadPacket(seconds: 1, nanoseconds: 0, linkType: 1, bytes: payload(60)),
            ReadPacket(seconds: 2, nanoseconds: 0, linkType: 1, bytes: payload(60, first: 9)),
        ])
    }

    @Test("a pcapng file with no interface is read as empty, as Wireshark does")
    func noInterface() throws {
        var b = PcapngBuilder()
        b.sectionHeader()
        b.block(4, [0, 0, 0, 0])
        let url = temporaryFile("empty.pcapng")
        defer { removeTemporaryFile(url) }
        try b.write(to: url)
        let source = try OfflineSource(path: url.path)
        #expect(try source.advance() == nil)
        #expect(source.packetsRead == 0)
    }

    @Test("a pipe: pcapng goes to the Swift reader whole, pcap to libpcap", arguments: [true, false])
    func pipe(pcapng: Bool) throws {
        signal(SIGPIPE, SIG_IGN)  // should the reader stop early, the writer gets EPIPE rather than killing the tests
        let fifo = temporaryFile("capture.fifo").path
        defer { removeTemporaryFile(URL(fileURLWithPath: fifo)) }
        #expect(mkfifo(fifo, 0o600) == 0)
        let bytes: [UInt8]
        if pcapng {
            bytes = Self.mixedFile().bytes
        } else {
            // pcap, little-endian, nanoseconds, Ethernet: one record.
            let frame = ethernetFrame(ipv4Packet(udp: true, port: 53))
            let le = PcapngBuilder(bigEndian: false)
            bytes = le.u32(0xa1b2_3c4d) + le.u16(2) + le.u16(4) + le.u32(0) + le.u32(0) + le.u32(65535) + le.u32(1)
                + le.u32(1) + le.u32(1) + le.u32(UInt32(frame.count)) + le.u32(UInt32(frame.count)) + frame
        }
        let writer = Thread {
            if let handle = FileHandle(forWritingAtPath: fifo) {
                handle.write(Data(bytes))
                try? handle.close()
            }
        }
        writer.start()
        let source = try OfflineSource(path: fifo)
        var collector = Collector()
        try source.drain(&collector)
        if pcapng {
            guard case .pcapng = source.reader else { Issue.record("a pcapng stream goes to the Swift reader"); return }
            #expect(collector.packets == Self.expected)
        } else {
            guard case .libpcap = source.reader else { Issue.record("a pcap stream goes to libpcap"); return }
            #expect(collector.packets == [
                ReadPacket(seconds: 1, nanoseconds: 1, linkType: 1, bytes: ethernetFrame(ipv4Packet(udp: true, port: 53)))
            ])
        }
    }
}
