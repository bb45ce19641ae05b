// The fuzz harness (Sources/FuzzHarness) in the ordinary test suite: it drives the detections (a fuzzer over a harness
// that reaches nothing finds nothing), it survives every corpus capture with its small tables, and every input the
// fuzzer found to crash or break an invariant replays here through the same code, with the fix that answers it.

import Detection
import Foundation
import FuzzHarness
import PacketDecoding
import Testing

/// One record of the fuzz framing (`FuzzFraming`): control byte, clock delta, extra wire bytes, captured bytes.
func fuzzRecord(_ bytes: [UInt8], link: UInt8 = 0, delta: UInt16 = 0, extra: UInt16 = 0) -> [UInt8] {
    [link, UInt8(delta >> 8), UInt8(delta & 0xff), UInt8(extra >> 8), UInt8(extra & 0xff),
     UInt8(bytes.count >> 8), UInt8(bytes.count & 0xff)] + bytes
}

/// An Ethernet frame with an IPv4 header (no options) and a 20-byte TCP header, checksums left at zero.
func ethernetTCP(from source: [UInt8], _ sourcePort: UInt16, to destination: [UInt8], _ destinationPort: UInt16,
                 flags: UInt8) -> [UInt8] {
    let ethernet: [UInt8] = [0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00]
    let ipv4: [UInt8] = [0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0] + source + destination
    let tcp: [UInt8] = [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xff), UInt8(destinationPort >> 8),
                        UInt8(destinationPort & 0xff), 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]
    return ethernet + ipv4 + tcp
}

@Suite("Fuzz harness")
struct FuzzHarnessTests {
    @Test("framed packets reach the detections: an outside SYN to a closed maintenance port raises an alert")
    func harnessReachesDetections() {
        let outside: [UInt8] = [192, 0, 2, 1], telnetHost: [UInt8] = [10, 0, 0, 2]
        // Options 0x04: run under two hash seeds and require the same output.
        let input: [UInt8] = [0x04]
            + fuzzRecord(ethernetTCP(from: outside, 40000, to: telnetHost, 23, flags: 0x02))
            + fuzzRecord(ethernetTCP(from: telnetHost, 23, to: outside, 40000, flags: 0x12), delta: 0x4000 | 5)
        let pipeline = input.withUnsafeBytes { FuzzHarness.runPackets($0) }
        #expect(pipeline.decode.packets == 2)
        #expect(pipeline.flows.counters.created == 1)
        #expect(pipeline.analyzer.engine.ledger.raisedByRule[.maintenancePortInbound, default: 0] >= 1)
    }

    @Test("every corpus capture goes through the harness's small tables as a capture file")
    func corpusCapturesThroughHarness() throws {
        let files = FileManager.default.enumerator(atPath: TestPaths.corpus.path)?.compactMap { $0 as? String } ?? []
        var opened = 0
        for relative in files.sorted() where relative.hasSuffix(".pcap") || relative.hasSuffix(".pcapng")
            || relative.hasSuffix(".cap")
        {
            let data = try Data(contentsOf: TestPaths.corpus.appendingPathComponent(relative))
            if data.withUnsafeBytes({ FuzzHarness.runCaptureFile($0) }) != nil { opened += 1 }
        }
        #expect(opened > 700)
    }
}
