// Writes pcap files through libpcap's dumper: used to split and build captures in tests and by the project's
// capture tools. Not on the analysis path.

import CPcap
import Glibc
import PacketDecoding

public final class CaptureWriter {
    public let path: String
    let dead: PcapHandle
    let dumper: OpaquePointer
    let nanosecondPrecision: Bool

    /// Creates (or truncates) a pcap file for packets of `linkType`.
    public init(path: String, linkType: LinkType, snapshotLength: Int = 262_144,
                nanosecondPrecision: Bool = false) throws(PcapError) {
        self.path = path
        self.nanosecondPrecision = nanosecondPrecision
        let precision = UInt32(nanosecondPrecision ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO)
        guard let pointer = pcap_open_dead_with_tstamp_precision(linkType.rawValue, Int32(snapshotLength), precision)
        else { throw PcapError(source: path, message: "pcap_open_dead failed") }
        dead = PcapHandle(pointer: pointer, source: path)
        guard let dumper = pcap_dump_open(pointer, path) else {
            throw PcapError(source: path, message: dead.lastError)
        }
        self.dumper = dumper
    }

    deinit {
        pcap_dump_close(dumper)
    }

    /// Appends one record. `bytes` is what was captured; `wireLength` defaults to its length.
    public func write(timestamp: Timestamp, bytes: UnsafeRawBufferPointer, wireLength: Int? = nil) {
        var header = pcap_pkthdr()
        header.ts.tv_sec = Int(timestamp.seconds)
        let fraction = timestamp.subsecondNanoseconds
        header.ts.tv_usec = Int(nanosecondPrecision ? fraction : fraction / 1000)
        header.caplen = UInt32(bytes.count)
        header.len = UInt32(wireLength ?? bytes.count)
        withUnsafePointer(to: &header) { headerPointer in
            pcap_dump(UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self), headerPointer,
                      bytes.baseAddress?.assumingMemoryBound(to: UInt8.self))
        }
    }

    public func write(_ packet: CapturedPacket) {
        write(timestamp: packet.timestamp, bytes: packet.bytes, wireLength: packet.wireLength)
    }

    /// Flushes buffered records to the file; throws libpcap's complaint if the write failed.
    public func flush() throws(PcapError) {
        guard pcap_dump_flush(dumper) == 0 else {
            throw PcapError(source: path, message: "cannot write: \(String(cString: strerror(errno)))")
        }
    }
}
