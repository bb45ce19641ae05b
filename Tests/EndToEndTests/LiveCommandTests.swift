// `idlewatch live` as an operator runs it: a real interface (a veth pair into a network namespace made for the
// test), real traffic, and the signals a service manager sends. Needs root, as CI runs.

import Foundation
import Glibc
import Testing

/// A veth pair: `local` here with 10.197.X.1/24, its peer in a new namespace with 10.197.X.2/24.
final class TestLink {
    let namespace: String
    let local: String
    let localAddress: String
    let peerAddress: String
    /// The peer interface, inside `namespace`.
    let peer: String

    init() throws {
        let id = Int(getpid()) % 10_000, subnet = Int.random(in: 1...250)
        namespace = "iwlc\(id)-\(subnet)"
        local = "iwl\(id)x\(subnet)"
        localAddress = "10.197.\(subnet).1"
        peerAddress = "10.197.\(subnet).2"
        peer = "iwq\(id)x\(subnet)"
        for command in [
            "ip netns add \(namespace)", "ip link add \(local) type veth peer name \(peer)",
            "ip link set \(peer) netns \(namespace)", "ip addr add \(localAddress)/24 dev \(local)",
            "ip link set \(local) up", "ip -n \(namespace) addr add \(peerAddress)/24 dev \(peer)",
            "ip -n \(namespace) link set \(peer) up",
        ] {
            try sh(command)
        }
    }

    deinit {
        _ = try? sh("ip link del \(local)")
        _ = try? sh("ip netns del \(namespace)")
    }

    /// TCP connection attempts from here to closed ports of the peer (each refused with a RST).
    func connectToClosedPorts(_ ports: ClosedRange<Int>) {
        for port in ports {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            withIPv4SocketAddress(peerAddress, port: port) { Int(connect(fd, $0, $1)) }
            close(fd)
        }
    }

    /// One UDP datagram from here to each of `ports` of the peer, as fast as the socket takes them.
    func sendUDP(toPorts ports: ClosedRange<Int>) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        let payload = Array("idlewatch live test".utf8)
        for port in ports {
            withIPv4SocketAddress(peerAddress, port: port) { sendto(fd, payload, payload.count, 0, $0, $1) }
        }
    }
}

/// A unix datagram socket bound at `path` with `mode` (a stand-in for /dev/log); closed and unlinked by `close()`.
final class UnixDatagramCollector {
    let path: String
    let descriptor: Int32

    init(path: String, mode: mode_t) throws {
        self.path = path
        unlink(path)
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard descriptor >= 0, bound == 0, chmod(path, mode) == 0 else {
            throw ShellError(output: "unix socket \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Datagrams waiting, each as text.
    func received() -> [String] {
        var messages: [String] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            guard count > 0 else { return messages }
            messages.append(String(decoding: buffer[..<count], as: UTF8.self))
        }
    }

    func close() {
        Glibc.close(descriptor)
        unlink(path)
    }
}

/// Numbers out of a line such as the final statistics: the integers matched by `pattern`'s captures.
func numbers<Output>(in text: String, _ pattern: Regex<Output>) -> [Int]? {
    guard let match = text.firstMatch(of: pattern) else { return nil }
    let output = match.output
    return Mirror(reflecting: output).children.dropFirst().compactMap { child in
        (child.value as? Substring).flatMap { Int($0) }
    }
}

/// A running `idlewatch live` with its output in files.
final class LiveProcess {
    let process = Process()
    let directory = TestPaths.temporaryDirectory()
    var stdoutURL: URL { directory.appendingPathComponent("stdout") }
    var stderrURL: URL { directory.appendingPathComponent("stderr") }

    /// `standardOutput`: where standard output goes instead of a file (a pipe the test reads, or does not).
    init(_ arguments: [String], standardOutput: FileHandle? = nil, standardError: FileHandle? = nil) throws {
        FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: TestPaths.executable)
        // No state file unless the test names one: the default (/var/lib/idlewatch) is the machine's, not the test's.
        process.arguments = ["live"] + (arguments.contains("--state") ? [] : ["--no-state"]) + arguments
        process.standardOutput = try standardOutput ?? FileHandle(forWritingTo: stdoutURL)
        process.standardError = try standardError ?? FileHandle(forWritingTo: stderrURL)
        try process.run()
    }

    deinit {
        if process.isRunning { process.terminate() }
    }

    var standardError: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }
    var standardOutput: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }

    /// Waits up to `seconds` for standard error to contain `text`.
    @discardableResult
    func waitForError(_ text: String, seconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if standardError.contains(text) { return true }
            usleep(50_000)
        }
        return false
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    func waitForExit(seconds: Double = 15) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        return process.isRunning ? nil : process.terminationStatus
    }
}

@Suite("idlewatch live", .serialized, .enabled(if: geteuid() == 0, "needs root for a veth pair and a namespace"))
struct LiveCommandTests {
    @Test("privileges are dropped once the capture is open; SIGHUP with a broken site keeps the old one; SIGUSR1 prints statistics; SIGTERM flushes and exits 0")
    func signalsAndPrivileges() throws {
        let link = try TestLink()
        let site = TestPaths.temporaryDirectory().appendingPathComponent("site.yaml")
        try "local_networks: [10.197.0.0/16]\nhosts: [{ address: \(link.peerAddress), name: lab-peer, state: active }]\n"
            .write(to: site, atomically: true, encoding: .utf8)
        chmod(site.deletingLastPathComponent().path, 0o755)
        chmod(site.path, 0o644)
        let live = try LiveProcess(["-i", link.local, "--site", site.path, "--format", "json", "--immediate-mode",
                                    "--stats-interval", "0"])
        #expect(live.waitForError("dropped privileges to nobody"), "\(live.standardError)")
        let status = try String(contentsOfFile: "/proc/\(live.process.processIdentifier)/status", encoding: .utf8)
        let uidLine = status.split(separator: "\n").first { $0.hasPrefix("Uid:") } ?? ""
        #expect(uidLine.split(separator: "\t").dropFirst().allSatisfy { $0 == "65534" }, "\(uidLine)")

        // A broken site file on SIGHUP: reported, the old one stays, the sensor goes on.
        try "local_networks: [10.197.0.0/33]\nhosts: [{ name: x }]\n".write(to: site, atomically: true, encoding: .utf8)
        chmod(site.path, 0o644)
        live.signal(SIGHUP)
        #expect(live.waitForError("has problems; keeping the site file loaded before"))
        #expect(live.standardError.contains("local_networks[0]"))
        #expect(live.process.isRunning)

        // Traffic after the failed reload is judged with the old site: a scan of 16 refused ports is a host-scan.
        link.connectToClosedPorts(2000...2015)
        live.signal(SIGUSR1)
        #expect(live.waitForError("statistics: \(link.local):"))
        live.signal(SIGTERM)
        #expect(live.waitForExit() == 0)
        #expect(live.standardError.contains("received SIGTERM: stopping"))
        #expect(live.standardError.contains("final statistics"))
        let alerts = try parseJSONLines(live.standardOutput)
        #expect(alerts.contains { ($0["alert"] as? [String: Any])?["rule"] as? String == "host-scan" },
                "\(live.standardOutput)")
    }

    @Test("SIGHUP with a good site file applies it to hosts already known")
    func reloadApplies() throws {
        let link = try TestLink()
        let site = TestPaths.temporaryDirectory().appendingPathComponent("site.yaml")
        try "local_networks: [10.197.0.0/16]\n".write(to: site, atomically: true, encoding: .utf8)
        chmod(site.deletingLastPathComponent().path, 0o755)
        chmod(site.path, 0o644)
        let live = try LiveProcess(["-i", link.local, "--site", site.path, "--format", "json", "--immediate-mode",
                                    "--stats-interval", "0", "--user", "root"])
        #expect(live.waitForError("capturing on"))
        link.connectToClosedPorts(3000...3000)  // the peer becomes a known host
        usleep(300_000)
        try "local_networks: [10.197.0.0/16]\nhosts: [{ address: \(link.peerAddress), name: retired-box, state: decommissioned }]\n"
            .write(to: site, atomically: true, encoding: .utf8)
        live.signal(SIGHUP)
        #expect(live.waitForError("reloaded \(site.path)"))
        link.connectToClosedPorts(3001...3001)  // it answers with a RST: a decommissioned host answering
        usleep(300_000)
        live.signal(SIGTERM)
        #expect(live.waitForExit() == 0)
        let alerts = try parseJSONLines(live.standardOutput)
        #expect(alerts.contains { ($0["host"] as? [String: Any])?["name"] as? String == "retired-box" },
                "\(live.standardOutput)")
    }

    @Test("a replay seeds the live sensor's state: a host dormant in the replayed days wakes up live; a report reads the state while the sensor (as nobody) writes it")
    func seededByReplay() throws {
        let link = try TestLink()
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        chmod(directory.path, 0o755)
        let state = directory.appendingPathComponent("state.db").path
        let site = TestPaths.captures.appendingPathComponent("site.yaml").path
        // Learn: the sample captures, 2026-11-06 to 2026-11-21. 10.60.0.25 last talked on 2026-11-13.
        let learn = try runIdleWatch(["replay", "--site", site, "--state", state, TestPaths.captures.path])
        #expect(learn.status == 0, "\(learn.standardError)")

        // Watch: the same state, live, dropping to nobody (the state file is handed over before the drop).
        let live = try LiveProcess(["-i", link.local, "--site", site, "--state", state, "--save-interval", "1",
                                    "--format", "json", "--immediate-mode", "--stats-interval", "0"])
        #expect(live.waitForError("dropped privileges to nobody"), "\(live.standardError)")
        #expect(live.standardError.contains("state \(state): continuing from"), "\(live.standardError)")
        // The dormant host wakes up: it pings this side from its old address, days after its last frame.
        try sh("ip -n \(link.namespace) addr add 10.60.0.25/32 dev \(link.peer)")
        _ = try? sh("ip netns exec \(link.namespace) ping -c 6 -i 0.2 -W 1 -I 10.60.0.25 \(link.localAddress)")
        usleep(300_000)

        // A report while the sensor runs: it reads the state the sensor saved after the first live packet.
        let during = try runIdleWatch(["hosts", "--state", state, "--format", "json"])
        #expect(during.status == 0, "\(during.standardError)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(during.standardOutput.utf8)) as? [String: Any])
        let woken = (report["unknown_hosts"] as? [[String: Any]])?.first { $0["address"] as? String == "10.60.0.25" }
        #expect((woken?["last_seen"] as? String ?? "") > "2026-11-21T23:40", "\(woken ?? [:])")

        live.signal(SIGTERM)
        #expect(live.waitForExit() == 0)
        #expect(!live.standardError.contains("state not saved"), "\(live.standardError)")
        let alerts = try parseJSONLines(live.standardOutput)
        let dormant = alerts.filter { ($0["alert"] as? [String: Any])?["rule"] as? String == "dormant-host-active" }
        #expect(dormant.contains { $0["src_ip"] as? String == "10.60.0.25" }, "\(live.standardOutput)")
        #expect(try runIdleWatch(["hosts", "--state", state]).status == 0)
    }

    @Test("no packet for --silent-after seconds raises capture-silent, once")
    func captureSilent() throws {
        let link = try TestLink()
        let live = try LiveProcess(["-i", link.local, "--format", "json", "--silent-after", "1", "--stats-interval", "0",
                                    "--user", "root", "icmp and host 192.0.2.1"])
        #expect(live.waitForError("capturing on"))
        usleep(2_600_000)
        live.signal(SIGTERM)
        #expect(live.waitForExit() == 0)
        let alerts = try parseJSONLines(live.standardOutput)
        let silent = alerts.filter { ($0["alert"] as? [String: Any])?["rule"] as? String == "capture-silent" }
        #expect(silent.count == 1, "\(live.standardOutput)")
        #expect((silent.first?["sensor"] as? [String: Any])?["interface"] as? String == link.local)
    }

    @Test("standard output that nobody reads: capture and signals go on, SIGTERM ends the process within 10 s, every line and packet not delivered is counted")
    func stalledStandardOutput() throws {
        let link = try TestLink()
        let site = TestPaths.temporaryDirectory().appendingPathComponent("site.yaml")
        // This side is a decommissioned host: every flow it starts (one per destination port) is an alert.
        try "local_networks: [10.197.0.0/16]\nhosts: [{ address: \(link.localAddress), name: retired, state: decommissioned }]\n"
            .write(to: site, atomically: true, encoding: .utf8)
        let pipe = Pipe()
        // A one-page pipe that the test never reads until the sensor has gone.
        _ = fcntl(pipe.fileHandleForWriting.fileDescriptor, 1031 /* F_SETPIPE_SZ */, 4096)
        let live = try LiveProcess(["-i", link.local, "--site", site.path, "--flows", "--format", "json",
                                    "--immediate-mode", "--stats-interval", "0", "--user", "root", "tcp or udp"],
                                   standardOutput: pipe.fileHandleForWriting)
        try pipe.fileHandleForWriting.close()
        #expect(live.waitForError("capturing on"), "\(live.standardError)")
        // 7,000 refused connections (each ends 10 s of packet time after its RST, by the sensor clock while the link
        // is quiet, or by the packets after it), then, 11 s later, 7,000 UDP flows: the first 7,000 flows' records
        // fill the pipe while the capture goes on; at the stop the UDP flows' records come on top, more than the
        // queue's 10,000 lines.
        let sent = 7_000
        link.connectToClosedPorts(20_000...(20_000 + sent - 1))
        usleep(11_000_000)
        link.sendUDP(toPorts: 20_000...(20_000 + sent - 1))
        // The analysis goes on while standard output is stuck: SIGUSR1 is answered, and every packet the filter
        // passed is analysed: a SYN and a RST per connection, then UDP datagrams (all of them, unless the kernel
        // lost some of the burst before the capture saw them: then those are counted as dropped by the kernel; in
        // immediate mode its ring holds a few hundred packets of this snapshot length, and the flows ending in
        // the same seconds compete with the reader for this machine's two cores).
        var (decoded, received, dropped) = (0, -1, 0)
        let deadline = Date().addingTimeInterval(20)
        while !(decoded + dropped == received && decoded > 2 * sent) && Date() < deadline {
            live.signal(SIGUSR1)
            usleep(500_000)
            if let last = live.standardError.matches(of: /statistics: \S+: (\d+) packets decoded, (\d+) received by the filter \(\+\d+\), (\d+) dropped by the kernel/).last {
                (decoded, received, dropped) = (Int(last.1)!, Int(last.2)!, Int(last.3)!)
            }
        }
        #expect(decoded + dropped == received && decoded > 2 * sent, "\(live.standardError)")

        live.signal(SIGTERM)
        let stopped = Date()
        let status = live.waitForExit(seconds: 30)
        #expect(status != nil && Date().timeIntervalSince(stopped) < 10, "SIGTERM must end the process within 10 s")
        if status == nil { live.signal(SIGKILL) }
        let errors = live.standardError
        #expect(status == 1, "lines were lost: the status says so\n\(errors)")
        // What reached the pipe is exactly what the sensor says it wrote.
        let reached = try pipe.fileHandleForReading.readToEnd() ?? Data()
        let newlines = reached.reduce(0) { $0 + ($1 == 0x0a ? 1 : 0) }
        // The last account of standard output (the one at the stop).
        let line = try #require(errors.matches(of: /standard output: (.*) written, (\d+) queued, (\d+) lost \((\d+) queue full, (\d+) not written\)/).last,
                                "\(errors)")
        let written = line.1.matches(of: /\d+/).compactMap { Int($0.0) }.reduce(0, +)
        let (queued, lost, full, notWritten) = (Int(line.2)!, Int(line.3)!, Int(line.4)!, Int(line.5)!)
        #expect(newlines == written, "\(line.0)")
        #expect(queued == 0 && lost == full + notWritten && full > 0, "\(line.0)\n\(errors)")
        let packets = try #require(numbers(in: errors, /final statistics: \S+: (\d+) packets decoded, (\d+) received by the filter \(\+\d+\), (\d+) dropped by the kernel, \d+ by the interface, (\d+) left unread/),
                                   "\(errors)")
        // Every line the sensor produced is accounted for: a record per flow (a connection is two packets, a
        // datagram one), so at least decoded - 7,000 lines.
        #expect(written + lost >= packets[0] - sent, "\(line.0); \(packets)")
        #expect(written < sent, "a one-page pipe holds a few lines, not thousands: \(line.0)")
        #expect(errors.contains("not written"), "\(errors)")
        // Every packet the filter passed was analysed, dropped by the kernel or left unread, and says which.
        #expect(packets[0] > 2 * sent, "\(packets)")
        #expect(packets[0] + packets[2] + packets[3] == packets[1], "\(packets)")
    }

    @Test("a unix syslog socket recreated root-only after the privilege drop: the failed reconnects are counted and shown in the statistics, the queue kept, the loss counted at exit")
    func unixSocketRecreatedRootOnly() throws {
        let link = try TestLink()
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        chmod(directory.path, 0o755)
        let path = directory.appendingPathComponent("log").path
        let first = try UnixDatagramCollector(path: path, mode: 0o666)
        let live = try LiveProcess(["-i", link.local, "--format", "json", "--immediate-mode", "--stats-interval", "0",
                                    "--syslog", "unix:\(path)", "tcp"])
        #expect(live.waitForError("dropped privileges to nobody"), "\(live.standardError)")
        link.connectToClosedPorts(4000...4015)  // a host-scan
        let deadline = Date().addingTimeInterval(5)
        var before: [String] = []
        while before.isEmpty && Date() < deadline {
            usleep(100_000)
            before = first.received()
        }
        #expect(!before.isEmpty, "the collector got the alerts before it was recreated")
        // The collector restarts with a root-only socket: the sensor, now nobody, cannot connect to it.
        first.close()
        let second = try UnixDatagramCollector(path: path, mode: 0o600)
        defer { second.close() }
        // A new alert: the peer scans this side's closed ports.
        _ = try? sh("ip netns exec \(link.namespace) bash -c 'for p in $(seq 5000 5020); do (echo > /dev/tcp/\(link.localAddress)/$p) 2>/dev/null; done'")
        usleep(500_000)
        live.signal(SIGUSR1)
        #expect(live.waitForError("Permission denied"), "\(live.standardError)")
        let statistics = try #require(live.standardError.firstMatch(of: /syslog unix:\S+: (\d+) sent, (\d+) queued, (\d+) lost .*last error: (.*)/),
                                      "\(live.standardError)")
        #expect(Int(statistics.2)! > 0, "the alerts wait in the queue: \(statistics.0)")
        #expect(statistics.4.contains("Permission denied"), "\(statistics.0)")
        #expect(second.received().isEmpty)
        live.signal(SIGTERM)
        #expect(live.waitForExit() == 0)
        // At the stop, the queue is counted as undeliverable, never described as sent.
        let final = try #require(live.standardError.matches(of: /syslog unix:\S+: (\d+) sent, (\d+) queued, (\d+) lost \(\d+ queue full, \d+ rejected, (\d+) undeliverable\)/).last,
                                 "\(live.standardError)")
        #expect(Int(final.2)! == 0 && Int(final.4)! >= Int(statistics.2)!, "\(final.0)")
        #expect(Int(final.1)! == before.count, "sent counts only what reached the first socket: \(final.0)")
    }

    @Test("SIGHUP with the site path replaced by a FIFO: the reload is refused with a message, the sensor goes on and stops on SIGTERM")
    func reloadRefusesFIFO() throws {
        let link = try TestLink()
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let site = directory.appendingPathComponent("site.yaml").path
        try "local_networks: [10.197.0.0/16]\n".write(toFile: site, atomically: true, encoding: .utf8)
        let live = try LiveProcess(["-i", link.local, "--site", site, "--format", "json", "--immediate-mode",
                                    "--stats-interval", "0", "--user", "root"])
        #expect(live.waitForError("capturing on"), "\(live.standardError)")
        // The site file becomes a FIFO nobody writes to: opening it for reading would wait for a writer for ever.
        unlink(site)
        #expect(mkfifo(site, 0o644) == 0)
        live.signal(SIGHUP)
        #expect(live.waitForError("not a regular file"), "\(live.standardError)")
        #expect(live.standardError.contains("keeping the site file loaded before"), "\(live.standardError)")
        // Still analysing and answering signals.
        link.connectToClosedPorts(6000...6015)
        live.signal(SIGUSR1)
        #expect(live.waitForError("statistics: \(link.local):"), "\(live.standardError)")
        live.signal(SIGTERM)
        #expect(live.waitForExit(seconds: 10) == 0, "\(live.standardError)")
        let alerts = try parseJSONLines(live.standardOutput)
        #expect(alerts.contains { ($0["alert"] as? [String: Any])?["rule"] as? String == "host-scan" },
                "\(live.standardOutput)")
    }

    @Test("SIGHUP removing a maintenance port while a session to it is open: no crash, the session judged by the new file, exit 0 on SIGTERM")
    func reloadRemovesPortOfOpenSession() throws {
        let link = try TestLink()
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let site = directory.appendingPathComponent("site.yaml").path
        // The peer is inside, this side outside and not allowed: its session to the declared port is unexpected.
        let inside = "local_networks: [\(link.peerAddress)/32]\n"
        try (inside + "maintenance_ports: [{ name: lab-ssh, host: \(link.peerAddress), port: 22, allowed_sources: [192.0.2.0/24] }]\n")
            .write(toFile: site, atomically: true, encoding: .utf8)
        // An echo server on the peer's port 22, in its namespace; it says when it listens.
        let ready = directory.appendingPathComponent("ready").path
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        server.arguments = ["netns", "exec", link.namespace, "/usr/bin/python3", "-c", """
            import socket, sys
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", 22)); s.listen(1); open(sys.argv[1], "w").close()
            c, _ = s.accept()
            while True:
                d = c.recv(100)
                if not d: break
                c.sendall(d)
            """, ready]
        try server.run()
        defer { if server.isRunning { server.terminate() } }
        let live = try LiveProcess(["-i", link.local, "--site", site, "--format", "json", "--immediate-mode",
                                    "--stats-interval", "0", "--user", "root"])
        #expect(live.waitForError("capturing on"), "\(live.standardError)")
        func waitFor(_ condition: () -> Bool) -> Bool {
            for _ in 0..<100 where !condition() { usleep(50_000) }
            return condition()
        }
        #expect(waitFor { FileManager.default.fileExists(atPath: ready) }, "the echo server did not start")
        func stages() -> [String] {
            ((try? parseJSONLines(live.standardOutput)) ?? []).compactMap { event in
                guard let alert = event["alert"] as? [String: Any], alert["rule"] as? String == "maintenance-port-inbound"
                else { return nil }
                return "\(alert["stage"] as? String ?? "-") \(alert["reason"] as? String ?? "-")"
            }
        }

        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(22).bigEndian
        inet_pton(AF_INET, link.peerAddress, &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(connected == 0, "connect: \(String(cString: strerror(errno)))")
        #expect(waitFor { stages().contains("open source-not-allowed") }, "\(live.standardOutput)")

        // The reload takes the port out of the file while the session is open; then data flows both ways.
        try inside.write(toFile: site, atomically: true, encoding: .utf8)
        live.signal(SIGHUP)
        #expect(live.waitForError("reloaded \(site)"), "\(live.standardError)")
        let hello = Array("hello".utf8)
        #expect(send(fd, hello, hello.count, 0) == hello.count)
        var echo = [UInt8](repeating: 0, count: 16)
        #expect(recv(fd, &echo, echo.count, 0) == hello.count)
        // Port 22 is a default remote-administration port: once undeclared, the session is an undeclared use.
        #expect(waitFor { stages().contains("session undeclared") }, "\(live.standardOutput)\n\(live.standardError)")
        #expect(live.process.isRunning, "\(live.standardError)")
        live.signal(SIGTERM)
        #expect(live.waitForExit() == 0, "\(live.standardError)")
        #expect(stages() == ["probe source-not-allowed", "open source-not-allowed", "session undeclared"],
                "\(live.standardOutput)")
    }

    @Test("live | head -1: standard output closed by its reader, no other output: the sensor says so and stops, exit 1, as tcpdump")
    func standardOutputClosedStops() throws {
        let link = try TestLink()
        let pipe = Pipe()
        let live = try LiveProcess(["-i", link.local, "--format", "json", "--immediate-mode", "--stats-interval", "0",
                                    "--user", "root", "tcp"], standardOutput: pipe.fileHandleForWriting)
        try pipe.fileHandleForWriting.close()
        #expect(live.waitForError("capturing on"), "\(live.standardError)")
        link.connectToClosedPorts(4000...4015)  // a host-scan: the first line
        var first = Data()
        while !first.contains(0x0a), let byte = try pipe.fileHandleForReading.read(upToCount: 1), !byte.isEmpty {
            first.append(byte)
        }
        try pipe.fileHandleForReading.close()  // as head -1 does
        #expect(first.count > 10)
        // More alerts: the peer scans this side; the first write after the close fails with EPIPE.
        _ = try? sh("ip netns exec \(link.namespace) bash -c 'for p in $(seq 5000 5020); do (echo > /dev/tcp/\(link.localAddress)/$p) 2>/dev/null; done'")
        let status = live.waitForExit(seconds: 10)
        #expect(status == 1, "the sensor stops by itself: \(live.standardError)")
        #expect(live.standardError.contains("standard output closed by its reader: no other output for alerts, stopping"),
                "\(live.standardError)")
        #expect(live.standardError.contains("final statistics"), "\(live.standardError)")
        #expect(live.standardError.contains(/standard output closed by its reader: \d+ alerts? not written/), "\(live.standardError)")
    }

    @Test("standard error that nobody reads: statistics on SIGUSR1 cannot stall the sensor, SIGTERM still ends it within 10 s")
    func stalledStandardError() throws {
        let link = try TestLink()
        let pipe = Pipe()
        _ = fcntl(pipe.fileHandleForWriting.fileDescriptor, 1031 /* F_SETPIPE_SZ */, 4096)
        let live = try LiveProcess(["-i", link.local, "--format", "json", "--immediate-mode", "--stats-interval", "0",
                                    "--user", "root", "tcp"], standardError: pipe.fileHandleForWriting)
        try pipe.fileHandleForWriting.close()
        usleep(1_000_000)
        // Statistics lines until the pipe is long full (a line is about 400 bytes; the pipe holds 4 KiB).
        for _ in 0..<60 {
            live.signal(SIGUSR1)
            usleep(50_000)
        }
        link.connectToClosedPorts(4000...4015)  // a host-scan, analysed while standard error is stuck
        usleep(500_000)
        live.signal(SIGTERM)
        let stopped = Date()
        let status = live.waitForExit(seconds: 30)
        if status == nil { live.signal(SIGKILL) }
        #expect(status != nil && Date().timeIntervalSince(stopped) < 10, "SIGTERM must end the process within 10 s")
        #expect(status == 0)
        let alerts = try parseJSONLines(live.standardOutput)
        #expect(alerts.contains { ($0["alert"] as? [String: Any])?["rule"] as? String == "host-scan" },
                "\(live.standardOutput)")
    }

    @Test("a missing interface is refused with libpcap's reason")
    func missingInterface() throws {
        let result = try runIdleWatch(["live", "-i", "iwnosuch9"])
        #expect(result.status == 1)
        #expect(result.standardError.contains("iwnosuch9: cannot start capture"))
    }
}
