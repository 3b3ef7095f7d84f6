"""The addresses a client is given, parsed (docs/cli.md, security.md):

  https://HOST[:PORT][?pin=sha256//BASE64]   the control API over TLS
  http://HOST[:PORT]                         plain, from the server's host
  weft://SECRET@HOST[:PORT]                  a connection string
  weft-enroll://TOKEN@HOST:PORT/ID?pin=...   an enrollment string

The control port defaults to 9092. Errors name what is wrong and never
echo a secret."""

import base64
import re
from dataclasses import dataclass
from typing import Optional
from urllib.parse import parse_qs

from .errors import WeftError

DEFAULT_PORT = 9092
_PIN = re.compile(r"^sha256//[A-Za-z0-9+/]{43}=$")
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,63}$")
_B64URL32 = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass
class Server:
    scheme: str            # "https", "http", "weft" or "weft-enroll"
    host: str
    port: int
    pin: Optional[str] = None
    secret: Optional[bytes] = None   # weft://
    token: Optional[bytes] = None    # weft-enroll://
    device_id: Optional[str] = None  # weft-enroll://

    def __repr__(self):  # never print a secret or a token
        return (f"Server({self.scheme}://{self.hostport()}"
                f"{' pin=' + self.pin if self.pin else ''})")

    def hostport(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def b64url_decode(text, what):
    if not _B64URL32.match(text or ""):
        raise WeftError(f"{what} is not 43 base64url characters")
    return base64.urlsafe_b64decode(text + "=")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def check_pin(pin):
    if not _PIN.match(pin or ""):
        raise WeftError("a pin is sha256// and the base64 SHA-256 of the "
                        "server's public key (44 characters)")
    return pin


def _hostport(text, what):
    m = re.match(r"^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$", text) or \
        re.match(r"^([^:\[\]/]+)(?::(\d+))?$", text)
    if not m:
        raise WeftError(f"{what}: {text!r} is not HOST[:PORT]")
    port = int(m.group(2)) if m.group(2) else DEFAULT_PORT
    if not 0 < port < 65536:
        raise WeftError(f"{what}: port {port} is not 1-65535")
    return m.group(1), port


def parse(text):
    """A Server from any of the forms above."""
    if not isinstance(text, str) or "://" not in text:
        raise WeftError("a server is https://HOST[:PORT], weft://SECRET@HOST"
                        "[:PORT] or weft-enroll://...")
    scheme, rest = text.split("://", 1)
    scheme = scheme.lower()
    if scheme in ("https", "http"):
        rest, _, query = rest.partition("?")
        rest = rest.rstrip("/")
        host, port = _hostport(rest, "the server")
        pin = None
        if query:
            q = parse_qs(query, keep_blank_values=True)
            if set(q) != {"pin"} or len(q["pin"]) != 1:
                raise WeftError("the server URL takes only ?pin=sha256//...")
            pin = check_pin(q["pin"][0].replace(" ", "+"))
        if pin and scheme == "http":
            raise WeftError("a pin needs https://")
        return Server(scheme, host, port, pin=pin)
    if scheme == "weft":
        secret, at, hostport = rest.rpartition("@")
        if not at:
            raise WeftError("a connection string is weft://SECRET@HOST[:PORT]")
        host, port = _hostport(hostport.rstrip("/"), "the connection string")
        return Server("weft", host, port,
                      secret=b64url_decode(secret, "the connection string's "
                                           "secret"))
    if scheme == "weft-enroll":
        m = re.match(r"^([^@]*)@([^/]+)/([^?]+)\?pin=(.*)$", rest)
        if not m:
            raise WeftError("an enrollment string is weft-enroll://TOKEN@HOST"
                            ":PORT/ID?pin=sha256//... (weft device add "
                            "prints one)")
        host, port = _hostport(m.group(2), "the enrollment string")
        if not _NAME.match(m.group(3)):
            raise WeftError("the enrollment string's device id is not 1-63 "
                            "letters, digits, '.', '_' or '-'")
        return Server("weft-enroll", host, port, pin=check_pin(m.group(4)),
                      token=b64url_decode(m.group(1), "the enrollment "
                                          "string's token"),
                      device_id=m.group(3))
    raise WeftError(f"unknown scheme {scheme}://: a server is https://, "
                    f"http://, weft:// or weft-enroll://")


def check_name(name, what="a device id"):
    if not isinstance(name, str) or not _NAME.match(name):
        raise WeftError(f"{what} is 1-63 letters, digits, '.', '_' or '-'")
    return name
