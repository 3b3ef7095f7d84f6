"""weft.Client: the control API of docs/api.md, one method per call."""

import http.client
import os
from urllib.parse import quote, urlencode

from . import connstr, transport
from .errors import ApiError, WeftError
from .types import (Approval, AuditEvent, Device, Enrollment, Health,
                    Revocation, Tunnel, User, UserKey, build)

DEFAULT_TIMEOUT = 10.0


def default_state_dir():
    """weft server's default --state-dir, as the weft command finds it."""
    env = os.environ.get("WEFT_STATE_DIR", "")
    if env.startswith("/"):
        return env
    if os.geteuid() == 0:
        return "/var/lib/weft"
    xdg = os.environ.get("XDG_STATE_HOME", "")
    if xdg.startswith("/"):
        return os.path.join(xdg, "weft")
    return os.path.join(os.path.expanduser("~"), ".local/state/weft")


def default_socket():
    return os.path.join(default_state_dir(), "admin.sock")


def enrolled_server(key_path):
    """The server an enrolled device keeps beside its key (ID.server:
    "HOST:PORT PIN"), as https://HOST:PORT?pin=PIN."""
    base = key_path[:-4] if key_path.endswith(".key") else key_path
    try:
        with open(base + ".server", encoding="ascii") as f:
            hostport, pin = f.read(512).split()
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise WeftError(f"no server of an enrolled device in {base}.server "
                        f"(enroll first, with a weft-enroll:// string)") \
            from e
    return f"https://{hostport}?pin={connstr.check_pin(pin)}"


def _id(value, what):
    if not isinstance(value, str) or not value or len(value) > 63:
        raise WeftError(f"{what} is a non-empty string of at most 63 "
                        f"characters")
    return quote(value, safe="")


class Client:
    """A client of one weft server.

    Client("https://HOST:9092", api_key=KEY, ca="tls.crt")
    Client("https://HOST:9092?pin=sha256//...", api_key=KEY)
    Client(socket="/var/lib/weft/admin.sock")     # an administrator
    Client.login_device("weft://SECRET@HOST", "my-device", key_path)

    Every call takes at most `timeout` seconds per socket operation and
    raises ApiError (status, code, message) when the server refuses,
    ConnectError when it cannot be reached.
    """

    def __init__(self, url=None, *, api_key=None, ca=None, pin=None,
                 socket=None, token=None, timeout=DEFAULT_TIMEOUT):
        if api_key is not None and token is not None:
            raise WeftError("give an API key or a session token, not both")
        self.timeout = float(timeout)
        self._bearer = api_key if api_key is not None else token
        self._relogin = None
        self.device_id = None  # the device of a login_device session
        self._socket = None
        self._server = None
        if socket is not None or url is None:
            if url is not None:
                raise WeftError("give a server URL or a socket, not both")
            self._socket = socket or default_socket()
            return
        server = connstr.parse(url)
        if server.scheme == "weft-enroll":
            raise WeftError("an enrollment string is for a device: use "
                            "Client.login_device")
        if server.scheme == "weft":  # its address; the key decides who
            server.scheme = "https"
        if pin is not None:
            server.pin = connstr.check_pin(pin)
        if server.scheme == "http" and (ca or server.pin):
            raise WeftError("a CA or a pin needs https://")
        self._server = server
        self._context = (transport.tls_context(ca, server.pin)
                         if server.scheme == "https" else None)

    def __repr__(self):
        where = self._socket or repr(self._server)
        return f"weft.Client({where})"

    # ---- the device login ----

    @classmethod
    def login_device(cls, connection_string, device_id=None, key_path=None,
                     *, create_key=False, timeout=DEFAULT_TIMEOUT):
        """Logs in as a device and returns a Client on its session.

        - weft://SECRET@HOST[:PORT]: proves the secret (and, with
          key_path, the device's key), bound to the TLS connection;
        - weft-enroll://...: enrolls key_path's key (made if missing) with
          the one-time string, keeps the server beside the key (ID.server,
          as weft tunnel does), then logs in with the key alone;
        - https://HOST[:PORT]?pin=... or None (the ID.server beside
          key_path): an enrolled device's key alone.

        Later calls are pinned to the certificate the login was made over,
        and a session that expired is renewed by logging in again."""
        from . import login  # needs python3-cryptography
        server = connstr.parse(connection_string if connection_string
                               else enrolled_server(key_path or ""))
        if server.scheme == "weft-enroll":
            device_id = device_id or server.device_id
            if device_id != server.device_id:
                raise WeftError(f"the enrollment string is for "
                                f"{server.device_id}, not {device_id}")
            if not key_path:
                raise WeftError("enrolling needs key_path, where the "
                                "device's key is kept")
            key = login.DeviceKey.load(key_path, create=True)
            login.enroll(server, key, timeout)
            _save_server(key_path, server)
            server.scheme, server.token = "https", None
        else:
            if server.scheme == "http":
                raise WeftError("the device login is over TLS: https:// or "
                                "weft://")
            key = (login.DeviceKey.load(key_path, create=create_key)
                   if key_path else None)
        if not device_id:
            raise WeftError("login_device needs the device id")
        session = login.login(server, device_id, key, timeout)
        client = cls(f"https://{server.hostport()}", token=session.token,
                     pin=session.pin, timeout=timeout)
        client.device_id = session.device_id
        client._relogin = lambda: login.login(server, device_id, key,
                                              timeout).token
        return client

    # ---- the plumbing ----

    def _connection(self):
        if self._socket:
            return transport.UnixHTTPConnection(self._socket, self.timeout)
        s = self._server
        if s.scheme == "http":
            return http.client.HTTPConnection(s.host, s.port,
                                              timeout=self.timeout)
        return transport.PinnedHTTPSConnection(s.host, s.port, self._context,
                                               s.pin, self.timeout)

    def _call(self, method, path, body=None, query=None):
        if query:
            path += "?" + urlencode(query)
        for attempt in (1, 2):
            headers = {}
            if self._bearer:
                headers["Authorization"] = "Bearer " + self._bearer
            conn = self._connection()
            try:
                return transport.request(conn, method, path, body,
                                         headers)[2]
            except ApiError as e:
                # A device's session lasts 30 minutes: log in again, once.
                if e.status != 401 or not self._relogin or attempt == 2:
                    raise
                self._bearer = self._relogin()
            finally:
                conn.close()

    @staticmethod
    def _list(doc, key, cls):
        items = doc.get(key) if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise WeftError(f"the server's answer has no list of {key}")
        return [build(cls, item) for item in items]

    # ---- health ----

    def health(self):
        """GET /healthz: needs no session."""
        return build(Health, self._call("GET", "/healthz"))

    def version(self):
        return self.health().version

    # ---- tunnels ----

    def tunnels(self):
        return self._list(self._call("GET", "/v1/tunnels"), "tunnels", Tunnel)

    def tunnel(self, tunnel_id):
        return build(Tunnel, self._call(
            "GET", "/v1/tunnels/" + _id(tunnel_id, "a tunnel id")))

    def end_tunnel(self, tunnel_id):
        """DELETE: the transport closes it at once."""
        self._call("DELETE", "/v1/tunnels/" + _id(tunnel_id, "a tunnel id"))

    def open_tunnel(self, transport_name, local, remote=None, **fields):
        """POST /v1/tunnels, for a device's own session (name, allow_ips,
        replace, await_approval as keyword arguments). An awaited one
        answers an Approval."""
        body = dict(fields, transport=transport_name, local=local)
        if remote is not None:
            body["remote"] = remote
        doc = self._call("POST", "/v1/tunnels", body)
        if fields.get("await_approval"):
            return build(Approval, doc)
        return build(Tunnel, doc)

    # ---- devices ----

    def devices(self):
        return self._list(self._call("GET", "/v1/devices"), "devices", Device)

    def device(self, device_id):
        return build(Device, self._call(
            "GET", "/v1/devices/" + _id(device_id, "a device id")))

    def set_device_acl(self, device_id, **rules):
        """PATCH the API's layer of a device's ACL: reach_ports,
        publish_ports, publish_hosts, allow_ips (strings as weft.conf reads
        them), device_class; None clears one (weft.conf's holds again)."""
        if "device_class" in rules:
            rules["class"] = rules.pop("device_class")
        if not rules:
            raise WeftError("set_device_acl needs at least one rule")
        return build(Device, self._call(
            "PATCH", "/v1/devices/" + _id(device_id, "a device id"), rules))

    def add_device(self, device_id, device_class=None, expires_in=None):
        """An enrollment string for device_id, for `weft tunnel --enroll`
        or Client.login_device."""
        body = {"id": connstr.check_name(device_id)}
        if device_class is not None:
            body["class"] = device_class
        if expires_in is not None:
            body["expires_in"] = int(expires_in)
        return build(Enrollment, self._call("POST", "/v1/devices", body))

    def revoke_device(self, device_id):
        return build(Revocation, self._call(
            "POST", f"/v1/devices/{_id(device_id, 'a device id')}/revoke"))

    def forget_device_key(self, device_id):
        """Frees the id from its key and lifts a revocation."""
        self._call("DELETE", f"/v1/devices/{_id(device_id, 'a device id')}"
                   f"/key")

    # ---- approvals ----

    def approvals(self):
        return self._list(self._call("GET", "/v1/approvals"), "approvals",
                          Approval)

    def approval(self, approval_id):
        return build(Approval, self._call(
            "GET", "/v1/approvals/" + _id(approval_id, "a request id")))

    def approve(self, approval_id):
        """Opens the tunnel (Approval.tunnel_id), or raises the create's
        refusal."""
        return build(Approval, self._call(
            "POST", f"/v1/approvals/{_id(approval_id, 'a request id')}"
            f"/approve"))

    def deny(self, approval_id):
        return build(Approval, self._call(
            "POST", f"/v1/approvals/{_id(approval_id, 'a request id')}/deny"))

    def withdraw(self, approval_id):
        self._call("DELETE",
                   "/v1/approvals/" + _id(approval_id, "a request id"))

    # ---- the audit trail ----

    def audit(self, limit=None, device=None, actor=None, event=None,
              since=None):
        """The newest `limit` (1-1000, the server's default 100) events
        the filters let through; since: seconds since 1970, or a
        datetime."""
        query = {}
        if limit is not None:
            query["limit"] = int(limit)
        for name, value in (("device", device), ("actor", actor),
                            ("event", event)):
            if value is not None:
                query[name] = value
        if since is not None:
            if hasattr(since, "timestamp"):
                since = since.timestamp()
            query["since"] = int(since)
        return self._list(self._call("GET", "/v1/audit", query=query),
                          "events", AuditEvent)

    # ---- users ----

    def users(self):
        return self._list(self._call("GET", "/v1/users"), "users", User)

    def add_user(self, name, role):
        """A user with role admin, operator or viewer; its API key is in
        the answer, this once."""
        return build(UserKey, self._call("POST", "/v1/users", {
            "name": connstr.check_name(name, "a user name"), "role": role}))

    def remove_user(self, name):
        self._call("DELETE", "/v1/users/" + _id(name, "a user name"))

    def rotate_user_key(self, name):
        """A new key; the old one stops at once."""
        return build(UserKey, self._call(
            "POST", f"/v1/users/{_id(name, 'a user name')}/key"))


def _save_server(key_path, server):
    """ID.server beside the key, as weft tunnel --enroll writes it, so the
    weft agent finds the same server."""
    base = key_path[:-4] if key_path.endswith(".key") else key_path
    fd = os.open(base + ".server", os.O_WRONLY | os.O_CREAT | os.O_TRUNC |
                 os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(f"{server.hostport()} {server.pin}\n")

