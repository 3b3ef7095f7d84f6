#!/usr/bin/env bash
# A websocket `weft tunnel` lives through outages and comes back by itself,
# with the same public URL and the same tunnel (lease), and `weft tunnel
# status` says it is up again:
#   link:  the device's link cut (ip link set down in its namespace) 60 s;
#   blink: its link cut for less than the ping deadline: the session lives
#          on, no reconnect;
#   kill:  the server killed with SIGKILL, started again 60 s later on the
#          same state directory;
#   dns:   the server's host name (the connection string names it) does not
#          resolve for 30 s, while the server restarts, so the device needs
#          it to come back.
# Each scenario has its own server, device and network namespace; the
# outages run at once, so the test takes about 80 s. Bounded throughout:
# each check says how long it may take.
. "$(dirname "$0")/lib.sh"
HTTPKIT="$SOURCE_ROOT/tests/shell/httpkit.py"

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: network and mount namespaces need root"
  exit 77
fi
for tool in ip unshare mount curl; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done

LONG=${LONG:-60}    # the link cut and the server's absence, in seconds
DNS_OUT=${DNS_OUT:-30}
# The short cut, under blink's ping deadline (3 pings unanswered: 18 s).
# The deadline counts from the last answer, up to one ping before the cut,
# and TCP retransmits what the cut held back with exponential backoff, up
# to about the cut's length after it ends: a session lives through a cut
# only while ping + 2 x cut < 3 x ping. (With a 2 s ping, one 4 s cut in
# four ended the session: "no PING answer for 6005 ms".)
BLINK=${BLINK:-4}
BLINK_PING=${BLINK_PING:-6s}
BACK=${BACK:-15}    # how long after an outage's end the tunnel may take
NAME=weft-outage.test

SRV=outs$$
NSES=()
netns_cleanup() {
  for ns in "${NSES[@]}" "$SRV"; do
    # what still runs in our namespaces is ours
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
}
trap 'cleanup; netns_cleanup' EXIT
in_srv() { ip netns exec "$SRV" "$@"; }
ms() { echo $(($(date +%s%N) / 1000000)); }

# The servers share one namespace, each on its own address and port range;
# each device has a namespace of its own, joined to the servers' by a veth
# pair: scenario number I is 10.88.I.1 (server) and 10.88.I.2 (device).
ip netns add "$SRV" || { echo "SKIP: cannot make network namespaces"; exit 77; }
ip -n "$SRV" link set lo up
make_device() { # NS I
  NSES+=("$1")
  ip netns add "$1" &&
    ip link add "ov$2$$" netns "$SRV" type veth peer name eth0 netns "$1" &&
    ip -n "$SRV" addr add "10.88.$2.1/24" dev "ov$2$$" && ip -n "$SRV" link set "ov$2$$" up &&
    ip -n "$1" addr add "10.88.$2.2/24" dev eth0 && ip -n "$1" link set eth0 up &&
    ip -n "$1" link set lo up || fail "cannot make the namespace of $1"
  # its local service, on its own loopback
  ip netns exec "$1" python3 "$HTTPKIT" serve 8000 >"$TMP/$1-app.log" 2>&1 </dev/null &
  STARTED_PIDS+=("$!")
}

# start_server S I PING: server S on 10.88.I.1:7000, its public ports from
# 4I000-4I009 (round robin: a tunnel made anew would not get its old one).
declare -A SERVER_PID
start_server() {
  cat >"$TMP/$1-server.conf" <<CONF
[server]
listen = 10.88.$2.1:7000
public_host = 10.88.$2.1
http_listen = off
tls_listen = off
port_range = 4${2}000-4${2}009

[transport.websocket]
ping_interval = $3
CONF
  # (ip netns exec execs weft: $! is the server's own PID)
  ip netns exec "$SRV" "$WEFT" server --config "$TMP/$1-server.conf" --state-dir "$TMP/$1-state" \
    >>"$TMP/$1-server.log" 2>&1 </dev/null &
  SERVER_PID[$1]=$!
  STARTED_PIDS+=("$!")
  wait_for 20 in_srv curl -fsS "http://10.88.$2.1:7000/healthz" ||
    fail "server $1 did not start: $(tail -5 "$TMP/$1-server.log")"
}

# start_agent S NS HOST PING [WRAPPER...]: the device's weft tunnel for
# server S (reached as HOST), ping and reconnect settings short.
declare -A AGENT_PID URL PORT ID
start_agent() {
  local s=$1 ns=$2 host=$3 ping=$4
  shift 4
  cat >"$TMP/$s-agent.conf" <<CONF
[transport.websocket]
ping_interval = $ping
reconnect_min = 200ms
reconnect_max = 2s

[tunnel "app"]
transport = websocket
local = tcp://127.0.0.1:8000
device_id = dev-$s
CONF
  ip netns exec "$ns" "$@" env WEFT_RUN_DIR="$TMP/run-$s" "$WEFT" tunnel --config "$TMP/$s-agent.conf" \
    "weft://$(cat "$TMP/$s-state/secret")@$host:7000" >"$TMP/$s-agent.log" 2>&1 </dev/null &
  AGENT_PID[$s]=$!
  STARTED_PIDS+=("$!")
}

# After start_agent: its public URL, port and tunnel id.
agent_up() { # S
  local s=$1
  wait_for 30 grep -q "is reachable at" "$TMP/$s-agent.log" ||
    { fail "$s: the tunnel never came up: $(cat "$TMP/$s-agent.log")"; return 1; }
  URL[$s]=$(sed -n 's/.*is reachable at \([^ ]*\).*/\1/p' "$TMP/$s-agent.log" | head -n 1)
  PORT[$s]=${URL[$s]##*:}
  ID[$s]=$(tunnel_id "$s")
  echo "$s: ${URL[$s]} (tunnel ${ID[$s]})"
}

tunnel_id() { # S: the id in the agent's status file
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' \
    "$TMP/run-$1/tunnels/app.json" 2>/dev/null
}

public_ok() { # S: a request through the public side answered
  in_srv curl -fsS --max-time 2 -o /dev/null "http://10.88.$2.1:${PORT[$1]}/echo"
}

# back S I START_MS: in the background, asks through the public side every
# 0.2 s from START_MS on; writes how long the tunnel took to answer (ms) to
# $TMP/S.back, or "never" after BACK + 5 s.
back() {
  local s=$1 i=$2 start=$3
  (
    deadline=$((start + (BACK + 5) * 1000))
    until public_ok "$s" "$i" 2>/dev/null; do
      if [ "$(ms)" -ge "$deadline" ]; then
        echo never >"$TMP/$s.back"
        exit 0
      fi
      sleep 0.2
    done
    echo $(($(ms) - start)) >"$TMP/$s.back"
  ) &
  POLLERS+=("$!")
}
POLLERS=()

status_up() { # S: weft tunnel status exits 0 and says up
  OUT=$(env WEFT_RUN_DIR="$TMP/run-$1" "$WEFT" tunnel status 2>&1)
  local rc=$?
  [ "$rc" -eq 0 ] && [[ "$OUT" == *"up since"* ]]
}

# after S WHAT: the checks once an outage is over.
after() {
  local s=$1 what=$2 took
  took=$(cat "$TMP/$s.back" 2>/dev/null)
  if [ -n "$took" ] && [ "$took" != never ]; then
    pass "$s: traffic through ${URL[$s]} again $((took / 1000)).$(printf %03d $((took % 1000))) s after $what"
    [ "$took" -le $((BACK * 1000)) ] && pass "$s: within $BACK s" || fail "$s: back only after $took ms (bound $BACK s)"
  else
    fail "$s: no traffic within $((BACK + 5)) s of $what; agent: $(tail -15 "$TMP/$s-agent.log")"$'\n'"server: $(tail -8 "$TMP/$s-server.log")"
  fi
  local url
  url=$(sed -n 's/.*is reachable at \([^ ]*\).*/\1/p' "$TMP/$s-agent.log" | tail -n 1)
  [ "$url" = "${URL[$s]}" ] && pass "$s: the agent's public URL is the same ($url)" ||
    fail "$s: the public URL changed: ${URL[$s]} -> $url"
  local id
  id=$(tunnel_id "$s")
  [ "$id" = "${ID[$s]}" ] && pass "$s: the same tunnel (lease ${ID[$s]})" ||
    fail "$s: tunnel ${ID[$s]} became '$id'"
  if wait_for 5 status_up "$s"; then
    pass "$s: weft tunnel status says it is up"
  else
    status_up "$s"
    fail "$s: weft tunnel status: $OUT"
  fi
  kill -0 "${AGENT_PID[$s]}" 2>/dev/null && pass "$s: the agent kept running" || fail "$s: the agent exited"
}

# ---- the scenarios, set up
make_device "outl$$" 1
make_device "outb$$" 2
make_device "outk$$" 3
make_device "outd$$" 4
start_server link 1 1s
start_server blink 2 "$BLINK_PING"
start_server kill 3 1s
start_server dns 4 1s
start_agent link "outl$$" 10.88.1.1 1s
start_agent blink "outb$$" 10.88.2.1 "$BLINK_PING"
start_agent kill "outk$$" 10.88.3.1 1s
# The dns device resolves NAME through its own /etc/hosts (and finds no DNS
# server: resolv.conf names its own loopback, where nothing answers).
printf '10.88.4.1 %s\n' "$NAME" >"$TMP/hosts"
printf 'nameserver 127.0.0.1\noptions attempts:1 timeout:1\n' >"$TMP/resolv.conf"
printf 'hosts: files dns\n' >"$TMP/nsswitch.conf"
start_agent dns "outd$$" "$NAME" 1s unshare -m sh -c \
  'mount --bind "$0" /etc/hosts && mount --bind "$1" /etc/resolv.conf &&
   mount --bind "$2" /etc/nsswitch.conf && shift 2 && exec "$@"' \
  "$TMP/hosts" "$TMP/resolv.conf" "$TMP/nsswitch.conf"
for s in link blink kill dns; do agent_up "$s"; done
i=0
for s in link blink kill dns; do
  i=$((i + 1))
  wait_for 10 public_ok "$s" "$i" && pass "$s: the tunnel carries traffic" || fail "$s: no traffic before the outage"
  wait_for 5 status_up "$s" && pass "$s: weft tunnel status says up" || fail "$s: not up before the outage: $OUT"
done
[ "$FAILURES" -eq 0 ] || finish

# ---- the outages, all at once from T0
T0=$(ms)
at() { # SECONDS after T0
  local left=$((T0 + $1 * 1000 - $(ms)))
  [ "$left" -gt 0 ] && sleep "$((left / 1000)).$(printf %03d $((left % 1000)))"
}
ip -n "outl$$" link set eth0 down
ip -n "outb$$" link set eth0 down
kill -9 "${SERVER_PID[kill]}"
wait "${SERVER_PID[kill]}" 2>/dev/null
: >"$TMP/hosts"
kill -TERM "${SERVER_PID[dns]}"
wait "${SERVER_PID[dns]}" 2>/dev/null
start_server dns 4 1s
echo "outages from $(date -u +%T): link, blink, kill, dns"

# A visitor who comes during the short cut is served once it ends.
sleep 1
in_srv curl -fsS --max-time $((BLINK + BACK)) -o /dev/null "http://10.88.2.1:${PORT[blink]}/echo" \
  >"$TMP/blink-visitor.log" 2>&1 &
VISITOR=$!

at "$BLINK"
ip -n "outb$$" link set eth0 up
back blink 2 "$(ms)"

# Midway, each outage holds: no traffic, and the status does not say up.
at $((DNS_OUT * 2 / 3))
for s in link:1 kill:3 dns:4; do
  public_ok "${s%:*}" "${s#*:}" 2>/dev/null && fail "${s%:*}: traffic passes during the outage" ||
    pass "${s%:*}: no traffic during the outage"
  status_up "${s%:*}" && fail "${s%:*}: weft tunnel status says up during the outage: $OUT" ||
    pass "${s%:*}: weft tunnel status does not say up during it"
done
grep -q "cannot reach.*$NAME" "$TMP/dns-agent.log" && pass "dns: the agent tried and failed to reach $NAME" ||
  fail "dns: no failed attempt logged: $(tail -5 "$TMP/dns-agent.log")"

at "$DNS_OUT"
printf '10.88.4.1 %s\n' "$NAME" >"$TMP/hosts"
back dns 4 "$(ms)"

at "$LONG"
ip -n "outl$$" link set eth0 up
back link 1 "$(ms)"
STARTED=$(ms) # the clock runs while the server starts, too
start_server kill 3 1s
back kill 3 "$STARTED"

for p in "${POLLERS[@]}"; do wait "$p"; done
echo "all back by $(( ($(ms) - T0) / 1000 )) s after the outages began"

after link "the link came back (${LONG} s down)"
after blink "the link came back (${BLINK} s down)"
after kill "the server started again (${LONG} s after its SIGKILL)"
after dns "$NAME resolved again (${DNS_OUT} s without)"

# The short cut is under the ping deadline: the session itself lives on,
# on both ends, and carries what was asked of it during the cut.
wait "$VISITOR" && pass "blink: a visitor who came during the cut was served after it" ||
  fail "blink: the visitor during the cut got no answer: $(cat "$TMP/blink-visitor.log")"
grep -q "disconnected" "$TMP/blink-agent.log" &&
  fail "blink: the session was lost for a ${BLINK} s cut: $(grep -E 'disconnected|connected to|PING' "$TMP/blink-agent.log")" ||
  pass "blink: the session lived through a ${BLINK} s cut, no reconnect"
[ "$(grep -c "device dev-blink connected" "$TMP/blink-server.log")" -eq 1 ] &&
  pass "blink: the server kept its one session" ||
  fail "blink: the server saw the device connect again: $(grep -E 'session|connected' "$TMP/blink-server.log")"
for s in link kill dns; do
  grep -q "connected to" <(sed -n '/disconnected/,$p' "$TMP/$s-agent.log") &&
    pass "$s: the agent reconnected (it did not make a new tunnel)" ||
    fail "$s: no reconnect in the agent's log"
done

# Each stops cleanly after all that (a sanitizer's findings fail it here).
for s in link blink kill dns; do
  kill -TERM "${AGENT_PID[$s]}"
  wait "${AGENT_PID[$s]}" && pass "$s: SIGTERM stops the agent, exit 0" ||
    fail "$s: the agent's exit status $?: $(tail -5 "$TMP/$s-agent.log")"
  kill -INT "${SERVER_PID[$s]}"
  wait "${SERVER_PID[$s]}" && pass "$s: the server stops cleanly" ||
    fail "$s: the server's exit status $?: $(tail -5 "$TMP/$s-server.log")"
done
finish
