#!/usr/bin/env bash
# A device's calls to the control API never stop its loop. One agent
# carries two tunnels through a relay in front of the server; the relay
# then cuts tunnel B's session and holds every new connection unanswered,
# so B's token renewal waits (libcurl's timeout is 15 s) while tunnel A's
# traffic goes on through its open session. A blocking renewal would
# freeze A for those 15 s; on the loop, A's answers keep coming. The
# longest wait is printed (about 30 ms here when the machine is quiet);
# the bound, 1 s, tells a stall from a busy CI machine's scheduling.
. "$(dirname "$0")/lib.sh"
NETKIT="$(dirname "$0")/netkit.py"
PROBE_S=6

PORT=$(free_port)
RELAY=$(free_port)
ECHO=$(free_port)
PUB_A=$(free_port)
PUB_B=$(free_port)
cat >"$TMP/server.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
http_listen = off
tls_listen = off
port_range = 20000-29999
CONF
cat >"$TMP/agent.conf" <<CONF
[tunnel "a"]
transport = websocket
local = tcp://127.0.0.1:$ECHO
remote = tcp://127.0.0.1:$PUB_A
device_id = dev-renewal

[tunnel "b"]
transport = websocket
local = tcp://127.0.0.1:$ECHO
remote = tcp://127.0.0.1:$PUB_B
device_id = dev-renewal

[transport.websocket]
ping_interval = 2s
reconnect_min = 200ms
reconnect_max = 1s
CONF

python3 "$NETKIT" echo-server "$ECHO" >"$TMP/echo.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
python3 "$NETKIT" hold-relay "$RELAY" "$PORT" >"$TMP/relay.log" 2>&1 </dev/null &
RELAY_PID=$!
STARTED_PIDS+=("$RELAY_PID")
"$WEFT" server --config "$TMP/server.conf" --state-dir "$TMP/state" >"$TMP/server.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
wait_for 20 curl -fsS "http://127.0.0.1:$PORT/healthz" || fail "server: $(cat "$TMP/server.log")"
wait_for 10 grep -q listening "$TMP/relay.log" || fail "relay: $(cat "$TMP/relay.log")"
CONN="weft://$(cat "$TMP/state/secret")@127.0.0.1:$RELAY"

"$WEFT" tunnel --config "$TMP/agent.conf" "$CONN" >"$TMP/agent.out" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
wait_for 30 bash -c "[ \$(grep -c 'is reachable at' '$TMP/agent.out') -ge 2 ]" ||
  fail "the tunnels did not come up: $(cat "$TMP/agent.out")"

# A's session becomes the relay's busiest connection (1 MB echoed), then
# the relay cuts the rest and holds what comes next.
python3 "$NETKIT" gaps 127.0.0.1 "$PUB_A" "$PROBE_S" >"$TMP/gaps.out" 2>&1 </dev/null &
PROBE=$!
STARTED_PIDS+=("$PROBE")
wait_for 30 grep -q "warm" "$TMP/gaps.out" || fail "probe: $(cat "$TMP/gaps.out")"
kill -USR1 "$RELAY_PID"
wait "$PROBE"
PROBE_RC=$?
cat "$TMP/gaps.out"
cat "$TMP/relay.log"

# B's renewal was asked for and is still waiting on a held connection.
if grep -q "held a new connection" "$TMP/relay.log" &&
   ! grep -q "cannot renew" "$TMP/agent.out"; then
  pass "B's renewal was held unanswered for the whole probe"
else
  fail "B's renewal was not pending: $(cat "$TMP/relay.log" "$TMP/agent.out")"
fi
GAP=$(sed -n 's/^max_gap_ms=\([0-9.]*\).*/\1/p' "$TMP/gaps.out")
if [ "$PROBE_RC" = 0 ] && [ -n "$GAP" ] &&
   python3 -c 'import sys; sys.exit(float(sys.argv[1]) >= 1000)' "$GAP"; then
  pass "tunnel A answered throughout, the longest wait ${GAP} ms (< 1000)"
else
  fail "tunnel A stalled while B's renewal waited: $(cat "$TMP/gaps.out")"
fi

# Released, B comes back by itself.
kill -USR2 "$RELAY_PID"
check "tunnel B carries bytes again once the server answers" 0 \
  timeout 60 bash -c "until python3 '$NETKIT' roundtrip 127.0.0.1 $PUB_B 1 >/dev/null 2>&1; do sleep 0.5; done"
finish
