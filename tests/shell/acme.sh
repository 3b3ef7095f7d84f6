#!/usr/bin/env bash
# The ACME client (core/acme*.c) against Debian's pebble, a real RFC 8555
# server: a certificate issued over HTTP-01 and checked with openssl (name,
# chain to pebble's root, key match, modes), issued again on the same
# account, refused when the answer is wrong or missing, and clear errors
# within the time limit when the CA is unreachable, hangs, or shows a TLS
# certificate no trusted CA signed. pebble refuses 15% of nonces here
# (PEBBLE_WFE_NONCEREJECT), so the badNonce retry is in use on every run.
# Everything listens on 127.0.0.1 only; pebble resolves every name to
# 127.0.0.1 through pebble-challtestsrv's DNS.
#   acme.sh ACME_HELPER   (meson passes tests/shell/acme_helper)
. "$(dirname "$0")/lib.sh"
HELPER=$1

for tool in pebble pebble-challtestsrv; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (apt-get install pebble)"; exit 77; }
done

. "$(dirname "$0")/pebble.sh"
start_pebble_retrying 15 pebble || { fail "pebble did not start"; finish; }
pass "pebble answers on 127.0.0.1:$ACME_PORT"
DIR="https://127.0.0.1:$ACME_PORT/dir"
ACCOUNT=$TMP/account.key

issue() { # issue NAME OUT_PREFIX [helper options...]
  local name=$1 out=$2
  shift 2
  "$HELPER" --dir "$DIR" --ca "$CA" --account "$ACCOUNT" --email admin@example.test \
    --name "$name" --cert "$out.crt" --key "$out.key" --http-port "$HTTP01_PORT" \
    --timeout 60 "$@"
}
mode_of() { stat -c %a "$1"; }
elapsed_ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

# --- a certificate for app.example.test
check "issue app.example.test" 0 issue app.example.test "$TMP/app"
contains "the answer was published once" "published 1, withdrawn 1"
CRT=$TMP/app.crt KEY=$TMP/app.key
[ -s "$CRT" ] && [ -s "$KEY" ] && pass "chain and key written" || fail "no chain or key"
[ "$(mode_of "$KEY")" = 600 ] && pass "the key is 0600" || fail "key mode $(mode_of "$KEY")"
[ "$(mode_of "$ACCOUNT")" = 600 ] && pass "the account key was made 0600" || fail "account key mode $(mode_of "$ACCOUNT")"
OUT=$(openssl x509 -in "$CRT" -noout -ext subjectAltName 2>&1)
contains "the certificate names app.example.test" "DNS:app.example.test"
[ "$(grep -c 'BEGIN CERTIFICATE' "$CRT")" -ge 2 ] && pass "the chain holds the intermediate" || fail "chain: $(grep -c 'BEGIN CERTIFICATE' "$CRT") certificate(s)"
check "pebble's root is fetched" 0 curl -fsS --max-time 10 --cacert "$CA" -o "$TMP/root.pem" "https://127.0.0.1:$MGMT_PORT/roots/0"
check "the chain verifies to pebble's root" 0 openssl verify -CAfile "$TMP/root.pem" -untrusted "$CRT" "$CRT"
if [ "$(openssl pkey -in "$KEY" -pubout 2>&1)" = "$(openssl x509 -in "$CRT" -noout -pubkey 2>&1)" ]; then
  pass "the key is the certificate's"
else
  fail "the key does not match the certificate"
fi
OUT=$(openssl pkey -in "$KEY" -noout -text 2>&1)
contains "the certificate key is P-256" "NIST CURVE: P-256"

# --- again, on the same account (the CA remembers the validation)
ACCOUNT_SUM=$(sha256sum <"$ACCOUNT")
check "issue app.example.test again" 0 issue app.example.test "$TMP/app"
contains "the valid authorization was reused, nothing published" "published 0, withdrawn 0"
[ "$(sha256sum <"$ACCOUNT")" = "$ACCOUNT_SUM" ] && pass "the account key was reused" || fail "the account key changed"
check "the new chain verifies too" 0 openssl verify -CAfile "$TMP/root.pem" -untrusted "$CRT" "$CRT"
[ "$(openssl pkey -in "$KEY" -pubout 2>&1)" = "$(openssl x509 -in "$CRT" -noout -pubkey 2>&1)" ] &&
  pass "the replaced key matches the replaced chain" || fail "key and chain differ after the second issuance"
ls "$TMP"/app.*.tmp-* >/dev/null 2>&1 && fail "temporary files left: $(ls "$TMP")" || pass "no temporary files left"

# --- a second name on the same account
check "issue www.example.test" 0 issue www.example.test "$TMP/www"
contains "a new name needs a new answer" "published 1, withdrawn 1"

# --- the responder answers wrongly: the CA says so, nothing is written
check "a wrong answer fails" 1 issue bad.example.test "$TMP/bad" --wrong
contains "the error names the failed authorization" "error: order for bad.example.test: authorization invalid: urn:ietf:params:acme:error:unauthorized"
contains "the answer was withdrawn" "published 1, withdrawn 1"
[ -e "$TMP/bad.crt" ] || [ -e "$TMP/bad.key" ] && fail "files written for a failed issuance" || pass "no files for a failed issuance"

# --- nobody answers on the HTTP-01 port
check "no answer fails" 1 "$HELPER" --dir "$DIR" --ca "$CA" --account "$ACCOUNT" \
  --name down.example.test --cert "$TMP/down.crt" --key "$TMP/down.key" --timeout 60
contains "the error is the CA's connection problem" "error: order for down.example.test: authorization invalid: urn:ietf:params:acme:error:connection"

# --- the CA's TLS certificate is not trusted (no --ca: the system's CAs)
check "an untrusted CA certificate fails" 1 "$HELPER" --dir "$DIR" --account "$ACCOUNT" \
  --name app.example.test --cert "$TMP/x.crt" --key "$TMP/x.key" --timeout 20
contains "the error says why" "error: directory $DIR: SSL certificate problem"

# --- the directory is unreachable: a clear error, at once
CLOSED=$(random_port)
start=$(date +%s%N)
check "an unreachable directory fails" 1 "$HELPER" --dir "https://127.0.0.1:$CLOSED/dir" --ca "$CA" \
  --account "$ACCOUNT" --name app.example.test --cert "$TMP/x.crt" --key "$TMP/x.key" --timeout 5
ms=$(elapsed_ms "$start")
contains "the error names the directory" "error: directory https://127.0.0.1:$CLOSED/dir: Failed to connect"
[ "$ms" -lt 5000 ] && pass "within the time limit (${ms} ms)" || fail "took ${ms} ms for a 5 s limit"

# --- the server takes the connection and never answers: the limit holds
start=$(date +%s%N)
check "a silent server times out" 1 "$HELPER" --hang --dir https://unused/ --ca "$CA" \
  --account "$ACCOUNT" --name app.example.test --cert "$TMP/x.crt" --key "$TMP/x.key" --timeout 3
ms=$(elapsed_ms "$start")
contains "the error says it timed out" "timed out (the whole issuance may take 3 s)"
[ "$ms" -ge 2500 ] && [ "$ms" -lt 6000 ] && pass "stopped at the 3 s limit (${ms} ms)" || fail "took ${ms} ms for a 3 s limit"
[ -e "$TMP/x.crt" ] || [ -e "$TMP/x.key" ] && fail "files written for a failed issuance" || pass "no files for the failed issuances"

# --- badNonce: above, 15% of nonces were refused and every issuance still
# went through; a pebble refusing all of them shows the retry is bounded
# (the first try and 5 more).
runs=5
posts=$(grep -c 'POST /sign-me-up' "$TMP/pebble.log")
echo "newAccount took $posts requests for $runs issuances (the rest were badNonce retries)"
start_pebble_retrying 100 pebble-badnonce || { fail "the second pebble did not start"; finish; }
check "every nonce refused fails" 1 issue app.example.test "$TMP/y" \
  --dir "https://127.0.0.1:$ACME_PORT/dir"
contains "the error is the CA's badNonce" "error: new account: urn:ietf:params:acme:error:badNonce"
posts=$(grep -c 'POST /sign-me-up' "$TMP/pebble-badnonce.log")
[ "$posts" = 6 ] && pass "newAccount sent 6 times, then given up" || fail "newAccount sent $posts times"

finish
