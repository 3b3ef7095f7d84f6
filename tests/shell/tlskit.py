#!/usr/bin/env python3
"""Visitors of the server's public TLS port, good and bad, for vhost.sh.

  tlskit.py bad HOST PORT TIMEOUT     every malformed hello in turn: each must
                                      be closed by the server within TIMEOUT
  tlskit.py split HOST PORT NAME CA   a real handshake whose ClientHello goes
                                      out one byte per segment; prints the
                                      certificate subject the server showed
  tlskit.py slow HOST PORT NAME LIMIT one byte a second; the server must close
                                      within LIMIT seconds
  tlskit.py resets HOST PORT NAME N   N visitors of NAME, each sending its
                                      ClientHello and then resetting (RST)
  tlskit.py flood HOST PORT N         N visitors that send a record header
                                      promising 16 KiB and then nothing; holds
                                      them 2 s and prints how many were open
"""
import socket
import ssl
import struct
import sys
import time


def ext(kind, body):
    return struct.pack("!HH", kind, len(body)) + body


def sni(*names):
    entries = b"".join(b"\x00" + struct.pack("!H", len(n)) + n for n in names)
    return ext(0, struct.pack("!H", len(entries)) + entries)


def hello(extensions, version=0x0303):
    """A ClientHello built by hand, so that each field can be wrong."""
    body = struct.pack("!H", version) + b"\x11" * 32 + b"\x00"
    body += struct.pack("!H", 2) + b"\x13\x01" + b"\x01\x00"
    exts = b"".join(extensions)
    body += struct.pack("!H", len(exts)) + exts
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def real_hello(name):
    """The ClientHello Python's OpenSSL sends for name, and its SSLObject."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read(), obj, inc, out


def closed_within(sock, limit):
    """True when the server ends the connection (FIN or reset) in time."""
    sock.settimeout(limit)
    start = time.time()
    try:
        while time.time() - start < limit:
            data = sock.recv(65536)
            if not data:
                return True, time.time() - start
    except (ConnectionResetError, BrokenPipeError):
        return True, time.time() - start
    except socket.timeout:
        return False, limit
    return False, limit


def bad(host, port, limit):
    good_sni = sni(b"a.example.test")
    cases = {
        "truncated": hello([good_sni])[:40],
        "two server names": hello([sni(b"a.example.test", b"b.example.test")]),
        "duplicated server_name extension": hello([good_sni, good_sni]),
        "NUL in the name": hello([sni(b"a.example\x00.test")]),
        "name length overflowing its list":
            hello([ext(0, b"\x00\x10\x00\xff\xffa.example.test")]),
        "extensions length overflowing the hello":
            hello([good_sni])[:-len(good_sni)] + b"\xff\xff",
        "record length over 2^14": b"\x16\x03\x01\xff\xff" + b"\x01" * 64,
        "SSLv2-style hello": b"\x80\x2e\x01\x03\x01" + b"\x00" * 45,
        "not TLS at all": b"SSH-2.0-OpenSSH_9.2\r\n",
        "no server name": hello([]),
        "an IP literal as the name": hello([sni(b"127.0.0.1")]),
        "an unknown name": hello([sni(b"nobody.example.test")]),
    }
    failed = 0
    for what, data in cases.items():
        s = socket.create_connection((host, port), timeout=5)
        try:
            s.sendall(data)
        except OSError:
            pass
        ok, took = closed_within(s, limit)
        s.close()
        print("%s: %s (%.2fs)" % (what, "closed" if ok else "STILL OPEN", took))
        failed += not ok
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: a.example.test\r\n\r\n")
    s.settimeout(limit)
    answer = b""
    try:
        while True:
            data = s.recv(4096)
            if not data:
                break
            answer += data
    except OSError:
        pass
    s.close()
    plain_ok = answer.startswith(b"HTTP/1.1 400") and b"speaks TLS" in answer
    print("plain HTTP: %s" % (answer.split(b"\r\n")[0].decode(errors="replace")
                              if answer else "no answer"))
    failed += not plain_ok
    sys.exit(1 if failed else 0)


def split(host, port, name, ca):
    """The hello one byte per TCP segment, then a real handshake."""
    ctx = ssl.create_default_context(cafile=ca)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=name)
    s = socket.create_connection((host, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    first = True
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            pass
        data = out.read()
        if first:
            for b in data:
                s.send(bytes([b]))
                time.sleep(0.001)
            first = False
        elif data:
            s.sendall(data)
        got = s.recv(65536)
        if not got:
            sys.exit("closed during the handshake")
        inc.write(got)
    if out.pending:
        s.sendall(out.read())
    cert = obj.getpeercert()
    subject = dict(x[0] for x in cert["subject"])
    print("handshake done; certificate CN=%s" % subject.get("commonName"))
    s.close()


def slow(host, port, name, limit):
    data, _, _, _ = real_hello(name)
    s = socket.create_connection((host, port), timeout=5)
    s.settimeout(1.0)
    start = time.time()
    for b in data:
        if time.time() - start > limit:
            break
        try:
            s.send(bytes([b]))
            if not s.recv(1):
                break
        except socket.timeout:
            continue
        except OSError:
            break
    took = time.time() - start
    s.close()
    print("slowloris closed after %.1fs" % took)
    sys.exit(0 if took < limit else 1)


def resets(host, port, name, n):
    """Connections that end in a reset once the device answered: each is a
    stream the server opened to the device and then resets."""
    data, _, _, _ = real_hello(name)
    start = time.time()
    done = 0
    for _ in range(n):
        if time.time() - start > 60:
            break
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(data)
        try:
            s.recv(1)  # the device's ServerHello: its stream is open
        except OSError:
            pass
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
        s.close()
        done += 1
    print("%d resets in %.1fs" % (done, time.time() - start))


def flood(host, port, n):
    socks = []
    for _ in range(n):
        try:
            s = socket.create_connection((host, port), timeout=5)
            s.sendall(b"\x16\x03\x01\x40\x00")
            socks.append(s)
        except OSError:
            break
    time.sleep(2)
    print("%d visitors held" % len(socks))
    for s in socks:
        s.close()


if __name__ == "__main__":
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "bad":
        bad(a[0], int(a[1]), float(a[2]))
    elif cmd == "split":
        split(a[0], int(a[1]), a[2], a[3])
    elif cmd == "slow":
        slow(a[0], int(a[1]), a[2], float(a[3]))
    elif cmd == "resets":
        resets(a[0], int(a[1]), a[2], int(a[3]))
    elif cmd == "flood":
        flood(a[0], int(a[1]), int(a[2]))
    else:
        sys.exit(__doc__)
