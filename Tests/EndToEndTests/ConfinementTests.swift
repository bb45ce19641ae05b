// `idlewatch live` after its privilege drop, seen from outside: no-new-privileges set, the capability bounding set
// empty, the seccomp filter on every thread, a forbidden call (execve) refused; and the sensor still does its whole
// job under the filter (capture, alerts to syslog over unix, UDP and TCP with a reconnection, state saves, SIGHUP,
// SIGUSR1, exit). Needs root, as CI runs.

import Foundation
import Glibc
import Testing

/// The fields of /proc/PID/status (and of each thread's) that say how a process is confined.
func confinement(_ pid: Int32) -> [[String: String]] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    return tasks.compactMap { task in
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8) else { return nil }
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return fields
    }
}

/// A local syslog collector: one socket (unix datagram, UDP or TCP) and what arrived on it.
final class TestCollector {
    let descriptor: Int32
    let destination: String
    var connection: Int32 = -1
    var received = ""

    init(unixPath path: String) {
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        self.descriptor = descriptor
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.prefix(raw.count - 1).enumerated() { raw[index] = byte }
        }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        destination = "unix:\(path)"
    }

    init(tcp: Bool) {
        let descriptor = socket(AF_INET, Int32((tcp ? SOCK_STREAM : SOCK_DGRAM).rawValue), 0)
        self.descriptor = descriptor
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length)
                return getsockname(descriptor, $0, &length)
            }
        }
        if tcp { listen(descriptor, 4) }
        destination = "\(tcp ? "tcp" : "udp")://127.0.0.1:\(UInt16(bigEndian: address.sin_port))"
    }

    deinit {
        if connection >= 0 { close(connection) }
        close(descriptor)
    }

    /// Reads what arrives for up to `seconds`, until `text` is among it. For TCP, accepts a connection first.
    func waitFor(_ text: String, seconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !received.contains(text) && Date() < deadline {
            let listening = destination.hasPrefix("tcp") && connection < 0
            var poller = pollfd(fd: listening || connection < 0 ? descriptor : connection, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) > 0 else { continue }
            if listening {
                connection = accept(descriptor, nil, nil)
                continue
            }
            var buffer = [UInt8](repeating: 0, count: 65_536)
            let count = recv(poller.fd, &buffer, buffer.count, 0)
            if count > 0 { received += String(decoding: buffer[0..<count], as: UTF8.self) }
            if count == 0 && connection >= 0 { close(connection); connection = -1 }
        }
        return received.contains(text)
    }

    /// Drops the TCP connection: the sensor must reconnect (a new socket, after its privilege drop).
    func hangUp() {
        if connection >= 0 { close(connection) }
        connection = -1
        received = ""
    }
}

@Suite("idlewatch live confinement", .serialized, .enabled(if: geteuid() == 0, "needs root for a veth pair and a namespace"))
struct ConfinementTests {
    @Test("after the drop: no new privileges, empty bounding set, seccomp on every thread, execve refused; capture, syslog (unix, UDP, TCP reconnecting), saves, SIGHUP, SIGUSR1 and exit still work")
    func confinedSensorWorks() throws {
        let link = try TestLink()
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        chmod(directory.path, 0o755)
        let site = directory.appendingPathComponent("site.yaml")
        try "local_networks: [10.197.0.0/16]\n".write(to: site, atomically: true, encoding: .utf8)
        chmod(site.path, 0o644)
        let state = directory.appendingPathComponent("state.db").path
        let unix = TestCollector(unixPath: directory.appendingPathComponent("log").path)
        let udp = TestCollector(tcp: false), tcp = TestCollector(tcp: true)
        let live = try LiveProcess(["-i", link.local, "--site", site.path, "--state", state, "--save-interval", "1",
                                    "--format", "json", "--immediate-mode", "--stats-interval", "0",
                                    "--syslog", unix.destination, "--syslog", udp.destination, "--syslog", tcp.destination,
                                    "--check-confinement"])
        #expect(live.waitForError("confinement check: execve(/bin/true) refused: Operation not permitted"),
                "\(live.standardError)")
        #expect(live.standardError.contains("confinement check: mount refused: Operation not permitted"))
        #expect(live.standardError.contains("confinement check: unshare(CLONE_NEWUSER) refused: Operation not permitted"))
        #expect(live.standardError.contains("confinement check: socket(AF_NETLINK) refused: Operation not permitted"))
        let threads = confinement(live.process.processIdentifier)
        #expect(!threads.isEmpty)
        for fields in threads {
            #expect(fields["NoNewPrivs"] == "1", "\(fields)")
            #expect(fields["Seccomp"] == "2", "\(fields)")
            #expect(fields["CapBnd"] == "0000000000000000", "\(fields)")
            #expect(fields["CapAmb"] == "0000000000000000", "\(fields)")
            #expect(fields["CapEff"] == "0000000000000000", "\(fields)")
            #expect(fields["Uid"]?.split(separator: "\t").allSatisfy { $0 == "65534" } == true, "\(fields)")
        }

        link.connectToClosedPorts(2000...2015)  // a host-scan alert, to every collector
        #expect(unix.waitFor("host-scan"), "\(unix.received)\n\(live.standardError)")
        #expect(udp.waitFor("host-scan"), "\(udp.received)")
        #expect(tcp.waitFor("host-scan"), "\(tcp.received)")
        tcp.hangUp()
        usleep(200_000)
        // A second scan from another source (the peer scanning this side), so its alert is not held back as a
        // repeat of the first.
        _ = try? sh("ip netns exec \(link.namespace) bash -c 'for p in $(seq 2100 2115); do "
            + "(echo > /dev/tcp/\(link.localAddress)/$p) 2>/dev/null; done'")
        #expect(tcp.waitFor("host-scan", seconds: 15), "no alert after the reconnection: \(live.standardError)")

        live.signal(SIGUSR1)
        #expect(live.waitForError("statistics: \(link.local):"), "\(live.standardError)")
        live.signal(SIGHUP)
        #expect(live.waitForError("reloaded \(site.path)"), "\(live.standardError)")
        live.signal(SIGTERM)
        #expect(live.waitForExit() == 0, "\(live.standardError)")
        #expect(!live.standardError.contains("state not saved"), "\(live.standardError)")
        // The test's own four refusals only. Anything else the filter refused would show as an error here.
        #expect(live.standardError.components(separatedBy: "Operation not permitted").count == 5, "\(live.standardError)")
        let report = try runIdleWatch(["hosts", "--state", state])
        #expect(report.status == 0, "\(report.standardError)")
        #expect(report.standardOutput.contains(link.peerAddress), "\(report.standardOutput)")
    }

    @Test("--user root keeps root but is confined too: execve refused, bounding set empty")
    func rootConfined() throws {
        let link = try TestLink()
        let live = try LiveProcess(["-i", link.local, "--user", "root", "--stats-interval", "0", "--check-confinement"])
        #expect(live.waitForError("confinement check: execve(/bin/true) refused: Operation not permitted"),
                "\(live.standardError)")
        // As root without the filter the mount would fail with ENOENT (the directory does not exist).
        #expect(live.standardError.contains("confinement check: mount refused: Operation not permitted"), "\(live.standardError)")
        let fields = confinement(live.process.processIdentifier).first ?? [:]
        #expect(fields["Seccomp"] == "2" && fields["NoNewPrivs"] == "1" && fields["CapBnd"] == "0000000000000000",
                "\(fields)")
        live.signal(SIGTERM)
        #expect(live.waitForExit() == 0, "\(live.standardError)")
    }

    @Test("--no-seccomp leaves the filter out (the escape hatch), not no-new-privileges: the execve then goes through")
    func noSeccompEscapeHatch() throws {
        let link = try TestLink()
        let live = try LiveProcess(["-i", link.local, "--stats-interval", "0", "--no-seccomp", "--check-confinement"])
        #expect(live.waitForError("Seccomp: 0"), "\(live.standardError)")
        #expect(live.standardError.contains("NoNewPrivs: 1"), "\(live.standardError)")
        // Without the filter nothing stops the execve: the process becomes /bin/true and ends with its status.
        #expect(live.waitForExit() == 0, "\(live.standardError)")
        #expect(!live.standardError.contains("execve(/bin/true) refused"), "\(live.standardError)")
        #expect(!live.standardError.contains("unshare(CLONE_NEWUSER) refused: Operation not permitted"), "\(live.standardError)")
        #expect(live.standardError.contains("socket(AF_NETLINK) allowed"), "\(live.standardError)")
    }
}
