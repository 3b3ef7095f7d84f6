#!/usr/bin/env bash
# Logs as a log shipper reads them: --log-format and [server] log_format
# refuse what they do not know; on the journal's stream, text lines carry
# their syslog priority; with json, every line a server and a wireguard
# agent write is one JSON object with a time, a level, an origin and a
# message, wireguard-go's own output among them as records.
. "$(dirname "$0")/lib.sh"
JSONLINES="$SOURCE_ROOT/tests/shell/jsonlines.py"

# ---- bad input: named, refused
check "--log-format xml is refused" 2 "$WEFT" server --log-format xml --state-dir "$TMP/x"
contains "it names the value and the choices" "--log-format 'xml': give text or json"
check "weft tunnel --log-format is checked too" 2 "$WEFT" tunnel --log-format yaml weft://x@h tcp://127.0.0.1:1
printf '[server]\nlog_format = yaml\n' >"$TMP/bad.conf"
check "log_format = yaml in weft.conf is refused" 3 "$WEFT" server --config "$TMP/bad.conf" --state-dir "$TMP/x"
contains "it names the key" "log_format"

# ---- the journal: JOURNAL_STREAM names the server's stderr (as systemd
# sets it), so each line starts with its priority
CTL=$(free_port)
: >"$TMP/journal.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$TMP/journal.log") "$WEFT" server --port "$CTL" \
  --bind-ips 127.0.0.1 --state-dir "$TMP/j" --http-listen off --tls-listen off \
  >/dev/null 2>>"$TMP/journal.log" &
JPID=$!
STARTED_PIDS+=("$JPID")
wait_for 10 curl -fsS "http://127.0.0.1:$CTL/healthz" || fail "the server did not start: $(cat "$TMP/journal.log")"
kill -TERM "$JPID"
wait "$JPID"
grep -q '^<6>20[0-9-]*T[0-9:]*Z weft: info: \[core\] state directory' "$TMP/journal.log" &&
  pass "on the journal's stream: '<6>' before an info line" ||
  fail "no priority prefix: $(head -3 "$TMP/journal.log")"
grep -v '^<[3467]>' "$TMP/journal.log" | grep -q . &&
  fail "lines without a priority: $(grep -v '^<[3467]>' "$TMP/journal.log" | head -3)" ||
  pass "every line has one"

# ---- json from a server and a wireguard agent, in namespaces made here
if [ "$(id -u)" -ne 0 ] || ! command -v wireguard-go >/dev/null || [ ! -c /dev/net/tun ]; then
  echo "SKIP part: the wireguard agent needs root, wireguard-go and /dev/net/tun"
  finish
fi
SRV=lgs$$ DEV=lgd$$ IFS_SRV=lsrv$$
netns_cleanup() {
  for ns in $SRV $DEV; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  rm -f "/var/run/wireguard/$IFS_SRV.sock"
}
trap 'cleanup; netns_cleanup' EXIT
ip netns add "$SRV" && ip netns add "$DEV" &&
  ip link add "lv$$" netns "$SRV" type veth peer name eth0 netns "$DEV" &&
  ip -n "$SRV" addr add 10.97.1.1/24 dev "lv$$" && ip -n "$SRV" link set "lv$$" up &&
  ip -n "$DEV" addr add 10.97.1.2/24 dev eth0 && ip -n "$DEV" link set eth0 up &&
  ip -n "$SRV" link set lo up && ip -n "$DEV" link set lo up ||
  { fail "cannot make the namespaces"; finish; }

cat >"$TMP/server.conf" <<CONF
[server]
listen = 10.97.1.1:9092
public_host = 10.97.1.1
http_listen = off
tls_listen = off
log_format = json
log_level = debug

[transport.wireguard]
interface = $IFS_SRV
wireguard_go_log = verbose
CONF
ip netns exec "$SRV" "$WEFT" server --config "$TMP/server.conf" --state-dir "$TMP/state" \
  2>"$TMP/server.log" >/dev/null &
SERVER=$!
STARTED_PIDS+=("$SERVER")
wait_for 20 ip netns exec "$SRV" curl -fsS http://10.97.1.1:9092/healthz ||
  { fail "the server did not start: $(tail -5 "$TMP/server.log")"; finish; }
cat >"$TMP/agent.conf" <<CONF
[transport.wireguard]
wireguard_go_log = verbose

[tunnel "ssh"]
transport = wireguard
device_id = logs-dev
local = tcp://127.0.0.1:22
CONF
ip netns exec "$DEV" env WEFT_RUN_DIR="$TMP/run" "$WEFT" tunnel -v --log-format json \
  --config "$TMP/agent.conf" "weft://$(cat "$TMP/state/secret")@10.97.1.1:9092" \
  2>"$TMP/agent.log" >/dev/null &
AGENT=$!
STARTED_PIDS+=("$AGENT")
wait_for 30 grep -q '"msg":"tunnel [^"]*: up; this device is' "$TMP/agent.log" &&
  pass "the wireguard tunnel came up, said in json" ||
  fail "no tunnel: $(tail -5 "$TMP/agent.log")"
kill -INT "$AGENT"
wait "$AGENT"
kill -TERM "$SERVER"
wait "$SERVER"

for who in server agent; do
  if OUT=$(python3 "$JSONLINES" "$TMP/$who.log" 2>&1); then
    pass "$who: every line is a record ($OUT)"
  else
    fail "$who: $OUT"
  fi
  grep -q '"origin":"wireguard","msg":"wireguard-go: (' "$TMP/$who.log" &&
    pass "$who: wireguard-go's lines are records of the wireguard plugin" ||
    fail "$who: no wireguard-go record: $(grep -c . "$TMP/$who.log") lines"
done
finish
