#!/usr/bin/env bash
# Console passwords: `weft user passwd` over the administration socket and
# PUT /v1/users/NAME/password with curl (a user's own, an administrator's
# for anyone), bad input refused with a sentence, sign-in at /ui/session
# with the password, a change ending the user's sessions (and their event
# streams, at once), a console session's own change only with the current
# password, TOTP turned on (the password alone refused) and off, a
# user's own TOTP waiting for a code from the app (oathtool) to be on,
# and a wrong password counted against the address as a failed login is. (Codes and the page itself:
# console.sh. Each password check costs about a second:
# Argon2id at libsodium's moderate limits.)
. "$(dirname "$0")/lib.sh"
command -v oathtool >/dev/null || { echo "SKIP: no oathtool (scripts/setup-deps.sh installs it)"; exit 77; }

PORT=$(free_port)
STATE="$TMP/state"
printf '[server]\nlisten = 127.0.0.1:%s\nhttp_listen = off\ntls_listen = off\n' "$PORT" >"$TMP/weft.conf"
BASE="https://127.0.0.1:$PORT"
start_server
key_of() { "$WEFT" user add "$1" --role "$2" --state-dir "$STATE" | tail -n 1; }
OTTO=$(key_of otto operator)
key_of vera viewer >/dev/null
ADA=$(key_of ada admin)
PW="correct horse battery"

# weft user passwd, over the socket.
passwd() { printf '%s\n' "$2" | "$WEFT" user passwd "$1" --stdin --state-dir "$STATE"; }
check "an empty password is refused" 2 passwd otto ""
contains "saying so" "the password is empty"
check "a short one is refused" 2 passwd otto "eleven char"
contains "saying how long it must be" "at least 12 characters"
check "an unknown user is refused" 1 passwd nobody "$PW"
contains "saying so" "no such user"
check "without --stdin and no terminal it says what to do" 2 \
  setsid -w "$WEFT" user passwd otto --state-dir "$STATE"
contains "naming --stdin" "--stdin"
# At a terminal (script(1) makes one) it is asked for twice.
at_tty() { printf '%s\n%s\n' "$1" "$2" |
  timeout 30 script -qec "'$WEFT' user passwd otto --state-dir '$STATE'" /dev/null; }
check "typed twice differently, nothing changes" 2 at_tty "$PW" "$PW!"
contains "saying so" "the two passwords differ"
check "typed twice the same, it is set" 0 at_tty "$PW" "$PW"
contains "saying the sessions ended" "password set; their console sessions ended"

# The route, with curl: a user's own; an administrator's for anyone.
put() { # put KEY NAME BODY: the status; the body in $TMP/body
  curl -ks -o "$TMP/body" -w '%{http_code}' -X PUT -H "Authorization: Bearer $1" \
    -H 'Content-Type: application/json' -d "$3" "$BASE/v1/users/$2/password"
}
expect() { # expect WHAT WANT GOT [TEXT]
  if [ "$3" = "$2" ] && { [ -z "${4:-}" ] || grep -qF -- "$4" "$TMP/body"; }; then
    pass "$1"
  else
    fail "$1: $3 $(cat "$TMP/body")"
  fi
}
expect "no password field: 400" 400 "$(put "$OTTO" otto '{}')" 'give the new password'
expect "an empty one: 400" 400 "$(put "$OTTO" otto '{"password":""}')" 'empty'
expect "a short one: 400" 400 "$(put "$OTTO" otto '{"password":"short"}')" 'at least 12'
LONG=$(head -c 1100 /dev/zero | tr '\0' x)
expect "an overlong one: 400" 400 "$(put "$OTTO" otto "{\"password\":\"$LONG\"}")" '1024'
expect "not a string: 400" 400 "$(put "$OTTO" otto '{"password":12}')"
expect "not JSON: 400" 400 "$(put "$OTTO" otto 'password')"
expect "another field: 400" 400 "$(put "$OTTO" otto '{"password":"x","old":"y"}')"
expect "an operator may not set another's: 403" 403 \
  "$(put "$OTTO" vera "{\"password\":\"$PW\"}")" 'only their own'
expect "an administrator, for an unknown user: 404" 404 \
  "$(put "$ADA" nobody "{\"password\":\"$PW\"}")" 'no such user'

# Signing in to the console with it; a change ends the session.
signin() { # signin NAME PASSWORD [CURL OPTIONS]: the status; cookie in $TMP/jar
  local name=$1 pw=$2
  shift 2
  curl -ks -o "$TMP/body" -w '%{http_code}' -c "$TMP/jar" "$@" \
    -d "{\"name\":\"$name\",\"password\":\"$pw\"}" "$BASE/ui/session"
}
expect "the password signs in" 200 "$(signin otto "$PW")" '"role":"operator"'
if grep -qF '"totp":false' "$TMP/body"; then pass "saying TOTP is off"; else fail "no \"totp\":false: $(cat "$TMP/body")"; fi
CODE=$(curl -ks -o /dev/null -w '%{http_code}' -b "$TMP/jar" "$BASE/v1/devices")
expect "its session reads the API" 200 "$CODE"
# (the console's page follows the events with its session: so does curl)
curl -ksN -b "$TMP/jar" "$BASE/v1/events" >"$TMP/stream" 2>&1 </dev/null &
STREAM=$!
STARTED_PIDS+=("$STREAM")
wait_for 10 grep -q "event: ready" "$TMP/stream" || fail "no event stream: $(cat "$TMP/stream")"
expect "a user sets their own: 204" 204 "$(put "$OTTO" otto "{\"password\":\"$PW 2\"}")"
CODE=$(curl -ks -o "$TMP/body" -w '%{http_code}' -b "$TMP/jar" "$BASE/v1/devices")
expect "which ended that session" 401 "$CODE"
stream_ended() { ! kill -0 "$STREAM" 2>/dev/null; }
wait_for 2 stream_ended && pass "and its event stream, at once" ||
  fail "the session's event stream is still open"
check "the audit trail has it" 0 curl -ksfS -H "Authorization: Bearer $ADA" "$BASE/v1/audit?event=user-password-set"
contains "with who did it" '"actor":"user:otto"'
expect "an unknown name is refused" 401 "$(signin nobody "$PW")" 'check them and try again'

# A console session's own change shows the current password first (an
# API key's does not: above); a wrong one counts as a failed login.
csrf() { sed -n 's/.*"csrf":"\([^"]*\)".*/\1/p' "$TMP/body"; }
own() { # own METHOD WHAT BODY [CURL OPTIONS]: with the session in $TMP/jar
  local method=$1 what=$2 body=$3
  shift 3
  curl -ks -o "$TMP/body" -w '%{http_code}' -X "$method" -b "$TMP/jar" \
    -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' "$@" \
    ${body:+-d "$body"} "$BASE/v1/users/otto/$what"
}
expect "otto signs in with the new one" 200 "$(signin otto "$PW 2")"
CSRF=$(csrf)
expect "his session's new password without the current one: 400" 400 \
  "$(own PUT password "{\"password\":\"$PW 3\"}")" 'give your current password'
expect "with a wrong one: 403" 403 \
  "$(own PUT password "{\"password\":\"$PW 3\",\"current_password\":\"$PW\"}")" \
  'the current password does not match'
expect "TOTP off without it: 400" 400 "$(own DELETE totp '')" 'give your current password'
expect "from 127.0.0.3 too" 200 "$(signin otto "$PW 2" --interface 127.0.0.3)"
CSRF=$(csrf)
for i in 1 2 3 4 5; do
  curl -ks -o /dev/null --interface 127.0.0.3 -d '{"api_key":"weft_0"}' "$BASE/ui/session"
done
expect "after five wrong keys, a wrong current password: 403" 403 \
  "$(own PUT password "{\"password\":\"$PW 3\",\"current_password\":\"wrong\"}" --interface 127.0.0.3)"
expect "then that address waits, even with the right one" 429 \
  "$(own PUT password "{\"password\":\"$PW 3\",\"current_password\":\"$PW 2\"}" --interface 127.0.0.3)" \
  'wait and try again'
signin otto "$PW 2" >/dev/null
CSRF=$(csrf)
expect "with the right one: 204" 204 \
  "$(own PUT password "{\"password\":\"$PW 3\",\"current_password\":\"$PW 2\"}")"
expect "which ends the session too" 401 \
  "$(curl -ks -o "$TMP/body" -w '%{http_code}' -b "$TMP/jar" "$BASE/v1/devices")"

# With TOTP on, the password alone no longer signs in (console.sh signs
# in with codes).
check "weft user totp turns it on" 0 "$WEFT" user totp otto --state-dir "$STATE"
contains "printing the URI" "otpauth://totp/Weft:otto?secret="
expect "then the password alone is refused" 401 "$(signin otto "$PW 3")" 'check them and try again'
check "and --off turns it off" 0 "$WEFT" user totp otto --off --state-dir "$STATE"
check "for an unknown user it says so" 1 "$WEFT" user totp nobody --state-dir "$STATE"
contains "no such user" "no such user"

# A user's own TOTP waits for a code from the app (and, from a console
# session, the password): until then the password alone still signs in.
code_of() { oathtool --totp -b "$1"; }
expect "otto signs in" 200 "$(signin otto "$PW 3")"
CSRF=$(csrf)
expect "his own TOTP on: 201, pending" 201 "$(own POST totp '')" '"pending":true'
SECRET=$(sed -n 's/.*"secret":"\([A-Z2-7]*\)".*/\1/p' "$TMP/body")
expect "confirming without a code: 400" 400 "$(own POST totp/confirm '{}')" 'give the code'
expect "the password alone still signs in" 200 "$(signin otto "$PW 3")"
CSRF=$(csrf)
RIGHT=$(code_of "$SECRET")
WRONG=$(printf '%06d' $(( (10#$RIGHT + 500000) % 1000000 )))
NOW="\"current_password\":\"$PW 3\""
expect "a wrong code: 400" 400 "$(own POST totp/confirm "{\"code\":\"$WRONG\",$NOW}")" 'TOTP stays off'
expect "still off" 200 "$(signin otto "$PW 3")"
CSRF=$(csrf)
expect "the right code without his password: 400" 400 \
  "$(own POST totp/confirm "{\"code\":\"$RIGHT\"}")" 'give your current password'
expect "the right code turns it on: 204" 204 "$(own POST totp/confirm "{\"code\":\"$RIGHT\",$NOW}")"
expect "once: nothing waits now" 409 "$(own POST totp/confirm "{\"code\":\"$RIGHT\"}")" 'turn TOTP on again'
expect "then the password alone is refused" 401 "$(signin otto "$PW 3")" 'check them and try again'
# Off, from a session his key opened: with his password.
expect "his key opens a session" 200 \
  "$(curl -ks -o "$TMP/body" -w '%{http_code}' -c "$TMP/jar" -d "{\"api_key\":\"$OTTO\"}" "$BASE/ui/session")"
CSRF=$(csrf)
expect "TOTP off with his password: 204" 204 \
  "$(own DELETE totp "{\"current_password\":\"$PW 3\"}")"
expect "and the password alone signs in again" 200 "$(signin otto "$PW 3")"

# A wrong password counts as a failed login of the address: after five
# wrong keys (free) and one wrong password from 127.0.0.2, it must wait.
for i in 1 2 3 4 5; do
  curl -ks -o /dev/null --interface 127.0.0.2 -d '{"api_key":"weft_0"}' "$BASE/ui/session"
done
expect "a wrong password gets the same answer" 401 \
  "$(signin otto "$PW" --interface 127.0.0.2)" 'check them and try again'
expect "then that address waits, even with the right one" 429 \
  "$(signin otto "$PW 3" --interface 127.0.0.2)" 'wait and try again'
finish
