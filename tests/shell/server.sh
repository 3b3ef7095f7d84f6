#!/usr/bin/env bash
# `weft server` as a daemon: starts on defaults, prints how to connect,
# keeps its secret private, reloads on SIGHUP, stops cleanly on signals.
. "$(dirname "$0")/lib.sh"

PORT=$(free_port)
STATE="$TMP/state"
LOG="$TMP/server.log"
CONF="$TMP/weft.conf"
cat >"$CONF" <<CONF
[server]
listen = 127.0.0.1:$PORT
http_listen = off
tls_listen = off
log_level = info
CONF

start_server() {
  "$WEFT" server --http-listen off --tls-listen off "$@" >"$LOG" 2>&1 &
  SERVER_PID=$!
  STARTED_PIDS+=("$SERVER_PID")
}

healthy() { curl -fsS "http://127.0.0.1:$PORT/healthz"; }

start_server --config "$CONF" --state-dir "$STATE" --secret-file "$TMP/conn.txt"
if wait_for 20 healthy; then pass "server answers /healthz"; else fail "server never became healthy: $(cat "$LOG")"; fi
# The store (and SQLite's -wal and -shm beside it) is the server's alone.
MODES=$(stat -c '%n %a' "$STATE"/weft.db* 2>&1)
if [ -n "$MODES" ] && ! printf '%s\n' "$MODES" | grep -qv ' 600$'; then
  pass "weft.db and its -wal and -shm are 0600"
else
  fail "store files not 0600: $MODES"
fi
OUT=$(curl -sS "http://127.0.0.1:$PORT/healthz")
contains "health body" '"status":"ok"'
OUT=$(curl -sS -i "http://127.0.0.1:$PORT/nope")
contains "unknown path is a JSON 404" '"code":"not_found"'
OUT=$(cat "$LOG")
contains "prints the connection string" "weft://"
contains "shows a tunnel example" "weft tunnel weft://"
contains "lists transports" "transports: autossh, vhost, websocket, wireguard"
if [ "$(stat -c %a "$STATE/secret")" = 600 ]; then pass "secret is mode 0600"; else fail "secret mode $(stat -c %a "$STATE/secret")"; fi
if [ "$(stat -c %a "$TMP/conn.txt")" = 600 ]; then pass "secret file is 0600"; else fail "secret file mode"; fi
OUT=$(cat "$TMP/conn.txt")
contains "secret file holds the connection string" "weft://$(cat "$STATE/secret")@127.0.0.1:$PORT"

# SIGHUP with a changed file: reported.
cat >>"$CONF" <<CONF
[tunnel "new"]
transport = websocket
local = tcp://127.0.0.1:22
CONF
kill -HUP "$SERVER_PID"
if wait_for 10 grep -q 'tunnel "new"\] added' "$LOG"; then pass "SIGHUP reports an added tunnel"; else fail "no reload report: $(cat "$LOG")"; fi
# SIGHUP with a broken file: refused, old config keeps running.
echo "bogus_key = 1" >>"$CONF"
kill -HUP "$SERVER_PID"
if wait_for 10 grep -q "refused, the running configuration stays" "$LOG"; then pass "SIGHUP refuses a broken file"; else fail "broken reload not reported: $(cat "$LOG")"; fi
OUT=$(cat "$LOG")
contains "refusal names file and line" "weft.conf:9: unknown key 'bogus_key'"
# A log record is one line: the refusal's lines each carry the prefix.
if grep -q "^weft: \|^[0-9-]*T[0-9:]*Z weft: " "$LOG" && ! grep -v "^[0-9-]*T[0-9:]*Z weft: " "$LOG" | grep -q "bogus_key"; then
  pass "every line of the reload report is its own log record"
else
  fail "a log record spans lines: $(grep -n -B1 bogus_key "$LOG")"
fi
if healthy >/dev/null; then pass "still serving after a refused reload"; else fail "server died on a bad reload"; fi

kill -INT "$SERVER_PID"
wait "$SERVER_PID"
STATUS=$?
if [ "$STATUS" -eq 0 ]; then pass "SIGINT exits 0"; else fail "SIGINT exit status $STATUS: $(cat "$LOG")"; fi
OUT=$(cat "$LOG")
contains "stopped cleanly" "stopped cleanly"

# The same secret on the next start.
FIRST=$(cat "$STATE/secret")
check "missing config file" 3 "$WEFT" server --http-listen off --tls-listen off --config "$TMP/missing.conf" --state-dir "$STATE"
contains "missing config named" "$TMP/missing.conf: cannot open"

start_server --bind-ips 127.0.0.1 --port "$PORT" --state-dir "$STATE"
wait_for 20 healthy || fail "second start not healthy"
OUT=$(cat "$LOG")
contains "secret reused across restarts" "weft://$FIRST@127.0.0.1:$PORT"
# A second server on the same port: clear error, exit 1.
check "port in use" 1 "$WEFT" server --http-listen off --tls-listen off --bind-ips 127.0.0.1 --port "$PORT" --state-dir "$TMP/state2"
contains "port in use explained" "cannot listen on 127.0.0.1:$PORT: address already in use"
# A second server on the same state directory (another port): refused at
# once, naming the first's PID, exit 3; the first is undisturbed.
OTHER_PORT=$(free_port)
check "state directory in use" 3 "$WEFT" server --http-listen off --tls-listen off --bind-ips 127.0.0.1 --port "$OTHER_PORT" --state-dir "$STATE"
contains "state directory holder named" "in use by another weft server (PID $SERVER_PID)"
if healthy >/dev/null && [ "$(cat "$STATE/weft.lock")" = "$SERVER_PID" ]; then
  pass "the first server still serves and holds the lock"
else
  fail "the first server was disturbed: $(cat "$LOG")"
fi
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
STATUS=$?
if [ "$STATUS" -eq 0 ]; then pass "SIGTERM exits 0"; else fail "SIGTERM exit status $STATUS"; fi

# Secrets that are wrong stop the server with a message.
mkdir -p "$TMP/bad" && chmod 700 "$TMP/bad"
printf 'short\n' >"$TMP/bad/secret" && chmod 600 "$TMP/bad/secret"
check "short secret refused" 3 "$WEFT" server --http-listen off --tls-listen off --bind-ips 127.0.0.1 --port "$PORT" --state-dir "$TMP/bad"
contains "short secret explained" "is too short"
chmod 644 "$TMP/bad/secret"
check "readable secret refused" 3 "$WEFT" server --http-listen off --tls-listen off --bind-ips 127.0.0.1 --port "$PORT" --state-dir "$TMP/bad"
contains "open secret explained" "open to other users"

# One secret per bound address.
check "per-IP secrets need specific addresses" 3 "$WEFT" server --http-listen off --tls-listen off --use-secret-per-ip --port "$PORT" --state-dir "$TMP/s3"
contains "wildcard refused" "--use-secret-per-ip needs specific addresses"
start_server --use-secret-per-ip --bind-ips 127.0.0.1,127.0.0.2 --port "$PORT" --state-dir "$TMP/s4"
wait_for 20 healthy || fail "per-IP server not healthy: $(cat "$LOG")"
OUT=$(cat "$LOG")
contains "first address has its secret" "weft://$(cat "$TMP/s4/secret-127.0.0.1")@127.0.0.1:$PORT"
contains "second address has its secret" "weft://$(cat "$TMP/s4/secret-127.0.0.2")@127.0.0.2:$PORT"
if [ "$(cat "$TMP/s4/secret-127.0.0.1")" != "$(cat "$TMP/s4/secret-127.0.0.2")" ]; then pass "secrets differ per address"; else fail "same secret for both"; fi
kill -INT "$SERVER_PID"
wait "$SERVER_PID" || fail "per-IP server did not stop cleanly"

finish
