#!/usr/bin/env bash
# Devices an administrator enrolls: weft device add prints a one-time
# string; weft tunnel --enroll binds the device's key with it, and from
# then on the device logs in with its key alone (no secret, no connection
# string), knowing the server by the key the string pinned. A string works
# once, before its expiry, for its device; nobody else can be that device,
# not even with the server's secret.
. "$(dirname "$0")/lib.sh"
NETKIT="$(dirname "$0")/netkit.py"

PORT=$(free_port)
ECHO=$(free_port)
STATE="$TMP/state"
cat >"$TMP/weft.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
http_listen = off
tls_listen = off
port_range = 21000-21099

[class "fleet"]
reach_ports = 22
CONF
start_server
python3 "$NETKIT" echo-server "$ECHO" >"$TMP/echo.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
DEV="$TMP/device" # the device's own state directory: its key

string_for() { # ID [OPTIONS]: a fresh enrollment string
  "$WEFT" device add "$@" --state-dir "$STATE" | tail -n 1
}
S=$(string_for dev-x --class fleet --expires 1h)
case "$S" in weft-enroll://*) pass "weft device add prints an enrollment string" ;; *) fail "no string: $S" ;; esac

# Tampered: the token changed, or the pin. Neither uses the string up.
T=${S#weft-enroll://}
[ "${T:0:1}" = A ] && X=B || X=A
check "a changed token is refused" 3 env WEFT_STATE_DIR="$TMP/mallory" "$WEFT" tunnel --enroll "weft-enroll://$X${T:1}" "tcp://127.0.0.1:$ECHO"
contains "with the uniform answer" "this enrollment string is not valid"
PIN=${S##*pin=}
BADPIN="sha256//$(head -c 32 /dev/urandom | base64)"
check "a changed pin is refused before anything is sent" 3 env WEFT_STATE_DIR="$TMP/mallory" "$WEFT" tunnel --enroll "${S%pin=*}pin=$BADPIN" "tcp://127.0.0.1:$ECHO"
contains "naming the key" "pinned"
check "a string for dev-x is not for dev-y" 2 env WEFT_STATE_DIR="$DEV" "$WEFT" tunnel --enroll "$S" --device-id dev-y "tcp://127.0.0.1:$ECHO"

# The device enrolls and opens its tunnel in one go.
env WEFT_STATE_DIR="$DEV" "$WEFT" tunnel --enroll "$S" "tcp://127.0.0.1:$ECHO" >"$TMP/x.out" 2>&1 </dev/null &
X_PID=$!
STARTED_PIDS+=("$X_PID")
wait_for 20 grep -q "is reachable at" "$TMP/x.out" && pass "the device enrolls and its tunnel comes up" || fail "enroll: $(cat "$TMP/x.out")"
PUB=$(sed -n 's/.*is reachable at tcp:\/\/[^:]*:\([0-9]*\).*/\1/p' "$TMP/x.out" | head -n 1)
check "it carries bytes" 0 timeout 20 python3 "$NETKIT" roundtrip 127.0.0.1 "$PUB" 1
check "the server shows it" 0 "$WEFT" device show dev-x --state-dir "$STATE"
contains "in the class the string gave" "class          fleet"
contains "with its key" "key            "
MODE=$(stat -c %a "$DEV/device-keys/dev-x.server")
[ "$MODE" = 600 ] && pass "where its server is, kept 0600 beside its key" || fail "mode $MODE"
kill "$X_PID"; wait "$X_PID" 2>/dev/null

check "the string works once" 3 env WEFT_STATE_DIR="$TMP/other" "$WEFT" tunnel --enroll "$S" "tcp://127.0.0.1:$ECHO"
contains "the second time refused" "enrollment_refused"
S2=$(string_for dev-x)
case "$S2" in *device_enrolled*|"") pass "no second string for an enrolled id" ;; *) fail "got one: $S2" ;; esac

# Later: the key alone, no connection string.
env WEFT_STATE_DIR="$DEV" "$WEFT" tunnel --device-id dev-x "tcp://127.0.0.1:$ECHO" >"$TMP/x2.out" 2>&1 </dev/null &
X_PID=$!
STARTED_PIDS+=("$X_PID")
wait_for 20 grep -q "is reachable at" "$TMP/x2.out" && pass "it comes back with --device-id alone" || fail "$(cat "$TMP/x2.out")"
grep -q "dev-x logged in from 127.0.0.1 (TLS, channel bound, its key alone)" "$TMP/server.log" &&
  pass "the server says it logged in with its key alone" || fail "$(grep dev-x "$TMP/server.log")"

# Nobody else is dev-x: not a secret holder, not another key.
check "a secret holder naming dev-x is refused" 3 env WEFT_STATE_DIR="$TMP/mallory" "$WEFT" tunnel --device-id dev-x "$CONN" "tcp://127.0.0.1:$ECHO"
contains "told the id has another key" "belongs to another device's key"
check "with no string and no secret it is told what to give" 2 env WEFT_STATE_DIR="$TMP/mallory" "$WEFT" tunnel --device-id dev-x "tcp://127.0.0.1:$ECHO"
contains "saying so" "was never enrolled here"

# An expired string.
S3=$(string_for dev-z --expires 1s)
sleep 2
check "an expired string is refused" 3 env WEFT_STATE_DIR="$TMP/z" "$WEFT" tunnel --enroll "$S3" "tcp://127.0.0.1:$ECHO"
check "a string with a bad shape says what is wrong" 2 "$WEFT" tunnel --enroll "weft-enroll://nonsense" "tcp://127.0.0.1:$ECHO"
contains "naming the token" "token"

# A new key replaces the old while the device is logged in; the old one
# no longer logs in.
cp -r "$DEV" "$TMP/old-key"
check "the device rotates its key" 0 env WEFT_STATE_DIR="$DEV" "$WEFT" device rotate dev-x
contains "and says so" "replaces the old one"
[ ! -e "$DEV/device-keys/dev-x.key.new" ] && pass "no key left half-made" || fail "a .new key is left"
cmp -s "$DEV/device-keys/dev-x.key" "$TMP/old-key/device-keys/dev-x.key" && fail "the key file did not change" || pass "the key file holds the new key"
check "the old key no longer logs in" 1 env WEFT_STATE_DIR="$TMP/old-key" timeout 20 "$WEFT" tunnel --device-id dev-x "tcp://127.0.0.1:$ECHO"
contains "refused" "authentication failed"
env WEFT_STATE_DIR="$DEV" "$WEFT" tunnel --device-id dev-x --replace "tcp://127.0.0.1:$ECHO" >"$TMP/x3.out" 2>&1 </dev/null &
NEW_PID=$!
STARTED_PIDS+=("$NEW_PID")
wait_for 20 grep -q "is reachable at" "$TMP/x3.out" && pass "the new key does" || fail "$(cat "$TMP/x3.out")"
kill "$X_PID" 2>/dev/null; wait "$X_PID" 2>/dev/null
X_PID=$NEW_PID

# One device, three tunnels at once (one weft.conf, one login).
kill "$X_PID" 2>/dev/null; wait "$X_PID" 2>/dev/null
: >"$TMP/three.conf"
for n in 1 2 3; do
  printf '[tunnel "t%s"]\ntransport = websocket\ndevice_id = dev-x\nlocal = tcp://127.0.0.1:%s\n\n' "$n" "$ECHO" >>"$TMP/three.conf"
done
env WEFT_STATE_DIR="$DEV" "$WEFT" tunnel --config "$TMP/three.conf" >"$TMP/three.out" 2>&1 </dev/null &
X_PID=$!
STARTED_PIDS+=("$X_PID")
wait_for 30 bash -c "[ \$(grep -c 'is reachable at' '$TMP/three.out') -ge 3 ]" &&
  pass "the enrolled device opens three tunnels at once" || fail "$(cat "$TMP/three.out")"
for port in $(sed -n 's/.*is reachable at tcp:\/\/[^:]*:\([0-9]*\).*/\1/p' "$TMP/three.out"); do
  check "each carries bytes (port $port)" 0 timeout 20 python3 "$NETKIT" roundtrip 127.0.0.1 "$port" 1
done

# Revoked: its tunnels end at once and the agent exits 5.
check "dev-x is revoked" 0 "$WEFT" device revoke dev-x --state-dir "$STATE"
wait_for 20 bash -c "! kill -0 $X_PID 2>/dev/null" && pass "its agent stops" || fail "agent still runs: $(tail -3 "$TMP/x2.out")"
wait "$X_PID"
RC=$?
[ "$RC" = 5 ] && pass "with exit 5" || fail "exit $RC: $(tail -3 "$TMP/x2.out")"

# Each step in the audit trail.
check "the audit trail" 0 curl -sS --unix-socket "$STATE/admin.sock" "http://localhost/v1/audit?device=dev-x"
for ev in enrollment-created enrollment-refused device-enrolled device-key-rotated device-revoked; do
  contains "has $ev" "\"event\":\"$ev\""
done

# ---- [server] enrollment = approve: a new device's key waits for an
# administrator, who sees the same verification code as the device.
PORT2=$(free_port)
STATE2="$TMP/state2"
sed -e "s/^listen = .*/listen = 127.0.0.1:$PORT2/" -e "s/^port_range = .*/port_range = 21100-21199\nenrollment = approve/" \
  "$TMP/weft.conf" >"$TMP/approve.conf"
"$WEFT" server --config "$TMP/approve.conf" --state-dir "$STATE2" >"$TMP/server2.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
wait_for 20 curl -ksfS "https://127.0.0.1:$PORT2/healthz" || fail "server 2: $(cat "$TMP/server2.log")"
CONN2="weft://$(cat "$STATE2/secret")@127.0.0.1:$PORT2"
env WEFT_STATE_DIR="$TMP/p" "$WEFT" tunnel --device-id dev-p "$CONN2" "tcp://127.0.0.1:$ECHO" >"$TMP/p.out" 2>&1 </dev/null &
P_PID=$!
STARTED_PIDS+=("$P_PID")
wait_for 20 grep -q "waits for an administrator to approve its key" "$TMP/p.out" &&
  pass "a new device is told it waits for approval" || fail "$(cat "$TMP/p.out")"
CODE=$(sed -n 's/.*verification code \([0-9]\{3\}-[0-9]\{3\}\).*/\1/p' "$TMP/p.out" | head -n 1)
REQ=$(sed -n 's/.*request \(a[0-9a-f]*\),.*/\1/p' "$TMP/p.out" | head -n 1)
check "the administrator lists it" 0 "$WEFT" admin approvals --state-dir "$STATE2"
contains "as an enrollment with the device's code" "code $CODE"
contains "naming the key" "enrollment: bind its key"
sleep 3 # the device keeps asking meanwhile, without being locked out
check "and approves it" 0 "$WEFT" admin approve "$REQ" --state-dir "$STATE2"
wait_for 20 grep -q "is reachable at" "$TMP/p.out" && pass "the device's tunnel then comes up" || fail "$(cat "$TMP/p.out")"
env WEFT_STATE_DIR="$TMP/q" "$WEFT" tunnel --device-id dev-q "$CONN2" "tcp://127.0.0.1:$ECHO" >"$TMP/q.out" 2>&1 </dev/null &
Q_PID=$!
STARTED_PIDS+=("$Q_PID")
wait_for 20 grep -q "waits for an administrator" "$TMP/q.out" || fail "$(cat "$TMP/q.out")"
REQ_Q=$(sed -n 's/.*request \(a[0-9a-f]*\),.*/\1/p' "$TMP/q.out" | head -n 1)
check "another is denied" 0 "$WEFT" admin deny "$REQ_Q" --state-dir "$STATE2"
wait_for 20 bash -c "! kill -0 $Q_PID 2>/dev/null" && pass "its agent stops" || fail "still waits: $(tail -2 "$TMP/q.out")"
wait "$Q_PID"
RC=$?
[ "$RC" = 3 ] && pass "with exit 3" || fail "exit $RC: $(tail -2 "$TMP/q.out")"
grep -q "denied device dev-q's key" "$TMP/q.out" && pass "saying it was denied" || fail "$(tail -2 "$TMP/q.out")"
check "the audit trail" 0 curl -sS --unix-socket "$STATE2/admin.sock" "http://localhost/v1/audit"
contains "has the request" '"event":"enrollment-requested"'
contains "and who approved it" 'approved","actor":"local:root"'
finish
