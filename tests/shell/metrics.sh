#!/usr/bin/env bash
# The server's /metrics on a real scrape (issue 21 item 3): per tunnel and
# per device series that match what visitors did (answers by class
# exactly, bytes roughly), `promtool check metrics` on the whole text, and
# the cap on label values ([server] metrics_max_series, lowered to 2
# here): a third tunnel and device are summed under "(other)".
. "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || { echo "SKIP: promtool (Debian's prometheus) is not installed"; exit 77; }

PORT=$(free_port)
HTTP=$(free_port)
SITE=$(free_port)
DEAD=$(free_port) # nothing listens here: 502
STATE="$TMP/state"
cat >"$TMP/weft.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
http_listen = 127.0.0.1:$HTTP
tls_listen = off
metrics_max_series = 2
CONF
mkdir -p "$TMP/site"
head -c 200000 /dev/urandom >"$TMP/site/blob.bin"
echo "<h1>hello</h1>" >"$TMP/site/index.html"
/usr/bin/python3 -m http.server "$SITE" --bind 127.0.0.1 --directory "$TMP/site" >"$TMP/site.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
start_server

# launch NAME DEVICE LOCAL, then reached NAME: sets URL and TID (its
# tunnel id) once it is up.
launch() {
  "$WEFT" tunnel --device-id "$2" "$CONN" "$3" >"$TMP/$1.out" 2>&1 </dev/null &
  STARTED_PIDS+=("$!")
}
reached() {
  wait_for 20 grep -q "is reachable at" "$TMP/$1.out" || fail "$1: $(cat "$TMP/$1.out")"
  URL=$(sed -n 's/.*is reachable at \(http[^ ]*\).*/\1/p' "$TMP/$1.out" | head -n 1)
  TID=$(basename "$URL")
}
launch site dev-site "http://127.0.0.1:$SITE"
launch dead dev-dead "http://127.0.0.1:$DEAD"
reached site
SITE_URL=$URL SITE_TID=$TID
reached dead
DEAD_URL=$URL DEAD_TID=$TID

# Visitors: on the site 3 x 200 (one a 200 kB file), 1 HEAD, 2 x 404; on
# the dead one 2 x 502.
for path in index.html index.html blob.bin nothing-here also-missing; do
  curl -sS -o /dev/null "$SITE_URL$path"
done
curl -sS -o /dev/null -I "${SITE_URL}index.html"
for _ in 1 2; do curl -sS -o /dev/null "${DEAD_URL}x"; done

scrape() { curl -fsS "http://127.0.0.1:$PORT/metrics" >"$TMP/metrics.txt"; }
check "GET /metrics" 0 scrape
check "promtool check metrics passes" 0 promtool check metrics <"$TMP/metrics.txt"
# value NAME LABELS: the sample's value (labels as they appear, in order).
value() { awk -v k="$1{$2}" '$1 == k {print $2}' "$TMP/metrics.txt"; }
expect() {
  local got
  got=$(value "$1" "$2")
  [ "$got" = "$3" ] && pass "$1{$2} = $3" || fail "$1{$2} = '$got', expected $3"
}
S="tunnel=\"$SITE_TID\",device=\"dev-site\""
D="tunnel=\"$DEAD_TID\",device=\"dev-dead\""
expect weft_tunnel_http_responses_total "$S,class=\"2xx\"" 4
expect weft_tunnel_http_responses_total "$S,class=\"4xx\"" 2
expect weft_tunnel_http_responses_total "$S,class=\"5xx\"" 0
expect weft_tunnel_http_responses_total "$D,class=\"5xx\"" 2
expect weft_tunnel_http_responses_total "$D,class=\"2xx\"" 0
expect weft_tunnel_http_response_duration_seconds_count "$S" 6
expect weft_tunnel_http_response_duration_seconds_bucket "$S,le=\"+Inf\"" 6
expect weft_tunnel_connections_total "$S" 6
expect weft_tunnel_connections_open "$S" 0
expect weft_tunnel_sessions_open "$S" 1
expect weft_tunnel_sessions_total "$S" 1
expect weft_device_tunnels_created_total 'device="dev-site"' 1
expect weft_device_http_responses_total 'device="dev-dead",class="5xx"' 2
SENT=$(value weft_tunnel_sent_bytes_total "$S")
RECEIVED=$(value weft_tunnel_received_bytes_total "$S")
# 200 000 bytes of file, a few hundred of pages, heads and error pages.
[ "${SENT:-0}" -gt 200000 ] && [ "$SENT" -lt 210000 ] &&
  pass "bytes sent to visitors ~ what they fetched ($SENT)" || fail "sent bytes $SENT"
[ "${RECEIVED:-0}" -gt 300 ] && [ "$RECEIVED" -lt 3000 ] &&
  pass "bytes received from visitors ~ six request heads ($RECEIVED)" || fail "received bytes $RECEIVED"
for name in process_open_fds process_resident_memory_bytes process_start_time_seconds \
  weft_event_loop_lag_seconds_count weft_store_statement_duration_seconds_count \
  weft_control_rate_limited_total; do
  grep -q "^$name " "$TMP/metrics.txt" && pass "node metric $name" || fail "no $name"
done

# The cap (2): a third tunnel and device go to "(other)"; ending it keeps
# what it carried there.
launch third dev-third "http://127.0.0.1:$SITE"
THIRD_PID=${STARTED_PIDS[-1]}
reached third
curl -sS -o /dev/null "${URL}index.html"
curl -sS -o /dev/null "${URL}missing"
scrape
check "promtool check metrics passes with (other)" 0 promtool check metrics <"$TMP/metrics.txt"
O='tunnel="(other)",device="(other)"'
expect weft_tunnel_http_responses_total "$O,class=\"2xx\"" 1
expect weft_tunnel_http_responses_total "$O,class=\"4xx\"" 1
expect weft_device_http_responses_total 'device="(other)",class="4xx"' 1
grep -q "dev-third" "$TMP/metrics.txt" && fail "a device beyond the cap has its own label" ||
  pass "no label for the tunnel and device beyond the cap"
kill -INT "$THIRD_PID"
wait "$THIRD_PID"
scrape
expect weft_tunnel_http_responses_total "$O,class=\"2xx\"" 1
expect weft_device_tunnels_ended_total 'device="(other)",reason="deleted"' 1
expect weft_tunnel_connections_open "$O" 0

finish
