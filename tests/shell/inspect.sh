#!/usr/bin/env bash
# The HTTP inspector: off by default (nothing listed, 409); turned on for
# a websocket tunnel, three curl requests are listed with their headers
# and capped bodies; a replay reaches the backend a second time and is
# listed, marked; a viewer is refused; turning it off or ending the
# tunnel drops what it held.
. "$(dirname "$0")/lib.sh"

PORT=$(free_port)
HTTP=$(free_port)
APP=$(free_port)
STATE="$TMP/state"
cat >"$TMP/weft.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
http_listen = 127.0.0.1:$HTTP
tls_listen = off
CONF
# The backend: answers every request with how many times it saw its path.
cat >"$TMP/app.py" <<'PY'
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
seen = {}
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def any(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n) if n else b""
        path = self.path.split("?")[0]
        seen[path] = seen.get(path, 0) + 1
        out = ("%s %s seen %d body %d\n" % (self.command, path, seen[path], len(body))).encode()
        if "X-Weft-Replay" in self.headers:
            out += b"(the server's replay mark came through)\n"
        if path == "/big":
            out = b"y" * 100000
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("X-App", "counter")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    do_GET = do_POST = do_PUT = any
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
/usr/bin/python3 "$TMP/app.py" "$APP" >"$TMP/app.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
BASE="https://127.0.0.1:$PORT"
start_server
OPERATOR=$("$WEFT" user add olga --role operator --state-dir "$STATE" | tail -n 1)
VIEWER=$("$WEFT" user add vera --role viewer --state-dir "$STATE" | tail -n 1)

"$WEFT" tunnel --device-id dev-i "$CONN" "http://127.0.0.1:$APP" >"$TMP/agent.out" 2>&1 </dev/null &
AGENT=$!
STARTED_PIDS+=("$AGENT")
wait_for 20 grep -q "is reachable at" "$TMP/agent.out" || fail "agent: $(cat "$TMP/agent.out")"
URL=$(sed -n 's/.*is reachable at \(http[^ ]*\).*/\1/p' "$TMP/agent.out" | head -n 1)
ID=$(echo "$URL" | sed -n 's|.*/\(t[0-9a-f]*\)/$|\1|p')
[ -n "$ID" ] || fail "no tunnel id in $URL"

# api KEY METHOD PATH [JSON]: the body in $OUT, the status in $CODE.
api() {
  OUT=$(curl -ks -o - -w '\n%{http_code}' -X "$2" -H "Authorization: Bearer $1" \
    -H 'Content-Type: application/json' ${4:+-d "$4"} "$BASE$3")
  CODE=${OUT##*$'\n'}
  OUT=${OUT%$'\n'*}
}
json() { printf '%s' "$OUT" | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

curl -fsS "${URL}before" >/dev/null || fail "a request before the inspector"
api "$OPERATOR" GET "/v1/tunnels/$ID/requests"
[ "$CODE" = 409 ] && contains "off by default: 409 with a sentence" "the inspector of tunnel $ID is off" ||
  fail "off by default: $CODE $OUT"
api "$OPERATOR" GET "/v1/tunnels/$ID"
contains "the tunnel says its inspector is off" '"inspect":false'
api "$VIEWER" PUT "/v1/tunnels/$ID/inspect" '{"on":true}'
[ "$CODE" = 403 ] && pass "a viewer may not turn it on ($OUT)" || fail "viewer: $CODE $OUT"
api "$OPERATOR" PUT "/v1/tunnels/$ID/inspect" '{"on":"yes"}'
[ "$CODE" = 400 ] && pass "a bad switch is 400" || fail "bad switch: $CODE $OUT"
api "$OPERATOR" PUT "/v1/tunnels/$ID/inspect" '{"on":true}'
[ "$CODE" = 200 ] && pass "an operator turns it on" || fail "on: $CODE $OUT"

curl -fsS "${URL}one?x=1" -H "X-Test: alpha" >/dev/null &&
  curl -fsS -X POST --data-binary "hello body" "${URL}two" >/dev/null &&
  curl -fsS "${URL}three" >/dev/null || fail "three requests"
api "$OPERATOR" GET "/v1/tunnels/$ID/requests"
[ "$(json 'len(d["requests"])')" = 3 ] && pass "three requests listed" || fail "listed: $OUT"
[ "$(json '",".join(r["method"]+" "+r["target"].split("/",2)[2]+" "+str(r["status"]) for r in d["requests"])')" = \
  "GET one?x=1 200,POST two 200,GET three 200" ] && pass "method, path, query and status" || fail "list: $OUT"
SEQ=$(json 'd["requests"][1]["seq"]')
api "$VIEWER" GET "/v1/tunnels/$ID/requests"
[ "$CODE" = 403 ] && pass "a viewer may not read them" || fail "viewer list: $CODE $OUT"
api "$OPERATOR" GET "/v1/tunnels/$ID/requests/$SEQ"
[ "$(json 'd["request_body"]')" = "hello body" ] && pass "the request body" || fail "one: $OUT"
[ "$(json 'd["response_body"]')" = "POST /two seen 1 body 10" ] && pass "the response body" || fail "one: $OUT"
[ "$(json '[v for k,v in d["response_headers"] if k=="X-App"][0]')" = counter ] &&
  pass "the response headers" || fail "one: $OUT"

api "$OPERATOR" POST "/v1/tunnels/$ID/requests/$SEQ/replay"
[ "$CODE" = 200 ] && [ "$(json 'd["body"]')" = "POST /two seen 2 body 10" ] &&
  pass "a replay: the backend got the request twice" || fail "replay: $CODE $OUT"
api "$VIEWER" POST "/v1/tunnels/$ID/requests/$SEQ/replay"
[ "$CODE" = 403 ] && pass "a viewer may not replay" || fail "viewer replay: $CODE $OUT"
api "$OPERATOR" GET "/v1/tunnels/$ID/requests"
[ "$(json 'd["requests"][-1].get("replay_of")')" = "$SEQ" ] &&
  pass "the replay is captured, marked as one" || fail "replay listed: $OUT"
api "$OPERATOR" GET "/v1/tunnels/$ID/requests/$(json 'd["requests"][-1]["seq"]')"
case "$OUT" in *X-Weft-Replay*) fail "the replay's nonce header is listed" ;; *) pass "the replay's mark is not shown as a header" ;; esac

curl -fsS "${URL}big" >/dev/null || fail "big"
api "$OPERATOR" GET "/v1/tunnels/$ID/requests"
SEQ=$(json 'd["requests"][-1]["seq"]')
api "$OPERATOR" GET "/v1/tunnels/$ID/requests/$SEQ"
[ "$(json 'len(d["response_body"]), d["response_body_size"], d["response_body_cut"]')" = "65536 100000 True" ] &&
  pass "a 100 kB body is kept to 64 KiB, marked cut" || fail "cap: $(json 'len(d["response_body"]), d["response_body_size"], d["response_body_cut"]')"
api "$OPERATOR" GET "/v1/audit"
contains "turning it on is audited" '"inspector-on"'
contains "the replay is audited" '"request-replayed"'

api "$OPERATOR" PUT "/v1/tunnels/$ID/inspect" '{"on":false}'
api "$OPERATOR" GET "/v1/tunnels/$ID/requests"
[ "$CODE" = 409 ] && pass "turned off: what it held is gone" || fail "off: $CODE $OUT"
api "$OPERATOR" PUT "/v1/tunnels/$ID/inspect" '{"on":true}'
curl -fsS "${URL}again" >/dev/null
api "$OPERATOR" GET "/v1/tunnels/$ID/requests"
[ "$(json 'len(d["requests"])')" = 1 ] && pass "on again: only what came since" || fail "again: $OUT"
api "$OPERATOR" DELETE "/v1/tunnels/$ID"
api "$OPERATOR" GET "/v1/tunnels/$ID/requests"
[ "$CODE" = 404 ] && pass "the tunnel ended: its requests are gone" || fail "ended: $CODE $OUT"
finish
