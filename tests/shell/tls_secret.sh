#!/usr/bin/env bash
# weft tunnel --tls-secret: a device hands the server the certificate
# and key for its https remote, and the server terminates TLS for that
# name with them (no ACME, no files of the administrator); the pair goes
# when the tunnel ends. Refused with a named reason: a certificate for
# another name, a key that is not its key, garbage, a local https
# service, a remote that is not https, a name the administrator holds a
# certificate for (by the server too, when a client skips its checks);
# the key never shows in an approval.
. "$(dirname "$0")/lib.sh"
HTTPKIT="$(dirname "$0")/httpkit.py"

PORT=$(free_port)
TLS=$(free_port)
APP=$(free_port)
STATE="$TMP/state"
CERTS="$TMP/certs"
mkdir -p "$CERTS" "$TMP/pki"
test_ca
test_leaf app.example.test "$TMP/pki/app"
test_leaf other.example.test "$TMP/pki/other"
test_leaf admin.example.test "$CERTS/admin.example.test"
# the secrets: chain (leaf, then the CA) and key in one file, 0600
cat "$TMP/pki/app.crt" "$TMP/pki/ca.pem" "$TMP/pki/app.key" >"$TMP/app.pem"
cat "$TMP/pki/other.crt" "$TMP/pki/other.key" >"$TMP/other.pem"
cat "$TMP/pki/app.crt" "$TMP/pki/other.key" >"$TMP/mismatch.pem"
cat "$CERTS/admin.example.test.crt" "$CERTS/admin.example.test.key" >"$TMP/admin.pem"
echo "not a certificate" >"$TMP/junk.pem"
chmod 600 "$TMP"/*.pem

cat >"$TMP/weft.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
http_listen = off
tls_listen = 127.0.0.1:$TLS
tls_certs_dir = $CERTS
CONF
/usr/bin/python3 "$HTTPKIT" serve "$APP" >"$TMP/app.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
start_server
LOCAL="http://127.0.0.1:$APP"

# ---- refused before the server is asked (exit 2), each naming why
check "a certificate for another name" 2 "$WEFT" tunnel --device-id d1 "$CONN" "$LOCAL" https://app.example.test --tls-secret "$TMP/other.pem"
contains "it says whose name is missing" "certificate is not for app.example.test"
check "a key that is not the certificate's" 2 "$WEFT" tunnel --device-id d1 "$CONN" "$LOCAL" https://app.example.test --tls-secret "$TMP/mismatch.pem"
contains "it says so" "private key is not the first certificate's key"
check "a file that is not PEM" 2 "$WEFT" tunnel --device-id d1 "$CONN" "$LOCAL" https://app.example.test --tls-secret "$TMP/junk.pem"
contains "it says so" "not PEM"
check "a missing file" 2 "$WEFT" tunnel --device-id d1 "$CONN" "$LOCAL" https://app.example.test --tls-secret "$TMP/nope.pem"
contains "it names the file" "nope.pem"
check "a local https service keeps its own" 2 "$WEFT" tunnel --device-id d1 "$CONN" https://127.0.0.1:1 https://app.example.test --tls-secret "$TMP/app.pem"
contains "it says why" "keeps its own certificate"
check "a tcp remote takes no TLS secret" 2 "$WEFT" tunnel --device-id d1 "$CONN" tcp://127.0.0.1:22 tcp://:2222 --tls-secret "$TMP/app.pem"
contains "it says what it goes with" "https:// remote"

# ---- the tunnel: the server terminates with the device's pair
"$WEFT" tunnel --device-id d1 "$CONN" "$LOCAL" https://app.example.test --tls-secret "$TMP/app.pem" \
  >"$TMP/d1.out" 2>&1 </dev/null &
D1=$!
STARTED_PIDS+=("$D1")
wait_for 20 grep -q "is reachable at" "$TMP/d1.out" && pass "the tunnel opens with its TLS secret" ||
  fail "no tunnel: $(cat "$TMP/d1.out")"
check "a visitor trusting the device's CA reaches the app over TLS" 0 curl -fsS --cacert "$TMP/pki/ca.pem" \
  --resolve "app.example.test:$TLS:127.0.0.1" "https://app.example.test:$TLS/echo?x=1"
SEEN=$(openssl s_client -connect "127.0.0.1:$TLS" -servername app.example.test </dev/null 2>/dev/null |
  openssl x509 -noout -fingerprint -sha256 2>/dev/null)
WANT=$(openssl x509 -noout -fingerprint -sha256 -in "$TMP/pki/app.crt")
[ -n "$SEEN" ] && [ "$SEEN" = "$WANT" ] && pass "the certificate served is the device's" ||
  fail "served '$SEEN', the device's is '$WANT'"
KEYFILE="$STATE/device-certs/app.example.test.key"
[ "$(stat -c %a "$KEYFILE" 2>/dev/null)" = 600 ] && pass "the server keeps the key 0600 in device-certs/" ||
  fail "key file: $(ls -l "$STATE/device-certs" 2>&1)"
grep -q "serving app.example.test with the certificate its device handed over" "$TMP/server.log" &&
  pass "the server says whose certificate it serves" || fail "no log line: $(tail -5 "$TMP/server.log")"

# ---- the administrator's certificate wins: a device cannot replace it
check "a name the administrator has a certificate for" 1 "$WEFT" tunnel --device-id d2 "$CONN" "$LOCAL" \
  https://admin.example.test --tls-secret "$TMP/admin.pem"
contains "the server refuses it by name" "has its own certificate for admin.example.test"

# ---- the server checks a pair itself, whatever the client checked
DEV=$("$WEFT" login "$CONN" --device-id d4)
post_secret() {
  python3 -c 'import json, sys; print(json.dumps({"transport": "websocket",
    "local": sys.argv[1], "remote": "https://app.example.test",
    "tls_secret": open(sys.argv[2]).read()}))' "$LOCAL" "$1" |
    curl -sS -H "Authorization: Bearer $DEV" --data-binary @- "http://127.0.0.1:$PORT/v1/tunnels"
}
check "the API refuses a pair for another name" 0 post_secret "$TMP/other.pem"
contains "with bad_tls_secret, naming the host" "certificate is not for app.example.test"
check "the API refuses text that is no pair" 0 post_secret "$TMP/junk.pem"
contains "with bad_tls_secret" '"bad_tls_secret"'

# ---- the end: Ctrl-C, the tunnel is deleted, the pair goes
kill -INT "$D1"
wait "$D1"
wait_for 5 test ! -e "$KEYFILE" && pass "the pair is removed when its tunnel ends" ||
  fail "still there: $(ls "$STATE/device-certs")"

# ---- a request waiting for approval: administrators see that a secret
# came, never the key
"$WEFT" tunnel --await-approval --device-id d3 "$CONN" "$LOCAL" https://app.example.test \
  --tls-secret "$TMP/app.pem" >"$TMP/d3.out" 2>&1 </dev/null &
D3=$!
STARTED_PIDS+=("$D3")
approvals() { curl -fsS --unix-socket "$STATE/admin.sock" http://weft/v1/approvals; }
wait_for 10 sh -c "curl -fsS --unix-socket '$STATE/admin.sock' http://weft/v1/approvals | grep -q d3" ||
  fail "no approval request: $(cat "$TMP/d3.out")"
OUT=$(approvals)
contains "the approval shows that a TLS secret came" '"tls_secret":"(a certificate and its key)"'
[[ "$OUT" != *"PRIVATE KEY"* ]] && pass "and never its key" || fail "the key shows: $OUT"
kill -INT "$D3"
wait "$D3"
finish
