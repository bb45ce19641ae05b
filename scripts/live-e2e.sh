#!/usr/bin/env bash
# live-e2e.sh: the live end-to-end scenario.  Builds a small network of Linux
# network namespaces, runs `idlewatch live` on the SPAN port of its switch
# while real clients and servers generate the traffic of the detection
# scenarios, records the same traffic with tcpdump, and replays the recording
# with `idlewatch replay`.  The comparison (live alerts = replayed alerts =
# captures/live/expected.tsv) is Tests/EndToEndTests/LiveSensorTests.swift's.
#
# Usage: scripts/live-e2e.sh [-n] BINARY OUTDIR
#
#   BINARY   the idlewatch executable (e.g. .build/debug/idlewatch)
#   OUTDIR   created if needed; receives
#              live.json      idlewatch live's standard output (JSON lines)
#              live.err       its standard error (startup line, statistics)
#              live.status    its exit status (0 expected: stopped with SIGTERM)
#              recorded.pcap  tcpdump's recording of span0, taken at the same time
#              tcpdump.err    tcpdump's standard error
#              replay.json    idlewatch replay of recorded.pcap (JSON lines)
#              replay.err     its standard error (summary)
#              logs/          server and client logs of the run
#   -n       no idlewatch: build the network, generate the traffic and record
#            it with tcpdump only (BINARY is not run; recorded.pcap only)
#
# Environment: IWLIVE_SERVICE=auto|sshd|banner chooses erp-app's SSH server:
# a real OpenSSH sshd (auto: when /usr/sbin/sshd is installed and accepts the
# configuration) or scripts/capture-helper.py banner-server.  The expected
# alerts are the same with either.
#
# Needs root, iproute2, tc, nftables, tcpdump, ethtool, python3 (missing
# Debian packages are installed with apt-get, except openssh-server, which is
# optional: see IWLIVE_SERVICE).  Only documentation and private addresses
# are used, on veth links and bridges connected to nothing else: no packet
# leaves the namespaces.  Every namespace (all named iwlive-*), process and
# file this run creates is removed on exit, failure or Ctrl-C; leftovers of an
# earlier run that was killed outright are removed before starting.  Runs are
# serialized with a lock, so two at once cannot tear down each other.
#
# The scenario (captures/live/site.yaml documents the addresses):
#   inside switch iwlive-sw (bridge br0), every port mirrored with
#   `tc ... action mirred egress mirror` to span0, whose other end is span0 in
#   the sensor namespace iwlive-ids (no address, ARP and IPv6 off);
#   outside switch iwlive-inet (not mirrored): the gateway's wan0, the attacker
#   and the vendor.
#   1. the attacker 192.0.2.66 tries the forgotten mapping 203.0.113.10:2222
#      (-> erp-app:22, expired) five times with a wrong key, then logs in with
#      the vendor's leaked key: probe, open, session, and (when the fifth
#      short session ends, 10 s after its last packet) guessing, all `expired`.
#   2. the attacker reaches 203.0.113.10:2323 -> historian:23, a Telnet-like
#      service nobody declared: open and session, `undeclared`.
#   3. the vendor uses its current mapping 203.0.113.10:2223 -> historian:22
#      from its own network: silent.
#   4. jump-host opens an SSH session to erp-app (internal): silent.
#   5. lobby-camera (idle; allowed ARP, DNS, NTP) resolves its NTP server's
#      name and asks it for the time (silent), then connect-scans 20 TCP ports
#      of erp-app (22 open, 19 refused): idle-host-active (first port, 21),
#      then host-scan.
#   6. old-erp (decommissioned) pings its old gateway 10.90.0.254, which does
#      not exist: its ARP requests give decommissioned-host-active.
#   7. the camera's NTP chatter goes on until the attacker's sessions are more
#      than 10 s old, so their flows end by timeout on packet time in the
#      replay just as on the live sensor (and guessing is raised then).

set -Eeuo pipefail

# Signal masks and ignored signals are inherited across fork and exec.  Started
# from a thread that blocks signals (a Swift test runs on dispatch threads,
# which block nearly all), this script and every server, tcpdump and idlewatch
# it starts would never receive SIGTERM or SIGINT.  Start over with none
# blocked and all at their defaults.
if [[ -z ${IWLIVE_SIGNALS_RESET:-} ]] && command -v python3 >/dev/null &&
    ! awk '/^Sig(Blk|Ign):/ && $2 !~ /^0+$/ {found = 1} END {exit found}' /proc/$$/status; then
    export IWLIVE_SIGNALS_RESET=1
    exec python3 -c '
import os, signal, sys
signal.pthread_sigmask(signal.SIG_SETMASK, [])
for s in range(1, signal.NSIG):
    if s not in (signal.SIGKILL, signal.SIGSTOP):
        try:
            signal.signal(s, signal.SIG_DFL)
        except (OSError, ValueError, RuntimeError):
            pass
os.execv("/bin/bash", ["bash"] + sys.argv[1:])' "${BASH_SOURCE[0]}" "$@"
fi

# shellcheck disable=SC2034  # read by lib/netns.sh
PREFIX=iwlive-
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
HELPER=$SCRIPT_DIR/capture-helper.py
SITE=$ROOT_DIR/captures/live/site.yaml
SERVICE_MODE=${IWLIVE_SERVICE:-auto}
RECORD_ONLY=0

OUT=""              # OUTDIR, absolute
BINARY=""
TCPDUMP_PID=""
LIVE_PID=""
CREATED_SSHD_DIR=0

exec 3>&2
log()  { printf '[live-e2e] %s\n' "$*" >&3; }
die()  { log "ERROR: $*"; exit 1; }

# The topology helpers (namespaces, veth links, the switch and its SPAN port,
# background servers; WORK for keys, configurations and logs, PY, PIDS) are
# in lib/netns.sh, shared with scripts/make-captures.sh: its settings.  Every
# namespace is IPv4-only (no IPv6 at all, so nothing but the scenario's own
# traffic leaves it); alloc_mac's MACs are 02:1d:79:00:xx:xx.
# shellcheck disable=SC2034  # read by lib/netns.sh
{
    NETNS_MAC_PREFIX=02:1d:79
    NETNS_IPV6=0
    NETNS_WORK_TAG=work.                   # WORK is /tmp/iwlive-work.XXXXXX
    NETNS_EXTRA_TOOLS=(flock=util-linux)   # the run lock
}
# shellcheck source-path=SCRIPTDIR source=lib/netns.sh
source "$SCRIPT_DIR/lib/netns.sh"

# ---------------------------------------------------------------------------
# Setup and cleanup (with lib/netns.sh's cleanup and install_traps)
# ---------------------------------------------------------------------------

# stop_processes: called by cleanup.
# shellcheck disable=SC2317  # only called by cleanup, the EXIT trap
stop_processes() {
    stop_bg_processes "$TCPDUMP_PID" "$LIVE_PID"
    TCPDUMP_PID="" LIVE_PID=""
}

# cleanup_work: called by cleanup, after the namespaces are gone; the logs
# go to OUTDIR/logs.
# shellcheck disable=SC2317  # only called by cleanup, the EXIT trap
cleanup_work() {
    if ((CREATED_SSHD_DIR)); then rmdir /run/sshd 2>/dev/null || true; fi
    if [[ -n $WORK && -d $WORK ]]; then
        if [[ -n $OUT && -d $OUT ]]; then
            mkdir -p "$OUT/logs"
            cp "$WORK"/*.log "$OUT/logs/" 2>/dev/null || true
        fi
        rm -rf "$WORK"
    fi
}

# ---------------------------------------------------------------------------
# Client steps (lib/netns.sh's step_exec, with this script's policy)
# ---------------------------------------------------------------------------

# run NAME CMD...: a client step; its output goes to steps.log.  A failure
# ends the script (exit 1).
run() {
    log "  [$1] ${*:2}"
    step_exec "$@"
    ((STEP_RC == 0)) || { step_failure; exit 1; }
}

# run_may_fail NAME CMD...: a step whose failure is part of the scenario
# (a refused login, a ping nobody answers); only a timeout is fatal.
run_may_fail() {
    log "  [$1] ${*:2} (may fail)"
    step_exec "$@"
    ((STEP_RC != 124 && STEP_RC != 137)) || die "step timed out"
    return 0
}

# ---------------------------------------------------------------------------
# SSH: a real sshd when installed, else the banner server
# ---------------------------------------------------------------------------

SSHD=/usr/sbin/sshd

# setup_sshd: keys and a self-contained configuration in WORK.  Logins are by
# key only; whatever a client asks, the server runs only `echo` (ForceCommand),
# allocates no terminal and forwards nothing.  Returns 1 if sshd rejects it.
setup_sshd() {
    [[ -x $SSHD ]] && command -v ssh >/dev/null && command -v ssh-keygen >/dev/null || return 1
    if [[ ! -d /run/sshd ]]; then
        mkdir -m 0755 /run/sshd
        CREATED_SSHD_DIR=1
    fi
    local k
    for k in host vendor jump guess; do
        ssh-keygen -q -t ed25519 -N '' -C "iwlive-$k" -f "$WORK/${k}_key" >/dev/null
    done
    cat "$WORK/vendor_key.pub" "$WORK/jump_key.pub" >"$WORK/authorized_keys"
    cat >"$WORK/sshd_config" <<EOF
Port 22
ListenAddress 0.0.0.0
HostKey $WORK/host_key
PidFile none
AuthorizedKeysFile $WORK/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitTTY no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
AllowStreamLocalForwarding no
PermitTunnel no
ForceCommand echo idlewatch-live-e2e
PrintMotd no
PrintLastLog no
UseDNS no
MaxStartups 100
LogLevel INFO
EOF
    "$SSHD" -t -f "$WORK/sshd_config" >"$WORK/sshd-check.log" 2>&1 || return 1
    # OpenSSH >= 9.8 penalizes sources with failed logins; the guesses must all reach the server.
    if "$SSHD" -t -f "$WORK/sshd_config" -o PerSourcePenalties=no >/dev/null 2>&1; then
        echo "PerSourcePenalties no" >>"$WORK/sshd_config"
    fi
    return 0
}

# ssh_client NAME KEY HOST PORT: one SSH session (key login, no terminal).
ssh_client() {
    local name=$1 key=$2 host=$3 port=$4
    run_may_fail "$name" ssh -F /dev/null -n -T -p "$port" -i "$WORK/${key}_key" \
        -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -o PreferredAuthentications=publickey \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null \
        -o ConnectTimeout=5 -o LogLevel=ERROR "root@$host"
}

# ---------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------

NET=10.90.0
PUBLIC=203.0.113.10
ATTACKER=192.0.2.66
VENDOR=198.51.100.7
SCAN_PORTS=21,22,23,25,80,110,135,139,143,443,445,554,1883,3306,3389,5900,8000,8080,8443,37777

build_network() {
    switch_create sw
    switch_span sw ids
    switch_create inet

    router gw
    switch_attach sw gw eth0 "$NET.1/24"
    switch_attach inet gw wan0 "$PUBLIC/24"
    route gw 192.0.2.0/24 dev wan0
    route gw 198.51.100.0/24 dev wan0
    nft_apply gw "table ip iwlive_nat {
        chain prerouting {
            type nat hook prerouting priority dstnat; policy accept;
            iifname \"wan0\" ip daddr $PUBLIC tcp dport 2222 dnat to $NET.30:22
            iifname \"wan0\" ip daddr $PUBLIC tcp dport 2223 dnat to $NET.31:22
            iifname \"wan0\" ip daddr $PUBLIC tcp dport 2323 dnat to $NET.31:23
        }
    }"

    local h
    for h in jump:5 old:20 cam:21 erp:30 hist:31 infra:53; do
        switch_attach sw "${h%:*}" eth0 "$NET.${h#*:}/24"
    done
    for h in jump cam erp hist infra; do route "$h" default via "$NET.1"; done
    # old-erp's stale configuration points at a gateway that no longer exists;
    # it gives up ARP after 3 x 200 ms
    route old default via "$NET.254"
    ns_sysctl old net.ipv4.neigh.eth0.retrans_time_ms=200

    switch_attach inet att eth0 "$ATTACKER/24"
    switch_attach inet vnd eth0 "$VENDOR/24"
    route att default via "$PUBLIC" dev eth0 onlink
    route vnd default via "$PUBLIC" dev eth0 onlink
}

start_servers() {
    case $SERVICE_MODE in
        auto) if setup_sshd; then SERVICE_MODE=sshd; else SERVICE_MODE=banner; fi ;;
        sshd) setup_sshd || { cat "$WORK/sshd-check.log" >&3 2>/dev/null || true; die "sshd is not usable"; } ;;
        banner) ;;
        *) die "IWLIVE_SERVICE must be auto, sshd or banner" ;;
    esac
    log "erp-app's SSH server: $SERVICE_MODE"
    if [[ $SERVICE_MODE == sshd ]]; then
        bg erp sshd "$SSHD" -D -e -f "$WORK/sshd_config"
    else
        bg erp ssh-banner "$PY" "$HELPER" banner-server --bind 0.0.0.0 --port 22
    fi
    bg hist hist-ssh "$PY" "$HELPER" banner-server --bind 0.0.0.0 --port 22
    bg hist hist-telnet "$PY" "$HELPER" banner-server --bind 0.0.0.0 --port 23 --banner "plant-historian login:"
    bg infra dns "$PY" "$HELPER" dns-server --record time.camera-vendor.example="$NET.53"
    bg infra ntp "$PY" "$HELPER" ntp-server
    wait_listen erp tcp 22
    wait_listen hist tcp 22
    wait_listen hist tcp 23
    wait_listen infra udp 53
    wait_listen infra udp 123
}

# ---------------------------------------------------------------------------
# Capture
# ---------------------------------------------------------------------------

# wait_for FILE TEXT PID SECONDS: until FILE contains TEXT; 1 if PID died, 2 on timeout.
wait_for() {
    local file=$1 text=$2 pid=$3 seconds=$4 i
    for ((i = 0; i < seconds * 20; i++)); do
        grep -q -- "$text" "$file" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 2
}

start_capture() {
    ip netns exec "$(ns ids)" tcpdump -i span0 -s 0 -U --immediate-mode -nn \
        -w "$OUT/recorded.pcap" >"$OUT/tcpdump.out" 2>"$OUT/tcpdump.err" &
    TCPDUMP_PID=$!
    if ((!RECORD_ONLY)); then
        ip netns exec "$(ns ids)" "$BINARY" live -i span0 --site "$SITE" --format json --immediate-mode --no-state \
            >"$OUT/live.json" 2>"$OUT/live.err" &
        LIVE_PID=$!
    fi
    wait_for "$OUT/tcpdump.err" 'listening on' "$TCPDUMP_PID" 10 ||
        { cat "$OUT/tcpdump.err" >&3; die "tcpdump did not start on span0"; }
    if ((!RECORD_ONLY)); then
        local rc=0
        wait_for "$OUT/live.err" 'capturing on span0' "$LIVE_PID" 5 || rc=$?
        case $rc in
            0) ;;
            1) cat "$OUT/live.err" >&3; die "idlewatch live exited at startup" ;;
            *) log "no 'capturing on span0' line from idlewatch after 5 s; going on"; sleep 1
               kill -0 "$LIVE_PID" 2>/dev/null || { cat "$OUT/live.err" >&3; die "idlewatch live exited at startup"; } ;;
        esac
    fi
    log "capturing on span0 (tcpdump${LIVE_PID:+ and idlewatch live})"
}

# stop_pid PID SIGNAL: signal, wait up to 15 s (then SIGKILL); the exit status
# goes to STOP_RC (not printed: a command substitution could not wait for PID).
STOP_RC=0
stop_pid() {
    local pid=$1 sig=$2 i rc=0
    kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "process $pid did not exit within 15 s of SIG$sig: killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || rc=$?
    STOP_RC=$rc
}

stop_capture() {
    stop_pid "$TCPDUMP_PID" INT
    TCPDUMP_PID=""
    ((STOP_RC == 0)) || log "tcpdump exited with status $STOP_RC"
    if ((!RECORD_ONLY)); then
        stop_pid "$LIVE_PID" TERM
        LIVE_PID=""
        printf '%s\n' "$STOP_RC" >"$OUT/live.status"
        log "idlewatch live exited with status $STOP_RC"
    fi
}

# ---------------------------------------------------------------------------
# The traffic
# ---------------------------------------------------------------------------

now() { date +%s.%N; }
# older_than MARK SECONDS: true once MARK (from now) is more than SECONDS ago
older_than() { awk -v m="$1" -v s="$2" -v n="$(now)" 'BEGIN { exit !(n - m > s) }'; }

generate_traffic() {
    local last
    # 1. the attacker on the forgotten mapping: five failed logins, then the leaked key.
    #    First, so that the rest of the scenario fills the 10 s until these flows time out.
    if [[ $SERVICE_MODE == sshd ]]; then
        local i
        for i in 1 2 3 4 5; do ssh_client att guess "$PUBLIC" 2222; sleep 0.1; done
        ssh_client att vendor "$PUBLIC" 2222
    else
        run att "$PY" "$HELPER" guess-client --to "$PUBLIC" --port 2222 --count 5 --interval 0.1
        sleep 0.1
        run att "$PY" "$HELPER" guess-client --to "$PUBLIC" --port 2222 --count 1 --line "root:Vendor2019!"
    fi
    last=$(now)
    sleep 0.2
    # 2. an undeclared Telnet-like service through a mapping nobody declared
    run att "$PY" "$HELPER" guess-client --to "$PUBLIC" --port 2323 --count 1 --line "admin:admin"
    sleep 0.2
    # 3. the vendor on its current mapping; 4. an internal SSH session
    run vnd "$PY" "$HELPER" guess-client --to "$PUBLIC" --port 2223 --count 1 --line "vendor: ticket 4711 firmware check"
    sleep 0.2
    if [[ $SERVICE_MODE == sshd ]]; then
        ssh_client jump jump "$NET.30" 22
    else
        run jump "$PY" "$HELPER" guess-client --to "$NET.30" --port 22 --count 1 --line "ops: uptime"
    fi
    sleep 0.2
    # 5. the idle camera's allowed chatter (DNS, NTP), then it scans erp-app
    run cam "$PY" "$HELPER" dns-query --to "$NET.53" --name time.camera-vendor.example
    run cam "$PY" "$HELPER" ntp-query --to "$NET.53"
    sleep 0.2
    run cam "$PY" "$HELPER" connect-scan --to "$NET.30" --ports "$SCAN_PORTS" --timeout 0.5
    sleep 0.2
    # 6. the decommissioned host wakes up: ARP for its old gateway, never answered
    run_may_fail old ping -c 1 -W 1 "$NET.254"
    # 7. the camera's background chatter until the attacker's flows have timed out in
    #    packet time (10 s after their last packet: FlowTableConfiguration.tcpClosedTimeout)
    while ! older_than "$last" 11.5; do
        sleep 1
        run cam "$PY" "$HELPER" ntp-query --to "$NET.53"
    done
    # let the last frames land before stopping
    sleep 0.5
}

# ---------------------------------------------------------------------------
# Checks of the recording (that the scenario happened as designed)
# ---------------------------------------------------------------------------

CHECKS_FAILED=0

# expect OP N DESCRIPTION FILTER: the number of packets of recorded.pcap
# matching the BPF filter is OP (== or >=) N.
expect() {
    local op=$1 want=$2 what=$3 filter=$4 got
    got=$(tcpdump -nn -r "$OUT/recorded.pcap" "$filter" 2>/dev/null | wc -l)
    if { [[ $op == "==" ]] && ((got == want)); } || { [[ $op == ">=" ]] && ((got >= want)); }; then
        printf '  ok   %-62s %3d %s %d\n' "$what" "$got" "$op" "$want" >&3
    else
        printf '  FAIL %-62s %3d, want %s %d   [%s]\n' "$what" "$got" "$op" "$want" "$filter" >&3
        CHECKS_FAILED=1
    fi
}

check_recording() {
    local S=$NET.30 H=$NET.31 C=$NET.21 O=$NET.20 X=$ATTACKER V=$VENDOR
    local data="(ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2)) > 0"
    log "checking the recording"
    expect "==" 0 "IPv6 (all hosts are IPv4-only)"                     "ip6"
    expect "==" 0 "the public address or the mapped ports (pre-NAT)"   "host $PUBLIC or tcp port 2222 or tcp port 2223 or tcp port 2323"
    expect ">=" 1 "camera DNS query and answer"                        "host $C and udp port 53"
    expect ">=" 2 "camera NTP requests"                                "src $C and udp dst port 123"
    expect "==" 1 "internal SYN jump-host -> erp-app:22"               "src $NET.5 and dst $S and tcp dst port 22 and tcp[tcpflags] = tcp-syn"
    expect "==" 1 "vendor SYN -> historian:22 (after DNAT)"            "src $V and dst $H and tcp dst port 22 and tcp[tcpflags] = tcp-syn"
    expect "==" 6 "attacker SYNs -> erp-app:22 (after DNAT)"           "src $X and dst $S and tcp dst port 22 and tcp[tcpflags] = tcp-syn"
    expect "==" 6 "erp-app SYN-ACKs -> attacker"                       "src $S and dst $X and tcp[tcpflags] = tcp-syn|tcp-ack"
    expect ">=" 6 "attacker -> erp-app data"                           "src $X and dst $S and $data"
    expect ">=" 6 "erp-app -> attacker data"                           "src $S and dst $X and $data"
    expect "==" 1 "attacker SYN -> historian:23 (after DNAT)"          "src $X and dst $H and tcp dst port 23 and tcp[tcpflags] = tcp-syn"
    expect ">=" 1 "historian:23 -> attacker data"                      "src $H and tcp src port 23 and dst $X and $data"
    expect ">=" 1 "attacker -> historian:23 data"                      "src $X and dst $H and tcp dst port 23 and $data"
    expect "==" 20 "camera scan SYNs -> erp-app (one per port)"        "src $C and dst $S and tcp[tcpflags] = tcp-syn"
    expect "==" 19 "RST-ACK from erp-app's closed ports"               "src $S and dst $C and tcp[tcpflags] = tcp-rst|tcp-ack"
    expect "==" 1 "SYN-ACK from erp-app:22 to the camera"              "src $S and dst $C and tcp[tcpflags] = tcp-syn|tcp-ack"
    expect ">=" 1 "old-erp ARP who-has $NET.254"                       "arp and arp[6:2] = 1 and arp[14:4] = 0x0a5a0014 and arp[24:4] = 0x0a5a00fe"
    expect "==" 0 "ARP replies for $NET.254"                           "arp and arp[6:2] = 2 and arp[14:4] = 0x0a5a00fe"
    expect "==" 0 "IP packets from old-erp"                            "ip src $O"
    if grep -Eq '^[1-9][0-9]* packets dropped by kernel' "$OUT/tcpdump.err"; then
        printf '  FAIL %s\n' "tcpdump reports packets dropped by the kernel" >&3
        CHECKS_FAILED=1
    fi
}

# alert_lines FILE: one tab-separated line per alert (rule, src, dest, port, stage, reason, host)
alert_lines() {
    "$PY" - "$1" <<'EOF'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.strip()
    if not line:
        continue
    try:
        e = json.loads(line)
    except ValueError:
        print("  (not JSON) " + line[:100])
        continue
    if e.get("event_type") != "alert":
        continue
    a = e.get("alert") or {}
    f = [a.get("rule"), e.get("src_ip"), e.get("dest_ip"), e.get("dest_port"), a.get("stage"), a.get("reason"),
         (e.get("host") or {}).get("address")]
    print("  " + "\t".join("-" if v is None else str(v) for v in f))
EOF
}

# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

usage() { awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "${BASH_SOURCE[0]}"; }

main() {
    local opt
    while getopts ':nh' opt; do
        case $opt in
            n) RECORD_ONLY=1 ;;
            h) usage; exit 0 ;;
            *) usage >&2; exit 2 ;;
        esac
    done
    shift $((OPTIND - 1))
    (($# == 2)) || { usage >&2; exit 2; }
    BINARY=$1
    mkdir -p "$2"
    OUT=$(cd "$2" && pwd)
    ((EUID == 0)) || die "must run as root (network namespaces)"
    [[ -f $SITE ]] || die "missing $SITE"
    if ((!RECORD_ONLY)); then
        [[ $BINARY == */* ]] || BINARY=$(command -v "$BINARY" || true)
        [[ -x $BINARY ]] || die "not an executable: $1"
        BINARY=$(cd "$(dirname "$BINARY")" && pwd)/$(basename "$BINARY")
        "$BINARY" live --help >/dev/null 2>&1 || die "$BINARY has no 'live' command"
    fi

    # one run at a time: a second run would tear down the first one's namespaces
    local lock=/run/lock
    [[ -d $lock ]] || lock=/tmp
    exec 9>"$lock/iwlive-e2e.lock"
    flock -w 300 9 || die "another live-e2e run holds $lock/iwlive-e2e.lock"

    install_traps

    local t0=$SECONDS
    ensure_tools
    teardown_namespaces
    cleanup_stale_work
    make_work_dir
    rm -f "$OUT"/live.json "$OUT"/live.err "$OUT"/live.status "$OUT"/recorded.pcap "$OUT"/replay.json \
        "$OUT"/replay.err "$OUT"/tcpdump.err "$OUT"/tcpdump.out
    rm -rf "$OUT/logs"

    log "building the network"
    build_network
    start_servers
    sleep 0.5   # let link-up settle before capturing

    start_capture
    local t1=$SECONDS
    generate_traffic
    stop_capture
    local t2=$SECONDS

    local status=0
    if ((!RECORD_ONLY)); then
        "$BINARY" replay --site "$SITE" --format json "$OUT/recorded.pcap" >"$OUT/replay.json" 2>"$OUT/replay.err" ||
            { log "idlewatch replay failed:"; cat "$OUT/replay.err" >&3; status=1; }
    fi
    check_recording

    local packets
    packets=$(tcpdump -nn -r "$OUT/recorded.pcap" 2>/dev/null | wc -l)
    log "summary: service $SERVICE_MODE; traffic $((t2 - t1)) s, whole run $((SECONDS - t0)) s"
    log "  recorded.pcap: $packets packets; $(grep -E 'packets (captured|dropped)' "$OUT/tcpdump.err" | paste -sd ';' -)"
    if ((!RECORD_ONLY)); then
        log "  idlewatch live: exit $(cat "$OUT/live.status"); alerts:"
        alert_lines "$OUT/live.json" >&3
        log "  idlewatch replay of recorded.pcap: alerts:"
        alert_lines "$OUT/replay.json" >&3
    fi

    local f files=(recorded.pcap)
    ((RECORD_ONLY)) || files+=(live.json live.err live.status replay.json)
    for f in "${files[@]}"; do
        [[ -f $OUT/$f ]] || { log "missing $OUT/$f"; status=1; }
    done
    ((CHECKS_FAILED == 0)) || { log "the recording does not hold the scenario's traffic (see FAIL above)"; status=1; }
    if ((!RECORD_ONLY)) && [[ $(cat "$OUT/live.status" 2>/dev/null) != 0 ]]; then
        log "idlewatch live did not exit 0 after SIGTERM"
        status=1
    fi
    exit "$status"
}

main "$@"
