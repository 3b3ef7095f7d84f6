#!/usr/bin/env bash
# The public TLS port (SNI passthrough), side by side in one run on
# loopback, all to the same HTTPS backend (nginx, 1 KiB file, a certificate
# for a.example.test from a throwaway CA):
#   1. direct:  straight to nginx's TLS port;
#   2. haproxy: mode tcp, routing by SNI (req.ssl_sni) to nginx;
#   3. weft:    the server's tls_listen port, passed through a websocket
#               tunnel (wss, the default) to the device, which connects to
#               nginx; TLS ends at nginx on every path.
# For each: keep-alive HTTPS req/s with p50/p99 (wrk -t2 -c50 --latency);
# new connections per second (the same wrk with "Connection: close", so a
# TCP connect and a TLS handshake per request); and, one at a time, ms for
# connect + full TLS handshake + first byte of the answer (p50/p99).
# Prints each figure and its ratio to haproxy and to direct, and whether
# the issue's target (req/s, p50 and p99 within 1.5x of haproxy) is met.
# Load generator, relays and nginx share this machine's cores: compare
# ratios within one run, not figures across machines.
#
#   bench/vhost.sh            after a build (bench/run.sh builds); ~35 s
#   QUICK=1 bench/vhost.sh    shorter runs (~15 s)
#   KEEP_TMP=1                keep configs and logs
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
WEFT=${WEFT:-$top/build/weft}
SECS=5 HANDSHAKES=300
[ -n "${QUICK:-}" ] && SECS=2 HANDSHAKES=100
NAME=a.example.test
say() { printf '%s\n' "$*" >&2; }
skip_all() { echo "vhost bench skipped: $*"; exit 0; }

"$top/scripts/setup-deps.sh" bench >&2 || say "setup-deps failed; using what is installed"
for tool in python3 openssl curl wrk nginx haproxy; do
  command -v "$tool" >/dev/null || skip_all "$tool is not installed (scripts/setup-deps.sh bench)"
done
[ -x "$WEFT" ] || skip_all "$WEFT is missing: build first (scripts/build.sh build)"
ulimit -n "$(ulimit -Hn)" 2>/dev/null

TMP=$(mktemp -d /tmp/weft-vhostbench.XXXXXX)
chmod 755 "$TMP" # nginx workers (nobody) read the 1 KiB file from here
PIDS=()
# stop PID...: SIGTERM, then SIGKILL whatever is left after 5 s
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
  # the tunnel first, while the server is there to delete its lease
  [ -n "${TUNNEL_PID:-}" ] && stop "$TUNNEL_PID"
  stop "${PIDS[@]}"
  [ -n "${KEEP_TMP:-}" ] && say "kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
# bg LOG CMD...: runs CMD, output to $TMP/LOG
bg() {
  local log=$1
  shift
  "$@" >>"$TMP/$log" 2>&1 </dev/null &
  PIDS+=("$!")
}
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; say "port $1 never opened"; return 1; }

# ---- a throwaway CA and a certificate for $NAME (as tests/shell/vhost.sh)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=weft bench CA" -keyout "$TMP/ca.key" -out "$TMP/ca.pem" 2>/dev/null &&
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$NAME" \
    -keyout "$TMP/leaf.key" -out "$TMP/leaf.csr" 2>/dev/null &&
  printf 'subjectAltName=DNS:%s\n' "$NAME" >"$TMP/leaf.ext" &&
  openssl x509 -req -in "$TMP/leaf.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" \
    -CAcreateserial -days 2 -extfile "$TMP/leaf.ext" -out "$TMP/leaf.crt" 2>/dev/null ||
  { say "openssl could not make the certificates"; exit 1; }

# ---- the one HTTPS backend. Every path ends here, so TLS settings
# (TLS 1.3 is what all clients here negotiate, P-256 key, session tickets
# on, no server-side session cache) and keep-alive are the same on all
# three by construction.
NGINX=$(port)
mkdir -p "$TMP/www"
head -c 1024 /dev/zero | tr '\0' 'w' >"$TMP/www/1k"
chmod 755 "$TMP/www" && chmod 644 "$TMP/www/1k"
cat >"$TMP/nginx.conf" <<EOF
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/nginx.err;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:$NGINX ssl;
    server_name $NAME;
    ssl_certificate $TMP/leaf.crt;
    ssl_certificate_key $TMP/leaf.key;
    ssl_protocols TLSv1.2 TLSv1.3; # nginx 1.22's default lacks 1.3
    ssl_session_tickets on;
    root $TMP/www;
  }
}
EOF
bg nginx.log nginx -c "$TMP/nginx.conf" -g 'daemon off;'
wait_port "$NGINX" || { say "nginx: $(tail -5 "$TMP/nginx.err" "$TMP/nginx.log" 2>/dev/null)"; exit 1; }

# ---- haproxy routing by SNI, mode tcp (TLS passes through, as with weft)
HAP=$(port)
cat >"$TMP/haproxy.cfg" <<EOF
global
  maxconn 9000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend fsni
  bind 127.0.0.1:$HAP
  tcp-request inspect-delay 5s
  tcp-request content accept if { req_ssl_hello_type 1 }
  use_backend bsni if { req.ssl_sni -i $NAME }
backend bsni
  server s 127.0.0.1:$NGINX
EOF
bg haproxy.log haproxy -f "$TMP/haproxy.cfg" -db
HAP_PID=${PIDS[-1]}
wait_port "$HAP" || { say "haproxy: $(tail -5 "$TMP/haproxy.log")"; exit 1; }

# ---- weft: a server with a public TLS port, and a device that leases
# https://$NAME and carries it over websocket (wss) to nginx
CTL=$(port) TLS=$(port)
cat >"$TMP/weft.conf" <<EOF
[server]
listen = 127.0.0.1:$CTL
http_listen = off
tls_listen = 127.0.0.1:$TLS
public_conns_per_ip = 30000

[transport.websocket]
max_streams = 20000
EOF
bg server.log "$WEFT" server --config "$TMP/weft.conf" --state-dir "$TMP/state"
SERVER_PID=${PIDS[-1]}
wait_port "$CTL" && wait_port "$TLS" || { say "weft server: $(tail -5 "$TMP/server.log")"; exit 1; }
CONN="weft://$(cat "$TMP/state/secret")@127.0.0.1:$CTL"
WEFT_RUN_DIR="$TMP/run" bg tunnel.log "$WEFT" tunnel --device-id bench-vhost "$CONN" \
  "https://127.0.0.1:$NGINX" "https://$NAME"
TUNNEL_PID=${PIDS[-1]}
for _ in $(seq 200); do grep -q "is reachable at" "$TMP/tunnel.log" && break; sleep 0.1; done
grep -q "is reachable at" "$TMP/tunnel.log" || { say "weft tunnel: $(tail -5 "$TMP/tunnel.log")"; exit 1; }

# ---- how wrk reaches https://$NAME:PORT without /etc/hosts: wrk takes the
# SNI (and Host header) from the URL's host, and resolves that host in its
# Lua wrk.resolve() before any thread starts. A script passed with -s runs
# first, so it can replace wrk.resolve with one that looks up 127.0.0.1
# instead: SNI and Host stay $NAME, the connection goes to loopback.
cat >"$TMP/loopback.lua" <<'EOF'
wrk.resolve = function(host, service)
  wrk.addrs = wrk.lookup("127.0.0.1", service)
end
EOF

# connect + full TLS handshake + first byte, one connection at a time, a
# fresh TLS session each (no resumption), the certificate checked against
# the CA: prints p50/p99 of the handshake alone and of the whole, in ms,
# then how many were measured and how many failed
cat >"$TMP/handshake.py" <<'EOF'
import socket, ssl, sys, time
port, name, ca, n, budget = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
ctx = ssl.create_default_context(cafile=ca)
req = ("GET /1k HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % name).encode()
hs, fb, errors = [], [], 0
deadline = time.monotonic() + budget
while len(fb) < n and time.monotonic() < deadline:
    t0 = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with ctx.wrap_socket(raw, server_hostname=name) as s:
                t1 = time.perf_counter()
                s.sendall(req)
                if not s.recv(1):
                    raise OSError("closed")
                t2 = time.perf_counter()
                # read to nginx's close, as a browser would: closing with
                # the answer unread makes the kernel send a reset
                while s.recv(65536):
                    pass
    except OSError:
        errors += 1
        continue
    hs.append((t1 - t0) * 1000)
    fb.append((t2 - t0) * 1000)
def pct(v, p):
    return sorted(v)[max(0, int(len(v) * p) - 1)] if v else float("nan")
print("%.3f %.3f %.3f %.3f %d %d" % (pct(hs, .5), pct(hs, .99), pct(fb, .5), pct(fb, .99), len(fb), errors))
EOF

# ---- measure
declare -A RPS P50 P99 CPU CPU1 CPS HS50 FB50 FB99 NOTE
HZ=$(getconf CLK_TCK)
cpu_ticks() { # PID...: user + system clock ticks used so far, all together
  local p t=0
  for p in "$@"; do t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}'))); done
  echo "$t"
}
get() { # PORT: status and size of GET https://$NAME:PORT/1k
  curl -sS -o /dev/null -w '%{http_code} %{size_download}' --max-time 5 --cacert "$TMP/ca.pem" \
    --resolve "$NAME:$1:127.0.0.1" "https://$NAME:$1/1k" 2>&1
}
ready() { # PORT: until GET /1k answers (10 s at most), e.g. after a reconnect
  for _ in $(seq 100); do [ "$(get "$1")" = "200 1024" ] && return 0; sleep 0.1; done
}
measure() { # NAME PORT RELAY_PID...: relays' CPU is counted during wrk keep-alive
  local name=$1 p=$2 code w t0 t1 f0 f1 n
  shift 2
  say "measuring $name: wrk ${SECS}s keep-alive, ${SECS}s Connection: close, $HANDSHAKES handshakes..."
  # a wrong answer (a refusal, a 502) would make wrk fast and the figures wrong
  code=$(get "$p")
  [ "$code" = "200 1024" ] || say "$name: GET /1k answered '$code', not '200 1024'"
  t0=$(cpu_ticks "$@") f0=$(cpu_ticks "${1:-$$}")
  w=$(timeout $((SECS + 30)) wrk -t2 -c50 -d"${SECS}s" --latency -s "$TMP/loopback.lua" "https://$NAME:$p/1k" 2>&1)
  t1=$(cpu_ticks "$@") f1=$(cpu_ticks "${1:-$$}")
  n=$(awk '/requests in/ {print $1}' <<<"$w")
  if [ $# -gt 0 ]; then # all relays, and the first alone (weft: the server)
    CPU[$name]=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v n="$n" 'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "-" }')
    CPU1[$name]=$(awk -v t=$((f1 - f0)) -v hz="$HZ" -v n="$n" 'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "-" }')
  fi
  grep -q "Non-2xx\|Socket errors" <<<"$w" && NOTE[$name]+="keep-alive: $(grep "Non-2xx\|Socket errors" <<<"$w" | tr -s ' ')  "
  RPS[$name]=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$w")
  P50[$name]=$(awk '$1=="50%" {print $2}' <<<"$w")
  P99[$name]=$(awk '$1=="99%" {print $2}' <<<"$w")
  ready "$p"
  # wrk reconnects after each answer; on reconnect it offers its last TLS
  # session, so these handshakes are resumed ones where nginx allows it
  w=$(timeout $((SECS + 30)) wrk -t2 -c50 -d"${SECS}s" -H "Connection: close" -s "$TMP/loopback.lua" "https://$NAME:$p/1k" 2>&1)
  grep -q "Non-2xx\|Socket errors" <<<"$w" && NOTE[$name]+="close: $(grep "Non-2xx\|Socket errors" <<<"$w" | tr -s ' ')  "
  CPS[$name]=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$w")
  ready "$p"
  read -r HS50[$name] _ FB50[$name] FB99[$name] _ errs < <(timeout 60 python3 "$TMP/handshake.py" "$p" "$NAME" "$TMP/ca.pem" "$HANDSHAKES" 50)
  [ "${errs:-0}" != 0 ] && NOTE[$name]+="handshakes: $errs failed  "
  return 0
}
measure direct "$NGINX"
measure haproxy "$HAP" "$HAP_PID"
measure weft "$TLS" "$SERVER_PID" "$TUNNEL_PID"

# ---- report
ms() { # wrk prints 1.23ms / 456.00us / 1.20s: in ms
  awk -v v="$1" 'BEGIN { if (v == "") { print "-"; exit } n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /[0-9]s$/ && v !~ /ms$/) n*=1000; printf "%.3f", n }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b+0 == 0) print "-"; else printf "%.2f", a/b }'; }
printf '\nHTTPS through the public TLS port (SNI %s, 1 KiB from nginx)\n' "$NAME"
printf 'keep-alive, wrk -t2 -c50 %s s:\n' "$SECS"
printf '%-8s %10s %6s %6s %9s %9s %6s %6s %13s\n' variant "req/s" "x hap" "x dir" "p50 ms" "p99 ms" "x hap" "x dir" "relay us/req"
for v in direct haproxy weft; do
  printf '%-8s %10s %6s %6s %9s %9s %6s %6s %13s\n' "$v" "${RPS[$v]:--}" \
    "$(ratio "${RPS[$v]:-}" "${RPS[haproxy]:-}")" "$(ratio "${RPS[$v]:-}" "${RPS[direct]:-}")" \
    "$(ms "${P50[$v]:-}")" "$(ms "${P99[$v]:-}")" "$(ratio "$(ms "${P99[$v]:-}")" "$(ms "${P99[haproxy]:-}")")" \
    "$(ratio "$(ms "${P99[$v]:-}")" "$(ms "${P99[direct]:-}")")" "${CPU[$v]:--}"
done
printf '(relay us/req: CPU, user + system, per request: of haproxy; of weft server + weft tunnel, the server alone %s)\n' "${CPU1[weft]:--}"
printf 'new connections:\n'
printf '%-8s %10s %6s %6s %10s %10s %10s %6s\n' variant "conn/s" "x hap" "x dir" "hs p50 ms" "1st B p50" "1st B p99" "x hap"
for v in direct haproxy weft; do
  printf '%-8s %10s %6s %6s %10s %10s %10s %6s\n' "$v" "${CPS[$v]:--}" \
    "$(ratio "${CPS[$v]:-}" "${CPS[haproxy]:-}")" "$(ratio "${CPS[$v]:-}" "${CPS[direct]:-}")" \
    "${HS50[$v]:--}" "${FB50[$v]:--}" "${FB99[$v]:--}" "$(ratio "${FB50[$v]:-}" "${FB50[haproxy]:-}")"
done
printf '(conn/s: wrk -t2 -c50 %s s with Connection: close, a connection and a TLS handshake per request, resumed as wrk\n' "$SECS"
printf ' does; hs, 1st B: ms to a full handshake and to the first byte of the answer, one connection at a time, %s of them)\n' "$HANDSHAKES"
R=$(ratio "${RPS[weft]:-}" "${RPS[haproxy]:-}")
L50=$(ratio "$(ms "${P50[weft]:-}")" "$(ms "${P50[haproxy]:-}")")
L99=$(ratio "$(ms "${P99[weft]:-}")" "$(ms "${P99[haproxy]:-}")")
printf 'weft / haproxy: req/s %s, p50 %s, p99 %s, relay CPU per request %s (server alone %s), conn/s %s, handshake p50 %s, first byte p50 %s\n' \
  "$R" "$L50" "$L99" "$(ratio "${CPU[weft]:-}" "${CPU[haproxy]:-}")" "$(ratio "${CPU1[weft]:-}" "${CPU[haproxy]:-}")" "$(ratio "${CPS[weft]:-}" "${CPS[haproxy]:-}")" "$(ratio "${HS50[weft]:-}" "${HS50[haproxy]:-}")" \
  "$(ratio "${FB50[weft]:-}" "${FB50[haproxy]:-}")"
printf 'weft / direct:  req/s %s, p50 %s, p99 %s, conn/s %s, handshake p50 %s, first byte p50 %s\n' \
  "$(ratio "${RPS[weft]:-}" "${RPS[direct]:-}")" \
  "$(ratio "$(ms "${P50[weft]:-}")" "$(ms "${P50[direct]:-}")")" "$(ratio "$(ms "${P99[weft]:-}")" "$(ms "${P99[direct]:-}")")" \
  "$(ratio "${CPS[weft]:-}" "${CPS[direct]:-}")" "$(ratio "${HS50[weft]:-}" "${HS50[direct]:-}")" \
  "$(ratio "${FB50[weft]:-}" "${FB50[direct]:-}")"
MET=$(awk -v r="$R" -v a="$L50" -v b="$L99" 'BEGIN {
  if (r !~ /^[0-9.]+$/ || a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/) print "not measured";
  else if (r >= 1/1.5 && a <= 1.5 && b <= 1.5) print "met"; else print "NOT met" }')
printf 'target: HTTPS req/s and p50/p99 within 1.5x of haproxy (req/s x hap >= 0.67, p50 and p99 x hap <= 1.5): %s\n' "$MET"
for v in direct haproxy weft; do
  [ -n "${NOTE[$v]:-}" ] && printf '%s: %s\n' "$v" "${NOTE[$v]}"
done
BROKE=$(grep -c "disconnected (" "$TMP/tunnel.log")
[ "$BROKE" -gt 0 ] && printf 'weft: the device lost its session %s time(s) and reconnected; what was measured meanwhile\n  includes the gap (connections refused until it was back)\n' "$BROKE"
# what weft logged on the way (times dropped, so that alike lines count as one)
grep -hiE "error|warn|fail|refus" "$TMP/server.log" "$TMP/tunnel.log" 2>/dev/null |
  sed -E 's/^[0-9T:.-]+Z? //; s/t[0-9a-f]{16}/tID/g' | sort | uniq -c | sort -rn | head -5 >"$TMP/complaints"
if [ -s "$TMP/complaints" ]; then
  printf 'logged by weft (count, line):\n'
  sed 's/^/  /' "$TMP/complaints"
fi
exit 0
