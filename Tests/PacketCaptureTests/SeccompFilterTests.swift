// The seccomp program `idlewatch live` installs, run through a small interpreter of the classic BPF it uses, for
// every verdict it must give: the allowed calls through, the rest EPERM, threads but not processes, the argument
// checks, another architecture and the x32 ABI killed. (The kernel's own verdicts are ConfinementTests'.)

import CPcap
import Glibc
@testable import PacketCapture
import Testing

/// Runs a classic BPF program over a seccomp_data: loads of 32-bit words at absolute offsets, AND, JEQ/JGE with
/// constants, RET. Anything else fails the test.
func runFilter(_ program: [sock_filter], arch: UInt32, number: Int32, arguments: [UInt64] = []) -> UInt32? {
    var data = [UInt8](repeating: 0, count: MemoryLayout<seccomp_data>.size)
    func put(_ value: UInt32, at offset: Int) {
        for index in 0..<4 { data[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(index))) }
    }
    put(UInt32(bitPattern: number), at: MemoryLayout<seccomp_data>.offset(of: \seccomp_data.nr)!)
    put(arch, at: MemoryLayout<seccomp_data>.offset(of: \seccomp_data.arch)!)
    let argumentsOffset = MemoryLayout<seccomp_data>.offset(of: \seccomp_data.args)!
    for (index, argument) in arguments.enumerated() {
        put(UInt32(truncatingIfNeeded: argument), at: argumentsOffset + 8 * index)
        put(UInt32(truncatingIfNeeded: argument >> 32), at: argumentsOffset + 8 * index + 4)
    }
    var accumulator: UInt32 = 0
    var pc = 0
    while pc < program.count {
        let instruction = program[pc]
        let code = Int32(instruction.code)
        switch code {
        case BPF_LD | BPF_W | BPF_ABS:
            let offset = Int(instruction.k)
            guard offset + 4 <= data.count else { return nil }
            accumulator = (0..<4).reduce(0) { $0 | UInt32(data[offset + $1]) << (8 * UInt32($1)) }
        case BPF_ALU | BPF_AND | BPF_K:
            accumulator &= instruction.k
        case BPF_JMP | BPF_JEQ | BPF_K:
            pc += Int(accumulator == instruction.k ? instruction.jt : instruction.jf)
        case BPF_JMP | BPF_JGE | BPF_K:
            pc += Int(accumulator >= instruction.k ? instruction.jt : instruction.jf)
        case BPF_RET | BPF_K:
            return instruction.k
        default:
            return nil
        }
        pc += 1
    }
    return nil  // fell off the end: the kernel refuses such a program
}

@Suite("Seccomp filter program")
struct SeccompFilterTests {
    let program = try! ProcessHardening.filterProgram()
    let arch = idlewatch_audit_arch()
    let allow = UInt32(SECCOMP_RET_ALLOW), kill = UInt32(SECCOMP_RET_KILL_PROCESS)
    func errno(_ code: Int32) -> UInt32 { UInt32(SECCOMP_RET_ERRNO) | UInt32(code) }

    @Test("every listed call is allowed; execve, ptrace, mount, module loading, setuid, unshare are refused with EPERM")
    func allowList() {
        #expect(program.count < 4096, "the kernel's limit on a filter's length")
        for call in ProcessHardening.allowedSystemCalls {
            #expect(runFilter(program, arch: arch, number: call.number) == allow, "\(call.name)")
        }
        for (number, name) in [(SYS_execve, "execve"), (SYS_execveat, "execveat"), (SYS_ptrace, "ptrace"),
                               (SYS_mount, "mount"), (SYS_init_module, "init_module"),
                               (SYS_finit_module, "finit_module"), (SYS_setuid, "setuid"), (SYS_setresuid, "setresuid"),
                               (SYS_unshare, "unshare"), (SYS_bpf, "bpf"), (SYS_kill, "kill"), (SYS_chown, "chown"),
                               (SYS_fchown, "fchown"), (SYS_chmod, "chmod"), (SYS_rename, "rename"), (SYS_bind, "bind"),
                               (SYS_process_vm_writev, "process_vm_writev"), (SYS_seccomp, "seccomp")] {
            #expect(runFilter(program, arch: arch, number: number) == errno(EPERM), "\(name)")
        }
    }

    @Test("clone for a thread only; clone3 answers ENOSYS (glibc falls back to clone)")
    func threadsOnly() {
        let thread: UInt64 = 0x0001_0000 | 0x0000_0100 | 0x0000_0800 | 0x0000_0200  // THREAD|VM|SIGHAND|FILES
        #expect(runFilter(program, arch: arch, number: SYS_clone, arguments: [thread]) == allow)
        #expect(runFilter(program, arch: arch, number: SYS_clone, arguments: [0x11]) == errno(EPERM), "fork-like clone")
        #expect(runFilter(program, arch: arch, number: SYS_clone3) == errno(ENOSYS))
        #expect(runFilter(program, arch: arch, number: SYS_fork) == errno(EPERM))
    }

    @Test("prctl, ioctl and socket only with the listed values")
    func argumentChecks() {
        #expect(runFilter(program, arch: arch, number: SYS_prctl, arguments: [UInt64(PR_SET_NAME)]) == allow)
        #expect(runFilter(program, arch: arch, number: SYS_prctl, arguments: [UInt64(PR_GET_NAME)]) == allow)
        #expect(runFilter(program, arch: arch, number: SYS_prctl, arguments: [UInt64(PR_SET_DUMPABLE), 1]) == errno(EPERM))
        #expect(runFilter(program, arch: arch, number: SYS_prctl, arguments: [UInt64(PR_SET_SECCOMP)]) == errno(EPERM))
        #expect(runFilter(program, arch: arch, number: SYS_ioctl, arguments: [3, 0x5411]) == allow, "TIOCOUTQ")
        #expect(runFilter(program, arch: arch, number: SYS_ioctl, arguments: [0, 0x5412]) == errno(EPERM), "TIOCSTI")
        for family in [AF_UNIX, AF_INET, AF_INET6] {
            #expect(runFilter(program, arch: arch, number: SYS_socket, arguments: [UInt64(family), 1]) == allow)
        }
        for family in [AF_NETLINK, AF_PACKET, AF_BLUETOOTH] {
            #expect(runFilter(program, arch: arch, number: SYS_socket, arguments: [UInt64(family), 3]) == errno(EPERM))
        }
    }

    @Test("another architecture's calls, and x32 calls, kill the process")
    func foreignArchitecture() {
        let i386: UInt32 = 0x4000_0003  // AUDIT_ARCH_I386: EM_386 | __AUDIT_ARCH_LE
        #expect(runFilter(program, arch: i386, number: SYS_read) == kill)
        #expect(runFilter(program, arch: 0, number: SYS_read) == kill)
        #if arch(x86_64)
        #expect(runFilter(program, arch: arch, number: 0x4000_0000 | SYS_read) == kill, "x32 read")
        #endif
    }
}
