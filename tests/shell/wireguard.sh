#!/usr/bin/env bash
# The wireguard transport across three network namespaces the test makes
# (a server and devices A and B, joined by veth pairs), with a real
# wireguard-go in each, driven by weft: published ports to services bound
# to 127.0.0.1 on A, host-only reach limited by A's ACL, no way from B to
# A, no peer without a valid token, peers and rules gone on delete and at
# idle expiry, and a clean interface after a stop, a restart and a kill -9.
. "$(dirname "$0")/lib.sh"
NETKIT="$SOURCE_ROOT/tests/shell/netkit.py"

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: network namespaces and WireGuard interfaces need root"
  exit 77
fi
for tool in wireguard-go wg ip nft; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (wireguard-go, wireguard-tools, iproute2, nftables)"; exit 77; }
done
[ -c /dev/net/tun ] || { echo "SKIP: /dev/net/tun is missing"; exit 77; }

SRV=wgs$$ DA=wga$$ DB=wgb$$
IFS_SRV=wsrv$$
TABLE="weft_$IFS_SRV"
netns_cleanup() {
  for ns in $SRV $DA $DB; do
    # what runs in our namespaces is ours (wireguard-go left by a kill -9)
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  rm -f "/var/run/wireguard/$IFS_SRV.sock"
}
trap 'cleanup; netns_cleanup' EXIT
in_srv() { ip netns exec "$SRV" "$@"; }
in_a() { ip netns exec "$DA" "$@"; }
in_b() { ip netns exec "$DB" "$@"; }

ip netns add "$SRV" && ip netns add "$DA" && ip netns add "$DB" || { echo "SKIP: cannot make network namespaces"; exit 77; }
for ns in $SRV $DA $DB; do ip -n "$ns" link set lo up; done
ip link add "va$$" netns "$SRV" type veth peer name eth0 netns "$DA"
ip link add "vb$$" netns "$SRV" type veth peer name eth0 netns "$DB"
ip -n "$SRV" addr add 10.99.1.1/24 dev "va$$" && ip -n "$SRV" link set "va$$" up
ip -n "$SRV" addr add 10.99.2.1/24 dev "vb$$" && ip -n "$SRV" link set "vb$$" up
ip -n "$DA" addr add 10.99.1.2/24 dev eth0 && ip -n "$DA" link set eth0 up
ip -n "$DB" addr add 10.99.2.2/24 dev eth0 && ip -n "$DB" link set eth0 up
ip -n "$DA" route add 10.99.0.0/16 via 10.99.1.1 && ip -n "$DB" route add 10.99.0.0/16 via 10.99.2.1
# The server routes, as a real one might: only weft's table keeps devices apart.
in_srv sysctl -qw net.ipv4.ip_forward=1

CTL=9092
STATE=$TMP/state
write_server_conf() { # IDLE
  cat >"$TMP/server.conf" <<EOF
[server]
; this test still administers by the older way: a device id
admins = admin
listen = 0.0.0.0:$CTL
http_listen = off
tls_listen = off
public_host = 10.99.1.1
port_range = 33000-33099
idle_timeout = $1

[transport.wireguard]
interface = $IFS_SRV
session_ping = 2s
activity_poll = 1s

[device "dev-a-echo"]
reach_ports = 8022
EOF
}
start_server() { # LOG
  ip netns exec "$SRV" "$WEFT" server --config "$TMP/server.conf" --state-dir "$STATE" >"$TMP/$1" 2>&1 &
  SERVER=$!
  STARTED_PIDS+=("$SERVER")
  wait_for 20 in_srv bash -c "exec 3<>/dev/tcp/127.0.0.1/$CTL" || fail "server did not start: $(cat "$TMP/$1")"
}
write_server_conf 10m
start_server server.log
! ip -n "$SRV" link show "$IFS_SRV" >/dev/null 2>&1 && pass "no interface before the first tunnel" || fail "interface up with no tunnel"
CONN="weft://$(cat "$STATE/secret")@10.99.1.1:$CTL"

# ---- services on A and B, bound to 127.0.0.1 (and two on 0.0.0.0 on A)
ECHO=7001 WEB=7002 UDP=7053
ip netns exec "$DA" python3 "$NETKIT" echo-server $ECHO & STARTED_PIDS+=($!)
mkdir -p "$TMP/www" && head -c 2000000 /dev/urandom >"$TMP/www/blob"
(cd "$TMP/www" && exec ip netns exec "$DA" python3 -m http.server --bind 127.0.0.1 $WEB >/dev/null 2>&1) & STARTED_PIDS+=($!)
hello_server() { # NS PORT: answers "hello from PORT" on 0.0.0.0
  ip netns exec "$1" python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen()
while True:
    c, _ = s.accept(); c.sendall(b"hello from " + sys.argv[1].encode() + b"\n"); c.close()' "$2" &
  STARTED_PIDS+=($!)
}
hello_server "$DA" 8022
hello_server "$DA" 2222
hello_server "$DB" 8023
ip netns exec "$DB" python3 "$NETKIT" echo-server $ECHO & STARTED_PIDS+=($!)
ip netns exec "$DA" python3 "$NETKIT" udp-echo-server $UDP "$TMP/udp-peers" & STARTED_PIDS+=($!)

DEVICE_CONF='[transport.wireguard]
session_ping = 2s
reconnect_min = 200ms
reconnect_max = 1s
persistent_keepalive = 1s'
cat >"$TMP/a.conf" <<EOF
$DEVICE_CONF

[tunnel "echo"]
transport = wireguard
device_id = dev-a-echo
local = tcp://127.0.0.1:$ECHO
remote = tcp://10.99.1.1:33010

[tunnel "web"]
transport = wireguard
device_id = dev-a-web
local = tcp://127.0.0.1:$WEB
remote = tcp://10.99.1.1:33011

[tunnel "dns"]
transport = wireguard
device_id = dev-a-dns
local = udp://127.0.0.1:$UDP
remote = udp://10.99.1.1:33014
EOF
printf '%s\n' "$DEVICE_CONF" >"$TMP/b.conf"
start_a() {
  ip netns exec "$DA" env WEFT_RUN_DIR="$TMP/run-a" "$WEFT" tunnel --config "$TMP/a.conf" "$CONN" >>"$TMP/a.log" 2>&1 &
  DEV_A=$!
  STARTED_PIDS+=("$DEV_A")
}
start_a
ip netns exec "$DB" env WEFT_RUN_DIR="$TMP/run-b" "$WEFT" tunnel --transport wireguard --device-id dev-b "$CONN" \
  "tcp://127.0.0.1:$ECHO" tcp://10.99.1.1:33012 >"$TMP/b.log" 2>&1 &
DEV_B=$!
STARTED_PIDS+=("$DEV_B")

peers() { wg show "$IFS_SRV" peers 2>/dev/null | grep -c .; }
# wireguard-go processes serving the server's interface
wg_go_count() {
  for p in $(pgrep -x wireguard-go); do tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null; echo; done | grep -c -- "-f $IFS_SRV "
}
wait_for 30 bash -c "[ \$(wg show $IFS_SRV peers 2>/dev/null | grep -c .) -eq 4 ]" &&
  pass "four tunnels, four peers on the server" || fail "peers: $(wg show "$IFS_SRV" 2>&1); server: $(tail -20 "$TMP/server.log"); a: $(tail -20 "$TMP/a.log")"
grep -q "interface $IFS_SRV up: userspace (wireguard-go, UAPI)" "$TMP/server.log" &&
  pass "server says it drives wireguard-go through the UAPI" || fail "no backend line: $(cat "$TMP/server.log")"
addr_of() { sed -n "s/.*tunnel t[0-9a-f]*: up; this device is \([0-9.]*\) on .*relaying port $2.*/\1/p" "$TMP/$1" | tail -1; }
addresses_known() {
  A_ECHO=$(addr_of a.log $ECHO) A_WEB=$(addr_of a.log $WEB) B_ECHO=$(addr_of b.log $ECHO)
  [ -n "$A_ECHO" ] && [ -n "$A_WEB" ] && [ -n "$B_ECHO" ]
}
# A device says it is up once its own side is set, which may come after
# the server added its peer (seen under ASan).
wait_for 10 addresses_known && pass "devices have addresses $A_ECHO $A_WEB $B_ECHO" ||
  fail "device addresses unknown: $(cat "$TMP/a.log" "$TMP/b.log")"

# every peer: exactly one /32 and a preshared key
DUMP=$(wg show "$IFS_SRV" dump | tail -n +2)
[ "$(awk '$4 != "(none)"' <<<"$DUMP" | grep -c .)" -eq 4 ] && pass "every peer has a preshared key" || fail "a peer without a PSK: $DUMP"
[ "$(awk '$4 ~ /^10\.1\.[0-9.]*\/32$/' <<<"$DUMP" | grep -c .)" -eq 4 ] && pass "every peer allows exactly one /32" || fail "allowed IPs: $DUMP"
# the device routes only the server's /32, from its own address
A_ROUTES=$(in_a ip -4 route show table all | grep ' dev wft' | grep -v '^local ')
grep -q '^default' <<<"$(in_a ip -4 route show)" && fail "a default route on the device" || pass "no default route on the device"
[ "$(grep -c . <<<"$A_ROUTES")" -eq 3 ] && [ "$(grep -c '^10\.1\.255\.254 dev wft[0-9a-f]* table ' <<<"$A_ROUTES")" -eq 3 ] &&
  pass "each device interface routes only the server's /32" || fail "device routes: $A_ROUTES"
[ "$(in_a ip -4 rule show | grep -c "from 10\.1\.")" -eq 3 ] && pass "one source rule per tunnel" || fail "rules: $(in_a ip -4 rule show)"

# ---- published ports: through the server's public port to 127.0.0.1 on A
check "echo through the public port, 5 MB, checksums" 0 in_srv timeout 60 python3 "$NETKIT" roundtrip 10.99.1.1 33010 5
check "HTTP through the public port" 0 in_srv curl -sS -o "$TMP/got" "http://10.99.1.1:33011/blob"
cmp -s "$TMP/got" "$TMP/www/blob" && pass "HTTP body matches" || fail "HTTP body differs"
check "UDP through the public port: 4 peers, every answer to its own sender" 0 in_srv timeout 60 python3 "$NETKIT" udp-check 10.99.1.1 33014 4 20
check "B's service through its public port" 0 in_srv timeout 60 python3 "$NETKIT" roundtrip 10.99.1.1 33012 1

# ---- the kernel path: the public port is NATed to A's relay port on its
# /32, and A NATs that on to its loopback service: no byte through weft
NFT_SRV=$(in_srv nft list table inet "$TABLE")
grep -q "tcp dport 33010 dnat ip to $A_ECHO:$ECHO" <<<"$NFT_SRV" && grep -q "udp dport 33014 dnat ip to " <<<"$NFT_SRV" &&
  pass "the server NATs A's public ports (tcp and udp) to A's /32" || fail "no NAT rule: $NFT_SRV"
grep -q "ct count over 250 } reject" <<<"$NFT_SRV" && pass "with the per-source cap of the core's listener" || fail "no cap: $NFT_SRV"
in_a nft list ruleset | grep -q "tcp dport $ECHO dnat ip to 127.0.0.1:$ECHO" &&
  pass "A NATs it on to its loopback service" || fail "A's table: $(in_a nft list ruleset)"
in_a ip -4 rule show | grep -q "from 127.0.0.0/8 to 10.1.255.254 ipproto tcp sport $ECHO lookup" &&
  pass "replies from A's service route back through A's interface" || fail "A's rules: $(in_a ip -4 rule show)"
check "a client on another host (B's namespace, routed in) through A's public port" 0 in_b timeout 30 python3 "$NETKIT" roundtrip 10.99.1.1 33010 1
# (an administrator's view: the server's local socket)
TRAFFIC=$(curl -s --unix-socket "$STATE/admin.sock" http://localhost/v1/tunnels)
RELAYED=$(python3 -c '
import json, sys
for t in json.load(sys.stdin)["tunnels"]:
    if t.get("remote", "").endswith(":33010"):
        print(t["traffic"]["connections_total"])' <<<"$TRAFFIC")
[ "$RELAYED" = 0 ] && pass "none of those connections passed through weft's relay" || fail "relayed: '$RELAYED' in $TRAFFIC"

# ---- host-only reach: the server reaches A's allowed port, nothing else
check "operator reaches A's allowed port 8022" 0 in_srv timeout 5 bash -c "exec 3<>/dev/tcp/$A_ECHO/8022; head -1 <&3"
contains "and it answers" "hello from 8022"
check "operator refused on A's port 2222 (not in its ACL)" 1 in_srv timeout 5 bash -c "exec 3<>/dev/tcp/$A_ECHO/2222"
contains "refused at once, not timed out" "refused"
# ---- B cannot reach A: not on its own, not through the server
check "B has no route to A" 1 in_b timeout 5 bash -c "exec 3<>/dev/tcp/$A_ECHO/8022"
B_IF=$(in_b ip -o link show | sed -n 's/^[0-9]*: \(wft[0-9a-f]*\):.*/\1/p' | head -1)
SERVER_KEY=$(wg show "$B_IF" peers | head -1)
wg set "$B_IF" peer "$SERVER_KEY" allowed-ips 10.1.0.0/16 && in_b ip route add 10.1.0.0/16 dev "$B_IF"
check "B, forcing its way through the server, is dropped" 124 in_b timeout 3 bash -c "exec 3<>/dev/tcp/$A_ECHO/8022"
check "B cannot reach the server's own address either" 124 in_b timeout 3 bash -c "exec 3<>/dev/tcp/10.1.255.254/$CTL"
OUT=$(in_srv nft list table inet "$TABLE")
contains "firewall table drops device to device" 'iifname "'$IFS_SRV'" drop'
contains "the UDP tunnel's relay port is open over udp" "udp dport { 22, 80, 443, $UDP } accept"
contains "firewall table names A's allowed port and its relay" "ip daddr $A_ECHO tcp dport { $ECHO, 8022 } accept"

# ---- no peer without a valid token
for token in bogus "$(printf 'e30.e30.%064d' 0)"; do
  check "a session with a bad token is refused" 0 in_srv curl -sk -o /dev/null -w '%{http_code}' \
    -H "Connection: Upgrade" -H "Upgrade: weft-wireguard" -H "Authorization: Bearer $token" \
    -H "weft-relay-port: 80" "https://127.0.0.1:$CTL/v1/wireguard"
  contains "with 401" "401"
done
[ "$(peers)" -eq 4 ] && pass "no peer added for it" || fail "peers changed: $(wg show "$IFS_SRV" peers)"
# another device sees none of them, an operator all, never their keys
check "another device lists tunnels" 0 in_srv bash -c "curl -sk -H \"Authorization: Bearer \$('$WEFT' login --device-id nosy '$CONN')\" https://127.0.0.1:$CTL/v1/tunnels"
case "$OUT" in *dev-a-echo*) fail "a device sees another's tunnels: $OUT" ;; *) pass "it sees none of another device's" ;; esac
OPS_KEY=$("$WEFT" user add ops-wg --role operator --state-dir "$STATE" | tail -n 1)
check "an operator lists them" 0 in_srv curl -sk -H "Authorization: Bearer $OPS_KEY" "https://127.0.0.1:$CTL/v1/tunnels"
contains "and sees them" "dev-a-echo"
case "$OUT" in *wg_preshared_key*) fail "a preshared key shown to an operator" ;; *) pass "no preshared key shown to anyone but its device" ;; esac

# ---- an ACL change reaches the firewall
sed -i 's/^reach_ports = 8022/reach_ports = 8022, 2222/' "$TMP/server.conf"
kill -HUP "$SERVER"
wait_for 10 in_srv timeout 2 bash -c "exec 3<>/dev/tcp/$A_ECHO/2222" && pass "after SIGHUP, port 2222 is reachable" || fail "ACL change not applied: $(in_srv nft list table inet "$TABLE")"
# ... and so does one made through the API, by an operator, at once
check "an operator switches port 2222 off (curl, the operator's key)" 0 in_srv curl -skf -X PATCH -H "Authorization: Bearer $OPS_KEY" \
  -d '{"reach_ports":"8022"}' "https://127.0.0.1:$CTL/v1/devices/dev-a-echo"
wait_for 10 bash -c "! ip netns exec '$SRV' timeout 2 bash -c 'exec 3<>/dev/tcp/$A_ECHO/2222'" &&
  pass "port 2222 is closed to the server at once" || fail "still reachable: $(in_srv nft list table inet "$TABLE")"
in_srv timeout 2 bash -c "exec 3<>/dev/tcp/$A_ECHO/8022" && pass "8022 still is" || fail "8022 lost"
check "and back to weft.conf's ports" 0 "$WEFT" device set dev-a-echo reach_ports= --state-dir "$STATE"
wait_for 10 in_srv timeout 2 bash -c "exec 3<>/dev/tcp/$A_ECHO/2222" && pass "port 2222 is open again" || fail "not reopened: $(in_srv nft list table inet "$TABLE")"

# ---- the console's terminal: the server's ssh reaches A's sshd at A's
# own /32, on a port the operator opened
device_sshd 8024 "a password" "$DA"
check "an operator opens A's port 8024" 0 in_srv curl -skf -X PATCH -H "Authorization: Bearer $OPS_KEY" \
  -d '{"reach_ports":"8022,2222,8024"}' "https://127.0.0.1:$CTL/v1/devices/dev-a-echo"
check "a terminal to it, through wireguard: log in, echo" 0 in_srv /usr/bin/python3 "$SOURCE_ROOT/tests/shell/terminal_client.py" \
  "wss://127.0.0.1:$CTL/v1/devices/dev-a-echo/terminal?port=8024&user=weft-op" --key "$OPS_KEY" \
  --expect "password:" --send "a password\\n" --expect "$ " --send "echo hello-from-weft\\n" \
  --expect $'\r\nhello-from-weft\r\n' --send "exit\\n"
contains "and ends with the session" "END: the session ended"
check "its way was A's address" 0 in_srv curl -skf -H "Authorization: Bearer $OPS_KEY" "https://127.0.0.1:$CTL/v1/audit?device=dev-a-echo&event=terminal-opened"
contains "named in the audit" "ssh weft-op@ port 8024 at $A_ECHO"
check "8024 closed again (weft.conf's ports)" 0 "$WEFT" device set dev-a-echo reach_ports= --state-dir "$STATE"

# ---- consent: a tunnel that waits for an administrator has no peer until
# approved, and the administrator ends it at once. (Its service listens on
# all addresses: reached directly, with no relay on the device.)
ip netns exec "$DB" env WEFT_RUN_DIR="$TMP/run-c" "$WEFT" tunnel --await-approval --transport wireguard \
  --device-id dev-c "$CONN" tcp://127.0.0.1:8023 tcp://10.99.1.1:33013 >"$TMP/c.log" 2>&1 &
DEV_C=$!
STARTED_PIDS+=("$DEV_C")
wait_for 20 grep -q "waiting for an administrator" "$TMP/c.log" || fail "no waiting line: $(cat "$TMP/c.log")"
REQ=$(sed -n 's/.*approve request \(a[0-9a-f]*\).*/\1/p' "$TMP/c.log" | head -1)
sleep 1
[ "$(peers)" -eq 4 ] && pass "no peer while the tunnel waits for approval" || fail "peer added before approval"
LOCAL_CONN="weft://$(cat "$STATE/secret")@127.0.0.1:$CTL" # admins work on the server itself
check "an administrator elsewhere may not approve" 1 in_a "$WEFT" admin "$CONN" approve "$REQ"
check "the administrator approves, on the server" 0 in_srv "$WEFT" admin "$LOCAL_CONN" approve "$REQ"
TID_C=$(sed -n 's/.*approved: tunnel \(t[0-9a-f]*\).*/\1/p' <<<"$OUT")
wait_for 20 bash -c "[ \$(wg show $IFS_SRV peers 2>/dev/null | grep -c .) -eq 5 ]" && pass "the peer comes with the approval" || fail "no peer after approval: $(cat "$TMP/c.log")"
grep -q "reached directly at 10.1.0.[0-9]*:8023" "$TMP/c.log" && pass "a service on all addresses is reached with no device relay" || fail "no direct line: $(cat "$TMP/c.log")"
check "through the public port to it" 0 in_srv timeout 5 bash -c "exec 3<>/dev/tcp/10.99.1.1/33013; head -1 <&3"
contains "it answers" "hello from 8023"
check "the administrator ends it" 0 in_srv "$WEFT" admin "$LOCAL_CONN" end "$TID_C"
[ "$(peers)" -eq 4 ] && pass "its peer went at once" || fail "peer left after end"
wait_for 20 grep -q "no longer has this tunnel" "$TMP/c.log" && pass "device C hears it ended" || fail "device C not told"
kill "$DEV_C"; wait "$DEV_C" 2>/dev/null

# ---- host-only reach: a tunnel with no remote publishes nothing (issue
# 17: it took a public port that a third host could reach); the server's
# host reaches the device's address, and the agent says so.
LISTEN_BEFORE=$(in_srv ss -Hltnu | wc -l)
ip netns exec "$DB" env WEFT_RUN_DIR="$TMP/run-d" "$WEFT" tunnel --transport wireguard \
  --device-id dev-d "$CONN" tcp://127.0.0.1:8023 >"$TMP/d.log" 2>&1 &
DEV_D=$!
STARTED_PIDS+=("$DEV_D")
wait_for 20 grep -q "is reachable at" "$TMP/d.log" || fail "D not up: $(cat "$TMP/d.log")"
D_URL=$(sed -n 's/.*is reachable at \([^ ]*\).*/\1/p' "$TMP/d.log" | head -1)
case "$D_URL" in tcp://10.1.*:8023) pass "no remote: the URL is the device's own address ($D_URL)" ;;
*) fail "host-only URL: $D_URL" ;; esac
D_ADDR=${D_URL#tcp://}
D_ADDR=${D_ADDR%:8023}
wait_for 20 in_srv timeout 2 bash -c "exec 3<>/dev/tcp/$D_ADDR/8023" || fail "D not reachable from the server"
check "the server's host reaches it" 0 in_srv timeout 5 bash -c "exec 3<>/dev/tcp/$D_ADDR/8023; head -1 <&3"
contains "and it answers" "hello from 8023"
[ "$(in_srv ss -Hltnu | wc -l)" -eq "$LISTEN_BEFORE" ] && pass "no public port was opened for it" ||
  fail "a port was opened: $(in_srv ss -Hltnu)"
! in_srv nft list ruleset | grep -q "dnat ip to $D_ADDR" && pass "and no NAT toward it" || fail "a NAT rule toward $D_ADDR"
kill -INT "$DEV_D"; wait "$DEV_D" 2>/dev/null
wait_for 10 bash -c "[ \$(wg show $IFS_SRV peers 2>/dev/null | grep -c .) -eq 4 ]" || fail "D's peer left"

# ---- delete: A stops, its peers and rules go at once
A_KEYS=$(for f in "$TMP"/run-a/plugins/wireguard/keys/*.key; do wg pubkey <"$f"; done)
kill -INT "$DEV_A"; wait "$DEV_A" 2>/dev/null
LEFT=$(wg show "$IFS_SRV" peers)
! grep -qF "$A_KEYS" <<<"$LEFT" && [ "$(peers)" -eq 1 ] && pass "A's peers removed on delete" || fail "peers after delete: $LEFT"
OUT=$(in_srv nft list table inet "$TABLE")
case "$OUT" in *"$A_ECHO"*) fail "A's rules left: $OUT" ;; *) pass "A's rules removed" ;; esac
[ "$(ls "$STATE/plugins/wireguard/tunnels" | grep -c .)" -eq 1 ] && pass "the server forgot A's keys (B's stay)" ||
  fail "tunnel key files: $(ls "$STATE/plugins/wireguard/tunnels")"
[ -z "$(in_a ip -o link show | grep wft)" ] && pass "A's interfaces gone" || fail "A left interfaces: $(in_a ip -o link show)"
[ -z "$(in_a ip -4 rule show | grep "from 10\.1\.\|from 127\.")" ] && pass "A's routing rules gone" || fail "A left rules: $(in_a ip -4 rule show)"
[ -z "$(in_a nft list tables | grep weft)" ] && pass "A's NAT tables gone" || fail "A left tables: $(in_a nft list tables)"

# ---- stop: interface and table gone; start: B comes back by itself
kill "$SERVER"; wait "$SERVER" 2>/dev/null
! in_srv ip link show "$IFS_SRV" >/dev/null 2>&1 && pass "interface removed at stop" || fail "interface left after stop"
! in_srv nft list table inet "$TABLE" >/dev/null 2>&1 && pass "firewall table removed at stop" || fail "table left after stop"
wait_for 5 test "$(wg_go_count)" -eq 0 && pass "wireguard-go stopped" || fail "wireguard-go left running"
start_server server2.log
wait_for 20 bash -c "[ \$(wg show $IFS_SRV peers 2>/dev/null | grep -c .) -eq 1 ]" && pass "B's peer restored after the restart" || fail "B not back: $(tail -5 "$TMP/b.log")"
check "B's service through the restarted server" 0 in_srv timeout 30 python3 "$NETKIT" roundtrip 10.99.1.1 33012 1

# ---- kill -9: the stale interface is replaced, not doubled
kill -9 "$SERVER"; wait "$SERVER" 2>/dev/null
start_server server3.log
grep -q "removing a stale interface" "$TMP/server3.log" && pass "stale interface reconciled" || fail "no reconcile: $(cat "$TMP/server3.log")"
wait_for 10 test "$(wg_go_count)" -eq 1 && pass "one wireguard-go, the old one gone" || fail "wireguard-go count: $(wg_go_count)"
wait_for 20 bash -c "[ \$(wg show $IFS_SRV peers 2>/dev/null | grep -c .) -eq 1 ]" && pass "B's peer back after kill -9" || fail "B not back after kill -9"

# ---- a device agent killed with -9: its interface stays behind, and its
# lease; started again with --replace it takes its place back and clears
# what the killed one left. (A new tunnel also gets the short idle timeout
# below: a lease keeps the one it was made with.)
OLD_B_IF=$(in_b ip -o link show | sed -n 's/^[0-9]*: \(wft[0-9a-f]*\):.*/\1/p' | head -1)
kill -9 "$DEV_B"; wait "$DEV_B" 2>/dev/null
kill "$SERVER"; wait "$SERVER" 2>/dev/null
write_server_conf 4s
start_server server4.log
ip netns exec "$DB" env WEFT_RUN_DIR="$TMP/run-b" "$WEFT" tunnel --replace --transport wireguard --device-id dev-b "$CONN" \
  "tcp://127.0.0.1:$ECHO" tcp://10.99.1.1:33012 >"$TMP/b2.log" 2>&1 &
DEV_B=$!
STARTED_PIDS+=("$DEV_B")
wait_for 20 grep -q "up; this device is" "$TMP/b2.log" && pass "the restarted agent replaced its old tunnel" || fail "B not back: $(cat "$TMP/b2.log")"
grep -q "removed interface $OLD_B_IF, left by a weft tunnel that did not stop" "$TMP/b2.log" &&
  pass "and removed the interface the killed one left" || fail "stale interface not removed: $(cat "$TMP/b2.log")"
! in_b ip link show "$OLD_B_IF" >/dev/null 2>&1 && pass "the stale interface is gone" || fail "stale interface $OLD_B_IF left"
! in_b nft list tables | grep -q "weft_$OLD_B_IF" && pass "and its NAT table" || fail "stale table left: $(in_b nft list tables)"
[ "$(in_b ip -4 rule show | grep -c "from 127\.")" -eq 1 ] && pass "one reply rule, the new agent's" || fail "reply rules: $(in_b ip -4 rule show)"
grep -q "replaced by a new one" "$TMP/server4.log" && pass "the server says it replaced the tunnel" || fail "no replace line"
B_ECHO=$(addr_of b2.log $ECHO)
for i in $(seq 16); do in_srv timeout 2 bash -c "exec 3<>/dev/tcp/$B_ECHO/$ECHO; echo x >&3" 2>/dev/null; sleep 0.5; done
! grep -q "ended: idle-timeout" "$TMP/server4.log" && pass "operator traffic kept the lease for 8 s (idle timeout 4 s)" || fail "reaped despite traffic"
wait_for 20 grep -q "ended: idle-timeout" "$TMP/server4.log" && pass "idle lease ended with only keepalives" || fail "no idle timeout"
# (the core logs the lease's end before the transport lets go of it: the
# kernel path closes, then the peer goes)
no_peers() { [ "$(peers)" -eq 0 ]; }
wait_for 5 no_peers && pass "peer removed at idle expiry" || fail "peer left after idle: $(wg show "$IFS_SRV" peers)"
wait_for 20 grep -q "no longer has this tunnel" "$TMP/b2.log" && pass "device B stops: tunnel gone" || fail "B did not notice: $(tail -5 "$TMP/b2.log")"
# the lifecycle's row (docs/cli.md): a lease that ran out is opened again
wait_for 20 grep -q "opening it again" "$TMP/b2.log" &&
  pass "and the agent opens it again, as for any lease that ran out" ||
  fail "B did not reopen: $(tail -5 "$TMP/b2.log")"
wait_for 20 sh -c "[ \$(grep -c 'up; this device is' '$TMP/b2.log') -ge 2 ]" &&
  pass "the new tunnel is up, with a peer of its own" ||
  fail "no second tunnel: $(tail -5 "$TMP/b2.log")"
finish
