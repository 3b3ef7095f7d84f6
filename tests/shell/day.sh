#!/usr/bin/env bash
# A simulated day of one tunnel, set up as a new user would: `weft service
# install` writes the systemd unit for a websocket tunnel of an http app,
# and the test runs that unit's own ExecStart and Environment= as systemd
# would (see run_unit). With short timers ([server] lease_ttl 8s,
# idle_timeout 12s, websocket pings every second), in order:
#   1. restart: the server stops (SIGTERM) just before the lease's term
#      ends and starts again on the same state directory: same lease,
#      same URL;
#   2. drop:    the device's link is down for 60 s (it lives in a network
#      namespace joined by a veth, as in outage.sh). The lease runs out
#      meanwhile (8 s terms, no traffic): visitors get 503 with
#      Retry-After while it lives, and the agent opens the tunnel again at
#      the same URL once the link is back;
#   3. busy:    the lease reaches its TTL twice while traffic flows: it is
#      renewed, the same lease stays;
#   4. quiet:   traffic stops late in a term: the next term passes unused
#      and the lease ends at its TTL ("expired"); the agent opens it again;
#   5. idle:    traffic stops early in a term: the idle timeout strikes
#      before the renewed term ends ("idle-timeout"); opened again;
#   6. twice:   a second `weft server` on the same state directory exits 3
#      naming the first's PID; the first keeps serving, undisturbed;
#   7. pages:   the device's app stops (502), hangs (504,
#      response_timeout 3s), dies on a request (502), comes back.
# Throughout, a visitor asks the public URL every 0.2 s: it must always
# get an HTTP answer, never an empty reply (curl exit 52) or a reset, and
# be refused a connection only while the server is down. After each
# event the tunnel must carry traffic again by itself within BACK
# seconds; the times are printed.
# Every wait is bounded; the test takes about 2.5 minutes.
. "$(dirname "$0")/lib.sh"
HTTPKIT="$SOURCE_ROOT/tests/shell/httpkit.py"
NETKIT="$SOURCE_ROOT/tests/shell/netkit.py"

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: network and mount namespaces need root"
  exit 77
fi
for tool in ip unshare mount curl setpriv; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
# The unit has PrivateTmp=yes: the service sees an empty /tmp, so its
# files (and weft itself) must live elsewhere, as on a real machine.
case "$BUILD_ROOT" in /tmp/* | /var/tmp/*)
  echo "SKIP: the build directory is under /tmp, which PrivateTmp=yes hides"
  exit 77 ;;
esac

DROP=${DROP:-60} # how long the device's link is down, in seconds
TTL=8            # [server] lease_ttl, seconds
IDLE=12          # [server] idle_timeout, seconds
BACK=${BACK:-10} # the bound on every recovery, in seconds
HOST=app.day.test
URL_WANT="http://$HOST:8080"
DEVICE=day-device

SRV=days$$
DEV=dayd$$
# The device's own files ("/etc/weft", /var/lib, /run), outside /tmp.
DEVROOT=$(mktemp -d "$BUILD_ROOT/day-device.XXXXXX")
netns_cleanup() {
  for ns in "$DEV" "$SRV"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf "$DEVROOT"
}
trap 'cleanup; netns_cleanup' EXIT
ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { echo "$(($1 / 1000)).$(printf %03d $(($1 % 1000)))"; } # MS as s.mmm
in_srv() { ip netns exec "$SRV" "$@"; }
DAY_START=$(ms)

ip netns add "$SRV" || { echo "SKIP: cannot make network namespaces"; exit 77; }
ip netns add "$DEV" &&
  ip link add "dv$$" netns "$SRV" type veth peer name eth0 netns "$DEV" &&
  ip -n "$SRV" addr add 10.88.1.1/24 dev "dv$$" && ip -n "$SRV" link set "dv$$" up &&
  ip -n "$SRV" link set lo up &&
  ip -n "$DEV" addr add 10.88.1.2/24 dev eth0 && ip -n "$DEV" link set eth0 up &&
  ip -n "$DEV" link set lo up || { fail "cannot make the namespaces"; finish; }

start_app() { # the device's web app on its own loopback
  ip netns exec "$DEV" python3 "$HTTPKIT" serve 8000 >>"$TMP/app.log" 2>&1 </dev/null &
  APP_PID=$!
  STARTED_PIDS+=("$APP_PID")
}
start_app

# ---- the server
STATE="$TMP/server-state"
cat >"$TMP/server.conf" <<CONF
[server]
listen = 10.88.1.1:7000
public_host = 10.88.1.1
http_listen = 10.88.1.1:8080
tls_listen = off
lease_ttl = ${TTL}s
idle_timeout = ${IDLE}s
response_timeout = 3s

[transport.websocket]
ping_interval = 1s
CONF
SERVER_CMD=("$WEFT" server --config "$TMP/server.conf" --state-dir "$STATE" --secret-file "$TMP/connect")
start_server() {
  # (ip netns exec execs weft: $! is the server's own PID)
  ip netns exec "$SRV" "${SERVER_CMD[@]}" >>"$TMP/server.log" 2>&1 </dev/null &
  SERVER_PID=$!
  STARTED_PIDS+=("$SERVER_PID")
  wait_for 20 in_srv curl -fsS -m 2 http://10.88.1.1:7000/healthz ||
    { fail "the server did not start: $(tail -5 "$TMP/server.log")"; finish; }
}
start_server

# The operator's view, through the server's local socket: the device's
# lease as "ID CREATED EXPIRES", or nothing.
lease() {
  curl -sS -m 3 --unix-socket "$STATE/admin.sock" http://weft/v1/tunnels 2>/dev/null |
    python3 -c 'import json, sys
for t in json.load(sys.stdin).get("tunnels", []):
    if t.get("device_id") == sys.argv[1]:
        print(t["id"], t["created_at"], t["expires_at"])' "$DEVICE" 2>/dev/null
}
lease_id() {
  local id _
  read -r id _ <<<"$(lease)"
  echo "$id"
}

# ---- the device: weft service install, then the unit as systemd runs it
mkdir -p "$DEVROOT/etc/weft" "$DEVROOT/units" "$DEVROOT/var-lib" "$DEVROOT/run"
install -m 0600 "$TMP/connect" "$DEVROOT/etc/weft/connect" # copied from the server
cat >"$DEVROOT/etc/weft/weft.conf" <<CONF
[transport.websocket]
ping_interval = 1s
reconnect_min = 200ms
reconnect_max = 2s

[tunnel "day"]
transport = websocket
local = http://127.0.0.1:8000
remote = http://$HOST
device_id = $DEVICE
CONF
# (first, as a new user might: the files in /tmp, which the unit's
# PrivateTmp=yes would hide from the service)
cp "$DEVROOT/etc/weft/weft.conf" "$TMP/weft.conf"
check "weft service install refuses a config in /tmp" 2 "$WEFT" service install day \
  --config "$TMP/weft.conf" --connect-file "$DEVROOT/etc/weft/connect" --unit-dir "$DEVROOT/units"
contains "it says why" "PrivateTmp=yes hides"
check "weft service install writes the unit" 0 "$WEFT" service install day \
  --config "$DEVROOT/etc/weft/weft.conf" --connect-file "$DEVROOT/etc/weft/connect" \
  --unit-dir "$DEVROOT/units"
contains "it says systemd does not manage that directory" "systemd is not managing"
UNIT="$DEVROOT/units/weft-tunnel-day.service"
[ -f "$UNIT" ] || { fail "no unit at $UNIT: $OUT"; finish; }
unit_key() { sed -n "s/^$1=//p" "$UNIT"; }

# What systemd does with this unit, emulated (and only this): a clean
# environment (PATH, RUNTIME_DIRECTORY, the Environment= lines),
# RuntimeDirectory= made afresh at each start, working directory /, umask
# 022, stdin /dev/null, and the sandbox options NoNewPrivileges=,
# PrivateTmp= (empty /tmp and /var/tmp) and ProtectSystem=full (/usr,
# /boot, /efi and /etc read-only). Restart=always is a bounded loop below.
# The device's /run and /var/lib are $DEVROOT's, so that nothing of the
# machine's is touched. Kept from the test's environment: the sanitizers'
# options only.
read -r -a EXEC <<<"$(unit_key ExecStart)"
ENVS=()
while read -r -a words; do ENVS+=("${words[@]}"); done < <(unit_key Environment)
RUNTIME_DIR=$(unit_key RuntimeDirectory)
RUNTIME_MODE=$(unit_key RuntimeDirectoryMode)
RESTART_SEC=$(unit_key RestartSec)
case "$(unit_key ExecStart)$(unit_key Environment)" in
*%* | *'$'* | *'"'* | *"'"* | *\\*) fail "the unit uses specifiers, variables or quoting this test does not emulate: $(cat "$UNIT")" ;;
esac
[[ "${EXEC[0]:-}" == /* ]] || fail "ExecStart does not name an absolute path: $(unit_key ExecStart)"
[ "$(unit_key Restart)" = always ] && pass "the unit restarts the agent (Restart=always)" ||
  fail "Restart=$(unit_key Restart)"
[[ "$RESTART_SEC" =~ ^[0-9]+$ ]] || fail "RestartSec=$RESTART_SEC"
[ -n "$RUNTIME_DIR" ] && [[ "$RUNTIME_MODE" =~ ^[0-7]+$ ]] || fail "RuntimeDirectory=$RUNTIME_DIR, mode $RUNTIME_MODE"
for key in $(sed -n '/^\[Service\]/,/^\[/s/=.*//p' "$UNIT" | grep -v '^\['); do
  case "$key" in
  Type | ExecStart | Environment | RuntimeDirectory | RuntimeDirectoryMode | Restart | RestartSec | \
    KillMode | NoNewPrivileges | PrivateTmp | ProtectSystem) ;;
  *) fail "the unit sets $key, which this test does not emulate" ;;
  esac
done
[ "$(unit_key Type)" = simple ] || fail "Type=$(unit_key Type)"
[ "$(unit_key KillMode)" = control-group ] || fail "KillMode=$(unit_key KillMode)"
NNP=()
[ "$(unit_key NoNewPrivileges)" = yes ] && NNP=(setpriv --no-new-privs)
PRIVATE_TMP=$(unit_key PrivateTmp)
PROTECT_SYSTEM=$(unit_key ProtectSystem)
export PRIVATE_TMP PROTECT_SYSTEM
SAN_ENV=()
for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
  [ -n "${!v:-}" ] && SAN_ENV+=("$v=${!v}")
done
echo "the unit runs: ${ENVS[*]} ${EXEC[*]}"

# run_unit: one start of the service's main process (execs it: in the
# background, $! is weft's PID).
run_unit() {
  exec ip netns exec "$DEV" unshare -m --propagation private sh -ec '
    root=$1
    shift
    mount --bind "$root/run" /run
    mount --bind "$root/var-lib" /var/lib
    if [ "$PRIVATE_TMP" = yes ]; then
      mount -t tmpfs -o mode=1777 tmpfs /tmp
      mount -t tmpfs -o mode=1777 tmpfs /var/tmp
    fi
    if [ "$PROTECT_SYSTEM" = full ]; then
      for d in /usr /boot /efi /etc; do
        [ -d "$d" ] || continue
        mount --bind "$d" "$d"
        mount -o remount,bind,ro "$d"
      done
    fi
    cd /
    umask 022
    exec "$@"' sh "$DEVROOT" "${NNP[@]}" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin \
    "RUNTIME_DIRECTORY=/run/$RUNTIME_DIR" "${SAN_ENV[@]}" "${ENVS[@]}" "${EXEC[@]}" </dev/null
}

# Restart=always, bounded: at most MAX_RESTARTS restarts, RestartSec
# apart. The agent should never need one today (docs/cli.md: it lives
# through all of this by itself), so each is a failure, but the day goes
# on. SIGTERM is `systemctl stop`: the main process gets SIGTERM, is not
# restarted, and the RuntimeDirectory goes.
MAX_RESTARTS=3
EVENTS="$TMP/service.events"
AGENT_LOG="$TMP/agent.log" # the journal: stdout and stderr
(
  child=
  trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; echo "stopped $? $(ms)" >>"$EVENTS"
        rm -rf "${DEVROOT:?}/run/$RUNTIME_DIR"; exit 0' TERM
  starts=0
  while :; do
    rm -rf "${DEVROOT:?}/run/$RUNTIME_DIR"
    mkdir -m "$RUNTIME_MODE" "$DEVROOT/run/$RUNTIME_DIR"
    run_unit >>"$AGENT_LOG" 2>&1 &
    child=$!
    echo "started $child $(ms)" >>"$EVENTS"
    wait "$child"
    echo "exited $? $(ms)" >>"$EVENTS"
    starts=$((starts + 1))
    [ "$starts" -gt "$MAX_RESTARTS" ] && exit 1
    sleep "$RESTART_SEC" &
    wait $!
  done
) &
SERVICE=$!
STARTED_PIDS+=("$SERVICE")
agent_pid() { sed -n 's/^started \([0-9]*\) .*/\1/p' "$EVENTS" | tail -n 1; }

# `weft service status day`, seeing the device's /run as the unit does.
service_status() {
  OUT=$(unshare -m --propagation private sh -c 'mount --bind "$0/run" /run && exec "$@"' \
    "$DEVROOT" "$WEFT" service status day --unit-dir "$DEVROOT/units" 2>&1)
  STATUS=$?
  [ "$STATUS" -eq 0 ] && [[ "$OUT" == *"up since"* ]]
}

# ---- the visitor: asks the public URL every 0.2 s from the server's
# side, one line per request: START_MS END_MS CURL_EXIT HTTP_CODE
# [RETRY_AFTER]. A file "pause" stops it; it says "paused" once no
# request of its is under way.
VISITS="$TMP/visits"
cat >"$TMP/visitor.sh" <<'SH'
dir=$1 url=$2 host=$3
ms() { echo $(($(date +%s%N) / 1000000)); }
while :; do
  if [ -e "$dir/pause" ]; then
    touch "$dir/paused"
    sleep 0.05
    continue
  fi
  rm -f "$dir/paused"
  t0=$(ms)
  out=$(curl -sS -m 8 -o /dev/null -w '%{http_code} %header{retry-after}' \
    --resolve "$host:8080:10.88.1.1" "$url/echo" 2>/dev/null)
  rc=$?
  echo "$t0 $(ms) $rc $out" >>"$dir/visits"
  sleep 0.2
done
SH
ip netns exec "$SRV" bash "$TMP/visitor.sh" "$TMP" "$URL_WANT" "$HOST" </dev/null >/dev/null 2>&1 &
STARTED_PIDS+=("$!")
pause_visitor() {
  rm -f "$TMP/paused"
  touch "$TMP/pause"
  wait_for 10 test -e "$TMP/paused" || fail "the visitor did not pause"
}
resume_visitor() { rm -f "$TMP/pause"; }

# ok_after MS: how long after MS the visitor's first 200 came (its end),
# in ms; nothing if none yet.
ok_after() {
  awk -v t="$1" '$1 >= t && $4 == 200 { print $2 - t; exit }' "$VISITS" 2>/dev/null
}
has_ok_after() { [ -n "$(ok_after "$1")" ]; }
# back WHAT MS: fails unless traffic passes again within BACK s of MS.
back() {
  local what=$1 since=$2 took
  if wait_for $((BACK + 10)) has_ok_after "$since"; then
    took=$(ok_after "$since")
    RECOVERY+=("$what: $(secs "$took") s")
    [ "$took" -le $((BACK * 1000)) ] && pass "$what: traffic again after $(secs "$took") s (bound $BACK s)" ||
      fail "$what: traffic again only after $(secs "$took") s (bound $BACK s)"
  else
    fail "$what: no traffic within $((BACK + 10)) s; agent: $(tail -8 "$AGENT_LOG")"$'\n'"server: $(tail -8 "$TMP/server.log")"
  fi
}
RECOVERY=()
# last_ok_before MS: when the visitor's last 200 before MS came.
last_ok_before() {
  awk -v t="$1" '$2 <= t && $4 == 200 { last = $2 } END { printf "%.0f\n", last }' "$VISITS"
}
# codes FROM TO: the visitor's answers between two times, counted.
codes() {
  awk -v a="$1" -v b="$2" '$1 >= a && $1 < b { n[$3 == 0 ? $4 : "curl-exit-" $3]++ }
    END { for (c in n) printf "%s x%d, ", c, n[c] }' "$VISITS" | sed 's/, $//'
}
urls() { sed -n 's/.*is reachable at \([^ ]*\).*/\1/p' "$AGENT_LOG" | sort -u | tr '\n' ' '; }
same_url() {
  [ "$(urls)" = "$URL_WANT " ] && pass "$1: the public URL is still $URL_WANT" ||
    fail "$1: the agent's URLs: $(urls)"
}
renewed_since() { # EXPIRES: the lease's term changed
  local exp
  read -r _ _ exp <<<"$(lease)"
  [ -n "$exp" ] && [ "$exp" != "$1" ]
}
# only_200 FROM TO: the visitor asked, and got 200 each time.
only_200() {
  ANSWERS=$(codes "$1" "$2")
  [[ "$ANSWERS" =~ ^200\ x[0-9]+$ ]]
}

# phase NAME: from now on, the visitor's answers belong to phase NAME.
phase() { echo "$(ms) $1" >>"$TMP/phases"; }
# odd_answers: the visitor's requests that got no HTTP answer, each with
# its phase; but for a connection refused while the server was down
# (from T_STOP to T_UP). A request's time is taken before curl starts,
# so one begun up to 2 s before T_STOP may reach connect() after the
# listener closed: refused, which only a closed listener gives.
odd_answers() {
  awk -v down="$((${T_STOP:-0} - 2000))" -v up="${T_UP:-0}" '
    NR == FNR { at[NR] = $1; name[NR] = $2; n = NR; next }
    $3 != 0 && !($3 == 7 && $1 >= down && $1 <= up) {
      p = "before"; for (i = 1; i <= n; i++) if ($1 >= at[i]) p = name[i]
      printf "%s: curl exit %s at %s; ", p, $3, $1 }' "$TMP/phases" "$VISITS"
}
# wait_until MS: sleeps until the wall clock reaches MS.
wait_until() {
  local left=$(($1 - $(ms)))
  [ "$left" -gt 0 ] && sleep "$(secs "$left")"
  return 0
}

# ---- morning: the service comes up
phase morning
wait_for 30 grep -q "is reachable at" "$AGENT_LOG" ||
  { fail "the service's tunnel never came up: $(cat "$AGENT_LOG")"; finish; }
same_url "start"
back "start" "$DAY_START"
wait_for 5 service_status && pass "weft service status: installed, tunnel up" ||
  fail "weft service status: $STATUS: $OUT"
contains "it shows the tunnel" "day (websocket"
[ -f "$DEVROOT/var-lib/weft/device-keys/$DEVICE.key" ] &&
  pass "the device's key is in /var/lib/weft, as for any root service" ||
  fail "no device key under /var/lib/weft: $(find "$DEVROOT/var-lib")"
[ "$FAILURES" -eq 0 ] || finish

# ---- 1. the server restarts, right at the end of the lease's term: the
# term ends while it is down, with traffic in it, so it must be renewed
# when the server is back, not reaped.
phase restart
read -r ID1 _ EXP <<<"$(lease)"
[ -n "$ID1" ] || fail "restart: the API lists no lease"
# (a term that ends in less than 1.5 s: take the next one)
[ $((EXP * 1000 - $(ms))) -lt 1500 ] && EXP=$((EXP + TTL))
wait_until $((EXP * 1000 - 700))
T_STOP=$(ms)
kill -TERM "$SERVER_PID"
wait_for 15 sh -c "! kill -0 $SERVER_PID" || fail "restart: the server ignored SIGTERM for 15 s"
wait "$SERVER_PID"
RC=$?
T_DOWN=$(ms)
[ "$RC" -eq 0 ] && pass "restart: SIGTERM stops the server in $(secs $((T_DOWN - T_STOP))) s, exit 0" ||
  fail "restart: the server's exit status $RC"
wait_until $((EXP * 1000 + 300)) # its term is over
start_server
T_UP=$(ms)
echo "restart: server down $(secs $((T_UP - T_STOP))) s, across the lease's term end"
back "server restart (from its start)" "$T_UP"
RECOVERY+=("  (visitors unserved: $(secs $(($(ok_after "$T_UP") + T_UP - $(last_ok_before "$T_STOP")))) s in all)")
[ "$(lease_id)" = "$ID1" ] && pass "restart: the same lease ($ID1)" ||
  fail "restart: lease $ID1 became '$(lease_id)'; server: $(grep -E 'reaped|ended' "$TMP/server.log" | tail -3)"
same_url "restart"
echo "restart: visitor's answers meanwhile: $(codes "$T_STOP" "$(($(ms) + 1))")"

# ---- 2. the device's network drops for DROP s
phase drop
ID2=$(lease_id)
T_CUT=$(ms)
ip -n "$DEV" link set eth0 down
sleep 10
service_status && fail "drop: weft service status says up with the link down: $OUT" ||
  pass "drop: weft service status does not say up (exit $STATUS)"
wait_until $((T_CUT + DROP * 1000))
ip -n "$DEV" link set eth0 up
T_LINK=$(ms)
back "network drop ($DROP s)" "$T_LINK"
ANSWERS=$(codes "$T_CUT" "$T_LINK")
echo "drop: visitor's answers while the link was down: $ANSWERS"
awk -v a="$T_CUT" -v b="$T_LINK" '$1 >= a && $1 < b && $4 == 503 && $5 == 5' "$VISITS" | grep -q . &&
  pass "drop: visitors get 503 with Retry-After: 5 while the device is away" ||
  fail "drop: no 503 with Retry-After while the device was away: $ANSWERS"
# A 60 s drop is seven 8 s terms without traffic (the last passed some
# 3 s into it, until the server's pings gave up): the lease ran out
# meanwhile, and the agent opened the tunnel again, at the same URL.
if [ "$DROP" -gt $((2 * TTL + 5)) ]; then
  grep -q "tunnel $ID2 of device $DEVICE ended: expired" "$TMP/server.log" &&
    pass "drop: the lease ran out during it (expired)" ||
    fail "drop: lease $ID2 did not expire: $(grep "$ID2" "$TMP/server.log" | tail -3)"
  grep -q "the server ended tunnel $ID2 (expired); opening it again" "$AGENT_LOG" &&
    pass "drop: the agent says so and opens it again" ||
    fail "drop: the agent did not reopen it: $(tail -8 "$AGENT_LOG")"
fi
same_url "drop"
wait_for 5 service_status && pass "drop: weft service status says up again" ||
  fail "drop: weft service status: $OUT"

# ---- 3. the lease reaches its TTL twice while traffic flows
phase busy
read -r ID3 _ EXP3 <<<"$(lease)"
T_BUSY=$(ms)
renewed_twice() {
  local id exp
  read -r id _ exp <<<"$(lease)"
  [ "$id" = "$ID3" ] && [ "${exp:-0}" -ge $((EXP3 + 2 * TTL)) ]
}
if wait_for $((3 * TTL + 4)) renewed_twice; then
  pass "busy: lease $ID3 renewed at its TTL twice while used ($(lease))"
else
  fail "busy: not renewed twice: was $ID3 until $EXP3, now '$(lease)'"
fi
only_200 "$T_BUSY" "$(ms)" &&
  pass "busy: every request answered 200 ($ANSWERS)" || fail "busy: answers $ANSWERS"

# stop_in_term LO HI: stops the visitor so that its last request falls
# in second LO to HI of a term of the current lease (the server counts
# whole seconds from the term's start, expires_at - TTL). It aims at the
# middle; should a slow machine make it miss, traffic goes on and the next
# term is tried. Sets STOP_ID, STOP_OFF (ms into the term).
stop_in_term() {
  local lo=$1 hi=$2 id exp aim last off id2 exp2
  for _ in 1 2 3 4; do
    read -r id _ exp <<<"$(lease)"
    [ -n "$id" ] || break
    aim=$(((exp - TTL) * 1000 + (lo + hi + 1) * 500))
    # (late, but not too late for this term: now)
    [ "$(ms)" -gt "$aim" ] && aim=$(($(ms) + 50))
    if [ "$aim" -gt $(((exp - TTL + hi + 1) * 1000 - 500)) ]; then
      wait_for $((TTL + 3)) renewed_since "$exp" || break
      continue
    fi
    wait_until "$aim"
    pause_visitor
    last=$(awk '{ t = $2 } END { printf "%.0f\n", t }' "$VISITS")
    off=$((last / 1000 - exp + TTL))
    read -r id2 _ exp2 <<<"$(lease)"
    if [ "$id2" = "$id" ] && [ "$exp2" = "$exp" ] && [ "$off" -ge "$lo" ] && [ "$off" -le "$hi" ]; then
      STOP_ID=$id
      STOP_OFF=$((last - (exp - TTL) * 1000))
      STOPPED=$last
      return 0
    fi
    echo "(the last request came in second $off of the term, not $lo to $hi: trying the next term)"
    resume_visitor
  done
  fail "could not stop traffic in second $lo to $hi of a term: lease '$(lease)'"
  return 1
}
# ended ID: waits for lease ID to end (bound: two terms and two seconds);
# sets T_END.
ended() {
  wait_for $((2 * TTL + 2)) grep -q "tunnel $1 of device $DEVICE ended" "$TMP/server.log"
  T_END=$(ms)
}

# ---- 4. the lease reaches its TTL unused: the last request comes in
# second 5 to 7 of an 8 s term; the lease is renewed at its end (it was
# used), the next term passes without traffic, and the lease ends with it
# ("expired"), 16 s after the term began: before the idle timeout, 12 s
# after the last request, would.
phase quiet
if stop_in_term 5 7; then
  echo "quiet: the last request came $(secs "$STOP_OFF") s into a term of lease $STOP_ID"
  ID4=$STOP_ID
  if ended "$ID4"; then
    pass "quiet: lease $ID4 ended $(secs $((T_END - STOPPED))) s after the last request"
  else
    fail "quiet: lease $ID4 did not end: $(lease)"
  fi
  resume_visitor
  grep -q "tunnel $ID4 of device $DEVICE ended: expired" "$TMP/server.log" &&
    pass "quiet: it ended at its TTL (expired)" ||
    fail "quiet: $(grep "tunnel $ID4" "$TMP/server.log")"
  back "lease TTL while idle (reopened)" "$T_END"
  wait_for 5 grep -q "the server ended tunnel $ID4 (expired); opening it again" "$AGENT_LOG" &&
    pass "quiet: the agent opened it again" || fail "quiet: $(tail -5 "$AGENT_LOG")"
  same_url "quiet"
fi
resume_visitor

# ---- 5. the idle timeout: the last request comes in second 1 to 3 of a
# term; the lease is renewed at the term's end (it was used), and 12 s
# after that request the idle timeout ends it, before the renewed term
# (16 s from the first's start) would.
phase idle
if stop_in_term 1 3; then
  echo "idle: the last request came $(secs "$STOP_OFF") s into a term of lease $STOP_ID"
  ID5=$STOP_ID
  if ended "$ID5"; then
    pass "idle: lease $ID5 ended $(secs $((T_END - STOPPED))) s after the last request"
  else
    fail "idle: lease $ID5 did not end: $(lease)"
  fi
  resume_visitor
  grep -q "tunnel $ID5 of device $DEVICE ended: idle-timeout" "$TMP/server.log" &&
    pass "idle: the idle timeout ended it" ||
    fail "idle: $(grep "tunnel $ID5" "$TMP/server.log")"
  back "idle timeout (reopened)" "$T_END"
  wait_for 5 grep -q "the server ended tunnel $ID5 (idle-timeout); opening it again" "$AGENT_LOG" &&
    pass "idle: the agent opened it again" || fail "idle: $(tail -5 "$AGENT_LOG")"
  same_url "idle"
fi
resume_visitor

# ---- 6. a second server on the same state directory
phase twice
wait_for 10 test -n "$(lease_id)"
ID6=$(lease_id)
cp "$TMP/connect" "$TMP/connect.before"
T_TWICE=$(ms)
in_srv timeout 20 "${SERVER_CMD[@]}" >"$TMP/second.log" 2>&1 </dev/null
RC=$?
OUT=$(cat "$TMP/second.log")
[ "$RC" -eq 3 ] && pass "twice: a second weft server on the state directory exits 3" ||
  fail "twice: the second server's exit status $RC: $OUT"
contains "twice: it names the first's PID" "PID $SERVER_PID"
sleep 1
kill -0 "$SERVER_PID" && pass "twice: the first server runs on" || fail "twice: the first server is gone"
[ "$(cat "$STATE/weft.lock")" = "$SERVER_PID" ] && pass "twice: weft.lock still holds the first's PID" ||
  fail "twice: weft.lock holds '$(cat "$STATE/weft.lock")'"
cmp -s "$TMP/connect" "$TMP/connect.before" && pass "twice: the connection string file is untouched" ||
  fail "twice: the connection string file changed"
[ "$(lease_id)" = "$ID6" ] && pass "twice: the same lease serves ($ID6)" || fail "twice: lease $ID6 became '$(lease_id)'"
only_200 "$T_TWICE" "$(ms)" &&
  pass "twice: visitors were served throughout ($ANSWERS)" || fail "twice: answers $ANSWERS"

# ---- 7. the device's app stops, hangs, comes back: 502, 504, 200
# (the visitor waits while the app is killed: one killed halfway through
# an answer can only have its connection reset)
phase pages
pause_visitor
kill "$APP_PID"
wait "$APP_PID" 2>/dev/null
resume_visitor
CODE=$(in_srv curl -sS -m 10 -o "$TMP/502.html" -w '%{http_code}' --resolve "$HOST:8080:10.88.1.1" "$URL_WANT/x" 2>&1)
[ "$CODE" = 502 ] && pass "pages: the app down gives 502" || fail "pages: app down: '$CODE' $(cat "$TMP/502.html")"
OUT=$(cat "$TMP/502.html")
contains "pages: the 502 page says what happened" "refused or dropped the connection"
ip netns exec "$DEV" python3 "$NETKIT" silent-server 8000 >"$TMP/silent.log" 2>&1 </dev/null &
SILENT=$!
STARTED_PIDS+=("$SILENT")
wait_for 10 ip netns exec "$DEV" python3 -c "import socket; socket.create_connection(('127.0.0.1', 8000))"
START=$(ms)
CODE=$(in_srv curl -sS -m 20 -o "$TMP/504.html" -w '%{http_code}' --resolve "$HOST:8080:10.88.1.1" "$URL_WANT/x" 2>&1)
WAITED=$(($(ms) - START))
[ "$CODE" = 504 ] && [ "$WAITED" -ge 2900 ] && pass "pages: a hung app gives 504 after $(secs "$WAITED") s" ||
  fail "pages: hung app: '$CODE' after $(secs "$WAITED") s: $(cat "$TMP/504.html")"
OUT=$(cat "$TMP/504.html")
contains "pages: the 504 page says what happened" "did not answer in time"
# The app dies with a request in hand, closing the connection without a
# word: that visitor gets a 502 page too.
in_srv curl -sS -m 20 -o "$TMP/hangup.html" -w '%{http_code}' --resolve "$HOST:8080:10.88.1.1" \
  "$URL_WANT/y" >"$TMP/hangup.code" 2>&1 &
HANGUP=$!
sleep 1
kill "$SILENT"
wait "$SILENT" 2>/dev/null
T_APP=$(ms)
wait "$HANGUP"
CODE=$(cat "$TMP/hangup.code")
[ "$CODE" = 502 ] && pass "pages: the app dying on a request gives 502" ||
  fail "pages: app died on the request: '$CODE' $(cat "$TMP/hangup.html" 2>/dev/null)"
start_app
back "the app back" "$T_APP"

# ---- evening: systemctl stop, weft service remove, the server stops
phase evening
pause_visitor # the visitor's day is over
APID=$(agent_pid)
kill -TERM "$SERVICE"
wait_for 20 sh -c "! kill -0 $SERVICE" || fail "the service did not stop within 20 s"
wait "$SERVICE" 2>/dev/null
grep -q "^stopped 0 " "$EVENTS" && pass "stop: the agent ($APID) exits 0 on SIGTERM" ||
  fail "stop: $(cat "$EVENTS")"
wait_for 5 test -z "$(lease_id)" && pass "stop: its tunnel is deleted on the server" ||
  fail "stop: the server still has $(lease)"
service_status && fail "stop: weft service status still says up: $OUT" ||
  pass "stop: weft service status says the tunnel is not open (exit $STATUS)"
check "weft service remove" 0 "$WEFT" service remove day --unit-dir "$DEVROOT/units"
[ ! -e "$UNIT" ] && pass "the unit is gone" || fail "the unit is still there"
kill -INT "$SERVER_PID"
wait "$SERVER_PID" && pass "the server stops cleanly" || fail "the server's exit status $?: $(tail -5 "$TMP/server.log")"

# ---- the whole day
STARTS=$(grep -c '^started' "$EVENTS")
[ "$STARTS" -eq 1 ] && pass "the agent ran all day in one process (no restart needed)" ||
  fail "the service was started $STARTS times: $(cat "$EVENTS")"$'\n'"$(tail -20 "$AGENT_LOG")"
ODD=$(odd_answers)
[ -z "$ODD" ] && pass "every visitor got an HTTP answer, never an empty reply or a reset ($(wc -l <"$VISITS") requests; refused only while the server was down)" ||
  fail "visitors without an answer: $ODD"
echo "the visitor's answers all day: $(codes 0 "$(ms)")"
echo "recovery times:"
printf '  %s\n' "${RECOVERY[@]}"
echo "the day took $(secs $(($(ms) - DAY_START))) s"
finish
