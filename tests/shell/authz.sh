#!/usr/bin/env bash
# Who may do what: users with API keys and roles, the local
# administration socket, and devices, against every route of the control
# API (authz.py holds the matrix, docs/security.md prints it). Also: keys
# that are almost right, a rotated key, a removed user, the socket's mode.
. "$(dirname "$0")/lib.sh"
AUTHZ="$(dirname "$0")/authz.py"

PORT=$(free_port)
STATE="$TMP/state"
cat >"$TMP/weft.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
http_listen = off
tls_listen = off
CONF
BASE="https://127.0.0.1:$PORT"
start_server

MODE=$(stat -c '%a %F' "$STATE/admin.sock" 2>&1)
[ "$MODE" = "600 socket" ] && pass "the administration socket is 0600" || fail "socket: $MODE"

# Users, made through the socket: each key is printed once.
key_of() { "$WEFT" user add "$1" --role "$2" --state-dir "$STATE" | tail -n 1; }
VIEWER=$(key_of vera viewer)
OPERATOR=$(key_of otto operator)
ADMIN=$(key_of ada admin)
case "$ADMIN" in weft_*) pass "weft user add prints a key" ;; *) fail "no key: $ADMIN" ;; esac
check "a second user of the same name is refused" 1 "$WEFT" user add ada --role viewer --state-dir "$STATE"
contains "saying so" "a user has that name already"
check "a role that does not exist is refused" 2 "$WEFT" user add bob --role root --state-dir "$STATE"
check "users are listed" 0 "$WEFT" user list --state-dir "$STATE"
contains "with their roles" "otto"
case "$OUT" in *"$ADMIN"*) fail "the list shows a key" ;; *) pass "the list shows no key" ;; esac
DEVICE=$("$WEFT" login "$CONN" --device-id dev-a)

check "every cell of the matrix" 0 python3 "$AUTHZ" "$BASE" "$STATE/admin.sock" "$DEVICE" "$VIEWER" "$OPERATOR" "$ADMIN"
echo "$OUT" | tail -n 1

# Keys that are almost right get the same 401 as no key at all.
status_with() { curl -ks -o "$TMP/body" -w '%{http_code}' -H "Authorization: Bearer $1" "$BASE/v1/tunnels"; }
LAST=${VIEWER: -1}
[ "$LAST" = A ] && OTHER=B || OTHER=A
for bad in "${VIEWER%?}$OTHER" "${VIEWER%?}" "${VIEWER}x" "weft_${VIEWER:5:16}.${ADMIN:22}" "weft_nothex0000000000.${VIEWER:22}" "weft_"; do
  CODE=$(status_with "$bad")
  [ "$CODE" = 401 ] && pass "a near key (${bad:0:24}...) gets 401" || fail "near key ${bad}: $CODE $(cat "$TMP/body")"
done
[ "$(status_with "$OPERATOR")" = 200 ] && pass "a good key gets in" || fail "good key refused"
check "a key with a user's id and another secret is audited" 0 curl -ksfS -H "Authorization: Bearer $ADMIN" "$BASE/v1/audit?event=api-key-refused"
contains "naming whose id it carried" "a key with user vera's id and another secret, from 127.0.0.1"

# A new key ends the old one; a removed user's key ends with them.
NEW=$("$WEFT" user rotate otto --state-dir "$STATE" | tail -n 1)
[ "$(status_with "$OPERATOR")" = 401 ] && pass "the rotated key no longer works" || fail "old key still works"
[ "$(status_with "$NEW")" = 200 ] && pass "the new one does" || fail "new key refused"
check "a user is removed" 0 "$WEFT" user remove vera --state-dir "$STATE"
[ "$(status_with "$VIEWER")" = 401 ] && pass "and their key stops" || fail "removed user's key works"
check "removing them twice says so" 1 "$WEFT" user remove vera --state-dir "$STATE"

# An operator makes no users, even with curl.
CODE=$(curl -ks -o "$TMP/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $NEW" \
  -d '{"name":"eve","role":"admin"}' "$BASE/v1/users")
[ "$CODE" = 403 ] && pass "an operator cannot create users" || fail "operator made a user: $CODE"

# The audit trail names each actor.
check "the audit trail" 0 curl -ksfS -H "Authorization: Bearer $ADMIN" "$BASE/v1/audit?event=user-added"
contains "names the socket's administrator" '"actor":"local:root"'
check "weft admin works through the socket" 0 "$WEFT" admin tunnels --state-dir "$STATE"
check "without a server it says why" 1 "$WEFT" admin tunnels --state-dir "$TMP/nowhere"
contains "naming the socket" "$TMP/nowhere/admin.sock"
finish
