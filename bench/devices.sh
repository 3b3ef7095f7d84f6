#!/usr/bin/env bash
# The device list at fleet size: N devices bound to keys (written into the
# store directly, as N first logins would), then GET /v1/devices through
# the API, as an operator with an API key over TLS and through the local
# socket, R times each. Prints each way's median and worst time and the
# answer's size. Target (issue 19): under 50 ms for 10,000 devices.
#
#   bench/devices.sh            N=10000 R=30
#   N=1000 bench/devices.sh
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
WEFT=${WEFT:-$top/build/weft}
N=${N:-10000}
R=${R:-30}
[ -x "$WEFT" ] || { echo "$WEFT is missing: build first (scripts/build.sh build)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/weft-devbench.XXXXXX)
cleanup() {
  stop_all
  rm -rf "$TMP"
}
trap cleanup EXIT

CTL=$(port)
printf '[server]\nlisten = 127.0.0.1:%s\nhttp_listen = off\ntls_listen = off\n' "$CTL" >"$TMP/weft.conf"
start() {
  bg "$WEFT" server --config "$TMP/weft.conf" --state-dir "$TMP/state"
  SERVER=${PIDS[-1]}
  wait_port "$CTL" || exit 1
}
start # makes the store
kill "$SERVER"; wait "$SERVER" 2>/dev/null
say "devices: writing $N bound keys into the store"
python3 - "$TMP/state/weft.db" "$N" <<'PY'
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
now = int(time.time())
db.executemany("INSERT INTO device_keys VALUES(?,?,?)",
               (("fleet-%05d" % i, os.urandom(32), now) for i in range(int(sys.argv[2]))))
db.commit()
PY
start
KEY=$("$WEFT" user add bench --role operator --state-dir "$TMP/state" | tail -n 1)

# times URL CURL_ARGS...: R requests, each one's total time in ms.
times() {
  for ((i = 0; i < R; i++)); do
    curl -s -o "$TMP/list.json" -w '%{time_total}\n' "$@"
  done | awk '{printf "%.2f\n", $1 * 1000}'
}
summary() { sort -g | awk '{a[NR]=$1} END {printf "median %s ms, worst %s ms", a[int((NR+1)/2)], a[NR]}'; }
TLS=$(times -k -H "Authorization: Bearer $KEY" "https://127.0.0.1:$CTL/v1/devices" | summary)
COUNT=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["devices"]))' "$TMP/list.json")
SIZE=$(stat -c %s "$TMP/list.json")
LOCAL=$(times --unix-socket "$TMP/state/admin.sock" "http://localhost/v1/devices" | summary)
say "  GET /v1/devices, $COUNT devices, $((SIZE / 1024)) KiB:"
say "    operator key over TLS: $TLS"
say "    local socket:          $LOCAL"
printf 'devices %s: tls %s; socket %s\n' "$COUNT" "$TLS" "$LOCAL"
