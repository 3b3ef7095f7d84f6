#!/usr/bin/env bash
# The server's memory, each figure on a fresh server (a heap warmed by
# other runs would hide growth): RSS growth per idle tunnel (1000 over wss,
# then 1000 over ws; each an idle WebSocket session carrying an HTTP/2
# session, held open by bench/tools.py hold-sessions) and per open stream
# (10000 connections held through one wss tunnel to an echo server).
# Needs no throughput tools, and loads only this machine's memory.
#
#   bench/memory.sh            after a build (bench/run.sh builds); ~2 min
#   QUICK=1 bench/memory.sh    200 tunnels, 2000 streams
#   TUNNELS=N STREAMS=N        other counts (STREAMS=0: none)
#   SCHEMES=wss                only the idle tunnels over wss
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
WEFT=${WEFT:-$top/build/weft}
TOOLS="$top/bench/tools.py"
NETKIT="$top/tests/shell/netkit.py"
if [ -n "${QUICK:-}" ]; then TUNNELS=${TUNNELS:-200} STREAMS=${STREAMS:-2000}; fi
TUNNELS=${TUNNELS:-1000} STREAMS=${STREAMS:-10000}
[ -x "$WEFT" ] || { echo "$WEFT is missing: build first (scripts/build.sh build)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null

TMP=$(mktemp -d /tmp/weft-membench.XXXXXX)
export WEFT_STATE_DIR="$TMP/agent-state" # device keys, not in /var/lib/weft
cleanup() {
  stop_all
  rm -rf "$TMP"
}
trap cleanup EXIT

fresh_server() { # sets MCTL, MPID, MCONN
  MCTL=$(port)
  weft_bench_conf "$MCTL" >"$TMP/mem.conf"
  rm -rf "$TMP/mstate"
  bg "$WEFT" server --config "$TMP/mem.conf" --state-dir "$TMP/mstate"
  MPID=${PIDS[-1]}
  wait_port "$MCTL" || exit 1
  MCONN="weft://$(cat "$TMP/mstate/secret")@127.0.0.1:$MCTL"
}
stop_fresh() { kill "$MPID"; wait "$MPID" 2>/dev/null; }

# A holder (bench/tools.py hold-...) keeps its sessions or streams open
# until its stdin closes. hold_start NAME TENTHS CMD...: starts it and
# waits up to TENTHS tenths of a second for it to say "holding".
hold_start() {
  local name=$1 tenths=$2
  shift 2
  rm -f "$TMP/$name"
  mkfifo "$TMP/$name"
  "$@" <"$TMP/$name" >"$TMP/$name.out" 2>&1 &
  HOLD_PID=$!
  exec {HOLD_FD}>"$TMP/$name"
  for _ in $(seq "$tenths"); do grep -q holding "$TMP/$name.out" && return 0; sleep 0.1; done
  say "$name: $(tail -3 "$TMP/$name.out")"
}
hold_stop() { exec {HOLD_FD}>&-; wait "$HOLD_PID"; }

idle_tunnels() { # SCHEME N: RSS growth per idle tunnel whose session is SCHEME
  local scheme=$1 n=$2 before after
  fresh_server
  say "creating $n idle tunnels ($scheme)..."
  : >"$TMP/tokens"
  for i in $(seq 1 "$n"); do
    tok=$("$WEFT" login "$MCONN" --device-id "idle-$i") || break
    curl -sS -X POST -H "Authorization: Bearer $tok" "http://127.0.0.1:$MCTL/v1/tunnels" \
      --data-binary '{"transport":"websocket","local":"tcp://127.0.0.1:9"}' >"$TMP/created"
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$TMP/created" >>"$TMP/tokens" 2>/dev/null ||
      say "tunnel $i not created: $(cat "$TMP/created")"
  done
  n=$(wc -l <"$TMP/tokens")
  before=$(rss "$MPID")
  hold_start hold-sessions 600 /usr/bin/python3 "$TOOLS" hold-sessions "$scheme://127.0.0.1:$MCTL/v1/ws" "$TMP/tokens"
  sleep 1
  after=$(rss "$MPID")
  printf 'server RSS with %d idle tunnels over %s (lease + WebSocket + HTTP/2 session each): %d KiB more, %.1f KiB per tunnel (target < 16)\n' \
    "$n" "$scheme" $((after - before)) "$(awk -v a=$((after - before)) -v n="$n" 'BEGIN{print a/n}')"
  hold_stop
  stop_fresh
}

open_streams() { # N: RSS growth per open stream through one wss tunnel
  local n=$1 echo ws_echo before after
  fresh_server
  echo=$(port) ws_echo=$(port)
  bg python3 "$NETKIT" echo-server "$echo"
  wait_port "$echo" || exit 1
  bg "$WEFT" tunnel --device-id bench-echo "$MCONN" "tcp://127.0.0.1:$echo" "tcp://127.0.0.1:$ws_echo"
  wait_port "$ws_echo" || exit 1
  sleep 1
  say "opening $n streams..."
  before=$(rss "$MPID")
  hold_start hold-streams 1200 timeout 300 python3 "$TOOLS" hold-streams 127.0.0.1 "$ws_echo" "$n"
  after=$(rss "$MPID")
  printf 'server RSS with %d open streams: %d KiB more, %.1f KiB per stream (target < 64)\n' \
    "$n" $((after - before)) "$(awk -v a=$((after - before)) -v n="$n" 'BEGIN{print a/n}')"
  hold_stop
}

for scheme in ${SCHEMES:-wss ws}; do idle_tunnels "$scheme" "$TUNNELS"; done
[ "$STREAMS" -gt 0 ] && open_streams "$STREAMS"
exit 0
