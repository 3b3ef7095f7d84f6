#!/usr/bin/env bash
# A tunnel's life on the server and in the agent. Leases live while they
# are used: with a short lease_ttl, a tunnel whose public side has traffic
# is renewed term after term; max_lifetime ends it however busy, and the
# audit trail says so. When the server ends a tunnel because its lease
# ran out, the agent opens it again; when an administrator deletes it, the
# agent exits 5 and says who ended it. Both rows again over the vhost
# transport, whose device reaches the server through its TLS port only.
. "$(dirname "$0")/lib.sh"
HTTPKIT="$(dirname "$0")/httpkit.py"

APP=$(free_port)
/usr/bin/python3 "$HTTPKIT" serve "$APP" >"$TMP/app.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")

# run_server NAME EXTRA_CONF [TTL]: a server on its own state directory
# (lease_ttl TTL, 2s by default); sets PORT, HTTP, CONN, SERVER_PID, ADMIN.
# With TLS set, it also listens there, and CONN goes through that port.
run_server() {
  PORT=$(free_port)
  HTTP=$(free_port)
  cat >"$TMP/$1.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
http_listen = 127.0.0.1:$HTTP
tls_listen = $([ -n "${TLS:-}" ] && echo "127.0.0.1:$TLS" || echo off)
lease_ttl = ${3:-2s}
admins = admin
$2
CONF
  "$WEFT" server --config "$TMP/$1.conf" --state-dir "$TMP/$1-state" >"$TMP/$1.log" 2>&1 </dev/null &
  SERVER_PID=$!
  STARTED_PIDS+=("$SERVER_PID")
  wait_for 20 curl -fsS "http://127.0.0.1:$PORT/healthz" || fail "$1: $(cat "$TMP/$1.log")"
  CONN="weft://$(cat "$TMP/$1-state/secret")@127.0.0.1:${TLS:-$PORT}"
  ADMIN=$("$WEFT" login "weft://$(cat "$TMP/$1-state/secret")@127.0.0.1:$PORT" --device-id admin)
}

# tunnel_id_of DEVICE: its live tunnel's id, from the API ("" if none).
tunnel_id_of() {
  curl -fsS -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$PORT/v1/tunnels" |
    python3 -c 'import json, sys
for t in json.load(sys.stdin).get("tunnels", []):
    if t.get("device_id") == sys.argv[1]: print(t["id"])' "$1"
}

# start_tunnel NAME [OPTION...]: sets URL and TUNNEL_PID.
start_tunnel() {
  "$WEFT" tunnel --device-id "dev-$1" "${@:2}" "$CONN" "http://127.0.0.1:$APP" >"$TMP/$1.out" 2>&1 </dev/null &
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
# to the tunnel itself would be traffic), and the agent opens it again.
FIRST_ID=$(tunnel_id_of dev-renew)
[ -n "$FIRST_ID" ] && pass "the API lists the tunnel ($FIRST_ID)" || fail "no tunnel listed"
reopened() {
  local id
  id=$(tunnel_id_of dev-renew)
  [ -n "$id" ] && [ "$id" != "$FIRST_ID" ]
}
if wait_for 15 reopened; then
  pass "without traffic the tunnel ends with its term, and the agent opens it again"
else
  fail "not reopened: $(tail -5 "$TMP/renew.out")"
fi
OUT=$(curl -sS -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$PORT/v1/audit")
contains "the audit trail says it expired" '"event":"expired"'
OUT=$(cat "$TMP/renew.out")
contains "the agent says why it opens it again" "the server ended tunnel $FIRST_ID (expired); opening it again"
# Each new tunnel lives a 2 s term unless used: ask the newest.
newest() {
  curl -fsS -o /dev/null "$(sed -n 's/.*is reachable at \(http[^ ]*\).*/\1/p' "$TMP/renew.out" | tail -n 1)echo"
}
if wait_for 10 newest; then pass "the new tunnel carries traffic"; else fail "the new tunnel does not answer"; fi
kill -0 "$TUNNEL_PID" && pass "the agent is still running" || fail "the agent exited"
kill -TERM "$TUNNEL_PID"
wait "$TUNNEL_PID" && pass "SIGTERM stops the agent, exit 0" || fail "the agent's SIGTERM exit status"
kill -INT "$SERVER_PID"
wait "$SERVER_PID" || fail "server did not stop cleanly: $(tail -5 "$TMP/renew.log")"

# An administrator's delete is not undone: the agent exits 5, naming it.
run_server del "" 1h
start_tunnel del
ID=$(tunnel_id_of dev-del)
check "an administrator deletes the tunnel" 0 curl -fsS -X DELETE -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$PORT/v1/tunnels/$ID"
if wait_for 15 sh -c "! kill -0 $TUNNEL_PID"; then
  wait "$TUNNEL_PID"
  STATUS=$?
  [ "$STATUS" -eq 5 ] && pass "the agent exits 5" || fail "the agent exited $STATUS: $(tail -5 "$TMP/del.out")"
else
  fail "the agent kept running after the delete: $(tail -5 "$TMP/del.out")"
fi
OUT=$(cat "$TMP/del.out")
contains "it says the server ended the tunnel for good" "the server ended tunnel $ID (deleted); not opening it again"
contains "and who ended it" "deleted by admin from 127.0.0.1"
kill -INT "$SERVER_PID"
wait "$SERVER_PID" || fail "server did not stop cleanly: $(tail -5 "$TMP/del.log")"

run_server hard "max_lifetime = 4s"
start_tunnel hard
START=$(date +%s)
busy 15
LIVED=$(($(date +%s) - START))
[ "$LIVED" -ge 3 ] && [ "$LIVED" -le 12 ] && pass "max_lifetime ends a busy tunnel (after ${LIVED} s)" \
  || fail "the busy tunnel lived ${LIVED} s with max_lifetime = 4s"
OUT=$(curl -sS -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$PORT/v1/audit")
contains "the audit trail says why" '"event":"max-lifetime"'
kill -INT "$SERVER_PID"
wait "$SERVER_PID" || fail "server did not stop cleanly: $(tail -5 "$TMP/hard.log")"


# ---- the vhost transport: a lease that runs out is opened again, an
# administrator's delete ends the agent (exit 5)
TLS=$(free_port)
run_server vh ""
start_tunnel vh --transport vhost
VH_ID=$(tunnel_id_of dev-vh)
[ -n "$VH_ID" ] && pass "vhost: the tunnel is up ($VH_ID), its device on the TLS port" ||
  fail "vhost: no tunnel: $(tail -5 "$TMP/vh.out")"
vh_reopened() {
  local id
  id=$(tunnel_id_of dev-vh)
  [ -n "$id" ] && [ "$id" != "$VH_ID" ]
}
wait_for 15 vh_reopened && pass "vhost: its lease runs out, and the agent opens it again" ||
  fail "vhost: not reopened: $(tail -5 "$TMP/vh.out")"
kill -TERM "$TUNNEL_PID"
wait "$TUNNEL_PID" && pass "vhost: SIGTERM stops the agent, exit 0" || fail "vhost: SIGTERM exit status"
kill -INT "$SERVER_PID"
wait "$SERVER_PID" || fail "server did not stop cleanly: $(tail -5 "$TMP/vh.log")"
run_server vhdel "" 1h
start_tunnel vhdel --transport vhost
ID=$(tunnel_id_of dev-vhdel)
curl -fsS -o /dev/null -X DELETE -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$PORT/v1/tunnels/$ID"
if wait_for 15 sh -c "! kill -0 $TUNNEL_PID"; then
  wait "$TUNNEL_PID"
  STATUS=$?
  [ "$STATUS" -eq 5 ] && pass "vhost: an administrator's delete ends the agent, exit 5" ||
    fail "vhost: the agent exited $STATUS: $(tail -5 "$TMP/vhdel.out")"
else
  fail "vhost: the agent kept running after the delete: $(tail -5 "$TMP/vhdel.out")"
fi
kill -INT "$SERVER_PID"
wait "$SERVER_PID" || fail "server did not stop cleanly: $(tail -5 "$TMP/vhdel.log")"
unset TLS

finish
