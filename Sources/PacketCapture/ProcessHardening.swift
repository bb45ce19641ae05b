// What `idlewatch live` gives up once its capture, state file and syslog sockets are open: the capability bounding
// set and ambient capabilities (nothing it could exec would get privileges back), new privileges altogether
// (PR_SET_NO_NEW_PRIVS), and every system call outside the list below (a seccomp filter). An attacker who took over
// the process through a crafted packet finds no execve, ptrace, mount or module loading, and no setuid to undo the
// drop. Kept here because the kernel interfaces come through CPcap, the one C module.

import CPcap
import Glibc

public struct HardeningError: Error, CustomStringConvertible, Sendable {
    public var step: String
    public var code: Int32

    public var description: String { "\(step): \(String(cString: strerror(code)))" }
}

public enum ProcessHardening {
    /// Empties the capability bounding set and the ambient set, so no program this process could run would start
    /// with a capability. Needs CAP_SETPCAP (root); the process's own capabilities are not touched (root still
    /// needs them to open the capture and drop privileges), and threads started later inherit the empty sets, so
    /// this is best called first, while the process has one thread. Returns how many capabilities were dropped.
    @discardableResult
    public static func clearCapabilityBounds() throws -> Int {
        guard idlewatch_prctl(PR_CAP_AMBIENT, UInt(PR_CAP_AMBIENT_CLEAR_ALL), 0) == 0 || errno == EINVAL else {
            throw HardeningError(step: "clearing the ambient capabilities", code: errno)
        }
        var dropped = 0
        var capability: UInt = 0
        // Up to the kernel's last capability: PR_CAPBSET_READ fails with EINVAL past it.
        while idlewatch_prctl(PR_CAPBSET_READ, capability, 0) >= 0 {
            if idlewatch_prctl(PR_CAPBSET_READ, capability, 0) == 1 {
                guard idlewatch_prctl(PR_CAPBSET_DROP, capability, 0) == 0 else {
                    throw HardeningError(step: "dropping capability \(capability) from the bounding set", code: errno)
                }
                dropped += 1
            }
            capability += 1
        }
        return dropped
    }

    /// PR_SET_NO_NEW_PRIVS: execve can no longer grant privileges (setuid files, file capabilities). Also what the
    /// kernel requires before an unprivileged process installs a seccomp filter.
    public static func forbidNewPrivileges() throws {
        guard idlewatch_prctl(PR_SET_NO_NEW_PRIVS, 1, 0) == 0 else {
            throw HardeningError(step: "setting no-new-privileges", code: errno)
        }
    }

    /// Installs the system-call filter on every thread. A call not on `allowedSystemCalls` fails with EPERM (it
    /// does not kill: a call missed in the list shows as an error message in the field, not as a dead sensor); a
    /// call made for another architecture's ABI (x32, or 32-bit code) kills the process, as its numbers mean other
    /// calls. Throws where no filter is written for the architecture.
    public static func installSystemCallFilter() throws {
        let program = try filterProgram()
        let result = program.withUnsafeBufferPointer { idlewatch_seccomp_install($0.baseAddress, UInt16($0.count)) }
        guard result == 0 else {
            throw HardeningError(step: result > 0 ? "installing the seccomp filter (thread \(result) refused)"
                                    : "installing the seccomp filter", code: result > 0 ? EPERM : errno)
        }
    }

    /// The calls the live sensor makes after the drop, found by running it under `strace -f` through everything it
    /// does (capture, statistics, syslog over unix, UDP and TCP sockets with reconnection, state saves, SIGHUP
    /// reload, SIGUSR1, exit). The hottest first: the filter tries them in order.
    public static var allowedSystemCalls: [(number: Int32, name: String)] {
        var calls: [(Int32, String)] = [
            // The capture and analysis threads, the output, SQLite's file I/O.
            (SYS_read, "read"), (SYS_write, "write"), (SYS_futex, "futex"), (SYS_ppoll, "ppoll"),
            (SYS_pread64, "pread64"), (SYS_pwrite64, "pwrite64"), (SYS_writev, "writev"), (SYS_readv, "readv"),
            (SYS_recvfrom, "recvfrom"), (SYS_sendto, "sendto"), (SYS_sendmsg, "sendmsg"), (SYS_recvmsg, "recvmsg"),
            (SYS_sendmmsg, "sendmmsg"), (SYS_epoll_pwait, "epoll_pwait"), (SYS_epoll_ctl, "epoll_ctl"),
            (SYS_epoll_create1, "epoll_create1"), (SYS_eventfd2, "eventfd2"),
            // Dispatch's timers (GRDB's queues): without them libdispatch traps.
            (SYS_timerfd_create, "timerfd_create"), (SYS_timerfd_settime, "timerfd_settime"),
            (SYS_timerfd_gettime, "timerfd_gettime"),
            (SYS_clock_nanosleep, "clock_nanosleep"), (SYS_nanosleep, "nanosleep"), (SYS_clock_gettime, "clock_gettime"),
            (SYS_gettimeofday, "gettimeofday"), (SYS_clock_getres, "clock_getres"), (SYS_sched_yield, "sched_yield"),
            // SQLite: locks (fcntl), the journal and WAL, reopening the file by path for a new reader connection,
            // the shared-memory index; fstat/lseek everywhere. unlink: SQLite removing its WAL at exit (refused by
            // the directory's permissions after the drop, which SQLite tolerates).
            (SYS_fcntl, "fcntl"), (SYS_lseek, "lseek"), (SYS_fsync, "fsync"), (SYS_fdatasync, "fdatasync"),
            (SYS_ftruncate, "ftruncate"), (SYS_fallocate, "fallocate"), (SYS_openat, "openat"), (SYS_close, "close"),
            (SYS_newfstatat, "newfstatat"), (SYS_fstat, "fstat"), (SYS_statx, "statx"), (SYS_fstatfs, "fstatfs"),
            (SYS_statfs, "statfs"), (SYS_faccessat, "faccessat"), (SYS_faccessat2, "faccessat2"),
            (SYS_readlinkat, "readlinkat"), (SYS_getdents64, "getdents64"), (SYS_unlinkat, "unlinkat"),
            (SYS_getcwd, "getcwd"), (SYS_flock, "flock"), (SYS_dup, "dup"), (SYS_dup3, "dup3"), (SYS_pipe2, "pipe2"),
            // Memory.
            (SYS_mmap, "mmap"), (SYS_munmap, "munmap"), (SYS_mremap, "mremap"), (SYS_mprotect, "mprotect"),
            (SYS_madvise, "madvise"), (SYS_brk, "brk"), (SYS_membarrier, "membarrier"),
            // Syslog over TCP reconnects after the drop: a new socket each time.
            (SYS_connect, "connect"), (SYS_setsockopt, "setsockopt"),
            (SYS_getsockopt, "getsockopt"), (SYS_getsockname, "getsockname"), (SYS_getpeername, "getpeername"),
            (SYS_shutdown, "shutdown"),
            // Signals (sigtimedwait for SIGINT/SIGTERM/SIGHUP/SIGUSR1), threads, the process's end.
            (SYS_rt_sigaction, "rt_sigaction"), (SYS_rt_sigprocmask, "rt_sigprocmask"),
            (SYS_rt_sigreturn, "rt_sigreturn"), (SYS_rt_sigtimedwait, "rt_sigtimedwait"),
            (SYS_sigaltstack, "sigaltstack"), (SYS_restart_syscall, "restart_syscall"), (SYS_tgkill, "tgkill"),
            // Dispatch sets its worker threads' priority (lowering it is all an unprivileged process can do).
            (SYS_setpriority, "setpriority"), (SYS_getpriority, "getpriority"),
            (SYS_set_robust_list, "set_robust_list"), (SYS_rseq, "rseq"), (SYS_sched_getaffinity, "sched_getaffinity"),
            (SYS_exit, "exit"), (SYS_exit_group, "exit_group"),
            // Identity and limits read by the runtime and SQLite.
            (SYS_getpid, "getpid"), (SYS_gettid, "gettid"), (SYS_getuid, "getuid"), (SYS_geteuid, "geteuid"),
            (SYS_getgid, "getgid"), (SYS_getegid, "getegid"), (SYS_getrandom, "getrandom"), (SYS_uname, "uname"),
            (SYS_prlimit64, "prlimit64"), (SYS_getrusage, "getrusage"), (SYS_sysinfo, "sysinfo"),
        ]
        #if arch(x86_64)
        // The older x86-64 calls glibc still uses for some functions.
        calls += [
            (SYS_poll, "poll"), (SYS_epoll_wait, "epoll_wait"), (SYS_open, "open"), (SYS_stat, "stat"),
            (SYS_lstat, "lstat"), (SYS_access, "access"), (SYS_readlink, "readlink"), (SYS_unlink, "unlink"),
            (SYS_pipe, "pipe"), (SYS_dup2, "dup2"), (SYS_arch_prctl, "arch_prctl"),
        ]
        #endif
        return calls.map { (number: $0.0, name: $0.1) }
    }

    /// How many kinds of call the filter lets through (clone, for threads only, included).
    public static var allowedCount: Int { allowedSystemCalls.count + allowedWithArgument.count + 1 }

    /// Calls allowed only with given values of one argument (checked on its low 32 bits, the width the kernel
    /// reads for these): everything else of them fails with EPERM.
    public static var allowedWithArgument: [(number: Int32, name: String, argument: Int, values: [UInt32])] {
        [
            // Dispatch names its threads; nothing else of prctl (dumpable, ptracer, seccomp...) is needed.
            (SYS_prctl, "prctl", 0, [UInt32(PR_SET_NAME), UInt32(PR_GET_NAME)]),
            // The TCP syslog sink waits at exit until the kernel sent what it queued (TIOCOUTQ is SIOCOUTQ);
            // FIONREAD. Not TIOCSTI and the other terminal requests.
            (SYS_ioctl, "ioctl", 1, [0x5411 /* TIOCOUTQ */, 0x541B /* FIONREAD */]),
            // New syslog sockets (TCP reconnection): unix, IPv4, IPv6; not netlink, packet or the other families.
            (SYS_socket, "socket", 0, [UInt32(AF_UNIX), UInt32(AF_INET), UInt32(AF_INET6)]),
        ]
    }

    /// The BPF program: check the architecture, then the call number against the list; clone only for threads.
    static func filterProgram() throws -> [sock_filter] {
        let architecture = idlewatch_audit_arch()
        guard architecture != 0 else { throw HardeningError(step: "no seccomp filter for this architecture", code: ENOSYS) }
        func statement(_ code: Int32, _ k: UInt32) -> sock_filter { sock_filter(code: UInt16(code), jt: 0, jf: 0, k: k) }
        func jump(_ code: Int32, _ k: UInt32, _ jt: Int, _ jf: Int) -> sock_filter {
            sock_filter(code: UInt16(code), jt: UInt8(jt), jf: UInt8(jf), k: k)
        }
        let load = BPF_LD | BPF_W | BPF_ABS, equal = BPF_JMP | BPF_JEQ | BPF_K, ret = BPF_RET | BPF_K
        let allow = UInt32(SECCOMP_RET_ALLOW), kill = UInt32(SECCOMP_RET_KILL_PROCESS)
        func fail(_ code: Int32) -> UInt32 { UInt32(SECCOMP_RET_ERRNO) | (UInt32(code) & UInt32(SECCOMP_RET_DATA)) }
        let archOffset = UInt32(MemoryLayout<seccomp_data>.offset(of: \seccomp_data.arch)!)
        let numberOffset = UInt32(MemoryLayout<seccomp_data>.offset(of: \seccomp_data.nr)!)
        // The low 32 bits of the first argument (little-endian): clone's flags; the others 8 bytes apart.
        let flagsOffset = UInt32(MemoryLayout<seccomp_data>.offset(of: \seccomp_data.args)!)

        let cloneThread: UInt32 = 0x0001_0000  // CLONE_THREAD, <linux/sched.h>
        var program: [sock_filter] = [
            statement(load, archOffset),
            jump(equal, architecture, 1, 0),
            statement(ret, kill),
            statement(load, numberOffset),
        ]
        #if arch(x86_64)
        // x32 ABI calls: the same architecture value, numbers with bit 30 set.
        program += [jump(BPF_JMP | BPF_JGE | BPF_K, 0x4000_0000, 0, 1), statement(ret, kill)]
        #endif
        // clone3 passes its flags in memory the filter cannot read: ENOSYS makes glibc fall back to clone, whose
        // flags it can: threads (CLONE_THREAD) yes, new processes no.
        program += [
            jump(equal, UInt32(SYS_clone3), 0, 1), statement(ret, fail(ENOSYS)),
            jump(equal, UInt32(SYS_clone), 0, 5),
            statement(load, flagsOffset),
            statement(BPF_ALU | BPF_AND | BPF_K, cloneThread),
            jump(equal, cloneThread, 1, 0),
            statement(ret, fail(EPERM)),
            statement(ret, allow),
        ]
        for rule in allowedWithArgument {
            let count = rule.values.count
            program.append(jump(equal, UInt32(rule.number), 0, count + 3))
            program.append(statement(load, flagsOffset + UInt32(8 * rule.argument)))
            for (index, value) in rule.values.enumerated() { program.append(jump(equal, value, count - index, 0)) }
            program += [statement(ret, fail(EPERM)), statement(ret, allow)]
        }
        let calls = allowedSystemCalls
        guard calls.count < 250 else { throw HardeningError(step: "seccomp list too long for short jumps", code: E2BIG) }
        for (index, call) in calls.enumerated() {
            // Past the remaining comparisons and the default return, to the shared allow.
            program.append(jump(equal, UInt32(call.number), calls.count - index, 0))
        }
        program += [statement(ret, fail(EPERM)), statement(ret, allow)]
        return program
    }

    /// For the tests (`idlewatch live --check-confinement`): makes calls the filter must refuse and reports each
    /// outcome. Each fails differently without the filter (mount: ENOENT for the missing directory, even as root;
    /// unshare of a user namespace: EINVAL with threads running, or success; a netlink socket: success), so EPERM
    /// is the filter's answer.
    /// The execve comes last: should it go through, the process becomes /bin/true.
    /// `beforeExec` runs just before the execve (to write out what was reported: an execve that goes through ends the
    /// process without its threads).
    public static func checkRefusals(_ report: (String) -> Void, beforeExec: () -> Void = {}) {
        func outcome(_ result: Int32) -> String { result == 0 ? "allowed" : "refused: \(String(cString: strerror(errno)))" }
        report("mount " + outcome(mount("iwcheck", "/nonexistent/idlewatch-check", "tmpfs", 0, nil)))
        report("unshare(CLONE_NEWUSER) " + outcome(idlewatch_unshare(0x1000_0000)))  // would hand out capabilities
        let netlink = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue), 0)  // any user may open one without the filter
        report("socket(AF_NETLINK) " + outcome(netlink >= 0 ? 0 : -1))
        if netlink >= 0 { close(netlink) }
        let arguments: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        beforeExec()
        execv("/bin/true", arguments)
        report("execve(/bin/true) refused: \(String(cString: strerror(errno)))")
    }

    /// What /proc/self/status says of this process's confinement (for the log and the tests): NoNewPrivs,
    /// Seccomp, CapBnd, CapAmb.
    public static func status() -> String {
        guard let file = fopen("/proc/self/status", "r") else { return "" }
        defer { fclose(file) }
        var lines: [String] = []
        var buffer = [CChar](repeating: 0, count: 512)
        while fgets(&buffer, Int32(buffer.count), file) != nil {
            var line = String(cString: buffer)
            if line.hasSuffix("\n") { line.removeLast() }
            if ["NoNewPrivs:", "Seccomp:", "CapBnd:", "CapAmb:"].contains(where: { line.hasPrefix($0) }) {
                lines.append(String(line.map { $0 == "\t" ? " " : $0 }))
            }
        }
        return lines.joined(separator: ", ")
    }
}
