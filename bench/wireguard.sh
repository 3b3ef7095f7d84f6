#!/usr/bin/env bash
# WireGuard, side by side in one run, between two network namespaces this
# script makes ("srv" 10.98.0.1 and "dev" 10.98.0.2, joined by a veth pair):
#   1. bare wireguard-go, one per namespace, set up by hand with wg(8):
#      iperf3 and wrk straight over the WireGuard addresses;
#   2. weft's wireguard transport (kernel_path = auto: NAT at both ends, no
#      byte through weft): weft server in srv, weft tunnel in dev,
#      services on dev's 127.0.0.1, measured through the published port
#      (server NAT -> WireGuard -> device NAT), then with the services
#      on 0.0.0.0 ("weft wg direct": no NAT needed on the device);
#      plus "first connect": ms from starting weft tunnel (fresh device id)
#      to the first echoed byte through its published port;
#   3. weft's websocket transport (wss, the default) on the same server.
# TCP throughput is iperf3 (5 s), HTTP is wrk -t2 -c50 (10 s) against nginx
# serving 1 KiB. Each part runs alone, so all use the same CPUs: compare
# ratios within one run, not figures across machines.
#
#   bench/wireguard.sh            as root, after a build (bench/run.sh builds)
#   QUICK=1 bench/wireguard.sh    shorter runs
#   FIRST_N=5, KEEP_TMP=1         more first-connect tries; keep logs
# Without root, namespaces or wireguard-go it says why, skips what it
# cannot do and exits 0, so bench/run.sh carries on.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
WEFT=${WEFT:-$top/build/weft}
NETKIT="$top/tests/shell/netkit.py"
SECS=5 WRK_SECS=10 TRIES=3
[ -n "${QUICK:-}" ] && SECS=2 WRK_SECS=3 TRIES=1
FIRST_N=${FIRST_N:-$TRIES}
skip_all() { echo "wireguard bench skipped: $*"; exit 0; }

# ---- what this machine allows
[ "$(id -u)" -eq 0 ] || skip_all "needs root (network namespaces, WireGuard interfaces)"
"$top/scripts/setup-deps.sh" bench >&2 || say "setup-deps failed; using what is installed"
for tool in ip python3 iperf3 wrk nginx; do
  command -v "$tool" >/dev/null || skip_all "$tool is not installed (scripts/setup-deps.sh bench)"
done
[ -x "$WEFT" ] || skip_all "$WEFT is missing: build first (ninja -C build)"
WG_WHY= # why the wireguard parts cannot run, if they cannot
for tool in wireguard-go wg; do
  command -v "$tool" >/dev/null || WG_WHY="$tool is not installed (wireguard-go, wireguard-tools)"
done
[ -c /dev/net/tun ] || WG_WHY="/dev/net/tun is missing"

# ---- names with $$, so parallel runs do not clash
SRV=wbs$$ DEV=wbd$$               # namespaces
SRV_IP=10.98.0.1 DEV_IP=10.98.0.2 # veth pair
WG_SRV=wbgs$$ WG_DEV=wbgd$$        # bare wireguard-go interfaces (their UAPI
WG_SRV_IP=10.98.1.1 WG_DEV_IP=10.98.1.2 # sockets share /var/run/wireguard)
WEFT_IF=wbw$$                     # weft server's wireguard interface
CTL=9092 IPERF=5201 HTTP=8080 ECHO=7000 WG_PORT=51820
# published ports on the weft server
PUB_WG_TCP=33001 PUB_WG_HTTP=33002 PUB_WS_TCP=33003 PUB_WS_HTTP=33004 PUB_FIRST=33010

TMP=$(mktemp -d /tmp/weft-wgbench.XXXXXX)
export WEFT_STATE_DIR="$TMP/agent-state" # device keys, not in /var/lib/weft
PIDS=()
in_srv() { ip netns exec "$SRV" "$@"; }
# bg NS LOG CMD...: runs CMD in namespace NS, output to $TMP/LOG
bg() {
  local ns=$1 log=$2
  shift 2
  ip netns exec "$ns" "$@" >>"$TMP/$log" 2>&1 </dev/null &
  PIDS+=("$!")
  LAST=$!
}
# stop PID...: SIGTERM (weft tunnels delete their tunnel, the server its
# interface), then SIGKILL whatever is left after 5 s
stop() {
  local p deadline=$((SECONDS + 5))
  for p in "$@"; do kill "$p" 2>/dev/null; done
  for p in "$@"; do
    while kill -0 "$p" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
}
cleanup() {
  stop "${PIDS[@]}"
  local ns ifs p
  for ns in $SRV $DEV; do
    ifs=$(ip -n "$ns" -o link show 2>/dev/null | sed -n 's/^[0-9]*: \([a-z0-9]*\):.*/\1/p' | grep -E "^($WG_SRV|$WG_DEV|$WEFT_IF|wft)")
    # what still runs in our namespaces is ours (wireguard-go started by weft)
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
    for p in $ifs; do rm -f "/var/run/wireguard/$p.sock"; done
  done
  [ -n "${KEEP_TMP:-}" ] && say "kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
# wait_tcp NS HOST PORT: until a connection opens (10 s at most)
wait_tcp() {
  local _
  for _ in $(seq 100); do
    ip netns exec "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
    sleep 0.1
  done
  say "$2:$3 never opened"
  return 1
}
# wait_log LOG PATTERN SECS: until LOG has PATTERN
wait_log() {
  local _
  for _ in $(seq $(($3 * 10))); do
    grep -q "$2" "$TMP/$1" 2>/dev/null && return 0
    sleep 0.1
  done
  say "no '$2' in $1 after $3 s: $(tail -5 "$TMP/$1" 2>/dev/null)"
  return 1
}

# ---- the two namespaces
make_netns() {
  ip netns add "$SRV" && ip netns add "$DEV" || return 1
  ip -n "$SRV" link set lo up && ip -n "$DEV" link set lo up &&
    ip link add "vs$$" netns "$SRV" type veth peer name "vd$$" netns "$DEV" &&
    ip -n "$SRV" addr add "$SRV_IP/24" dev "vs$$" && ip -n "$SRV" link set "vs$$" up &&
    ip -n "$DEV" addr add "$DEV_IP/24" dev "vd$$" && ip -n "$DEV" link set "vd$$" up
}
make_netns || skip_all "cannot make network namespaces and a veth pair"

# ---- services in dev: nginx with a 1 KiB file, iperf3, an echo server
mkdir -p "$TMP/www"
head -c 1024 /dev/zero | tr '\0' 'w' >"$TMP/www/1k"
# nginx workers drop root: they must be able to reach the file
chmod 755 "$TMP" "$TMP/www" && chmod 644 "$TMP/www/1k"
SERVICES=()
start_services() { # ADDR: nginx and iperf3 listening there
  cat >"$TMP/nginx-$1.conf" <<EOF
worker_processes 1;
pid $TMP/nginx-$1.pid;
error_log $TMP/nginx.err;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000;
  server { listen $1:$HTTP; root $TMP/www; }
}
EOF
  bg "$DEV" services.log nginx -c "$TMP/nginx-$1.conf" -g 'daemon off;'
  SERVICES=("$LAST")
  bg "$DEV" services.log iperf3 -s -B "$1" -p "$IPERF"
  SERVICES+=("$LAST")
  wait_tcp "$DEV" "$1" "$HTTP" && wait_tcp "$DEV" "$1" "$IPERF"
}
stop_services() { stop "${SERVICES[@]}"; }

# ---- measuring, always from srv
declare -A GBPS RPS P50 P99 FIRST
measure() { # NAME HOST TCP_PORT HTTP_PORT
  local name=$1 host=$2 w code
  say "measuring $name: iperf3 ${SECS}s, wrk ${WRK_SECS}s..."
  # a wrong answer (403, 502) would make wrk fast and the figures wrong
  code=$(in_srv curl -sS -o /dev/null -w '%{http_code} %{size_download}' "http://$host:$4/1k" 2>&1)
  [ "$code" = "200 1024" ] || say "$name: GET /1k answered '$code', not '200 1024'"
  GBPS[$name]=$(in_srv iperf3 -c "$host" -p "$3" -t "$SECS" -J 2>/dev/null | python3 -c '
import json, sys
try: print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))
except Exception: print("-")')
  w=$(in_srv wrk -t2 -c50 -d"${WRK_SECS}s" --latency "http://$host:$4/1k" 2>&1)
  grep -q "Non-2xx\|Socket errors" <<<"$w" && say "$name: wrk: $(grep "Non-2xx\|Socket errors" <<<"$w")"
  RPS[$name]=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$w")
  P50[$name]=$(awk '$1=="50%" {print $2}' <<<"$w")
  P99[$name]=$(awk '$1=="99%" {print $2}' <<<"$w")
}

# ---- 1. bare wireguard-go, configured by hand as wg(8) would
WG_GO=()
bare_up() {
  local side ns ifname
  for side in srv dev; do
    [ $side = srv ] && ns=$SRV ifname=$WG_SRV || ns=$DEV ifname=$WG_DEV
    # foreground, so it is our child and stops with us
    bg "$ns" "wg-go-$side.log" env WG_PROCESS_FOREGROUND=1 wireguard-go -f "$ifname"
    WG_GO+=("$LAST")
    (umask 077 && wg genkey >"$TMP/$side.key") && wg pubkey <"$TMP/$side.key" >"$TMP/$side.pub"
  done
  (umask 077 && wg genpsk >"$TMP/psk")
  wait_sock "$WG_SRV" && wait_sock "$WG_DEV" || return 1
  bare_side "$SRV" "$WG_SRV" srv "$WG_SRV_IP" dev "$DEV_IP" "$WG_DEV_IP" &&
    bare_side "$DEV" "$WG_DEV" dev "$WG_DEV_IP" srv "$SRV_IP" "$WG_SRV_IP" || return 1
  # the first handshake happens on the first packet: make it now (a UDP
  # datagram, as ping may not be installed), and wait until it is done
  for _ in $(seq 50); do
    in_srv bash -c "echo >/dev/udp/$WG_DEV_IP/9" 2>/dev/null
    [ "$(in_srv wg show "$WG_SRV" latest-handshakes | awk '{print $2}')" != 0 ] && return 0
    sleep 0.1
  done
  say "bare wireguard-go: no handshake: $(in_srv wg show "$WG_SRV")"
  return 1
}
wait_sock() { # IFNAME: until wireguard-go's UAPI socket is there
  local _
  for _ in $(seq 50); do [ -S "/var/run/wireguard/$1.sock" ] && return 0; sleep 0.1; done
  say "wireguard-go made no socket for $1: $(cat "$TMP"/wg-go-*.log)"
  return 1
}
bare_side() { # NS IFNAME ME MY_WG_IP PEER PEER_ENDPOINT_IP PEER_WG_IP
  ip netns exec "$1" wg set "$2" listen-port "$WG_PORT" private-key "$TMP/$3.key" \
    peer "$(cat "$TMP/$5.pub")" preshared-key "$TMP/psk" \
    endpoint "$6:$WG_PORT" allowed-ips "$7/32" &&
    ip -n "$1" addr add "$4/24" dev "$2" && ip -n "$1" link set "$2" up
}
bare_down() {
  stop "${WG_GO[@]}" # wireguard-go removes its interface and socket
}
if [ -z "$WG_WHY" ]; then
  say "bare wireguard-go..."
  if bare_up && start_services "$WG_DEV_IP"; then
    measure wireguard-go "$WG_DEV_IP" "$IPERF" "$HTTP"
  else
    say "bare wireguard-go: not measured"
  fi
  stop_services
  bare_down
fi

# ---- a weft server in srv, services on dev's 127.0.0.1
cat >"$TMP/weft.conf" <<EOF
[server]
listen = 0.0.0.0:$CTL
http_listen = off
tls_listen = off
public_host = $SRV_IP

[transport.wireguard]
interface = $WEFT_IF
EOF
bg "$SRV" server.log "$WEFT" server --config "$TMP/weft.conf" --state-dir "$TMP/state"
wait_tcp "$SRV" 127.0.0.1 "$CTL" || { say "weft server: $(tail -5 "$TMP/server.log")"; exit 1; }
CONN="weft://$(cat "$TMP/state/secret")@$SRV_IP:$CTL"
start_services 127.0.0.1 || exit 1
bg "$DEV" services.log python3 "$NETKIT" echo-server "$ECHO"
wait_tcp "$DEV" 127.0.0.1 "$ECHO" || exit 1

# tunnel TRANSPORT DEVICE_ID LOCAL_PORT PUBLIC_PORT: a weft tunnel in dev,
# its log in $TMP/DEVICE_ID.log, its pid in LAST
tunnel() {
  bg "$DEV" "$2.log" env WEFT_RUN_DIR="$TMP/run-$2" "$WEFT" tunnel --transport "$1" \
    --device-id "$2" "$CONN" "tcp://127.0.0.1:$3" "tcp://$SRV_IP:$4"
}
up_line() { [ "$1" = wireguard ] && echo "up; this device is" || echo "connected to"; }
# tunnels TRANSPORT PREFIX TCP_PUB HTTP_PUB: one device for iperf3, one for
# nginx (a device holds one tunnel); TUNNELS gets their pids
tunnels() {
  tunnel "$1" "$2-tcp" "$IPERF" "$3" && TUNNELS=("$LAST")
  tunnel "$1" "$2-http" "$HTTP" "$4" && TUNNELS+=("$LAST")
  wait_log "$2-tcp.log" "$(up_line "$1")" 30 && wait_log "$2-http.log" "$(up_line "$1")" 30 &&
    wait_tcp "$SRV" "$SRV_IP" "$3" && wait_tcp "$SRV" "$SRV_IP" "$4"
}

# The probe for "first connect": connect, send a byte, read it back; on
# refusal, reset or close, try again 20 ms later. Prints ms since T0_NS.
cat >"$TMP/first.py" <<'EOF'
import socket, sys, time
host, port, t0 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        with socket.create_connection((host, port), timeout=1) as s:
            s.settimeout(5)
            s.sendall(b"x")
            if s.recv(1) == b"x":
                print("%.0f" % ((time.time_ns() - t0) / 1e6))
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.02)
print("-")
EOF
# first_connect TRANSPORT DEVICE_ID: FC is the ms from starting the tunnel
# to its first echoed byte; the tunnel is deleted after
first_connect() {
  local t0
  t0=$(date +%s%N)
  tunnel "$1" "$2" "$ECHO" "$PUB_FIRST"
  FC=$(in_srv python3 "$TMP/first.py" "$SRV_IP" "$PUB_FIRST" "$t0")
  stop "$LAST"
}
# first_connects TRANSPORT NAME: FIRST[NAME] is the median of FIRST_N tries,
# each a fresh device id; FIRST_ALL[NAME] all of them
declare -A FIRST_ALL
first_connects() {
  local i all=
  say "first connect over $1, $FIRST_N tries..."
  for i in $(seq "$FIRST_N"); do
    first_connect "$1" "first-$1-$i"
    all="$all $FC"
  done
  FIRST_ALL[$2]=${all# }
  FIRST[$2]=$(median <<<"${FIRST_ALL[$2]}")
}

# ---- 2. weft's wireguard transport
if [ -z "$WG_WHY" ]; then
  # the server's first wireguard tunnel also brings its interface up
  say "first connect over wireguard, cold (server interface not up yet)..."
  first_connect wireguard first-cold
  FIRST[cold]=$FC
  say "weft wireguard tunnels..."
  if tunnels wireguard wg "$PUB_WG_TCP" "$PUB_WG_HTTP"; then
    measure "weft wireguard" "$SRV_IP" "$PUB_WG_TCP" "$PUB_WG_HTTP"
  else
    say "weft wireguard: not measured"
  fi
  stop "${TUNNELS[@]}"
  # The same with the services on all addresses: the device's relay steps
  # aside (the server reaches them on the device's /32 directly).
  say "weft wireguard, services on 0.0.0.0..."
  stop_services
  if start_services 0.0.0.0 && tunnels wireguard wgd "$PUB_WG_TCP" "$PUB_WG_HTTP"; then
    measure "weft wg direct" "$SRV_IP" "$PUB_WG_TCP" "$PUB_WG_HTTP"
  else
    say "weft wireguard, services on 0.0.0.0: not measured"
  fi
  stop "${TUNNELS[@]}"
  first_connects wireguard "weft wireguard"
fi

# ---- 3. weft's websocket transport, same server and namespaces
say "weft websocket tunnels..."
if tunnels websocket ws "$PUB_WS_TCP" "$PUB_WS_HTTP"; then
  measure "weft wss" "$SRV_IP" "$PUB_WS_TCP" "$PUB_WS_HTTP"
else
  say "weft wss: not measured"
fi
stop "${TUNNELS[@]}"
first_connects websocket "weft wss"

# ---- what went wrong on the way, for the reader to judge
# (times and tunnel ids dropped, so that alike lines count as one)
grep -hiE "error|warn|fail|refus" "$TMP"/server.log "$TMP"/*-tcp.log "$TMP"/*-http.log "$TMP"/first-*.log 2>/dev/null |
  sed -E 's/^[0-9T:-]+Z //; s/^(ERROR|DEBUG|INFO): \([a-z0-9]+\) [0-9/]+ [0-9:]+ /\1: (wireguard-go) /; s/t[0-9a-f]{16}/tID/g' |
  sort | uniq -c | sort -rn | head -10 >"$TMP/complaints"

# ---- report
VARIANTS=(wireguard-go "weft wireguard" "weft wg direct" "weft wss")
printf '\nWireGuard between two namespaces (%s s iperf3, %s s wrk -t2 -c50, 1 KiB)\n' "$SECS" "$WRK_SECS"
[ -n "$WG_WHY" ] && printf 'wireguard parts skipped: %s\n' "$WG_WHY"
printf '%-15s %9s %9s %11s %9s %9s %9s\n' variant "TCP Gb/s" "x wg-go" "HTTP req/s" "x wg-go" "p50 ms" "p99 ms"
for v in "${VARIANTS[@]}"; do
  printf '%-15s %9s %9s %11s %9s %9s %9s\n' "$v" "${GBPS[$v]:--}" "$(ratio "${GBPS[$v]:-}" "${GBPS[wireguard-go]:-}")" \
    "${RPS[$v]:--}" "$(ratio "${RPS[$v]:-}" "${RPS[wireguard-go]:-}")" "$(ms "${P50[$v]:-}")" "$(ms "${P99[$v]:-}")"
done
printf 'weft wireguard / wireguard-go: TCP %s, req/s %s (target >= 0.9)\n' \
  "$(ratio "${GBPS[weft wireguard]:-}" "${GBPS[wireguard-go]:-}")" "$(ratio "${RPS[weft wireguard]:-}" "${RPS[wireguard-go]:-}")"
printf 'weft wg direct (service on 0.0.0.0, no device relay) / wireguard-go: TCP %s, req/s %s\n' \
  "$(ratio "${GBPS[weft wg direct]:-}" "${GBPS[wireguard-go]:-}")" "$(ratio "${RPS[weft wg direct]:-}" "${RPS[wireguard-go]:-}")"
printf 'weft wireguard / weft wss: TCP %s, req/s %s, p50 %s, p99 %s\n' \
  "$(ratio "${GBPS[weft wireguard]:-}" "${GBPS[weft wss]:-}")" "$(ratio "${RPS[weft wireguard]:-}" "${RPS[weft wss]:-}")" \
  "$(ratio "$(ms "${P50[weft wireguard]:-}")" "$(ms "${P50[weft wss]:-}")")" \
  "$(ratio "$(ms "${P99[weft wireguard]:-}")" "$(ms "${P99[weft wss]:-}")")"
printf 'first connect, ms from weft tunnel start to an echoed byte (target < 1000):\n'
printf '  wireguard: %s (median of %s), server interface up before: %s; first tunnel, cold: %s\n' \
  "${FIRST[weft wireguard]:--}" "$FIRST_N" "${FIRST_ALL[weft wireguard]:--}" "${FIRST[cold]:--}"
printf '  websocket (wss): %s (median of %s): %s\n' "${FIRST[weft wss]:--}" "$FIRST_N" "${FIRST_ALL[weft wss]:--}"
if [ -s "$TMP/complaints" ]; then
  printf 'logged by weft and its wireguard-go (count, line):\n'
  sed 's/^/  /' "$TMP/complaints"
fi
exit 0
