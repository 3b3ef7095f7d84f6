#!/usr/bin/env bash
# What the console's live updates cost the server: 1,000 tunnels whose
# traffic moves once a second (a datagram to each one's public UDP port
# every second), first with nobody following GET /v1/events, then with a
# subscriber reading the stream. The server's CPU (utime + stime from
# /proc) over each window; the difference is the live updates' cost
# (issue 20's target: under 5% of one core).
#
#   bench/events.sh                 1000 tunnels, 20 s windows
#   TUNNELS=200 SECONDS_EACH=10 bench/events.sh
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
WEFT="$top/build/weft"
TRANSPORT_DIR="$top/build/tests/transport"
TUNNELS=${TUNNELS:-1000}
SECONDS_EACH=${SECONDS_EACH:-20}
[ -x "$WEFT" ] || { echo "$WEFT is missing: build first (scripts/build.sh build)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/weft-eventsbench.XXXXXX)
export WEFT_STATE_DIR="$TMP/agent-state"
cleanup() {
  stop_all
  rm -rf "$TMP"
}
trap cleanup EXIT

CTL=$(port)
cat >"$TMP/weft.conf" <<CONF
[server]
listen = 127.0.0.1:$CTL
http_listen = off
tls_listen = off
max_tunnels = 20000
port_range = 30000-39999

[class "default"]
publish_ports = 1024-65535
max_tunnels = 10000
CONF
bg "$WEFT" server --config "$TMP/weft.conf" --state-dir "$TMP/state" --plugin-dir "$TRANSPORT_DIR"
SERVER=${PIDS[-1]}
wait_port "$CTL" || exit 1
CONN="weft://$(cat "$TMP/state/secret")@127.0.0.1:$CTL"
TOKEN=$("$WEFT" login "$CONN" --device-id bench)
KEY=$("$WEFT" user add watcher --role viewer --state-dir "$TMP/state" | tail -n 1)

say "events: $TUNNELS udp tunnels, one datagram to each a second, ${SECONDS_EACH} s without and with a subscriber"
python3 - "$CTL" "$TOKEN" "$KEY" "$TUNNELS" "$SECONDS_EACH" "$SERVER" <<'PY'
import http.client, json, os, socket, sys, threading, time
ctl, token, key, count, secs, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
conn = http.client.HTTPConnection("127.0.0.1", ctl, timeout=30)
H = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
ports = []
for i in range(count):
    body = json.dumps({"transport": "testtransport", "local": "udp://127.0.0.1:9",
                       "remote": "udp://:%d" % (30000 + i)})
    conn.request("POST", "/v1/tunnels", body, H)
    r = conn.getresponse()
    doc = json.loads(r.read())
    if r.status != 201:
        sys.exit("tunnel %d: %s" % (i, doc))
    ports.append(30000 + i)
tick = os.sysconf("SC_CLK_TCK")
def cpu():
    f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tick
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
def window():
    """Each tunnel's traffic moves once a second for secs seconds: the
    server's CPU meanwhile, as a share of one core."""
    c0, t0 = cpu(), time.time()
    for s in range(secs):
        for p in ports:
            udp.sendto(b"x", ("127.0.0.1", p))
        time.sleep(max(0, t0 + s + 1 - time.time()))
    return (cpu() - c0) / (time.time() - t0) * 100
time.sleep(2)
without = window()
got = {"bytes": 0, "traffic": 0, "entries": 0}
sub = socket.create_connection(("127.0.0.1", ctl))
sub.sendall(("GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n" % key).encode())
def read():
    buf = b""
    while True:
        d = sub.recv(65536)
        if not d:
            return
        got["bytes"] += len(d)
        buf += d
        while b"\n\n" in buf:
            ev, buf = buf.split(b"\n\n", 1)
            if ev.startswith(b"event: traffic"):
                got["traffic"] += 1
                got["entries"] += ev.count(b'"id"')
threading.Thread(target=read, daemon=True).start()
time.sleep(1.5)
b0 = got["bytes"]; e0 = got["entries"]
with_sub = window()
print("%-34s %8s" % ("", "CPU % of one core"))
print("%-34s %8.2f" % ("1,000 tunnels, nobody following" if count == 1000 else "%d tunnels, nobody following" % count, without))
print("%-34s %8.2f" % ("the same, one subscriber", with_sub))
print("%-34s %8.2f" % ("the live updates' cost", with_sub - without))
print("subscriber got %.0f tunnel updates/s in %d traffic events, %.0f KB/s" %
      ((got["entries"] - e0) / secs, got["traffic"], (got["bytes"] - b0) / secs / 1000))
PY
