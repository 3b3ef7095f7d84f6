#!/usr/bin/env bash
# Leases live while they are used: with a short lease_ttl, a tunnel whose
# public side has traffic is renewed term after term; max_lifetime ends it
# however busy, and the audit trail says so.
. "$(dirname "$0")/lib.sh"
HTTPKIT="$(dirname "$0")/httpkit.py"

APP=$(free_port)
/usr/bin/python3 "$HTTPKIT" serve "$APP" >"$TMP/app.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")

# run_server NAME EXTRA_CONF: a server on its own state directory; sets
# PORT, HTTP, CONN, SERVER_PID.
run_server() {
  PORT=$(free_port)
  HTTP=$(free_port)
  cat >"$TMP/$1.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
http_listen = 127.0.0.1:$HTTP
tls_listen = off
lease_ttl = 2s
$2
CONF
  "$WEFT" server --config "$TMP/$1.conf" --state-dir "$TMP/$1-state" >"$TMP/$1.log" 2>&1 </dev/null &
  SERVER_PID=$!
  STARTED_PIDS+=("$SERVER_PID")
  wait_for 20 curl -fsS "http://127.0.0.1:$PORT/healthz" || fail "$1: $(cat "$TMP/$1.log")"
  CONN="weft://$(cat "$TMP/$1-state/secret")@127.0.0.1:$PORT"
}

# start_tunnel NAME: sets URL and TUNNEL_PID.
start_tunnel() {
  "$WEFT" tunnel --device-id "dev-$1" "$CONN" "http://127.0.0.1:$APP" >"$TMP/$1.out" 2>&1 </dev/null &
  TUNNEL_PID=$!
  STARTED_PIDS+=("$TUNNEL_PID")
  wait_for 20 grep -q "is reachable at" "$TMP/$1.out" || fail "$1: $(cat "$TMP/$1.out")"
  URL=$(sed -n 's/.*is reachable at \(http[^ ]*\).*/\1/p' "$TMP/$1.out" | head -n 1)
}

# busy SECONDS: a request every 0.25 s; fails at the first that does not
# get 200.
busy() {
  local end=$(($(date +%s) + $1))
  while [ "$(date +%s)" -lt "$end" ]; do
    curl -fsS -o /dev/null "${URL}echo" || return 1
    sleep 0.25
  done
}

run_server renew ""
start_tunnel renew
if busy 8; then pass "a busy tunnel outlives four 2 s lease terms"; else fail "the busy tunnel ended: $(tail -5 "$TMP/renew.log")"; fi
# Left alone, it ends with its term (watched through the API: a request
# to the tunnel itself would be traffic).
ADMIN=$("$WEFT" login "$CONN" --device-id admin)
gone() {
  ! curl -fsS -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$PORT/v1/tunnels" | grep -q dev-renew
}
if wait_for 10 gone; then
  pass "without traffic the tunnel ends with its term"
else
  fail "an unused tunnel lived on"
fi
OUT=$(curl -sS -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$PORT/v1/audit")
contains "the audit trail says it expired" '"event":"expired"'
kill -INT "$SERVER_PID"
wait "$SERVER_PID" || fail "server did not stop cleanly: $(tail -5 "$TMP/renew.log")"

run_server hard "max_lifetime = 4s"
start_tunnel hard
START=$(date +%s)
busy 15
LIVED=$(($(date +%s) - START))
[ "$LIVED" -ge 2 ] && [ "$LIVED" -le 8 ] && pass "max_lifetime ends a busy tunnel (after ${LIVED} s)" \
  || fail "the busy tunnel lived ${LIVED} s with max_lifetime = 4s"
ADMIN=$("$WEFT" login "$CONN" --device-id admin)
OUT=$(curl -sS -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$PORT/v1/audit")
contains "the audit trail says why" '"event":"max-lifetime"'
kill -INT "$SERVER_PID"
wait "$SERVER_PID" || fail "server did not stop cleanly: $(tail -5 "$TMP/hard.log")"

finish
