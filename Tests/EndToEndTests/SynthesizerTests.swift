// idlewatch-synth: the benchmark's capture generator. The same seed gives the same bytes; what it writes decodes
// completely; the mix has the IPv6, VLAN and protocol shares it claims; and the scenario events it sprinkles in
// raise the alerts an IdleWatch user expects from them, with the site file it writes.

import Foundation
import Testing

@Suite("Traffic synthesizer", .serialized)
struct SynthesizerTests {
    static var synthesizer: String {
        URL(fileURLWithPath: TestPaths.executable).deletingLastPathComponent().appendingPathComponent("idlewatch-synth").path
    }

    static func synthesize(_ arguments: [String]) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: synthesizer)
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return ProcessResult(status: process.terminationStatus, standardOutput: "",
                             standardError: String(decoding: message, as: UTF8.self))
    }

    /// Writes `synth.pcap` and its `site.yaml` into `directory`; returns their paths.
    static func capture(in directory: URL, seed: Int, packets: Int, clients: Int, outside: Int) throws
        -> (capture: String, site: String)
    {
        let capture = directory.appendingPathComponent("synth.pcap").path
        let site = directory.appendingPathComponent("site.yaml").path
        let made = try synthesize(["--seed", "\(seed)", "--packets", "\(packets)", "-w", capture, "--site-file", site,
                                   "--clients", "\(clients)", "--outside", "\(outside)"])
        #expect(made.status == 0, "\(made.standardError)")
        return (capture, site)
    }

    @Test("the same seed and count give the same bytes; another seed gives others")
    func deterministic() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var contents: [Data] = []
        for (name, seed) in [("a", "7"), ("b", "7"), ("c", "8")] {
            let path = directory.appendingPathComponent(name + ".pcap").path
            let result = try SynthesizerTests.synthesize(["--seed", seed, "--packets", "20000", "-w", path])
            #expect(result.status == 0, "\(result.standardError)")
            #expect(result.standardError.contains("20000 frames"))
            contents.append(try Data(contentsOf: URL(fileURLWithPath: path)))
        }
        #expect(contents[0] == contents[1])
        #expect(contents[0] != contents[2])
        #expect(contents[0].count > 20000 * 60)
    }

    @Test("floods: the same seed gives the same bytes, and every SYN of a SYN flood comes from a new address")
    func floods() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var contents: [Data] = []
        var report = ""
        for name in ["a", "b"] {
            let path = directory.appendingPathComponent(name + ".pcap").path
            let result = try SynthesizerTests.synthesize(["--flood", "syn", "--seed", "3", "--packets", "20000",
                                                          "-w", path])
            #expect(result.status == 0, "\(result.standardError)")
            report = result.standardError
            contents.append(try Data(contentsOf: URL(fileURLWithPath: path)))
        }
        #expect(contents[0] == contents[1])
        let capture = directory.appendingPathComponent("a.pcap").path
        let sources = try #require(report.firstMatch(of: /(\d+) spoofed outside sources/).flatMap { Int($0.1) })
        // With room for every host: the outside side holds each forged source once, plus the hidden session's host.
        let result = try runIdleWatch(["replay", "--host-capacity", "1000000", "--no-alerts", "--flows", capture])
        let syns = result.outputLines.filter { $0.contains(" TCP ") && !$0.contains(" TCP 203.0.113.77:") }
        #expect(syns.count == sources, "one flow per SYN")
        // `TIME TCP ADDRESS:PORT -> ...` (IPv6 addresses in brackets): the address is before the last colon.
        let originators = Set(syns.compactMap { line -> Substring? in
            let fields = line.split(separator: " ")
            guard fields.count > 2, let colon = fields[2].lastIndex(of: ":") else { return nil }
            return fields[2][..<colon]
        })
        #expect(originators.count == sources, "each from its own address")
        for kind in ["fragments", "hosts"] {
            let path = directory.appendingPathComponent(kind + ".pcap").path
            let made = try SynthesizerTests.synthesize(["--flood", kind, "--packets", "20000", "-w", path])
            #expect(made.status == 0 && made.standardError.contains("20000 frames"), "\(made.standardError)")
            #expect(made.standardError.contains("hidden session 203.0.113.77:"))
        }
    }

    @Test("a synthesized capture decodes completely, has the claimed mix, and its scenario raises the expected alerts")
    func scenario() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let capture = directory.appendingPathComponent("synth.pcap").path
        let site = directory.appendingPathComponent("site.yaml").path
        // 300,000 frames over 6 hours: five scenario events, one of each kind.
        let made = try SynthesizerTests.synthesize(["--seed", "3", "--packets", "300000", "-w", capture,
                                                    "--site-file", site, "--clients", "2000", "--outside", "5000"])
        #expect(made.status == 0, "\(made.standardError)")
        #expect(made.standardError.contains("5 scenario events"))

        let result = try runIdleWatch(["replay", "--site", site, "--format", "json", capture])
        #expect(result.status == 0, "\(result.standardError)")
        let summary = result.standardError
        // Every frame is IPv4, IPv6 or ARP, and decodes as such.
        let decoded = try #require(summary.firstMatch(of: /decoded: (\d+) IPv4, (\d+) IPv6, (\d+) ARP/))
        let (ipv4, ipv6, arp) = (Int(decoded.1)!, Int(decoded.2)!, Int(decoded.3)!)
        #expect(ipv4 + ipv6 + arp == 300_000, "\(summary)")
        // About 12% of conversations are IPv6 (a third of those that could be).
        let share = Double(ipv6) / 300_000
        #expect(share > 0.05 && share < 0.25, "IPv6 share \(share)")
        #expect(arp > 100)

        let alerts = try parseJSONLines(result.standardOutput).compactMap { $0["alert"] as? [String: Any] }
        let rules = alerts.compactMap { $0["rule"] as? String }
        let text = result.standardOutput
        // The decommissioned server talks; a camera of the idle platform opens HTTPS; remote desktop reaches a
        // workstation from outside; a scanner sweeps telnet.
        #expect(text.contains("decommissioned-host-active") && text.contains("10.1.250.20"), "\(rules)")
        #expect(text.contains("idle-host-active") && text.contains("10.1.251."), "\(rules)")
        #expect(text.contains("maintenance-port-inbound") && text.contains("3389"), "\(rules)")
        #expect(text.contains("inbound-scan"), "\(rules)")
        // The vendor's session over the declared mapping is allowed: no alert names its source.
        #expect(!text.contains("198.51.100.7"))
    }
}
