"""The TLS channel binding of the login: the TLS exporter (RFC 9266,
label "EXPORTER-Channel-Binding", no context, 32 bytes), which the server
takes with SSL_export_keying_material.

Python's ssl module has no exporter and no tls-exporter channel binding
(only tls-unique, which TLS 1.3 lacks). It does have keylog_filename, and
OpenSSL logs every TLS 1.3 connection's EXPORTER_SECRET there; with that
secret the exporter is RFC 8446 section 7.5's two HKDF-Expand-Label steps,
computed here with hashlib and hmac. So a login connection:

- is TLS 1.3 only (TLS 1.2's exporter needs the server's random, which no
  log line carries);
- has an SSLContext of its own, whose key log is a pipe read right after
  the handshake: one connection's lines, never written to disk.
"""

import hashlib
import hmac
import os
import ssl
import tempfile

from .errors import LoginError

LABEL = b"EXPORTER-Channel-Binding"
LENGTH = 32


def _expand_label(hash_name, secret, label, context, length):
    """HKDF-Expand-Label (RFC 8446 section 7.1)."""
    full = b"tls13 " + label
    info = (length.to_bytes(2, "big") + bytes([len(full)]) + full +
            bytes([len(context)]) + context)
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.new(secret, block + info + bytes([i]), hash_name).digest()
        out += block
        i += 1
    return out[:length]


def exporter(hash_name, exporter_secret, label=LABEL, context=b"",
             length=LENGTH):
    """TLS-Exporter(label, context, length) of TLS 1.3 (RFC 8446 7.5)."""
    empty = hashlib.new(hash_name, b"").digest()
    derived = _expand_label(hash_name, exporter_secret, label, empty,
                            hashlib.new(hash_name).digest_size)
    return _expand_label(hash_name, derived, b"exporter",
                         hashlib.new(hash_name, context).digest(), length)


class KeyLog:
    """Where one SSLContext logs its secrets: a pipe where the system has
    /dev/fd, else a file in a private temporary directory, removed when
    closed."""

    def __init__(self, context):
        self._read = None
        self._dir = None
        r, w = os.pipe()
        try:
            context.keylog_filename = f"/dev/fd/{w}"
            self._read = r
            os.set_blocking(r, False)
        except OSError:
            os.close(r)
            self._dir = tempfile.mkdtemp(prefix="weft-keylog-")
            context.keylog_filename = os.path.join(self._dir, "keys")
        finally:
            os.close(w)  # the context opened its own copy

    def text(self):
        if self._read is not None:
            chunks = []
            while True:
                try:
                    chunk = os.read(self._read, 65536)
                except BlockingIOError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks).decode("ascii", "replace")
        with open(os.path.join(self._dir, "keys"), encoding="ascii",
                  errors="replace") as f:
            return f.read()

    def close(self):
        if self._read is not None:
            os.close(self._read)
            self._read = None
        if self._dir:
            try:
                os.unlink(os.path.join(self._dir, "keys"))
            except FileNotFoundError:
                pass
            os.rmdir(self._dir)
            self._dir = None


def login_context():
    """A context for one login connection: TLS 1.3, no CA (the login, or
    the pin, decides who the server is), and its key log."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if not hasattr(ctx, "keylog_filename"):
        raise LoginError("this Python's ssl module cannot log TLS secrets "
                         "(it needs OpenSSL 1.1.1 or later), so it cannot "
                         "bind a login to its TLS connection")
    return ctx, KeyLog(ctx)


def channel_binding(sock, keylog):
    """The exporter value of the TLS 1.3 connection sock, from its key
    log."""
    if sock.version() != "TLSv1.3":
        raise LoginError(f"the login needs TLS 1.3 from Python (the server "
                         f"spoke {sock.version()})")
    suite = sock.cipher()[0]
    hash_name = "sha384" if suite.endswith("SHA384") else "sha256"
    secrets = [line.split() for line in keylog.text().splitlines()]
    found = [s for s in secrets if len(s) == 3 and s[0] == "EXPORTER_SECRET"]
    if len(found) != 1:
        raise LoginError("the TLS key log holds no exporter secret of this "
                         "connection; the login cannot be bound to it")
    return exporter(hash_name, bytes.fromhex(found[0][2]))
