#!/usr/bin/env bash
# The public TLS port end to end: two host names on one port reach two
# devices' own HTTPS services (SNI passthrough: the visitor sees each
# device's certificate); a third name the server terminates with a
# certificate from files (Host routing, X-Forwarded-*, reload on SIGHUP);
# plain HTTP with a redirect; a device whose login and session both go
# through the TLS port; and bad visitors: broken ClientHellos, plain HTTP,
# a slowloris, a flood of silent ones.
. "$(dirname "$0")/lib.sh"
HTTPKIT="$(dirname "$0")/httpkit.py"
TLSKIT="$(dirname "$0")/tlskit.py"

PORT=$(free_port)
HTTP=$(free_port)
TLS=$(free_port)
APP_A=$(free_port)
APP_B=$(free_port)
APP_C=$(free_port)
APP_F=$(free_port)
STATE="$TMP/state"
CERTS="$TMP/certs"
mkdir -p "$CERTS" "$TMP/pki"

# A throwaway CA and a certificate per name (lib.sh, openssl CLI).
test_ca
test_leaf a.example.test "$TMP/pki/a"
test_leaf b.example.test "$TMP/pki/b"
test_leaf c.example.test "$CERTS/c.example.test"
test_leaf f.example.test "$TMP/pki/f"
fingerprint() { openssl x509 -noout -fingerprint -sha256 -in "$1" | cut -d= -f2; }
# What the TLS port shows for a name.
seen() {
  openssl s_client -connect "127.0.0.1:$TLS" -servername "$1" </dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2
}

cat >"$TMP/weft.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
http_listen = 127.0.0.1:$HTTP
tls_listen = 127.0.0.1:$TLS
tls_certs_dir = $CERTS
client_hello_timeout = 3s
https_redirect = true
CONF

/usr/bin/python3 "$HTTPKIT" serve-tls "$APP_A" "$TMP/pki/a.crt" "$TMP/pki/a.key" device-a >"$TMP/a.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
/usr/bin/python3 "$HTTPKIT" serve-tls "$APP_B" "$TMP/pki/b.crt" "$TMP/pki/b.key" device-b >"$TMP/b.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
/usr/bin/python3 "$HTTPKIT" serve "$APP_C" >"$TMP/c.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
/usr/bin/python3 "$HTTPKIT" serve-tls "$APP_F" "$TMP/pki/f.crt" "$TMP/pki/f.key" device-f >"$TMP/f.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
start_server
grep -q "public TLS listening on 127.0.0.1:$TLS" "$TMP/server.log" && pass "the server says where its TLS port is" || fail "no TLS port line: $(cat "$TMP/server.log")"
SECRET=$(cat "$STATE/secret")

# start_tunnel NAME DEVICE CONN ARGS...: waits for its public URL in $URL.
start_tunnel() {
  local name=$1 device=$2 conn=$3
  shift 3
  "$WEFT" tunnel --device-id "$device" "$conn" "$@" >"$TMP/$name.out" 2>&1 </dev/null &
  STARTED_PIDS+=("$!")
  wait_for 20 grep -q "is reachable at" "$TMP/$name.out" || fail "$name: $(cat "$TMP/$name.out")"
  URL=$(sed -n 's/.*is reachable at \(http[^ ]*\).*/\1/p' "$TMP/$name.out" | head -n 1)
}

start_tunnel a dev-a "$CONN" "https://127.0.0.1:$APP_A" https://a.example.test
[ "$URL" = "https://a.example.test:$TLS" ] && pass "an https tunnel's URL names the TLS port" || fail "URL $URL"
start_tunnel b dev-b "$CONN" "https://127.0.0.1:$APP_B" https://b.example.test
start_tunnel c dev-c "$CONN" "http://127.0.0.1:$APP_C" https://c.example.test

# ---- SNI passthrough: two names, two devices, their own certificates
for n in a b; do
  check "https://$n.example.test through the TLS port" 0 curl -fsS --cacert "$TMP/pki/ca.pem" \
    --resolve "$n.example.test:$TLS:127.0.0.1" "https://$n.example.test:$TLS/echo?x=$n"
  contains "$n reaches device-$n" "\"served_by\": \"device-$n\""
  contains "$n's path arrives" "\"path\": \"/echo?x=$n\""
  [ "$(seen $n.example.test)" = "$(fingerprint "$TMP/pki/$n.crt")" ] &&
    pass "the visitor of $n sees device-$n's own certificate" || fail "certificate seen for $n: $(seen $n.example.test)"
done
check "a POST body through passthrough" 0 curl -fsS --cacert "$TMP/pki/ca.pem" \
  --resolve "a.example.test:$TLS:127.0.0.1" --data-binary @"$TMP/pki/a.crt" "https://a.example.test:$TLS/up"
contains "its length arrives" "\"body_len\": $(stat -c %s "$TMP/pki/a.crt")"
check "the hello split one byte per segment" 0 timeout 20 python3 "$TLSKIT" split 127.0.0.1 "$TLS" b.example.test "$TMP/pki/ca.pem"
contains "is routed all the same" "CN=b.example.test"
check "upper case and a trailing dot" 0 curl -fsS --cacert "$TMP/pki/ca.pem" \
  --resolve "A.Example.Test.:$TLS:127.0.0.1" "https://A.Example.Test.:$TLS/echo"
contains "reach a.example.test" "device-a"

# ---- termination with a certificate from files
check "https://c.example.test, terminated by the server" 0 curl -fsS --cacert "$TMP/pki/ca.pem" \
  -H "X-Forwarded-Proto: gopher" -H "X-Forwarded-For: 203.0.113.9" \
  --resolve "c.example.test:$TLS:127.0.0.1" "https://c.example.test:$TLS/echo?t=1"
contains "reaches the plain-HTTP app" '"served_by": "httpkit"'
contains "marked https" '"x-forwarded-proto": "https"'
contains "X-Forwarded-For set by the server" '"x-forwarded-for": "127.0.0.1"'
contains "X-Forwarded-Host" "\"x-forwarded-host\": \"c.example.test:$TLS\""
case "$OUT" in *203.0.113.9*|*gopher*) fail "client forwarding headers got through" ;; *) pass "client forwarding headers dropped" ;; esac
[ "$(seen c.example.test)" = "$(fingerprint "$CERTS/c.example.test.crt")" ] &&
  pass "the server shows c's certificate from tls_certs_dir" || fail "certificate seen for c"
OUT=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$TMP/pki/ca.pem" -H "Host: a.example.test" \
  --resolve "c.example.test:$TLS:127.0.0.1" "https://c.example.test:$TLS/echo")
[ "$OUT" = 421 ] && pass "another Host behind c's certificate: 421" || fail "fronting answered $OUT"
# New files, SIGHUP, the new certificate.
OLD=$(fingerprint "$CERTS/c.example.test.crt")
test_leaf c.example.test "$TMP/pki/c2"
cp "$TMP/pki/c2.crt" "$CERTS/c.example.test.crt"
cp "$TMP/pki/c2.key" "$CERTS/c.example.test.key"
[ "$(seen c.example.test)" = "$OLD" ] && pass "files changed: the loaded certificate stays until SIGHUP" || fail "changed before SIGHUP"
kill -HUP "$SERVER"
wait_for 10 grep -q "certificate(s) will be read again" "$TMP/server.log" || fail "no reload line"
[ "$(seen c.example.test)" = "$(fingerprint "$TMP/pki/c2.crt")" ] && pass "after SIGHUP the new certificate is served" || fail "old certificate after SIGHUP"
check "a name with no certificate is refused clearly" 1 "$WEFT" tunnel --device-id dev-d "$CONN" "http://127.0.0.1:$APP_C" https://d.example.test
contains "says what to do" "d.example.test.crt"

# ---- plain HTTP for https names
OUT=$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' -H "Host: a.example.test" "http://127.0.0.1:$HTTP/x?y=1")
[ "$OUT" = "308 https://a.example.test:$TLS/x?y=1" ] && pass "plain HTTP redirected to https" || fail "redirect: $OUT"

OUT=$(curl -sS -o /dev/null -w '%{http_code} %{size_header}' -H "Host: a.example.test" "http://127.0.0.1:$HTTP/$(head -c 3000 /dev/zero | tr '\0' x)")
case "$OUT" in "308 "*) [ "${OUT#308 }" -gt 3000 ] && pass "a 3000-byte path is redirected whole" || fail "long redirect: $OUT" ;; *) fail "long redirect: $OUT" ;; esac
C_ID=$(sed -n 's/.*tunnel \(t[0-9a-f]*\) created for device dev-c.*/\1/p' "$TMP/server.log" | head -n 1)
OUT=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP/$C_ID/echo")
[ "$OUT" = 404 ] && pass "an https tunnel is not reached in plain text by path" || fail "path to $C_ID answered $OUT"

# ---- a device that reaches the server only through the TLS port
TLSCONN="weft://$SECRET@127.0.0.1:$TLS"
check "weft login through the TLS port" 0 "$WEFT" login --device-id dev-e "$TLSCONN"
start_tunnel e dev-e "$TLSCONN" "http://127.0.0.1:$APP_C" http://e.example.test
check "its tunnel carries traffic" 0 curl -fsS -H "Host: e.example.test" "http://127.0.0.1:$HTTP/echo"
contains "from the app" '"served_by": "httpkit"'

# ---- the vhost transport: HTTP/2 straight over TLS, all through the TLS port
start_tunnel f dev-f "$TLSCONN" --transport vhost "https://127.0.0.1:$APP_F" https://f.example.test
grep -q "tunnel .*: device dev-f connected from 127.0.0.1 (h2, TLS)" "$TMP/server.log" &&
  pass "the vhost session arrives over TLS on the TLS port" || fail "no h2 session line: $(grep dev-f "$TMP/server.log")"
head -c 3000000 /dev/urandom >"$TMP/blob"
check "3 MB up through a vhost tunnel" 0 curl -fsS --cacert "$TMP/pki/ca.pem" \
  --resolve "f.example.test:$TLS:127.0.0.1" --data-binary @"$TMP/blob" "https://f.example.test:$TLS/up"
contains "reaches device-f" '"served_by": "device-f"'
contains "every byte" "\"body_sha256\": \"$(sha256sum "$TMP/blob" | cut -d' ' -f1)\""
check "and 3 MB down" 0 curl -fsS --cacert "$TMP/pki/ca.pem" -o "$TMP/down" \
  --resolve "f.example.test:$TLS:127.0.0.1" "https://f.example.test:$TLS/big?mb=3"
[ "$(stat -c %s "$TMP/down")" = $((3 << 20)) ] && pass "3 MB arrived" || fail "got $(stat -c %s "$TMP/down") bytes"
check "a vhost tunnel cannot carry udp" 2 "$WEFT" tunnel --transport vhost --device-id dev-g "$TLSCONN" udp://127.0.0.1:53 udp://:5353
contains "says why" "cannot carry udp"

# ---- a visitor resetting many connections must not end the device's session
check "1500 connections reset by their visitor" 0 timeout 90 python3 "$TLSKIT" resets 127.0.0.1 "$TLS" a.example.test 1500
echo "$OUT"
sleep 1
check "the tunnel still answers" 0 curl -fsS --max-time 5 --cacert "$TMP/pki/ca.pem" \
  --resolve "a.example.test:$TLS:127.0.0.1" "https://a.example.test:$TLS/echo"
if grep -q "disconnected" "$TMP/a.out"; then fail "the device's session broke: $(grep disconnected "$TMP/a.out" | head -3)"; else pass "without the device's session breaking"; fi

# ---- a second server whose control API is kept to 127.0.0.1: its TLS port
# on 127.0.0.2 does not open it (tls_control = auto); with a default host,
# a hello without a name but with ALPN weft/1 still goes to the server
PORT2=$(free_port)
TLS2=$(free_port)
cat >"$TMP/weft2.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT2
http_listen = off
tls_listen = 127.0.0.2:$TLS2
CONF
"$WEFT" server --config "$TMP/weft2.conf" --state-dir "$TMP/state2" >"$TMP/server2.log" 2>&1 </dev/null &
S2=$!
STARTED_PIDS+=("$S2")
wait_for 20 curl -fsS "http://127.0.0.1:$PORT2/healthz" || fail "server2: $(cat "$TMP/server2.log")"
grep -q "devices reach the control API there: no" "$TMP/server2.log" && pass "the log says the TLS port does not open the control API" || fail "server2 log: $(grep 'public TLS' "$TMP/server2.log")"
check "no login through a TLS port the control listen keeps out" 1 "$WEFT" login --device-id dev-x "weft://$(cat "$TMP/state2/secret")@127.0.0.2:$TLS2"
kill "$S2"; wait "$S2" 2>/dev/null
printf 'tls_control = on\ntls_default_host = A.Example.Test\n' >>"$TMP/weft2.conf"
"$WEFT" server --config "$TMP/weft2.conf" --state-dir "$TMP/state2" >"$TMP/server2.log" 2>&1 </dev/null &
S2=$!
STARTED_PIDS+=("$S2")
wait_for 20 curl -fsS "http://127.0.0.1:$PORT2/healthz" || fail "server2 again: $(cat "$TMP/server2.log")"
OUT=$(printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
  timeout 10 openssl s_client -quiet -connect "127.0.0.2:$TLS2" -alpn weft/1 2>/dev/null)
contains "ALPN weft/1 without a name reaches the control API despite a default host" "HTTP/1.1 200"
kill "$S2"; wait "$S2" 2>/dev/null

# ---- bad visitors
check "broken hellos are each closed within the timeout" 0 timeout 120 python3 "$TLSKIT" bad 127.0.0.1 "$TLS" 5
echo "$OUT"
check "a slowloris is closed at the hello timeout" 0 timeout 30 python3 "$TLSKIT" slow 127.0.0.1 "$TLS" a.example.test 6
echo "$OUT"
RSS0=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status")
check "200 silent visitors" 0 timeout 30 python3 "$TLSKIT" flood 127.0.0.1 "$TLS" 200
echo "$OUT"
RSS1=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status")
[ $((RSS1 - RSS0)) -lt 32768 ] && pass "their memory stays bounded ($((RSS1 - RSS0)) KiB)" || fail "RSS grew $((RSS1 - RSS0)) KiB"
check "still serving after all that" 0 curl -fsS --cacert "$TMP/pki/ca.pem" \
  --resolve "a.example.test:$TLS:127.0.0.1" "https://a.example.test:$TLS/echo"
kill -0 "$SERVER" && pass "the server is alive" || fail "the server died: $(tail -20 "$TMP/server.log")"

# ---- what the TLS port did, in /metrics
METRICS=$(curl -fsS "http://127.0.0.1:$PORT/metrics")
tls_count() { echo "$METRICS" | sed -n "s/^weft_tls_connections_total{route=\"$1\"} //p"; }
[ "$(tls_count passthrough)" -ge 1500 ] && pass "metrics count passthrough connections ($(tls_count passthrough))" || fail "passthrough: $(tls_count passthrough)"
[ "$(tls_count terminated)" -ge 3 ] && pass "and terminated ones ($(tls_count terminated))" || fail "terminated: $(tls_count terminated)"
[ "$(tls_count control)" -ge 2 ] && pass "and devices reaching the server ($(tls_count control))" || fail "control: $(tls_count control)"
[ "$(tls_count refused)" -ge 12 ] && pass "and refusals ($(tls_count refused))" || fail "refused: $(tls_count refused)"
[ "$(tls_count timed_out)" -ge 2 ] && pass "and hellos that never came ($(tls_count timed_out))" || fail "timed_out: $(tls_count timed_out)"

# ---- a server restart: the vhost device comes back by itself, same name
kill -TERM "$SERVER"
wait "$SERVER"
STATUS=$?
[ "$STATUS" = 0 ] && pass "the server stops cleanly" || fail "stop status $STATUS: $(tail -20 "$TMP/server.log")"
start_server
wait_for 30 curl -fsS --cacert "$TMP/pki/ca.pem" --resolve "f.example.test:$TLS:127.0.0.1" \
  "https://f.example.test:$TLS/echo" && pass "the vhost tunnel is back after a server restart" ||
  fail "f not back: $(tail -5 "$TMP/f.out")"
[ "$(grep -c 'connected to 127.0.0.1' "$TMP/f.out")" -ge 2 ] && pass "its device reconnected on its own" || fail "f.out: $(cat "$TMP/f.out")"

finish
