// The libpcap API as IdleWatch sees it. Only the PacketCapture module imports this.
#ifndef IDLEWATCH_CPCAP_SHIM_H
#define IDLEWATCH_CPCAP_SHIM_H
#include <pcap/pcap.h>
#include <stdio.h>

/* Standard input as a FILE *: Swift 6 refuses to touch the C global `stdin` (shared mutable state). */
static inline FILE *idlewatch_stdin(void) { return stdin; }

/* glibc's fopencookie(3), under a name of its own: stdio.h declares it only with _GNU_SOURCE, which Swift's Glibc
   module is built without. The callbacks' struct has glibc's layout (cookie_io_functions_t: read, write, seek,
   close). Used to hand libpcap a pcap file whose header says a minor version libpcap does not know (2.5). */
#include <stdint.h>
#include <sys/types.h>
typedef struct {
    ssize_t (*read)(void *cookie, char *buffer, size_t size);
    ssize_t (*write)(void *cookie, const char *buffer, size_t size);
    int (*seek)(void *cookie, int64_t *offset, int whence);
    int (*close)(void *cookie);
} idlewatch_cookie_functions;
extern FILE *idlewatch_fopencookie(void *cookie, const char *mode, idlewatch_cookie_functions functions)
    __asm__("fopencookie");

/* glibc's fopencookie (declared only under _GNU_SOURCE, which Swift's Glibc module is built without), under a name
   of our own and with the same layout as cookie_io_functions_t: a FILE whose reads call back into Swift, so a read
   of a pipe or FIFO can wait in poll(2) and notice a signal or a quiet input (PacketCapture/StreamInput.swift). */
typedef struct {
    long (*read)(void *cookie, char *buffer, unsigned long size);
    long (*write)(void *cookie, const char *buffer, unsigned long size);
    int (*seek)(void *cookie, long long *offset, int whence);
    int (*close)(void *cookie);
} idlewatch_cookie_io;
extern FILE *idlewatch_fopencookie_io(void *cookie, const char *mode, idlewatch_cookie_io io) __asm__("fopencookie");
#endif
