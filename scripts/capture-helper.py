#!/usr/bin/env python3
"""Small traffic generators and servers for scripts/make-captures.sh.

Standard library only.  Every client is bounded in count and time and every
server is killed by the calling script; all of them are meant to run inside
the network namespaces that make-captures.sh creates, talking only to the
addresses it assigns there.

Subcommands (see --help of each):
  udp-echo       UDP server that echoes every datagram back
  udp-send       send N datagrams from one socket, wait for replies
  banner-server  TCP server: banner line, read one line, close (SSH-like)
  guess-client   N short sessions against banner-server (password guessing)
  http-get       HTTP GET that reads until the server closes, then closes
  tcp-probe      one connect() attempt; reports open / refused / timeout
  connect-scan   connect() to a list of ports, abort open ones with RST
  sweep          parallel connect() to one port of many addresses (address scan)
  dns-server     UDP DNS server answering A queries from a fixed table
  dns-query      one DNS query (A), waits for the answer
  ntp-server     UDP NTP server (mode 4 answers to mode 3 requests)
  ntp-query      one NTP client request (SNTP, mode 3), waits for the answer
  dhcp-discover  one DHCPDISCOVER from 0.0.0.0, sent on a packet socket
  vlan-bpf       load + pin a tc eBPF program that pushes or pops VLAN tags
"""

import argparse
import ctypes
import errno
import ipaddress
import os
import random
import select
import socket
import struct
import sys
import time


def log(msg):
    print(msg, flush=True)


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


# --------------------------------------------------------------------------
# UDP
# --------------------------------------------------------------------------

def cmd_udp_echo(a):
    s = socket.socket(family_of(a.bind), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.bind, a.port))
    log(f"udp-echo listening on {a.bind}:{a.port}")
    while True:
        data, peer = s.recvfrom(65535)
        s.sendto(data, peer)


def cmd_udp_send(a):
    s = socket.socket(family_of(a.to), socket.SOCK_DGRAM)
    s.connect((a.to, a.port))
    s.settimeout(a.timeout)
    replies = 0
    for i in range(a.count):
        payload = f"{a.message} {i + 1}\n".encode()
        s.send(payload)
        try:
            data = s.recv(65535)
            replies += 1
            log(f"udp reply {i + 1}: {data!r}")
        except socket.timeout:
            log(f"udp request {i + 1}: no reply")
        except ConnectionRefusedError:
            log(f"udp request {i + 1}: ICMP port unreachable (ECONNREFUSED)")
        if i + 1 < a.count:
            time.sleep(a.interval)
    s.close()
    log(f"udp-send: {a.count} sent, {replies} replies")


# --------------------------------------------------------------------------
# TCP
# --------------------------------------------------------------------------

def cmd_banner_server(a):
    srv = socket.socket(family_of(a.bind), socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((a.bind, a.port))
    srv.listen(16)
    log(f"banner-server listening on {a.bind}:{a.port}")
    banner = (a.banner + "\r\n").encode()
    while True:
        conn, peer = srv.accept()
        try:
            conn.settimeout(5)
            # A short pause before the banner makes the capture deterministic:
            # a scanner that aborts right after the handshake (RST) is always
            # gone before the banner would be sent.
            time.sleep(a.banner_delay)
            conn.sendall(banner)
            buf = b""
            while b"\n" not in buf:
                chunk = conn.recv(1024)
                if not chunk:
                    break
                buf += chunk
            log(f"banner-server: {peer[0]}:{peer[1]} sent {buf!r}")
        except OSError as e:
            log(f"banner-server: {peer[0]}:{peer[1]} {e.__class__.__name__}: {e}")
        finally:
            conn.close()


def cmd_guess_client(a):
    for i in range(a.count):
        s = socket.create_connection((a.to, a.port), timeout=3)
        f = s.makefile("rb")
        banner = f.readline()
        line = a.line if a.line is not None else f"{a.user}:{a.password_prefix}{i + 1}"
        s.sendall(f"{line}\r\n".encode())
        rest = f.read()  # until the server closes
        f.close()
        s.close()
        log(f"guess {i + 1}: banner={banner!r} after={rest!r}")
        if i + 1 < a.count:
            time.sleep(a.interval)


def cmd_http_get(a):
    # Unlike curl, which closes as soon as Content-Length bytes arrived (and so
    # races the HTTP/1.0 server's own close), this client always waits for the
    # server's FIN before closing: the capture has the same shape every run.
    host = f"[{a.to}]" if ":" in a.to else a.to
    request = (f"GET {a.path} HTTP/1.1\r\nHost: {host}:{a.port}\r\n"
               f"User-Agent: idlewatch-capture/1.0\r\nAccept: */*\r\n"
               f"Connection: close\r\n\r\n").encode()
    s = socket.create_connection((a.to, a.port), timeout=5)
    s.sendall(request)
    response = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        response += chunk
    s.close()
    status = response.split(b"\r\n", 1)[0].decode(errors="replace")
    log(f"http-get {host}:{a.port}{a.path}: {status}, {len(response)} bytes")
    if not status.startswith("HTTP/1.") or " 200 " not in status:
        sys.exit(1)


def connect_once(addr, port, timeout, abort):
    """One connect() attempt.  An accepted connection is closed at once, with
    RST when abort is true (SO_LINGER on, linger time 0), like a connect scan."""
    s = socket.socket(family_of(addr), socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((addr, port))
        if abort:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return "open"
    except ConnectionRefusedError:
        return "refused"
    except (socket.timeout, TimeoutError):
        return "timeout"
    except OSError as e:
        return f"error {e}"
    finally:
        s.close()


def cmd_tcp_probe(a):
    r = connect_once(a.to, a.port, a.timeout, abort=True)
    log(f"tcp-probe {a.to}:{a.port}: {r}")


def parse_ports(text):
    ports = []
    for part in text.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            ports.extend(range(int(lo), int(hi) + 1))
        elif part:
            ports.append(int(part))
    return ports


def cmd_connect_scan(a):
    results = {}
    for port in parse_ports(a.ports):
        results[port] = connect_once(a.to, port, a.timeout, abort=True)
        if a.interval:
            time.sleep(a.interval)
    opened = [p for p, r in results.items() if r == "open"]
    log(f"connect-scan {a.to}: {len(results)} ports, open={opened}")
    for p, r in results.items():
        log(f"  {p}: {r}")


def parse_addresses(text):
    """10.0.0.5,10.0.0.20-10.0.0.59 -> list of addresses, in order."""
    out = []
    for part in text.split(","):
        if "-" in part:
            lo, hi = (ipaddress.ip_address(x) for x in part.split("-"))
            out.extend(str(ipaddress.ip_address(i)) for i in range(int(lo), int(hi) + 1))
        elif part:
            out.append(part)
    return out


def cmd_sweep(a):
    """Address scan: one non-blocking connect() per address, all started at
    once (like a scanner's SYN burst), then wait; a connection that completes
    is aborted with RST; the ones still pending at the deadline are dropped
    silently (closing a SYN_SENT socket sends nothing), before the kernel's
    first SYN retransmission (1 s)."""
    targets = parse_addresses(a.to)
    pending = {}
    results = {}
    for addr in targets:
        s = socket.socket(family_of(addr), socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        rc = s.connect_ex((addr, a.port))
        if rc not in (0, errno.EINPROGRESS):
            results[addr] = f"error {os.strerror(rc)}"
            s.close()
            continue
        pending[s] = addr
        if a.interval:
            time.sleep(a.interval)
    deadline = time.monotonic() + a.wait
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        _, writable, _ = select.select([], list(pending), [], left)
        for s in writable:
            addr = pending.pop(s)
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            results[addr] = {0: "open", errno.ECONNREFUSED: "refused",
                             errno.EHOSTUNREACH: "host unreachable"}.get(err, f"error {os.strerror(err)}")
            s.close()  # SO_LINGER 0: an open connection is aborted with RST
    for s, addr in pending.items():
        results[addr] = "timeout"
        s.close()
    summary = {}
    for r in results.values():
        summary[r] = summary.get(r, 0) + 1
    log(f"sweep port {a.port}: {len(targets)} addresses: {summary}")
    for addr in targets:
        log(f"  {addr}: {results.get(addr)}")


# --------------------------------------------------------------------------
# DNS, NTP, DHCP (just enough of each protocol for real, well-formed packets)
# --------------------------------------------------------------------------

def dns_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def dns_read_name(data, off):
    labels = []
    while True:
        n = data[off]
        if n == 0:
            return ".".join(labels), off + 1
        if n & 0xC0:
            raise ValueError("compressed name in a question")
        labels.append(data[off + 1:off + 1 + n].decode(errors="replace"))
        off += 1 + n


def cmd_dns_server(a):
    table = {}
    for rec in a.record:
        name, ip = rec.split("=")
        table[name.rstrip(".").lower()] = socket.inet_aton(ip)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.bind, a.port))
    log(f"dns-server listening on {a.bind}:{a.port}, {len(table)} records")
    while True:
        data, peer = s.recvfrom(4096)
        try:
            qid, flags, qd = struct.unpack("!HHH", data[:6])
            name, end = dns_read_name(data, 12)
            qtype, qclass = struct.unpack("!HH", data[end:end + 4])
        except (ValueError, IndexError, struct.error):
            continue
        question = data[12:end + 4]
        answer = table.get(name.lower()) if qtype == 1 and qclass == 1 else None
        # QR, opcode 0, AA, RD copied, RA; rcode 0 or 3 (NXDOMAIN)
        rflags = 0x8400 | (flags & 0x0100) | 0x0080 | (0 if answer or name.lower() in table else 3)
        reply = struct.pack("!HHHHHH", qid, rflags, 1, 1 if answer else 0, 0, 0) + question
        if answer:
            reply += struct.pack("!HHHIH", 0xC00C, 1, 1, a.ttl, 4) + answer
        s.sendto(reply, peer)
        log(f"dns-server: {peer[0]}:{peer[1]} {name} type {qtype}: "
            f"{socket.inet_ntoa(answer) if answer else 'no answer'}")


def cmd_dns_query(a):
    qid = random.randrange(1, 0x10000)
    query = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + dns_name(a.name) + struct.pack("!HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((a.to, a.port))
    s.settimeout(a.timeout)
    s.send(query)
    data = s.recv(4096)
    rid, flags, qd, an = struct.unpack("!HHHH", data[:8])
    addrs = []
    if rid == qid and an:
        off = 12 + len(dns_name(a.name)) + 4
        for _ in range(an):
            rtype, rclass, ttl, rdlen = struct.unpack("!HHIH", data[off + 2:off + 12])
            if rtype == 1 and rdlen == 4:
                addrs.append(socket.inet_ntoa(data[off + 12:off + 16]))
            off += 12 + rdlen
    log(f"dns-query {a.name} @{a.to}: rcode {flags & 0xF}, {addrs}")
    if not addrs:
        sys.exit(1)


NTP_EPOCH = 2208988800


def ntp_stamp(t):
    sec = int(t)
    return struct.pack("!II", sec + NTP_EPOCH, int((t - sec) * 2**32) & 0xFFFFFFFF)


def cmd_ntp_server(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.bind, a.port))
    refid = socket.inet_aton(a.refid)
    log(f"ntp-server listening on {a.bind}:{a.port}")
    while True:
        data, peer = s.recvfrom(4096)
        now = time.time()
        if len(data) < 48 or data[0] & 0x07 != 3:
            continue
        version = (data[0] >> 3) & 0x07
        reply = struct.pack("!BBbb", (version << 3) | 4, a.stratum, data[2], -23)
        reply += struct.pack("!II", 0x00000100, 0x00000200)  # root delay / dispersion
        reply += refid + ntp_stamp(now - 17) + data[40:48] + ntp_stamp(now) + ntp_stamp(time.time())
        s.sendto(reply, peer)
        log(f"ntp-server: answered {peer[0]}:{peer[1]}")


def cmd_ntp_query(a):
    request = struct.pack("!BBbb", (4 << 3) | 3, 0, 6, -20) + b"\0" * 36 + ntp_stamp(time.time())
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((a.to, a.port))
    s.settimeout(a.timeout)
    s.send(request)
    data = s.recv(4096)
    ok = len(data) >= 48 and data[0] & 0x07 == 4 and data[24:32] == request[40:48]
    log(f"ntp-query @{a.to}: {len(data)} bytes, mode {data[0] & 7}, stratum {data[1]}, "
        f"{'origin matches' if ok else 'BAD ANSWER'}")
    if not ok:
        sys.exit(1)


def ip_checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def cmd_dhcp_discover(a):
    """One DHCPDISCOVER as a DHCP client in the INIT state sends it: from
    0.0.0.0:68 to 255.255.255.255:67, Ethernet broadcast, built by hand and
    sent on an AF_PACKET socket (a UDP socket would use the interface's
    address as the source)."""
    with open(f"/sys/class/net/{a.interface}/address") as f:
        mac = bytes.fromhex(f.read().strip().replace(":", ""))
    xid = random.randrange(0, 2**32)
    options = bytes([53, 1, 1])  # DHCP message type: DISCOVER
    options += bytes([61, 7, 1]) + mac  # client identifier: hardware type 1 + MAC
    if a.requested:
        options += bytes([50, 4]) + socket.inet_aton(a.requested)
    if a.hostname:
        options += bytes([12, len(a.hostname)]) + a.hostname.encode()
    options += bytes([55, 6, 1, 3, 6, 15, 28, 42])  # parameter request list
    options += b"\xff"
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0,
                        b"\0" * 4, b"\0" * 4, b"\0" * 4, b"\0" * 4, mac + b"\0" * 10, b"", b"")
    bootp += b"\x63\x82\x53\x63" + options
    bootp += b"\0" * max(0, 300 - len(bootp))  # BOOTP minimum, as ISC dhclient pads
    src, dst = b"\0" * 4, b"\xff" * 4
    udp_len = 8 + len(bootp)
    pseudo = src + dst + struct.pack("!BBH", 0, 17, udp_len)
    udp = struct.pack("!HHHH", 68, 67, udp_len, 0) + bootp
    csum = ip_checksum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", csum) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0x10, 20 + udp_len, 0, 0, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
    frame = b"\xff" * 6 + mac + b"\x08\x00" + ip + udp
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.interface, 0))
    s.send(frame)
    s.close()
    log(f"dhcp-discover on {a.interface}: xid {xid:#010x}, {len(frame)}-byte frame")


# --------------------------------------------------------------------------
# VLAN tagging with tc + eBPF
# --------------------------------------------------------------------------
#
# The kernel this project develops on has no 8021q module (no VLAN
# sub-interfaces) and no VLAN-filtering bridge, but it has cls_bpf.  A tiny
# eBPF program on the egress hook of a veth pushes the tag(s) with the
# bpf_skb_vlan_push helper, and one on the ingress hook pops them, so the
# host stacks talk untagged while every frame on the wire (what tcpdump sees
# on that veth) carries real 802.1Q / 802.1ad headers.  tcpdump's AF_PACKET
# tap runs before the tc ingress hook, so received frames are seen tagged.

SYS_BPF = {"x86_64": 321, "aarch64": 280, "riscv64": 280}
BPF_PROG_LOAD = 5
BPF_OBJ_PIN = 6
BPF_PROG_TYPE_SCHED_CLS = 3
HELPER_SKB_VLAN_PUSH = 18
HELPER_SKB_VLAN_POP = 19
TPIDS = {"8021q": 0x8100, "8021ad": 0x88A8}


def insn(code, dst=0, src=0, off=0, imm=0):
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def vlan_program(ops):
    mov_reg, mov_imm, call, exit_ = 0xBF, 0xB7, 0x85, 0x95
    code = insn(mov_reg, 6, 1)  # r6 = skb
    for op in ops:
        code += insn(mov_reg, 1, 6)  # r1 = skb
        if op[0] == "push":
            _, tpid, vid = op
            # vlan_proto is passed in network byte order
            code += insn(mov_imm, 2, imm=socket.htons(tpid))
            code += insn(mov_imm, 3, imm=vid)
            code += insn(call, imm=HELPER_SKB_VLAN_PUSH)
        else:
            code += insn(call, imm=HELPER_SKB_VLAN_POP)
    code += insn(mov_imm, 0, imm=0)  # TC_ACT_OK
    code += insn(exit_)
    return code


def cmd_vlan_bpf(a):
    ops = []
    for spec in a.ops:
        if spec == "pop":
            ops.append(("pop",))
        else:
            proto, vid = spec.split(":")
            ops.append(("push", TPIDS[proto], int(vid)))
    machine = os.uname().machine
    if machine not in SYS_BPF:
        sys.exit(f"vlan-bpf: unknown bpf syscall number for {machine}")
    libc = ctypes.CDLL(None, use_errno=True)
    code = vlan_program(ops)
    insns = ctypes.create_string_buffer(code, len(code))
    license_ = ctypes.create_string_buffer(b"GPL")
    logbuf = ctypes.create_string_buffer(65536)
    attr = struct.pack(
        "<IIQQIIQII16s",
        BPF_PROG_TYPE_SCHED_CLS, len(code) // 8,
        ctypes.addressof(insns), ctypes.addressof(license_),
        1, len(logbuf), ctypes.addressof(logbuf),
        0, 0, b"iwcap_vlan")
    abuf = ctypes.create_string_buffer(attr, 128)
    fd = libc.syscall(SYS_BPF[machine], BPF_PROG_LOAD, abuf, 128)
    if fd < 0:
        err = ctypes.get_errno()
        sys.exit(f"vlan-bpf: BPF_PROG_LOAD failed: {os.strerror(err)}\n"
                 f"{logbuf.value.decode(errors='replace')}")
    path = ctypes.create_string_buffer(a.pin.encode())
    abuf = ctypes.create_string_buffer(
        struct.pack("<QII", ctypes.addressof(path), fd, 0), 128)
    if libc.syscall(SYS_BPF[machine], BPF_OBJ_PIN, abuf, 128) < 0:
        err = ctypes.get_errno()
        sys.exit(f"vlan-bpf: BPF_OBJ_PIN {a.pin} failed: {os.strerror(err)}")
    os.close(fd)


# --------------------------------------------------------------------------

def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("udp-echo")
    s.add_argument("--bind", default="::")
    s.add_argument("--port", type=int, required=True)
    s.set_defaults(fn=cmd_udp_echo)

    s = sub.add_parser("udp-send")
    s.add_argument("--to", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--count", type=int, default=3)
    s.add_argument("--interval", type=float, default=0.2)
    s.add_argument("--timeout", type=float, default=1.0)
    s.add_argument("--message", default="idlewatch-probe")
    s.set_defaults(fn=cmd_udp_send)

    s = sub.add_parser("banner-server")
    s.add_argument("--bind", default="::")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--banner", default="SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3")
    s.add_argument("--banner-delay", type=float, default=0.05)
    s.set_defaults(fn=cmd_banner_server)

    s = sub.add_parser("guess-client")
    s.add_argument("--to", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--count", type=int, default=8)
    s.add_argument("--interval", type=float, default=0.15)
    s.add_argument("--user", default="root")
    s.add_argument("--password-prefix", default="guess")
    s.add_argument("--line", help="send this line in every session instead of USER:PREFIXn")
    s.set_defaults(fn=cmd_guess_client)

    s = sub.add_parser("http-get")
    s.add_argument("--to", required=True)
    s.add_argument("--port", type=int, default=80)
    s.add_argument("--path", default="/")
    s.set_defaults(fn=cmd_http_get)

    s = sub.add_parser("tcp-probe")
    s.add_argument("--to", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--timeout", type=float, default=1.0)
    s.set_defaults(fn=cmd_tcp_probe)

    s = sub.add_parser("connect-scan")
    s.add_argument("--to", required=True)
    s.add_argument("--ports", required=True, help="e.g. 21-23,80,443")
    s.add_argument("--timeout", type=float, default=0.5)
    s.add_argument("--interval", type=float, default=0.0)
    s.set_defaults(fn=cmd_connect_scan)

    s = sub.add_parser("sweep")
    s.add_argument("--to", required=True, help="addresses: a,b,first-last")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--wait", type=float, default=0.8)
    s.add_argument("--interval", type=float, default=0.0)
    s.set_defaults(fn=cmd_sweep)

    s = sub.add_parser("dns-server")
    s.add_argument("--bind", default="0.0.0.0")
    s.add_argument("--port", type=int, default=53)
    s.add_argument("--record", action="append", default=[], help="NAME=IPV4")
    s.add_argument("--ttl", type=int, default=300)
    s.set_defaults(fn=cmd_dns_server)

    s = sub.add_parser("dns-query")
    s.add_argument("--to", required=True)
    s.add_argument("--port", type=int, default=53)
    s.add_argument("--name", required=True)
    s.add_argument("--timeout", type=float, default=1.0)
    s.set_defaults(fn=cmd_dns_query)

    s = sub.add_parser("ntp-server")
    s.add_argument("--bind", default="0.0.0.0")
    s.add_argument("--port", type=int, default=123)
    s.add_argument("--stratum", type=int, default=3)
    s.add_argument("--refid", default="127.127.1.0", help="reference id, as an IPv4 address")
    s.set_defaults(fn=cmd_ntp_server)

    s = sub.add_parser("ntp-query")
    s.add_argument("--to", required=True)
    s.add_argument("--port", type=int, default=123)
    s.add_argument("--timeout", type=float, default=1.0)
    s.set_defaults(fn=cmd_ntp_query)

    s = sub.add_parser("dhcp-discover")
    s.add_argument("--interface", required=True)
    s.add_argument("--requested", help="option 50: the address the client asks for")
    s.add_argument("--hostname", help="option 12")
    s.set_defaults(fn=cmd_dhcp_discover)

    s = sub.add_parser("vlan-bpf")
    s.add_argument("pin", help="path on a bpffs mount to pin the program at")
    s.add_argument("ops", nargs="+",
                   help="in order: 8021q:VID, 8021ad:VID (push) or pop")
    s.set_defaults(fn=cmd_vlan_bpf)

    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
