#!/usr/bin/env bash
# Makes the schema 2 state file the tests load (StateSectionTests): the sample captures up to CUT replayed with an
# idlewatch of schema 2, the last layout before named sections (commit f4abb19, built with `swift build`), and
# the alerts that part wrote. The tests replay the whole directory onto a copy of the file (the packets before CUT
# are skipped as already analysed) and check that part 1 and the rest equal one run over all of it.
#
#   Tests/Fixtures/state-schema2/make.sh [IDLEWATCH]     (default: .build/debug/idlewatch; run from the repository)
set -euo pipefail
idlewatch=${1:-.build/debug/idlewatch}
here=Tests/Fixtures/state-schema2
cut=${CUT:-2026-11-07T14:00:00.2Z}  # inside the inbound scan: 40 flows open, its window half full
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Part 1: every packet before CUT, each capture cut on its own (replay merges them in timestamp order).
python3 - "$cut" "$work" captures/*.pcap <<'PY'
import datetime, struct, sys
cut = datetime.datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00")).timestamp()
for path in sys.argv[3:]:
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    assert magic == 0xA1B2C3D4, f"{path}: not a little-endian microsecond pcap"
    out, offset = [data[:24]], 24
    while offset < len(data):
        seconds, micros, length, _ = struct.unpack("<IIII", data[offset:offset + 16])
        if seconds + micros / 1e6 < cut:
            out.append(data[offset:offset + 16 + length])
        offset += 16 + length
    if len(out) > 1:
        open(f"{sys.argv[2]}/{path.split('/')[-1]}", "wb").write(b"".join(out))
PY
rm -f "$here/schema2.db" "$here/schema2.db-wal" "$here/schema2.db-shm"
"$idlewatch" replay --site captures/site.yaml --format json --state "$here/schema2.db" "$work" > "$here/part1.json"
sqlite3 "$here/schema2.db" 'PRAGMA user_version' | grep -qx 2 || { echo "not a schema 2 file" >&2; exit 1; }
