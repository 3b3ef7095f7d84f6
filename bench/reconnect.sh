#!/usr/bin/env bash
# A reconnect storm (issue 17): N websocket tunnels from N device ids,
# carried by real `weft tunnel --config` agents (50 tunnels each), each
# publishing its own port in front of one echo service. Once all carry
# bytes, the server restarts on the same state directory, and the bench
# measures:
#   - the time until every tunnel's public port echoes again;
#   - the new server's peak RSS and CPU time during the storm;
#   - the control API's latency for another client meanwhile (an operator
#     listing tunnels, GET /v1/tunnels, every 20 ms);
#   - how many logins the server refused.
# Loopback only; every process it starts is stopped at the end.
#
#   bench/reconnect.sh           1000 tunnels (target: all back within 15 s)
#   TUNNELS=200 bench/reconnect.sh
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
WEFT=${WEFT:-$top/build/weft}
TOOLS="$top/bench/tools.py"
NETKIT="$top/tests/shell/netkit.py"
TUNNELS=${TUNNELS:-1000}
PER_AGENT=50
FIRST=21000 # public ports FIRST..FIRST+TUNNELS-1
[ -x "$WEFT" ] || { echo "$WEFT is missing: build first (scripts/build.sh build)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null

TMP=$(mktemp -d /tmp/weft-stormbench.XXXXXX)
export WEFT_STATE_DIR="$TMP/agent-state" # device keys, not in /var/lib/weft
cleanup() {
  stop_all
  rm -rf "$TMP"
}
trap cleanup EXIT

CTL=$(port)
ECHO=$(port)
# The operator "ops" is an administrator: it lists every tunnel. Every
# device comes from 127.0.0.1 here, where a fleet has an address each: the
# per-address cap on control connections is lifted to the devices' number.
weft_bench_conf "$CTL" |
  sed "s/^\\[server\\]\$/[server]\\nadmins = ops\\nmax_conns_per_ip = $((TUNNELS * 3 + 100))/" >"$TMP/weft.conf"
bg python3 "$NETKIT" echo-server "$ECHO"
start_server() {
  bg "$WEFT" server --config "$TMP/weft.conf" --state-dir "$TMP/state"
  SERVER=${PIDS[-1]}
  wait_port "$CTL" || exit 1
}
start_server
CONN="weft://$(cat "$TMP/state/secret")@127.0.0.1:$CTL"
TOKEN=$("$WEFT" login "$CONN" --device-id ops)

say "reconnect storm: $TUNNELS websocket tunnels, $PER_AGENT per agent"
agents=0
for ((i = 0; i < TUNNELS; i += PER_AGENT)); do
  conf="$TMP/agent-$agents.conf"
  : >"$conf"
  for ((j = i; j < i + PER_AGENT && j < TUNNELS; j++)); do
    printf '[tunnel "t%d"]\ntransport = websocket\ndevice_id = storm-%d\nlocal = tcp://127.0.0.1:%d\nremote = tcp://127.0.0.1:%d\n\n' \
      "$j" "$j" "$ECHO" $((FIRST + j)) >>"$conf"
  done
  bg env WEFT_RUN_DIR="$TMP/run-$agents" "$WEFT" tunnel --config "$conf" "$CONN"
  agents=$((agents + 1))
done
read -r took up < <(python3 "$TOOLS" ports-echo 127.0.0.1 "$FIRST" "$TUNNELS" 180)
say "  first start: $up of $TUNNELS tunnels carry bytes after ${took} s ($agents agents)"
[ "$up" -eq "$TUNNELS" ] || { say "  not all tunnels came up; see $TMP/bg.log"; tail -5 "$TMP/bg.log" >&2; exit 1; }

# The restart: SIGTERM, then a new server on the same state.
kill -TERM "$SERVER"
wait "$SERVER" 2>/dev/null
START=$(date +%s.%N)
start_server
python3 "$TOOLS" api-latency "http://127.0.0.1:$CTL/v1/tunnels" "$TOKEN" 20 >"$TMP/latency" &
LAT=$!
read -r took up < <(python3 "$TOOLS" ports-echo 127.0.0.1 "$FIRST" "$TUNNELS" 120)
BACK=$(awk -v a="$START" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
PEAK=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER/status")
TICKS=$(awk '{print $14 + $15}' "/proc/$SERVER/stat")
CPU=$(awk -v t="$TICKS" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }')
wait "$LAT"
read -r n p50 p99 max failed <"$TMP/latency"
REFUSED=$(grep -c "rate_limited\|rate limit\|too many" "$TMP/bg.log")
say "  after the restart: $up of $TUNNELS tunnels carry bytes again after ${BACK} s"
say "  server during the storm: peak RSS $((PEAK / 1024)) MiB, CPU ${CPU} s"
say "  control API for another client (GET /v1/tunnels, $n requests over 20 s): p50 ${p50} ms, p99 ${p99} ms, max ${max} ms, $failed failed"
say "  logins or requests refused by rate limits (lines in the logs): $REFUSED"
grep -m 3 "rate_limited\|rate limit\|too many" "$TMP/bg.log" | sed 's/^/    /' >&2
printf 'reconnect %s tunnels: back in %s s, peak RSS %s KiB, CPU %s s, API p99 %s ms, refused %s\n' \
  "$TUNNELS" "$BACK" "$PEAK" "$CPU" "$p99" "$REFUSED"
