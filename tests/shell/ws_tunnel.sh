#!/usr/bin/env bash
# The websocket transport end to end through real processes: weft server,
# weft tunnel and local services from netkit.py, over loopback.
. "$(dirname "$0")/lib.sh"
NETKIT="$(dirname "$0")/netkit.py"
MB=${MB:-100}

PORT=$(free_port)
ECHO=$(free_port)
BULK=$(free_port)
STATE="$TMP/state"
BASE="http://127.0.0.1:$PORT"
cat >"$TMP/weft.conf" <<CONF
[server]
; this test still administers by the older way: a device id
admins = admin
listen = 127.0.0.1:$PORT
http_listen = off
tls_listen = off
port_range = 32000-32099
; the 1000 concurrent streams below come from one address
public_conns_per_ip = 1000

[transport.websocket]
ping_interval = 2s
reconnect_min = 200ms
reconnect_max = 1s
CONF

# start_tunnel NAME DEVICE ARGS...: a weft tunnel in the background, its
# output in $TMP/NAME.out; waits until it prints its public URL.
start_tunnel() {
  local name=$1 device=$2
  shift 2
  "$WEFT" tunnel --device-id "$device" "$CONN" "$@" >"$TMP/$name.out" 2>&1 &
  LAST_TUNNEL=$!
  STARTED_PIDS+=("$LAST_TUNNEL")
  wait_for 20 grep -q "is reachable at" "$TMP/$name.out" || fail "$name never came up: $(cat "$TMP/$name.out")"
  PUBLIC_PORT=$(sed -n 's/.*is reachable at tcp:\/\/[^:]*:\([0-9]*\).*/\1/p' "$TMP/$name.out" | head -n 1)
}

# Background processes never hold the test's own output open.
python3 "$NETKIT" echo-server "$ECHO" >"$TMP/echo-server.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
python3 "$NETKIT" bulk-server "$BULK" 300 >"$TMP/bulk-server.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
start_server
ADMIN=$("$WEFT" login "$CONN" --device-id admin)

# --- bytes through, both ways at once, with checksums
start_tunnel echo dev-echo tcp://127.0.0.1:$ECHO tcp://127.0.0.1:32010
ECHO_PID=$LAST_TUNNEL
check "public port is the requested one" 0 test "$PUBLIC_PORT" = 32010
check "$MB MB up and down through the tunnel" 0 timeout 120 python3 "$NETKIT" roundtrip 127.0.0.1 32010 "$MB"
echo "$OUT"
check "1000 concurrent streams on one tunnel" 0 timeout 120 python3 "$NETKIT" concurrent 127.0.0.1 32010 1000 16
echo "$OUT"
OUT=$(curl -sS -H "Authorization: Bearer $ADMIN" "$BASE/v1/tunnels")
contains "public traffic is counted" '"connections_total":1001'

# --- a slow public reader: memory stays bounded on both sides
start_tunnel bulk dev-bulk tcp://127.0.0.1:$BULK
BULK_PORT=$PUBLIC_PORT
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# Unbounded buffering would take hundreds of MB here. ASan keeps freed
# memory in quarantine, so a sanitized build gets more room.
LIMIT_KB=16384
[ -n "${SANITIZE_FLAGS:-}" ] && LIMIT_KB=65536
BEFORE_S=$(rss "$SERVER") BEFORE_T=$(rss "$LAST_TUNNEL")
timeout 30 python3 "$NETKIT" slow-reader 127.0.0.1 "$BULK_PORT" 3 >"$TMP/slow.out" 2>&1 &
SLOW=$!
sleep 2.5
AFTER_S=$(rss "$SERVER") AFTER_T=$(rss "$LAST_TUNNEL")
wait "$SLOW"
echo "RSS with a slow reader of a 300 MB sender: server ${BEFORE_S}->${AFTER_S} KiB, tunnel ${BEFORE_T}->${AFTER_T} KiB"
[ $((AFTER_S - BEFORE_S)) -lt $LIMIT_KB ] && pass "server memory bounded under a slow reader" || fail "server grew $((AFTER_S - BEFORE_S)) KiB"
[ $((AFTER_T - BEFORE_T)) -lt $LIMIT_KB ] && pass "tunnel memory bounded under a slow reader" || fail "tunnel grew $((AFTER_T - BEFORE_T)) KiB"

# --- the endpoint against an independent WebSocket implementation
OUT=$(curl -sS -X POST -H "Authorization: Bearer $ADMIN" "$BASE/v1/tunnels" \
  --data-binary '{"transport":"websocket","local":"tcp://127.0.0.1:9"}')
PROTO_ID=$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
BEFORE_S=$(rss "$SERVER")
check "WebSocket interop and malformed frames" 0 timeout 90 /usr/bin/python3 "$(dirname "$0")/ws_protocol.py" "$BASE" "$ADMIN" "$PROTO_ID" 32010
echo "$OUT"
AFTER_S=$(rss "$SERVER")
[ $((AFTER_S - BEFORE_S)) -lt $LIMIT_KB ] && pass "no large allocation for hostile frames" || fail "server grew $((AFTER_S - BEFORE_S)) KiB"

# --- 50 tunnels at once (one device each)
PIDS50=()
for i in $(seq 1 50); do
  "$WEFT" tunnel --device-id "many-$i" "$CONN" "tcp://127.0.0.1:$ECHO" >"$TMP/many-$i.out" 2>&1 &
  PIDS50+=("$!")
  STARTED_PIDS+=("$!")
done
up=0
for i in $(seq 1 50); do
  if wait_for 30 grep -q "is reachable at" "$TMP/many-$i.out"; then
    up=$((up + 1))
  else
    echo "tunnel many-$i: $(cat "$TMP/many-$i.out")"
  fi
done
[ "$up" -eq 50 ] && pass "50 tunnels up at once" || fail "only $up of 50 tunnels came up"
ok=0
for i in $(seq 1 50); do
  p=$(sed -n 's/.*is reachable at tcp:\/\/[^:]*:\([0-9]*\).*/\1/p' "$TMP/many-$i.out" | head -n 1)
  [ -n "$p" ] && timeout 20 python3 "$NETKIT" concurrent 127.0.0.1 "$p" 4 8 >/dev/null 2>&1 && ok=$((ok + 1))
done
[ "$ok" -eq 50 ] && pass "all 50 carry traffic" || fail "$ok of 50 tunnels carried traffic"
for p in "${PIDS50[@]}"; do kill -INT "$p"; done
for p in "${PIDS50[@]}"; do wait "$p"; done
OUT=$(curl -sS -H "Authorization: Bearer $ADMIN" "$BASE/v1/tunnels")
case "$OUT" in *many-*) fail "Ctrl-C left tunnels on the server" ;; *) pass "all 50 deleted on Ctrl-C" ;; esac

# --- the server restarts: the device comes back on its own
kill -TERM "$SERVER"
wait "$SERVER"
start_server
if wait_for 20 timeout 5 python3 "$NETKIT" roundtrip 127.0.0.1 32010 1; then
  pass "the tunnel works again after a server restart, with no help"
else
  fail "no traffic after restart: $(tail -5 "$TMP/echo.out")"
fi
OUT=$(cat "$TMP/echo.out")
contains "the client logged its reconnect" "reconnecting in"

# --- kill the tunnel client mid-transfer (on a server whose leases idle
# out after 3 s, so the end of the lease can be seen too)
kill -INT "$SERVER"
wait "$SERVER" || fail "server did not stop cleanly: $(tail -5 "$TMP/server.log")"
sed -i 's/^listen = .*/&\nidle_timeout = 3s/' "$TMP/weft.conf"
STATE="$TMP/state2"
start_server
ADMIN=$("$WEFT" login "$CONN" --device-id admin)
start_tunnel doomed dev-doomed tcp://127.0.0.1:$ECHO tcp://127.0.0.1:32020
DOOMED_PID=$LAST_TUNNEL
timeout 60 python3 "$NETKIT" roundtrip 127.0.0.1 32020 2000 >"$TMP/cut.out" 2>&1 &
CUT=$!
sleep 0.5
kill -9 "$DOOMED_PID"
START=$(date +%s)
wait "$CUT"
STATUS=$?
[ "$STATUS" -ne 0 ] && [ $(($(date +%s) - START)) -lt 15 ] && pass "a dead device ends its public connections promptly" \
  || fail "status $STATUS after $(($(date +%s) - START)) s: $(cat "$TMP/cut.out")"
if wait_for 15 sh -c "curl -sS -H 'Authorization: Bearer $ADMIN' '$BASE/v1/tunnels' | grep -vq dev-doomed"; then
  pass "its lease ends after the idle timeout"
else
  fail "the dead device's lease is still there"
fi
OUT=$(curl -sS -H "Authorization: Bearer $ADMIN" "$BASE/v1/audit")
contains "the audit trail says why" '"event":"idle-timeout"'

kill -INT "$SERVER"
wait "$SERVER" || fail "server did not stop cleanly: $(tail -5 "$TMP/server.log")"
finish
