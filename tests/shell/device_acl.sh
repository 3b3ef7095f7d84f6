#!/usr/bin/env bash
# A device's ACL through the API: an operator flips its reach ports, an
# administrator its class and who may connect to its public ports; each
# change is in force at once on the live tunnel, kept across a restart,
# audited with who made it, and refused with a reason when it is wrong.
# (The WireGuard firewall's side of reach ports is in wireguard.sh.)
. "$(dirname "$0")/lib.sh"
NETKIT="$(dirname "$0")/netkit.py"

PORT=$(free_port)
ECHO=$(free_port)
PUB=$(free_port)
STATE="$TMP/state"
cat >"$TMP/weft.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
http_listen = off
tls_listen = off

[class "fleet"]
reach_ports = 22, 3389
CONF
start_server
python3 "$NETKIT" echo-server "$ECHO" >"$TMP/echo.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
"$WEFT" tunnel --device-id dev-a "$CONN" "tcp://127.0.0.1:$ECHO" "tcp://127.0.0.1:$PUB" >"$TMP/a.out" 2>&1 </dev/null &
AGENT=$!
STARTED_PIDS+=("$AGENT")
wait_for 20 grep -q "is reachable at" "$TMP/a.out" || fail "tunnel: $(cat "$TMP/a.out")"
OPS=$("$WEFT" user add otto --role operator --state-dir "$STATE" | tail -n 1)
ADM=$("$WEFT" user add ada --role admin --state-dir "$STATE" | tail -n 1)
patch() { # KEY BODY: the status, the answer in $TMP/body
  curl -ks -o "$TMP/body" -w '%{http_code}' -X PATCH -H "Authorization: Bearer $1" \
    -d "$2" "https://127.0.0.1:$PORT/v1/devices/dev-a"
}
echoes() { timeout 10 python3 "$NETKIT" roundtrip 127.0.0.1 "$PUB" 1 >/dev/null 2>&1; }

check "weft device show" 0 "$WEFT" device show dev-a --state-dir "$STATE"
contains "its class" "class          default"
contains "its reach ports from weft.conf's defaults" "reach_ports    22,80,443"
contains "its live tunnel" "tunnels        t"

# An operator flips reach ports, and nothing else.
CODE=$(patch "$OPS" '{"reach_ports":"22,3389,5900"}')
[ "$CODE" = 200 ] && pass "an operator sets reach_ports with curl" || fail "$CODE $(cat "$TMP/body")"
grep -q '"reach_ports":"22,3389,5900"' "$TMP/body" && pass "the answer shows them in force" || fail "$(cat "$TMP/body")"
CODE=$(patch "$OPS" '{"allow_ips":"10.0.0.0/8"}')
[ "$CODE" = 403 ] && pass "an operator may not change allow_ips" || fail "$CODE $(cat "$TMP/body")"
grep -q "may change a device's reach_ports only" "$TMP/body" && pass "and is told why" || fail "$(cat "$TMP/body")"
for bad in '{"reach_ports":"22-"}' '{"reach_ports":70000}' '{"colour":"blue"}' '{}' '[1]'; do
  CODE=$(patch "$ADM" "$bad")
  [ "$CODE" = 400 ] && pass "refused: $bad ($(python3 -c 'import json,sys; print(json.load(sys.stdin)["error"]["message"][:60])' <"$TMP/body"))" || fail "$bad: $CODE $(cat "$TMP/body")"
done
CODE=$(patch "$ADM" '{"class":"nosuch"}')
[ "$CODE" = 400 ] && grep -q 'no \[class' "$TMP/body" && pass "a class weft.conf lacks is refused" || fail "$CODE $(cat "$TMP/body")"

# An administrator's allow_ips shuts the public port to us at once...
echoes && pass "the public port echoes" || fail "no echo before"
CODE=$(patch "$ADM" '{"allow_ips":"10.0.0.0/8"}')
[ "$CODE" = 200 ] && pass "an administrator sets allow_ips" || fail "$CODE $(cat "$TMP/body")"
echoes && fail "a refused address still gets through" || pass "127.0.0.1 is refused at once on the live tunnel"
# ... and null gives weft.conf's back.
check "weft device set KEY= clears it" 0 "$WEFT" device set dev-a allow_ips= class=fleet --state-dir "$STATE"
echoes && pass "the public port echoes again" || fail "still refused"
check "weft device show" 0 "$WEFT" device show dev-a --state-dir "$STATE"
contains "in the class it was given" "class          fleet"
contains "the reach ports set through the API still win" "reach_ports    22,3389,5900  (set through the API)"

# Kept across a restart.
kill "$SERVER"; wait "$SERVER" 2>/dev/null
start_server
check "after a restart" 0 "$WEFT" device show dev-a --state-dir "$STATE"
contains "the class is kept" "class          fleet"
contains "and the reach ports" "reach_ports    22,3389,5900"
check "weft device list" 0 "$WEFT" device list --state-dir "$STATE"
contains "names the class" "fleet"

# Each change in the audit trail, with who made it.
check "the audit trail" 0 curl -ksfS -H "Authorization: Bearer $ADM" "https://127.0.0.1:$PORT/v1/audit?event=device-acl-changed"
contains "the operator's change" '"detail":"reach_ports=22,3389,5900","actor":"user:otto"'
contains "the administrator's" '"actor":"user:ada"'
wait_for 30 echoes || fail "the device did not come back after the restart"
kill -9 "$AGENT" # the device vanishes; its tunnel stays until its lease ends
session_down() { curl -ksfS -H "Authorization: Bearer $ADM" "https://127.0.0.1:$PORT/v1/audit?device=dev-a&event=session-down" | grep -q session-down; }
wait_for 20 session_down && pass "a vanished device's session going down is audited" || fail "no session-down"
check "the device's sessions in the audit trail" 0 curl -ksfS -H "Authorization: Bearer $ADM" "https://127.0.0.1:$PORT/v1/audit?device=dev-a"
contains "its session came up" '"event":"session-up"'
contains "from where, over what" 'from 127.0.0.1 (ws, TLS)'
check "the ACL changes in the audit trail" 0 curl -ksfS -H "Authorization: Bearer $ADM" "https://127.0.0.1:$PORT/v1/audit?event=device-acl-changed"
contains "the socket's" '"detail":"allow_ips=(weft.conf'"'"'s), class=fleet","actor":"local:root"'
finish
