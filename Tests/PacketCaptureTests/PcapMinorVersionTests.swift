// pcap files of version 2.5 and later (which libpcap refuses and Wireshark reads as 2.4) read exactly as the same
// file marked 2.4: both byte orders, micro- and nanosecond magic, with a filter, with the byte offset for progress;
// other versions are still refused with libpcap's words.

import Foundation
@testable import PacketCapture
import PacketDecoding
import Testing

/// Every packet of `path` (copied), and the error that stopped reading, if any.
func readAll(_ path: String, filter: String? = nil) -> (packets: [ReadPacket], error: PcapError?, lastOffset: Int64?) {
    do {
        let source = try OfflineSource(path: path, filter: filter)
        var packets: [ReadPacket] = []
        var offset: Int64?
        while let packet = try source.advance() {
            packets.append(ReadPacket(packet))
            offset = source.byteOffset
        }
        return (packets, nil, offset)
    } catch {
        return ([], error, nil)
    }
}

/// A pcap file of three UDP/TCP frames in the given byte order and resolution, with its header's version set.
func pcapFile(major: UInt16, minor: UInt16, bigEndian: Bool, nanoseconds: Bool) throws -> URL {
    let url = temporaryFile("version.pcap")
    var bytes: [UInt8] = []
    func u32(_ value: UInt32) { bytes += bigEndian ? withUnsafeBytes(of: value.bigEndian, Array.init) : withUnsafeBytes(of: value.littleEndian, Array.init) }
    func u16(_ value: UInt16) { bytes += bigEndian ? withUnsafeBytes(of: value.bigEndian, Array.init) : withUnsafeBytes(of: value.littleEndian, Array.init) }
    u32(nanoseconds ? 0xa1b2_3c4d : 0xa1b2_c3d4)
    u16(major)
    u16(minor)
    u32(0)
    u32(0)
    u32(65535)
    u32(1)  // Ethernet
    // Ethernet + IPv4 + UDP (ports 5000 -> 53) or TCP (port 22), 20 bytes of payload each.
    for (index, proto) in [(0, UInt8(17)), (1, UInt8(6)), (2, UInt8(17))] {
        var frame: [UInt8] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00]
        let transport: [UInt8] = proto == 17 ? [0x13, 0x88, 0x00, 0x35, 0, 28, 0, 0] + [UInt8](repeating: 0, count: 20)
            : [0x13, 0x88, 0x00, 0x16, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]
        let total = UInt16(20 + transport.count)
        frame += [0x45, 0, UInt8(total >> 8), UInt8(total & 0xff), 0, 1, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]
        frame += transport
        u32(1_700_000_000 + UInt32(index))
        u32(nanoseconds ? 123_456_789 : 123_456)
        u32(UInt32(frame.count))
        u32(UInt32(frame.count))
        bytes += frame
    }
    try Data(bytes).write(to: url)
    return url
}

@Suite struct PcapMinorVersionTests {
    @Test("A 2.5 file reads as the same file marked 2.4, in both byte orders and resolutions",
          arguments: [(false, false), (false, true), (true, false), (true, true)])
    func readsAs24(bigEndian: Bool, nanoseconds: Bool) throws {
        let reference = try pcapFile(major: 2, minor: 4, bigEndian: bigEndian, nanoseconds: nanoseconds)
        let newer = try pcapFile(major: 2, minor: 5, bigEndian: bigEndian, nanoseconds: nanoseconds)
        let later = try pcapFile(major: 2, minor: 200, bigEndian: bigEndian, nanoseconds: nanoseconds)
        defer { [reference, newer, later].forEach(removeTemporaryFile) }
        let expected = readAll(reference.path)
        #expect(expected.error == nil && expected.packets.count == 3)
        for url in [newer, later] {
            let read = readAll(url.path)
            #expect(read.error == nil, "\(String(describing: read.error))")
            #expect(read.packets == expected.packets)
            // The offset goes on counting file bytes through the patched stream (progress and error offsets).
            let size = Int64(try Data(contentsOf: url).count)
            #expect(read.lastOffset == expected.lastOffset && read.lastOffset == size)
            // A filter works as on any file libpcap reads.
            #expect(readAll(url.path, filter: "tcp").packets == readAll(reference.path, filter: "tcp").packets)
            #expect(readAll(url.path, filter: "tcp").packets.count == 1)
        }
    }

    @Test("Other versions are still refused with libpcap's message", arguments: [(UInt16(3), UInt16(0)), (1, 4)])
    func otherVersionsRefused(major: UInt16, minor: UInt16) throws {
        let url = try pcapFile(major: major, minor: minor, bigEndian: false, nanoseconds: false)
        defer { removeTemporaryFile(url) }
        let read = readAll(url.path)
        #expect(read.packets.isEmpty)
        #expect(read.error?.message == (major == 1 ? "archaic pcap savefile format" : "unsupported pcap savefile version 3.0"))
    }

    @Test("libpcap's test file of version 2.5 reads its one packet, as capinfos counts it")
    func libpcapTestFile() {
        // ../shared/corpus beside the package root (three levels above this file).
        let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/corpus")
        let read = readAll(corpus.appendingPathComponent("libpcap/pcap-invalid-version-2.pcap").path)
        #expect(read.error == nil, "\(String(describing: read.error))")
        #expect(read.packets.count == 1)
        #expect(read.packets.first?.wireLength == 490)
    }

    @Test("The refusal message is recognised only for minor versions after 4 of major version 2")
    func messageMatch() {
        #expect(PcapMinorVersion.isNewerMinor("unsupported pcap savefile version 2.5"))
        #expect(PcapMinorVersion.isNewerMinor("unsupported pcap savefile version 2.65535"))
        #expect(!PcapMinorVersion.isNewerMinor("unsupported pcap savefile version 3.0"))
        #expect(!PcapMinorVersion.isNewerMinor("unsupported pcap savefile version 2.4x"))
        #expect(!PcapMinorVersion.isNewerMinor("archaic pcap savefile format"))
    }
}
