# Helpers the bench scripts share; sourced, not run. The caller sets TMP
# (where bg.log goes) before it starts anything.
say() { printf '%s\n' "$*" >&2; }
# A free loopback port.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Waits up to 10 s for a loopback port to accept; says which did not.
wait_port() {
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  say "port $1 never opened:"
  [ -f "$TMP/bg.log" ] && tail -5 "$TMP/bg.log" >&2
  return 1
}
# A process's resident set, KiB.
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# wrk prints 1.23ms / 456.00us / 1.20s: in ms ("-" for nothing).
ms() {
  awk -v v="$1" 'BEGIN { if (v == "") { print "-"; exit } n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /[0-9]s$/ && v !~ /ms$/) n*=1000; printf "%.3f", n }'
}
# The median of the numbers on stdin (any whitespace between; "-" and
# blanks skipped), "-" when there are none.
median() { tr -s ' \t' '\n\n' | grep -v '^-*$' | sort -g | awk '{a[NR]=$1} END {print NR ? a[int((NR+1)/2)] : "-"}'; }
# a/b to two places, "-" when either is not a number or b is 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b+0 == 0) print "-"; else printf "%.2f", a/b }'; }
# The weft server's configuration for the websocket benches, control port $1:
# room for thousands of tunnels and streams, no public HTTP or TLS port.
weft_bench_conf() {
  cat <<CONF
[server]
listen = 127.0.0.1:$1
http_listen = off
tls_listen = off
max_tunnels = 20000
public_conns_per_ip = 30000
port_range = 20000-29999

[class "default"]
publish_ports = 1024-65535

[transport.websocket]
max_streams = 20000
CONF
}
# Processes the bench started with bg, and their end (stop_all: TERM, then
# KILL what is left). Scripts with needs of their own define their own bg.
PIDS=()
bg() { "$@" >>"$TMP/bg.log" 2>&1 </dev/null & PIDS+=("$!"); }
stop_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
}
