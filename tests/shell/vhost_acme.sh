#!/usr/bin/env bash
# Termination with an ACME certificate, end to end: weft server started with
# an email address and Debian's pebble as its ACME directory; a device
# publishes its plain-HTTP app as https://shop.example.test; the server
# orders the certificate (HTTP-01 answered on its public HTTP port), stores
# it in STATE/acme and serves it on the TLS port; a visitor that trusts
# pebble's root reaches the app. After a restart the certificate is reused.
. "$(dirname "$0")/lib.sh"
HTTPKIT="$(dirname "$0")/httpkit.py"
for tool in pebble pebble-challtestsrv; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (apt-get install pebble)"; exit 77; }
done
. "$(dirname "$0")/pebble.sh"
start_pebble_retrying 0 pebble || { fail "pebble did not start"; finish; }

PORT=$(free_port)
TLS=$(free_port)
APP=$(free_port)
STATE="$TMP/state"
cat >"$TMP/weft.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
http_listen = 127.0.0.1:$HTTP01_PORT
tls_listen = 127.0.0.1:$TLS
email = admin@example.test
acme_directory = https://127.0.0.1:$ACME_PORT/dir
acme_ca_file = $CA
CONF
/usr/bin/python3 "$HTTPKIT" serve "$APP" >"$TMP/app.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
start_server
"$WEFT" tunnel --device-id shop "$CONN" "http://127.0.0.1:$APP" https://shop.example.test >"$TMP/tunnel.out" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
wait_for 20 grep -q "is reachable at" "$TMP/tunnel.out" && pass "the tunnel is accepted before its certificate exists" || fail "tunnel: $(cat "$TMP/tunnel.out")"
wait_for 60 grep -q "certificate for shop.example.test obtained" "$TMP/server.log" && pass "the server obtained a certificate with ACME" || fail "no certificate: $(grep ACME "$TMP/server.log")"
[ "$(stat -c %a "$STATE/acme/shop.example.test.key")" = 600 ] && pass "its key is 0600 in STATE/acme" || fail "key: $(ls -l "$STATE/acme")"
check "pebble's root" 0 curl -fsS --max-time 10 --cacert "$CA" -o "$TMP/root.pem" "https://127.0.0.1:$MGMT_PORT/roots/0"
check "https://shop.example.test with the ACME certificate" 0 curl -fsS --cacert "$TMP/root.pem" \
  --resolve "shop.example.test:$TLS:127.0.0.1" "https://shop.example.test:$TLS/echo"
contains "reaches the device's app" '"served_by": "httpkit"'
contains "marked https" '"x-forwarded-proto": "https"'
SEEN=$(openssl s_client -connect "127.0.0.1:$TLS" -servername shop.example.test </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 | cut -d= -f2)
[ "$SEEN" = "$(openssl x509 -noout -fingerprint -sha256 -in "$STATE/acme/shop.example.test.crt" | cut -d= -f2)" ] &&
  pass "the certificate served is the one stored" || fail "served $SEEN"

ORDERS=$(grep -c "ordering a certificate" "$TMP/server.log")
kill -TERM "$SERVER"
wait "$SERVER"
STATUS=$?
[ "$STATUS" = 0 ] && pass "the server stops cleanly (ACME manager included)" || fail "stop status $STATUS: $(tail -30 "$TMP/server.log")"
start_server
wait_for 20 grep -q "is reachable at" "$TMP/tunnel.out"
wait_for 30 curl -fsS --cacert "$TMP/root.pem" --resolve "shop.example.test:$TLS:127.0.0.1" "https://shop.example.test:$TLS/echo" &&
  pass "after a restart the name is served again" || fail "not served after restart: $(tail -5 "$TMP/server.log")"
[ "$(grep -c "ordering a certificate" "$TMP/server.log")" = "$ORDERS" ] && pass "with the stored certificate, no new order" || fail "ordered again"
finish
