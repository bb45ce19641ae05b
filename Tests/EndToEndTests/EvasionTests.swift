// Evasion on a real kernel (issue 14): a client shapes its packets so that a sensor misses them while the server's
// Linux accepts them. scripts/evasion-session.py runs one SSH-like session between two network namespaces, the
// client crafting every segment on a packet socket, and records the server's interface with tcpdump (both ways,
// and a second, one-sided recording of what the server sends). Each recording is replayed here: the session
// must raise what a plain session raises, maintenance-port-inbound `undeclared` at `open` and `session`.
// Needs root.

import Detection
import Foundation
import Glibc
import PacketCapture
import Sensor
import Testing

@Suite("Evasion on a real kernel", .serialized, .enabled(if: geteuid() == 0, "needs root for network namespaces"))
struct EvasionTests {
    static let siteFile = """
        local_networks: [10.201.0.0/24, "fd00:201::/64"]
        """
    static let client4 = "198.51.100.7", server4 = "10.201.0.2"
    static let client6 = "2001:db8:51::7", server6 = "fd00:201::2"

    struct Session: Decodable {
        var synack: Bool
        var banner: String
        var closed: Bool
        var server_read: String
    }

    /// Runs one session in `mode`; returns what the script saw and the directory with both recordings.
    static func session(_ mode: String, _ extra: [String] = []) throws -> (Session, URL) {
        let directory = TestPaths.temporaryDirectory()
        let script = TestPaths.packageRoot.appendingPathComponent("scripts/evasion-session.py").path
        // The pid keeps parallel runs apart; the random part keeps this run's sessions apart.
        let tag = "\(Int(getpid()) % 10_000)\(Int.random(in: 0...9))"
        let output = try sh(([script, mode, "--out", directory.path, "--tag", tag] + extra).joined(separator: " "))
        let line = output.split(separator: "\n").last.map(String.init) ?? ""
        return (try JSONDecoder().decode(Session.self, from: Data(line.utf8)), directory)
    }

    static func signatures(_ recording: URL) throws -> [String] {
        try alerts(of: [recording.path], site: EndToEndTests.site(Self.siteFile)).map { AlertSignature($0).description }
    }

    static func expected(_ client: String, _ server: String) -> [String] {
        ["open", "session"].map {
            AlertSignature("maintenance-port-inbound", client, server, "22", stage: $0, reason: "undeclared").description
        }
    }

    @Test("a plain session raises open and session, from both sides and from the server's side alone")
    func plainSession() throws {
        let (result, directory) = try Self.session("plain")
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(result.synack && result.closed && result.server_read == "SSH-2.0-crafted-client", "\(result)")
        let both = try Self.signatures(directory.appendingPathComponent("both.pcap"))
        #expect(both == Self.expected(Self.client4, Self.server4))
        // One-sided capture: only the server's SYN-ACK, banner, ACKs and FIN. The SYN-ACK shows the port open;
        // the server acknowledging the client's line shows the session.
        let oneSided = try Self.signatures(directory.appendingPathComponent("server-only.pcap"))
        #expect(oneSided == Self.expected(Self.client4, Self.server4))
    }

    /// Long chains of extension headers: kernels up to 6.12 accept every segment behind them; later ones (6.18 here)
    /// drop a long chain unanswered. Either way the sensor must see what the server's kernel saw: the session when it
    /// answered, nothing when it did not (an evasion is the sensor and the kernel disagreeing). One header must be
    /// accepted by every kernel, so the chain itself is known to be well formed.
    func destinationOptions(headers: Int) throws {
        let (result, directory) = try Self.session("dstopts", ["--headers", "\(headers)"])
        defer { try? FileManager.default.removeItem(at: directory) }
        let both = try Self.signatures(directory.appendingPathComponent("both.pcap"))
        if result.synack {
            #expect(result.closed, "\(result)")
            #expect(both == Self.expected(Self.client6, Self.server6))
        } else {
            #expect(headers > 1, "the kernel refused a single destination-options header: \(result)")
            #expect(both.isEmpty, "the kernel dropped the SYN, the sensor saw \(both)")
        }
    }

    @Test("one IPv6 destination-options header before every client segment: the kernel answers, and so does the sensor")
    func oneDestinationOptionsHeader() throws {
        try destinationOptions(headers: 1)
    }

    @Test("every client segment behind 17 IPv6 destination-options headers: the sensor sees what the kernel accepted")
    func seventeenDestinationOptionsHeaders() throws {
        try destinationOptions(headers: 17)
    }

    @Test("150 destination-options headers, as many as a 1500-byte link carries with the segment: the sensor sees what the kernel accepted")
    func longDestinationOptionsChain() throws {
        try destinationOptions(headers: 150)
    }

    @Test("every client segment in tiny fragments with a decoy duplicate naming port 80: the kernel reassembles port 22, and so does the sensor")
    func tinyFragmentsWithDecoy() throws {
        let (result, directory) = try Self.session("tinyfrag")
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(result.synack && result.closed && result.server_read == "SSH-2.0-crafted-client", "\(result)")
        let both = try Self.signatures(directory.appendingPathComponent("both.pcap"))
        #expect(both == Self.expected(Self.client4, Self.server4))
    }

    @Test("IPv6 tiny fragments: the kernel refuses a first fragment without the whole TCP header (RFC 8200), and the sensor sees no connection")
    func ipv6TinyFragmentsAreRefused() throws {
        let (result, directory) = try Self.session("tinyfrag6")
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(!result.synack, "\(result)")
        let both = try Self.signatures(directory.appendingPathComponent("both.pcap"))
        #expect(both.isEmpty)
    }

    @Test("an overlapping fragment: the kernel drops the SYN (no SYN-ACK), and the sensor sees no connection")
    func overlappingFragmentsAreDropped() throws {
        let (result, directory) = try Self.session("overlap")
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(!result.synack, "\(result)")
        let both = try Self.signatures(directory.appendingPathComponent("both.pcap"))
        #expect(both.isEmpty)
    }
}

@Suite("One-sided captures")
struct OneSidedCaptureTests {
    /// zeek/ssh__sshguess.pcap as a sensor sees it when only the server's direction reaches it (a SPAN port that
    /// mirrors one direction, asymmetric routing): the BPF filter `src host 192.168.56.103` keeps the server's 177
    /// packets of 431. The same alerts as the whole capture (AttackCaptureTests.sshPasswordGuessing): `open` at the
    /// first SYN-ACK, `session` once the server acknowledged the client's first line, `guessing` from the short
    /// sessions (at the end of the input here: without the client's packets no connection is seen closed both ways).
    @Test("the server's side alone of an SSH password-guessing capture raises open, session and guessing")
    func serverSideOfPasswordGuessing() throws {
        var configuration = PipelineConfiguration()
        configuration.site = try site("local_networks: [192.168.56.103/32]\n")
        var pipeline = Pipeline(configuration: configuration, output: nil)
        final class Box { var alerts: [Alert] = [] }
        let box = Box()
        pipeline.onAlert = { box.alerts.append($0) }
        ReplaySource(paths: [TestPaths.corpusFile("zeek/ssh__sshguess.pcap")], filter: "src host 192.168.56.103")
            .run(&pipeline)
        pipeline.finish()
        #expect(pipeline.decode.packets == 177)
        let s = "192.168.56.1", d = "192.168.56.103", mp = "maintenance-port-inbound"
        #expect(box.alerts.map(AlertSignature.init) == [
            AlertSignature(mp, s, d, "22", stage: "open", reason: "undeclared"),
            AlertSignature(mp, s, d, "22", stage: "session", reason: "undeclared"),
            AlertSignature(mp, s, d, "22", stage: "guessing", reason: "undeclared"),
        ])
    }
}
