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
# helpers of scripts/lib/netns.sh and below (namespaces, veth links, a bridge
# "switch" with a SPAN port, VLAN trunks, nftables rules, background
# servers).  To add a scenario, write a scenario_<name> function and add
# <name> to SCENARIOS.  A scenario checks its own capture with expect (a BPF
# filter and a packet count) before it is copied into the output directory,
# so a capture that does not contain what captures/README.md says is never
# published.
#
# The detection scenarios (nat_forgotten_mapping ... idle_host_scan) also
# have a site file, captures/sites/<name>.yaml, and their expected alerts,
# captures/expected/<name>.tsv; both are written by hand from the scenario's
# design (captures/README.md), as are captures/site.yaml and
# captures/expected/all.tsv for the whole directory: change them together
# with the scenario.  Scenarios that span hours or days are recorded in
# segments and spread out with scripts/pcap-retime.py (see retime below).

set -Eeuo pipefail

SCENARIOS=(basic_lan vlan_tagged qinq ssh_like_guessing
    nat_forgotten_mapping maintenance_window_allowed inbound_scan new_service_after_learning
    dormant_wakeup decommissioned_arp idle_host_scan)

PREFIX=iwcap-
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT_DIR=$(cd "$SCRIPT_DIR/.." && pwd)/captures
HELPER=$SCRIPT_DIR/capture-helper.py
RETIME=$SCRIPT_DIR/pcap-retime.py
KEEP_WORK=0

BPFFS=""         # bpffs mount point inside WORK, when mounted
CAP_PID=""       # running tcpdump, if any
CAP_NAME=""

# Messages go to fd 3, a copy of the original stderr: a trap can run while a
# step's output is redirected to a log file, and its messages must not go there.
exec 3>&2
log()  { printf '[make-captures] %s\n' "$*" >&3; }
die()  { log "ERROR: $*"; exit 1; }

# The topology helpers (namespaces, veth links, switches with a SPAN port,
# background servers; WORK, PY, PIDS) are in lib/netns.sh: its settings.
# Namespaces created without an explicit mode have IPv6 (basic-lan and
# vlan-tagged use it); alloc_mac's MACs are 02:1d:78:00:xx:xx.
# shellcheck disable=SC2034  # read by lib/netns.sh
{
    NETNS_MAC_PREFIX=02:1d:78
    NETNS_IPV6=1
    NETNS_WORK_TAG=""                      # WORK is /tmp/iwcap-XXXXXX
    NETNS_EXTRA_TOOLS=(mount=mount)        # mount, umount: the bpffs (vlan_trunk)
}
# shellcheck source-path=SCRIPTDIR source=lib/netns.sh
source "$SCRIPT_DIR/lib/netns.sh"

# ---------------------------------------------------------------------------
# Setup and cleanup (with lib/netns.sh's cleanup and install_traps)
# ---------------------------------------------------------------------------

# stop_processes: called by cleanup and between scenarios.
stop_processes() {
    if [[ -n $CAP_PID ]]; then
        kill -INT "$CAP_PID" 2>/dev/null || true
        wait "$CAP_PID" 2>/dev/null || true
        CAP_PID=""
    fi
    # shellcheck disable=SC2119  # no other processes to stop
    stop_bg_processes
}

# cleanup_work: called by cleanup, after the namespaces are gone.
cleanup_work() {
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
}

# cleanup_stale_bpffs: the bpffs mount of an earlier run that was killed
# outright (in its work directory /tmp/iwcap-XXXXXX, which cleanup_stale_work
# then removes).  Called after teardown_namespaces.
cleanup_stale_bpffs() {
    local m
    while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done < <(awk -v p="/tmp/$PREFIX" '$3 == "bpf" && index($2, p) == 1 {print $2}' /proc/mounts)
}

# ---------------------------------------------------------------------------
# Topology helpers of the captures (the common ones are in lib/netns.sh)
# ---------------------------------------------------------------------------

# switch_host SW HOST [CIDR...]: a host namespace (created if needed) whose
# eth0 is plugged into switch SW (port p-HOST).  The MAC is derived from the
# first IPv4 address.  When the switch has a SPAN port, the new port is
# mirrored too.  Create the namespace first (hosts) for an IPv4-only host.
switch_host() {
    local sw=$1 host=$2; shift 2
    switch_attach "$sw" "$host" eth0 "$@"
}

# hosts NAME...: IPv4-only host namespaces (no IPv6 at all, so nothing but
# the scenario's own traffic ever leaves them).  Plug them in with switch_host.
hosts() {
    local h
    for h in "$@"; do ns_create "$h" noipv6; done
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

# wan_link NS1 ADDR1 NS2 ADDR2: a point-to-point "internet" link: NS1's wan0
# (ADDR1) to NS2's eth0 (ADDR2), each address in its own /24 with a host
# route to the other end, so two unrelated public ranges can talk directly
# (e.g. a NAT gateway's public address and an outside client).  MACs derive
# from the addresses.
wan_link() {
    local n1=$1 a1=$2 n2=$3 a2=$4
    veth "$n1" wan0 "$n2" eth0 "$(mac_for "$a1")" "$(mac_for "$a2")"
    addr "$n1" wan0 "$a1/24"
    addr "$n2" eth0 "$a2/24"
    up "$n1" wan0
    up "$n2" eth0
    route "$n1" "$a2/32" dev wan0
    route "$n2" "$a1/32" dev eth0
}

# flush_neighbours NAME...: empty the ARP caches, so the next step starts
# with ARP again, as it would after hours or days (used between segments of
# a capture that is later spread over time with retime).
flush_neighbours() {
    local n
    for n in "$@"; do ip -n "$(ns "$n")" neigh flush all 2>/dev/null || true; done
}

# settle: let the link-up chatter (MLD reports) finish before capturing.
settle() { sleep 0.6; }

# gap: a short pause between the steps of a scenario, so flows are
# separated in time in the capture.
gap() { sleep "${1:-0.2}"; }

# run NAME CMD...: a client step in a namespace; its output goes to the log.
# A failure ends the script with the step's status.
run() {
    log "  [$(ns "$1")] ${*:2}"
    step_exec "$@"
    ((STEP_RC == 0)) && return 0
    ((STEP_RC > 128)) || step_failure
    exit "$STEP_RC"
}

# run_may_fail NAME CMD...: like run, for a step whose failure is part of the
# scenario (a ping that gets no answer); only a signal is fatal (a timeout
# only when the step had to be killed).
run_may_fail() {
    log "  [$(ns "$1")] ${*:2} (may fail)"
    step_exec "$@"
    ((STEP_RC <= 128)) || exit "$STEP_RC"
    log "    exit $STEP_RC"
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

# ---------------------------------------------------------------------------
# Time: captures that span hours or days
# ---------------------------------------------------------------------------
# Traffic is recorded in segments a few tenths of a second apart; mark_time
# (read into a variable just before a segment) gives the wall-clock instant
# on tcpdump's clock, and retime then moves each segment to its place with
# scripts/pcap-retime.py: --start TIME for the first packet, --segment
# MARK=TIME for the later segments.  Only pcap record times change.

mark_time() { date +%s.%6N; }

# retime CAPTURE ARGS...: pcap-retime.py ARGS on the work copy, in place.
retime() {
    local cap=$1; shift
    "$PY" "$RETIME" "$@" "$WORK/$cap.pcap" "$WORK/$cap.pcap" || die "retiming $cap.pcap failed"
    "$PY" "$RETIME" --info "$WORK/$cap.pcap" | sed 's/^/  retime: /' >&2
}

# epoch_us TIME: microseconds since the epoch (TIME in ISO 8601, UTC)
epoch_us() {
    local s
    s=$(date -u -d "$1" +%s) || die "not a time: $1"
    printf '%s000000' "$s"
}

# expect_window CAPTURE OP N DESCRIPTION FILTER FROM TO: like expect, counting
# only the matching packets with FROM <= time < TO (ISO 8601, UTC).
expect_window() {
    local cap=$1 op=$2 want=$3 what=$4 filter=$5 from to got
    from=$(epoch_us "$6")
    to=$(epoch_us "$7")
    got=$(tcpdump -nn -tt -r "$WORK/$cap.pcap" "$filter" 2>/dev/null |
        awk -v f="$from" -v t="$to" '{ split($1, p, "."); us = (p[1] p[2]) + 0; if (us >= f + 0 && us < t + 0) n++ } END { print n + 0 }')
    if { [[ $op == "==" ]] && ((got == want)); } || { [[ $op == ">=" ]] && ((got >= want)); }; then
        printf '  ok   %-58s %3d %s %d\n' "$what" "$got" "$op" "$want" >&2
    else
        printf '  FAIL %-58s %3d, want %s %d   [%s, %s to %s]\n' "$what" "$got" "$op" "$want" "$filter" "$6" "$7" >&2
        FAILED_EXPECT=1
    fi
}

# expect_first CAPTURE DESCRIPTION FILTER TIME: the first packet matching
# FILTER is at TIME exactly (ISO 8601, UTC, whole seconds).
expect_first() {
    local cap=$1 what=$2 filter=$3 want got
    want=$(epoch_us "$4")
    got=$(tcpdump -nn -tt -c 1 -r "$WORK/$cap.pcap" "$filter" 2>/dev/null | awk '{ sub(/\./, "", $1); print $1; exit }')
    if [[ $got == "$want" ]]; then
        printf '  ok   %-58s at %s\n' "$what" "$4" >&2
    else
        printf '  FAIL %-58s at %s, want %s   [%s]\n' "$what" "${got:-nothing}" "$4" "$filter" >&2
        FAILED_EXPECT=1
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
    SUMMARY+=("$(printf '%-32s %5d packets %8d bytes' "$cap.pcap" "$n" "$size")")
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
# Detection scenarios (issue 3): each capture has a site file in
# captures/sites/<name>.yaml and its expected alerts in
# captures/expected/<name>.tsv, written from the design below (see
# captures/README.md).  They are moved to fixed dates in November 2026, before
# the other captures are recorded, so a replay of the whole captures/
# directory with captures/site.yaml sees them in this order:
#   nat-forgotten-mapping       Fri 2026-11-06 23:40   (first packet of the replay)
#   maintenance-window-allowed  Sat 2026-11-07 02:00   (inside the window Sat 01:00-05:00)
#   inbound-scan                Sat 2026-11-07 14:00
#   new-service-after-learning  Sat 2026-11-07 23:00 and Sun 2026-11-08 01:00
#   dormant-wakeup              Mon 2026-11-09 08:00 .. Fri 2026-11-13 10:45
#   decommissioned-arp          Sun 2026-11-15 03:00
#   idle-host-scan              Sat 2026-11-07 06:00 (background) and Mon 2026-11-16 01:30
# The site's learning period (24 h in captures/site.yaml) ends between the two
# halves of new-service-after-learning, so everything served to the outside
# before it is learned, and 8443 after it is new; the idle camera's usual
# peers (its DNS and NTP server) are learned too.
# ---------------------------------------------------------------------------

NFM_START=2026-11-06T23:40:00Z
MWA_START=2026-11-07T02:00:00Z
INS_START=2026-11-07T14:00:00Z
NSL_START=2026-11-07T23:00:00Z
NSL_AFTER=2026-11-08T01:00:00Z
DW_DAY0=2026-11-09T08:00:00Z
DW_DAY2=2026-11-11T08:00:00Z
DW_WAKE=2026-11-13T10:30:00Z
DW_LATER=2026-11-13T10:45:00Z
DA_START=2026-11-15T03:00:00Z
IHS_LEARN=2026-11-07T06:00:00Z
IHS_START=2026-11-16T01:30:00Z

# A NAT gateway in front of an inside switch with a SPAN port: the gateway's
# eth0 (INSIDE_ADDR) is on the switch, its wan0 (203.0.113.10) is linked to
# one outside host (OUTSIDE_ADDR, namespace OUTSIDE), and nftables DNATs
# 203.0.113.10:EXT_PORT to SERVER_ADDR:22, where an SSH-like banner server
# listens.  The sensor is on the inside, so it sees the translated flow.
# nat_site PREFIX INSIDE_NET(x.y.z) EXT_PORT OUTSIDE OUTSIDE_ADDR
nat_site() {
    local p=$1 net=$2 ext=$3 outside=$4 outside_addr=$5
    switch_create "$p-sw"
    router "$p-gw"
    hosts "$p-srv" "$outside"
    switch_host "$p-sw" "$p-gw" "$net.1/24"
    switch_host "$p-sw" "$p-srv" "$net.30/24"
    route "$p-srv" default via "$net.1"
    wan_link "$p-gw" 203.0.113.10 "$outside" "$outside_addr"
    route "$outside" default via 203.0.113.10 dev eth0
    nft_apply "$p-gw" "table ip iwcap_nat {
        chain prerouting {
            type nat hook prerouting priority dstnat; policy accept;
            iifname \"wan0\" ip daddr 203.0.113.10 tcp dport $ext dnat to $net.30:22
        }
        chain postrouting {
            type nat hook postrouting priority srcnat; policy accept;
            oifname \"wan0\" masquerade
        }
    }"
    bg "$p-srv" banner "$PY" "$HELPER" banner-server --bind 0.0.0.0 --port 22
}

# nat-forgotten-mapping.pcap: a vendor's SSH mapping 203.0.113.10:2222 ->
# 10.30.0.30:22 that expired in June and was never removed, used from
# 192.0.2.66 (not the vendor's network) for a session.  Captured on the
# inside switch's SPAN port.
#   nfm-gw   10.30.0.1 (inside) / 203.0.113.10 (wan0)   NAT gateway, DNAT 2222 -> 10.30.0.30:22
#   nfm-jump 10.30.0.5    jump host, internal SSH user (benign)
#   nfm-srv  10.30.0.30   erp-app, SSH-like banner server on 22
#   nfm-att  192.0.2.66   attacker, outside (not captured directly)
scenario_nat_forgotten_mapping() {
    local cap=nat-forgotten-mapping
    nat_site nfm 10.30.0 2222 nfm-att 192.0.2.66
    hosts nfm-jump
    switch_host nfm-sw nfm-jump 10.30.0.5/24
    switch_span nfm-sw nfm-ids
    wait_listen nfm-srv tcp 22
    settle

    capture_start nfm-ids span0 "$cap"
    run nfm-jump "$PY" "$HELPER" guess-client --to 10.30.0.30 --port 22 --count 1 --line "ops: uptime"; gap 0.5
    run nfm-att "$PY" "$HELPER" guess-client --to 203.0.113.10 --port 2222 --count 1 --line "root:Vendor2019!"
    capture_stop
    retime $cap --start "$NFM_START"

    local S=10.30.0.30 J=10.30.0.5 X=192.0.2.66 GWMAC=02:1d:77:1e:00:01
    expect $cap == 4  "ARP: jump host and gateway resolve the server"   "arp"
    expect $cap == 1  "ARP request from the gateway"                   "arp and arp[14:4] = 0x0a1e0001 and arp[6:2] = 1"
    expect $cap == 1  "internal SYN jump -> server:22"                 "src $J and dst $S and tcp dst port 22 and tcp[tcpflags] = tcp-syn"
    expect $cap == 10 "internal session packets"                       "host $J and tcp port 22"
    expect $cap == 1  "outside SYN 192.0.2.66 -> server:22 (after DNAT)" "src $X and dst $S and tcp dst port 22 and tcp[tcpflags] = tcp-syn"
    expect $cap == 1  "SYN-ACK server -> 192.0.2.66"                   "src $S and dst $X and tcp[tcpflags] = tcp-syn|tcp-ack"
    expect $cap ">=" 1 "banner server -> 192.0.2.66 (data)"            "src $S and dst $X and tcp[tcpflags] & tcp-push != 0"
    expect $cap ">=" 1 "line 192.0.2.66 -> server (data)"              "src $X and dst $S and tcp[tcpflags] & tcp-push != 0"
    expect $cap == 2  "FINs in the outside session"                    "host $X and tcp[tcpflags] & tcp-fin != 0"
    expect $cap == 10 "outside session packets"                        "host $X and tcp port 22"
    expect $cap == 0  "outside frames not via the gateway's MAC"       "host $X and not ether host $GWMAC"
    expect $cap == 0  "the public address or port 2222 (pre-NAT)"      "host 203.0.113.10 or tcp port 2222"
    expect $cap == 0  "RST"                                            "tcp[tcpflags] & tcp-rst != 0"
    expect_first  $cap "first packet (retimed)"                        "" "$NFM_START"
    expect_window $cap == 24 "all packets within 10 s of the start"    "" "$NFM_START" 2026-11-06T23:40:10Z
    expect_total $cap 24
    publish $cap
}

# maintenance-window-allowed.pcap: the vendor (198.51.100.7, an allowed
# source) uses the mapping 203.0.113.10:2223 -> 10.31.0.30:22 on Saturday
# 2026-11-14 02:00 UTC, inside its window "Sat 01:00-05:00", before it
# expires: must stay silent.
#   mwa-gw  10.31.0.1 / 203.0.113.10   mwa-srv 10.31.0.30   mwa-vnd 198.51.100.7
scenario_maintenance_window_allowed() {
    local cap=maintenance-window-allowed
    nat_site mwa 10.31.0 2223 mwa-vnd 198.51.100.7
    switch_span mwa-sw mwa-ids
    wait_listen mwa-srv tcp 22
    settle

    capture_start mwa-ids span0 "$cap"
    run mwa-vnd "$PY" "$HELPER" guess-client --to 203.0.113.10 --port 2223 --count 1 --line "vendor: ticket 4711 firmware check"
    capture_stop
    retime $cap --start "$MWA_START"

    local S=10.31.0.30 V=198.51.100.7
    expect $cap == 2  "ARP: gateway resolves the server"               "arp"
    expect $cap == 1  "SYN 198.51.100.7 -> server:22 (after DNAT)"     "src $V and dst $S and tcp dst port 22 and tcp[tcpflags] = tcp-syn"
    expect $cap == 1  "SYN-ACK"                                        "src $S and dst $V and tcp[tcpflags] = tcp-syn|tcp-ack"
    expect $cap ">=" 1 "banner (data server -> vendor)"                "src $S and dst $V and tcp[tcpflags] & tcp-push != 0"
    expect $cap ">=" 1 "line (data vendor -> server)"                  "src $V and dst $S and tcp[tcpflags] & tcp-push != 0"
    expect $cap == 10 "session packets"                                "host $V and tcp port 22"
    expect $cap == 0  "the public address or port 2223 (pre-NAT)"      "host 203.0.113.10 or tcp port 2223"
    expect $cap == 0  "RST"                                            "tcp[tcpflags] & tcp-rst != 0"
    expect_first  $cap "first packet (retimed)"                        "" "$MWA_START"
    expect_window $cap == 12 "all packets within 10 s (Sat, in 01:00-05:00)" "" "$MWA_START" 2026-11-07T02:00:10Z
    expect_total $cap 12
    publish $cap
}

# inbound-scan.pcap: an outside scanner (192.0.2.77) sweeps port 80 of 40
# inside addresses (10.70.0.20-59) through the site's router (no NAT).
# Captured on the EDGE switch, between the router's outside leg and the
# scanner, so every probe is seen, also those to addresses where nothing
# lives (the router answers those with ICMP host unreachable).
#   ins-scan 192.0.2.77                       ins-rtr 203.0.113.1 (wan0) / 10.70.0.1
#   ins-web  10.70.0.21  HTTP on 80 (answers)  ins-ws  10.70.0.22  nothing on 80 (RST)
#   ins-fw   10.70.0.23  drops TCP 80 (nftables): no answer
scenario_inbound_scan() {
    local cap=inbound-scan www
    www=$(www_root)
    switch_create ins-edge
    switch_create ins-lan
    router ins-rtr
    hosts ins-scan ins-web ins-ws ins-fw
    switch_attach ins-edge ins-rtr wan0 203.0.113.1/24
    switch_host ins-lan ins-rtr 10.70.0.1/24
    switch_host ins-edge ins-scan 192.0.2.77/24
    route ins-scan 10.70.0.0/24 via 203.0.113.1 dev eth0 onlink
    route ins-rtr 192.0.2.0/24 dev wan0
    local h
    for h in ins-web:21 ins-ws:22 ins-fw:23; do
        switch_host ins-lan "${h%:*}" "10.70.0.${h#*:}/24"
        route "${h%:*}" default via 10.70.0.1
    done
    # the router gives up on an address that does not answer ARP after
    # 3 x 100 ms (not 3 s) and answers every such probe with ICMP host
    # unreachable (no ICMP rate limit), so each probe has the same fate on
    # every run
    ns_sysctl ins-rtr net.ipv4.neigh.eth0.retrans_time_ms=100 net.ipv4.icmp_ratelimit=0
    nft_apply ins-fw 'table inet iwcap_filter {
        chain input {
            type filter hook input priority filter; policy accept;
            tcp dport 80 drop
        }
    }'
    switch_span ins-edge ins-ids
    bg ins-web http "$PY" -m http.server 80 --bind 0.0.0.0 --directory "$www"
    wait_listen ins-web tcp 80
    settle

    capture_start ins-ids span0 "$cap"
    run ins-scan "$PY" "$HELPER" sweep --to 10.70.0.20-10.70.0.59 --port 80 --wait 0.8
    capture_stop
    retime $cap --start "$INS_START"

    local X=192.0.2.77 R=203.0.113.1
    expect $cap == 2  "ARP: scanner resolves the router"               "arp"
    expect $cap == 40 "SYNs from the scanner (one per address)"        "src $X and dst net 10.70.0.0/24 and tcp dst port 80 and tcp[tcpflags] = tcp-syn"
    expect $cap == 1  "SYNs to 10.70.0.20 (first)"                     "src $X and dst 10.70.0.20 and tcp[tcpflags] = tcp-syn"
    expect $cap == 1  "SYNs to 10.70.0.59 (last)"                      "src $X and dst 10.70.0.59 and tcp[tcpflags] = tcp-syn"
    expect $cap == 1  "SYN-ACK from the web server 10.70.0.21"         "src 10.70.0.21 and tcp[tcpflags] = tcp-syn|tcp-ack"
    expect $cap == 3  "scanner to 10.70.0.21: SYN, ACK, RST"           "src $X and dst 10.70.0.21"
    expect $cap == 1  "RST-ACK from 10.70.0.22 (closed)"               "src 10.70.0.22 and tcp[tcpflags] = tcp-rst|tcp-ack"
    expect $cap == 1  "10.70.0.23: SYN only (dropped)"                 "host 10.70.0.23"
    expect $cap == 37 "ICMP host unreachable from the router"          "src $R and dst $X and icmp[icmptype] = icmp-unreach and icmp[icmpcode] = 1"
    expect $cap == 2  "anything else from inside addresses"            "src net 10.70.0.0/24"
    expect $cap == 0  "data"                                           "tcp[tcpflags] & tcp-push != 0"
    expect_first  $cap "first packet (retimed)"                        "" "$INS_START"
    expect_window $cap == 83 "all packets within 5 s"                  "" "$INS_START" 2026-11-07T14:00:05Z
    expect_total $cap 83
    publish $cap
}

# new-service-after-learning.pcap: a server behind the site's router (no NAT)
# serves 443 to an outside client during the learning period (23:00, period
# 1 h in its site file), then, after it (01:00 next day), serves 443 again
# (learned: silent) and 8443 (never served before: new-inbound-service) to a
# second outside client.  Two segments, retimed.  Captured on the inside SPAN.
#   nsl-rtr 10.80.0.1 / 203.0.113.2 (wan0)   nsl-srv 10.80.0.40  HTTP on 443 and 8443
#   nsl-c1  192.0.2.80   nsl-c2 192.0.2.81   outside clients
scenario_new_service_after_learning() {
    local cap=new-service-after-learning www m
    www=$(www_root)
    switch_create nsl-sw
    switch_create nsl-inet
    router nsl-rtr
    hosts nsl-srv nsl-c1 nsl-c2
    switch_host nsl-sw nsl-rtr 10.80.0.1/24
    switch_attach nsl-inet nsl-rtr wan0 203.0.113.2/24
    switch_host nsl-sw nsl-srv 10.80.0.40/24
    route nsl-srv default via 10.80.0.1
    route nsl-rtr 192.0.2.0/24 dev wan0
    switch_host nsl-inet nsl-c1 192.0.2.80/24
    switch_host nsl-inet nsl-c2 192.0.2.81/24
    route nsl-c1 10.80.0.0/24 via 203.0.113.2 dev eth0 onlink
    route nsl-c2 10.80.0.0/24 via 203.0.113.2 dev eth0 onlink
    switch_span nsl-sw nsl-ids
    bg nsl-srv https "$PY" -m http.server 443 --bind 0.0.0.0 --directory "$www"
    bg nsl-srv alt "$PY" -m http.server 8443 --bind 0.0.0.0 --directory "$www"
    wait_listen nsl-srv tcp 443
    wait_listen nsl-srv tcp 8443
    settle

    capture_start nsl-ids span0 "$cap"
    run nsl-c1 "$PY" "$HELPER" http-get --to 10.80.0.40 --port 443; gap 0.5
    flush_neighbours nsl-rtr nsl-srv; gap 0.1
    m=$(mark_time); gap 0.1
    run nsl-c2 "$PY" "$HELPER" http-get --to 10.80.0.40 --port 443; gap
    run nsl-c2 "$PY" "$HELPER" http-get --to 10.80.0.40 --port 8443
    capture_stop
    retime $cap --start "$NSL_START" --segment "$m=$NSL_AFTER"

    local S=10.80.0.40 C1=192.0.2.80 C2=192.0.2.81
    expect $cap == 4  "ARP: the router resolves the server twice"      "arp"
    expect $cap == 1  "SYN c1 -> server:443"                           "src $C1 and dst $S and tcp dst port 443 and tcp[tcpflags] = tcp-syn"
    expect $cap == 1  "SYN c2 -> server:443"                           "src $C2 and dst $S and tcp dst port 443 and tcp[tcpflags] = tcp-syn"
    expect $cap == 1  "SYN c2 -> server:8443"                          "src $C2 and dst $S and tcp dst port 8443 and tcp[tcpflags] = tcp-syn"
    expect $cap == 1  "SYN-ACK server:8443 -> c2"                      "src $S and tcp src port 8443 and tcp[tcpflags] = tcp-syn|tcp-ack"
    expect $cap == 36 "HTTP packets (3 sessions of 12)"                "tcp"
    expect $cap == 0  "RST"                                            "tcp[tcpflags] & tcp-rst != 0"
    expect_first  $cap "first packet (retimed)"                        "" "$NSL_START"
    expect_window $cap == 14 "learning half: 23:00:00-23:00:10"        "" "$NSL_START" 2026-11-07T23:00:10Z
    expect_window $cap == 26 "after learning: 01:00:00-01:00:10"       "" "$NSL_AFTER" 2026-11-08T01:00:10Z
    expect_window $cap == 0  "8443 during the learning half"           "tcp port 8443" "$NSL_START" "$NSL_AFTER"
    expect_total $cap 40
    publish $cap
}

# dormant-wakeup.pcap: 10.60.0.25 (in no inventory) fetches a page on day 0,
# is silent for more than 4 days while the others keep working, then
# originates a connection again.  Four segments, retimed:
#   A Mon 2026-11-09 08:00  workstation and 10.60.0.25 fetch a page
#   B Wed 2026-11-11 08:00  workstation fetches a page
#   C Fri 2026-11-13 10:30  10.60.0.25 wakes up: ARP, then a page (silent for ~98.5 h)
#   D Fri 2026-11-13 10:45  workstation fetches a page
# ARP caches are flushed between segments, as days would.
#   dw-srv 10.60.0.10  file server, HTTP on 8080   dw-ws 10.60.0.11 workstation
#   dw-old 10.60.0.25  the sleeper
scenario_dormant_wakeup() {
    local cap=dormant-wakeup www m1 m2 m3
    www=$(www_root)
    switch_create dw-sw
    hosts dw-srv dw-ws dw-old
    switch_host dw-sw dw-srv 10.60.0.10/24
    switch_host dw-sw dw-ws 10.60.0.11/24
    switch_host dw-sw dw-old 10.60.0.25/24
    switch_span dw-sw dw-ids
    bg dw-srv http "$PY" -m http.server 8080 --bind 0.0.0.0 --directory "$www"
    wait_listen dw-srv tcp 8080
    settle

    capture_start dw-ids span0 "$cap"
    run dw-ws "$PY" "$HELPER" http-get --to 10.60.0.10 --port 8080; gap
    run dw-old "$PY" "$HELPER" http-get --to 10.60.0.10 --port 8080; gap 0.5
    flush_neighbours dw-srv dw-ws dw-old; gap 0.1; m1=$(mark_time); gap 0.1
    run dw-ws "$PY" "$HELPER" http-get --to 10.60.0.10 --port 8080; gap 0.5
    flush_neighbours dw-srv dw-ws dw-old; gap 0.1; m2=$(mark_time); gap 0.1
    run dw-old "$PY" "$HELPER" http-get --to 10.60.0.10 --port 8080; gap 0.5
    flush_neighbours dw-srv dw-ws dw-old; gap 0.1; m3=$(mark_time); gap 0.1
    run dw-ws "$PY" "$HELPER" http-get --to 10.60.0.10 --port 8080
    capture_stop
    retime $cap --start "$DW_DAY0" --segment "$m1=$DW_DAY2" --segment "$m2=$DW_WAKE" --segment "$m3=$DW_LATER"

    local S=10.60.0.10 W=10.60.0.11 O=10.60.0.25 OMAC=02:1d:77:3c:00:19
    expect $cap == 10 "ARP: one request + reply per client fetch"      "arp"
    expect $cap == 2  "SYNs from 10.60.0.25"                           "src $O and tcp[tcpflags] = tcp-syn"
    expect $cap == 3  "SYNs from the workstation"                      "src $W and tcp[tcpflags] = tcp-syn"
    expect $cap == 60 "HTTP packets (5 sessions of 12)"                "tcp port 8080"
    expect $cap == 0  "RST"                                            "tcp[tcpflags] & tcp-rst != 0"
    expect_first  $cap "first packet (retimed, day 0)"                 "" "$DW_DAY0"
    expect_window $cap == 14 "10.60.0.25 on day 0 (ARP + HTTP, both ways)" "host $O or arp host $O" "$DW_DAY0" 2026-11-09T08:00:10Z
    expect_window $cap == 0  "frames from 10.60.0.25 day 0 +10 s .. wake" "ether src $OMAC" 2026-11-09T08:00:10Z "$DW_WAKE"
    expect_window $cap == 14 "segment B: workstation only"             "" "$DW_DAY2" 2026-11-11T08:00:10Z
    expect_window $cap == 0  "anything between the segments"           "" 2026-11-09T08:00:10Z "$DW_DAY2"
    expect_window $cap == 1  "10.60.0.25 wakes: ARP request for the server" "ether src $OMAC and arp[6:2] = 1 and arp[24:4] = 0x0a3c000a" "$DW_WAKE" 2026-11-13T10:30:10Z
    expect_window $cap == 1  "10.60.0.25's wake-up SYN"                "src $O and tcp[tcpflags] = tcp-syn" "$DW_WAKE" 2026-11-13T10:30:10Z
    expect_window $cap == 14 "segment D: workstation only"             "" "$DW_LATER" 2026-11-13T10:45:10Z
    expect_total $cap 70
    publish $cap
}

# decommissioned-arp.pcap: old-erp (10.50.0.20, decommissioned but still
# powered and cabled) pings its old gateway 10.50.0.254, which no longer
# exists: 3 unanswered ARP requests; then its
# DHCP client sends one DISCOVER asking for its old address.  Before that,
# an active host pings the real gateway (benign).
#   da-gw 10.50.0.1 gateway   da-mon 10.50.0.30 monitoring   da-old 10.50.0.20 old-erp
scenario_decommissioned_arp() {
    local cap=decommissioned-arp
    switch_create da-sw
    hosts da-gw da-mon da-old
    switch_host da-sw da-gw 10.50.0.1/24
    switch_host da-sw da-mon 10.50.0.30/24
    switch_host da-sw da-old 10.50.0.20/24
    route da-old default via 10.50.0.254
    switch_span da-sw da-ids
    settle

    capture_start da-ids span0 "$cap"
    run da-mon ping -c 2 -i 0.2 -W 1 10.50.0.1; gap 0.5
    # no answer: the kernel sends 3 ARP requests, 1 s apart, and gives up;
    # the echo request itself never reaches the wire
    run_may_fail da-old ping -c 1 -W 4 10.50.0.254; gap 0.5
    run da-old "$PY" "$HELPER" dhcp-discover --interface eth0 --requested 10.50.0.20 --hostname old-erp
    capture_stop
    retime $cap --start "$DA_START"

    local OLD=10.50.0.20 OMAC=02:1d:77:32:00:14
    expect $cap == 3  "ARP who-has 10.50.0.254 tell 10.50.0.20"        "arp and arp[6:2] = 1 and arp[14:4] = 0x0a320014 and arp[24:4] = 0x0a3200fe"
    expect $cap == 0  "ARP replies for 10.50.0.254"                    "arp and arp[6:2] = 2 and arp[14:4] = 0x0a3200fe"
    expect $cap == 5  "ARP total (2 for the ping, 3 unanswered)"       "arp"
    expect $cap == 4  "ICMP echo monitoring <-> gateway"               "icmp and host 10.50.0.30 and host 10.50.0.1"
    expect $cap == 1  "DHCPDISCOVER 0.0.0.0:68 -> 255.255.255.255:67"  "src 0.0.0.0 and dst 255.255.255.255 and udp src port 68 and udp dst port 67 and udp[8] = 1"
    expect $cap == 1  "... option 50 (requested address) = 10.50.0.20" "udp dst port 67 and udp[244:4] = 0x63825363 and udp[260:2] = 0x3204 and udp[262:4] = 0x0a320014"
    expect $cap == 0  "IP packets from 10.50.0.20"                     "ip src $OLD"
    expect $cap == 4  "all frames from old-erp's MAC"                  "ether src $OMAC"
    expect $cap == 0  "DHCP answers"                                   "udp src port 67"
    expect_first  $cap "first packet (retimed)"                        "" "$DA_START"
    expect_window $cap == 10 "all packets within 10 s"                 "" "$DA_START" 2026-11-15T03:00:10Z
    expect_total $cap 10
    publish $cap
}

# idle-host-scan.pcap: a camera (10.40.0.21, declared idle, allowed ARP, DNS
# and NTP) resolves its NTP server's name and asks it for the time, on
# Saturday (during the learning period: its background) and again nine days
# later, when it then connect-scans 20 TCP ports of the video recorder
# 10.40.0.10 (one open).  Two segments, retimed.
#   ihs-nvr 10.40.0.10  NVR, HTTP on 80   ihs-dns 10.40.0.53  DNS (53/udp) + NTP (123/udp)
#   ihs-cam 10.40.0.21  the camera
IHS_PORTS=21,22,23,25,80,110,135,139,143,443,445,554,1883,3306,3389,5900,8000,8080,8443,37777
scenario_idle_host_scan() {
    local cap=idle-host-scan www
    www=$(www_root)
    switch_create ihs-sw
    hosts ihs-nvr ihs-dns ihs-cam
    switch_host ihs-sw ihs-nvr 10.40.0.10/24
    switch_host ihs-sw ihs-dns 10.40.0.53/24
    switch_host ihs-sw ihs-cam 10.40.0.21/24
    switch_span ihs-sw ihs-ids
    bg ihs-nvr http "$PY" -m http.server 80 --bind 0.0.0.0 --directory "$www"
    bg ihs-dns dns "$PY" "$HELPER" dns-server --record time.camera-vendor.example=10.40.0.53
    bg ihs-dns ntp "$PY" "$HELPER" ntp-server
    wait_listen ihs-nvr tcp 80
    wait_listen ihs-dns udp 53
    wait_listen ihs-dns udp 123
    settle

    local m
    capture_start ihs-ids span0 "$cap"
    run ihs-cam "$PY" "$HELPER" dns-query --to 10.40.0.53 --name time.camera-vendor.example; gap
    run ihs-cam "$PY" "$HELPER" ntp-query --to 10.40.0.53; gap 0.5
    flush_neighbours ihs-cam ihs-dns ihs-nvr; gap 0.1; m=$(mark_time); gap 0.1
    run ihs-cam "$PY" "$HELPER" dns-query --to 10.40.0.53 --name time.camera-vendor.example; gap
    run ihs-cam "$PY" "$HELPER" ntp-query --to 10.40.0.53; gap 0.5
    run ihs-cam "$PY" "$HELPER" connect-scan --to 10.40.0.10 --ports "$IHS_PORTS" --timeout 0.5
    capture_stop
    retime $cap --start "$IHS_LEARN" --segment "$m=$IHS_START"

    local C=10.40.0.21 N=10.40.0.10 D=10.40.0.53
    expect $cap == 6  "ARP: camera resolves the resolver (x2), the NVR" "arp"
    expect $cap == 2  "DNS queries camera -> resolver"                 "src $C and dst $D and udp dst port 53"
    expect $cap == 2  "DNS answers (1 A record)"                       "src $D and dst $C and udp src port 53 and udp[10:2] & 0x800f = 0x8000 and udp[14:2] = 1"
    expect $cap == 2  "NTP requests (mode 3)"                          "src $C and dst $D and udp dst port 123 and udp[8] & 7 = 3"
    expect $cap == 2  "NTP answers (mode 4)"                           "src $D and dst $C and udp src port 123 and udp[8] & 7 = 4"
    expect $cap == 20 "scan SYNs camera -> NVR (one per port)"         "src $C and dst $N and tcp[tcpflags] = tcp-syn"
    expect $cap == 19 "RST-ACK from closed ports"                      "src $N and dst $C and tcp[tcpflags] = tcp-rst|tcp-ack"
    expect $cap == 1  "SYN-ACK from port 80"                           "src $N and tcp src port 80 and tcp[tcpflags] = tcp-syn|tcp-ack"
    expect $cap == 4  "all packets on port 80"                         "tcp port 80"
    expect $cap == 42 "all scan packets"                               "tcp"
    expect $cap == 0  "data in the scan"                               "tcp[tcpflags] & tcp-push != 0"
    expect $cap == 0  "anything but ARP, DNS, NTP and the scan"        "not arp and not udp port 53 and not udp port 123 and not (host $C and host $N and tcp)"
    expect_first  $cap "first packet (retimed, background)"            "" "$IHS_LEARN"
    expect_window $cap == 6  "background: ARP, DNS, NTP within 10 s"   "" "$IHS_LEARN" 2026-11-07T06:00:10Z
    expect_window $cap == 0  "anything between the segments"           "" 2026-11-07T06:00:10Z "$IHS_START"
    expect_window $cap == 50 "second segment: chatter + scan in 10 s"  "" "$IHS_START" 2026-11-16T01:30:10Z
    expect_window $cap == 42 "the scan, all in the second segment"     "tcp" "$IHS_START" 2026-11-16T01:30:10Z
    expect_total $cap 56
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

    install_traps
    ensure_tools
    teardown_namespaces
    cleanup_stale_bpffs
    cleanup_stale_work
    make_work_dir
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
