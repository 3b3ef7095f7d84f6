"""HTTP/1.1 to the control API: over TLS (a CA, the system's CAs, or a
pinned public key), plain HTTP on the server's own host, or the local
Unix socket. One request, one answer, JSON both ways, a timeout on every
socket operation and a bound on what is read."""

import base64
import hashlib
import http.client
import json
import socket
import ssl

from .errors import ApiError, ConnectError, PinError

MAX_ANSWER = 32 << 20  # a thousand audit events are well under 1 MiB


def spki_pin(der_cert):
    """sha256//BASE64 of a DER certificate's public key (RFC 7469), as the
    server prints it in enrollment strings."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
    except ImportError as e:
        raise ConnectError("checking a pin needs python3-cryptography") from e
    spki = x509.load_der_x509_certificate(der_cert).public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256//" + base64.b64encode(hashlib.sha256(spki).digest()) \
        .decode("ascii")


def pin_of(sock):
    return spki_pin(sock.getpeercert(binary_form=True))


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS whose server must show the pinned key: checked right after the
    handshake, before a byte of the request is sent."""

    def __init__(self, host, port, context, pin, timeout):
        super().__init__(host, port, context=context, timeout=timeout)
        self.pin = pin

    def connect(self):
        super().connect()
        if self.pin:
            seen = pin_of(self.sock)
            if seen != self.pin:
                self.close()
                raise PinError(f"the server at {self.host}:{self.port} shows "
                               f"the key {seen}, not the pinned {self.pin}; "
                               f"nothing was sent")


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over the server's local socket (STATE_DIR/admin.sock)."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.socket_path)
        except OSError:
            s.close()
            raise
        self.sock = s


def tls_context(ca=None, pin=None):
    """The context of API calls: the pin alone decides (no CA), else the CA
    file, else the system's CAs, with the host name checked."""
    if pin:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context(cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def _describe(conn):
    if isinstance(conn, UnixHTTPConnection):
        return conn.socket_path
    return f"{conn.host}:{conn.port}"


def request(conn, method, path, body=None, headers=None):
    """Sends one request on conn (connecting it if need be) and returns
    (status, headers, decoded JSON or None). Raises ApiError for a
    JSON error answer, ConnectError for a failure on the way."""
    hdrs = {"Accept": "application/json"}
    hdrs.update(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        hdrs["Content-Type"] = "application/json"
    where = _describe(conn)
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read(MAX_ANSWER + 1)
    except PinError:
        raise
    except ssl.SSLCertVerificationError as e:
        raise ConnectError(f"{where}: the server's certificate is not "
                           f"trusted ({e.verify_message}); give ca= its "
                           f"certificate or pin= its key") from e
    except socket.timeout as e:
        raise ConnectError(f"the server at {where}: no answer within "
                           f"{conn.timeout} s") from e
    except (OSError, http.client.HTTPException) as e:
        why = getattr(e, "strerror", None) or str(e) or type(e).__name__
        raise ConnectError(f"the server at {where}: {why}") from e
    if len(raw) > MAX_ANSWER:
        conn.close()
        raise ConnectError(f"{where}: the answer to {method} {path} is over "
                           f"{MAX_ANSWER} bytes")
    doc = None
    if raw:
        try:
            doc = json.loads(raw)
        except ValueError:
            if resp.status < 400:
                raise ConnectError(f"{where}: the answer to {method} {path} "
                                   f"is not JSON (is this a weft server?)")
    if resp.status >= 400:
        err = doc.get("error") if isinstance(doc, dict) else None
        if not isinstance(err, dict):
            err = {"code": "http_%d" % resp.status,
                   "message": resp.reason or "error"}
        retry = resp.getheader("Retry-After")
        raise ApiError(resp.status, str(err.get("code", "")),
                       str(err.get("message", "")),
                       int(retry) if retry and retry.isdigit() else None)
    return resp.status, resp.headers, doc
