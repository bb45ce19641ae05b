#!/usr/bin/env python3
"""pcap-retime.py: move the timestamps of a pcap file (python standard library only).

Used by scripts/make-captures.sh to turn a few seconds of real traffic into a
capture that spans hours or days: traffic is recorded in segments, a few
tenths of a second apart, and each segment is then moved to the time the
scenario needs.  Only the record headers' timestamps change; every frame is
kept byte for byte (payload clocks, such as an HTTP Date header or an NTP
timestamp, keep the time of the recording).

Usage:
  pcap-retime.py [--start TIME] [--segment MARK=TIME]... [--shift-from N=DURATION]... IN OUT
  pcap-retime.py --info FILE

  --start TIME            move the capture (or, with --segment, the packets
                          before the first MARK) so that its first packet is at TIME
  --segment MARK=TIME     packets at or after MARK (and before the next MARK)
                          are moved so that MARK falls on TIME: a packet
                          0.25 s after MARK ends up 0.25 s after TIME
  --shift-from N=DURATION packet N (numbered from 1, as tcpdump does) and all
                          later ones are shifted by DURATION (may be negative);
                          applied after --start/--segment, cumulatively
  --info FILE             print the packet count, the first and last times and
                          the largest gaps between consecutive packets

TIME is ISO 8601 in UTC (2026-11-02T08:00:00Z, fractions allowed; a time
without a zone is UTC) or @EPOCH (@1762070400.25).  MARK is epoch seconds as
printed by `date +%s.%6N` (the clock tcpdump's timestamps come from).
DURATION is seconds (12.5) or a number with a unit: 90s 15m 2h 4d 1w.

The result must keep packets in time order; a move that would put a packet
before the one preceding it is an error.  IN and OUT may be the same file.
Both microsecond and nanosecond pcap files (either byte order) are handled;
pcapng is not.
"""

import argparse
import datetime as dt
import os
import struct
import sys
import tempfile
from decimal import Decimal, InvalidOperation

MAGICS = {
    # magic as read little-endian -> (byte order, units per second)
    0xA1B2C3D4: ("<", 10**6),
    0xD4C3B2A1: (">", 10**6),
    0xA1B23C4D: ("<", 10**9),
    0x4D3CB2A1: (">", 10**9),
}
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def fail(msg):
    sys.exit(f"pcap-retime: {msg}")


def parse_decimal(text, what):
    try:
        return Decimal(text)
    except InvalidOperation:
        fail(f"not a number for {what}: {text!r}")


def parse_time(text):
    """TIME -> Decimal epoch seconds."""
    if text.startswith("@"):
        return parse_decimal(text[1:], "TIME")
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail(f"not an ISO 8601 time: {text!r}")
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    delta = t - epoch
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / Decimal(10**6)


def parse_duration(text):
    """DURATION -> Decimal seconds."""
    sign = Decimal(1)
    body = text
    if body.startswith("-"):
        sign, body = Decimal(-1), body[1:]
    if body and body[-1] in UNITS:
        return sign * parse_decimal(body[:-1], "DURATION") * UNITS[body[-1]]
    return sign * parse_decimal(body, "DURATION")


def format_time(units, per_second):
    sec, frac = divmod(units, per_second)
    width = 6 if per_second == 10**6 else 9
    stamp = dt.datetime.fromtimestamp(sec, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{frac:0{width}d}Z"


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        fail(f"{path}: too short for a pcap file")
    (magic,) = struct.unpack("<I", data[:4])
    if magic not in MAGICS:
        fail(f"{path}: not a pcap file (magic {magic:#010x}; pcapng is not handled)")
    order, per_second = MAGICS[magic]
    header = data[:24]
    records = []  # [timestamp in units, record header tail (incl/orig len), frame bytes]
    off = 24
    while off < len(data):
        if off + 16 > len(data):
            fail(f"{path}: truncated record header at byte {off}")
        sec, frac, incl, orig = struct.unpack(order + "IIII", data[off:off + 16])
        if off + 16 + incl > len(data):
            fail(f"{path}: truncated frame at byte {off}")
        records.append([sec * per_second + frac, struct.pack(order + "II", incl, orig),
                        data[off + 16:off + 16 + incl]])
        off += 16 + incl
    return header, order, per_second, records


def write_pcap(path, header, order, per_second, records):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".retime-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(header)
            for ts, tail, frame in records:
                sec, frac = divmod(ts, per_second)
                if not 0 <= sec <= 0xFFFFFFFF:
                    fail(f"timestamp out of range for pcap: {ts / per_second} s")
                f.write(struct.pack(order + "II", sec, frac) + tail + frame)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def info(path):
    _, _, per_second, records = read_pcap(path)
    print(f"{path}: {len(records)} packets")
    if not records:
        return
    print(f"  first  #1 {format_time(records[0][0], per_second)}")
    print(f"  last   #{len(records)} {format_time(records[-1][0], per_second)}")
    gaps = sorted(((records[i][0] - records[i - 1][0], i + 1) for i in range(1, len(records))), reverse=True)
    for gap, n in gaps[:5]:
        print(f"  gap {Decimal(gap) / per_second:>14} s before #{n} ({format_time(records[n - 1][0], per_second)})")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--start", metavar="TIME")
    p.add_argument("--segment", metavar="MARK=TIME", action="append", default=[])
    p.add_argument("--shift-from", metavar="N=DURATION", action="append", default=[])
    p.add_argument("--info", metavar="FILE")
    p.add_argument("files", nargs="*", metavar="IN OUT")
    a = p.parse_args()

    if a.info:
        if a.files or a.start or a.segment or a.shift_from:
            fail("--info takes one file and nothing else")
        info(a.info)
        return
    if len(a.files) != 2:
        fail("need IN and OUT (see --help)")
    src, dst = a.files
    header, order, per_second, records = read_pcap(src)
    if not records:
        fail(f"{src}: no packets")

    def units(seconds):
        return int((seconds * per_second).to_integral_value())

    # (mark, target) pairs in units; the packets before the first mark form
    # segment 0, whose reference point is the first packet.
    segments = []
    for spec in a.segment:
        mark, sep, target = spec.partition("=")
        if not sep:
            fail(f"--segment wants MARK=TIME: {spec!r}")
        segments.append((units(parse_decimal(mark, "MARK")), units(parse_time(target))))
    segments.sort()
    first = records[0][0]
    zero_shift = units(parse_time(a.start)) - first if a.start else 0

    shifts = []
    for spec in a.shift_from:
        n, sep, dur = spec.partition("=")
        if not sep or not n.isdigit() or int(n) < 1:
            fail(f"--shift-from wants N=DURATION with N >= 1: {spec!r}")
        if int(n) > len(records):
            fail(f"--shift-from {spec}: the file has only {len(records)} packets")
        shifts.append((int(n), units(parse_duration(dur))))

    for i, rec in enumerate(records):
        ts = rec[0]
        shift = zero_shift
        for mark, target in segments:
            if ts >= mark:
                shift = target - mark
        for n, d in shifts:
            if i + 1 >= n:
                shift += d
        rec[0] = ts + shift

    for i in range(1, len(records)):
        if records[i][0] < records[i - 1][0]:
            fail(f"packet #{i + 1} would come before packet #{i} "
                 f"({format_time(records[i][0], per_second)} < {format_time(records[i - 1][0], per_second)}): "
                 "the segments overlap after the move")
    if records[0][0] < 0:
        fail("the first packet would be before 1970")
    write_pcap(dst, header, order, per_second, records)


if __name__ == "__main__":
    main()
