#!/usr/bin/env bash
# weft tunnel --metrics-listen (issue 21 item 3): the agent's own
# /metrics, checked with promtool on a real scrape: the tunnel's state,
# bytes to and from its local service, and, after the server restarts,
# its reconnects and the time of its last error. Bad addresses are
# refused before any tunnel opens.
. "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || { echo "SKIP: promtool (Debian's prometheus) is not installed"; exit 77; }

PORT=$(free_port)
HTTP=$(free_port)
SITE=$(free_port)
MPORT=$(free_port)
STATE="$TMP/state"
cat >"$TMP/weft.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
http_listen = 127.0.0.1:$HTTP
tls_listen = off
CONF
mkdir -p "$TMP/site"
head -c 100000 /dev/urandom >"$TMP/site/blob.bin"
/usr/bin/python3 -m http.server "$SITE" --bind 127.0.0.1 --directory "$TMP/site" >"$TMP/site.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
start_server

for bad in "metrics.example.test:9100" ":9100" "127.0.0.1:notaport"; do
  check "--metrics-listen $bad is refused" 2 "$WEFT" tunnel --device-id dev-m \
    --metrics-listen "$bad" "$CONN" "http://127.0.0.1:$SITE"
  contains "and says why" "--metrics-listen $bad:"
done

"$WEFT" tunnel --device-id dev-m --metrics-listen "127.0.0.1:$MPORT" "$CONN" \
  "http://127.0.0.1:$SITE" >"$TMP/agent.out" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
wait_for 20 grep -q "is reachable at" "$TMP/agent.out" || fail "agent: $(cat "$TMP/agent.out")"
URL=$(sed -n 's/.*is reachable at \(http[^ ]*\).*/\1/p' "$TMP/agent.out" | head -n 1)
TID=$(basename "$URL")
for _ in 1 2 3; do curl -fsS -o /dev/null "${URL}blob.bin" || fail "visitor request"; done

scrape() { curl -fsS "http://127.0.0.1:$MPORT/metrics" >"$TMP/metrics.txt"; }
value() { awk -v k="$1{$2}" '$1 == k {print $2}' "$TMP/metrics.txt"; }
check "the agent serves /metrics" 0 scrape
check "promtool check metrics passes on the agent's" 0 promtool check metrics <"$TMP/metrics.txt"
T="tunnel=\"$TID\""
[ "$(value weft_agent_tunnel_up "$T")" = 1 ] && pass "the tunnel is up" || fail "up: $(grep tunnel_up "$TMP/metrics.txt")"
[ "$(value weft_agent_tunnel_state "$T,state=\"up\"")" = 1 ] && pass "its state is up" || fail "state"
IN=$(value weft_agent_tunnel_local_received_bytes_total "$T")
[ "${IN:-0}" -gt 300000 ] && [ "$IN" -lt 310000 ] && pass "bytes from the local service ~ 3 x 100 kB ($IN)" ||
  fail "local received bytes: $IN"
OUT=$(value weft_agent_tunnel_local_sent_bytes_total "$T")
[ "${OUT:-0}" -gt 100 ] && pass "bytes to the local service: the requests ($OUT)" || fail "local sent bytes: $OUT"
grep -q "^weft_agent_tunnel_info{$T,id=\"$TID\",transport=\"websocket\"} 1" "$TMP/metrics.txt" &&
  pass "its info" || fail "info: $(grep tunnel_info "$TMP/metrics.txt")"
for name in process_open_fds process_resident_memory_bytes weft_agent_event_loop_lag_seconds_count; do
  grep -q "^$name " "$TMP/metrics.txt" && pass "agent process metric $name" || fail "no $name"
done
check "only /metrics is served" 22 curl -fsS "http://127.0.0.1:$MPORT/"

# The server goes away and comes back: the agent retries (an error, with
# its time), renews its token and reconnects.
kill "$SERVER"
wait "$SERVER"
wait_for 10 bash -c "curl -fsS http://127.0.0.1:$MPORT/metrics | grep -q 'weft_agent_tunnel_up{$T} 0'" &&
  pass "down while the server is away" || fail "still up: $(curl -sS "http://127.0.0.1:$MPORT/metrics" | grep tunnel_)"
start_server
wait_for 30 bash -c "curl -fsS http://127.0.0.1:$MPORT/metrics | grep -q 'weft_agent_tunnel_up{$T} 1'" &&
  pass "up again once the server is back" || fail "not up again: $(tail -5 "$TMP/agent.out")"
scrape
check "promtool check metrics passes after the outage" 0 promtool check metrics <"$TMP/metrics.txt"
[ "$(value weft_agent_tunnel_reconnects_total "$T")" -ge 1 ] && pass "reconnects counted" ||
  fail "reconnects: $(value weft_agent_tunnel_reconnects_total "$T")"
RENEWED=$(value weft_agent_tunnel_token_renewals_total "$T,result=\"ok\"")
[ "${RENEWED:-0}" -ge 1 ] && pass "the token renewed to reconnect is counted ($RENEWED)" ||
  fail "renewals: $(grep renewals "$TMP/metrics.txt")"
[ "$(value weft_agent_tunnel_last_error_timestamp_seconds "$T")" -gt 1700000000 ] &&
  pass "the last error's time" || fail "last error: $(value weft_agent_tunnel_last_error_timestamp_seconds "$T")"
finish
