#!/usr/bin/env bash
# Does the server's memory grow with its age? Tunnels are created and
# deleted through the API, over and over (as a fleet's agents do for
# months), and the server's RSS and its store's memory are read at each
# checkpoint: growth per cycle should fall to nothing once the store's
# page cache (2 MiB, filled by the growing audit trail) is full.
#
#   bench/churn.sh              16000 cycles
#   CYCLES=2000 bench/churn.sh
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
WEFT="$top/build/weft"
TRANSPORT_DIR="$top/build/tests/transport"
CYCLES=${CYCLES:-16000}
[ -x "$WEFT" ] || { echo "$WEFT is missing: build first (scripts/build.sh build)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/weft-churnbench.XXXXXX)
export WEFT_STATE_DIR="$TMP/agent-state"
cleanup() {
  stop_all
  rm -rf "$TMP"
}
trap cleanup EXIT

CTL=$(port)
printf '[server]\nlisten = 127.0.0.1:%s\nhttp_listen = off\ntls_listen = off\nmax_tunnels = 100\n' "$CTL" >"$TMP/weft.conf"
bg "$WEFT" server --config "$TMP/weft.conf" --state-dir "$TMP/state" --plugin-dir "$TRANSPORT_DIR"
SERVER=${PIDS[-1]}
wait_port "$CTL" || exit 1
CONN="weft://$(cat "$TMP/state/secret")@127.0.0.1:$CTL"
TOKEN=$("$WEFT" login "$CONN" --device-id churn)
BASE="http://127.0.0.1:$CTL"
store_kib() { curl -sS "$BASE/metrics" | awk '/^weft_store_memory_bytes/ {printf "%d", $2 / 1024}'; }

say "churn: $CYCLES create/delete cycles through the API"
printf '%8s %10s %12s %14s\n' cycles "RSS KiB" "store KiB" "B/cycle (RSS)"
python3 - "$BASE" "$TOKEN" "$CYCLES" "$SERVER" <<'PY'
import http.client, json, sys
base, token, cycles, pid = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
host, port = base.split("//")[1].split(":")
conn = http.client.HTTPConnection(host, int(port), timeout=10)
H = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
body = json.dumps({"transport": "testtransport", "local": "tcp://127.0.0.1:22"})
def rss():
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS"):
            return int(line.split()[1])
def store():
    conn.request("GET", "/metrics")
    for line in conn.getresponse().read().decode().splitlines():
        if line.startswith("weft_store_memory_bytes"):
            return int(float(line.split()[1])) // 1024
    return -1
marks = {0, 100, 500, 1000, 2000, 4000, 8000, 12000, 16000, 24000, cycles}
last_n, last_rss = 0, rss()
print("%8d %10d %12d %14s" % (0, last_rss, store(), "-"), flush=True)
for n in range(1, cycles + 1):
    conn.request("POST", "/v1/tunnels", body, H)
    r = conn.getresponse()
    tid = json.loads(r.read())["id"]
    conn.request("DELETE", "/v1/tunnels/" + tid, headers=H)
    conn.getresponse().read()
    if n in marks:
        now = rss()
        print("%8d %10d %12d %14.0f" % (n, now, store(), (now - last_rss) * 1024 / (n - last_n)), flush=True)
        last_n, last_rss = n, now
PY
