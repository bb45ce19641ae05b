// The kernel interfaces `idlewatch live` hardens itself with once the capture is open: no-new-privileges, the
// capability bounding set, a seccomp filter. Swift cannot call prctl(2) or syscall(2) (C variadic functions), and
// the seccomp and BPF layouts live in kernel headers, so they come through here. Only PacketCapture imports this.
#ifndef IDLEWATCH_HARDENING_H
#define IDLEWATCH_HARDENING_H
#include <errno.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

/* prctl(2) with its two common arguments (the others zero, as the kernel requires for these options). */
static inline int idlewatch_prctl(int option, unsigned long argument2, unsigned long argument3) {
    return prctl(option, argument2, argument3, 0UL, 0UL);
}

/* seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC): the filter applies to every thread of the
   process, those already running included. Returns 0; -1 with errno; or the id of a thread that could not be
   synchronized. */
static inline long idlewatch_seccomp_install(const struct sock_filter *filter, unsigned short count) {
    struct sock_fprog program = { .len = count, .filter = (struct sock_filter *)filter };
    return syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &program);
}

/* unshare(2) through syscall(2) (glibc declares it only with _GNU_SOURCE); for the confinement self-check. */
static inline int idlewatch_unshare(int flags) { return (int)syscall(__NR_unshare, flags); }

/* The AUDIT_ARCH_* value of the architecture this is built for (the macros are expressions Swift cannot import);
   0 where no filter is written for it. */
static inline unsigned int idlewatch_audit_arch(void) {
#if defined(__x86_64__)
    return AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
    return AUDIT_ARCH_AARCH64;
#else
    return 0;
#endif
}
#endif
