#!/usr/bin/env bash
# make-captures.sh: regenerate the sample captures in captures/ by recording
# REAL traffic between Linux network namespaces with tcpdump.
#
# Usage: scripts/make-captures.sh [-o DIR] [-k] [SCENARIO...]
#        scripts/make-captures.sh -l        list the scenarios
#
#   -o DIR   write the captures to DIR (default: captures/ next to scripts/)
#   -k       keep the work directory (server logs, unpublished captures)
#            until the next run
#   SCENARIO one or more scenario names (default: all of them)
#
# Needs root (namespaces, veths, tc, nftables).  Installs missing Debian
# packages with apt-get.  Traffic only ever flows between the namespaces this
# script creates (all named iwcap-*), over veth links that are not connected
# to any real interface; every namespace, link, mount and process it makes is
# removed on exit, failure or Ctrl-C, and leftovers of an interrupted earlier
# run are removed before starting, so the script can be run again at will.
#
# Each capture is one function, scenario_<name>, built from the topology
# helpers below (namespaces, veth links, a bridge "switch" with a SPAN port,
# VLAN trunks, nftables rules, background servers).  To add a scenario, write
# a scenario_<name> function and add <name> to SCENARIOS.  A scenario checks
# its own capture with expect (a BPF filter and a packet count) before it is
# copied into the output directory, so a capture that does not contain what
# captures/README.md says is never published.

set -Eeuo pipefail

SCENARIOS=(basic_lan vlan_tagged qinq ssh_like_guessing)

PREFIX=iwcap-
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT_DIR=$(cd "$SCRIPT_DIR/.." && pwd)/captures
HELPER=$SCRIPT_DIR/capture-helper.py
KEEP_WORK=0

WORK=""          # temporary work directory (logs, captures in progress)
BPFFS=""         # bpffs mount point inside WORK, when mounted
PY=""            # the real python3 binary
declare -a PIDS=()   # background processes this run started
CAP_PID=""       # running tcpdump, if any
CAP_NAME=""
MAC_SEQ=0
MAC=""

# Messages go to fd 3, a copy of the original stderr: a trap can run while a
# step's output is redirected to a log file, and its messages must not go there.
exec 3>&2
log()  { printf '[make-captures] %s\n' "$*" >&3; }
die()  { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------------------
# Setup and cleanup
# ---------------------------------------------------------------------------

ensure_tools() {
    local -A pkg_of=(
        [tcpdump]=tcpdump [ip]=iproute2 [tc]=iproute2 [ss]=iproute2
        [nft]=nftables [ethtool]=ethtool [ping]=iputils-ping
        [python3]=python3 [timeout]=coreutils [mount]=mount
    )
    local tool pkgs=()
    for tool in "${!pkg_of[@]}"; do
        command -v "$tool" >/dev/null 2>&1 || pkgs+=("${pkg_of[$tool]}")
    done
    if ((${#pkgs[@]})); then
        mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)
        log "installing: ${pkgs[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
    fi
    # the real interpreter, not a version-manager shim
    PY=$(python3 -c 'import sys; print(sys.executable)')
}

# Kill every process still running in one of our namespaces, delete the
# namespaces (their veths, bridges, tc filters and nftables rules go with
# them).  Used before a run (leftovers of an interrupted run), between
# scenarios and at exit.
teardown_namespaces() {
    local ns pids i
    for ns in $(ip netns list 2>/dev/null | awk -v p="$PREFIX" 'index($1, p) == 1 {print $1}'); do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        if [[ -n $pids ]]; then
            # shellcheck disable=SC2086
            kill -TERM $pids 2>/dev/null || true
            for i in 1 2 3 4 5 6 7 8 9 10; do
                pids=$(ip netns pids "$ns" 2>/dev/null || true)
                [[ -z $pids ]] && break
                sleep 0.1
            done
            # shellcheck disable=SC2086
            [[ -n $pids ]] && kill -KILL $pids 2>/dev/null || true
        fi
        ip netns del "$ns" 2>/dev/null || true
    done
    # links are always created directly inside namespaces, but be thorough
    for ns in $(ip -o link show 2>/dev/null | awk -F': ' -v p="$PREFIX" '{sub(/@.*/, "", $2)} index($2, p) == 1 {print $2}'); do
        ip link del "$ns" 2>/dev/null || true
    done
}

stop_processes() {
    local pid
    if [[ -n $CAP_PID ]]; then
        kill -INT "$CAP_PID" 2>/dev/null || true
        wait "$CAP_PID" 2>/dev/null || true
        CAP_PID=""
    fi
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM ERR
    stop_processes
    teardown_namespaces
    if [[ -n $BPFFS ]] && mountpoint -q "$BPFFS" 2>/dev/null; then
        umount "$BPFFS" 2>/dev/null || umount -l "$BPFFS" 2>/dev/null || true
    fi
    if [[ -n $WORK && -d $WORK ]]; then
        if ((KEEP_WORK)); then
            log "work directory kept: $WORK"
        else
            rm -rf "$WORK"
        fi
    fi
    if ((rc != 0)); then
        log "FAILED (exit $rc); everything this run created has been removed"
    fi
    exit "$rc"
}

# Leftovers of an earlier run that was killed outright (SIGKILL, power
# loss): its bpffs mount and work directory (/tmp/iwcap-XXXXXX).  Called
# after teardown_namespaces, so none of its processes is still running.
cleanup_stale_work() {
    local m d
    for m in $(awk -v p="/tmp/$PREFIX" '$3 == "bpf" && index($2, p) == 1 {print $2}' /proc/mounts); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
    for d in /tmp/"$PREFIX"??????; do
        [[ -d $d && ! -L $d ]] || continue
        mountpoint -q "$d/bpf" 2>/dev/null && continue
        rm -rf "$d"
    done
}

# ---------------------------------------------------------------------------
# Topology helpers (reusable by future scenarios)
# ---------------------------------------------------------------------------
# Namespaces are named by a short name; the real netns is $PREFIX<name>.

ns() { printf '%s%s' "$PREFIX" "$1"; }

# in_ns NAME CMD...: run a command in a namespace, bounded in time.
in_ns() {
    local name=$1; shift
    timeout --foreground -k 2 "${IN_NS_TIMEOUT:-20}" ip netns exec "$(ns "$name")" "$@"
}

# ns_sysctl NAME KEY=VALUE...
ns_sysctl() {
    local name=$1; shift
    ip netns exec "$(ns "$name")" sysctl -q -w "$@" >/dev/null
}

# ns_create NAME [noipv6]: a namespace with lo up and no unsolicited IPv6
# chatter on new links (no DAD, no router solicitations, no RA processing).
# SYN retransmissions use the classic exponential backoff (1 s, 2 s, 4 s...)
# on every kernel: Linux >= 6.7 defaults to 4 linear (1 s) retries first
# (net.ipv4.tcp_syn_linear_timeouts), which would change the captures.
ns_create() {
    local name=$1 mode=${2:-}
    ip netns add "$(ns "$name")"
    ip -n "$(ns "$name")" link set lo up
    local c
    for c in all default; do
        if [[ $mode == noipv6 ]]; then
            ns_sysctl "$name" "net.ipv6.conf.$c.disable_ipv6=1"
        else
            ns_sysctl "$name" "net.ipv6.conf.$c.accept_dad=0" "net.ipv6.conf.$c.dad_transmits=0" \
                "net.ipv6.conf.$c.router_solicitations=0" "net.ipv6.conf.$c.accept_ra=0"
        fi
    done
    if [[ -e /proc/sys/net/ipv4/tcp_syn_linear_timeouts ]]; then
        ns_sysctl "$name" net.ipv4.tcp_syn_linear_timeouts=0
    fi
}

# ns_exists NAME
ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$(ns "$1")"; }

# mac_for IPV4: a locally administered MAC derived from an IPv4 address,
# 02:1d:77:<last 3 octets> (readable in captures, the same on every run).
mac_for() {
    [[ $1 =~ ^[0-9]+\.([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] || die "mac_for: not an IPv4 address: $1"
    printf '02:1d:77:%02x:%02x:%02x' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "${BASH_REMATCH[3]}"
}

# alloc_mac: sets MAC to the next MAC of a run-wide sequence (02:1d:78:...),
# for links whose addresses do not matter (switch ports, SPAN links).
alloc_mac() {
    MAC_SEQ=$((MAC_SEQ + 1))
    MAC=$(printf '02:1d:78:00:%02x:%02x' $((MAC_SEQ / 256)) $((MAC_SEQ % 256)))
}

# if_prepare NAME IF: before the link goes up: no offloads (so the capture
# holds wire-sized frames with correct checksums), no DAD/RS, fast MLD
# settling, and no neighbour reachability probes during a short capture.
if_prepare() {
    local name=$1 ifc=$2
    ip netns exec "$(ns "$name")" ethtool -K "$ifc" tx off sg off tso off gso off gro off >/dev/null 2>&1 || true
    if [[ -d /proc/sys/net/ipv6 ]] && [[ $(ip netns exec "$(ns "$name")" cat "/proc/sys/net/ipv6/conf/$ifc/disable_ipv6" 2>/dev/null || echo 1) == 0 ]]; then
        ns_sysctl "$name" "net.ipv6.conf.$ifc.accept_dad=0" "net.ipv6.conf.$ifc.dad_transmits=0" \
            "net.ipv6.conf.$ifc.router_solicitations=0" "net.ipv6.conf.$ifc.accept_ra=0" \
            "net.ipv6.conf.$ifc.mldv2_unsolicited_report_interval=10" \
            "net.ipv6.conf.$ifc.mldv1_unsolicited_report_interval=10" \
            "net.ipv6.neigh.$ifc.delay_first_probe_time=60"
    fi
    ns_sysctl "$name" "net.ipv4.neigh.$ifc.delay_first_probe_time=60"
}

# veth NS1 IF1 NS2 IF2 [MAC1 [MAC2]]: a veth pair with one end in each
# namespace (created there directly: nothing ever exists in the root
# namespace).  Links are left down; use addr and up.
veth() {
    local n1=$1 i1=$2 n2=$3 i2=$4 m1=${5:-} m2=${6:-}
    [[ -n $m1 ]] || { alloc_mac; m1=$MAC; }
    [[ -n $m2 ]] || { alloc_mac; m2=$MAC; }
    ip link add name "$i1" address "$m1" netns "$(ns "$n1")" type veth \
        peer name "$i2" address "$m2" netns "$(ns "$n2")"
    if_prepare "$n1" "$i1"
    if_prepare "$n2" "$i2"
}

# addr NAME IF CIDR...: IPv4 and IPv6 addresses (IPv6 without DAD).
addr() {
    local name=$1 ifc=$2; shift 2
    local a
    for a in "$@"; do
        if [[ $a == *:* ]]; then
            ip -n "$(ns "$name")" addr add "$a" dev "$ifc" nodad
        else
            ip -n "$(ns "$name")" addr add "$a" dev "$ifc"
        fi
    done
}

# up NAME IF...
up() {
    local name=$1; shift
    local i
    for i in "$@"; do ip -n "$(ns "$name")" link set "$i" up; done
}

# ns_forwarding NAME: make a namespace a router (IPv4 and IPv6 forwarding),
# e.g. for NAT/DNAT scenarios with nft_apply.
ns_forwarding() {
    ns_sysctl "$1" net.ipv4.ip_forward=1
    [[ $(ip netns exec "$(ns "$1")" cat /proc/sys/net/ipv6/conf/all/disable_ipv6 2>/dev/null || echo 1) == 0 ]] &&
        ns_sysctl "$1" net.ipv6.conf.all.forwarding=1
    return 0
}

# route NAME ROUTE-ARGS...: e.g. route r1 default via 10.0.0.1
route() {
    local name=$1; shift
    ip -n "$(ns "$name")" route add "$@"
}

# bridge_create NAME BR: a plain learning bridge (no STP, no forwarding
# delay, no multicast snooping: it floods multicast like a dumb switch).
bridge_create() {
    local name=$1 br=$2
    ip -n "$(ns "$name")" link add "$br" type bridge stp_state 0 forward_delay 0 mcast_snooping 0
    if_prepare "$name" "$br"
    up "$name" "$br"
}

# bridge_port NAME BR IF
bridge_port() {
    local name=$1 br=$2 ifc=$3
    ip -n "$(ns "$name")" link set "$ifc" master "$br"
    up "$name" "$ifc"
}

# mirror_ingress NAME IF TO: copy every frame received on IF to TO (SPAN).
mirror_ingress() {
    local name=$1 ifc=$2 to=$3
    tc -n "$(ns "$name")" qdisc add dev "$ifc" clsact 2>/dev/null || true
    tc -n "$(ns "$name")" filter add dev "$ifc" ingress protocol all u32 match u32 0 0 action mirred egress mirror dev "$to"
}

# switch_create SW: a namespace holding bridge br0 and nothing else (no
# addresses, IPv6 off), so the switch itself never sends a frame.
switch_create() {
    local sw=$1
    ns_create "$sw" noipv6
    bridge_create "$sw" br0
}

# switch_host SW HOST [CIDR...]: a host namespace (created if needed) whose
# eth0 is plugged into switch SW (port p-HOST).  The MAC is derived from the
# first IPv4 address.  When the switch has a SPAN port, the new port is
# mirrored too.
switch_host() {
    local sw=$1 host=$2; shift 2
    local mac="" a port="p-$host"
    for a in "$@"; do [[ $a != *:* ]] && { mac=$(mac_for "${a%/*}"); break; }; done
    ns_exists "$host" || ns_create "$host"
    veth "$host" eth0 "$sw" "$port" "$mac"
    addr "$host" eth0 "$@"
    up "$host" eth0
    bridge_port "$sw" br0 "$port"
    if ip -n "$(ns "$sw")" link show span0 >/dev/null 2>&1; then
        mirror_ingress "$sw" "$port" span0
    fi
}

# switch_span SW SENSOR: a SPAN (mirror) port: every frame entering the
# switch on any host port is copied, once, to span0 in namespace SENSOR
# (IPv6 off, ARP off, no address: a silent sensor).  Capture on SENSOR span0.
switch_span() {
    local sw=$1 sensor=$2 p
    ns_create "$sensor" noipv6
    veth "$sw" span0 "$sensor" span0
    ip -n "$(ns "$sensor")" link set span0 arp off
    up "$sw" span0
    up "$sensor" span0
    for p in $(ip -n "$(ns "$sw")" -o link show master br0 | awk -F': ' '{sub(/@.*/, "", $2); print $2}'); do
        mirror_ingress "$sw" "$p" span0
    done
}

# vlan_trunk NAME IF TAG...: make IF a VLAN trunk for the host stack behind
# it: frames leave IF carrying the given tags (TAG is 8021q:VID or
# 8021ad:VID, pushed in order, so "8021q:300 8021ad:200" gives outer S-tag
# 200, inner C-tag 300) and the same number of tags is removed on receipt.
# Capture on IF (the "parent") to see the tags.  Implemented with tc + eBPF
# (bpf_skb_vlan_push/pop) because the kernel may lack the 8021q module.
vlan_trunk() {
    local name=$1 ifc=$2; shift 2
    local pops=() i
    for ((i = 0; i < $#; i++)); do pops+=(pop); done
    ensure_bpffs
    local tag; tag=$(printf '%s' "$name-$ifc-$*" | tr -c 'a-zA-Z0-9_-' '_')
    "$PY" "$HELPER" vlan-bpf "$BPFFS/push-$tag" "$@"
    "$PY" "$HELPER" vlan-bpf "$BPFFS/pop-$tag" "${pops[@]}"
    tc -n "$(ns "$name")" qdisc add dev "$ifc" clsact 2>/dev/null || true
    tc -n "$(ns "$name")" filter add dev "$ifc" egress bpf direct-action object-pinned "$BPFFS/push-$tag"
    tc -n "$(ns "$name")" filter add dev "$ifc" ingress bpf direct-action object-pinned "$BPFFS/pop-$tag"
    # the filters hold the programs now; the pins are no longer needed
    rm -f "$BPFFS/push-$tag" "$BPFFS/pop-$tag"
}

ensure_bpffs() {
    if [[ -z $BPFFS ]]; then
        BPFFS=$WORK/bpf
        mkdir -p "$BPFFS"
        mount -t bpf iwcap-bpf "$BPFFS"
    fi
}

# nft_apply NAME RULESET: load an nftables ruleset (text) in a namespace.
nft_apply() {
    local name=$1 rules=$2
    printf '%s\n' "$rules" | ip netns exec "$(ns "$name")" nft -f -
}

# bg NAME LABEL CMD...: start a background process (a server) in a
# namespace; output goes to WORK/LABEL.log.  Stopped by stop_processes.
bg() {
    local name=$1 label=$2; shift 2
    ip netns exec "$(ns "$name")" "$@" >"$WORK/$label.log" 2>&1 &
    PIDS+=($!)
}

# wait_listen NAME tcp|udp PORT: wait until a socket listens (checked with
# ss inside the namespace, so no probe traffic is generated).
wait_listen() {
    local name=$1 proto=$2 port=$3 i flag=-Hltn
    [[ $proto == udp ]] && flag=-Hlun
    for ((i = 0; i < 100; i++)); do
        if [[ -n $(ip netns exec "$(ns "$name")" ss "$flag" "sport = :$port" 2>/dev/null) ]]; then
            return 0
        fi
        sleep 0.05
    done
    die "nothing listens on $proto/$port in $(ns "$name")"
}

# settle: let the link-up chatter (MLD reports) finish before capturing.
settle() { sleep 0.6; }

# gap: a short pause between the steps of a scenario, so flows are
# separated in time in the capture.
gap() { sleep "${1:-0.2}"; }

# run NAME CMD...: a client step in a namespace; its output goes to the log.
run() {
    local name=$1; shift
    log "  [$(ns "$name")] $*"
    local rc=0
    in_ns "$name" "$@" >>"$WORK/steps.log" 2>&1 || rc=$?
    if ((rc != 0)); then
        ((rc > 128)) || { log "step failed (exit $rc):"; tail -n 20 "$WORK/steps.log" >&2; }
        exit "$rc"
    fi
}

# ---------------------------------------------------------------------------
# Capture helpers
# ---------------------------------------------------------------------------

# capture_start NAME IF CAPTURE: tcpdump on IF in namespace NAME, writing
# WORK/CAPTURE.pcap (full frames, microsecond timestamps, packet-buffered).
capture_start() {
    local name=$1 ifc=$2 cap=$3 i
    CAP_NAME=$cap
    ip netns exec "$(ns "$name")" tcpdump -i "$ifc" -s 0 -U --immediate-mode -nn \
        --time-stamp-precision=micro -w "$WORK/$cap.pcap" >"$WORK/$cap.tcpdump.log" 2>&1 &
    CAP_PID=$!
    for ((i = 0; i < 100; i++)); do
        grep -q 'listening on' "$WORK/$cap.tcpdump.log" 2>/dev/null && return 0
        kill -0 "$CAP_PID" 2>/dev/null || break
        sleep 0.05
    done
    cat "$WORK/$cap.tcpdump.log" >&2
    die "tcpdump did not start on $ifc in $(ns "$name")"
}

# capture_stop: let the last frames land, stop tcpdump with SIGINT and wait,
# so the file is complete.
capture_stop() {
    sleep 0.3
    kill -INT "$CAP_PID"
    wait "$CAP_PID" || true
    CAP_PID=""
    grep -E 'packets (captured|dropped)' "$WORK/$CAP_NAME.tcpdump.log" | sed 's/^/  tcpdump: /' >&2 || true
    if grep -Eq '^[1-9][0-9]* packets dropped by kernel' "$WORK/$CAP_NAME.tcpdump.log"; then
        die "tcpdump dropped packets"
    fi
}

FAILED_EXPECT=0

# expect CAPTURE OP N DESCRIPTION FILTER: the number of packets of the
# capture matching the BPF filter must be OP (== or >=) N.
expect() {
    local cap=$1 op=$2 want=$3 what=$4 filter=$5 got
    got=$(tcpdump -nn -r "$WORK/$cap.pcap" "$filter" 2>/dev/null | wc -l)
    if { [[ $op == "==" ]] && ((got == want)); } || { [[ $op == ">=" ]] && ((got >= want)); }; then
        printf '  ok   %-58s %3d %s %d\n' "$what" "$got" "$op" "$want" >&2
    else
        printf '  FAIL %-58s %3d, want %s %d   [%s]\n' "$what" "$got" "$op" "$want" "$filter" >&2
        FAILED_EXPECT=1
    fi
}

# expect_total CAPTURE N: the total documented in captures/README.md.  A
# different total is reported but not fatal: the flow checks above are what
# matters, and a slower machine may add or merge a pure ACK.  Update the
# README when it changes.
expect_total() {
    local cap=$1 want=$2 got
    got=$(tcpdump -nn -r "$WORK/$cap.pcap" 2>/dev/null | wc -l)
    if ((got == want)); then
        printf '  ok   %-58s %3d == %d\n' "total packets (as in captures/README.md)" "$got" "$want" >&2
    else
        printf '  NOTE %-58s %3d, README says %d\n' "total packets differ from captures/README.md" "$got" "$want" >&2
        log "NOTE: $cap.pcap has $got packets, captures/README.md documents $want"
    fi
}

# publish CAPTURE: after the checks passed, copy into the output directory.
publish() {
    local cap=$1 n size
    if ((FAILED_EXPECT)); then
        KEEP_WORK=1
        die "$cap.pcap does not contain what is expected (left in the work directory)"
    fi
    # no frame may be larger than what a 1500-byte MTU allows on the wire
    # (14 Ethernet + up to 2 VLAN tags + 1500): a larger one means offloads
    local big
    big=$(tcpdump -nn -r "$WORK/$cap.pcap" 'greater 1523' 2>/dev/null | wc -l)
    ((big == 0)) || die "$cap.pcap has $big frames larger than the MTU (offloads?)"
    mkdir -p "$OUT_DIR"
    install -m 0644 "$WORK/$cap.pcap" "$OUT_DIR/$cap.pcap"
    n=$(tcpdump -r "$OUT_DIR/$cap.pcap" 2>/dev/null | wc -l)
    size=$(stat -c %s "$OUT_DIR/$cap.pcap")
    log "wrote $OUT_DIR/$cap.pcap: $n packets, $size bytes"
    SUMMARY+=("$(printf '%-24s %5d packets %8d bytes' "$cap.pcap" "$n" "$size")")
}

# www_root: a small directory for python3 -m http.server
www_root() {
    local dir=$WORK/www
    if [[ ! -d $dir ]]; then
        mkdir -p "$dir"
        {
            printf '<!doctype html>\n<html><head><title>IdleWatch sample</title></head><body>\n'
            printf '<h1>IdleWatch sample capture</h1>\n'
            for i in $(seq 1 12); do
                printf '<p>Line %02d of a small page served over HTTP so the response spans a few segments.</p>\n' "$i"
            done
            printf '</body></html>\n'
        } >"$dir/index.html"
    fi
    printf '%s' "$dir"
}

# ---------------------------------------------------------------------------
# Scenarios: one function per capture
# ---------------------------------------------------------------------------

# basic-lan.pcap: two hosts on one switch, captured on the switch's SPAN port.
#   lan-a (client) 10.10.0.1 fd00:10::1  02:1d:77:0a:00:01
#   lan-b (server) 10.10.0.2 fd00:10::2  02:1d:77:0a:00:02
#   lan-b serves HTTP on 8080 (v4+v6) and UDP echo on 9999; drops TCP 82.
scenario_basic_lan() {
    local cap=basic-lan www
    www=$(www_root)
    switch_create lan-sw
    switch_host lan-sw lan-a 10.10.0.1/24 fd00:10::1/64
    switch_host lan-sw lan-b 10.10.0.2/24 fd00:10::2/64
    switch_span lan-sw lan-ids
    nft_apply lan-b 'table inet iwcap_filter {
        chain input {
            type filter hook input priority filter; policy accept;
            tcp dport 82 drop
        }
    }'
    bg lan-b http "$PY" -m http.server 8080 --bind :: --directory "$www"
    bg lan-b udp-echo "$PY" "$HELPER" udp-echo --bind :: --port 9999
    wait_listen lan-b tcp 8080
    wait_listen lan-b udp 9999
    settle

    capture_start lan-ids span0 "$cap"
    run lan-a ping -c 3 -i 0.2 -W 1 10.10.0.2;                    gap
    run lan-a ping -6 -c 3 -i 0.2 -W 1 fd00:10::2;                gap
    run lan-a "$PY" "$HELPER" http-get --to 10.10.0.2 --port 8080;  gap
    run lan-a "$PY" "$HELPER" tcp-probe --to 10.10.0.2 --port 81 --timeout 1;   gap
    run lan-a "$PY" "$HELPER" tcp-probe --to 10.10.0.2 --port 82 --timeout 3.5; gap
    run lan-a "$PY" "$HELPER" udp-send --to 10.10.0.2 --port 9999 --count 3 --interval 0.2; gap
    run lan-a "$PY" "$HELPER" udp-send --to 10.10.0.2 --port 9998 --count 1 --timeout 0.5; gap
    run lan-a "$PY" "$HELPER" http-get --to fd00:10::2 --port 8080
    capture_stop

    local A=10.10.0.1 B=10.10.0.2 A6=fd00:10::1 B6=fd00:10::2
    expect $cap == 1 "ARP request A->broadcast who-has B"   "arp and ether broadcast and arp[6:2] = 1"
    expect $cap == 1 "ARP reply B->A"                       "arp and arp[6:2] = 2 and ether dst 02:1d:77:0a:00:01"
    expect $cap == 2 "ARP total"                            "arp"
    expect $cap == 3 "ICMP echo request A->B"               "icmp[icmptype] = icmp-echo and src $A and dst $B"
    expect $cap == 3 "ICMP echo reply B->A"                 "icmp[icmptype] = icmp-echoreply and src $B and dst $A"
    expect $cap == 3 "ICMPv6 echo request A->B"             "icmp6 and ip6[40] = 128 and src $A6 and dst $B6"
    expect $cap == 3 "ICMPv6 echo reply B->A"               "icmp6 and ip6[40] = 129 and src $B6 and dst $A6"
    expect $cap ">=" 1 "ICMPv6 neighbor solicitation"       "icmp6 and ip6[40] = 135"
    expect $cap ">=" 1 "ICMPv6 neighbor advertisement"      "icmp6 and ip6[40] = 136"
    expect $cap == 1 "TCP/8080 v4 SYN"                      "ip and tcp dst port 8080 and tcp[tcpflags] = tcp-syn"
    expect $cap == 1 "TCP/8080 v4 SYN-ACK"                  "ip and tcp src port 8080 and tcp[tcpflags] = tcp-syn|tcp-ack"
    expect $cap == 2 "TCP/8080 v4 FIN (both sides)"         "ip and tcp port 8080 and tcp[tcpflags] & tcp-fin != 0"
    expect $cap == 0 "TCP/8080 v4 RST"                      "ip and tcp port 8080 and tcp[tcpflags] & tcp-rst != 0"
    expect $cap ">=" 1 "TCP/8080 v4 data A->B (GET)"        "ip and tcp dst port 8080 and (ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2)) > 0"
    expect $cap ">=" 1 "TCP/8080 v4 data B->A (response)"   "ip and tcp src port 8080 and (ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2)) > 0"
    expect $cap == 2 "TCP/81 closed: SYN + RST-ACK only"    "tcp port 81"
    expect $cap == 1 "TCP/81 RST-ACK"                       "tcp src port 81 and tcp[tcpflags] = tcp-rst|tcp-ack"
    expect $cap == 3 "TCP/82 dropped: SYN + 2 retransmits"  "tcp dst port 82 and tcp[tcpflags] = tcp-syn"
    expect $cap == 0 "TCP/82 anything from the server"      "tcp src port 82"
    expect $cap == 6 "UDP/9999 3 requests + 3 echoes"       "udp port 9999"
    expect $cap == 1 "UDP/9998 one datagram"                "udp dst port 9998"
    expect $cap == 1 "ICMP port unreachable B->A"           "icmp[icmptype] = icmp-unreach and icmp[icmpcode] = 3 and src $B"
    expect $cap == 1 "TCP/8080 v6 SYN"                      "ip6 and tcp and ip6[53] = 0x02"
    expect $cap == 1 "TCP/8080 v6 SYN-ACK"                  "ip6 and tcp and ip6[53] = 0x12"
    expect $cap == 2 "TCP/8080 v6 FIN (both sides)"         "ip6 and tcp and ip6[53] & 0x01 != 0"
    expect $cap == 0 "TCP/8080 v6 RST"                      "ip6 and tcp and ip6[53] & 0x04 != 0"
    expect $cap ">=" 2 "TCP/8080 v6 data (PSH) both ways"   "ip6 and tcp and ip6[53] & 0x08 != 0"
    expect $cap == 0 "anything not from A or B"             "not (ether src 02:1d:77:0a:00:01 or ether src 02:1d:77:0a:00:02)"
    expect_total $cap 53
    publish $cap
}

# vlan-tagged.pcap: two hosts on a veth pair that is an 802.1Q trunk carrying
# VLAN 100; captured on vlan-a's eth0 (the parent), so frames carry the tag.
#   vlan-a (client) 10.100.0.1 fd00:100::1  02:1d:77:64:00:01
#   vlan-b (server) 10.100.0.2 fd00:100::2  02:1d:77:64:00:02  HTTP on 8080
scenario_vlan_tagged() {
    local cap=vlan-tagged www
    www=$(www_root)
    ns_create vlan-a
    ns_create vlan-b
    veth vlan-a eth0 vlan-b eth0 "$(mac_for 10.100.0.1)" "$(mac_for 10.100.0.2)"
    vlan_trunk vlan-a eth0 8021q:100
    vlan_trunk vlan-b eth0 8021q:100
    addr vlan-a eth0 10.100.0.1/24 fd00:100::1/64
    addr vlan-b eth0 10.100.0.2/24 fd00:100::2/64
    up vlan-a eth0
    up vlan-b eth0
    bg vlan-b http "$PY" -m http.server 8080 --bind :: --directory "$www"
    wait_listen vlan-b tcp 8080
    settle

    capture_start vlan-a eth0 "$cap"
    run vlan-a ping -c 3 -i 0.2 -W 1 10.100.0.2;               gap
    run vlan-a ping -6 -c 2 -i 0.2 -W 1 fd00:100::2;           gap
    run vlan-a "$PY" "$HELPER" http-get --to 10.100.0.2 --port 8080
    capture_stop

    expect $cap == 0 "untagged frames"                      "not vlan"
    expect $cap == 0 "frames with a second tag"             "vlan and vlan"
    expect $cap == 0 "frames not on VLAN 100 (incl. untagged)" "not vlan 100"
    expect $cap == 2 "ARP request + reply in VLAN 100"      "vlan 100 and arp"
    expect $cap == 3 "ICMP echo request"                    "vlan 100 and icmp[icmptype] = icmp-echo"
    expect $cap == 3 "ICMP echo reply"                      "vlan 100 and icmp[icmptype] = icmp-echoreply"
    expect $cap == 2 "ICMPv6 echo request"                  "vlan 100 and icmp6 and ip6[40] = 128"
    expect $cap == 2 "ICMPv6 echo reply"                    "vlan 100 and icmp6 and ip6[40] = 129"
    expect $cap ">=" 2 "ICMPv6 neighbor discovery"          "vlan 100 and icmp6 and (ip6[40] = 135 or ip6[40] = 136)"
    expect $cap == 1 "TCP/8080 SYN"                         "vlan 100 and tcp dst port 8080 and tcp[tcpflags] = tcp-syn"
    expect $cap == 1 "TCP/8080 SYN-ACK"                     "vlan 100 and tcp src port 8080 and tcp[tcpflags] = tcp-syn|tcp-ack"
    expect $cap == 2 "TCP/8080 FIN both sides"              "vlan 100 and tcp port 8080 and tcp[tcpflags] & tcp-fin != 0"
    expect $cap ">=" 2 "TCP/8080 data (PSH) both ways"      "vlan 100 and tcp port 8080 and tcp[tcpflags] & tcp-push != 0"
    expect $cap == 0 "TCP RST"                              "vlan 100 and tcp[tcpflags] & tcp-rst != 0"
    expect_total $cap 26
    publish $cap
}

# qinq.pcap: like vlan-tagged but stacked 802.1ad: outer S-tag 200 (TPID
# 0x88a8), inner C-tag 300 (TPID 0x8100).  IPv4 only.
#   qinq-a (client) 10.200.0.1 02:1d:77:c8:00:01
#   qinq-b (server) 10.200.0.2 02:1d:77:c8:00:02  HTTP on 8080
scenario_qinq() {
    local cap=qinq www
    www=$(www_root)
    ns_create qinq-a
    ns_create qinq-b
    veth qinq-a eth0 qinq-b eth0 "$(mac_for 10.200.0.1)" "$(mac_for 10.200.0.2)"
    vlan_trunk qinq-a eth0 8021q:300 8021ad:200
    vlan_trunk qinq-b eth0 8021q:300 8021ad:200
    addr qinq-a eth0 10.200.0.1/24
    addr qinq-b eth0 10.200.0.2/24
    up qinq-a eth0
    up qinq-b eth0
    bg qinq-b http "$PY" -m http.server 8080 --bind 0.0.0.0 --directory "$www"
    wait_listen qinq-b tcp 8080
    settle

    capture_start qinq-a eth0 "$cap"
    run qinq-a ping -c 2 -i 0.2 -W 1 10.200.0.2;               gap
    run qinq-a "$PY" "$HELPER" http-get --to 10.200.0.2 --port 8080
    capture_stop

    expect $cap == 0 "frames without the S-tag 0x88a8"      "not ether proto 0x88a8"
    expect $cap == 0 "frames without inner C-tag 300"       "not (vlan 200 and vlan 300)"
    expect $cap == 2 "ARP request + reply in 200/300"       "vlan 200 and vlan 300 and arp"
    expect $cap == 2 "ICMP echo request"                    "vlan 200 and vlan 300 and icmp[icmptype] = icmp-echo"
    expect $cap == 2 "ICMP echo reply"                      "vlan 200 and vlan 300 and icmp[icmptype] = icmp-echoreply"
    expect $cap == 1 "TCP/8080 SYN"                         "vlan 200 and vlan 300 and tcp dst port 8080 and tcp[tcpflags] = tcp-syn"
    expect $cap == 2 "TCP/8080 FIN both sides"              "vlan 200 and vlan 300 and tcp port 8080 and tcp[tcpflags] & tcp-fin != 0"
    expect $cap ">=" 2 "TCP/8080 data (PSH) both ways"      "vlan 200 and vlan 300 and tcp port 8080 and tcp[tcpflags] & tcp-push != 0"
    expect $cap == 0 "TCP RST"                              "vlan 200 and vlan 300 and tcp[tcpflags] & tcp-rst != 0"
    expect_total $cap 18
    publish $cap
}

# ssh-like-guessing.pcap: three hosts on a switch, captured on the SPAN port.
#   ssh-srv   10.20.0.2   02:1d:77:14:00:02  SSH-like banner server on 2222
#   ssh-guess 10.20.0.66  02:1d:77:14:00:42  8 short sessions to 2222
#   ssh-scan  10.20.0.99  02:1d:77:14:00:63  connect() scan of 20 ports
SCAN_PORTS=21,22,23,25,53,80,110,135,139,143,443,445,993,995,2222,3306,3389,5900,8080,8443
scenario_ssh_like_guessing() {
    local cap=ssh-like-guessing
    switch_create ssh-sw
    switch_host ssh-sw ssh-srv 10.20.0.2/24
    switch_host ssh-sw ssh-guess 10.20.0.66/24
    switch_host ssh-sw ssh-scan 10.20.0.99/24
    switch_span ssh-sw ssh-ids
    bg ssh-srv banner "$PY" "$HELPER" banner-server --bind 0.0.0.0 --port 2222
    wait_listen ssh-srv tcp 2222
    settle

    capture_start ssh-ids span0 "$cap"
    run ssh-guess "$PY" "$HELPER" guess-client --to 10.20.0.2 --port 2222 --count 8 --interval 0.15; gap 0.5
    run ssh-scan "$PY" "$HELPER" connect-scan --to 10.20.0.2 --ports "$SCAN_PORTS" --timeout 0.5
    capture_stop

    local S=10.20.0.2 G=10.20.0.66 X=10.20.0.99
    expect $cap == 4  "ARP: 2 requests for the server, 2 replies" "arp"
    expect $cap == 8  "guesser SYNs to 2222"                "src $G and tcp dst port 2222 and tcp[tcpflags] = tcp-syn"
    expect $cap == 8  "server SYN-ACKs to guesser"          "dst $G and tcp src port 2222 and tcp[tcpflags] = tcp-syn|tcp-ack"
    expect $cap == 16 "FINs in guessing sessions (2 each)"  "host $G and tcp[tcpflags] & tcp-fin != 0"
    expect $cap == 0  "RSTs in guessing sessions"           "host $G and tcp[tcpflags] & tcp-rst != 0"
    expect $cap ">=" 8 "banner segments server->guesser"    "src $S and dst $G and tcp[tcpflags] & tcp-push != 0"
    expect $cap ">=" 8 "password lines guesser->server"     "src $G and dst $S and tcp[tcpflags] & tcp-push != 0"
    expect $cap == 20 "scanner SYNs (one per port)"         "src $X and tcp[tcpflags] = tcp-syn"
    expect $cap == 19 "RST-ACK from closed ports"           "src $S and dst $X and tcp[tcpflags] = tcp-rst|tcp-ack"
    expect $cap == 1  "SYN-ACK from 2222 to scanner"        "src $S and dst $X and tcp[tcpflags] = tcp-syn|tcp-ack"
    expect $cap == 1  "scanner ACK completing 2222"         "src $X and tcp dst port 2222 and tcp[tcpflags] = tcp-ack"
    expect $cap == 1  "scanner RST aborting 2222"           "src $X and tcp dst port 2222 and tcp[tcpflags] & tcp-rst != 0"
    expect $cap == 4  "all scanner packets on 2222"         "host $X and tcp port 2222"
    expect $cap == 42 "all scan TCP packets"                "host $X and tcp"
    expect $cap == 0  "data in the scan"                    "host $X and tcp[tcpflags] & tcp-push != 0"
    expect_total $cap 126
    publish $cap
}

# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

usage() { awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "${BASH_SOURCE[0]}"; }

main() {
    local opt
    while getopts ':o:klh' opt; do
        case $opt in
            o) mkdir -p "$OPTARG"; OUT_DIR=$(cd "$OPTARG" && pwd) ;;
            k) KEEP_WORK=1 ;;
            l) printf '%s\n' "${SCENARIOS[@]}"; exit 0 ;;
            h) usage; exit 0 ;;
            *) usage >&2; exit 2 ;;
        esac
    done
    shift $((OPTIND - 1))
    local run_list=("${SCENARIOS[@]}") s
    if (($#)); then
        run_list=()
        for s in "$@"; do
            s=${s//-/_}
            declare -F "scenario_$s" >/dev/null || die "unknown scenario: $s (see -l)"
            run_list+=("$s")
        done
    fi
    ((EUID == 0)) || die "must run as root (network namespaces)"

    trap cleanup EXIT
    trap 'log "interrupted"; exit 130' INT
    trap 'log "terminated"; exit 143' TERM
    trap 'rc=$?; ((rc > 128)) || log "command failed (line $LINENO, exit $rc): $BASH_COMMAND"' ERR

    ensure_tools
    teardown_namespaces
    cleanup_stale_work
    WORK=$(mktemp -d "/tmp/${PREFIX}XXXXXX")
    SUMMARY=()
    local t0=$SECONDS
    for s in "${run_list[@]}"; do
        log "scenario $s"
        FAILED_EXPECT=0
        "scenario_$s"
        stop_processes
        teardown_namespaces
    done
    log "done in $((SECONDS - t0)) s:"
    printf '  %s\n' "${SUMMARY[@]}" >&2
}

main "$@"
