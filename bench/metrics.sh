#!/usr/bin/env bash
# /metrics at fleet size: N live tunnels of N devices (leases written into
# the store directly, as N creates would leave them; the server restores
# them at start), each with its own series under the cap (N <= 1000, the
# default metrics_max_series). Scrapes R times: median and worst time, the
# size, and whether promtool passes it.
#
#   bench/metrics.sh            N=1000 R=20
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
WEFT=${WEFT:-$top/build/weft}
N=${N:-1000}
R=${R:-20}
[ -x "$WEFT" ] || { echo "$WEFT is missing: build first (scripts/build.sh build)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/weft-metricsbench.XXXXXX)
cleanup() {
  stop_all
  rm -rf "$TMP"
}
trap cleanup EXIT

CTL=$(port)
HTTP=$(port)
printf '[server]\nlisten = 127.0.0.1:%s\nhttp_listen = 127.0.0.1:%s\ntls_listen = off\n' \
  "$CTL" "$HTTP" >"$TMP/weft.conf"
start() {
  bg "$WEFT" server --config "$TMP/weft.conf" --state-dir "$TMP/state"
  SERVER=${PIDS[-1]}
  wait_port "$CTL" || exit 1
}
start # makes the store
kill "$SERVER"; wait "$SERVER" 2>/dev/null
say "metrics: writing $N leases into the store"
python3 - "$TMP/state/weft.db" "$N" "$HTTP" <<'PY'
import os, sqlite3, sys, time
db, n, http = sqlite3.connect(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
now = int(time.time())
db.executemany("INSERT INTO leases VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    (("t%016x" % i, "fleet-%05d" % i, "", "websocket", "http://127.0.0.1:8080",
      "", "http://127.0.0.1:%s/t%016x/" % (http, i), "", None, None, None, None,
      now, now + 86400, 3600, now) for i in range(n)))
db.commit()
PY
start
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$CTL/metrics" | grep -q "^weft_tunnels_live $N\$" && break
  sleep 0.1
done
# first byte: the server wrote the text (the handler's time); total: and
# sent 4 MB over loopback.
# the server's CPU time (user + system, clock ticks), which the load of a
# shared machine changes less than the wall clock
cpu() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }
CPU0=$(cpu)
for ((i = 0; i < R; i++)); do
  curl -s -o "$TMP/metrics.txt" -w '%{time_starttransfer} %{time_total}\n' "http://127.0.0.1:$CTL/metrics"
done >"$TMP/times"
CPU_MS=$(awk -v a="$CPU0" -v b="$(cpu)" -v hz="$(getconf CLK_TCK)" -v r="$R" \
  'BEGIN {printf "%.1f", (b - a) * 1000 / hz / r}')
times=$(awk '{printf "%.2f\n", $2 * 1000}' "$TMP/times" | sort -g)
MEDIAN=$(echo "$times" | median)
WORST=$(echo "$times" | tail -n 1)
FIRST=$(awk '{printf "%.2f\n", $1 * 1000}' "$TMP/times" | median)
SIZE=$(stat -c %s "$TMP/metrics.txt")
LINES=$(grep -vc '^#' "$TMP/metrics.txt")
LIVE=$(awk '$1 == "weft_tunnels_live" {print $2}' "$TMP/metrics.txt")
PROMTOOL=$(command -v promtool >/dev/null && { promtool check metrics <"$TMP/metrics.txt" >/dev/null 2>&1 && echo passes || echo FAILS; } || echo "not installed")
RSS=$(rss "$SERVER")
say "  $LIVE tunnels: GET /metrics median $MEDIAN ms (first byte $FIRST ms, server CPU $CPU_MS ms), worst $WORST ms; $((SIZE / 1024)) KiB, $LINES samples; promtool $PROMTOOL; server RSS $((RSS / 1024)) MiB"
printf 'metrics %s tunnels: median %s ms (first byte %s ms, server CPU %s ms), worst %s ms, %s KiB, %s samples, promtool %s\n' \
  "$LIVE" "$MEDIAN" "$FIRST" "$CPU_MS" "$WORST" "$((SIZE / 1024))" "$LINES" "$PROMTOOL"
