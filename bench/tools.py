#!/usr/bin/python3
"""Helpers for bench/run.sh (loopback only, bounded).

  tools.py first-byte HOST PORT N         p50/p99 ms of connect + request +
                                          first byte of the answer, N times
  tools.py hold-sessions URL TOKENS_FILE  opens one WebSocket per token and
                                          holds them until stdin closes
  tools.py hold-streams HOST PORT N       opens N connections through an echo
                                          and holds them until stdin closes
  tools.py ports-echo HOST FIRST N SECS   until every port FIRST..FIRST+N-1
                                          echoes a byte (or SECS pass):
                                          prints seconds taken and how many
  tools.py api-latency URL TOKEN SECS     GETs URL with the token in a loop
                                          for SECS: prints count, p50, p99,
                                          max ms and failures
"""
import asyncio
import socket
import statistics
import sys
import time


def first_byte(host, port, n):
    times = []
    req = b"GET /1k HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
    for _ in range(n):
        start = time.perf_counter()
        s = socket.create_connection((host, port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(req)
        s.recv(1)
        times.append((time.perf_counter() - start) * 1000)
        s.close()
    times.sort()
    print("%.3f %.3f" % (statistics.median(times), times[int(len(times) * 0.99) - 1]))


async def hold_sessions(url, tokens_file):
    import ssl
    import websockets
    tokens = [t.strip() for t in open(tokens_file) if t.strip()]
    tls = None
    if url.startswith("wss:"):
        # The bench measures the server's memory, not who it is.
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    conns = []
    for i in range(0, len(tokens), 100):
        batch = tokens[i:i + 100]
        conns += await asyncio.gather(*(websockets.connect(
            url, extra_headers={"Authorization": "Bearer " + t},
            ping_interval=None, open_timeout=30, ssl=tls) for t in batch))
    print("holding %d sessions" % len(conns), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for c in conns:
        await c.close()


async def hold_streams(host, port, n):
    conns = []
    for i in range(0, n, 500):
        async def one():
            r, w = await asyncio.open_connection(host, port)
            w.write(b"x")
            await w.drain()
            await r.readexactly(1)
            return w
        conns += await asyncio.gather(*(one() for _ in range(min(500, n - i))))
    print("holding %d streams" % len(conns), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for w in conns:
        w.close()


async def ports_echo(host, first, n, secs):
    start = time.monotonic()
    left = set(range(first, first + n))
    sem = asyncio.Semaphore(200)

    async def one(port):
        async with sem:
            try:
                r, w = await asyncio.wait_for(
                    asyncio.open_connection(host, port), 2)
                try:
                    w.write(b"x")
                    await w.drain()
                    if await asyncio.wait_for(r.readexactly(1), 2) == b"x":
                        left.discard(port)
                finally:
                    w.close()
            except (OSError, asyncio.TimeoutError,
                    asyncio.IncompleteReadError):
                pass

    while left and time.monotonic() - start < secs:
        await asyncio.gather(*(one(p) for p in sorted(left)))
        if left:
            await asyncio.sleep(0.1)
    print("%.2f %d" % (time.monotonic() - start, n - len(left)))


def api_latency(url, token, secs):
    import http.client
    import urllib.parse
    u = urllib.parse.urlsplit(url)
    times, failures = [], 0
    end = time.monotonic() + secs
    while time.monotonic() < end:
        start = time.perf_counter()
        try:
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
            c.request("GET", u.path, headers={"Authorization": "Bearer " + token})
            ok = c.getresponse().status == 200
            c.close()
        except OSError:
            ok = False
        if ok:
            times.append((time.perf_counter() - start) * 1000)
        else:
            failures += 1
        time.sleep(0.02)
    times.sort()
    if not times:
        print("0 - - - %d" % failures)
        return
    print("%d %.2f %.2f %.2f %d" % (len(times), statistics.median(times),
                                   times[max(0, int(len(times) * 0.99) - 1)],
                                   times[-1], failures))


if __name__ == "__main__":
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "first-byte":
        first_byte(a[0], int(a[1]), int(a[2]))
    elif cmd == "hold-sessions":
        asyncio.run(hold_sessions(a[0], a[1]))
    elif cmd == "hold-streams":
        asyncio.run(hold_streams(a[0], int(a[1]), int(a[2])))
    elif cmd == "ports-echo":
        asyncio.run(ports_echo(a[0], int(a[1]), int(a[2]), float(a[3])))
    elif cmd == "api-latency":
        api_latency(a[0], a[1], float(a[2]))
