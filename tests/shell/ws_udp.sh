#!/usr/bin/env bash
# UDP through the websocket transport, real processes on loopback: weft
# server, weft tunnel (from the command line and from weft.conf) and a UDP
# echo service. Answers reach the peer that asked, the local service sees
# each public peer as its own source, flows expire and are capped, and the
# public port goes away with the tunnel.
. "$(dirname "$0")/lib.sh"
NETKIT="$(dirname "$0")/netkit.py"

PORT=$(free_port)
ECHO=$(free_port)
STATE="$TMP/state"
BASE="https://127.0.0.1:$PORT"
cat >"$TMP/weft.conf" <<CONF
[server]
; this test still administers by the older way: a device id
admins = admin
listen = 127.0.0.1:$PORT
http_listen = off
tls_listen = off
port_range = 34000-34009

[transport.websocket]
udp_flow_idle = 2s
udp_max_flows = 8
CONF
start_server
ADMIN=$("$WEFT" login "$CONN" --device-id admin)
python3 "$NETKIT" udp-echo-server "$ECHO" "$TMP/peers" >"$TMP/echo.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
peers_seen() { cat "$TMP/peers" 2>/dev/null || echo 0; }
# flows the device opened (one local socket each), from its debug log: the
# local service's count of source ports cannot tell, since the kernel may
# hand a new socket the port of one closed before it
flows_opened() { grep -c "UDP flow " "$TMP/tunnel.out"; }

"$WEFT" tunnel -v --device-id dev-udp "$CONN" "udp://127.0.0.1:$ECHO" udp://127.0.0.1:34001 >"$TMP/tunnel.out" 2>&1 &
TUNNEL=$!
STARTED_PIDS+=("$TUNNEL")
wait_for 20 grep -q "is reachable at udp://127.0.0.1:34001" "$TMP/tunnel.out" || fail "tunnel never came up: $(cat "$TMP/tunnel.out")"
wait_for 10 grep -q "connected to" "$TMP/tunnel.out" || fail "device never connected: $(cat "$TMP/tunnel.out")"

# --- answers go back whole, each to the peer that asked
check "5 peers x 201 datagrams (1 B to 64 KB) echoed to their own peer" 0 timeout 60 python3 "$NETKIT" udp-check 127.0.0.1 34001 5 200
echo "$OUT"
[ "$(peers_seen)" -eq 5 ] && pass "the local service saw 5 distinct sources" || fail "the local service saw $(peers_seen) sources, expected 5"
[ "$(flows_opened)" -eq 5 ] && pass "the device opened 5 flows" || fail "the device opened $(flows_opened) flows, expected 5"
OUT=$(curl -sSk -H "Authorization: Bearer $ADMIN" "$BASE/v1/tunnels")
# (a datagram sent again after a loss counts again)
count_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["tunnels"][0]["traffic"][sys.argv[1]])' "$1" <<<"$OUT"; }
[ "$(count_of datagrams_in)" -ge 1005 ] && pass "datagrams are counted" || fail "datagrams_in: $OUT"
[ "$(count_of datagrams_out)" -ge 1005 ] && pass "and their answers" || fail "datagrams_out: $OUT"

# --- more peers than flows: the least recently heard make room. Taking
# turns, 20 peers through 8 flows find their flow gone each time, so each
# of their 80 datagrams opens a new one (and a new local source)
# (a datagram sent again after a rare loss may open one more)
resent() { sed -n 's/.* \([0-9]*\) sent again.*/\1/p' <<<"$OUT"; }
check "20 peers through a table of 8 flows, every datagram answered" 0 timeout 60 python3 "$NETKIT" udp-check 127.0.0.1 34001 20 3
FLOWS=$(flows_opened)
[ "$FLOWS" -ge 85 ] && [ "$FLOWS" -le $((85 + $(resent))) ] && pass "evicted flows came back as new ones" || fail "$FLOWS flows opened, expected 85"

# --- idle flows are forgotten on the device: a peer that comes back after
# the idle time gets a new local socket, and its datagrams still go through
sleep 3
check "a peer back after the idle time" 0 timeout 20 python3 "$NETKIT" udp-check 127.0.0.1 34001 1 2
[ "$(flows_opened)" -ge $((FLOWS + 1)) ] && [ "$(flows_opened)" -le $((FLOWS + 1 + $(resent))) ] &&
  pass "its expired flow was replaced" || fail "$(flows_opened) flows opened, expected $((FLOWS + 1))"

# --- the device goes away: datagrams are dropped, nothing else breaks
kill -INT "$TUNNEL"
wait "$TUNNEL"
OUT=$(cat "$TMP/tunnel.out")
contains "Ctrl-C deletes the udp tunnel" "deleted"
check "no answer once the tunnel is gone" 1 timeout 30 python3 "$NETKIT" udp-check 127.0.0.1 34001 1 1
check "the server is still healthy" 0 curl -fsSk "$BASE/healthz"

# --- from weft.conf
cat >"$TMP/device.conf" <<CONF
[tunnel "dns"]
transport = websocket
local = udp://127.0.0.1:$ECHO
remote = udp://127.0.0.1:34002
CONF
"$WEFT" tunnel --device-id box --config "$TMP/device.conf" "$CONN" >"$TMP/conf.out" 2>&1 </dev/null &
CONF_TUNNEL=$!
STARTED_PIDS+=("$CONF_TUNNEL")
wait_for 20 grep -q "connected to" "$TMP/conf.out" || fail "weft.conf tunnel: $(cat "$TMP/conf.out")"
check "a udp tunnel from weft.conf" 0 timeout 30 python3 "$NETKIT" udp-check 127.0.0.1 34002 2 20
kill -INT "$CONF_TUNNEL"
wait "$CONF_TUNNEL"

kill -INT "$SERVER"
wait "$SERVER" || fail "server did not stop cleanly: $(tail -5 "$TMP/server.log")"
finish
