#!/usr/bin/python3
"""A console terminal's other end, for tests (python3-websockets): opens
GET /v1/devices/ID/terminal as a WebSocket and plays a script against the
terminal's output.

  terminal_client.py URL [--key KEY] [--origin O] [--csrf T] [--cookie C]
                     [--expect TEXT --send TEXT]... [--hold SECONDS]
                     [--close]

Each --expect waits (10 s at most) for TEXT in what the terminal showed
since the last match, then its --send (with \\n for Enter) is typed. After
the script, the client waits for the server's end message (0x03), unless
--close (it closes first) or --hold (it stays silent that long first).
Prints the output, then "END: sentence" or "HTTP STATUS: body"; exits 0,
or 1 when an expectation was not met or the upgrade was refused."""
import argparse
import asyncio
import ssl
import struct
import sys

import websockets

START, DATA, SIZE, END = 2, 0, 1, 3


async def main(a):
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    headers = {}
    if a.key:
        headers["Authorization"] = "Bearer " + a.key
    if a.cookie:
        headers["Cookie"] = a.cookie
    try:
        ws = await websockets.connect(a.url, ssl=tls, origin=a.origin,
                                      extra_headers=headers, open_timeout=20)
    except websockets.exceptions.InvalidStatusCode as e:
        print("HTTP %d" % e.status_code)
        return 1
    shown = bytearray()
    seen = 0
    end = None
    await ws.send(bytes([START]) + struct.pack(">HH", 80, 24) +
                  a.csrf.encode())

    async def take(deadline):
        nonlocal end
        msg = await asyncio.wait_for(ws.recv(), deadline)
        if msg[0] == DATA:
            shown.extend(msg[1:])
        elif msg[0] == END:
            end = msg[1:].decode()

    loop = asyncio.get_running_loop()
    for want, send in zip(a.expect, a.send):
        stop = loop.time() + 10
        while want.encode() not in shown[seen:]:
            if end is not None or loop.time() >= stop:
                print(shown.decode(errors="replace"))
                print("MISSING: %r" % want)
                print("END: %s" % end)
                return 1
            try:
                await take(stop - loop.time())
            except (asyncio.TimeoutError, websockets.ConnectionClosed):
                break
        seen = shown.index(want.encode(), seen) + len(want)
        await ws.send(bytes([SIZE]) + struct.pack(">HH", 100, 30))
        await ws.send(bytes([DATA]) + send.replace("\\n", "\n").encode())
    if a.hold:
        await asyncio.sleep(a.hold)
    if a.close:
        await ws.close()
    else:
        stop = loop.time() + 30
        while end is None and loop.time() < stop:
            try:
                await take(stop - loop.time())
            except (asyncio.TimeoutError, websockets.ConnectionClosed):
                break
    print(shown.decode(errors="replace"))
    print("END: %s" % end)
    return 0


p = argparse.ArgumentParser()
p.add_argument("url")
p.add_argument("--key")
p.add_argument("--origin")
p.add_argument("--cookie")
p.add_argument("--csrf", default="")
p.add_argument("--expect", action="append", default=[])
p.add_argument("--send", action="append", default=[])
p.add_argument("--hold", type=float, default=0)
p.add_argument("--close", action="store_true")
sys.exit(asyncio.run(main(p.parse_args())))
