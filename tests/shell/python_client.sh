#!/usr/bin/env bash
# The Python client (python/weft) against a real server: a real agent's
# tunnel listed with API keys over TLS and the local socket, a wrong key,
# devices added, enrolled, set and revoked, the device login with the
# secret, a key or an enrollment string, approvals (a real agent's among
# them), audit filters; tests/python/test_client.py holds those checks.
# Then what Python made works with weft itself, and `python3 -m weft
# tunnels` prints its table.
. "$(dirname "$0")/lib.sh"
NETKIT="$SOURCE_ROOT/tests/shell/netkit.py"
export PYTHONPATH="$SOURCE_ROOT/python" PYTHONDONTWRITEBYTECODE=1
# The interpreter python3 names, found once: a version manager's python3
# is a script that costs seconds each time.
PY=$(python3 -c 'import sys; print(sys.executable)')
if ! "$PY" -c 'import cryptography' 2>/dev/null; then
  echo "SKIP: $PY has no cryptography module (scripts/setup-deps.sh installs python3-cryptography)"
  exit 77
fi

read -r CTL ECHO PUB PUB2 < <("$PY" -c '
import socket
held = [socket.socket() for _ in range(4)]
for s in held: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in held))')
STATE="$TMP/state"
cat >"$TMP/weft.conf" <<CONF
[server]
listen = 127.0.0.1:$CTL
http_listen = off
tls_listen = off

[class "fleet"]
reach_ports = 22, 3389
CONF
"$WEFT" server --config "$TMP/weft.conf" --state-dir "$STATE" >"$TMP/server.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
wait_for 20 curl -ksfS "https://127.0.0.1:$CTL/healthz" || fail "server: $(tail -5 "$TMP/server.log")"
CONN="weft://$(cat "$STATE/secret")@127.0.0.1:$CTL"
export WEFT_RUN_DIR=$TMP/run
"$PY" "$NETKIT" echo-server "$ECHO" >/dev/null 2>&1 </dev/null &
STARTED_PIDS+=("$!")
agent() { # LOG ARGS...: a weft tunnel in the background
  local log=$1
  shift
  "$WEFT" tunnel "$@" >"$TMP/$log" 2>&1 </dev/null &
  STARTED_PIDS+=("$!")
}
agent a.log --device-id dev-a "$CONN" "tcp://127.0.0.1:$ECHO" "tcp://127.0.0.1:$PUB"
agent ask.log --await-approval --device-id dev-ask "$CONN" "tcp://127.0.0.1:$ECHO" "tcp://127.0.0.1:$PUB2"
key() { "$WEFT" user add "$1" --role "$2" --state-dir "$STATE" | tail -n 1; }
export ADMIN_KEY=$(key ada admin) OPS_KEY=$(key otto operator) VIEW_KEY=$(key vera viewer)
wait_for 20 grep -q "is reachable at" "$TMP/a.log" || fail "tunnel: $(cat "$TMP/a.log")"
wait_for 20 grep -q "waiting for an administrator" "$TMP/ask.log" || fail "ask: $(cat "$TMP/ask.log")"

export WEFT_URL="https://127.0.0.1:$CTL" WEFT_CONN="$CONN" WEFT_SERVER_STATE="$STATE"
export AGENT_DEVICE=dev-a AGENT_PUBLIC=$PUB ASK_DEVICE=dev-ask
export KEY_DIR="$TMP/keys" ENROLL_KEY="$WEFT_STATE_DIR/device-keys/py-enr.key"
mkdir -p "$KEY_DIR"
if "$PY" "$SOURCE_ROOT/tests/python/test_client.py" 2>&1; then
  pass "tests/python/test_client.py"
else
  fail "tests/python/test_client.py (server log: $(tail -5 "$TMP/server.log"))"
fi

# The real agent whose request Python approved opens its tunnel.
wait_for 20 grep -q "is reachable at" "$TMP/ask.log" &&
  pass "the agent whose request Python approved opens its tunnel" || fail "ask: $(cat "$TMP/ask.log")"
# A device Python enrolled logs in with weft itself: the key, and the
# server beside it (ID.server), are where weft tunnel keeps them.
agent enr.log --device-id py-enr "tcp://127.0.0.1:$ECHO"
wait_for 20 grep -q "is reachable at" "$TMP/enr.log" &&
  pass "weft tunnel runs as the device Python enrolled" || fail "py-enr: $(cat "$TMP/enr.log")"

check "python3 -m weft tunnels over the local socket" 0 "$PY" -m weft tunnels --socket "$STATE/admin.sock"
contains "prints a table" "ID"
contains "with the agent's tunnel" "dev-a"
contains "and the enrolled one's" "py-enr"
check "python3 -m weft tunnels with WEFT_API_KEY" 0 env WEFT_API_KEY="$VIEW_KEY" "$PY" -m weft tunnels \
  --server "https://127.0.0.1:$CTL" --ca "$STATE/tls.crt"
contains "the same table over TLS" "tcp://127.0.0.1:$PUB"
check "a wrong key" 1 env WEFT_API_KEY=weft_nope "$PY" -m weft devices --server "https://127.0.0.1:$CTL" --ca "$STATE/tls.crt"
contains "says the API's code" "401 unauthorized"
check "python3 -m weft approvals" 0 "$PY" -m weft approvals --socket "$STATE/admin.sock"
contains "lists the approved request" "approved"
finish
