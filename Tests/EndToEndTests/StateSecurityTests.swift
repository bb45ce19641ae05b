// The state file attacked as issue 14 did: a process running as the sensor's user (nobody) plants a link, a FIFO
// or a second name where the sensor, started again as root, opens its state; two writers on one file; a --user
// that does not exist. Each runs the real executable as root; the planted files live in a tmpfs mounted over
// /var/lib in a private mount namespace (`unshare -m`), so the machine's own /var/lib is never touched.

import Foundation
import Glibc
import Testing

/// Runs `script` with /bin/sh as root in a private mount namespace where /var/lib is a fresh tmpfs holding
/// `/var/lib/secret` (root's, 0700) with `preload` (an empty root file, 0644: /etc/ld.so.preload in the issue).
/// `$IW` is the idlewatch executable, `$AS_NOBODY` runs a command as nobody. Returns what the script printed.
func inPrivateVarLib(_ script: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
    let prologue = """
        set -u
        mount -t tmpfs -o mode=0755 iwtest\(getpid()) /var/lib || { echo "no tmpfs"; exit 99; }
        mkdir -m 0700 /var/lib/secret && : > /var/lib/secret/preload && chmod 0644 /var/lib/secret/preload
        IW='\(TestPaths.executable)'
        AS_NOBODY='setpriv --reuid=65534 --regid=65534 --clear-groups'
        report() {
            for f in /var/lib/idlewatch /var/lib/idlewatch/* /var/lib/secret/*; do
                [ -e "$f" ] || [ -L "$f" ] && stat -c 'stat %n %u %a %h %F' "$f"
            done
            echo "preload bytes $(wc -c < /var/lib/secret/preload)"
        }

        """
    process.arguments = ["--mount", "--propagation", "private", "/bin/sh", "-c", prologue + script]
    let directory = TestPaths.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let out = directory.appendingPathComponent("out")
    FileManager.default.createFile(atPath: out.path, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: out)
    process.standardError = process.standardOutput
    try process.run()
    process.waitUntilExit()
    return try String(contentsOf: out, encoding: .utf8)
}

/// The `stat` line `report` printed for `path`: uid, mode, links, type.
func statLine(_ output: String, _ path: String) -> String? {
    output.split(separator: "\n").first { $0.hasPrefix("stat \(path) ") }
        .map { String($0.dropFirst("stat \(path) ".count)) }
}

@Suite("State file attacked", .serialized, .enabled(if: geteuid() == 0, "needs root: mount namespaces, a veth pair, setpriv"))
struct StateSecurityTests {
    /// `idlewatch live` on the test link with the default state path, ended by SIGTERM after `seconds` (a
    /// refused start ends at once), its exit status and standard error printed.
    func live(_ link: TestLink, seconds: Int = 20, _ extra: String = "") -> String {
        """
        timeout --preserve-status -k 5 -s TERM \(seconds) "$IW" live -i \(link.local) --stats-interval 0 --immediate-mode \(extra) >/dev/null 2>/var/lib/err
        echo "exit $?"
        sed 's/^/err: /' /var/lib/err

        """
    }

    @Test("a new default state directory stays root's; the state file is nobody's, 0600, and saves and restarts work as nobody")
    func defaultDirectoryStaysRoot() throws {
        let link = try TestLink()
        let output = try inPrivateVarLib("""
            timeout --preserve-status -k 5 -s TERM 5 "$IW" live -i \(link.local) --stats-interval 0 --immediate-mode --save-interval 1 \
                >/dev/null 2>/var/lib/err &
            sleep 2; ip netns exec \(link.namespace) ping -c 3 -i 0.2 -W 1 \(link.localAddress) >/dev/null
            wait $!; echo "exit $?"
            sed 's/^/err: /' /var/lib/err
            \(live(link, seconds: 3))
            report
            """)
        #expect(statLine(output, "/var/lib/idlewatch") == "0 755 2 directory", "\(output)")
        for file in ["state.db", "state.db-wal", "state.db-shm"] {
            #expect(statLine(output, "/var/lib/idlewatch/\(file)") == "65534 600 1 regular file"
                    || statLine(output, "/var/lib/idlewatch/\(file)") == "65534 600 1 regular empty file", "\(output)")
        }
        #expect(output.components(separatedBy: "exit 0").count == 3, "\(output)")
        #expect(output.contains("dropped privileges to nobody"), "\(output)")
        #expect(!output.contains("state not saved"), "\(output)")
        // The second start continues from what the first saved (as nobody, in a directory nobody cannot write).
        #expect(output.contains("continuing from"), "\(output)")
        #expect(!output.contains("continuing from 0 packets"), "\(output)")
    }

    @Test("links, a FIFO and a second name planted by nobody in the directory an earlier version left to nobody are refused, the targets untouched")
    func plantedFilesRefused() throws {
        let link = try TestLink()
        let oldLayout = "mkdir -m 0750 /var/lib/idlewatch && chown 65534:65534 /var/lib/idlewatch\n"
        let cases: [(setup: String, message: String)] = [
            ("$AS_NOBODY ln -s /var/lib/secret/preload /var/lib/idlewatch/state.db",
             "state.db: is a symbolic link to /var/lib/secret/preload; refused"),
            ("$AS_NOBODY ln -s /var/lib/secret/created /var/lib/idlewatch/state.db",
             "state.db: is a symbolic link to /var/lib/secret/created; refused"),
            ("$AS_NOBODY mkfifo /var/lib/idlewatch/state.db", "state.db: is a FIFO, not a regular file"),
            // As nobody could where fs.protected_hardlinks is 0 (made as root here: the kernel refuses it to nobody).
            ("ln /var/lib/secret/preload /var/lib/idlewatch/state.db", "state.db: has 2 names (hard links)"),
            ("$AS_NOBODY ln -s /var/lib/secret/preload /var/lib/idlewatch/state.db-wal",
             "state.db-wal: is a symbolic link to /var/lib/secret/preload; refused"),
            ("$AS_NOBODY ln -s /var/lib/secret/preload /var/lib/idlewatch/state.db-shm",
             "state.db-shm: is a symbolic link to /var/lib/secret/preload; refused"),
        ]
        for (setup, message) in cases {
            let output = try inPrivateVarLib(oldLayout + setup + "\n" + live(link) + "report\n")
            #expect(output.contains("exit 2"), "\(setup): \(output)")
            #expect(output.contains(message), "\(setup): \(output)")
            // The target is as it was: empty, root's, 0644, one name besides the planted one; nothing created.
            #expect(output.contains("preload bytes 0"), "\(setup): \(output)")
            #expect(statLine(output, "/var/lib/secret/preload")?.hasPrefix("0 644 ") == true, "\(setup): \(output)")
            #expect(statLine(output, "/var/lib/secret/created") == nil, "\(setup): \(output)")
            #expect(statLine(output, "/var/lib/secret/preload-wal") == nil, "\(setup): \(output)")
            // The directory was taken back from nobody, so nothing more can be planted.
            #expect(statLine(output, "/var/lib/idlewatch") == "0 755 2 directory", "\(setup): \(output)")
        }
    }

    @Test("replay --state as root refuses a directory nobody owns and a planted link, the target untouched")
    func replayRefusesPlantedLinks() throws {
        let capture = TestPaths.captures.appendingPathComponent("basic-lan.pcap").path
        let output = try inPrivateVarLib("""
            mkdir -m 0750 /var/lib/idlewatch && chown 65534:65534 /var/lib/idlewatch
            $AS_NOBODY ln -s /var/lib/secret/preload /var/lib/idlewatch/state.db
            "$IW" replay --state /var/lib/idlewatch/state.db '\(capture)' >/dev/null 2>/var/lib/err; echo "exit $?"
            sed 's/^/err: /' /var/lib/err
            mkdir -m 0755 /var/lib/root-owned && ln -s /var/lib/secret/preload /var/lib/root-owned/state.db
            "$IW" replay --state /var/lib/root-owned/state.db '\(capture)' >/dev/null 2>/var/lib/err; echo "exit $?"
            sed 's/^/err: /' /var/lib/err
            report
            """)
        #expect(output.components(separatedBy: "exit 2").count == 3, "\(output)")
        #expect(output.contains("directory /var/lib/idlewatch belongs to uid 65534, not to root"), "\(output)")
        #expect(output.contains("/var/lib/root-owned/state.db: is a symbolic link to /var/lib/secret/preload; refused"),
                "\(output)")
        #expect(output.contains("preload bytes 0"), "\(output)")
        #expect(statLine(output, "/var/lib/secret/preload")?.hasPrefix("0 644 ") == true, "\(output)")
    }

    @Test("the hosts report refuses a FIFO instead of waiting on it forever")
    func reportRefusesFIFO() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let fifo = directory.appendingPathComponent("state.db").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let report = try runIdleWatch(["hosts", "--state", fifo])  // before: blocked in open(2) for a writer
        #expect(report.status == 2, "\(report.standardError)")
        #expect(report.standardError.contains("state.db: is a FIFO, not a regular file; refused"), "\(report.standardError)")
    }

    @Test("a state file made by a replay is 0600")
    func createdPrivate() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = directory.appendingPathComponent("state.db").path
        let replay = try runIdleWatch(["replay", "--state", state,
                                       TestPaths.captures.appendingPathComponent("basic-lan.pcap").path])
        #expect(replay.status == 0, "\(replay.standardError)")
        var info = stat()
        #expect(stat(state, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600, "mode \(String(info.st_mode & 0o777, radix: 8))")
    }

    @Test("a second writer on a state file is refused, naming the first; the hosts report still reads it")
    func oneWriterAtATime() throws {
        let link = try TestLink()
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        chmod(directory.path, 0o755)
        let state = directory.appendingPathComponent("state.db").path
        let capture = TestPaths.captures.appendingPathComponent("basic-lan.pcap").path
        #expect(try runIdleWatch(["replay", "--state", state, capture]).status == 0)

        let live = try LiveProcess(["-i", link.local, "--state", state, "--stats-interval", "0"])
        #expect(live.waitForError("capturing on"), "\(live.standardError)")
        let second = try runIdleWatch(["replay", "--state", state, capture])
        #expect(second.status == 2, "\(second.standardError)")
        #expect(second.standardError.contains("in use by pid \(live.process.processIdentifier) ("), "\(second.standardError)")
        #expect(second.standardError.contains("idlewatch live -i \(link.local)"), "\(second.standardError)")
        let another = try runIdleWatch(["live", "-i", link.local, "--state", state])
        #expect(another.status == 2, "\(another.standardError)")
        #expect(another.standardError.contains("in use by pid \(live.process.processIdentifier)"), "\(another.standardError)")
        let report = try runIdleWatch(["hosts", "--state", state])
        #expect(report.status == 0, "\(report.standardError)")
        live.signal(SIGTERM)
        #expect(live.waitForExit() == 0, "\(live.standardError)")

        // Two replays: the first waits on its standard input while the second tries.
        let first = Process()
        first.executableURL = URL(fileURLWithPath: TestPaths.executable)
        first.arguments = ["replay", "--state", state, "-"]
        let input = Pipe()
        first.standardInput = input
        first.standardOutput = FileHandle.nullDevice
        first.standardError = FileHandle.nullDevice
        try first.run()
        // The capture file's header and first packet (its record header says how long: little-endian at offset
        // 8 of the record): the replay reads them to order its inputs, opens the state, then waits for more.
        let packets = try Data(contentsOf: URL(fileURLWithPath: capture))
        let firstLength = 24 + 16 + Int(packets[32]) | Int(packets[33]) << 8 | Int(packets[34]) << 16
        input.fileHandleForWriting.write(packets.prefix(firstLength))
        // Until the first holds its lock (flock -n fails on a locked file).
        for _ in 0..<100 where (try? sh("flock -n \(state) true")) != nil { usleep(100_000) }
        let refused = try runIdleWatch(["replay", "--state", state, capture])
        #expect(refused.status == 2, "\(refused.standardError)")
        #expect(refused.standardError.contains("in use by pid \(first.processIdentifier) ("), "\(refused.standardError)")
        input.fileHandleForWriting.write(packets.dropFirst(firstLength))
        try input.fileHandleForWriting.close()
        first.waitUntilExit()
        #expect(first.terminationStatus == 0)
        #expect(try runIdleWatch(["replay", "--state", state, capture]).status == 0, "the lock is released at exit")
    }

    @Test("--user naming no account is refused before the capture opens or a state file is made")
    func unknownUserRefusedFirst() throws {
        let link = try TestLink()
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = directory.appendingPathComponent("state.db").path
        let result = try runIdleWatch(["live", "-i", link.local, "--state", state, "--user", "iwnosuchuser9"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("--user iwnosuchuser9: no such user"), "\(result.standardError)")
        #expect(!result.standardError.contains("capturing on"), "\(result.standardError)")
        #expect(!FileManager.default.fileExists(atPath: state), "a state file was made before the check")
    }
}
