#!/usr/bin/env bash
# OpenTelemetry: weft server and weft tunnel send events (the tunnel's
# lifecycle: login, created, sessions, its end with the reason) and the
# /metrics set to a collector over OTLP/HTTP with JSON; the collector
# (tests/otel/collector.mjs) decodes each export with the OpenTelemetry
# project's own OTLP types and refuses what they do not carry. Bad
# connection strings are refused by name; with the collector down the
# server runs on, counts what it dropped and says so once.
. "$(dirname "$0")/lib.sh"
NETKIT="$SOURCE_ROOT/tests/shell/netkit.py"
COLLECTOR="$SOURCE_ROOT/tests/otel/collector.mjs"
command -v node >/dev/null || { echo "SKIP: node is not installed (scripts/setup-deps.sh installs npm)"; exit 77; }
[ -d "$SOURCE_ROOT/tests/otel/node_modules/@opentelemetry/otlp-transformer" ] ||
  { echo "SKIP: tests/otel has no node_modules (scripts/setup-deps.sh runs npm ci there)"; exit 77; }

# ---- bad input: refused at start, by name (exit 3)
bad() { # NAME EXPECTED_TEXT ARGS...
  local name=$1 want=$2
  shift 2
  check "$name" 3 "$WEFT" server --state-dir "$TMP/bad" --port "$(free_port)" --bind-ips 127.0.0.1 \
    --http-listen off --tls-listen off "$@"
  contains "$name: the message says what" "$want"
}
bad "an ftp endpoint" "is not an http:// or https:// URL" --opentelemetry-connection-string "endpoint=ftp://x"
bad "a scheme with one slash" "is not an http:// or https:// URL" --opentelemetry-connection-string "https:/collector:4318"
bad "an unknown key" "unknown key 'colour'" --opentelemetry-connection-string "endpoint=http://127.0.0.1:1;colour=red"
bad "no endpoint" "names no endpoint" --opentelemetry-connection-string "interval=10s"
bad "a bad interval" "interval 'soon'" --opentelemetry-connection-string "http://127.0.0.1:1;interval=soon"
bad "a header with a line break" "not a one-line text" --opentelemetry-connection-string "http://127.0.0.1:1;headers=a=b%0Ac"
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:1 OTEL_EXPORTER_OTLP_PROTOCOL=grpc \
  bad "gRPC asked for" "OTLP over HTTP as JSON"
OTEL_EXPORTER_OTLP_ENDPOINT="not a url" bad "a bad endpoint variable" "OTEL_EXPORTER_OTLP_ENDPOINT"

# ---- a collector, a server and a websocket tunnel
COL=$(free_port)
node "$COLLECTOR" "$COL" >"$TMP/collector.out" 2>"$TMP/collector.err" &
STARTED_PIDS+=("$!")
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$COL" || fail "the collector did not start: $(cat "$TMP/collector.err")"
CTL=$(free_port) PUB=$(free_port) ECHO=$(free_port)
STATE="$TMP/state"
cat >"$TMP/weft.conf" <<CONF
[server]
listen = 127.0.0.1:$CTL
http_listen = off
tls_listen = off
opentelemetry = endpoint=http://127.0.0.1:$COL;interval=1s;headers=x-weft-test=token%20one
CONF
OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test" \
  "$WEFT" server --config "$TMP/weft.conf" --state-dir "$STATE" >"$TMP/server.log" 2>&1 &
SERVER=$!
STARTED_PIDS+=("$SERVER")
wait_for 20 curl -fsS "http://127.0.0.1:$CTL/healthz" || fail "server: $(cat "$TMP/server.log")"
python3 "$NETKIT" echo-server "$ECHO" &
STARTED_PIDS+=("$!")
"$WEFT" tunnel --device-id otel-dev --metrics-listen "$(free_port)" \
  --opentelemetry-connection-string "endpoint=http://127.0.0.1:$COL;interval=1s;service=edge-agent" \
  "weft://$(cat "$STATE/secret")@127.0.0.1:$CTL" "tcp://127.0.0.1:$ECHO" "tcp://127.0.0.1:$PUB" \
  >"$TMP/agent.log" 2>&1 &
AGENT=$!
STARTED_PIDS+=("$AGENT")
wait_for 20 grep -q "is reachable at" "$TMP/agent.log" || fail "no tunnel: $(cat "$TMP/agent.log")"
echo hello | timeout 5 python3 "$NETKIT" echo-client 127.0.0.1 "$PUB" >/dev/null 2>&1
# a metrics export of the agent's while its tunnel is up (every 1 s)
wait_for 10 grep -q '"service.name":"edge-agent".*weft_agent_tunnel_up' "$TMP/collector.out"
kill -INT "$AGENT"
wait "$AGENT"
# what each side sent, once the collector has had a flush (1 s) and a
# metrics interval (1 s) of both
wait_for 10 grep -q '"weft.event":"deleted"' "$TMP/collector.out"
wait_for 10 grep -q '"service.name":"edge-agent"' "$TMP/collector.out"
sleep 1.5
grep '"signal":"refused"' "$TMP/collector.out" &&
  fail "the collector refused exports: $(grep refused "$TMP/collector.out" | head -3)" ||
  pass "every export decodes with the OTLP types, as sent ($(grep -c . "$TMP/collector.out") exports)"

# summary WHO: what the collector saw of one service, as checks want it
python3 - "$TMP/collector.out" >"$TMP/seen" <<'PY'
import json, sys
seen = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    who = d.get("resource", {}).get("service.name", "?")
    s = seen.setdefault(who, {"events": [], "metrics": set(), "resource": d.get("resource"),
                              "headers": d.get("headers", {})})
    if d["signal"] == "logs":
        s["events"] += [r["attributes"].get("weft.event") for r in d["records"]]
    elif d["signal"] == "metrics":
        s["metrics"] |= set(d["metrics"])
for who, s in seen.items():
    print(who, "events", " ".join(e or "-" for e in s["events"]))
    print(who, "metrics", " ".join(sorted(s["metrics"])))
    print(who, "resource", json.dumps(s["resource"], sort_keys=True))
    print(who, "header", s["headers"].get("x-weft-test", "-"))
PY
line() { grep "^$1 $2 " "$TMP/seen"; }
for e in server-started login created session-up deleted; do
  line weft-server events | grep -qw -- "$e" && pass "server: event $e" ||
    fail "server: no $e event: $(line weft-server events)"
done
for m in weft_tunnels_live weft_logins_total weft_tunnels_total; do
  line weft-server metrics | grep -qw "$m" && pass "server: metric $m, as /metrics has it" ||
    fail "server: no $m: $(line weft-server metrics)"
done
line weft-server resource | grep -q '"deployment.environment": "test"' &&
  line weft-server resource | grep -q '"weft.role": "server"' &&
  pass "server: its resource carries OTEL_RESOURCE_ATTRIBUTES and weft.role" ||
  fail "server resource: $(line weft-server resource)"
line weft-server header | grep -q "token one" && pass "server: the header went, decoded" ||
  fail "header: $(line weft-server header)"
line edge-agent metrics | grep -qw weft_agent_tunnel_up &&
  pass "agent: its --metrics-listen set goes too (weft_agent_tunnel_up)" ||
  fail "agent metrics: $(line edge-agent metrics)"
for e in tunnel-opened tunnel-up tunnel-closed; do
  line edge-agent events | grep -qw -- "$e" && pass "agent: event $e" ||
    fail "agent: no $e event: $(line edge-agent events)"
done

# ---- the collector down: the server runs on, counts, says it once
kill -INT "$SERVER"
wait "$SERVER"
DEAD=$(free_port)
sed -i "s|^opentelemetry = .*|opentelemetry = http://127.0.0.1:$DEAD;interval=1s;timeout=1s|" "$TMP/weft.conf"
"$WEFT" server --config "$TMP/weft.conf" --state-dir "$STATE" >"$TMP/server2.log" 2>&1 &
SERVER=$!
STARTED_PIDS+=("$SERVER")
wait_for 20 curl -fsS "http://127.0.0.1:$CTL/healthz" || fail "server: $(cat "$TMP/server2.log")"
for i in 1 2 3; do
  "$WEFT" tunnel --device-id "otel-$i" "weft://$(cat "$STATE/secret")@127.0.0.1:$CTL" "tcp://127.0.0.1:$ECHO" \
    >"$TMP/a$i.log" 2>&1 &
  STARTED_PIDS+=("$!")
done
wait_for 20 sh -c "grep -l 'is reachable' $TMP/a1.log $TMP/a2.log $TMP/a3.log | wc -l | grep -qx 3" ||
  fail "tunnels with the collector down: $(cat "$TMP"/a*.log)"
wait_for 10 grep -q "OpenTelemetry: .* could not be sent" "$TMP/server2.log"
M=$(curl -fsS "http://127.0.0.1:$CTL/metrics")
FAILED=$(sed -n 's/^weft_otel_posts_failed_total \([0-9]*\)$/\1/p' <<<"$M")
[ "${FAILED:-0}" -ge 2 ] && pass "the server runs on, and counts failed posts ($FAILED)" ||
  fail "weft_otel_posts_failed_total '$FAILED'"
N=$(grep -c "OpenTelemetry: .* could not be sent" "$TMP/server2.log")
[ "$N" -eq 1 ] && pass "it says so once, not at each post" || fail "$N lines: $(grep OpenTelemetry "$TMP/server2.log")"
curl -fsS "http://127.0.0.1:$CTL/healthz" >/dev/null && pass "and still answers" || fail "the server is gone"
kill -INT "$SERVER"
wait "$SERVER" && pass "and stops cleanly, collector or not" || fail "exit $?"
finish
