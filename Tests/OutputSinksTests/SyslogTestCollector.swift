// A real rsyslogd for the syslog sink tests: its own configuration in a temporary directory (loopback UDP and TCP
// on free ports, two unix sockets there, every message to one file in RFC 5424), never the system's rsyslog or
// /dev/log. The process is stopped when the collector goes away, whatever the test did.

import Foundation
import Glibc

final class RsyslogCollector {
    static let executable = "/usr/sbin/rsyslogd"
    /// The package root, for scripts/install-deps.sh.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Whether rsyslogd is here, installing Debian's rsyslog first when it is missing and we are root.
    /// (Debian's package starts no daemon where policy-rc.d forbids it; the tests never use the system one.)
    static let isAvailable: Bool = {
        if FileManager.default.isExecutableFile(atPath: executable) { return true }
        guard geteuid() == 0 else { return false }
        let install = Process()
        install.executableURL = packageRoot.appendingPathComponent("scripts/install-deps.sh")
        install.arguments = ["rsyslog"]
        do {
            try install.run()
            install.waitUntilExit()
        } catch {
            return false
        }
        return FileManager.default.isExecutableFile(atPath: executable)
    }()

    let directory: String
    let udpPort: UInt16
    let tcpPort: UInt16
    /// imuxsock configured for RFC 5424 on a local socket (the parser chain, hostname and timestamp kept).
    let socketPath: String
    /// imuxsock with its defaults, as rsyslog serves /dev/log: the special local parser.
    let defaultSocketPath: String
    /// Where rsyslog writes every message with RSYSLOG_SyslogProtocol23Format.
    let outputPath: String
    let configurationPath: String
    private var processID: pid_t?

    /// Writes the configuration and, when `start` is true, starts rsyslogd and waits until it listens.
    init(start: Bool = true) throws {
        var template = Array("/tmp/idlewatch-rsyslog.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw CollectorError.setup("mkdtemp: \(String(cString: strerror(errno)))") }
        directory = String(cString: made)
        udpPort = try freePort(stream: false)
        tcpPort = try freePort(stream: true)
        socketPath = directory + "/log"
        defaultSocketPath = directory + "/devlog"
        outputPath = directory + "/messages"
        configurationPath = directory + "/rsyslog.conf"
        let configuration = """
            global(workDirectory="\(directory)" maxMessageSize="64k")
            module(load="imuxsock" SysSock.Use="off")
            input(type="imuxsock" Socket="\(defaultSocketPath)")
            input(type="imuxsock" Socket="\(socketPath)" useSpecialParser="off" parseHostname="on" ignoreTimestamp="off")
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\(udpPort)")
            module(load="imtcp")
            input(type="imtcp" address="127.0.0.1" port="\(tcpPort)")
            *.* action(type="omfile" file="\(outputPath)" template="RSYSLOG_SyslogProtocol23Format")

            """
        try configuration.write(toFile: configurationPath, atomically: true, encoding: .utf8)
        if start { try self.start() }
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    var isRunning: Bool { processID != nil }

    /// Starts rsyslogd in the foreground and returns once both sockets exist and the TCP port accepts.
    func start() throws {
        precondition(processID == nil, "rsyslogd is already running")
        let pidFile = directory + "/rsyslogd.pid"
        try? FileManager.default.removeItem(atPath: pidFile)
        let log = directory + "/rsyslogd.out"
        let child = try spawnWithDefaultSignals(
            RsyslogCollector.executable, ["-n", "-f", configurationPath, "-i", pidFile], output: log)
        processID = child
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            guard waitpid(child, nil, WNOHANG) == 0 else {
                processID = nil
                break
            }
            if FileManager.default.fileExists(atPath: socketPath), FileManager.default.fileExists(atPath: defaultSocketPath),
               tcpAccepts(port: tcpPort)
            {
                return
            }
            usleep(20_000)
        }
        let said = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        stop()
        throw CollectorError.setup("rsyslogd did not come up: \(said)")
    }

    /// SIGTERM, then SIGKILL after 5 s; returns once the process is gone and reaped.
    func stop() {
        guard let child = processID else { return }
        processID = nil
        kill(child, SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if waitpid(child, nil, WNOHANG) != 0 { return }
            usleep(10_000)
        }
        kill(child, SIGKILL)
        _ = waitpid(child, nil, 0)
    }

    /// Every line rsyslog has written so far (BOMs and all), as UTF-8.
    func lines() -> [String] {
        guard let data = FileManager.default.contents(atPath: outputPath) else { return [] }
        return data.split(separator: 0x0A, omittingEmptySubsequences: true).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Lines whose APP-NAME field is `appName`, once there are at least `count` of them or `seconds` have passed;
    /// `between` runs between looks (a sink's tick).
    func waitForLines(appName: String = "idlewatch", count: Int, seconds: Double = 5,
                      between: () -> Void = {}) -> [String] {
        let deadline = Date().addingTimeInterval(seconds)
        var found: [String] = []
        repeat {
            found = lines().filter { appNameField(of: $0).map(String.init) == appName }
            if found.count >= count { return found }
            between()
            usleep(25_000)
        } while Date() < deadline
        return found
    }
}

enum CollectorError: Error, CustomStringConvertible {
    case setup(String)

    var description: String {
        switch self {
        case .setup(let text): text
        }
    }
}

/// The fourth field of an RFC 5424 line (APP-NAME), without parsing the rest.
func appNameField(of line: String) -> Substring? {
    let fields = line.split(separator: " ", maxSplits: 4, omittingEmptySubsequences: false)
    return fields.count > 3 ? fields[3] : nil
}

/// posix_spawn with an empty signal mask and default dispositions, output appended to `output`. Foundation's
/// Process passes on the test runner's mask, in which SIGTERM is blocked: rsyslogd would never see it.
func spawnWithDefaultSignals(_ path: String, _ arguments: [String], output: String) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigmask(&attributes, &none)
    var all = sigset_t()
    sigfillset(&all)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var child: pid_t = 0
    let status = posix_spawn(&child, path, &actions, &attributes, argv, environ)
    guard status == 0 else { throw CollectorError.setup("posix_spawn \(path): \(String(cString: strerror(status)))") }
    return child
}

/// A loopback port nobody uses right now (the kernel's choice for port 0).
func freePort(stream: Bool) throws -> UInt16 {
    let descriptor = socket(AF_INET, Int32(stream ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue), 0)
    guard descriptor >= 0 else { throw CollectorError.setup("socket: \(String(cString: strerror(errno)))") }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
    }
    guard bound == 0 else { throw CollectorError.setup("bind: \(String(cString: strerror(errno)))") }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    return UInt16(bigEndian: address.sin_port)
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
func tcpAccepts(port: UInt16) -> Bool {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    address.sin_port = port.bigEndian
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    return result == 0
}
