"""The device login of docs/security.md, message by message, and the
device's Ed25519 key file. Needs python3-cryptography (HKDF, AES-GCM,
Ed25519)."""

import base64
import hashlib
import hmac
import os
import stat

from . import binding, transport
from .connstr import b64url, b64url_decode, check_name
from .errors import ConnectError, LoginError, WeftError

try:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import \
        Ed25519PrivateKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
except ImportError:  # only the device login needs it
    AESGCM = None

VERSION = 1
KEY_HEADER = b"weft-device-key 1\n"
KEY_FILE_MAX = 128


def _need_crypto():
    if AESGCM is None:
        raise LoginError("the device login needs python3-cryptography "
                         "(apt install python3-cryptography)")


# ---- the device's key ----

class DeviceKey:
    """An Ed25519 key in weft's file format: "weft-device-key 1", a newline,
    the 32-byte seed in base64url, a newline (core/auth/device_key.h)."""

    def __init__(self, seed):
        _need_crypto()
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public = self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def sign(self, message):
        return self._key.sign(message)

    def fingerprint(self):
        """As the server shows it: 16 bytes of BLAKE2b, hex in pairs."""
        h = hashlib.blake2b(self.public, digest_size=16).hexdigest()
        return "-".join(h[i:i + 4] for i in range(0, 32, 4))

    @classmethod
    def load(cls, path, create=False):
        """The key at path; with create, a new one made there (0600, its
        directory 0700) when there is none. Refuses a key others can read,
        as weft does."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            if not create:
                raise LoginError(f"there is no device key at {path}")
            return cls._create(path)
        except OSError as e:
            raise LoginError(f"cannot read the device key {path}: "
                             f"{e.strerror}") from e
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise LoginError(f"the device key {path} is not a regular "
                                 f"file")
            if st.st_mode & 0o077:
                raise LoginError(f"the device key {path} is readable by "
                                 f"others; it must be a file only its owner "
                                 f"reads (chmod 600 {path})")
            text = os.read(fd, KEY_FILE_MAX + 1)
        finally:
            os.close(fd)
        if not text.startswith(KEY_HEADER):
            raise LoginError(f"the device key {path} is not usable: it does "
                             f"not begin with \"weft-device-key 1\"")
        body = text[len(KEY_HEADER):]
        if len(body) != 44 or not body.endswith(b"\n"):
            raise LoginError(f"the device key {path} is not usable: its key "
                             f"is not one line of 43 base64url characters")
        try:
            seed = b64url_decode(body[:43].decode("ascii"), "the key")
        except (UnicodeDecodeError, WeftError):
            raise LoginError(f"the device key {path} is not usable: its key "
                             f"is not valid base64url") from None
        return cls(seed)

    @classmethod
    def _create(cls, path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700,
                    exist_ok=True)
        seed = os.urandom(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL |
                         os.O_CLOEXEC, 0o600)
        except FileExistsError:  # another process made it meanwhile
            return cls.load(path)
        try:
            os.write(fd, KEY_HEADER + b64url(seed).encode("ascii") + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        return cls(seed)


def _signed(*parts):
    """len || part for each part, lengths in two bytes (device_key.c)."""
    return b"".join(len(p).to_bytes(2, "big") + p for p in parts)


def login_message(nc, ns, b, device_id):
    return _signed(b"weft/1|login|device-key", nc, ns, b,
                   device_id.encode("ascii"))


def enroll_message(token, b, device_id):
    return _signed(b"weft/1|enroll|device-key", token, b,
                   device_id.encode("ascii"))


# ---- the sealed messages ----

_KEY_INFO = {"server": b"weft/1 login key server-to-client",
             "client": b"weft/1 login key client-to-server"}
_AAD = {"server": b"weft/1|login|server-proof|",
        "client": b"weft/1|login|client-answer|"}


def _sealing(role, secret, nc, ns, b):
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=nc + ns,
               info=_KEY_INFO[role]).derive(secret)
    aad = _AAD[role] + nc + ns + bytes([len(b)]) + b
    plain = (b"server-" + ns) if role == "server" else (b"client-" + nc)
    return AESGCM(key), aad, plain


def check_proof(secret, nc, ns, b, proof):
    """Whether the server's proof opens to "server-" || Ns."""
    aead, aad, want = _sealing("server", secret, nc, ns, b)
    if len(proof) != 12 + len(want) + 16:
        return False
    try:
        got = aead.decrypt(proof[:12], proof[12:], aad)
    except InvalidTag:
        return False
    return hmac.compare_digest(got, want)


def answer(secret, nc, ns, b):
    aead, aad, plain = _sealing("client", secret, nc, ns, b)
    iv = os.urandom(12)
    return iv + aead.encrypt(iv, plain, aad)


# ---- the conversation ----

class Session:
    """What a login gives: the session token, the device, and the key of
    the certificate it was made over (every later call is pinned to it)."""

    def __init__(self, token, device_id, expires_in, pin):
        self.token = token
        self.device_id = device_id
        self.expires_in = expires_in
        self.pin = pin


def _b64_field(doc, name, size):
    try:
        raw = base64.urlsafe_b64decode(doc[name] + "=" * (-len(doc[name]) % 4))
    except (KeyError, TypeError, ValueError):
        raw = b""
    if len(raw) != size:
        raise ConnectError(f"the server's login answer has no valid {name}")
    return raw


def _open(server, timeout):
    """A TLS 1.3 connection for one login, its channel binding and the
    key of the server's certificate."""
    ctx, keylog = binding.login_context()
    conn = transport.PinnedHTTPSConnection(server.host, server.port, ctx,
                                           server.pin, timeout)
    try:
        try:
            conn.connect()
        except ConnectError:
            raise
        except OSError as e:  # ssl.SSLError included
            raise ConnectError(f"{server.hostport()}: {e}") from e
        b = binding.channel_binding(conn.sock, keylog)
        return conn, b, transport.pin_of(conn.sock)
    except BaseException:
        conn.close()
        raise
    finally:
        keylog.close()


def login(server, device_id, key=None, timeout=10.0):
    """Logs in as device_id: with server.secret (weft://), signing with key
    when given; without a secret (an enrolled device), with key alone over
    the connection server.pin pins. Returns a Session."""
    _need_crypto()
    check_name(device_id)
    if server.secret is None and (key is None or not server.pin):
        raise LoginError("a login without the secret needs the device's key "
                         "and the server's pin")
    conn, b, pin = _open(server, timeout)
    try:
        nc = os.urandom(32)
        _, _, doc = transport.request(conn, "POST", "/v1/login", {
            "version": VERSION, "step": "challenge",
            "client_nonce": b64url(nc)})
        ns = _b64_field(doc, "server_nonce", 32)
        if server.secret is not None:
            proof = _b64_field(doc, "proof", 12 + 7 + 32 + 16)
            if not check_proof(server.secret, nc, ns, b, proof):
                raise LoginError(
                    f"the server at {server.hostport()} could not prove it "
                    f"knows the secret (a wrong connection string, or "
                    f"something between us ends TLS)")
            step = {"version": VERSION, "step": "answer",
                    "server_nonce": b64url(ns),
                    "answer": b64url(answer(server.secret, nc, ns, b)),
                    "device_id": device_id}
        else:
            step = {"version": VERSION, "step": "key",
                    "server_nonce": b64url(ns), "device_id": device_id}
        if key is not None:
            sig = key.sign(login_message(nc, ns, b, device_id))
            step["device_sig"] = b64url(sig)
            if server.secret is not None:
                step["device_key"] = b64url(key.public)
        _, _, doc = transport.request(conn, "POST", "/v1/login", step)
    finally:
        conn.close()
    if not isinstance(doc, dict) or not isinstance(doc.get("token"), str):
        raise ConnectError("the server's login answer holds no token")
    return Session(doc["token"], doc.get("device_id", device_id),
                   doc.get("expires_in"), pin)


def enroll(server, key, timeout=10.0):
    """POST /v1/enroll with an enrollment string's token, over a
    connection pinned to the string's key; returns the key's
    fingerprint as the server saw it."""
    _need_crypto()
    conn, b, _ = _open(server, timeout)
    try:
        _, _, doc = transport.request(conn, "POST", "/v1/enroll", {
            "device_id": server.device_id, "token": b64url(server.token),
            "device_key": b64url(key.public),
            "device_sig": b64url(key.sign(enroll_message(
                server.token, b, server.device_id)))})
    finally:
        conn.close()
    return (doc or {}).get("key_fingerprint", "")
