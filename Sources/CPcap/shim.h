// The libpcap API as IdleWatch sees it. Only the PacketCapture module imports this.
#ifndef IDLEWATCH_CPCAP_SHIM_H
#define IDLEWATCH_CPCAP_SHIM_H
#include <pcap/pcap.h>
#include <stdio.h>
#endif
