#!/usr/bin/env bash
# A third party's transport end to end: sdk/examples/relay built with
# nothing but the installed SDK (`pkg-config weft-sdk`), loaded by weft
# server and weft tunnel, carries 10 MB each way between a public client
# and a local service, checked by SHA-256; then many connections, a slow
# reader, a dead local service, a server restart and a clean stop.
. "$(dirname "$0")/lib.sh"
NETKIT="$(dirname "$0")/netkit.py"
MB=${MB:-10}

DEST="$TMP/root"
check "meson install" 0 meson install -C "$BUILD_ROOT" --destdir "$DEST" --no-rebuild --quiet
PC_DIR=$(dirname "$(find "$DEST" -name weft-sdk.pc | head -n 1)")
export PKG_CONFIG_PATH="$PC_DIR" PKG_CONFIG_SYSROOT_DIR="$DEST" PKG_CONFIG_LIBDIR="$PC_DIR"
cp -r "$SOURCE_ROOT/sdk/examples/relay" "$TMP/relay"
chmod 0755 "$TMP/relay"
# The example must not see the source tree: only the installed SDK.
check "relay builds out of tree" 0 make -C "$TMP/relay" CC="${CC:-cc}" CFLAGS="-O2 ${SANITIZE_FLAGS:-}"
check "weft plugins loads it" 0 "$WEFT" plugins --plugin-dir "$TMP/relay"
contains "relay listed" "relay      $ABI   server client tcp"

PORT=$(free_port)
SWAP=$(free_port)
ECHO=$(free_port)
BULK=$(free_port)
DEAD=$(free_port) # nothing listens here
STATE="$TMP/state"
cat >"$TMP/weft.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
http_listen = off
tls_listen = off
port_range = 30000-30099

[transport.relay]
open_timeout = 20s
reconnect_min = 200ms
reconnect_max = 1s
CONF

head -c $((MB * 1024 * 1024)) /dev/urandom >"$TMP/upload"
head -c $((MB * 1024 * 1024)) /dev/urandom >"$TMP/download"
UP_SHA=$(sha256sum <"$TMP/upload" | cut -d' ' -f1)
DOWN_SHA=$(sha256sum <"$TMP/download" | cut -d' ' -f1)

python3 "$NETKIT" swap-server "$SWAP" "$TMP/download" "$TMP/swap-digests" >"$TMP/swap-server.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
python3 "$NETKIT" echo-server "$ECHO" >"$TMP/echo-server.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
python3 "$NETKIT" bulk-server "$BULK" 300 >"$TMP/bulk-server.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
start_server --plugin-dir "$TMP/relay"

# start_tunnel NAME LOCAL_PORT: a device's tunnel over relay, in the
# background; waits until the relay's control connection is up.
start_tunnel() {
  "$WEFT" tunnel --plugin-dir "$TMP/relay" --run-dir "$TMP/run-$1" --transport relay \
    --device-id "dev-$1" "$CONN" "tcp://127.0.0.1:$2" >"$TMP/$1.out" 2>&1 </dev/null &
  LAST_TUNNEL=$!
  STARTED_PIDS+=("$LAST_TUNNEL")
  wait_for 20 grep -q "\[relay\] tunnel .*: connected to" "$TMP/$1.out" ||
    fail "$1 never connected: $(cat "$TMP/$1.out")"
  PUBLIC_PORT=$(sed -n 's/.*is reachable at tcp:\/\/[^:]*:\([0-9]*\).*/\1/p' "$TMP/$1.out" | head -n 1)
}

start_tunnel swap "$SWAP"
SWAP_TUNNEL=$LAST_TUNNEL
check "$MB MB each way through the relay" 0 timeout 120 python3 "$NETKIT" swap 127.0.0.1 "$PUBLIC_PORT" "$TMP/upload"
echo "$OUT"
contains "the public client got the local service's file" "received $((MB * 1024 * 1024)) bytes"
contains "its SHA-256 matches" "sha256 $DOWN_SHA"
wait_for 10 test -s "$TMP/swap-digests"
OUT=$(cat "$TMP/swap-digests")
contains "the local service got the public client's file, SHA-256 matching" "$UP_SHA $((MB * 1024 * 1024))"

# Many at once: each is a connection of its own from the device.
start_tunnel echo "$ECHO"
ECHO_TUNNEL=$LAST_TUNNEL ECHO_PORT=$PUBLIC_PORT
check "50 connections at once" 0 timeout 60 python3 "$NETKIT" concurrent 127.0.0.1 "$ECHO_PORT" 50 64
echo "$OUT"

# A public client that reads nothing from a 300 MB sender: the relay's
# flow control holds both processes' memory down. (ASan keeps freed
# memory in quarantine, so a sanitized build gets more room.)
start_tunnel bulk "$BULK"
BULK_TUNNEL=$LAST_TUNNEL
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
LIMIT_KB=16384
[ -n "${SANITIZE_FLAGS:-}" ] && LIMIT_KB=65536
BEFORE_S=$(rss "$SERVER") BEFORE_T=$(rss "$BULK_TUNNEL")
timeout 30 python3 "$NETKIT" slow-reader 127.0.0.1 "$PUBLIC_PORT" 3 >"$TMP/slow.out" 2>&1 &
SLOW=$!
sleep 2.5
AFTER_S=$(rss "$SERVER") AFTER_T=$(rss "$BULK_TUNNEL")
wait "$SLOW"
echo "RSS with a slow reader: server ${BEFORE_S}->${AFTER_S} KiB, tunnel ${BEFORE_T}->${AFTER_T} KiB"
[ $((AFTER_S - BEFORE_S)) -lt $LIMIT_KB ] && pass "server memory bounded under a slow reader" || fail "server grew $((AFTER_S - BEFORE_S)) KiB"
[ $((AFTER_T - BEFORE_T)) -lt $LIMIT_KB ] && pass "tunnel memory bounded under a slow reader" || fail "tunnel grew $((AFTER_T - BEFORE_T)) KiB"

# A device whose local service is down answers FAIL: the public client
# is closed at once, not after open_timeout (20 s).
start_tunnel dead "$DEAD"
START=$(date +%s)
OUT=$(timeout 15 python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.settimeout(15); print(len(s.recv(1)))' "$PUBLIC_PORT" 2>&1)
[ "$OUT" = 0 ] && [ $(($(date +%s) - START)) -lt 10 ] && pass "a dead local service closes the public connection promptly" ||
  fail "got '$OUT' after $(($(date +%s) - START)) s"
OUT=$(cat "$TMP/dead.out")
contains "the device said why" "cannot reach the local service"

# The server restarts: the device redials with a fresh token, alone.
kill -TERM "$SERVER"
wait "$SERVER" || fail "server did not stop cleanly: $(tail -5 "$TMP/server.log")"
start_server --plugin-dir "$TMP/relay"
if wait_for 20 timeout 5 python3 "$NETKIT" roundtrip 127.0.0.1 "$ECHO_PORT" 1; then
  pass "traffic flows again after a server restart"
else
  fail "no traffic after the restart: $(tail -5 "$TMP/echo.out")"
fi
OUT=$(cat "$TMP/echo.out")
contains "the device logged its redial" "reconnecting in"

# Both sides stop cleanly: every handle closed, nothing leaked (ASan).
for pid in "$LAST_TUNNEL" "$SWAP_TUNNEL" "$ECHO_TUNNEL" "$BULK_TUNNEL" "$SERVER"; do
  kill -INT "$pid"
  wait "$pid" && pass "process $pid stopped cleanly" ||
    fail "process $pid exited with $?: $(tail -5 "$TMP"/*.out "$TMP/server.log")"
done
OUT=$(cat "$TMP"/*.out "$TMP/server.log")
case "$OUT" in
*"left a timer"* | *"weft: error:"* | *"runtime error"* | *"Sanitizer"*) fail "trouble in the logs: $OUT" ;;
*) pass "no leftover timers or errors in the logs" ;;
esac

finish
