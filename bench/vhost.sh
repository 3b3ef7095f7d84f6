#!/usr/bin/env bash
# The public TLS port (SNI passthrough), side by side in one run on
# loopback, all to the same HTTPS backend (nginx, 1 KiB file, one
# certificate for a.example.test and b.example.test from a throwaway CA):
#   1. direct:  straight to nginx's TLS port;
#   2. haproxy: mode tcp, routing by SNI (req.ssl_sni) to nginx;
#   3. weft-ws: the server's tls_listen port, passed through a websocket
#               tunnel (wss, the default, dialled to the control port) to
#               the device, which connects to nginx;
#   4. weft-vh: the same passthrough carried by the vhost transport: the
#               device dials the server's TLS port itself (ALPN weft/1),
#               logs in and carries its HTTP/2 session there, no WebSocket
#               framing in between.
# TLS ends at nginx on every path. Paths 3 and 4 are two tunnels (two
# devices) on one weft server, a.example.test over websocket and
# b.example.test over vhost, both up for the whole run and measured one
# after the other (see "weft" below for why that is fair).
# For each: keep-alive HTTPS req/s with p50/p99 (wrk -t2 -c50 --latency);
# new connections per second (the same wrk with "Connection: close", so a
# TCP connect and a TLS handshake per request); and, one at a time, ms for
# connect + full TLS handshake + first byte of the answer (p50/p99).
# Prints each figure and its ratio to haproxy and to direct, whether the
# issue's target (req/s, p50 and p99 within 1.5x of haproxy) is met by each
# weft path, and whether either device's session broke during the run.
# Load generator, relays and nginx share this machine's cores: compare
# ratios within one run, not figures across machines. One sample of a few
# seconds per path: on a small machine, req/s moves 10-20% from run to run,
# so run it a few times before reading much into weft-ws against weft-vh.
#
#   bench/vhost.sh            after a build (bench/run.sh builds); ~50 s
#   QUICK=1 bench/vhost.sh    shorter runs (~20 s)
#   KEEP_TMP=1                keep configs and logs
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
WEFT=${WEFT:-$top/build/weft}
SECS=5 HANDSHAKES=300
[ -n "${QUICK:-}" ] && SECS=2 HANDSHAKES=100
NAME=a.example.test   # direct, haproxy, weft-ws
NAME_VH=b.example.test # weft-vh: a second name, so both tunnels share one server
skip_all() { echo "vhost bench skipped: $*"; exit 0; }

"$top/scripts/setup-deps.sh" bench >&2 || say "setup-deps failed; using what is installed"
for tool in python3 openssl curl wrk nginx haproxy; do
  command -v "$tool" >/dev/null || skip_all "$tool is not installed (scripts/setup-deps.sh bench)"
done
[ -x "$WEFT" ] || skip_all "$WEFT is missing: build first (scripts/build.sh build)"
ulimit -n "$(ulimit -Hn)" 2>/dev/null

TMP=$(mktemp -d /tmp/weft-vhostbench.XXXXXX)
export WEFT_STATE_DIR="$TMP/agent-state" # device keys, not in /var/lib/weft
chmod 755 "$TMP" # nginx workers (nobody) read the 1 KiB file from here
PIDS=() TUNNEL_PIDS=()
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
  # the tunnels first, while the server is there to delete their leases
  [ ${#TUNNEL_PIDS[@]} -gt 0 ] && stop "${TUNNEL_PIDS[@]}"
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

# ---- a throwaway CA and one certificate for $NAME and $NAME_VH (as
# tests/shell/vhost.sh, with a second SAN): every path gets the very same
# certificate and key from the very same nginx server block
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=weft bench CA" -keyout "$TMP/ca.key" -out "$TMP/ca.pem" 2>/dev/null &&
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$NAME" \
    -keyout "$TMP/leaf.key" -out "$TMP/leaf.csr" 2>/dev/null &&
  printf 'subjectAltName=DNS:%s,DNS:%s\n' "$NAME" "$NAME_VH" >"$TMP/leaf.ext" &&
  openssl x509 -req -in "$TMP/leaf.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" \
    -CAcreateserial -days 2 -extfile "$TMP/leaf.ext" -out "$TMP/leaf.crt" 2>/dev/null ||
  { say "openssl could not make the certificates"; exit 1; }

# ---- the one HTTPS backend. Every path ends here, so TLS settings
# (TLS 1.3 is what all clients here negotiate, P-256 key, session tickets
# on, no server-side session cache) and keep-alive are the same on all
# four by construction.
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
    server_name $NAME $NAME_VH;
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

# ---- weft: a server with a public TLS port and two devices, both up for
# the whole run: one leases https://$NAME and carries it over websocket (wss,
# session on the control port), the other leases https://$NAME_VH and
# carries it over the vhost transport (session on the TLS port). Both go to
# the same nginx. They are measured one after the other, so neither competes
# with the other for the cores; the idle one costs a PING every 20 s. Both
# transports get the same stream limit, so neither is capped by it.
CTL=$(port) TLS=$(port)
cat >"$TMP/weft.conf" <<EOF
[server]
listen = 127.0.0.1:$CTL
http_listen = off
tls_listen = 127.0.0.1:$TLS
public_conns_per_ip = 30000

[transport.websocket]
max_streams = 20000

[transport.vhost]
max_streams = 20000
EOF
bg server.log "$WEFT" server --config "$TMP/weft.conf" --state-dir "$TMP/state"
SERVER_PID=${PIDS[-1]}
wait_port "$CTL" && wait_port "$TLS" || { say "weft server: $(tail -5 "$TMP/server.log")"; exit 1; }
SECRET=$(cat "$TMP/state/secret")
tunnel() { # LOG ARGS...: weft tunnel ARGS, until its tunnel is reachable
  local log=$1
  shift
  WEFT_RUN_DIR="$TMP/run-${log%.log}" bg "$log" "$WEFT" tunnel "$@"
  TUNNEL_PIDS+=("${PIDS[-1]}")
  for _ in $(seq 200); do grep -q "is reachable at" "$TMP/$log" && break; sleep 0.1; done
  grep -q "is reachable at" "$TMP/$log" || { say "weft tunnel ($log): $(tail -5 "$TMP/$log")"; exit 1; }
}
# the websocket device dials the control port
tunnel tunnel-ws.log --device-id bench-ws "weft://$SECRET@127.0.0.1:$CTL" \
  "https://127.0.0.1:$NGINX" "https://$NAME"
WS_PID=${TUNNEL_PIDS[-1]}
# the vhost device dials the TLS port: login and session both go there
tunnel tunnel-vh.log --transport vhost --device-id bench-vh "weft://$SECRET@127.0.0.1:$TLS" \
  "https://127.0.0.1:$NGINX" "https://$NAME_VH"
VH_PID=${TUNNEL_PIDS[-1]}
grep -q "device bench-vh connected from .*(h2, TLS)" "$TMP/server.log" ||
  say "the server did not log the vhost session as h2 over TLS: $(grep bench-vh "$TMP/server.log" | tail -3)"

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
get() { # HOST PORT: status and size of GET https://HOST:PORT/1k
  curl -sS -o /dev/null -w '%{http_code} %{size_download}' --max-time 5 --cacert "$TMP/ca.pem" \
    --resolve "$1:$2:127.0.0.1" "https://$1:$2/1k" 2>&1
}
ready() { # HOST PORT: until GET /1k answers (10 s at most), e.g. after a reconnect
  for _ in $(seq 100); do [ "$(get "$1" "$2")" = "200 1024" ] && return 0; sleep 0.1; done
}
broke() { # LOG: how many times that device has lost its session so far
  grep -c "disconnected (" "$TMP/$1"
}
# measure NAME HOST PORT RELAY_PID...: the relays' CPU is counted during wrk
# keep-alive, all together and the first alone (weft: the server; the
# device is the second)
measure() {
  local name=$1 host=$2 p=$3 code w t0 t1 f0 f1 n
  shift 3
  say "measuring $name: wrk ${SECS}s keep-alive, ${SECS}s Connection: close, $HANDSHAKES handshakes..."
  # a wrong answer (a refusal, a 502) would make wrk fast and the figures wrong
  code=$(get "$host" "$p")
  [ "$code" = "200 1024" ] || say "$name: GET /1k answered '$code', not '200 1024'"
  t0=$(cpu_ticks "$@") f0=$(cpu_ticks "${1:-$$}")
  w=$(timeout $((SECS + 30)) wrk -t2 -c50 -d"${SECS}s" --latency -s "$TMP/loopback.lua" "https://$host:$p/1k" 2>&1)
  t1=$(cpu_ticks "$@") f1=$(cpu_ticks "${1:-$$}")
  n=$(awk '/requests in/ {print $1}' <<<"$w")
  if [ $# -gt 0 ]; then
    CPU[$name]=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v n="$n" 'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "-" }')
    CPU1[$name]=$(awk -v t=$((f1 - f0)) -v hz="$HZ" -v n="$n" 'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "-" }')
  fi
  grep -q "Non-2xx\|Socket errors" <<<"$w" && NOTE[$name]+="keep-alive: $(grep "Non-2xx\|Socket errors" <<<"$w" | tr -s ' ')  "
  RPS[$name]=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$w")
  P50[$name]=$(awk '$1=="50%" {print $2}' <<<"$w")
  P99[$name]=$(awk '$1=="99%" {print $2}' <<<"$w")
  ready "$host" "$p"
  # wrk reconnects after each answer; on reconnect it offers its last TLS
  # session, so these handshakes are resumed ones where nginx allows it.
  # Each closed connection is a stream the device resets or ends: this is
  # the run that used to trip nghttp2's rapid-reset limit on the device.
  w=$(timeout $((SECS + 30)) wrk -t2 -c50 -d"${SECS}s" -H "Connection: close" -s "$TMP/loopback.lua" "https://$host:$p/1k" 2>&1)
  grep -q "Non-2xx\|Socket errors" <<<"$w" && NOTE[$name]+="close: $(grep "Non-2xx\|Socket errors" <<<"$w" | tr -s ' ')  "
  CPS[$name]=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$w")
  ready "$host" "$p"
  read -r HS50[$name] _ FB50[$name] FB99[$name] _ errs < <(timeout 60 python3 "$TMP/handshake.py" "$p" "$host" "$TMP/ca.pem" "$HANDSHAKES" 50)
  [ "${errs:-0}" != 0 ] && NOTE[$name]+="handshakes: $errs failed  "
  return 0
}
declare -A LOG=([weft-ws]=tunnel-ws.log [weft-vh]=tunnel-vh.log) LOST
measure direct "$NAME" "$NGINX"
measure haproxy "$NAME" "$HAP" "$HAP_PID"
b0=$(broke tunnel-ws.log)
measure weft-ws "$NAME" "$TLS" "$SERVER_PID" "$WS_PID"
LOST[weft-ws]=$(($(broke tunnel-ws.log) - b0))
b0=$(broke tunnel-vh.log)
measure weft-vh "$NAME_VH" "$TLS" "$SERVER_PID" "$VH_PID"
LOST[weft-vh]=$(($(broke tunnel-vh.log) - b0))
WEFTS="weft-ws weft-vh"
ALL="direct haproxy $WEFTS"

# ---- report
printf '\nHTTPS through the public TLS port (SNI %s; weft-vh: %s; 1 KiB from nginx)\n' "$NAME" "$NAME_VH"
printf 'keep-alive, wrk -t2 -c50 %s s:\n' "$SECS"
printf '%-8s %9s %6s %6s %8s %6s %8s %6s %6s %9s %9s\n' variant "req/s" "x hap" "x dir" "p50 ms" "x hap" "p99 ms" "x hap" "x dir" "relay us" "server us"
for v in $ALL; do
  printf '%-8s %9s %6s %6s %8s %6s %8s %6s %6s %9s %9s\n' "$v" "${RPS[$v]:--}" \
    "$(ratio "${RPS[$v]:-}" "${RPS[haproxy]:-}")" "$(ratio "${RPS[$v]:-}" "${RPS[direct]:-}")" \
    "$(ms "${P50[$v]:-}")" "$(ratio "$(ms "${P50[$v]:-}")" "$(ms "${P50[haproxy]:-}")")" \
    "$(ms "${P99[$v]:-}")" "$(ratio "$(ms "${P99[$v]:-}")" "$(ms "${P99[haproxy]:-}")")" \
    "$(ratio "$(ms "${P99[$v]:-}")" "$(ms "${P99[direct]:-}")")" "${CPU[$v]:--}" \
    "$(case $v in weft-*) echo "${CPU1[$v]:--}" ;; *) echo - ;; esac)"
done
printf '(relay us: CPU, user + system, per keep-alive request, of haproxy, or of the weft server and that path'"'"'s device\n'
printf ' together; server us: of the weft server alone, the rest is the device)\n'
printf 'new connections:\n'
printf '%-8s %9s %6s %6s %10s %10s %10s %6s\n' variant "conn/s" "x hap" "x dir" "hs p50 ms" "1st B p50" "1st B p99" "x hap"
for v in $ALL; do
  printf '%-8s %9s %6s %6s %10s %10s %10s %6s\n' "$v" "${CPS[$v]:--}" \
    "$(ratio "${CPS[$v]:-}" "${CPS[haproxy]:-}")" "$(ratio "${CPS[$v]:-}" "${CPS[direct]:-}")" \
    "${HS50[$v]:--}" "${FB50[$v]:--}" "${FB99[$v]:--}" "$(ratio "${FB50[$v]:-}" "${FB50[haproxy]:-}")"
done
printf '(conn/s: wrk -t2 -c50 %s s with Connection: close, a connection and a TLS handshake per request, resumed as wrk\n' "$SECS"
printf ' does; hs, 1st B: ms to a full handshake and to the first byte of the answer, one connection at a time, %s of them)\n' "$HANDSHAKES"
for v in $WEFTS; do
  printf '%s / haproxy: req/s %s, p50 %s, p99 %s, relay CPU per request %s (server alone %s), conn/s %s, handshake p50 %s, first byte p50 %s\n' \
    "$v" "$(ratio "${RPS[$v]:-}" "${RPS[haproxy]:-}")" \
    "$(ratio "$(ms "${P50[$v]:-}")" "$(ms "${P50[haproxy]:-}")")" "$(ratio "$(ms "${P99[$v]:-}")" "$(ms "${P99[haproxy]:-}")")" \
    "$(ratio "${CPU[$v]:-}" "${CPU[haproxy]:-}")" "$(ratio "${CPU1[$v]:-}" "${CPU[haproxy]:-}")" \
    "$(ratio "${CPS[$v]:-}" "${CPS[haproxy]:-}")" "$(ratio "${HS50[$v]:-}" "${HS50[haproxy]:-}")" \
    "$(ratio "${FB50[$v]:-}" "${FB50[haproxy]:-}")"
  printf '%s / direct:  req/s %s, p50 %s, p99 %s, conn/s %s, handshake p50 %s, first byte p50 %s\n' \
    "$v" "$(ratio "${RPS[$v]:-}" "${RPS[direct]:-}")" \
    "$(ratio "$(ms "${P50[$v]:-}")" "$(ms "${P50[direct]:-}")")" "$(ratio "$(ms "${P99[$v]:-}")" "$(ms "${P99[direct]:-}")")" \
    "$(ratio "${CPS[$v]:-}" "${CPS[direct]:-}")" "$(ratio "${HS50[$v]:-}" "${HS50[direct]:-}")" \
    "$(ratio "${FB50[$v]:-}" "${FB50[direct]:-}")"
done
printf 'vhost / websocket: req/s %s, p50 %s, p99 %s, relay CPU per request %s (server alone %s), conn/s %s, first byte p50 %s\n' \
  "$(ratio "${RPS[weft-vh]:-}" "${RPS[weft-ws]:-}")" \
  "$(ratio "$(ms "${P50[weft-vh]:-}")" "$(ms "${P50[weft-ws]:-}")")" "$(ratio "$(ms "${P99[weft-vh]:-}")" "$(ms "${P99[weft-ws]:-}")")" \
  "$(ratio "${CPU[weft-vh]:-}" "${CPU[weft-ws]:-}")" "$(ratio "${CPU1[weft-vh]:-}" "${CPU1[weft-ws]:-}")" \
  "$(ratio "${CPS[weft-vh]:-}" "${CPS[weft-ws]:-}")" "$(ratio "${FB50[weft-vh]:-}" "${FB50[weft-ws]:-}")"
printf 'target: HTTPS req/s and p50/p99 within 1.5x of haproxy (req/s x hap >= 0.67, p50 and p99 x hap <= 1.5):\n'
for v in $WEFTS; do
  MET=$(awk -v r="$(ratio "${RPS[$v]:-}" "${RPS[haproxy]:-}")" \
    -v a="$(ratio "$(ms "${P50[$v]:-}")" "$(ms "${P50[haproxy]:-}")")" \
    -v b="$(ratio "$(ms "${P99[$v]:-}")" "$(ms "${P99[haproxy]:-}")")" 'BEGIN {
    if (r !~ /^[0-9.]+$/ || a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/) print "not measured";
    else if (r >= 1/1.5 && a <= 1.5 && b <= 1.5) print "met"; else {
      s = "NOT met:"; if (r < 1/1.5) s = s " req/s"; if (a > 1.5) s = s " p50"; if (b > 1.5) s = s " p99"; print s } }')
  printf '  %s: %s\n' "$v" "$MET"
done
printf "device's session (it must hold: a visitor's closed connections are no reason to end it):\n"
for v in $WEFTS; do
  n=$(broke "${LOG[$v]}")
  if [ "$n" -eq 0 ]; then
    printf '  %s: held for the whole run\n' "$v"
  else
    printf '  %s: BROKE %s time(s) in the run, %s while %s was measured; the device reconnected, and what was\n' "$v" "$n" "${LOST[$v]:-?}" "$v"
    printf '    measured meanwhile includes the gap (connections refused until it was back): %s\n' \
      "$(grep -m1 "disconnected (" "$TMP/${LOG[$v]}" | sed -E 's/^[0-9T:.-]+Z? //')"
  fi
done
for v in $ALL; do
  [ -n "${NOTE[$v]:-}" ] && printf '%s: %s\n' "$v" "${NOTE[$v]}"
done
# what weft logged on the way (times dropped, so that alike lines count as one)
for f in server.log tunnel-ws.log tunnel-vh.log; do
  grep -iE "error|warn|fail|refus" "$TMP/$f" 2>/dev/null |
    sed -E "s/^[0-9T:.-]+Z? //; s/t[0-9a-f]{16}/tID/g; s/^/${f%.log}: /"
done | sort | uniq -c | sort -rn | head -8 >"$TMP/complaints"
if [ -s "$TMP/complaints" ]; then
  printf 'logged by weft (count, line):\n'
  sed 's/^/  /' "$TMP/complaints"
fi
exit 0
