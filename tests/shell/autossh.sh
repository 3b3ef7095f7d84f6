#!/usr/bin/env bash
# The autossh transport against a real OpenSSH server on loopback: a plain
# sshd bastion (no weft server) carrying a TCP echo and an HTTP service,
# supervision through ssh being killed, sshd restarting, a taken remote
# port and an expired key; argv injection refused before any spawn; the
# weft server as bastion issuing and revoking restricted keys; and the
# systemd unit weft service writes.
. "$(dirname "$0")/lib.sh"
NETKIT="$SOURCE_ROOT/tests/shell/netkit.py"

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: sshd needs root to log users in; run the suite as root"
  exit 77
fi
for tool in /usr/sbin/sshd ssh ssh-keygen; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (openssh-server/client)"; exit 77; }
done
export WEFT_RUN_DIR=$TMP/run

# ---- a private sshd
SSHD_PORT=$(free_port)
ssh-keygen -q -t ed25519 -N '' -f "$TMP/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$TMP/user_key"
ssh-keygen -q -t ed25519 -N '' -f "$TMP/old_key"
{ cat "$TMP/user_key.pub"; echo "expiry-time=\"20200101\" $(cat "$TMP/old_key.pub")"; } >"$TMP/authorized_keys"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$TMP/host_key.pub")" >"$TMP/known_hosts"
cat >"$TMP/sshd_config" <<EOF
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $TMP/host_key
AuthorizedKeysFile $TMP/authorized_keys $TMP/weft_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $TMP/sshd.pid
AllowTcpForwarding yes
EOF
mkdir -p /run/sshd
start_sshd() {
  /usr/sbin/sshd -D -f "$TMP/sshd_config" -E "$TMP/sshd.log" &
  SSHD_PID=$!
  STARTED_PIDS+=("$SSHD_PID")
  wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SSHD_PORT" || fail "sshd did not start: $(tail -3 "$TMP/sshd.log")"
}
start_sshd

# ---- local services
ECHO=$(free_port) WEB=$(free_port)
python3 "$NETKIT" echo-server "$ECHO" & STARTED_PIDS+=($!)
mkdir -p "$TMP/www" && head -c 3000000 /dev/urandom >"$TMP/www/blob"
(cd "$TMP/www" && exec python3 -m http.server --bind 127.0.0.1 "$WEB" >/dev/null 2>&1) & STARTED_PIDS+=($!)
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$ECHO" && wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$WEB"

# ---- mode (a): a plain bastion, no weft server
R_ECHO=$(free_port) R_WEB=$(free_port) R_TAKEN=$(free_port) R_OLD=$(free_port)
# taken on both loopbacks: sshd binds "localhost", and one of two would do
python3 -c '
import socket, sys, time
port = int(sys.argv[1])
a = socket.socket(); a.bind(("127.0.0.1", port)); a.listen()
b = socket.socket(socket.AF_INET6)
b.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
try:
    b.bind(("::1", port)); b.listen()
except OSError:
    pass
time.sleep(600)' "$R_TAKEN" &
STARTED_PIDS+=($!)
wait_for 10 bash -c "ss -ltn | grep -q '\[::1\]:$R_TAKEN '"  # the second one bound
cat >"$TMP/device.conf" <<EOF
[transport.autossh]
backoff_initial = 200ms
backoff_max = 1s
gate_time = 2s
server_alive_interval = 2s

[tunnel "echo"]
transport = autossh
bastion = root@127.0.0.1
bastion_port = $SSHD_PORT
remote_port = $R_ECHO
identity = $TMP/user_key
known_hosts = $TMP/known_hosts
local = tcp://127.0.0.1:$ECHO

[tunnel "web"]
transport = autossh
bastion = root@127.0.0.1
bastion_port = $SSHD_PORT
identity = $TMP/user_key
known_hosts = $TMP/known_hosts
local = tcp://127.0.0.1:$WEB
remote = tcp://127.0.0.1:$R_WEB

[tunnel "taken"]
transport = autossh
bastion = root@127.0.0.1
bastion_port = $SSHD_PORT
remote_port = $R_TAKEN
identity = $TMP/user_key
known_hosts = $TMP/known_hosts
local = tcp://127.0.0.1:$ECHO

[tunnel "old"]
transport = autossh
bastion = root@127.0.0.1
bastion_port = $SSHD_PORT
remote_port = $R_OLD
identity = $TMP/old_key
known_hosts = $TMP/known_hosts
local = tcp://127.0.0.1:$ECHO
EOF
"$WEFT" tunnel --config "$TMP/device.conf" >"$TMP/device.log" 2>&1 &
DEVICE=$!
STARTED_PIDS+=("$DEVICE")
status_says() { "$WEFT" tunnel status "$1" 2>&1 | grep -q -- "$2"; }
wait_for 20 "$WEFT" tunnel status echo && pass "echo tunnel up with no weft server" || fail "echo tunnel never up: $(cat "$TMP/device.log")"
wait_for 20 "$WEFT" tunnel status web && pass "web tunnel up (remote = tcp://...)" || fail "web tunnel never up"
grep -q "without a weft server" "$TMP/device.log" && pass "says it runs without a weft server" || fail "no standalone line: $(cat "$TMP/device.log")"

check "echo through the bastion, 20 MB, checksums" 0 python3 "$NETKIT" roundtrip 127.0.0.1 "$R_ECHO" 20
check "HTTP through the bastion" 0 curl -sS -o "$TMP/got" "http://127.0.0.1:$R_WEB/blob"
cmp -s "$TMP/got" "$TMP/www/blob" && pass "HTTP body matches" || fail "HTTP body differs"

# a taken remote port: ExitOnForwardFailure, said plainly, retried
wait_for 15 status_says taken "remote port forwarding failed" && pass "taken port reported" ||
  fail "taken port not reported: $("$WEFT" tunnel status taken)"
wait_for 15 status_says taken "[2-9] restarts" && pass "taken port retried with backoff" ||
  fail "taken port not retried: $("$WEFT" tunnel status taken)"
# an expired key: refused by sshd, reported
wait_for 15 status_says old "Permission denied" && pass "expired authorized_keys line refused" ||
  fail "expired key not refused: $("$WEFT" tunnel status old)"
grep -q 'ssh: .*Permission denied' "$TMP/device.log" && pass "ssh's stderr relayed with the tunnel name" || fail "ssh stderr not in the log"

# kill the ssh child: restarted, comes back
ssh_pid_of() { # the ssh child carrying remote port $1
  for p in $(pgrep -P "$DEVICE" -x ssh); do
    tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- "-R $1:" && echo "$p"
  done
}
OLD_SSH=$(ssh_pid_of "$R_ECHO")
[ -n "$OLD_SSH" ] && kill "$OLD_SSH"
wait_for 15 bash -c "[ -n \"\$(pgrep -P $DEVICE -x ssh | grep -vx '$OLD_SSH')\" ] && $WEFT tunnel status echo | grep -q '1 restart'" &&
  wait_for 15 "$WEFT" tunnel status echo && pass "killed ssh restarted and back up" ||
  fail "ssh not restarted: $("$WEFT" tunnel status echo)"
check "echo after the restart" 0 python3 "$NETKIT" roundtrip 127.0.0.1 "$R_ECHO" 2

# stop sshd and its sessions, start it again: the tunnels come back
pkill -P "$SSHD_PID" 2>/dev/null
kill "$SSHD_PID"; wait "$SSHD_PID" 2>/dev/null
wait_for 10 bash -c "! $WEFT tunnel status echo" && pass "echo down while sshd is away" || fail "echo still up with sshd gone"
start_sshd
wait_for 20 "$WEFT" tunnel status echo && pass "echo back after sshd restarted" || fail "echo not back: $("$WEFT" tunnel status echo)"
check "echo after sshd restarted" 0 python3 "$NETKIT" roundtrip 127.0.0.1 "$R_ECHO" 2

kill "$DEVICE"; wait "$DEVICE" 2>/dev/null
[ -z "$(pgrep -P "$DEVICE" -x ssh)" ] && pass "no ssh left after the tunnel stopped" || fail "ssh children outlived weft tunnel"
check "status after stop" 0 "$WEFT" tunnel status
contains "no tunnels left open" "no tunnels are open"

# ---- values that would reach ssh's argv are refused before any spawn
inject() { # NAME KEY VALUE: a good tunnel with KEY set to VALUE
  local bastion="root@127.0.0.1" extra=""
  if [ "$2" = bastion ]; then bastion=$3; else extra="$2 = $3"; fi
  printf '[tunnel "bad"]\ntransport = autossh\nbastion = %s\nremote_port = 2222\nlocal = tcp://127.0.0.1:%s\n%s\n' \
    "$bastion" "$ECHO" "$extra" >"$TMP/bad.conf"
  check "$1 refused" 3 "$WEFT" tunnel --config "$TMP/bad.conf"
}
rm -f "$TMP/pwned"
inject "host starting with -" bastion "root@-oProxyCommand=touch_$TMP/pwned"
contains "says what was wrong with the host" "may not start with '-'"
inject "user starting with -" bastion "-oProxyCommand=x@127.0.0.1"
inject "user with a space" bastion "root x@127.0.0.1"
inject "remote_bind starting with -" remote_bind "-R1:1:1"
inject "identity with a space" identity "/tmp/a b"
[ ! -e "$TMP/pwned" ] && pass "nothing ran" || fail "an injected command ran"

# ---- mode (b): the weft server as bastion
CTL=$(free_port) PUB=$(free_port)
cat >"$TMP/server.conf" <<EOF
[server]
listen = 127.0.0.1:$CTL
http_listen = off
tls_listen = off
public_host = 127.0.0.1
idle_timeout = 10m

[transport.autossh]
authorized_keys = $TMP/weft_keys
ssh_user = root
ssh_port = $SSHD_PORT
host_key = $TMP/host_key.pub
forward_ports = 41000-41100
key_lifetime = 10m
EOF
"$WEFT" server --config "$TMP/server.conf" --state-dir "$TMP/state" >"$TMP/server.log" 2>&1 &
SERVER=$!
STARTED_PIDS+=("$SERVER")
wait_for 10 test -s "$TMP/state/secret" && wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$CTL"
CONN="weft://$(cat "$TMP/state/secret")@127.0.0.1:$CTL"
"$WEFT" tunnel --transport autossh --device-id dev-b "$CONN" "tcp://127.0.0.1:$ECHO" "tcp://127.0.0.1:$PUB" >"$TMP/b.log" 2>&1 &
DEV_B=$!
STARTED_PIDS+=("$DEV_B")
TID=""
wait_for 20 grep -q "is reachable at" "$TMP/b.log" && TID=$(sed -n 's/.*weft-tunnel:\(t[0-9a-f]*\).*/\1/p' "$TMP/weft_keys" | head -1)
[ -n "$TID" ] && pass "server wrote an authorized_keys line for the tunnel" || fail "no key line: $(cat "$TMP/b.log")"
LINE=$(grep "weft-tunnel:$TID" "$TMP/weft_keys")
FWD=$(sed -n 's/.*permitlisten="127.0.0.1:\([0-9]*\)".*/\1/p' <<<"$LINE")
for opt in 'restrict,' 'port-forwarding' "permitlisten=\"127.0.0.1:$FWD\"" 'permitopen=' 'command="/bin/false"' 'expiry-time="'; do
  grep -qF -- "$opt" <<<"$LINE" && pass "key line has $opt" || fail "key line lacks $opt: $LINE"
done
wait_for 20 "$WEFT" tunnel status "$TID" && pass "weft-bastion tunnel up" || fail "weft-bastion tunnel not up: $(cat "$TMP/b.log")"
check "echo through the weft server's public port" 0 python3 "$NETKIT" roundtrip 127.0.0.1 "$PUB" 10

KEY=$(ls -d "$WEFT_RUN_DIR"/plugins/autossh/keys/*/ | head -1)id_ed25519
OTHER=$(free_port)
check "the tunnel's key may not listen on another port" 255 timeout 15 ssh -N -F /dev/null -o BatchMode=yes \
  -o ExitOnForwardFailure=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
  -i "$KEY" -p "$SSHD_PORT" -R "127.0.0.1:$OTHER:127.0.0.1:$ECHO" root@127.0.0.1
contains "sshd refused the other port" "remote port forwarding failed"
check "the tunnel's key gets no shell" 1 timeout 15 ssh -F /dev/null -o BatchMode=yes \
  -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -i "$KEY" -p "$SSHD_PORT" root@127.0.0.1 id
case "$OUT" in *uid=*) fail "a command ran with the tunnel's key" ;; *) pass "no command ran" ;; esac

# delete (Ctrl-C): the line goes, and the device's session with it
kill -INT "$DEV_B"; wait "$DEV_B" 2>/dev/null
! grep -q "weft-tunnel:$TID" "$TMP/weft_keys" && pass "line removed on delete" || fail "line left after delete"
[ ! -e "$KEY" ] && pass "device removed its key" || fail "device key left behind"

# lease end by idle timeout: line removed, live session ended, device stops.
# (A short idle timeout only now: a slow machine must not reap the tunnel
# above while its checks run.)
kill "$SERVER"; wait "$SERVER" 2>/dev/null
sed -i 's/^idle_timeout = .*/idle_timeout = 4s/' "$TMP/server.conf"
"$WEFT" server --config "$TMP/server.conf" --state-dir "$TMP/state" >"$TMP/server.log" 2>&1 &
SERVER=$!
STARTED_PIDS+=("$SERVER")
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$CTL"
"$WEFT" tunnel --transport autossh --device-id dev-c "$CONN" "tcp://127.0.0.1:$ECHO" "tcp://127.0.0.1:$(free_port)" >"$TMP/c.log" 2>&1 &
DEV_C=$!
STARTED_PIDS+=("$DEV_C")
wait_for 20 grep -q "up:" "$TMP/c.log" && pass "second tunnel up" || fail "second tunnel not up: $(cat "$TMP/c.log")"
TID2=$(sed -n 's/.*weft-tunnel:\(t[0-9a-f]*\).*/\1/p' "$TMP/weft_keys" | head -1)
wait_for 20 grep -q "ended: idle-timeout" "$TMP/server.log" && pass "lease ended by idle timeout" || fail "no idle timeout"
# the log line may be written a moment before the file is rewritten
wait_for 5 bash -c "! grep -q 'weft-tunnel:$TID2' '$TMP/weft_keys'" && pass "line removed at lease end" || fail "line left after lease end"
wait_for 20 grep -q "no longer has this tunnel" "$TMP/c.log" && pass "device stops: tunnel gone on the server" || fail "device did not notice: $(tail -5 "$TMP/c.log")"
grep -q "ended its ssh session" "$TMP/server.log" && pass "live ssh session ended on revoke" || fail "live session not ended"
# The agent opens the tunnel again about 0.5 s after it failed, which a
# slow machine may take to run status at all: status is caught failed
# (exit 1) or already opening it again, and names the reason either way
# (the failed state's detail, then the new tunnel's last error).
status_after_failure() {
  OUT=$("$WEFT" tunnel status 2>&1)
  STATUS=$?
  case "$OUT" in *"no longer has this tunnel"*) ;; *) return 1 ;; esac
  [ "$STATUS" = 1 ] && [[ "$OUT" == *": failed (for "* ]] && FAILED_SEEN=1 && return 0
  grep -q "opening it again" "$TMP/c.log"
}
FAILED_SEEN=
if wait_for 10 status_after_failure; then
  [ -n "$FAILED_SEEN" ] && pass "status shows failed, naming the reason" ||
    pass "status names the reason (it was opened again before status ran)"
else
  fail "status after the failure: exit $STATUS: $OUT"
fi
# the lifecycle's row (docs/cli.md): a lease that ran out is opened again
wait_for 20 grep -q "opening it again" "$TMP/c.log" &&
  pass "and the agent opens it again, as for any lease that ran out" ||
  fail "C did not reopen: $(tail -5 "$TMP/c.log")"
wait_for 20 sh -c "[ \$(grep -c 'up:' '$TMP/c.log') -ge 2 ]" &&
  pass "its new tunnel is up: ssh -R again" || fail "no second tunnel: $(tail -5 "$TMP/c.log")"
OUT=$("$WEFT" tunnel status 2>&1)
case "$OUT" in
*"$TID2 ("*) fail "status still lists the ended tunnel $TID2: $OUT" ;;
*) pass "status no longer lists the ended tunnel" ;;
esac
kill "$DEV_C"; wait "$DEV_C" 2>/dev/null

# restart: a line without a live lease is reconciled away
echo "restrict,port-forwarding,permitlisten=\"127.0.0.1:41099\",permitopen=\"0.0.0.0:1\",command=\"/bin/false\",expiry-time=\"20991231000000Z\" $(cut -d' ' -f1,2 "$TMP/old_key.pub") weft-tunnel:tdeadbeef00000000" >>"$TMP/weft_keys"
kill "$SERVER"; wait "$SERVER" 2>/dev/null
"$WEFT" server --config "$TMP/server.conf" --state-dir "$TMP/state" >"$TMP/server2.log" 2>&1 &
STARTED_PIDS+=($!)
wait_for 10 grep -q "no longer exist" "$TMP/server2.log" && pass "orphan line reconciled at start" || fail "orphan not reconciled: $(cat "$TMP/server2.log")"
grep -q "$(cut -d' ' -f2 "$TMP/user_key.pub")" "$TMP/authorized_keys" && pass "the admin's own lines untouched" || fail "foreign lines lost"

# ---- weft service
mkdir -p "$TMP/units"
# The unit's PrivateTmp=yes hides /tmp from the service: a config there
# is refused, and the unit is made from a copy outside it.
check "service refuses a config under /tmp" 2 "$WEFT" service install echo --config "$TMP/device.conf" --dry-run
contains "says why" "PrivateTmp=yes hides"
case "$BUILD_ROOT" in /tmp/* | /var/tmp/*)
  echo "note: the build directory is under /tmp; weft service install not tried"
  finish ;;
esac
ETC=$(mktemp -d "$BUILD_ROOT/autossh-etc.XXXXXX")
trap 'cleanup; rm -rf "$ETC"' EXIT
cp "$TMP/device.conf" "$ETC/device.conf"
check "service install --dry-run" 0 "$WEFT" service install echo --config "$ETC/device.conf" --dry-run
contains "dry run prints the unit" "Restart=always"
contains "unit runs only that tunnel" "--only echo"
check "service install" 0 "$WEFT" service install echo --config "$ETC/device.conf" --unit-dir "$TMP/units" --user root
UNIT="$TMP/units/weft-tunnel-echo.service"
[ -f "$UNIT" ] && pass "unit written" || fail "no unit"
if command -v systemd-analyze >/dev/null; then
  check "systemd-analyze verify accepts the unit" 0 systemd-analyze verify "$UNIT"
else
  echo "note: systemd-analyze missing; unit not verified"
fi
check "service status" 1 "$WEFT" service status echo --unit-dir "$TMP/units"
contains "status says installed" "installed"
printf '[tunnel "ws"]\ntransport = websocket\nlocal = tcp://127.0.0.1:%s\n' "$ECHO" >"$ETC/ws.conf"
check "service needing a server wants --connect-file" 2 "$WEFT" service install ws --config "$ETC/ws.conf" --unit-dir "$TMP/units"
contains "says why" "--connect-file"
check "service for an unknown tunnel" 2 "$WEFT" service install nosuch --config "$ETC/device.conf" --unit-dir "$TMP/units"
check "service with an unknown user" 2 "$WEFT" service install echo --config "$ETC/device.conf" --unit-dir "$TMP/units" --user no-such-user-x
check "service remove" 0 "$WEFT" service remove echo --unit-dir "$TMP/units"
[ ! -f "$UNIT" ] && pass "unit removed" || fail "unit left"
finish
