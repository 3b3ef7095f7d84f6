#!/usr/bin/env bash
# Local web apps through websocket tunnels and the server's public HTTP
# port: routing by path and by Host, every method, headers the server sets,
# chunked and streamed responses, 100 MB each way, a WebSocket upgrade to
# the device's app, and python3 -m http.server as a plain static site.
. "$(dirname "$0")/lib.sh"
HTTPKIT="$(dirname "$0")/httpkit.py"
MB=${MB:-100}

PORT=$(free_port)
HTTP=$(free_port)
APP=$(free_port)
WSAPP=$(free_port)
STATIC=$(free_port)
STATE="$TMP/state"
cat >"$TMP/weft.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
http_listen = 127.0.0.1:$HTTP
tls_listen = off
response_timeout = 4s
send_timeout = 5s
body_timeout = 5s
CONF
mkdir -p "$TMP/site"
head -c 3000000 /dev/urandom >"$TMP/site/blob.bin"
echo "<h1>hello from the device</h1>" >"$TMP/site/index.html"

/usr/bin/python3 "$HTTPKIT" serve "$APP" >"$TMP/app.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
/usr/bin/python3 "$HTTPKIT" ws-echo "$WSAPP" >"$TMP/wsapp.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
/usr/bin/python3 -m http.server "$STATIC" --bind 127.0.0.1 --directory "$TMP/site" >"$TMP/static.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
start_server

# start_tunnel NAME DEVICE ARGS...: sets URL to the public URL it printed.
start_tunnel() {
  local name=$1 device=$2
  shift 2
  "$WEFT" tunnel --device-id "$device" "$CONN" "$@" >"$TMP/$name.out" 2>&1 </dev/null &
  STARTED_PIDS+=("$!")
  wait_for 20 grep -q "is reachable at" "$TMP/$name.out" || fail "$name: $(cat "$TMP/$name.out")"
  URL=$(sed -n 's/.*is reachable at \(http[^ ]*\).*/\1/p' "$TMP/$name.out" | head -n 1)
}

start_tunnel app dev-app "http://127.0.0.1:$APP"
APP_URL=$URL
case "$APP_URL" in "http://127.0.0.1:$HTTP/t"*/) pass "no remote: the server assigns /{tunnel_id}/ ($APP_URL)" ;; *) fail "public URL $APP_URL" ;; esac
start_tunnel named dev-named "http://127.0.0.1:$APP" http://app.example.test
if grep -q "^[0-9-]*T[0-9:]*Z weft: " "$TMP/app.out" && ! grep -q "^weft: " "$TMP/app.out"; then
  pass "the agent's log lines carry timestamps, like the server's"
else
  fail "agent log without timestamps: $(cat "$TMP/app.out")"
fi
[ "$URL" = "http://app.example.test:$HTTP" ] && pass "a named tunnel's URL" || fail "named URL $URL"

for method in GET POST PUT PATCH DELETE OPTIONS; do
  check "$method through the tunnel" 0 curl -fsS -X "$method" --data-binary "body of $method" \
    -H "X-Forwarded-For: 203.0.113.66" -H "Forwarded: for=203.0.113.66" \
    "${APP_URL}echo?q=1"
  contains "$method arrives as $method" "\"method\": \"$method\""
done
contains "the path prefix is stripped" '"path": "/echo?q=1"'
contains "X-Forwarded-For is the server's word, not the client's" '"x-forwarded-for": "127.0.0.1"'
PREFIX=${APP_URL#http://127.0.0.1:$HTTP}
PREFIX=${PREFIX%/}
contains "the stripped prefix is in X-Forwarded-Prefix" "\"x-forwarded-prefix\": \"$PREFIX\""
OUT=$(curl -sS -o /dev/null -D - "http://127.0.0.1:$HTTP$PREFIX?a=1" 2>&1)
contains "/{tunnel_id} without its slash redirects" "HTTP/1.1 308"
contains "to /{tunnel_id}/, query kept" "Location: $PREFIX/?a=1"
check "the redirect leads to the app" 0 curl -fsSL "http://127.0.0.1:$HTTP$PREFIX"
contains "X-Forwarded-Proto" '"x-forwarded-proto": "http"'
contains "X-Forwarded-Host" "\"x-forwarded-host\": \"127.0.0.1:$HTTP\""
case "$OUT" in *203.0.113.66*) fail "a client-sent forwarding header got through" ;; *) pass "client forwarding headers dropped" ;; esac
check "HEAD" 0 curl -fsS -I "${APP_URL}echo"
contains "HEAD answered" "HTTP/1.1 200"

check "routed by Host" 0 curl -fsS -H "Host: app.example.test" "http://127.0.0.1:$HTTP/echo"
contains "Host routing keeps the path" '"path": "/echo"'
contains "and the Host" '"host": "app.example.test"'
check "unknown host" 22 curl -fsS -H "Host: nobody.example.test" "http://127.0.0.1:$HTTP/echo"
check "unknown tunnel id" 22 curl -fsS "http://127.0.0.1:$HTTP/t0000000000000000/echo"
OUT=$(curl -sS -o /dev/null -w '%{http_code}' -H "Host: nobody.example.test" "http://127.0.0.1:$HTTP/")
[ "$OUT" = 404 ] && pass "unrouted requests get 404" || fail "unrouted: $OUT"

check "chunked, streamed response" 0 curl -fsS --raw -N "${APP_URL}chunked"
contains "chunk framing passes through" $'7\r\npart 0'
contains "all parts arrive" "part 4"

check "$MB MB up (chunked request)" 0 timeout 120 /usr/bin/python3 "$HTTPKIT" upload "${APP_URL}upload" "$MB"
echo "$OUT"
check "$MB MB down" 0 timeout 120 /usr/bin/python3 "$HTTPKIT" download "${APP_URL}big" "$MB"
echo "$OUT"

start_tunnel ws dev-ws "http://127.0.0.1:$WSAPP"
check "a WebSocket upgrade through the tunnel to the device's app" 0 \
  timeout 30 /usr/bin/python3 "$HTTPKIT" ws-client "ws${URL#http}"
echo "$OUT"

start_tunnel static dev-static "http://127.0.0.1:$STATIC"
check "python3 -m http.server behind a tunnel" 0 curl -fsS "${URL}index.html"
contains "its page" "hello from the device"
curl -fsS -o "$TMP/blob.got" "${URL}blob.bin"
if cmp -s "$TMP/site/blob.bin" "$TMP/blob.got"; then pass "a 3 MB file arrives intact"; else fail "the file differs"; fi

# Several tunnels from one weft.conf, at once (each its own device).
TCPECHO=$(free_port)
python3 "$(dirname "$0")/netkit.py" echo-server "$TCPECHO" >"$TMP/echo.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
PUB=$(free_port)
cat >"$TMP/device.conf" <<CONF
[tunnel "site"]
transport = websocket
local = http://127.0.0.1:$STATIC
remote = http://site.example.test

[tunnel "echo"]
transport = websocket
local = tcp://127.0.0.1:$TCPECHO
remote = tcp://127.0.0.1:$PUB
CONF
"$WEFT" tunnel --device-id box --config "$TMP/device.conf" "$CONN" >"$TMP/multi.out" 2>&1 </dev/null &
MULTI=$!
STARTED_PIDS+=("$MULTI")
wait_for 20 grep -q "tcp://127.0.0.1:$PUB" "$TMP/multi.out" || fail "multi: $(cat "$TMP/multi.out")"
OUT=$(cat "$TMP/multi.out")
contains "both tunnels of weft.conf are up" "http://site.example.test:$HTTP"
check "the config's http tunnel works" 0 curl -fsS -H "Host: site.example.test" "http://127.0.0.1:$HTTP/index.html"
check "the config's tcp tunnel works" 0 timeout 20 python3 "$(dirname "$0")/netkit.py" roundtrip 127.0.0.1 "$PUB" 1
# One address may hold a quarter of a tunnel's streams (issue 18: with
# 1024 per address against 1000 streams, one address took a tunnel).
OUT=$(python3 - "$PUB" <<'PY'
import socket, sys
port = int(sys.argv[1])
held, served = [], 0
for _ in range(260):
    s = socket.socket()
    s.bind(("127.0.0.3", 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    held.append(s)
for s in held:
    try:
        s.sendall(b"x")
        served += s.recv(1) == b"x"
    except OSError:
        pass
o = socket.socket()
o.bind(("127.0.0.4", 0))
o.settimeout(5)
o.connect(("127.0.0.1", port))
o.sendall(b"y")
print("one address: %d of 260 served; another: %s" % (served, o.recv(1) == b"y"))
PY
)
echo "$OUT"
contains "one address holds at most 250 of a tunnel's connections" "one address: 250 of 260 served"
contains "another address is still served" "another: True"
kill -INT "$MULTI"
wait "$MULTI"
OUT=$(cat "$TMP/multi.out")
contains "Ctrl-C deletes both" "deleted"

# An upgrade other than WebSocket does not turn the connection into a raw
# pipe (issue 18: after "Upgrade: h2c" a second request kept the
# visitor's own X-Forwarded-For): its headers are dropped and the next
# request is read and rewritten like any other. CONNECT gets 405.
OUT=$(python3 - "$HTTP" "$PREFIX" <<'PY'
import socket, sys
port, prefix = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall((
    "GET %s/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\n"
    "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
    "GET %s/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 6.6.6.6\r\n"
    "Connection: close\r\n\r\n" % (prefix, prefix)).encode())
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
text = data.decode(errors="replace")
print("responses: %d, switched: %s, smuggled: %s, forwarded by the server: %d" % (
    text.count("HTTP/1.1 200"), "101 Switching" in text, "6.6.6.6" in text,
    text.count('"x-forwarded-for": "127.0.0.1"')))
c = socket.create_connection(("127.0.0.1", port), timeout=10)
c.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
print("connect: " + c.recv(64).decode(errors="replace").splitlines()[0])
PY
)
echo "$OUT"
contains "an h2c upgrade is not passed on; both requests answered" "responses: 2, switched: False, smuggled: False, forwarded by the server: 2"
contains "CONNECT is refused" "connect: HTTP/1.1 405"

# A WebSocket upgrade the backend refuses (it answers 200, not 101)
# leaves the connection HTTP: the next request on it, sent after that
# answer or pipelined behind the upgrade, is read and rewritten (issue
# 18: it went raw, keeping the visitor's own X-Forwarded-For).
OUT=$(python3 - "$HTTP" "$PREFIX" <<'PY'
import socket, sys
port, prefix = int(sys.argv[1]), sys.argv[2]
UPGRADE = ("GET %s/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
           "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" % prefix)
SPOOF = ("GET %s/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 6.6.6.6\r\n"
         "Connection: close\r\n\r\n" % prefix)
def read_all(s):
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data.decode(errors="replace")
        data += chunk
for how in ("after", "pipelined"):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if how == "after":
        s.sendall(UPGRADE.encode())
        first = b""
        while b"}" not in first:  # the JSON answer to the upgrade
            first += s.recv(65536)
        s.sendall(SPOOF.encode())
        text = first.decode(errors="replace") + read_all(s)
    else:
        s.sendall((UPGRADE + SPOOF).encode())
        text = read_all(s)
    print("%s: responses: %d, smuggled: %s, forwarded by the server: %d" % (
        how, text.count("HTTP/1.1 200"), "6.6.6.6" in text,
        text.count('"x-forwarded-for": "127.0.0.1"')))
PY
)
echo "$OUT"
contains "a refused WebSocket upgrade stays HTTP for the next request" "after: responses: 2, smuggled: False, forwarded by the server: 2"
contains "and for one pipelined behind it" "pipelined: responses: 2, smuggled: False, forwarded by the server: 2"

# Pipelined requests that the server will not forward (another tunnel's
# name, or framing it refuses) come after the answers to those before
# them, in order: 200, then 421 or 400, then the close (issue 18: the
# connection was closed with the earlier answer unsent).
OUT=$(python3 - "$HTTP" "$PREFIX" <<'PY'
import re, socket, sys
port, prefix = int(sys.argv[1]), sys.argv[2]
FIRST = "GET %s/echo HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % prefix
for name, second in (
        ("route change", "GET /echo HTTP/1.1\r\nHost: app.example.test:%d\r\n\r\n" % port),
        ("bad framing", "POST %s/echo HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Transfer-Encoding: chunked\r\n\r\nzz\r\n" % prefix)):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall((FIRST + second).encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    # (a JSON body ends without a newline: the next status line follows it)
    statuses = re.findall(r"HTTP/1\.1 (\d{3}) ", data.decode(errors="replace"))
    print("%s: %s" % (name, " ".join(statuses)))
PY
)
echo "$OUT"
contains "a pipelined request for another tunnel is answered 421 after the first" "route change: 200 421"
contains "refused framing is answered 400 after the first" "bad framing: 200 400"

# What the backend reads is what the server read (issue 18 item 7):
# framing headers the parser reads one way and a backend another are
# refused, forwarding headers of every family are dropped, and chunked
# bodies are framed again (trailers dropped).
OUT=$(python3 - "$HTTP" "$PREFIX" <<'PY'
import re, socket, sys
port, prefix = int(sys.argv[1]), sys.argv[2]
def exchange(raw):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(raw.encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")
def status(text):
    m = re.search(r"HTTP/1\.1 (\d{3}) ", text)
    return m.group(1) if m else "none"
text = exchange("POST %s/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length : 5\r\n"
                "Connection: close\r\n\r\nhello" % prefix)
print("space before the colon: %s" % status(text))
text = exchange("GET %s/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nX_Forwarded_For: 6.6.6.6\r\n"
                "X-Real-IP: 6.6.6.6\r\nTrue-Client-IP: 6.6.6.6\r\nX-Forwarded-Port: 6\r\n"
                "Forwarded: for=6.6.6.6\r\nConnection: close\r\n\r\n" % prefix)
print("forwarding family: %s, passed on: %s" % (status(text), "6.6.6.6" in text))
text = exchange("POST %s/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                "Connection: close\r\n\r\n3;ext=1\r\nhel\r\n2\r\nlo\r\n0\r\n"
                "X-Forwarded-For: 6.6.6.6\r\n\r\n" % prefix)
print("chunked with a trailer: %s, body_len 5: %s, trailer passed on: %s" % (
    status(text), '"body_len": 5' in text, "6.6.6.6" in text))
PY
)
echo "$OUT"
contains "a header name with a space before the colon is refused" "space before the colon: 400"
contains "every forwarding header family is dropped" "forwarding family: 200, passed on: False"
contains "a chunked body is framed again and its trailers dropped" "chunked with a trailer: 200, body_len 5: True, trailer passed on: False"

# Slow visitors hold a tunnel's streams for nothing (issue 18 item 5): a
# body that trickles gets 408 once body_timeout (5 s here) and its rate
# allowance are over; a visitor that reads none of a 50 MB answer is
# disconnected after send_timeout (5 s). A normal request meanwhile is
# served as usual.
OUT=$(python3 - "$HTTP" "$PREFIX" <<'PY'
import re, socket, sys, threading, time, urllib.request
port, prefix = int(sys.argv[1]), sys.argv[2]
def slow_body():
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(("POST %s/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n"
               % prefix).encode() + b"x" * 10)
    start = time.time()
    answer = b""
    try:
        for _ in range(25):
            s.sendall(b"x")
            s.settimeout(1)
            try:
                answer += s.recv(4096)
            except socket.timeout:
                pass
            if answer:
                break
    except OSError:
        pass
    m = re.search(rb"HTTP/1\.1 (\d{3})", answer)
    return (m.group(1).decode() if m else "none"), time.time() - start
def slow_read():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(30)
    s.connect(("127.0.0.1", port))
    s.sendall(("GET %s/big?mb=50 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % prefix).encode())
    time.sleep(9)  # reads nothing meanwhile
    got = 0
    start = time.time()
    try:
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)
            if time.time() - start > 20:
                return "still open after %d bytes" % got
    except OSError as e:
        return "reset after %d bytes" % got
    return "closed after %d bytes" % got
meanwhile = []
def normal():
    time.sleep(2)
    with urllib.request.urlopen("http://127.0.0.1:%d%s/echo" % (port, prefix), timeout=10) as r:
        meanwhile.append(r.status)
t = threading.Thread(target=normal)
t.start()
code, took = slow_body()
print("slow body: %s after %.1f s" % (code, took))
read = slow_read()
print("slow reader: %s" % read)
t.join()
print("a normal request meanwhile: %s" % meanwhile)
PY
)
echo "$OUT"
contains "a trickling request body gets 408" "slow body: 408"
case "$OUT" in *"slow reader: closed after"*|*"slow reader: reset after"*) pass "a visitor that reads nothing is disconnected" ;;
*) fail "slow reader kept: $OUT" ;; esac
contains "a normal request is served meanwhile" "a normal request meanwhile: [200]"

# A second agent for a device opens a second tunnel of the same device
# (weft tunnel run twice on one laptop), at its own path.
start_tunnel second dev-app "http://127.0.0.1:$APP"
[ "$URL" != "$APP_URL" ] && pass "a device holds a second tunnel at its own URL ($URL)" ||
  fail "second tunnel URL $URL"
check "both answer" 0 curl -fsS "${URL}echo"
check "the first still does" 0 curl -fsS "${APP_URL}echo"

# Visitors get a page, never an empty reply: 502 when the device's service
# refuses, 503 with Retry-After while the device is away.
DEAD_APP=$(free_port) # nothing listens here
start_tunnel refused dev-refused "http://127.0.0.1:$DEAD_APP"
CODE=$(curl -sS -o "$TMP/502.html" -w '%{http_code}' "${URL}anything" 2>&1)
[ "$CODE" = 502 ] && pass "a refusing service gives 502" || fail "refusing service: '$CODE' $(cat "$TMP/502.html")"
OUT=$(cat "$TMP/502.html")
contains "the 502 page says what happened" "refused or dropped the connection"
# A service that takes the request and closes without a word: 502 too,
# not an empty reply (curl exit 52).
HANGUP=$(free_port)
python3 "$(dirname "$0")/netkit.py" hangup-server "$HANGUP" >"$TMP/hangup.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $HANGUP))"
start_tunnel hangup dev-hangup "http://127.0.0.1:$HANGUP"
CODE=$(curl -sS -o "$TMP/hangup.html" -w '%{http_code}' "${URL}anything" 2>&1)
[ "$CODE" = 502 ] && pass "a service that closes without answering gives 502" ||
  fail "closing service: '$CODE' $(cat "$TMP/hangup.html" 2>/dev/null)"
"$WEFT" tunnel --device-id dev-gone "$CONN" "http://127.0.0.1:$APP" >"$TMP/gone.out" 2>&1 </dev/null &
GONE=$!
STARTED_PIDS+=("$GONE")
wait_for 20 grep -q "is reachable at" "$TMP/gone.out" || fail "gone: $(cat "$TMP/gone.out")"
GONE_URL=$(sed -n 's/.*is reachable at \(http[^ ]*\).*/\1/p' "$TMP/gone.out" | head -n 1)
kill -9 "$GONE"
wait "$GONE" 2>/dev/null
offline() {
  curl -sS -D "$TMP/503.head" -o "$TMP/503.html" "${GONE_URL}x" >/dev/null 2>&1
  grep -q "^HTTP/1.1 503" "$TMP/503.head"
}
if wait_for 10 offline; then pass "a device that is gone gives 503"; else fail "device gone: $(cat "$TMP/503.head" "$TMP/503.html" 2>&1)"; fi
OUT=$(cat "$TMP/503.head" "$TMP/503.html")
contains "503 says when to try again" "Retry-After: 5"
contains "the 503 page says what happened" "offline or reconnecting"
# 504 when the service takes the request and says nothing (response_timeout
# = 4s here).
SILENT=$(free_port)
python3 "$(dirname "$0")/netkit.py" silent-server "$SILENT" >"$TMP/silent.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $SILENT))"
start_tunnel silent dev-silent "http://127.0.0.1:$SILENT"
START=$(date +%s)
CODE=$(curl -sS -m 30 -o "$TMP/504.html" -w '%{http_code}' "${URL}slow" 2>&1)
WAITED=$(($(date +%s) - START))
[ "$CODE" = 504 ] && [ "$WAITED" -ge 3 ] && pass "a silent service gives 504 after the timeout (${WAITED} s)" \
  || fail "silent service: '$CODE' after ${WAITED} s: $(cat "$TMP/504.html")"
OUT=$(cat "$TMP/504.html")
contains "the 504 page says what happened" "did not answer in time"

finish
