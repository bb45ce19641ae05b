#!/usr/bin/env python3
"""Seed inputs for idlewatch-fuzz from real captures (standard library only).

    fuzz-seeds.py CORPUS_DIR PACKETS_OUT CAPTURES_OUT

PACKETS_OUT gets one seed per readable capture in the framing of Sources/FuzzHarness/FuzzHarness.swift
(`FuzzFraming`): the capture's first packets, each cut at CUT bytes with the rest counted as on the wire (as a
snapshot length would), their time gaps, their link type. CAPTURES_OUT gets the small capture files themselves,
for the capture-file mode. The seeds live outside the repository; the corpus is read in place, never copied in.
"""

import os
import struct
import sys

# Index in FuzzFraming.linkTypes of each LINKTYPE_ value as written in files; anything else is the unsupported slot.
LINK_INDEX = {1: 0, 113: 1, 276: 2, 12: 3, 101: 4, 228: 5, 229: 6, 0: 7, 108: 8}
UNSUPPORTED = 9
MAX_PACKETS = 64
CUT = 384                 # captured bytes kept per packet: every header IdleWatch reads is in front of this
MAX_SEED = 12 * 1024      # bytes per packet seed (libFuzzer runs with -max_len above it)
MAX_CAPTURE_SEED = 16 * 1024
UNITS = [1_000, 1_000_000, 1_000_000_000, 3_600_000_000_000]  # ns per unit of the 14-bit clock delta


def read_pcap(data):
    magic = data[:4]
    formats = {b"\xd4\xc3\xb2\xa1": ("<", 1000), b"\xa1\xb2\xc3\xd4": (">", 1000),
               b"\x4d\x3c\xb2\xa1": ("<", 1), b"\xa1\xb2\x3c\x4d": (">", 1)}
    if magic not in formats or len(data) < 24:
        return None
    endian, scale = formats[magic]
    link = struct.unpack(endian + "I", data[20:24])[0] & 0xFFFF
    packets, offset = [], 24
    while offset + 16 <= len(data) and len(packets) < MAX_PACKETS:
        sec, frac, caplen, wire = struct.unpack(endian + "IIII", data[offset:offset + 16])
        offset += 16
        if caplen > len(data) - offset:
            break
        packets.append((sec * 1_000_000_000 + frac * scale, link, data[offset:offset + caplen], wire))
        offset += caplen
    return packets


def read_pcapng(data):
    if data[:4] != b"\x0a\x0d\x0d\x0a" or len(data) < 12:
        return None
    packets, interfaces, offset, endian = [], [], 0, "<"
    while offset + 12 <= len(data) and len(packets) < MAX_PACKETS:
        if data[offset:offset + 4] == b"\x0a\x0d\x0d\x0a":  # section header: its own byte order, new interfaces
            endian = "<" if data[offset + 8:offset + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            interfaces = []
        kind, length = struct.unpack(endian + "II", data[offset:offset + 8])
        if length < 12 or offset + length > len(data):
            break
        body = data[offset + 8:offset + length - 4]
        if kind == 1 and len(body) >= 8:  # interface description: link type, then options (if_tsresol is 9)
            link = struct.unpack(endian + "H", body[:2])[0]
            resolution, position = 1000, 8
            while position + 4 <= len(body):
                code, size = struct.unpack(endian + "HH", body[position:position + 4])
                if code == 0:
                    break
                if code == 9 and size >= 1:
                    value = body[position + 4]
                    units_per_second = 2 ** (value & 0x7F) if value & 0x80 else 10 ** value
                    resolution = max(1, 1_000_000_000 // units_per_second)
                position += 4 + (size + 3) // 4 * 4
            interfaces.append((link, resolution))
        elif kind == 6 and len(body) >= 20:  # enhanced packet
            interface, high, low, caplen, wire = struct.unpack(endian + "IIIII", body[:20])
            if interface < len(interfaces) and caplen <= len(body) - 20:
                link, resolution = interfaces[interface]
                packets.append(((high << 32 | low) * resolution, link, body[20:20 + caplen], wire))
        elif kind == 3 and len(body) >= 4 and interfaces:  # simple packet: no timestamp, captured up to snaplen
            wire = struct.unpack(endian + "I", body[:4])[0]
            packets.append((packets[-1][0] if packets else 0, interfaces[0][0], body[4:4 + wire], wire))
        offset += length
    return packets


def delta_field(gap_ns):
    """The 16-bit clock delta nearest to `gap_ns` (backwards when negative)."""
    backwards = gap_ns < 0
    gap = -gap_ns if backwards else gap_ns
    for unit, ns in enumerate(UNITS):
        if gap // ns < 0x4000:
            return backwards, unit << 14 | gap // ns
    return backwards, 3 << 14 | 0x3FFF


def frame(packets, options):
    out = bytearray([options])
    previous = None
    for time, link, payload, wire in packets:
        backwards, delta = delta_field(0 if previous is None else time - previous)
        previous = time
        captured = payload[:CUT]
        control = LINK_INDEX.get(link, UNSUPPORTED) | (0x10 if backwards else 0)
        if wire >= len(captured):
            extra = min(wire - len(captured), 0xFFFF)
        else:
            control |= 0x20
            extra = min(len(captured) - wire, 0xFFFF)
        record = struct.pack(">BHHH", control, delta, extra, len(captured)) + captured
        if len(out) + len(record) > MAX_SEED:
            break
        out += record
    return bytes(out)


def main():
    corpus, packets_out, captures_out = sys.argv[1:4]
    os.makedirs(packets_out, exist_ok=True)
    os.makedirs(captures_out, exist_ok=True)
    seeds = captures = 0
    for root, dirs, files in os.walk(corpus):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                data = f.read()
            packets = read_pcap(data) or read_pcapng(data)
            if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d",
                            b"\x0a\x0d\x0d\x0a"):
                seed_name = os.path.relpath(path, corpus).replace(os.sep, "__")
                # Small files whole; larger ones cut to their start (libpcap reports the cut as a short read).
                with open(os.path.join(captures_out, seed_name), "wb") as f:
                    f.write(data[:MAX_CAPTURE_SEED])
                captures += 1
            if not packets:
                continue
            # Vary the options byte across seeds: JSON or text, seed-independence checks, now and then no site.
            options = (seeds & 1) | (0x04 if seeds % 4 >= 2 else 0) | (0x02 if seeds % 7 == 6 else 0)
            seed = frame(packets, options)
            with open(os.path.join(packets_out, os.path.relpath(path, corpus).replace(os.sep, "__")), "wb") as f:
                f.write(seed)
            seeds += 1
    print(f"{seeds} packet seeds in {packets_out}, {captures} capture seeds in {captures_out}")


if __name__ == "__main__":
    main()
