#!/usr/bin/env bash
# Installs the Debian packages IdleWatch needs to build and test, when they are missing.
# Usage: scripts/install-deps.sh [PACKAGE...]   (default: what building and testing need)
set -euo pipefail

packages=("$@")
if [ ${#packages[@]} -eq 0 ]; then
  # libpcap-dev: the capture library and its pkg-config file. libsqlite3-dev: SQLite for the state file (GRDB
  # links the system's). For the live tests: iproute2 (namespaces, veth,
  # tc mirred), nftables (the NAT port mapping), tcpdump (recording beside the live sensor), ethtool (offloads off),
  # iputils-ping, rsyslog (a real collector for the syslog tests), python3-jsonschema (the JSON Schema test validates
  # output with it; from apt, as a stock Debian Python refuses pip outside a virtual environment, PEP 668).
  packages=(libpcap-dev libsqlite3-dev pkg-config iproute2 nftables tcpdump ethtool iputils-ping rsyslog python3-jsonschema ieee-data)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
