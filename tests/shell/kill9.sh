#!/usr/bin/env bash
# kill -9 the server again and again while devices create tunnels: after each
# restart every lease a client was told about is still there, no device holds
# two, and the store is intact. Bounded: ROUNDS rounds of DEVICES devices.
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-6}
DEVICES=${DEVICES:-12}
PORT=$(free_port)
STATE="$TMP/state"
BASE="http://127.0.0.1:$PORT"
cat >"$TMP/weft.conf" <<CONF
[server]
; this test still administers by the older way: a device id
admins = admin
listen = 127.0.0.1:$PORT
http_listen = off
tls_listen = off
CONF

start_server --plugin-dir "$TEST_TRANSPORT_DIR"
ADMIN=$("$WEFT" login "$CONN" --device-id admin) || fail "admin login"
mkdir -p "$TMP/committed.d"

# One device: log in, create, and record the id only once the server said so.
device() {
  local dev=$1 token code
  token=$("$WEFT" login "$CONN" --device-id "$dev" 2>/dev/null) || return 0
  code=$(curl -sS -o "$TMP/$dev.json" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $token" --max-time 5 "$BASE/v1/tunnels" \
    --data-binary '{"transport":"testtransport","local":"tcp://127.0.0.1:22"}' 2>/dev/null)
  if [ "$code" = 201 ]; then
    # One file per device: concurrent appends to one file could interleave.
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"], sys.argv[2])' \
      "$TMP/$dev.json" "$dev" >"$TMP/committed.d/$dev"
  fi
}

for round in $(seq 1 "$ROUNDS"); do
  for i in $(seq 1 "$DEVICES"); do device "r${round}d$i" & done
  # Kill somewhere in the middle of the burst.
  sleep "0.$(( (RANDOM % 5) + 1 ))"
  kill -9 "$SERVER"
  wait "$SERVER" 2>/dev/null
  wait
  start_server --plugin-dir "$TEST_TRANSPORT_DIR"
  OUT=$(curl -sS -H "Authorization: Bearer $ADMIN" "$BASE/v1/tunnels")
  cat "$TMP"/committed.d/* >"$TMP/committed" 2>/dev/null
  lost=0
  while read -r id dev; do
    case "$OUT" in *"\"id\":\"$id\""*) ;; *) lost=$((lost + 1)); echo "lost $id of $dev" ;; esac
  done <"$TMP/committed"
  [ "$lost" -eq 0 ] && pass "round $round: every committed lease survived ($(wc -l <"$TMP/committed") so far)" \
    || fail "round $round: $lost committed lease(s) lost"
done

kill -9 "$SERVER"
wait "$SERVER" 2>/dev/null
OUT=$(python3 - "$STATE/weft.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print("integrity:", db.execute("PRAGMA integrity_check").fetchone()[0])
dups = db.execute("SELECT COUNT(*) FROM (SELECT device_id FROM leases GROUP BY device_id HAVING COUNT(*) > 1)").fetchone()[0]
print("duplicate devices:", dups)
ports = db.execute("SELECT COUNT(*) FROM (SELECT port FROM leases WHERE port IS NOT NULL GROUP BY port_proto, port HAVING COUNT(*) > 1)").fetchone()[0]
print("duplicate ports:", ports)
print("leases:", db.execute("SELECT COUNT(*) FROM leases").fetchone()[0])
PY
)
echo "$OUT"
contains "store intact" "integrity: ok"
contains "no device twice" "duplicate devices: 0"
contains "no port twice" "duplicate ports: 0"
finish
