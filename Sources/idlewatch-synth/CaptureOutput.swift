// Frames written as a classic pcap file (microsecond timestamps, Ethernet), straight into one large buffer that is
// written out when full: the synthesizer must outrun the analyser it feeds.

import Glibc

/// One side of a conversation as it appears in a frame.
struct Endpoint {
    var ipv4: UInt32
    /// The host's IPv6 address as two big-endian halves (nil: IPv4 only).
    var ipv6: (high: UInt64, low: UInt64)?
    var mac: UInt64
    /// 802.1Q tag of the host's segment as the mirror port sees it (0: untagged).
    var vlan: UInt16
}

enum TransportKind { case tcp, udp, icmp }

/// TCP flag bits.
enum TCPFlag {
    static let fin: UInt8 = 0x01, syn: UInt8 = 0x02, rst: UInt8 = 0x04, psh: UInt8 = 0x08, ack: UInt8 = 0x10
}

final class CaptureOutput {
    let descriptor: Int32
    let buffer: UnsafeMutableRawPointer
    let capacity = 8 << 20
    var used = 0
    private(set) var packets: UInt64 = 0
    private(set) var bytes: UInt64 = 0
    private(set) var failure: Int32?

    /// Opens `path` (`-` for standard output) and writes the file header.
    init(path: String) throws(SynthError) {
        if path == "-" {
            descriptor = STDOUT_FILENO
        } else {
            descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            guard descriptor >= 0 else { throw SynthError("\(path): \(String(cString: strerror(errno)))") }
        }
        buffer = .allocate(byteCount: capacity, alignment: 16)
        // Magic, version 2.4, zone 0, sigfigs 0, snaplen 262144, link type 1 (Ethernet), in little-endian order
        // like the records.
        for (value, size) in [(0xa1b2_c3d4, 4), (2, 2), (4, 2), (0, 4), (0, 4), (262_144, 4), (1, 4)] as [(UInt32, Int)] {
            withUnsafeBytes(of: value.littleEndian) { (buffer + used).copyMemory(from: $0.baseAddress!, byteCount: size) }
            used += size
        }
    }

    deinit { buffer.deallocate() }

    /// Writes what is buffered. Returns false (and remembers errno) when the descriptor refuses it.
    @discardableResult
    func flush() -> Bool {
        var offset = 0
        while offset < used {
            let n = write(descriptor, buffer + offset, used - offset)
            if n < 0 {
                if errno == EINTR { continue }
                failure = errno
                used = 0
                return false
            }
            offset += n
        }
        used = 0
        return true
    }

    func close() -> Bool {
        let ok = flush()
        return descriptor == STDOUT_FILENO ? ok : (Glibc.close(descriptor) == 0 && ok)
    }

    // MARK: Frames

    /// One frame from `from` to `to` at `time` (seconds since the epoch) carrying `payload` bytes of transport
    /// payload (zeros, or `fill` when given). `v6`: use both ends' IPv6 addresses.
    func frame(at time: Double, from: Endpoint, to: Endpoint, v6: Bool, transport: TransportKind,
               sourcePort: UInt16, destinationPort: UInt16, flags: UInt8 = 0, sequence: UInt32 = 0,
               acknowledgement: UInt32 = 0, payload: Int, fill: (UnsafeMutableRawPointer) -> Void = { _ in }) {
        if capacity - used < 2048 { flush() }
        let record = used
        used += 16
        let frameStart = used
        let vlan = from.vlan != 0 ? from.vlan : to.vlan
        ethernet(source: from.mac, destination: to.mac, vlan: vlan, etherType: v6 ? 0x86dd : 0x0800)
        let transportLength: Int
        let protocolNumber: UInt8
        switch transport {
        case .tcp: transportLength = (flags & TCPFlag.syn != 0 ? 32 : 20) + payload; protocolNumber = 6
        case .udp: transportLength = 8 + payload; protocolNumber = 17
        case .icmp: transportLength = 8 + payload; protocolNumber = v6 ? 58 : 1
        }
        let networkStart = used
        if v6 {
            put32(0x6000_0000); put16(UInt16(transportLength)); put8(protocolNumber); put8(64)
            put64(from.ipv6!.high); put64(from.ipv6!.low); put64(to.ipv6!.high); put64(to.ipv6!.low)
        } else {
            put16(0x4500); put16(UInt16(20 + transportLength)); put16(UInt16(truncatingIfNeeded: packets)); put16(0x4000)
            put8(64); put8(protocolNumber); put16(0); put32(from.ipv4); put32(to.ipv4)
            storeBig16(checksum(networkStart, 20, initial: 0), at: networkStart + 10)
        }
        let transportStart = used
        switch transport {
        case .tcp:
            put16(sourcePort); put16(destinationPort); put32(sequence); put32(acknowledgement)
            if flags & TCPFlag.syn != 0 {
                put16(0x8000 | UInt16(flags)); put16(64_240); put32(0)
                put32(0x0204_05b4); put32(0x0103_0307); put32(0x0402_0000)  // MSS 1460, window scale 7, SACK permitted
            } else {
                put16(0x5000 | UInt16(flags)); put16(502); put32(0)
            }
        case .udp:
            put16(sourcePort); put16(destinationPort); put16(UInt16(transportLength)); put16(0)
        case .icmp:
            put8(v6 ? (sourcePort == 0 ? 128 : 129) : (sourcePort == 0 ? 8 : 0)); put8(0); put16(0)
            put16(destinationPort); put16(UInt16(truncatingIfNeeded: sequence))
        }
        (buffer + used).initializeMemory(as: UInt8.self, repeating: 0, count: payload)
        fill(buffer + used)
        used += payload
        // Transport checksum over the pseudo-header and the segment (ICMPv4 has no pseudo-header).
        var initial: UInt32 = 0
        if transport != .icmp || v6 {
            if v6 {
                initial = sum(networkStart + 8, 32)
            } else {
                initial = sum(networkStart + 12, 8)
            }
            initial += UInt32(protocolNumber) + UInt32(transportLength)
        }
        let checksumOffset = transport == .tcp ? 16 : (transport == .udp ? 6 : 2)
        var value = checksum(transportStart, transportLength, initial: initial)
        if transport == .udp && value == 0 { value = 0xffff }
        storeBig16(value, at: transportStart + checksumOffset)
        // Ethernet frames are at least 60 bytes before the frame check sequence.
        let length = max(used - frameStart, 60)
        if used - frameStart < 60 {
            (buffer + used).initializeMemory(as: UInt8.self, repeating: 0, count: 60 - (used - frameStart))
            used = frameStart + 60
        }
        storeRecordHeader(at: record, time: time, length: length)
    }

    /// An ARP request (`reply` false) or reply between two local hosts.
    func arp(at time: Double, from: Endpoint, asking target: UInt32, targetMAC: UInt64 = 0, reply: Bool = false) {
        if capacity - used < 2048 { flush() }
        let record = used
        used += 16
        let frameStart = used
        ethernet(source: from.mac, destination: reply ? targetMAC : 0xffff_ffff_ffff, vlan: from.vlan, etherType: 0x0806)
        put16(1); put16(0x0800); put8(6); put8(4); put16(reply ? 2 : 1)
        put48(from.mac); put32(from.ipv4); put48(targetMAC); put32(target)
        (buffer + used).initializeMemory(as: UInt8.self, repeating: 0, count: 60 - (used - frameStart))
        used = frameStart + 60
        storeRecordHeader(at: record, time: time, length: 60)
    }

    /// One fragment of an IP datagram carrying `ipProtocol`: `offset` (bytes, a multiple of 8) into the datagram,
    /// `more` the more-fragments flag, `payload` bytes of the datagram from there (zeros, or `fill`). IPv6 puts a
    /// fragment header (RFC 8200 section 4.5) after the fixed header. Transport checksums are not computed: they
    /// cover the whole datagram, which a flood of fragments never completes.
    func fragment(at time: Double, from: Endpoint, to: Endpoint, v6: Bool, ipProtocol: UInt8, identification: UInt32,
                  offset: Int, more: Bool, payload: Int, fill: (UnsafeMutableRawPointer) -> Void = { _ in }) {
        if capacity - used < 2048 { flush() }
        let record = used
        used += 16
        let frameStart = used
        ethernet(source: from.mac, destination: to.mac, vlan: from.vlan != 0 ? from.vlan : to.vlan,
                 etherType: v6 ? 0x86dd : 0x0800)
        let networkStart = used
        if v6 {
            put32(0x6000_0000); put16(UInt16(8 + payload)); put8(44); put8(64)
            put64(from.ipv6!.high); put64(from.ipv6!.low); put64(to.ipv6!.high); put64(to.ipv6!.low)
            put8(ipProtocol); put8(0); put16(UInt16(offset / 8) << 3 | (more ? 1 : 0)); put32(identification)
        } else {
            put16(0x4500); put16(UInt16(20 + payload)); put16(UInt16(truncatingIfNeeded: identification))
            put16((more ? 0x2000 : 0) | UInt16(offset / 8))
            put8(64); put8(ipProtocol); put16(0); put32(from.ipv4); put32(to.ipv4)
            storeBig16(checksum(networkStart, 20, initial: 0), at: networkStart + 10)
        }
        (buffer + used).initializeMemory(as: UInt8.self, repeating: 0, count: payload)
        fill(buffer + used)
        used += payload
        let length = max(used - frameStart, 60)
        if used - frameStart < 60 {
            (buffer + used).initializeMemory(as: UInt8.self, repeating: 0, count: 60 - (used - frameStart))
            used = frameStart + 60
        }
        storeRecordHeader(at: record, time: time, length: length)
    }

    /// The router between the site and the outside: every outside address is behind its MAC.
    static let gatewayMAC: UInt64 = 0x0200_0000_0001

    // MARK: Bytes

    private func storeRecordHeader(at record: Int, time: Double, length: Int) {
        let seconds = time.rounded(.down)
        let micros = min(999_999, Int((time - seconds) * 1_000_000))
        (buffer + record).storeBytes(of: UInt32(seconds).littleEndian, as: UInt32.self)
        (buffer + record + 4).storeBytes(of: UInt32(micros).littleEndian, as: UInt32.self)
        (buffer + record + 8).storeBytes(of: UInt32(length).littleEndian, as: UInt32.self)
        (buffer + record + 12).storeBytes(of: UInt32(length).littleEndian, as: UInt32.self)
        packets += 1
        bytes += UInt64(length + 16)
    }

    private func ethernet(source: UInt64, destination: UInt64, vlan: UInt16, etherType: UInt16) {
        put48(destination); put48(source)
        if vlan != 0 { put16(0x8100); put16(vlan) }
        put16(etherType)
    }

    private func put8(_ v: UInt8) { (buffer + used).storeBytes(of: v, as: UInt8.self); used += 1 }
    private func put16(_ v: UInt16) { storeBig16(v, at: used); used += 2 }
    private func put32(_ v: UInt32) { (buffer + used).storeBytes(of: v.bigEndian, as: UInt32.self); used += 4 }
    private func put48(_ v: UInt64) { put16(UInt16(truncatingIfNeeded: v >> 32)); put32(UInt32(truncatingIfNeeded: v)) }
    private func put64(_ v: UInt64) { (buffer + used).storeBytes(of: v.bigEndian, as: UInt64.self); used += 8 }
    private func storeBig16(_ v: UInt16, at offset: Int) {
        (buffer + offset).storeBytes(of: v.bigEndian, as: UInt16.self)
    }

    /// Sum of big-endian 16-bit words (RFC 1071), not folded.
    private func sum(_ offset: Int, _ count: Int) -> UInt32 {
        var total: UInt32 = 0
        let bytes = (buffer + offset).assumingMemoryBound(to: UInt8.self)
        var i = 0
        while i + 1 < count {
            total &+= UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1])
            i += 2
        }
        if i < count { total &+= UInt32(bytes[i]) << 8 }
        return total
    }

    private func checksum(_ offset: Int, _ count: Int, initial: UInt32) -> UInt16 {
        var total = UInt64(initial) + UInt64(sum(offset, count))
        while total > 0xffff { total = (total & 0xffff) + (total >> 16) }
        return ~UInt16(total)
    }
}

struct SynthError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
