#!/usr/bin/env bash
# Device identity, trust on first use: a device agent makes its own key
# (0600, in its state directory) and signs each login with it; the server
# binds the device id to the first key and from then on refuses the id to
# another key and to the secret alone, with one uniform error and an
# audit line. Key files others can read, or that are not keys, are
# refused on the device with a message that says why.
. "$(dirname "$0")/lib.sh"

CTL=$(free_port)
cat >"$TMP/weft.conf" <<CONF
[server]
; this test still administers by the older way: a device id
admins = admin
listen = 127.0.0.1:$CTL
http_listen = off
tls_listen = off
CONF
"$WEFT" server --config "$TMP/weft.conf" --state-dir "$TMP/state" \
  --plugin-dir "$TEST_TRANSPORT_DIR" >"$TMP/server.log" 2>&1 &
SERVER=$!
STARTED_PIDS+=("$SERVER")
wait_for 20 curl -fsS "http://127.0.0.1:$CTL/healthz" || fail "server did not start: $(cat "$TMP/server.log")"
CONN="weft://$(cat "$TMP/state/secret")@127.0.0.1:$CTL"
export WEFT_RUN_DIR=$TMP/run

# agent LOG [ENV...]: dev-k's tunnel in the background; sets AGENT.
agent() {
  local log=$1
  shift
  env "$@" "$WEFT" tunnel --plugin-dir "$TEST_TRANSPORT_DIR" --transport testtransport \
    --device-id dev-k "$CONN" tcp://127.0.0.1:22 >"$TMP/$log" 2>&1 &
  AGENT=$!
  STARTED_PIDS+=("$AGENT")
}
stop_agent() {
  kill -INT "$AGENT" 2>/dev/null
  wait "$AGENT" 2>/dev/null
}

agent first.log
wait_for 20 grep -q "is reachable at" "$TMP/first.log" || fail "first login: $(cat "$TMP/first.log")"
OUT=$(cat "$TMP/first.log")
contains "the agent makes its device key at its first login" "made its device key $WEFT_STATE_DIR/device-keys/dev-k.key"
KEY="$WEFT_STATE_DIR/device-keys/dev-k.key"
[ "$(stat -c %a "$KEY")" = 600 ] && pass "the key file is 0600" || fail "key mode $(stat -c %a "$KEY")"
OUT=$(cat "$TMP/server.log")
contains "the server binds the id to it" "device dev-k enrolled: bound to key"
stop_agent

# Another key for the same id (another machine, or a copy of the secret).
agent other.log WEFT_STATE_DIR="$TMP/other-state"
wait "$AGENT"
STATUS=$?
OUT=$(cat "$TMP/other.log")
[ "$STATUS" -ne 0 ] && pass "another key cannot log in as dev-k (exit $STATUS)" || fail "another key logged in: $OUT"
contains "it is told the id is another device's, and what to do" "device id dev-k belongs to another device's key: use another --device-id, or ask an administrator to run forget-key dev-k"
[ "$STATUS" -eq 3 ] && pass "and exits 3 (not a state waiting will change)" || fail "exit $STATUS for a key mismatch"
check "the secret alone cannot log in as dev-k" 1 env WEFT_STATE_DIR="$TMP/no-keys" "$WEFT" login "$CONN" --device-id dev-k
check "weft login signs with the device's key where it has one" 0 "$WEFT" login "$CONN" --device-id dev-k
check "the secret alone still logs in as an id no key holds (admin)" 0 "$WEFT" login "$CONN" --device-id admin
ADMIN=$OUT

# Its own key, again: in.
agent again.log
wait_for 20 grep -q "is reachable at" "$TMP/again.log" && pass "its own key logs in again" || fail "own key refused: $(cat "$TMP/again.log")"
stop_agent

# Key files the agent refuses, saying why.
chmod 644 "$KEY"
agent loose.log
wait "$AGENT"
OUT=$(cat "$TMP/loose.log")
contains "a key others can read is refused" "is readable by others; it must be a file only its owner reads (chmod 600"
chmod 600 "$KEY"
cp "$KEY" "$TMP/key.bak"
printf 'weft-device-key 1\nnot a key\n' >"$KEY"
agent bad.log
wait "$AGENT"
OUT=$(cat "$TMP/bad.log")
contains "a file that is not a key is refused" "is not usable: its key is not one line of 43 base64url characters"
cp "$TMP/key.bak" "$KEY"

check "an administrator lists the devices bound to keys" 0 "$WEFT" admin "$CONN" devices
contains "dev-k with its key's fingerprint" "dev-k"
FP=$(printf '%s' "$OUT" | awk '$1 == "dev-k" {print $3}')
grep -q "bound to key $FP" "$TMP/server.log" && pass "the same fingerprint the server logged at enrollment" ||
  fail "fingerprint $FP not in: $(grep enrolled "$TMP/server.log")"
check "a device may not list them" 1 "$WEFT" admin "$CONN" --device-id dev-z devices

# An administrator frees the id (a reinstalled device lost its key): the
# other key is bound at its next login. A device cannot free itself.
check "a device may not free an id" 1 "$WEFT" admin "$CONN" --device-id dev-z forget-key dev-k
check "an administrator frees dev-k" 0 "$WEFT" admin "$CONN" forget-key dev-k
contains "and says so" "device dev-k is free"
agent rebound.log WEFT_STATE_DIR="$TMP/other-state"
wait_for 20 grep -q "is reachable at" "$TMP/rebound.log" && pass "the other key is bound now" || fail "rebind: $(cat "$TMP/rebound.log")"
stop_agent
agent old.log
wait "$AGENT"
OUT=$(cat "$TMP/old.log")
contains "and the old key is the stranger" "belongs to another device's key"

# Revocation: a device with a live tunnel is revoked; the tunnel ends at
# once, its session stops working, and its own key no longer logs in;
# forget-key lifts it.
"$WEFT" tunnel --plugin-dir "$TEST_TRANSPORT_DIR" --transport testtransport \
  --device-id dev-r "$CONN" tcp://127.0.0.1:22 >"$TMP/r.log" 2>&1 &
R_AGENT=$!
STARTED_PIDS+=("$R_AGENT")
wait_for 20 grep -q "is reachable at" "$TMP/r.log" || fail "dev-r: $(cat "$TMP/r.log")"
check "dev-r logs in with its key" 0 "$WEFT" login "$CONN" --device-id dev-r
R_TOKEN=$OUT
check "a device may not revoke" 1 "$WEFT" admin "$CONN" --device-id dev-z revoke dev-r
check "an administrator revokes dev-r" 0 "$WEFT" admin "$CONN" revoke dev-r
contains "its tunnel ended" "device dev-r revoked: 1 tunnel(s) ended"
OUT=$(curl -sS -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$CTL/v1/tunnels")
case "$OUT" in *'"device_id":"dev-r"'*) fail "dev-r's tunnel is still live: $OUT" ;; *) pass "no tunnel of dev-r is left" ;; esac
CODE=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $R_TOKEN" "http://127.0.0.1:$CTL/v1/tunnels")
[ "$CODE" = 401 ] && pass "its session stops working (401)" || fail "revoked session got $CODE"
check "its own key no longer logs in" 1 "$WEFT" login "$CONN" --device-id dev-r
contains "and it is told it is revoked" "device dev-r is revoked; an administrator must run forget-key dev-r"
check "revoking twice says so" 1 "$WEFT" admin "$CONN" revoke dev-r
contains "already" "revoked already"
kill "$R_AGENT" 2>/dev/null; wait "$R_AGENT" 2>/dev/null
# Its stop cannot delete the tunnel (401, and the login is refused):
# said, not a crash (the ASan build saw a use after free here).
OUT=$(cat "$TMP/r.log")
contains "the revoked agent says why it could not delete" "could not delete a tunnel on the server"
case "$OUT" in *Sanitizer* | *"runtime error"*) fail "the revoked agent's stop: $OUT" ;; *) pass "and stops cleanly" ;; esac
check "forget-key lifts the revocation" 0 "$WEFT" admin "$CONN" forget-key dev-r
check "and the id enrolls again" 0 "$WEFT" login "$CONN" --device-id dev-r

# Enrollment closed (SIGHUP): ids bound already log in, new ones do not,
# and the secret alone is for administrators.
printf 'enrollment = closed\n' >>"$TMP/weft.conf"
kill -HUP "$SERVER"
wait_for 10 grep -q "SIGHUP: re-read" "$TMP/server.log" || fail "no reload: $(tail -3 "$TMP/server.log")"
check "closed: a bound device still logs in" 0 env WEFT_STATE_DIR="$TMP/other-state" "$WEFT" login "$CONN" --device-id dev-k
check "closed: a new device's key is refused (exit 3)" 3 env WEFT_STATE_DIR="$TMP/new-state" "$WEFT" tunnel \
  --plugin-dir "$TEST_TRANSPORT_DIR" --transport testtransport --device-id dev-new "$CONN" tcp://127.0.0.1:22
contains "it is told why" "this server takes no new devices (enrollment = closed)"
check "closed: the secret alone as a device is refused" 1 "$WEFT" login "$CONN" --device-id dev-keyless
check "closed: the secret alone as an administrator works" 0 "$WEFT" login "$CONN" --device-id admin
ADMIN=$OUT

# The audit trail says what happened, and to whom.
OUT=$(curl -sS -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$CTL/v1/audit?limit=50" 2>&1)
contains "enrollment is audited" '"event":"device-enrolled"'
contains "refusals are audited with their reason" "it has another device key"
contains "and a keyless login as a keyed id" "it has a device key and this login showed none"
contains "freeing an id is audited with who did it" "its key was forgotten by admin from 127.0.0.1"
contains "revocation is audited" '"event":"device-revoked"'
contains "and its tunnel's end" '"event":"revoked"'
contains "and the refused login of a revoked device" "it is revoked"
contains "and a new device while enrollment is closed" "enrollment is closed and it has no key yet"

# Each event names its actor, and the trail filters by device, actor,
# event and time; a device reads only its own events.
AUDIT="http://127.0.0.1:$CTL/v1/audit"
OUT=$(curl -sS -H "Authorization: Bearer $ADMIN" "$AUDIT?event=device-revoked")
contains "the revocation's actor is the administrator" '"event":"device-revoked","device_id":"dev-r","detail":"revoked by admin from 127.0.0.1","actor":"admin"'
OUT=$(curl -sS -H "Authorization: Bearer $ADMIN" "$AUDIT?device=dev-r&event=created")
contains "a tunnel's creation names its device" '"actor":"dev-r"'
OUT=$(curl -sS -H "Authorization: Bearer $ADMIN" "$AUDIT?actor=server&event=server-started")
contains "the server's start is in the trail" '"event":"server-started"'
OUT=$(curl -sS -H "Authorization: Bearer $ADMIN" "$AUDIT?actor=admin&limit=1000")
case "$OUT" in *'"actor":"dev-'*|*'"actor":"server"'*) fail "actor filter let others through: $OUT" ;; *) pass "the actor filter keeps one actor's events" ;; esac
OUT=$(curl -sS -H "Authorization: Bearer $ADMIN" "$AUDIT?since=4102444800")
contains "since a future time: nothing" '{"events":[]}'
CODE=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN" "$AUDIT?device=x%27or")
[ "$CODE" = 400 ] && pass "a filter that is not a plain name is refused" || fail "bad filter got $CODE"
check "dev-k logs in" 0 env WEFT_STATE_DIR="$TMP/other-state" "$WEFT" login "$CONN" --device-id dev-k
OUT=$(curl -sS -H "Authorization: Bearer $OUT" "$AUDIT?device=dev-r")
contains "a device asking for another's events gets none" '{"events":[]}'
finish
