#!/usr/bin/env python3
"""Small network tools for the process-level tests (servers and clients on
loopback). Every operation is bounded in bytes, connections and time.

  netkit.py echo-server PORT              TCP echo (asyncio), until killed
  netkit.py bulk-server PORT MB           sends MB megabytes to each client
  netkit.py roundtrip HOST PORT MB        sends MB through an echo and checks
                                          the sha256 of what comes back
  netkit.py concurrent HOST PORT N KB     N connections at once, KB each
  netkit.py slow-reader HOST PORT SEC     connects, reads nothing for SEC s
  netkit.py hangup-server PORT            reads what a client sends first,
                                          then closes without a word
  netkit.py udp-echo-server PORT PEERFILE UDP echo; writes the number of
                                          distinct peers it has seen to PEERFILE
  netkit.py udp-check HOST PORT PEERS N   from PEERS sockets, N datagrams each
                                          (sizes 1..1400, then one of 65000): each
                                          answer must come back whole, to the
                                          socket that sent it
  netkit.py swap-server PORT FILE OUT     to each client: sends FILE, then
                                          FIN, while it reads the client's
                                          bytes to their FIN; appends their
                                          sha256 and length to OUT
  netkit.py swap HOST PORT FILE           the client's side of that: prints
                                          the sha256 and length it received
  netkit.py tcp-relay PORT TARGET         passes bytes to 127.0.0.1:TARGET
  netkit.py hold-relay PORT TARGET        tcp-relay, and on SIGUSR1 cuts every
                                          connection but the one that carried
                                          the most bytes and holds new ones
                                          (accepted, never passed on) until
                                          SIGUSR2; prints what it does
  netkit.py gaps HOST PORT SECS           through an echo: 1 MB first, then
                                          one byte every 10 ms for SECS s;
                                          prints the longest wait between two
                                          answers (max_gap_ms=...)
  netkit.py tls-relay PORT TARGET CERT KEY
                                          a man in the middle: ends the
                                          client's TLS with CERT/KEY and
                                          opens its own to TARGET
"""
import asyncio
import hashlib
import os
import socket
import ssl
import sys
import time


async def echo_handler(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


def echo_server(port):
    async def main():
        server = await asyncio.start_server(echo_handler, "127.0.0.1", port,
                                            backlog=2048)
        async with server:
            await server.serve_forever()
    asyncio.run(main())


def bulk_server(port, mb):
    async def handler(reader, writer):
        chunk = os.urandom(65536)
        try:
            for _ in range(mb * 16):
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        writer.close()

    async def main():
        server = await asyncio.start_server(handler, "127.0.0.1", port)
        async with server:
            await server.serve_forever()
    asyncio.run(main())


def roundtrip(host, port, mb):
    """Writes and reads at once (a full-duplex echo), so both directions
    and their flow control are exercised together."""
    total = mb * 1024 * 1024
    sent_hash, recv_hash = hashlib.sha256(), hashlib.sha256()
    s = socket.create_connection((host, port), timeout=30)
    s.setblocking(False)
    block = os.urandom(65536)
    sent = received = 0
    start = time.time()
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    while received < total:
        if time.time() - start > 120:
            raise SystemExit("roundtrip: timed out after %d of %d bytes"
                             % (received, total))
        for key, events in sel.select(timeout=1):
            if events & selectors.EVENT_WRITE and sent < total:
                piece = block[:min(len(block), total - sent)]
                try:
                    n = s.send(piece)
                    sent_hash.update(piece[:n])
                    sent += n
                except BlockingIOError:
                    pass
                if sent == total:
                    sel.modify(s, selectors.EVENT_READ)
            if events & selectors.EVENT_READ:
                try:
                    data = s.recv(262144)
                except BlockingIOError:
                    continue
                if not data:
                    raise SystemExit("roundtrip: closed after %d bytes"
                                     % received)
                recv_hash.update(data)
                received += len(data)
    s.close()
    secs = time.time() - start
    ok = sent_hash.hexdigest() == recv_hash.hexdigest()
    print("roundtrip %d MB in %.2fs (%.0f MB/s each way): %s"
          % (mb, secs, mb / secs, "sha256 match" if ok else "MISMATCH"))
    sys.exit(0 if ok else 1)


def concurrent(host, port, n, kb):
    async def one(i):
        payload = os.urandom(kb * 1024)
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(payload)
        await writer.drain()
        got = await reader.readexactly(len(payload))
        writer.close()
        return got == payload

    async def main():
        start = time.time()
        results = await asyncio.wait_for(
            asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True),
            timeout=120)
        good = sum(1 for r in results if r is True)
        print("concurrent: %d/%d connections echoed %d KB intact in %.2fs"
              % (good, n, kb, time.time() - start))
        errors = [r for r in results if r is not True]
        if errors:
            print("first failure:", repr(errors[0]))
        return good == n
    sys.exit(0 if asyncio.run(main()) else 1)


def slow_reader(host, port, secs):
    s = socket.create_connection((host, port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    time.sleep(secs)
    got = s.recv(65536)
    print("slow reader: still connected, read %d bytes after %ds"
          % (len(got), secs))
    s.close()


def udp_echo_server(port, peer_file):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("127.0.0.1", port))
    peers = set()
    while True:
        data, addr = s.recvfrom(65536)
        if addr not in peers:
            peers.add(addr)
            with open(peer_file + ".tmp", "w") as f:
                f.write("%d\n" % len(peers))
            os.replace(peer_file + ".tmp", peer_file)
        s.sendto(data, addr)


def udp_check(host, port, peers, n):
    socks = []
    for _ in range(peers):
        sk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sk.settimeout(2)
        sk.connect((host, port))
        socks.append(sk)
    ok = bad = lost = retried = 0
    sizes = [1 + (i * 97) % 1400 for i in range(n)] + [65000]
    start = time.time()
    for i, size in enumerate(sizes):
        for p, sk in enumerate(socks):
            tag = b"%d/%d/" % (p, i)
            data = (tag * (size // len(tag) + 1))[:size] if size >= len(tag) else tag[:size]
            # UDP may drop a datagram on a loaded machine: like any UDP
            # client, send it again (twice at most) before calling it lost.
            for attempt in range(3):
                sk.send(data)
                try:
                    got = sk.recv(65536)
                    if got == data:
                        ok += 1
                    else:
                        bad += 1
                    break
                except socket.timeout:
                    if attempt == 2:
                        lost += 1
                    else:
                        retried += 1
    secs = time.time() - start
    total = len(sizes) * peers
    print("udp: %d of %d datagrams answered whole to their own peer, %d wrong, "
          "%d lost, %d sent again, %.0f round trips/s"
          % (ok, total, bad, lost, retried, total / secs))
    sys.exit(0 if ok == total else 1)


async def pump(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def swap_files(reader, writer, path):
    """Sends the file at path, then FIN, while hashing what comes in up to
    the peer's FIN: both directions and both half-closes at once."""
    async def send():
        with open(path, "rb") as f:
            while chunk := f.read(65536):
                writer.write(chunk)
                await writer.drain()
        writer.write_eof()

    async def receive():
        digest, n = hashlib.sha256(), 0
        while data := await reader.read(262144):
            digest.update(data)
            n += len(data)
        return digest.hexdigest(), n

    _, got = await asyncio.gather(send(), receive())
    # drain() leaves up to the high-water mark (64 KiB) in asyncio's own
    # buffer, and write_eof() only marks it: the bytes leave once the
    # transport flushes, which wait_closed() waits for. Returning before
    # (and ending the loop) would drop the file's tail here, not in Weft.
    writer.close()
    try:
        await writer.wait_closed()
    except (ConnectionError, OSError):
        pass
    return got


def swap_server(port, path, out):
    async def handle(reader, writer):
        try:
            digest, n = await swap_files(reader, writer, path)
        except (ConnectionError, OSError) as e:
            digest, n = "error:%s" % type(e).__name__, 0
        with open(out, "a") as f:
            f.write("%s %d\n" % (digest, n))

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        async with server:
            await server.serve_forever()
    asyncio.run(main())


def swap(host, port, path):
    async def main():
        reader, writer = await asyncio.open_connection(host, port)
        return await swap_files(reader, writer, path)
    start = time.time()
    digest, n = asyncio.run(asyncio.wait_for(main(), 120))
    print("swap: received %d bytes in %.2fs, sha256 %s"
          % (n, time.time() - start, digest))


def relay(port, target, server_ctx=None, client_ctx=None):
    async def handle(reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(
                "127.0.0.1", target, ssl=client_ctx,
                server_hostname="" if client_ctx else None)
        except (ConnectionError, OSError, ssl.SSLError):
            writer.close()
            return
        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", port,
                                            ssl=server_ctx)
        print("relay listening on %d" % port, flush=True)
        async with server:
            await server.serve_forever()
    asyncio.run(main())


def hold_relay(port, target):
    conns = []   # [bytes carried, writers of both ends]
    held = []
    holding = False

    async def pump_counted(reader, writer, conn):
        try:
            while data := await reader.read(65536):
                conn[0] += len(data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def handle(reader, writer):
        if holding:
            held.append(writer)
            print("held a new connection (%d held)" % len(held), flush=True)
            await reader.read()  # until the client gives up
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(
                "127.0.0.1", target)
        except (ConnectionError, OSError):
            writer.close()
            return
        conn = [0, writer, up_writer]
        conns.append(conn)
        await asyncio.gather(pump_counted(reader, up_writer, conn),
                             pump_counted(up_reader, writer, conn))
        conns.remove(conn)

    def hold():
        nonlocal holding
        holding = True
        keep = max(conns, key=lambda c: c[0], default=None)
        for c in conns:
            if c is not keep:
                c[1].transport.abort()
                c[2].transport.abort()
        print("holding; kept one connection of %d bytes, cut %d" %
              (keep[0] if keep else 0, len(conns) - 1), flush=True)

    def release():
        nonlocal holding
        holding = False
        for w in held:
            w.transport.abort()
        print("released %d held connection(s)" % len(held), flush=True)
        held.clear()

    async def main():
        import signal
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, hold)
        loop.add_signal_handler(signal.SIGUSR2, release)
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        print("relay listening on %d" % port, flush=True)
        async with server:
            await server.serve_forever()
    asyncio.run(main())


def gaps(host, port, secs):
    s = socket.create_connection((host, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    block = os.urandom(65536)
    got = 0
    for _ in range(16):
        s.sendall(block)
    while got < 16 * len(block):
        got += len(s.recv(1 << 20))
    print("warm: 1 MB echoed", flush=True)
    last = start = time.monotonic()
    waits = []
    while time.monotonic() - start < secs:
        s.sendall(b"x")
        if not s.recv(1):
            raise SystemExit("the echo closed")
        now = time.monotonic()
        waits.append(now - last)
        last = now
        time.sleep(0.01)
    waits.sort()
    print("max_gap_ms=%.1f p99_ms=%.1f over_100ms=%d answers=%d" %
          (waits[-1] * 1000, waits[len(waits) * 99 // 100] * 1000,
           sum(w > 0.1 for w in waits), len(waits)), flush=True)


def silent_server(port):
    """Accepts connections, reads what comes, and never answers."""
    async def handle(reader, writer):
        while await reader.read(65536):
            pass
        writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def hangup_server(port):
    """Accepts connections, reads the first bytes, closes without answering
    (a service that dies on a request)."""
    async def handle(reader, writer):
        await reader.read(65536)
        writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def tls_relay(port, target, cert, key):
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    relay(port, target, server_ctx, client_ctx)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "echo-server":
        echo_server(int(args[0]))
    elif cmd == "bulk-server":
        bulk_server(int(args[0]), int(args[1]))
    elif cmd == "roundtrip":
        roundtrip(args[0], int(args[1]), int(args[2]))
    elif cmd == "concurrent":
        concurrent(args[0], int(args[1]), int(args[2]), int(args[3]))
    elif cmd == "slow-reader":
        slow_reader(args[0], int(args[1]), int(args[2]))
    elif cmd == "udp-echo-server":
        udp_echo_server(int(args[0]), args[1])
    elif cmd == "udp-check":
        udp_check(args[0], int(args[1]), int(args[2]), int(args[3]))
    elif cmd == "swap-server":
        swap_server(int(args[0]), args[1], args[2])
    elif cmd == "swap":
        swap(args[0], int(args[1]), args[2])
    elif cmd == "tcp-relay":
        relay(int(args[0]), int(args[1]))
    elif cmd == "hold-relay":
        hold_relay(int(args[0]), int(args[1]))
    elif cmd == "gaps":
        gaps(args[0], int(args[1]), float(args[2]))
    elif cmd == "silent-server":
        silent_server(int(args[0]))
    elif cmd == "hangup-server":
        hangup_server(int(args[0]))
    elif cmd == "tls-relay":
        tls_relay(int(args[0]), int(args[1]), args[2], args[3])
    else:
        raise SystemExit(__doc__)
