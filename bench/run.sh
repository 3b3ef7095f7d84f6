#!/usr/bin/env bash
# Measures Weft against baselines, side by side in one run on loopback:
#   TCP throughput both ways (iperf3: public client to the device's
#   service, and with -R the other way; the median of three rounds that
#   take the variants in turn) and HTTP req/s with p50/p99 latency (wrk
#   -t2 -c50, 1 KiB responses from nginx), and connect-to-first-byte p50,
#   directly, through haproxy (mode tcp), through ssh -R (aes128-gcm),
#   through weft's autossh transport to the same sshd, and through
#   websocket tunnels over TLS (wss, the default) and plain (ws); HTTP
#   also through weft's public HTTP port (routed by Host, heads parsed and
#   rewritten) and a wss tunnel;
#   then server memory per idle tunnel (1000 over wss, 1000 over ws) and per
#   open stream (10000), each on a fresh server (bench/memory.sh, which
#   also runs on its own).
# Prints each figure and its ratio to direct and to haproxy. Load
# generator, relays and backend share this machine's cores, so compare
# ratios within one run, not figures across machines.
#
#   bench/run.sh            everything (a few minutes)
#   QUICK=1 bench/run.sh    shorter runs, fewer tunnels and streams
#   HTTP_ONLY=1             the HTTP figures alone (no TCP, no sub-benches)
#   WEFT_BIN=PATH           measure another build of weft (before/after)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
"$top/scripts/setup-deps.sh" bench || exit 1
if [ -n "${WEFT_BIN:-}" ]; then
  WEFT=$WEFT_BIN
else
  "$top/scripts/build.sh" build || exit 1
  WEFT="$top/build/weft"
fi
TOOLS="$top/bench/tools.py"
SECS=5
[ -n "${QUICK:-}" ] && SECS=2
ulimit -n "$(ulimit -Hn)" 2>/dev/null

TMP=$(mktemp -d /tmp/weft-bench.XXXXXX)
export WEFT_STATE_DIR="$TMP/agent-state" # device keys, not in /var/lib/weft
chmod 755 "$TMP" # nginx workers (nobody) read the 1 KiB file from here
cleanup() {
  stop_all
  rm -rf "$TMP"
}
trap cleanup EXIT

# ---- backends
HTTP=$(port) TCP=$(port)
mkdir -p "$TMP/www"
head -c 1024 /dev/zero | tr '\0' 'w' >"$TMP/www/1k"
cat >"$TMP/nginx.conf" <<EOF
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/nginx.err;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000;
  server { listen 127.0.0.1:$HTTP; root $TMP/www; }
}
EOF
bg nginx -c "$TMP/nginx.conf" -g 'daemon off;'
bg iperf3 -s -p "$TCP"
wait_port "$HTTP" && wait_port "$TCP" || exit 1

# ---- haproxy, mode tcp
HAP_HTTP=$(port) HAP_TCP=$(port)
cat >"$TMP/haproxy.cfg" <<EOF
global
  maxconn 9000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend fh
  bind 127.0.0.1:$HAP_HTTP
  default_backend bh
backend bh
  server s 127.0.0.1:$HTTP
frontend ft
  bind 127.0.0.1:$HAP_TCP
  default_backend bt
backend bt
  server s 127.0.0.1:$TCP
EOF
bg haproxy -f "$TMP/haproxy.cfg" -db
wait_port "$HAP_HTTP" || exit 1

# ---- ssh -R to a private sshd on loopback
SSHD=$(port) SSH_HTTP=$(port) SSH_TCP=$(port)
ssh-keygen -q -t ed25519 -N '' -f "$TMP/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$TMP/user_key"
cp "$TMP/user_key.pub" "$TMP/authorized_keys"
cat >"$TMP/sshd_config" <<EOF
Port $SSHD
ListenAddress 127.0.0.1
HostKey $TMP/host_key
AuthorizedKeysFile $TMP/authorized_keys
PasswordAuthentication no
StrictModes no
PidFile $TMP/sshd.pid
AllowTcpForwarding yes
Ciphers aes128-gcm@openssh.com
EOF
mkdir -p /run/sshd
bg /usr/sbin/sshd -D -f "$TMP/sshd_config"
wait_port "$SSHD" || exit 1
bg ssh -N -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
  -o ExitOnForwardFailure=yes -c aes128-gcm@openssh.com -i "$TMP/user_key" -p "$SSHD" \
  -R "127.0.0.1:$SSH_HTTP:127.0.0.1:$HTTP" -R "127.0.0.1:$SSH_TCP:127.0.0.1:$TCP" root@127.0.0.1
wait_port "$SSH_HTTP" || exit 1

# ---- weft's autossh transport to the same sshd (a plain bastion, no weft
# server): supervised ssh -R should cost nothing beyond ssh -R itself
AS_HTTP=$(port) AS_TCP=$(port)
echo "[127.0.0.1]:$SSHD $(cut -d' ' -f1,2 "$TMP/host_key.pub")" >"$TMP/known_hosts"
for t in http tcp; do
  [ $t = http ] && local_port=$HTTP remote_port=$AS_HTTP || local_port=$TCP remote_port=$AS_TCP
  printf '[tunnel "%s"]\ntransport = autossh\nbastion = root@127.0.0.1\nbastion_port = %s\nremote = tcp://127.0.0.1:%s\nidentity = %s\nknown_hosts = %s\nlocal = tcp://127.0.0.1:%s\n' \
    "$t" "$SSHD" "$remote_port" "$TMP/user_key" "$TMP/known_hosts" "$local_port"
done >"$TMP/autossh.conf"
WEFT_RUN_DIR="$TMP/run" bg "$WEFT" tunnel --config "$TMP/autossh.conf"
wait_port "$AS_HTTP" && wait_port "$AS_TCP" || exit 1

# ---- weft: a server, and websocket tunnels over wss and over plain ws
CTL=$(port) WSS_HTTP=$(port) WSS_TCP=$(port) WS_HTTP=$(port) WS_TCP=$(port)
PUB_HTTP=$(port)
weft_bench_conf "$CTL" | sed "s/^http_listen = off\$/http_listen = 127.0.0.1:$PUB_HTTP/" >"$TMP/weft.conf"
bg "$WEFT" server --config "$TMP/weft.conf" --state-dir "$TMP/state"
wait_port "$CTL" || exit 1
CONN="weft://$(cat "$TMP/state/secret")@127.0.0.1:$CTL"
bg "$WEFT" tunnel --device-id bench-http "$CONN" "tcp://127.0.0.1:$HTTP" "tcp://127.0.0.1:$WSS_HTTP"
bg "$WEFT" tunnel --device-id bench-tcp "$CONN" "tcp://127.0.0.1:$TCP" "tcp://127.0.0.1:$WSS_TCP"
cat >"$TMP/device-ws.conf" <<EOF
[transport.websocket]
wss = false
[tunnel "http"]
transport = websocket
local = tcp://127.0.0.1:$HTTP
remote = tcp://127.0.0.1:$WS_HTTP
[tunnel "tcp"]
transport = websocket
local = tcp://127.0.0.1:$TCP
remote = tcp://127.0.0.1:$WS_TCP
EOF
bg "$WEFT" tunnel --device-id bench-ws --config "$TMP/device-ws.conf" "$CONN"
bg "$WEFT" tunnel --device-id bench-pub "$CONN" "http://127.0.0.1:$HTTP" http://bench.test
wait_port "$WSS_HTTP" && wait_port "$WSS_TCP" && wait_port "$WS_HTTP" && wait_port "$WS_TCP" || exit 1
for _ in $(seq 100); do
  curl -fsS -o /dev/null -H "Host: bench.test" "http://127.0.0.1:$PUB_HTTP/1k" && break
  sleep 0.1
done
sleep 1

# ---- measure
# TCP: each variant both ways, in ROUNDS rounds that take the variants in
# turn, and the median of each: this machine's throughput drifts by a
# tenth within minutes, which one sample each would take for a difference.
declare -A GBPS GBPS_R RPS P50 P99 FB TCP_RUNS TCP_RUNS_R
VARIANTS=(direct haproxy "ssh -R" autossh "weft wss" "weft ws")
declare -A HTTP_PORT=([direct]=$HTTP [haproxy]=$HAP_HTTP ["ssh -R"]=$SSH_HTTP
  [autossh]=$AS_HTTP ["weft wss"]=$WSS_HTTP ["weft ws"]=$WS_HTTP)
declare -A TCP_PORT=([direct]=$TCP [haproxy]=$HAP_TCP ["ssh -R"]=$SSH_TCP
  [autossh]=$AS_TCP ["weft wss"]=$WSS_TCP ["weft ws"]=$WS_TCP)
ROUNDS=3 TCP_SECS=3
[ -n "${QUICK:-}" ] && ROUNDS=1 TCP_SECS=2
[ -n "${HTTP_ONLY:-}" ] && ROUNDS=0
iperf_gbps() { # PORT [-R]
  iperf3 -c 127.0.0.1 -p "$1" -t "$TCP_SECS" -J ${2:-} 2>/dev/null |
    python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))'
}
for r in $(seq "$ROUNDS"); do
  say "TCP, round $r of $ROUNDS (iperf3 ${TCP_SECS}s each way, each variant)..."
  for v in "${VARIANTS[@]}"; do
    TCP_RUNS[$v]+=" $(iperf_gbps "${TCP_PORT[$v]}")"
    TCP_RUNS_R[$v]+=" $(iperf_gbps "${TCP_PORT[$v]}" -R)" # the device's service sends
  done
done
for v in "${VARIANTS[@]}"; do
  GBPS[$v]=$(median <<<"${TCP_RUNS[$v]}")
  GBPS_R[$v]=$(median <<<"${TCP_RUNS_R[$v]}")
done
HTTP_PORT["weft http"]=$PUB_HTTP
for v in "${VARIANTS[@]}" "weft http"; do
  say "measuring HTTP through $v..."
  host=()
  [ "$v" = "weft http" ] && host=(-H "Host: bench.test")
  w=$(wrk -t2 -c50 -d"${SECS}s" --latency "${host[@]}" "http://127.0.0.1:${HTTP_PORT[$v]}/1k" 2>/dev/null)
  RPS[$v]=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$w")
  P50[$v]=$(awk '$1=="50%" {print $2}' <<<"$w")
  P99[$v]=$(awk '$1=="99%" {print $2}' <<<"$w")
  [ "$v" = "weft http" ] || FB[$v]=$(python3 "$TOOLS" first-byte 127.0.0.1 "${HTTP_PORT[$v]}" 300 | cut -d' ' -f1)
done

printf '\n%-9s %10s %8s %8s %8s %10s %10s %10s %12s\n' variant "TCP Gb/s" "x direct" "x hap" "-R Gb/s" "HTTP req/s" "x hap" "p50 ms" "p99 ms (x hap)"
for v in "${VARIANTS[@]}"; do
  p99=$(ms "${P99[$v]}") hp99=$(ms "${P99[haproxy]}")
  printf '%-9s %10s %8s %8s %8s %10s %10s %10s %8s (%s)\n' "$v" "${GBPS[$v]}" \
    "$(ratio "${GBPS[$v]}" "${GBPS[direct]}")" "$(ratio "${GBPS[$v]}" "${GBPS[haproxy]}")" "${GBPS_R[$v]}" \
    "${RPS[$v]}" "$(ratio "${RPS[$v]}" "${RPS[haproxy]}")" "$(ms "${P50[$v]}")" "$p99" "$(ratio "$p99" "$hp99")"
done
printf '%-9s %10s %8s %8s %8s %10s %10s %10s %8s (%s)   (public HTTP port, wss)\n' "weft http" - - - - \
  "${RPS[weft http]}" "$(ratio "${RPS[weft http]}" "${RPS[haproxy]}")" "$(ms "${P50[weft http]}")" \
  "$(ms "${P99[weft http]}")" "$(ratio "$(ms "${P99[weft http]}")" "$(ms "${P99[haproxy]}")")"
printf '\nconnect + first byte, p50 ms:'
for v in direct haproxy "ssh -R" autossh "weft wss" "weft ws"; do printf '  %s %s' "$v" "${FB[$v]}"; done
printf '\n  (weft wss / haproxy = %s, weft ws / haproxy = %s; target < 3)\n' \
  "$(ratio "${FB[weft wss]}" "${FB[haproxy]}")" "$(ratio "${FB[weft ws]}" "${FB[haproxy]}")"
printf 'TCP, medians of %d rounds (Gb/s, each round: %s):\n' "$ROUNDS" "${VARIANTS[*]}"
for v in "${VARIANTS[@]}"; do printf '  %-9s %s  | -R %s\n' "$v" "${TCP_RUNS[$v]:-}" "${TCP_RUNS_R[$v]:-}"; done
printf 'TCP: weft wss / ssh -R = %s (target >= 1), weft ws / haproxy = %s (target >= 0.8)\n' \
  "$(ratio "${GBPS[weft wss]}" "${GBPS[ssh -R]}")" "$(ratio "${GBPS[weft ws]}" "${GBPS[haproxy]}")"
printf 'TCP the other way (-R): weft wss / ssh -R = %s, weft ws / haproxy = %s\n' \
  "$(ratio "${GBPS_R[weft wss]}" "${GBPS_R[ssh -R]}")" "$(ratio "${GBPS_R[weft ws]}" "${GBPS_R[haproxy]}")"
printf 'autossh / ssh -R: TCP %s, HTTP req/s %s, p50 %s, p99 %s (target: about 1)\n' \
  "$(ratio "${GBPS[autossh]}" "${GBPS[ssh -R]}")" "$(ratio "${RPS[autossh]}" "${RPS[ssh -R]}")" \
  "$(ratio "$(ms "${P50[autossh]}")" "$(ms "${P50[ssh -R]}")")" "$(ratio "$(ms "${P99[autossh]}")" "$(ms "${P99[ssh -R]}")")"
printf 'HTTP: req/s x haproxy (target >= 0.75): wss %s, ws %s\n' \
  "$(ratio "${RPS[weft wss]}" "${RPS[haproxy]}")" "$(ratio "${RPS[weft ws]}" "${RPS[haproxy]}")"

[ -n "${HTTP_ONLY:-}" ] && exit 0

# ---- server memory per idle tunnel and per open stream, each on a fresh
# server (needs no throughput tools; also runs on its own)
say "memory bench..."
bash "$top/bench/memory.sh"

# ---- WireGuard between two network namespaces: bare wireguard-go against
# weft's wireguard and websocket transports (says why and skips what it
# cannot run, e.g. without root or wireguard-go)
say "wireguard bench..."
bash "$top/bench/wireguard.sh"

# ---- the public TLS port (SNI passthrough): nginx over HTTPS directly,
# through haproxy routing by SNI, and through weft's tls_listen and a wss
# tunnel (needs no root)
say "public TLS port bench..."
bash "$top/bench/vhost.sh"
