#!/usr/bin/env bash
# The console's terminal through its WebSocket, with a Python client
# (terminal_client.py) and an API key: the server's ssh logs into a
# device's real sshd (a password, typed in the terminal) through the
# device's websocket tunnel, runs a command and exits; each terminal is
# audited; the device's ACL, a missing tunnel, a viewer and a foreign
# Origin are refused before any upgrade; a closed WebSocket ends ssh.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: the device's sshd needs root to log a user in; run the suite as root"
  exit 77
fi
for tool in /usr/sbin/sshd ssh setsid; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (openssh-server/client, util-linux)"; exit 77; }
done
CLIENT="$SOURCE_ROOT/tests/shell/terminal_client.py"

PORT=$(free_port)
SSHD=$(free_port)
STATE="$TMP/state"
printf '[server]\nlisten = 127.0.0.1:%s\nhttp_listen = off\ntls_listen = off\nport_range = 31200-31299\n' "$PORT" >"$TMP/weft.conf"
start_server
PASSWORD="device password 7"
device_sshd "$SSHD" "$PASSWORD"
# Another program of the host holds the first port of the range: the
# server picks the next one rather than fail the tunnel.
/usr/bin/python3 -c 'import socket, time; s = socket.socket(); s.bind(("0.0.0.0", 31200)); s.listen(); time.sleep(60)' &
STARTED_PIDS+=("$!")
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/31200"
"$WEFT" tunnel --device-id box-1 "$CONN" "tcp://127.0.0.1:$SSHD" >"$TMP/dev.out" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
wait_for 20 grep -q "is reachable at" "$TMP/dev.out" || fail "device: $(cat "$TMP/dev.out")"
grep -q "is reachable at tcp://127.0.0.1:31201" "$TMP/dev.out" &&
  pass "a port another program holds is skipped" || fail "the tunnel's port: $(cat "$TMP/dev.out")"
OPERATOR=$("$WEFT" user add otto --role operator --state-dir "$STATE" | tail -n 1)
VIEWER=$("$WEFT" user add vera --role viewer --state-dir "$STATE" | tail -n 1)
API="https://127.0.0.1:$PORT"
URL="wss://127.0.0.1:$PORT/v1/devices/box-1/terminal?port=$SSHD&user=weft-op"

# Refused before the upgrade: the ACL (reach_ports is 22, 80, 443).
check "a port the ACL does not open" 1 /usr/bin/python3 "$CLIENT" "$URL" --key "$OPERATOR"
contains "is refused with 403" "HTTP 403"
check "operators may open the device's sshd port" 0 curl -ksfS -X PATCH \
  -H "Authorization: Bearer $OPERATOR" -d "{\"reach_ports\":\"22,$SSHD\"}" "$API/v1/devices/box-1"
check "a viewer" 1 /usr/bin/python3 "$CLIENT" "$URL" --key "$VIEWER"
contains "is refused with 403" "HTTP 403"
check "another site's page" 1 /usr/bin/python3 "$CLIENT" "$URL" --key "$OPERATOR" --origin "https://evil.example"
contains "is refused with 403" "HTTP 403"
check "a port no tunnel carries" 1 /usr/bin/python3 "$CLIENT" \
  "wss://127.0.0.1:$PORT/v1/devices/box-1/terminal?port=22&user=weft-op" --key "$OPERATOR"
contains "is refused with 409" "HTTP 409"
check "a user name ssh would read as an option" 1 /usr/bin/python3 "$CLIENT" \
  "wss://127.0.0.1:$PORT/v1/devices/box-1/terminal?port=$SSHD&user=-oProxyCommand=x" --key "$OPERATOR"
contains "is refused with 400" "HTTP 400"
# Without the upgrade, the page's check: what would open.
check "the check before an upgrade" 0 curl -ksfS -H "Authorization: Bearer $OPERATOR" \
  "$API/v1/devices/box-1/terminal?port=$SSHD&user=weft-op"
contains "names the way" '"via":"relay"'
check "says a refusal in a sentence" 0 curl -ks -H "Authorization: Bearer $OPERATOR" \
  "$API/v1/devices/box-1/terminal?port=3389&user=weft-op"
contains "the ACL's" "port 3389 of this device is not open to operators"

# A session: the password prompt, a command, its line, exit.
check "log in, run a command, exit" 0 /usr/bin/python3 "$CLIENT" "$URL" --key "$OPERATOR" \
  --expect "password:" --send "$PASSWORD\\n" --expect "$ " --send "echo hello-from-weft\\n" \
  --expect $'\r\nhello-from-weft\r\n' --send "exit\\n"
contains "ends when ssh does" "END: the session ended"
check "the audit trail" 0 curl -ksfS -H "Authorization: Bearer $OPERATOR" "$API/v1/audit?device=box-1"
contains "has the terminal opened" '"event":"terminal-opened"'
contains "by whom" '"actor":"user:otto"'
contains "and how" "ssh weft-op@ port $SSHD through tunnel"
contains "has it closed, with how long" "typed"
contains "and why" "the session ended"

# A wrong password: ssh says so in the terminal and gives up.
check "a wrong password" 0 /usr/bin/python3 "$CLIENT" "$URL" --key "$OPERATOR" \
  --expect "password:" --send "wrong\\n" --expect "password:" --send "wrong\\n" \
  --expect "password:" --send "wrong\\n"
contains "ends with ssh's refusal" "END: ssh could not connect or log in"

# The browser goes (a closed tab): the server ends ssh.
check "a WebSocket closed mid-session" 0 /usr/bin/python3 "$CLIENT" "$URL" --key "$OPERATOR" \
  --expect "password:" --send "$PASSWORD\\n" --expect "$ " --send "sleep 600\\n" --hold 1 --close
gone() { ! pgrep -P "$SERVER" -x setsid >/dev/null && ! pgrep -P "$SERVER" -x ssh >/dev/null; }
wait_for 10 gone && pass "its ssh is gone" || fail "ssh still runs: $(pgrep -a -P "$SERVER")"
wait_for 10 bash -c "curl -ksfS -H 'Authorization: Bearer $OPERATOR' '$API/v1/audit?device=box-1' | grep -q 'the browser closed the terminal'" &&
  pass "audited as closed by the browser" || fail "no terminal-closed record for the closed WebSocket"

# Idleness, on a second server whose tunnels idle out after 4 s: a visitor
# keeps the tunnel itself alive (sshd's banner through its public port,
# each second), while the terminal, silent, ends on its own clock.
PORT=$(free_port)
STATE="$TMP/state2"
printf '[server]\nlisten = 127.0.0.1:%s\nhttp_listen = off\ntls_listen = off\nport_range = 31300-31399\nidle_timeout = 4s\n' "$PORT" >"$TMP/weft.conf"
start_server
"$WEFT" tunnel --device-id box-2 "$CONN" "tcp://127.0.0.1:$SSHD" >"$TMP/dev2.out" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
wait_for 20 grep -q "is reachable at" "$TMP/dev2.out" || fail "device 2: $(cat "$TMP/dev2.out")"
PUBLIC=$(sed -n 's/.*is reachable at tcp:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/dev2.out" | head -n 1)
OPERATOR=$("$WEFT" user add otto --role operator --state-dir "$STATE" | tail -n 1)
curl -ksfS -o /dev/null -X PATCH -H "Authorization: Bearer $OPERATOR" -d "{\"reach_ports\":\"$SSHD\"}" \
  "https://127.0.0.1:$PORT/v1/devices/box-2" || fail "box-2's ACL"
bash -c "for i in \$(seq 20); do timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$PUBLIC; head -c 4 <&3' >/dev/null 2>&1; sleep 1; done" &
STARTED_PIDS+=("$!")
check "a silent terminal" 0 /usr/bin/python3 "$CLIENT" \
  "wss://127.0.0.1:$PORT/v1/devices/box-2/terminal?port=$SSHD&user=weft-op" --key "$OPERATOR" \
  --expect "password:" --send "$PASSWORD\\n" --expect "$ " --send ""
contains "ends after the tunnel's idle timeout" "END: nothing was typed or shown for 4 s"
finish
