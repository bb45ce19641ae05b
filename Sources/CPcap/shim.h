// The libpcap API as IdleWatch sees it. Only the PacketCapture module imports this.
#ifndef IDLEWATCH_CPCAP_SHIM_H
#define IDLEWATCH_CPCAP_SHIM_H
#include <pcap/pcap.h>
#include <stdio.h>

/* Standard input as a FILE *: Swift 6 refuses to touch the C global `stdin` (shared mutable state). */
static inline FILE *idlewatch_stdin(void) { return stdin; }
#endif
