#!/usr/bin/env bash
# The consent flow on loopback: a device asks for a tunnel that waits for an
# administrator (weft tunnel --await-approval); nothing is open until one
# listed in [server] admins approves (weft admin approve); a denial, a
# withdrawal (Ctrl-C) and a restart each leave nothing open; either side
# ends an approved tunnel at once.
. "$(dirname "$0")/lib.sh"
NETKIT="$SOURCE_ROOT/tests/shell/netkit.py"

CTL=$(free_port) ECHO=$(free_port) PUB=$(free_port) PUB2=$(free_port)
cat >"$TMP/weft.conf" <<EOF
[server]
listen = 127.0.0.1:$CTL
http_listen = off
tls_listen = off
admins = ops, security

[transport.websocket]
reconnect_min = 200ms
reconnect_max = 1s
EOF
start_server() {
  "$WEFT" server --config "$TMP/weft.conf" --state-dir "$TMP/state" >>"$TMP/server.log" 2>&1 &
  SERVER=$!
  STARTED_PIDS+=("$SERVER")
  wait_for 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$CTL" || fail "server did not start"
}
start_server
CONN="weft://$(cat "$TMP/state/secret")@127.0.0.1:$CTL"
python3 "$NETKIT" echo-server "$ECHO" >/dev/null 2>&1 </dev/null &
STARTED_PIDS+=($!)
export WEFT_RUN_DIR=$TMP/run

ask() { # LOG DEVICE PUBLIC_PORT: a device asking, in the background
  "$WEFT" tunnel --await-approval --device-id "$2" "$CONN" "tcp://127.0.0.1:$ECHO" "tcp://127.0.0.1:$3" >"$TMP/$1" 2>&1 &
  LAST=$!
  STARTED_PIDS+=("$LAST")
  wait_for 20 grep -q "waiting for an administrator to approve request" "$TMP/$1" ||
    fail "$1: no waiting line: $(cat "$TMP/$1")"
  REQ=$(sed -n 's/.*approve request \(a[0-9a-f]*\).*/\1/p' "$TMP/$1" | head -1)
}

# ---- asked, then approved
ask x.log dev-x "$PUB"
DEV_X=$LAST
[ -n "$REQ" ] && pass "the device says which request waits, and how to approve it" || fail "no request id"
check "nothing listens before approval" 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PUB"
check "an administrator lists it" 0 "$WEFT" admin --device-id ops "$CONN" approvals
contains "with who asks" "dev-x"
contains "and for what" "tcp://127.0.0.1:$ECHO -> tcp://127.0.0.1:$PUB"
# What the administrator needs to trust it: the device's verification
# code (the same on both sides), its address and its key's fingerprint.
DEV_CODE=$(sed -n 's/.*verification code \([0-9]\{3\}-[0-9]\{3\}\).*/\1/p' "$TMP/x.log" | head -1)
[ -n "$DEV_CODE" ] && pass "the device shows a verification code ($DEV_CODE)" || fail "no code: $(cat "$TMP/x.log")"
contains "the administrator sees the same code" "code $DEV_CODE, from 127.0.0.1"
FP=$(sed -n 's/.*fingerprint \([0-9a-f-]*\)).*/\1/p' "$TMP/x.log" | head -1)
[ -n "$FP" ] || fail "the device logged no key fingerprint: $(cat "$TMP/x.log")"
contains "and the device key it logged in with" "device key $FP"
check "someone else sees nothing of it" 0 "$WEFT" admin --device-id dev-y "$CONN" approvals
case "$OUT" in *"$REQ"*) fail "a non-admin saw the request" ;; *) pass "not listed to non-admins" ;; esac
check "a non-admin cannot approve" 1 "$WEFT" admin --device-id dev-y "$CONN" approve "$REQ"
contains "says who may" "a device may not approve a request"
check "an administrator approves" 0 "$WEFT" admin --device-id ops "$CONN" approve "$REQ"
contains "and learns the tunnel" "approved: tunnel t"
TID=$(sed -n 's/.*approved: tunnel \(t[0-9a-f]*\).*/\1/p' <<<"$OUT")
wait_for 20 grep -q "is reachable at" "$TMP/x.log" && pass "the device opens the tunnel once approved" || fail "device not open: $(cat "$TMP/x.log")"
check "echo through the approved tunnel" 0 python3 "$NETKIT" roundtrip 127.0.0.1 "$PUB" 1
check "approving twice" 1 "$WEFT" admin --device-id ops "$CONN" approve "$REQ"
contains "is refused" "already decided"
grep -q "granted by ops: tunnel $TID" "$TMP/server.log" && pass "the server logs who approved" || fail "no approval log line"

# ---- the administrator ends it: at once, and the device is told
check "an administrator ends the tunnel" 0 "$WEFT" admin --device-id ops "$CONN" end "$TID"
check "its port is closed at once" 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PUB"
wait_for 20 grep -q "no longer has this tunnel" "$TMP/x.log" && pass "the device hears it ended" || fail "device not told: $(tail -3 "$TMP/x.log")"
kill "$DEV_X"; wait "$DEV_X" 2>/dev/null

# ---- denied: nothing opens, the device says why and exits
ask d.log dev-d "$PUB2"
DEV_D=$LAST
check "an administrator denies" 0 "$WEFT" admin --device-id security "$CONN" deny "$REQ"
wait_for 20 bash -c "! kill -0 $DEV_D 2>/dev/null" && pass "the denied device exits" || fail "denied device still running"
wait "$DEV_D"; CODE=$?
[ "$CODE" -ne 0 ] && pass "with a failure status ($CODE)" || fail "denied device exited 0"
grep -q "denied by security" "$TMP/d.log" && pass "and says who denied it" || fail "no reason: $(cat "$TMP/d.log")"
check "nothing listens after a denial" 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PUB2"

# ---- withdrawn: Ctrl-C while waiting takes the request back
ask w.log dev-w "$PUB2"
kill -INT "$LAST"; wait "$LAST" 2>/dev/null
check "a withdrawn request is gone" 0 "$WEFT" admin --device-id ops "$CONN" approvals
case "$OUT" in *"$REQ"*) fail "withdrawn request still listed" ;; *) pass "withdrawn request not listed" ;; esac
check "and cannot be approved" 1 "$WEFT" admin --device-id ops "$CONN" approve "$REQ"

# ---- a restart forgets waiting requests: never approved by accident
ask r.log dev-r "$PUB2"
DEV_R=$LAST
kill "$SERVER"; wait "$SERVER" 2>/dev/null
start_server
wait_for 20 bash -c "! kill -0 $DEV_R 2>/dev/null" && pass "the device stops when its request is lost" || fail "device still waiting after restart"
grep -q "ask again" "$TMP/r.log" && pass "and says to ask again" || fail "no hint: $(cat "$TMP/r.log")"
check "nothing listens after the restart" 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PUB2"

check "a bad await_approval is refused" 0 bash -c "TOKEN=\$('$WEFT' login --device-id dev-z '$CONN') && curl -sk -o /dev/null -w '%{http_code}' -H \"Authorization: Bearer \$TOKEN\" -d '{\"local\":\"tcp://127.0.0.1:$ECHO\",\"await_approval\":\"yes\"}' https://127.0.0.1:$CTL/v1/tunnels"
contains "with 400" "400"
finish
