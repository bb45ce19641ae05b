// Hostile input for the whole per-packet path: the libFuzzer target (`idlewatch-fuzz`) and the regression tests
// call these functions, so a crash the fuzzer finds replays in the normal test suite through the same code.
//
// Every call builds a fresh pipeline (small tables, fixed hash seeds) and finishes it, so nothing carries from one
// input to the next and a crashing input crashes again on its own. The only things shared are the parsed site
// model (immutable) and two unnamed files, rewritten per input.

import Glibc
import OutputSinks
import PacketCapture
import PacketDecoding
import Sensor
import SiteModel

public enum FuzzHarness {
    /// Small caps, so a few dozen packets fill the tables and the eviction paths run.
    public static let flowCapacity = 64
    public static let hostCapacityPerSide = 32
    public static let serviceCapacity = 16
    public static let suppressionCapacity = 16
    public static let fragmentSlots = 8

    /// A site with every kind of inventory entry and maintenance port, so the detections have something to find
    /// in corpus traffic (the corpus is mostly 192.168/16 and 10/8) and in whatever the fuzzer makes. Learning is
    /// short so inputs of a few packets reach the after-learning rules.
    public static let siteText = """
        local_networks: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, "fd00::/8", "fe80::/10"]
        public_addresses: [203.0.113.10]
        hosts:
          - { address: 192.168.0.1, name: retired-gateway, state: decommissioned }
          - { address: 10.0.0.1, name: retired-server, state: decommissioned }
          - { address: 192.168.1.0/24, name: cameras, state: idle, allow: [arp, dns, ntp, dhcp, icmp, 161/udp] }
          - { address: 10.0.0.0/24, name: lab, state: idle, allow: [arp, mdns, tcp/8080] }
          - { address: "fd00::/64", name: v6-sensors, state: idle, allow: [icmp] }
          - { address: 192.168.1.1, name: camera-gateway, state: active }
          - { address: 172.16.0.0/12, name: servers, state: active }
        maintenance_ports:
          - name: vendor-ssh
            host: 192.168.1.10
            port: 22
            external: 203.0.113.10:2222
            allowed_sources: [198.51.100.0/24]
            windows: ["Sat 01:00-05:00", "Mon-Fri 22:00-02:00"]
            expires: 2026-11-10
          - { name: old-telnet, host: 10.0.0.2, port: 23, closed: true }
          - { name: snmp, host: 172.16.0.5, port: 161, proto: udp }
          - { name: v6-ssh, host: "fd00::10", port: 22, allowed_sources: ["2001:db8::/32"] }
        learning: { period: 10m, dormant_after: 1h }
        """

    public static let site: Site = {
        do {
            return try SiteLoader.parse(siteText, path: "fuzz-site.yaml")
        } catch {
            fatalError("the fuzz harness's own site file is invalid: \(error)")
        }
    }()

    /// The pipeline configuration every input runs with; `seed` is the flow and host tables' hash seed.
    public static func configuration(json: Bool, withSite: Bool = true, seed: UInt64 = 0x1d1e_5eed) -> PipelineConfiguration {
        var configuration = PipelineConfiguration()
        configuration.flows.capacity = flowCapacity
        configuration.flows.fragmentSlots = fragmentSlots
        configuration.flows.reassemblySlots = fragmentSlots
        configuration.flows.hashSeed = seed
        configuration.hosts.localCapacity = hostCapacityPerSide
        configuration.hosts.externalCapacity = hostCapacityPerSide
        configuration.hosts.serviceCapacity = serviceCapacity
        configuration.hosts.hashSeed = seed
        configuration.ledger.suppressionCapacity = suppressionCapacity
        configuration.writeFlows = true
        configuration.alerts = true
        configuration.format = json ? .json : .text
        if withSite { configuration.site = site }
        return configuration
    }

    // MARK: Packets

    /// Runs `input` as framed packets (see `FuzzFraming`) through decode, flows, hosts, detections and the alert and
    /// flow-record formatter its options byte picks, then checks the invariants that must hold after any input.
    /// Returns the finished pipeline.
    @discardableResult
    public static func runPackets(_ input: UnsafeRawBufferPointer) -> Pipeline {
        let options = FuzzFraming.Options(input.first ?? 0)
        let first = runPackets(input, options: options, seed: 0x1d1e_5eed)
        if options.checkSeedIndependence {
            // Same input, other hash seeds: the flow and host tables lay out differently, the output must not move.
            let second = runPackets(input, options: options, seed: 0x5eed_0f_1d1e)
            precondition(first.output == second.output, "output depends on the hash seed")
        }
        return first.pipeline
    }

    static func runPackets(_ input: UnsafeRawBufferPointer, options: FuzzFraming.Options, seed: UInt64)
        -> (pipeline: Pipeline, output: [UInt8])
    {
        let sink = MemorySink()
        var pipeline = Pipeline(configuration: configuration(json: options.json, withSite: options.withSite, seed: seed),
                                output: sink.output)
        var packets: UInt64 = 0
        FuzzFraming.forEachPacket(in: input) { packet in
            pipeline.handle(packet)
            packets += 1
        }
        pipeline.finish()
        checkInvariants(pipeline, packets: packets)
        return (pipeline, sink.contents())
    }

    // MARK: Capture files

    /// Runs `input` as a whole capture file (pcap or pcapng, any damage) through libpcap and `OfflineSource` into
    /// the pipeline, as `idlewatch replay FILE` does. A file libpcap refuses, or a read error part way, is fine; a
    /// trap is not.
    @discardableResult
    public static func runCaptureFile(_ input: UnsafeRawBufferPointer) -> Pipeline? {
        let path = CaptureFileInMemory.shared.replace(with: input)
        guard let source = try? OfflineSource(path: path) else { return nil }
        var pipeline = Pipeline(configuration: configuration(json: true), output: nil)
        try? source.drain(&pipeline)
        pipeline.finish()
        checkInvariants(pipeline, packets: UInt64(source.packetsRead))
        return pipeline
    }

    // MARK: Invariants

    /// What must be true after any input, whatever it contained: every packet counted, no flow left open after
    /// `finish()`, the tables within their caps.
    static func checkInvariants(_ pipeline: Pipeline, packets: UInt64) {
        precondition(pipeline.decode.packets &+ pipeline.timeOutliers == packets, "decode counters lost packets")
        let flows = pipeline.flows
        precondition(flows.activeCount == 0, "flows still open after finish()")
        precondition(flows.counters.created == flows.counters.ended, "flows created and ended differ")
        precondition(flows.counters.peakActive <= flowCapacity, "flow table above its capacity")
        let hosts = pipeline.analyzer.engine.hosts
        precondition(hosts.count <= 2 * hostCapacityPerSide, "host table above its capacity")
        precondition(hosts.services.count <= serviceCapacity, "service table above its capacity")
    }
}

/// The fuzz input format: one options byte, then packet records until the input runs out.
///
/// ```
/// options  1 byte   bit 0: JSON output (else text); bit 1: no site file (defaults); bit 2: run twice with two
///                   hash seeds and require the same output
/// record   1 byte   control: bits 0-3 link type (index into `linkTypes`, modulo its count), bit 4: the clock
///                   goes back by the delta instead of forward, bit 5: the wire length is shorter than the
///                   captured bytes by `extra` (a contradiction libpcap passes through)
///          2 bytes  clock delta, big endian: bits 14-15 the unit (microseconds, milliseconds, seconds, hours),
///                   bits 0-13 the count
///          2 bytes  extra, big endian: bytes on the wire beyond those captured (a snapshot-length cut)
///          2 bytes  captured length, big endian; the captured bytes follow (fewer when the input ends first)
/// ```
/// The clock starts at 2026-11-06T23:00:00Z, a Friday evening, so maintenance windows, the expiry date, learning
/// and dormancy are all within a few records' reach.
public enum FuzzFraming {
    public static let linkTypes: [LinkType] = [
        .ethernet, .linuxSLL, .linuxSLL2, .raw, .rawLinktype, .ipv4, .ipv6, .null, .loop,
        LinkType(rawValue: 127),  // 802.11 radiotap: unsupported, counted and skipped
    ]
    public static let start = Timestamp(seconds: 1_794_006_000)
    public static let recordHeaderLength = 7
    static let units: [Int64] = [1_000, 1_000_000, 1_000_000_000, 3_600_000_000_000]

    public struct Options {
        public var json: Bool
        public var withSite: Bool
        public var checkSeedIndependence: Bool

        public init(_ byte: UInt8) {
            json = byte & 1 != 0
            withSite = byte & 2 == 0
            checkSeedIndependence = byte & 4 != 0
        }
    }

    /// Calls `body` with each packet of `input`; the bytes are valid only during the call, as libpcap's are.
    public static func forEachPacket(in input: UnsafeRawBufferPointer, _ body: (CapturedPacket) -> Void) {
        var offset = 1  // the options byte
        var clock = start.nanoseconds
        // The same range OfflineSource keeps capture timestamps in.
        let lowest = (Timestamp.representableSeconds.lowerBound + 1) * 1_000_000_000
        let highest = (Timestamp.representableSeconds.upperBound - 1) * 1_000_000_000
        while input.count - offset >= recordHeaderLength {
            let control = input[offset]
            let delta = Int64(input[offset + 1]) << 8 | Int64(input[offset + 2])
            let extra = Int(input[offset + 3]) << 8 | Int(input[offset + 4])
            let length = Int(input[offset + 5]) << 8 | Int(input[offset + 6])
            offset += recordHeaderLength
            let captured = min(length, input.count - offset)
            let step = (delta & 0x3fff) * units[Int(delta >> 14)]
            if control & 0x10 != 0 {
                let (earlier, overflow) = clock.subtractingReportingOverflow(step)
                clock = overflow ? lowest : max(earlier, lowest)
            } else {
                let (later, overflow) = clock.addingReportingOverflow(step)
                clock = overflow ? highest : min(later, highest)
            }
            let wire = control & 0x20 != 0 ? max(0, captured - extra) : captured + extra
            // Each packet in an allocation of its own size, so AddressSanitizer sees any read past its captured
            // bytes (in the input buffer, the next record's bytes would be there to read unnoticed).
            let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: captured, alignment: 1)
            defer { bytes.deallocate() }
            bytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: input[offset..<offset + captured]))
            let packet = CapturedPacket(
                timestamp: Timestamp(nanoseconds: clock), capturedLength: captured, wireLength: wire,
                linkType: linkTypes[Int(control & 0x0f) % linkTypes.count], bytes: UnsafeRawBufferPointer(bytes))
            body(packet)
            offset += captured
        }
    }
}

/// A file with no name in the file system, in memory where /dev/shm is (Glibc's module does not import
/// `memfd_create`; a file unlinked at once is the portable equivalent).
func anonymousFile() -> Int32 {
    let directory = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
    var template = Array("\(directory)/idlewatch-fuzz-XXXXXX".utf8CString)
    let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    precondition(descriptor >= 0, "cannot create a file in \(directory): \(String(cString: strerror(errno)))")
    template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
    return descriptor
}

/// Output written to an anonymous in-memory file: the formatters run as they do for a real file, and the bytes
/// can be compared between runs.
final class MemorySink {
    let descriptor: Int32
    let output: BufferedOutput

    init() {
        descriptor = anonymousFile()
        output = BufferedOutput(descriptor: descriptor)
    }

    deinit { close(descriptor) }

    func contents() -> [UInt8] {
        output.flush()
        let size = Int(lseek(descriptor, 0, SEEK_END))
        var bytes = [UInt8](repeating: 0, count: size)
        let read = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, size, 0) }
        precondition(read == size, "reading the output back failed")
        return bytes
    }
}

/// One in-memory file reused for every capture-file input, opened by libpcap through its /proc path (libpcap
/// takes a path, and a real file per input would be disk traffic at thousands of inputs a second).
final class CaptureFileInMemory: @unchecked Sendable {
    static let shared = CaptureFileInMemory()
    let descriptor: Int32
    let path: String

    init() {
        descriptor = anonymousFile()
        path = "/proc/self/fd/\(descriptor)"
    }

    /// Replaces the file's contents with `bytes` and returns the path to open.
    func replace(with bytes: UnsafeRawBufferPointer) -> String {
        precondition(ftruncate(descriptor, 0) == 0, "ftruncate failed")
        var written = 0
        while written < bytes.count {
            let result = pwrite(descriptor, bytes.baseAddress! + written, bytes.count - written, off_t(written))
            precondition(result > 0, "writing the capture to memory failed")
            written += result
        }
        return path
    }
}
