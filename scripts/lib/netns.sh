# shellcheck shell=bash
# scripts/lib/netns.sh: network-namespace topology helpers shared by
# scripts/make-captures.sh (records the sample captures) and
# scripts/live-e2e.sh (the live end-to-end test).  Sourced, never run.
#
# Every namespace is named by a short name; the real netns is $PREFIX<name>.
# Links are created directly inside namespaces (nothing ever exists in the
# root namespace); a "switch" is a namespace holding a dumb learning bridge
# br0, optionally with a SPAN port span0 that every host port is mirrored to.
#
# Contract
# --------
# The caller, before sourcing (the library checks the first three):
#   PREFIX              namespace/link/work-directory prefix, e.g. iwcap-
#   NETNS_MAC_PREFIX    first 3 octets of the MACs alloc_mac hands out
#                       (e.g. 02:1d:78), one per script so they never clash
#   NETNS_IPV6          1: namespaces that ns_create (and switch_attach)
#                       create without an explicit mode have IPv6 on;
#                       0: they are IPv4-only
#   NETNS_WORK_TAG      optional (default empty): the work directory is
#                       /tmp/<PREFIX><NETNS_WORK_TAG>XXXXXX
#   NETNS_EXTRA_TOOLS   optional array of TOOL=DEBIAN-PACKAGE that
#                       ensure_tools checks besides the common ones
#   log, die            functions: log MESSAGE... (to fd 3), die MESSAGE...
#                       (log it and exit 1)
#   fd 3                open on the script's real stderr (messages that must
#                       not land in a log file a step redirects to)
# The caller defines, for cleanup (the EXIT trap of install_traps):
#   stop_processes      stop every process the script started (usually with
#                       stop_bg_processes, plus its own tcpdump etc.)
#   cleanup_work        remove (or keep) what the script made besides
#                       namespaces and processes: WORK, mounts, ...
# Environment read: IN_NS_TIMEOUT (seconds, default 20) bounds in_ns.
#
# Globals this library sets (initialized when sourced; the caller may read
# them, and must not assign them otherwise):
#   WORK      the work directory (make_work_dir); bg and step_exec write
#             their logs there (LABEL.log, steps.log)
#   PY        the real python3 binary (ensure_tools)
#   PIDS      background processes started with bg (stop_bg_processes
#             empties it)
#   MAC_SEQ, MAC   alloc_mac's sequence and result
#   STEP_RC   exit status of the last step_exec
#
# Provides: setup and cleanup (ensure_tools, teardown_namespaces,
# stop_bg_processes, cleanup, install_traps, make_work_dir,
# cleanup_stale_work), namespaces and links (ns, in_ns, ns_sysctl, ns_create,
# ns_exists, mac_for, alloc_mac, if_prepare, veth, addr, up, route,
# ns_forwarding, router, nft_apply), switches (bridge_create, bridge_port,
# mirror_ingress, switch_create, switch_attach, switch_span) and processes
# (bg, wait_listen, step_exec, step_failure).  What a failed client step
# means (run, run_may_fail) is each script's own policy.
#
# Nothing here changes shell options: the caller runs with
# set -Eeuo pipefail, and every helper is written for that.

: "${PREFIX:?set PREFIX before sourcing lib/netns.sh}"
: "${NETNS_MAC_PREFIX:?set NETNS_MAC_PREFIX before sourcing lib/netns.sh}"
: "${NETNS_IPV6:?set NETNS_IPV6 (1 or 0) before sourcing lib/netns.sh}"
NETNS_WORK_TAG=${NETNS_WORK_TAG-}
[[ -v NETNS_EXTRA_TOOLS ]] || NETNS_EXTRA_TOOLS=()
if ! declare -F log die >/dev/null; then
    echo "lib/netns.sh: define log and die before sourcing it" >&2
    return 1
fi

WORK=""          # temporary work directory (logs, captures in progress)
# shellcheck disable=SC2034  # read by the callers
PY=""            # the real python3 binary
PIDS=()          # background processes this run started (bg)
MAC_SEQ=0
MAC=""
STEP_RC=0

# ---------------------------------------------------------------------------
# Setup and cleanup
# ---------------------------------------------------------------------------

# ensure_tools: install the Debian packages of missing tools (the common
# ones and NETNS_EXTRA_TOOLS) with apt-get; set PY.
ensure_tools() {
    local -A pkg_of=(
        [tcpdump]=tcpdump [ip]=iproute2 [tc]=iproute2 [ss]=iproute2
        [nft]=nftables [ethtool]=ethtool [ping]=iputils-ping
        [python3]=python3 [timeout]=coreutils
    )
    local tool pkgs=()
    for tool in "${NETNS_EXTRA_TOOLS[@]}"; do pkg_of[${tool%%=*}]=${tool#*=}; done
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
    # shellcheck disable=SC2034  # read by the callers
    PY=$(python3 -c 'import sys; print(sys.executable)')
}

# teardown_namespaces: kill every process still running in one of our
# namespaces and delete the namespaces (their veths, bridges, tc filters and
# nftables rules go with them).  Used before a run (leftovers of an
# interrupted run), between scenarios and at exit.
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
            if [[ -n $pids ]]; then
                # shellcheck disable=SC2086
                kill -KILL $pids 2>/dev/null || true
            fi
        fi
        ip netns del "$ns" 2>/dev/null || true
    done
    # links are always created directly inside namespaces, but be thorough
    for ns in $(ip -o link show 2>/dev/null | awk -F': ' -v p="$PREFIX" '{sub(/@.*/, "", $2)} index($2, p) == 1 {print $2}'); do
        ip link del "$ns" 2>/dev/null || true
    done
}

# stop_bg_processes [PID...]: SIGTERM to the given processes (empty
# arguments are skipped) and to those in PIDS, all at once, then wait for
# each of them; empties PIDS.
stop_bg_processes() {
    local pid
    for pid in "$@" "${PIDS[@]}"; do
        [[ -n $pid ]] || continue
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "$@" "${PIDS[@]}"; do
        [[ -n $pid ]] || continue
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}

# cleanup: the EXIT trap (install_traps): the caller's stop_processes, then
# teardown_namespaces, then the caller's cleanup_work; exits with the
# status the script was exiting with.
cleanup() {
    local rc=$?
    trap - EXIT INT TERM ERR
    stop_processes
    teardown_namespaces
    cleanup_work
    ((rc == 0)) || log "FAILED (exit $rc); everything this run created has been removed"
    exit "$rc"
}

# install_traps: cleanup on exit, whatever ends the script (failure, Ctrl-C,
# SIGTERM); a failing command is reported with its line.
install_traps() {
    trap cleanup EXIT
    trap 'log "interrupted"; exit 130' INT
    trap 'log "terminated"; exit 143' TERM
    trap 'rc=$?; ((rc > 128)) || log "command failed (line $LINENO, exit $rc): $BASH_COMMAND"' ERR
}

# make_work_dir: WORK = a new directory /tmp/<PREFIX><NETNS_WORK_TAG>XXXXXX.
make_work_dir() {
    WORK=$(mktemp -d "/tmp/${PREFIX}${NETNS_WORK_TAG}XXXXXX")
}

# cleanup_stale_work: work directories of an earlier run that was killed
# outright (SIGKILL, power loss).  Call it after teardown_namespaces (so none
# of that run's processes is still running) and after unmounting whatever
# that run may have mounted in them: a directory with anything still mounted
# below it is left alone.
cleanup_stale_work() {
    local d
    for d in /tmp/"$PREFIX$NETNS_WORK_TAG"??????; do
        [[ -d $d && ! -L $d ]] || continue
        awk -v p="$d/" 'index($2, p) == 1 {found = 1} END {exit !found}' /proc/mounts && continue
        rm -rf "$d"
    done
    return 0
}

# ---------------------------------------------------------------------------
# Namespaces and links
# ---------------------------------------------------------------------------

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

# ns_create NAME [ipv6|noipv6]: a namespace with lo up.  noipv6: no IPv6 at
# all, so nothing but the scenario's own IPv4 traffic ever leaves it.  ipv6:
# IPv6 on, but no unsolicited chatter on new links (no DAD, no router
# solicitations, no RA processing).  Without a mode: ipv6 if NETNS_IPV6 is 1,
# else noipv6.
# SYN retransmissions use the classic exponential backoff (1 s, 2 s, 4 s...)
# on every kernel: Linux >= 6.7 defaults to 4 linear (1 s) retries first
# (net.ipv4.tcp_syn_linear_timeouts), which would change the captures.
ns_create() {
    local name=$1 mode=${2:-} c
    if [[ -z $mode ]]; then
        if ((NETNS_IPV6)); then mode=ipv6; else mode=noipv6; fi
    fi
    [[ $mode == ipv6 || $mode == noipv6 ]] || die "ns_create: unknown mode: $mode"
    ip netns add "$(ns "$name")"
    ip -n "$(ns "$name")" link set lo up
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

# alloc_mac: sets MAC to the next MAC of a run-wide sequence
# (NETNS_MAC_PREFIX:00:..), for links whose addresses do not matter (switch
# ports, SPAN links).
alloc_mac() {
    MAC_SEQ=$((MAC_SEQ + 1))
    MAC=$(printf '%s:00:%02x:%02x' "$NETNS_MAC_PREFIX" $((MAC_SEQ / 256)) $((MAC_SEQ % 256)))
}

# if_prepare NAME IF: before the link goes up: no offloads (so a capture
# holds wire-sized frames with correct checksums), no neighbour reachability
# probes during a short run, and, where the link has IPv6, no DAD/RS and
# fast MLD settling.
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
# namespace (created there directly).  Links are left down; use addr and up.
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

# route NAME ROUTE-ARGS...: e.g. route r1 default via 10.0.0.1
route() {
    local name=$1; shift
    ip -n "$(ns "$name")" route add "$@"
}

# ns_forwarding NAME: make a namespace a router (IPv4 forwarding, and IPv6
# forwarding where IPv6 is on), e.g. for NAT/DNAT with nft_apply.
ns_forwarding() {
    ns_sysctl "$1" net.ipv4.ip_forward=1
    [[ $(ip netns exec "$(ns "$1")" cat /proc/sys/net/ipv6/conf/all/disable_ipv6 2>/dev/null || echo 1) == 0 ]] &&
        ns_sysctl "$1" net.ipv6.conf.all.forwarding=1
    return 0
}

# router NAME: an IPv4-only namespace that forwards.
router() {
    ns_create "$1" noipv6
    ns_forwarding "$1"
}

# nft_apply NAME RULESET: load an nftables ruleset (text) in a namespace.
nft_apply() {
    local name=$1 rules=$2
    printf '%s\n' "$rules" | ip netns exec "$(ns "$name")" nft -f -
}

# ---------------------------------------------------------------------------
# Switches and SPAN ports
# ---------------------------------------------------------------------------

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
# The kernel may lack `matchall`, so the filter is a u32 match-all.
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

# switch_attach SW NAME IF [CIDR...]: plug interface IF of namespace NAME
# into switch SW as port p-NAME (so a namespace can have one leg per switch,
# e.g. a router).  The namespace is created if it does not exist (with
# ns_create's default mode: create it first, ns_create NAME noipv6, for an
# IPv4-only host when NETNS_IPV6 is 1).  IF's MAC is derived from the first
# IPv4 address.  When the switch has a SPAN port, the new port is mirrored.
switch_attach() {
    local sw=$1 host=$2 ifc=$3; shift 3
    local mac="" a port="p-$host"
    for a in "$@"; do [[ $a != *:* ]] && { mac=$(mac_for "${a%/*}"); break; }; done
    ns_exists "$host" || ns_create "$host"
    veth "$host" "$ifc" "$sw" "$port" "$mac"
    (($#)) && addr "$host" "$ifc" "$@"
    up "$host" "$ifc"
    bridge_port "$sw" br0 "$port"
    if ip -n "$(ns "$sw")" link show span0 >/dev/null 2>&1; then
        mirror_ingress "$sw" "$port" span0
    fi
}

# switch_span SW SENSOR: a SPAN (mirror) port: every frame entering the
# switch on any host port is copied, once, to span0 in namespace SENSOR
# (IPv6 off, ARP off, no address: a silent sensor).  The ports already on
# the switch are mirrored now, those plugged in later by switch_attach.
# Capture on SENSOR span0.
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

# ---------------------------------------------------------------------------
# Processes in namespaces
# ---------------------------------------------------------------------------

# bg NAME LABEL CMD...: start a background process (a server) in a
# namespace; output goes to WORK/LABEL.log.  Stopped by stop_bg_processes.
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

# step_exec NAME CMD...: the core of a client step (the callers' run and
# run_may_fail, which log it and decide what a failure means): CMD in
# namespace NAME with in_ns, its output appended to WORK/steps.log.  Sets
# STEP_RC to its exit status and always returns 0.
step_exec() {
    local name=$1; shift
    STEP_RC=0
    in_ns "$name" "$@" >>"$WORK/steps.log" 2>&1 || STEP_RC=$?
}

# step_failure: report the failed step: its status and the last 20 lines of
# WORK/steps.log.
step_failure() {
    log "step failed (exit $STEP_RC):"
    tail -n 20 "$WORK/steps.log" >&3
}
