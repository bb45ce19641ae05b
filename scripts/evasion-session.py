#!/usr/bin/env python3
"""One TCP session whose client packets are shaped to slip past a sensor, on a real kernel.

Standard library only; needs root.  Two network namespaces joined by a veth pair: the server namespace runs a
banner server (an SSH-like exchange: banner, one line back, close) on a real Linux TCP stack; the client namespace
has no address of its own, so its kernel never answers for it, and a user-space TCP client speaks through a packet
socket, crafting every segment it sends:

  plain        ordinary IPv4 segments (the reference session)
  dstopts      IPv6, each segment behind N destination-options headers (--headers, default 17)
  tinyfrag     IPv4, each segment in fragments: the first holds 8 bytes of the TCP header (ports and sequence
               number, not the flags: RFC 1858's tiny fragment), then a decoy first fragment naming another port that
               lies wholly inside the first (Linux keeps the first and drops the duplicate), then the rest
  tinyfrag6    IPv6, each segment in two fragments, the first with 8 bytes of the TCP header (RFC 8200 asks the
               receiver to drop such a first fragment; Linux does: no SYN-ACK comes)
  overlap      IPv4 SYN as [0,8) then an overlapping [0,16) naming another port, then [8,20): Linux drops the
               datagram on the overlap; no SYN-ACK may come (the session then does not happen)

tcpdump records the server's interface twice: both directions (--out DIR/both.pcap) and only what the server sends
(DIR/server-only.pcap, a one-sided capture).  Prints one JSON line: whether the server's SYN-ACK came, the banner
the client read, what the server read, and the kernel's reassembly counters.  Namespaces are named iwtest<tag>-c/-s
and links iwt<tag>x1 / iwp<tag>x1; they are always deleted.

Usage: evasion-session.py MODE --out DIR --tag PID [--headers N] [--port P]
"""

import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import time

CLIENT_MAC = bytes.fromhex("02aa00000001")
SERVER_MAC = bytes.fromhex("02aa00000002")
CLIENT4, SERVER4 = "198.51.100.7", "10.201.0.2"
CLIENT6, SERVER6 = "2001:db8:51::7", "fd00:201::2"
CLIENT_PORT = 41022
BANNER = "SSH-2.0-OpenSSH_9.2p1 evasion-lab"
CLIENT_LINE = "SSH-2.0-crafted-client"


def run(cmd, check=True):
    return subprocess.run(cmd, shell=True, check=check, capture_output=True, text=True)


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp_segment(src, dst, sport, dport, seq, ack, flags, payload, v6):
    offset = 5 << 4
    header = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, offset, flags, 65535, 0, 0)
    if v6:
        pseudo = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) + struct.pack(
            "!I3xB", len(header) + len(payload), 6)
    else:
        pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!xBH", 6, len(header) + len(payload))
    c = checksum(pseudo + header + payload)
    return header[:16] + struct.pack("!H", c) + header[18:] + payload


def ipv4(src, dst, data, ident, frag_offset=0, more=False, proto=6):
    flags_offset = (0x2000 if more else 0) | (frag_offset // 8)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(data), ident, flags_offset, 64, proto, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + data


def ipv6_with_dstopts(src, dst, segment, count):
    # Each destination-options header: next header, length 0 (8 bytes), one PadN option of 4 zero bytes (6 bytes
    # of padding in all, within the 7 Linux allows in a row).
    chain = b""
    for i in range(count):
        nxt = 6 if i == count - 1 else 60
        chain += struct.pack("!BB", nxt, 0) + b"\x01\x04\0\0\0\0"
    payload = chain + segment
    first = 60 if count else 6
    header = struct.pack("!IHBB16s16s", 6 << 28, len(payload), first, 64, socket.inet_pton(socket.AF_INET6, src),
                         socket.inet_pton(socket.AF_INET6, dst))
    return header + payload


def ipv6_fragment(src, dst, data, ident, frag_offset, more):
    fragment = struct.pack("!BBHI", 6, 0, frag_offset | (1 if more else 0), ident)
    payload = fragment + data
    header = struct.pack("!IHBB16s16s", 6 << 28, len(payload), 44, 64, socket.inet_pton(socket.AF_INET6, src),
                         socket.inet_pton(socket.AF_INET6, dst))
    return header + payload


class Client:
    def __init__(self, mode, iface, port, headers):
        self.mode, self.port, self.headers = mode, port, headers
        self.v6 = mode in ("dstopts", "tinyfrag6")
        self.src, self.dst = (CLIENT6, SERVER6) if self.v6 else (CLIENT4, SERVER4)
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.sock.bind((iface, 0))
        self.ident = 0x4100
        self.seq = 0x1000_0000
        self.ack = 0

    def send(self, flags, payload=b""):
        segment = tcp_segment(self.src, self.dst, CLIENT_PORT, self.port, self.seq, self.ack, flags, payload, self.v6)
        if self.mode == "tinyfrag6":
            self.ident += 1
            frames = [(0x86DD, ipv6_fragment(self.src, self.dst, segment[:8], self.ident, 0, True)),
                      (0x86DD, ipv6_fragment(self.src, self.dst, segment[8:], self.ident, 8, False))]
        elif self.v6:
            frames = [(0x86DD, ipv6_with_dstopts(self.src, self.dst, segment, self.headers))]
        elif self.mode == "tinyfrag":
            self.ident += 1
            decoy = tcp_segment(self.src, self.dst, CLIENT_PORT, 80, self.seq, self.ack, flags, payload, False)
            frames = [(0x0800, ipv4(self.src, self.dst, segment[:8], self.ident, 0, True)),
                      (0x0800, ipv4(self.src, self.dst, decoy[:8], self.ident, 0, True)),
                      (0x0800, ipv4(self.src, self.dst, segment[8:], self.ident, 8, False))]
        elif self.mode == "overlap":
            self.ident += 1
            decoy = tcp_segment(self.src, self.dst, CLIENT_PORT, 80, self.seq, self.ack, flags, payload, False)
            frames = [(0x0800, ipv4(self.src, self.dst, segment[:8], self.ident, 0, True)),
                      (0x0800, ipv4(self.src, self.dst, decoy[:16], self.ident, 0, True)),
                      (0x0800, ipv4(self.src, self.dst, segment[8:], self.ident, 8, False))]
        else:
            self.ident += 1
            frames = [(0x0800, ipv4(self.src, self.dst, segment, self.ident))]
        for ethertype, packet in frames:
            self.sock.send(SERVER_MAC + CLIENT_MAC + struct.pack("!H", ethertype) + packet)
            time.sleep(0.002)
        self.seq = (self.seq + len(payload) + (1 if flags & 0x03 else 0)) & 0xFFFFFFFF

    def receive(self, timeout):
        """The next TCP segment from the server to us: (seq, ack, flags, payload), or None."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            try:
                frame = self.sock.recv(65535)
            except socket.timeout:
                return None
            if frame[6:12] != SERVER_MAC:
                continue
            ethertype = struct.unpack("!H", frame[12:14])[0]
            if ethertype == 0x0800 and not self.v6:
                ihl = (frame[14] & 0x0F) * 4
                if frame[23] != 6:
                    continue
                total = struct.unpack("!H", frame[16:18])[0]
                tcp = frame[14 + ihl:14 + total]
            elif ethertype == 0x86DD and self.v6:
                if frame[20] != 6:
                    continue
                plen = struct.unpack("!H", frame[18:20])[0]
                tcp = frame[54:54 + plen]
            else:
                continue
            sport, dport, seq, ack, off, flags = struct.unpack("!HHIIBB", tcp[:14])
            if sport != self.port or dport != CLIENT_PORT:
                continue
            return seq, ack, flags, tcp[(off >> 4) * 4:]
        return None

    def session(self):
        result = {"synack": False, "banner": "", "closed": False}
        self.send(0x02)  # SYN
        answer = self.receive(3)
        while answer and not answer[2] & 0x12 == 0x12:
            answer = self.receive(3)
        if not answer:
            return result
        result["synack"] = True
        self.ack = (answer[0] + 1) & 0xFFFFFFFF
        self.send(0x10)  # ACK: handshake complete
        banner = b""
        while b"\n" not in banner:
            segment = self.receive(3)
            if not segment:
                return result
            if segment[3]:
                banner += segment[3]
                self.ack = (segment[0] + len(segment[3])) & 0xFFFFFFFF
                self.send(0x10)
        result["banner"] = banner.decode(errors="replace").strip()
        self.send(0x18, (CLIENT_LINE + "\r\n").encode())  # PSH|ACK with the client's line
        while True:
            segment = self.receive(3)
            if not segment:
                return result
            if segment[2] & 0x01:  # the server closes after reading the line
                self.ack = (segment[0] + len(segment[3]) + 1) & 0xFFFFFFFF
                self.send(0x11)  # FIN|ACK
                self.receive(1)
                result["closed"] = True
                return result


def server(port, v6):
    family = socket.AF_INET6 if v6 else socket.AF_INET
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((SERVER6 if v6 else SERVER4, port))
    srv.listen(4)
    print("listening", flush=True)
    srv.settimeout(15)
    try:
        conn, _ = srv.accept()
    except socket.timeout:
        print("no connection", flush=True)
        return
    conn.settimeout(5)
    conn.sendall((BANNER + "\r\n").encode())
    line = b""
    try:
        while b"\n" not in line:
            chunk = conn.recv(1024)
            if not chunk:
                break
            line += chunk
    except socket.timeout:
        pass
    print("read " + line.decode(errors="replace").strip(), flush=True)
    conn.close()


def reassembly_counters(namespace):
    out = run(f"ip netns exec {namespace} nstat -az", check=False).stdout
    wanted = ("IpReasmReqds", "IpReasmOKs", "IpReasmFails", "IpExtReasmOverlaps", "Ip6ReasmOKs")
    counters = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] in wanted:
            counters[fields[0]] = int(fields[1])
    return counters


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["plain", "dstopts", "tinyfrag", "tinyfrag6", "overlap", "client", "server"])
    parser.add_argument("--out", default=".")
    parser.add_argument("--tag", default=str(os.getpid() % 10000))
    parser.add_argument("--headers", type=int, default=17)
    parser.add_argument("--port", type=int, default=22)
    parser.add_argument("--iface", default="")
    parser.add_argument("--as", dest="as_mode", default="plain")
    a = parser.parse_args()
    if a.mode == "client":
        print(json.dumps(Client(a.as_mode, a.iface, a.port, a.headers).session()), flush=True)
        return
    if a.mode == "server":
        server(a.port, a.as_mode in ("dstopts", "tinyfrag6"))
        return

    cns, sns = f"iwtest{a.tag}-c", f"iwtest{a.tag}-s"
    clink, slink = f"iwt{a.tag}x1", f"iwp{a.tag}x1"
    os.makedirs(a.out, exist_ok=True)
    me = os.path.abspath(__file__)
    procs = []
    try:
        for cmd in [
            f"ip netns add {cns}", f"ip netns add {sns}",
            f"ip link add {clink} netns {cns} address {CLIENT_MAC.hex(':')} type veth peer name {slink} "
            f"netns {sns} address {SERVER_MAC.hex(':')}",
            f"ip -n {cns} link set {clink} up", f"ip -n {sns} link set {slink} up", f"ip -n {sns} link set lo up",
            # The client namespace has no address: its kernel drops the server's answers instead of resetting them.
            f"ip netns exec {cns} sysctl -qw net.ipv6.conf.{clink}.disable_ipv6=1",
            f"ip -n {sns} addr add {SERVER4}/24 dev {slink}",
            f"ip -n {sns} addr add {SERVER6}/64 dev {slink} nodad",
            f"ip -n {sns} route add {CLIENT4}/32 dev {slink}",
            f"ip -n {sns} route add {CLIENT6}/128 dev {slink}",
            f"ip -n {sns} neigh add {CLIENT4} lladdr {CLIENT_MAC.hex(':')} dev {slink} nud permanent",
            f"ip -n {sns} neigh add {CLIENT6} lladdr {CLIENT_MAC.hex(':')} dev {slink} nud permanent",
            # No offloads: the recording shows each segment as the wire carries it.
            f"ip netns exec {sns} ethtool -K {slink} tso off gso off gro off tx off rx off",
            f"ip netns exec {cns} ethtool -K {clink} tso off gso off gro off tx off rx off",
        ]:
            run(cmd)
        both, one = os.path.join(a.out, "both.pcap"), os.path.join(a.out, "server-only.pcap")
        for path, extra in ((both, ""), (one, "-Q out")):
            p = subprocess.Popen(f"exec ip netns exec {sns} tcpdump -Z root --immediate-mode -U -n -s 0 -i {slink} {extra} -w {path} "
                                 f"'ip or ip6'", shell=True, stderr=subprocess.PIPE, text=True)
            procs.append(p)
            p.stderr.readline()  # "listening on ..."
        srv = subprocess.Popen(["ip", "netns", "exec", sns, sys.executable, me, "server", "--as", a.mode, "--port",
                                str(a.port)], stdout=subprocess.PIPE, text=True)
        procs.append(srv)
        srv.stdout.readline()
        client = run(f"ip netns exec {cns} {sys.executable} {me} client --as {a.mode} --iface {clink} "
                     f"--port {a.port} --headers {a.headers}")
        result = json.loads(client.stdout.strip().splitlines()[-1])
        if not result["synack"]:
            srv.kill()
        out, _ = srv.communicate(timeout=20)
        result["server_read"] = next((line[5:] for line in out.splitlines() if line.startswith("read ")), "")
        result["kernel"] = reassembly_counters(sns)
        time.sleep(0.3)
        for p in procs[:2]:
            p.terminate()
            result.setdefault("tcpdump", []).append(p.communicate(timeout=10)[1].strip().splitlines())
        print(json.dumps(result), flush=True)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        run(f"ip netns del {cns}", check=False)
        run(f"ip netns del {sns}", check=False)


if __name__ == "__main__":
    main()
