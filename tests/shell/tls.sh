#!/usr/bin/env bash
# TLS on the control port, through real processes: the self-signed default
# and a configured certificate (checked by curl and openssl), the login
# bound to the TLS channel (a TLS-terminating man in the middle fails, a
# TCP passthrough works), plain HTTP refused where configured, and a
# device that comes back when the server's certificate changes.
. "$(dirname "$0")/lib.sh"
NETKIT="$(dirname "$0")/netkit.py"

PORT=$(free_port)
STATE="$TMP/state"
BASE="https://127.0.0.1:$PORT"
write_conf() {
  cat >"$TMP/weft.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
http_listen = off
tls_listen = off
port_range = 33000-33009
$1
CONF
}
stop_server() {
  kill -INT "$SERVER"
  wait "$SERVER" || fail "server did not stop cleanly: $(tail -5 "$TMP/server.log")"
}
fingerprint_of() { # the SHA-256 of a PEM certificate, as weft prints it
  openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'
}

# --- the default: a self-signed certificate, made once, kept
write_conf "plain_http = off"
start_server
FP=$(fingerprint_of "$STATE/tls.crt")
OUT=$(cat "$TMP/server.log")
contains "the server logs its certificate's fingerprint" "certificate SHA-256 $FP"
check "curl verifies the self-signed certificate for 127.0.0.1" 0 curl -fsS --cacert "$STATE/tls.crt" "$BASE/healthz"
[ "$(stat -c %a "$STATE/tls.key")" = 600 ] && pass "the key is private (0600)" || fail "tls.key mode $(stat -c %a "$STATE/tls.key")"
check "weft login over TLS" 0 "$WEFT" login "$CONN" --device-id dev-a
ADMIN=$OUT
OUT=$(cat "$TMP/server.log")
contains "the login was channel bound" "device dev-a logged in from 127.0.0.1 (TLS, channel bound)"

# --- TLS 1.2 offers only AEAD suites with forward secrecy
tls12() { # CIPHER: the cipher the server agreed to, or nothing
  openssl s_client -connect "127.0.0.1:$PORT" -tls1_2 -cipher "$1" </dev/null 2>/dev/null |
    sed -n 's/^ *Cipher *: *//p' | grep -v '^0000$' | head -n 1
}
[ -n "$(tls12 ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256)" ] \
  && pass "TLS 1.2 with an ECDHE AES-GCM suite works" || fail "no TLS 1.2 AEAD handshake"
[ -z "$(tls12 'AES128-SHA:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:AES256-GCM-SHA384:AES128-GCM-SHA256')" ] \
  && pass "TLS 1.2 refuses CBC and RSA key exchange" || fail "TLS 1.2 agreed to a CBC or RSA-kx suite"

# --- plain HTTP refused (plain_http = off), health still open
check "plain healthz" 0 curl -fsS "http://127.0.0.1:$PORT/healthz"
OUT=$(curl -sS -w ' %{http_code}' -X POST "http://127.0.0.1:$PORT/v1/login" --data-binary '{}')
contains "plain login refused" '"code":"tls_required"'
contains "with 403" ' 403'
OUT=$(curl -sS -w ' %{http_code}' -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$PORT/v1/tunnels")
contains "plain API refused, even with a session" ' 403'
OUT=$(curl -sSk -w ' %{http_code}' -H "Authorization: Bearer $ADMIN" "$BASE/v1/tunnels")
contains "the same request over TLS works" ' 200'

# --- a man in the middle who ends TLS and opens his own: no login
MITM=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$TMP/mitm.key" -out "$TMP/mitm.crt" 2>/dev/null || fail "openssl req"
python3 "$NETKIT" tls-relay "$MITM" "$PORT" "$TMP/mitm.crt" "$TMP/mitm.key" >"$TMP/mitm.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
wait_for 10 grep -q listening "$TMP/mitm.log" || fail "relay did not start"
check "login through a TLS-terminating relay fails" 1 "$WEFT" login "weft://$(cat "$STATE/secret")@127.0.0.1:$MITM" --device-id dev-m
contains "and the client says why" "could not prove it knows the secret over this TLS connection"
case "$OUT" in eyJ*) fail "a session leaked through the relay" ;; *) pass "no session through the relay" ;; esac

# --- a TCP passthrough (TLS end to end) is fine
PASS=$(free_port)
python3 "$NETKIT" tcp-relay "$PASS" "$PORT" >"$TMP/pass.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
wait_for 10 grep -q listening "$TMP/pass.log" || fail "relay did not start"
check "login through a TCP passthrough works" 0 "$WEFT" login "weft://$(cat "$STATE/secret")@127.0.0.1:$PASS" --device-id dev-p

# --- a device over wss; the server's certificate changes under it
ECHO=$(free_port)
python3 "$NETKIT" echo-server "$ECHO" >"$TMP/echo-server.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
"$WEFT" tunnel --device-id dev-w "$CONN" "tcp://127.0.0.1:$ECHO" tcp://127.0.0.1:31901 >"$TMP/tunnel.out" 2>&1 &
STARTED_PIDS+=("$!")
wait_for 20 grep -q "is reachable at" "$TMP/tunnel.out" || fail "tunnel never came up: $(cat "$TMP/tunnel.out")"
check "bytes through the wss tunnel" 0 timeout 30 python3 "$NETKIT" roundtrip 127.0.0.1 31901 10
OUT=$(cat "$TMP/tunnel.out")
contains "the device's session is TLS, pinned" "(ws, TLS, certificate pinned)"
OUT=$(cat "$TMP/server.log")
contains "the server sees wss" "device dev-w connected from 127.0.0.1 (ws, TLS)"

# A configured certificate replaces the self-signed one.
stop_server
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=weft-test \
  -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$TMP/real.key" -out "$TMP/real.crt" 2>/dev/null || fail "openssl req"
write_conf "tls_cert = $TMP/real.crt
tls_key = $TMP/real.key"
start_server
check "curl verifies the configured certificate" 0 curl -fsS --cacert "$TMP/real.crt" "$BASE/healthz"
OUT=$(tail -20 "$TMP/server.log")
contains "and its fingerprint is logged" "certificate SHA-256 $(fingerprint_of "$TMP/real.crt")"
if wait_for 30 timeout 5 python3 "$NETKIT" roundtrip 127.0.0.1 31901 1; then
  pass "the device came back over the new certificate, with no help"
else
  fail "no traffic after the certificate changed: $(tail -5 "$TMP/tunnel.out")"
fi
OUT=$(cat "$TMP/tunnel.out")
contains "it noticed the new certificate and logged in over it" "TLS certificate changed"

# --- configuration mistakes are named
stop_server
write_conf "tls_cert = $TMP/real.crt"
check "tls_cert without tls_key" 3 "$WEFT" server --config "$TMP/weft.conf" --state-dir "$STATE"
contains "names the line" "weft.conf:6: [server] tls_cert and tls_key go together"
write_conf "tls_cert = $TMP/absent.crt
tls_key = $TMP/real.key"
"$WEFT" server --config "$TMP/weft.conf" --state-dir "$STATE" >"$TMP/bad.log" 2>&1
STATUS=$?
OUT=$(cat "$TMP/bad.log")
[ "$STATUS" -ne 0 ] && pass "a missing certificate stops the server" || fail "started without its certificate"
contains "naming the file" "$TMP/absent.crt"
finish
