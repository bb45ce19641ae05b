// `idlewatch live`: watch an interface (a SPAN/mirror port) through the same pipeline as a replay, with the capture
// options tcpdump users know, privileges dropped once the capture is open, and signals for stop, reload and stats.

import ArgumentParser
import Foundation
import Detection
import FlowTracking
import HostBaselines
import Glibc
import OutputSinks
import PacketCapture
import Sensor
import SiteModel
import StateStore

struct Live: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Capture from an interface and raise alerts as traffic comes.",
        discussion: """
            Signals: SIGINT or SIGTERM stop the capture, flush every output (each within 5 s) and exit 0, or 1 when \
            standard output lost lines; SIGHUP reloads the site file (checked first: with problems, or not a regular file, \
            the old one stays; it must stay readable by --user); SIGUSR1 prints statistics, with every output's counts, on standard error.
            Example: idlewatch live -i span0 --site /etc/idlewatch/site.yaml --format json not port 22
            """
    )

    @Option(name: .customShort("i"), help: "The interface to capture on (see `idlewatch interfaces`).")
    var interface: String

    @OptionGroup var siteOptions: SiteOptions

    @OptionGroup var formatOptions: FormatOptions

    @Flag(name: .long, help: "Write nothing to standard output (use with --syslog).")
    var noStdout = false

    @OptionGroup var sinkOptions: SinkOptions

    @Option(name: .customShort("s"), help: "Snapshot length: bytes kept per packet (0: 262144).")
    var snaplen = 262_144

    // libpcap's own default is 2 MiB, a few milliseconds of a busy link: a sensor behind a SPAN port meets bursts
    // (and its own pauses: a state save, a site reload) that need more. Zeek asks for 128 MiB; 64 MiB holds about
    // 100,000 full-size frames and costs nothing until the kernel fills it.
    @Option(name: .customShort("B"), help: "Kernel capture buffer size in KiB, as tcpdump's -B (libpcap's default is 2048).")
    var bufferSize = 65_536

    @Flag(name: .customShort("p"), help: "Do not put the interface in promiscuous mode.")
    var noPromiscuous = false

    @Flag(name: .long, help: "Deliver packets as they arrive instead of in batches.")
    var immediateMode = false

    @Option(name: .long, help: "Drop to this user once the capture is open (default nobody when started as root; root keeps root).")
    var user: String?

    @Flag(name: .long, help: ArgumentHelp(
        "Do not install the system-call filter after the privilege drop (an escape hatch: see README, Security).",
        discussion: "No-new-privileges and the empty capability bounding set stay."))
    var noSeccomp = false

    // For the tests: once hardened, try a call the filter forbids (execve of /bin/true) and report the outcome.
    @Flag(name: .long, help: .hidden)
    var checkConfinement = false

    @Option(name: .long, help: "Seconds between statistics lines on standard error (0: only on SIGUSR1 and at exit).")
    var statsInterval = 300.0

    @Option(name: .long, help: "Raise capture-silent after this many seconds without a packet (0: never).")
    var silentAfter = 300.0

    @Option(name: .long, help: "Raise capture-loss when more than this fraction of packets is dropped over 10 s.")
    var lossThreshold = 0.001

    @Option(name: .long, help: ArgumentHelp(
        "The state file (SQLite): learned hosts and baselines are loaded from it and saved into it.",
        discussion: "Seed it with `idlewatch replay --state FILE` to start from what past traffic taught. "
            + "Default: \(Live.defaultStatePath)."))
    var state: String?

    @Flag(name: .long, help: "Keep nothing between runs: learning starts over at each start.")
    var noState = false

    @Option(name: .long, help: "Save the state every this many seconds (of the monotonic clock, whatever the packet times say) and at exit.")
    var saveInterval = 60

    @OptionGroup var capacities: CapacityOptions

    @Argument(help: "An optional BPF filter expression, as with tcpdump.")
    var filter: [String] = []

    func validate() throws {
        guard snaplen >= 0 && snaplen <= 262_144 else { throw ValidationError("-s must be between 0 and 262144") }
        if bufferSize <= 0 || bufferSize > 4_194_304 {
            throw ValidationError("-B must be between 1 and 4194304 KiB")
        }
        guard statsInterval >= 0, silentAfter >= 0, lossThreshold >= 0 && lossThreshold <= 1 else {
            throw ValidationError("--stats-interval and --silent-after must be >= 0, --loss-threshold between 0 and 1")
        }
        guard saveInterval > 0 && saveInterval <= 86_400 else {
            throw ValidationError("--save-interval must be between 1 and 86400 seconds")
        }
        if noState && state != nil { throw ValidationError("--state and --no-state exclude each other") }
        // Before any side effect (the capture, a state file made as root): the account to drop to must exist.
        if let user, user != "root", getpwnam(user) == nil {
            throw ValidationError("--user \(user): no such user")
        }
        if user == nil, geteuid() == 0, getpwnam("nobody") == nil {
            throw ValidationError("no user 'nobody' to drop privileges to: give --user USER (or --user root)")
        }
    }

    static let defaultStatePath = "/var/lib/idlewatch/state.db"

    func run() throws {
        // Every message queued for standard error is written (within 2 s) before the process ends.
        defer {
            Live.messagesLock.lock()
            Live.messages.close(waitingUpTo: 2)
            Live.messagesLock.unlock()
        }
        signal(SIGPIPE, SIG_IGN)
        // First, while the process has one thread (every thread has its own sets; later ones inherit these): no
        // capability in the bounding or ambient sets, so nothing exec'd could regain one. Root's own capabilities
        // stay until the drop (the capture and the state file need them).
        if geteuid() == 0 {
            do { try ProcessHardening.clearCapabilityBounds() } catch { throw CommandFailure("cannot harden the process: \(error)") }
        }
        // Before anything can block: signals wait for the capture loop instead of killing the process.
        let signals = SignalWatcher([SIGINT, SIGTERM, SIGHUP, SIGUSR1])
        var configuration = PipelineConfiguration()
        try siteOptions.load(into: &configuration)
        formatOptions.apply(to: &configuration)
        capacities.apply(to: &configuration)

        // Standard output is written by a thread of its own and never makes the capture wait: a reader that stops
        // reading fills a bounded queue, then the oldest lines are dropped and counted.
        let standardOutput = noStdout ? nil : StandardOutputSink(
            output: BufferedOutput(descriptor: STDOUT_FILENO, mode: .dropping(capacity: BufferedOutput.defaultQueueCapacity)),
            format: formatOptions.format)
        var options = LiveOptions()
        options.snapshotLength = snaplen
        options.promiscuous = !noPromiscuous
        options.bufferSize = bufferSize * 1024
        options.immediate = immediateMode
        options.filter = filter.isEmpty ? nil : filter.joined(separator: " ")
        let source: LiveSource
        do {
            source = try LiveSource(interface: interface, options: options)
        } catch {
            throw CommandFailure(error.description)
        }
        for warning in source.warnings { log("\(interface): warning: \(warning)") }
        // Collectors are reached before privileges are dropped (a local socket may be root's).
        let sinks: [AlertSink] = try (standardOutput.map { [$0] } ?? []) + sinkOptions.makeSinks(log: log)
        // The state is opened and loaded while still root (its directory may be root's), then handed to --user.
        var pipeline = Pipeline(configuration: configuration, sinks: sinks)
        if !noState {
            let path = state ?? Live.defaultStatePath
            do {
                if state == nil || state == Live.defaultStatePath { try createDefaultStateDirectory() }
                let owner = targetUser().map { StateFileOwner(name: $0.name, uid: $0.uid, gid: $0.gid) }
                let file = try StateFile.openForWriting(path: path, handTo: owner)
                try pipeline.attachState(file, interval: .seconds(Int64(saveInterval)), resume: false)
                if let restored = pipeline.state?.restored {
                    log("state \(path): continuing from \(restored.packets) packets, \(restored.hosts) hosts, "
                        + "\(restored.flows) open flows" + (restored.clock.map { ", up to \($0.rfc3339(fractionDigits: 0))" } ?? ""))
                } else {
                    log("state \(path): new")
                }
            } catch let failure as CommandFailure {
                throw failure
            } catch {
                throw CommandFailure("\(error)", exitCode: 2)
            }
        }
        log("capturing on \(interface) (link type \(source.linkType), snapshot length \(source.snapshotLength)"
            + (options.filter.map { ", filter '\($0)'" } ?? "") + ")")
        try dropPrivileges()
        try confine()

        var settings = LiveSettings()
        settings.statisticsInterval = statsInterval
        settings.silentAfter = silentAfter
        settings.lossThreshold = lossThreshold
        settings.sitePath = siteOptions.site
        let sensor = LiveSensor(source: source, pipeline: pipeline, settings: settings, signals: signals, log: log)
        do {
            try sensor.run()
        } catch {
            throw CommandFailure(error.description)
        }
        // As tcpdump ("Unable to write output: Broken pipe", non-zero status): alerts that did not reach standard
        // output, whatever the reason (closed, full disk, dropped from the full queue), make the status non-zero.
        if let loss = standardOutput?.statistics.lossMessage {
            log(loss)
            throw ExitCode(1)
        }
    }

    /// The user privileges are dropped to, or nil when they are kept.
    func targetUser() -> (name: String, uid: uid_t, gid: gid_t)? {
        guard geteuid() == 0 else { return nil }
        let name = user ?? "nobody"
        guard name != "root", let entry = getpwnam(name) else { return nil }
        return (name, entry.pointee.pw_uid, entry.pointee.pw_gid)
    }

    /// /var/lib/idlewatch, made if missing (as systemd's StateDirectory= would): root's, mode 0755. Only the state
    /// file inside is handed to --user (by StateFile, by descriptor): a directory the sensor's user could write
    /// would let that user plant a link for the next start as root to follow. One left to that user by an earlier
    /// version is taken back.
    func createDefaultStateDirectory() throws {
        let directory = (Live.defaultStatePath as NSString).deletingLastPathComponent
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw CommandFailure("cannot create \(directory): \(String(cString: strerror(errno))) (or give --state FILE, or --no-state)", exitCode: 2)
        }
        guard geteuid() == 0 else { return }
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw CommandFailure("\(directory): \(String(cString: strerror(errno))) (a directory is expected; or give --state FILE, or --no-state)", exitCode: 2)
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return }
        let mode = info.st_mode & 0o7777
        // Searchable by all (the sensor's user reopens the file by path), writable by root only.
        if info.st_uid != 0 || info.st_gid != 0 || mode & 0o022 != 0 || mode & 0o001 == 0 {
            guard fchown(descriptor, 0, 0) == 0, fchmod(descriptor, 0o755) == 0 else {
                throw CommandFailure("cannot make \(directory) root's: \(String(cString: strerror(errno)))", exitCode: 2)
            }
            if info.st_uid != 0 {
                log("\(directory) belonged to uid \(info.st_uid): made root's (mode 0755); only the state file "
                    + "is handed to the sensor's user")
            }
        }
    }

    /// Gives up root once the capture is open, as `tcpdump -Z`: supplementary groups, group, then user, and checks
    /// that root cannot be taken back. Refuses to go on if any step fails.
    func dropPrivileges() throws {
        guard geteuid() == 0 else {
            if let user, user != "root" { log("not root: --user \(user) ignored") }
            return
        }
        let name = user ?? "nobody"
        guard name != "root" else {
            log("keeping root privileges (--user root)")
            return
        }
        guard let entry = getpwnam(name) else { throw CommandFailure("cannot drop privileges: no user '\(name)'") }
        let uid = entry.pointee.pw_uid, gid = entry.pointee.pw_gid
        guard initgroups(name, gid) == 0 || setgroups(0, nil) == 0 else {
            throw CommandFailure("cannot drop privileges: setting groups for \(name): \(String(cString: strerror(errno)))")
        }
        guard setgid(gid) == 0 else {
            throw CommandFailure("cannot drop privileges: setgid(\(gid)): \(String(cString: strerror(errno)))")
        }
        guard setuid(uid) == 0 else {
            throw CommandFailure("cannot drop privileges: setuid(\(uid)): \(String(cString: strerror(errno)))")
        }
        guard setuid(0) != 0, getuid() == uid, geteuid() == uid else {
            throw CommandFailure("cannot drop privileges: root could be regained after setuid(\(uid))")
        }
        log("dropped privileges to \(name) (uid \(uid), gid \(gid))")
    }

    /// The sensor's messages on standard error go through a writer thread, like standard output: a reader of
    /// standard error that stops reading must not stall the capture or a stop either. At most 1,000 messages wait;
    /// beyond that the oldest are dropped.
    static let messages = BufferedOutput(descriptor: STDERR_FILENO, mode: .dropping(capacity: 1000))
    /// A BufferedOutput has one producer at a time; messages may come from any thread.
    static let messagesLock = NSLock()

    /// After the drop: no new privileges, and (unless --no-seccomp) only the system calls the sensor needs, on
    /// every thread. See ProcessHardening for the list.
    func confine() throws {
        do {
            try ProcessHardening.forbidNewPrivileges()
            if !noSeccomp { try ProcessHardening.installSystemCallFilter() }
        } catch {
            throw CommandFailure("cannot harden the process: \(error)" + (noSeccomp ? "" : " (--no-seccomp runs without the system-call filter)"))
        }
        log(noSeccomp ? "confined: no new privileges, no system-call filter (--no-seccomp)"
            : "confined: no new privileges, \(ProcessHardening.allowedCount) kinds of system call allowed (others fail with EPERM)")
        if checkConfinement {
            log("confinement: \(ProcessHardening.status())")
            ProcessHardening.checkRefusals({ log("confinement check: \($0)") },
                                           beforeExec: { Live.messagesLock.withLock { _ = Live.messages.drain(waitingUpTo: 5) } })
        }
    }

    func log(_ message: String) {
        Live.messagesLock.lock()
        defer { Live.messagesLock.unlock() }
        Live.messages.writeLine("idlewatch: \(message)", kind: .record)
        Live.messages.flush()
    }
}
