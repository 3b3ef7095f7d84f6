#!/usr/bin/python3
"""HTTP services and clients for the process-level tests (loopback only,
every transfer bounded).

  httpkit.py serve PORT            the local web app (see Handler)
  httpkit.py ws-echo PORT          a WebSocket echo server (python3-websockets)
  httpkit.py ws-client URL         sends a few messages through URL, checks echoes
  httpkit.py upload URL MB         POSTs MB of random bytes; checks the sha256
  httpkit.py download URL MB       GETs URL?mb=MB; checks the sha256
"""
import asyncio
import hashlib
import http.client
import json
import os
import ssl
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def pattern(mb):
    """Deterministic bytes, so both ends know the checksum."""
    block = hashlib.sha256(b"weft").digest() * 2048  # 64 KiB
    for _ in range(mb * 16):
        yield block


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self):
        h = hashlib.sha256()
        n = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data = self.rfile.read(size)
                h.update(data)
                n += len(data)
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left:
                data = self.rfile.read(min(left, 1 << 20))
                h.update(data)
                n += len(data)
                left -= len(data)
        return n, h.hexdigest()

    def answer(self, status, payload, ctype="application/json"):
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        if url.path == "/big":
            mb = int(q.get("mb", ["1"])[0])
            self.send_response(200)
            self.send_header("Content-Length", str(mb << 20))
            self.end_headers()
            for block in pattern(mb):
                self.wfile.write(block)
            return
        if url.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(5):
                piece = ("part %d\n" % i).encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
                time.sleep(0.05)  # streamed: each part on its own
            self.wfile.write(b"0\r\n\r\n")
            return
        n, digest = self.body()
        self.answer(200, {
            "served_by": SERVED_BY,
            "method": self.command, "path": self.path, "body_len": n,
            "body_sha256": digest,
            "headers": {k.lower(): v for k, v in self.headers.items()}})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = handle_any
    do_HEAD = handle_any


SERVED_BY = "httpkit"


def serve(port):
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def serve_tls(port, cert, key, name):
    """The same app over HTTPS with its own certificate, as a device that
    terminates TLS itself (SNI passthrough) would run it."""
    global SERVED_BY
    SERVED_BY = name
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


def ws_echo(port):
    import websockets

    async def echo(ws, path=None):
        async for msg in ws:
            await ws.send(msg)

    async def main():
        async with websockets.serve(echo, "127.0.0.1", port):
            await asyncio.Future()
    asyncio.run(main())


def ws_client(url):
    import websockets

    async def main():
        async with websockets.connect(url, open_timeout=10) as ws:
            for i in range(20):
                msg = os.urandom(100 + i * 500)
                await ws.send(msg)
                got = await asyncio.wait_for(ws.recv(), 10)
                if got != msg:
                    raise SystemExit("ws-client: echo %d differs" % i)
        print("ws-client: 20 messages echoed through %s" % url)
    asyncio.run(main())


def connection(url):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port or 80, timeout=60), u


def upload(url, mb):
    conn, u = connection(url)
    h = hashlib.sha256()
    blocks = [os.urandom(1 << 20) for _ in range(4)]

    def gen():
        for i in range(mb):
            b = blocks[i % 4]
            h.update(b)
            yield b
    start = time.time()
    conn.request("POST", u.path or "/", body=gen(), encode_chunked=True,
                 headers={"Transfer-Encoding": "chunked"})
    reply = json.loads(conn.getresponse().read())
    ok = reply["body_sha256"] == h.hexdigest() and reply["body_len"] == mb << 20
    print("upload %d MB (chunked) in %.2fs: %s" % (mb, time.time() - start,
                                                   "sha256 match" if ok else "MISMATCH"))
    sys.exit(0 if ok else 1)


def download(url, mb):
    conn, u = connection(url)
    start = time.time()
    conn.request("GET", "%s?mb=%d" % (u.path, mb))
    resp = conn.getresponse()
    h = hashlib.sha256()
    n = 0
    while True:
        data = resp.read(1 << 20)
        if not data:
            break
        h.update(data)
        n += len(data)
    want = hashlib.sha256()
    for block in pattern(mb):
        want.update(block)
    ok = n == mb << 20 and h.hexdigest() == want.hexdigest()
    print("download %d MB in %.2fs: %s" % (mb, time.time() - start,
                                           "sha256 match" if ok else "MISMATCH"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"serve": lambda: serve(int(args[0])),
     "serve-tls": lambda: serve_tls(int(args[0]), args[1], args[2], args[3]),
     "ws-echo": lambda: ws_echo(int(args[0])),
     "ws-client": lambda: ws_client(args[0]),
     "upload": lambda: upload(args[0], int(args[1])),
     "download": lambda: download(args[0], int(args[1]))}[cmd]()
