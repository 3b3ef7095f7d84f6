#!/usr/bin/env python3
"""Every cell of the authorization matrix (docs/security.md), written here
on its own rather than read from the server's table, so that a change to
either shows.

  authz.py BASE_URL SOCKET DEVICE_TOKEN VIEWER_KEY OPERATOR_KEY ADMIN_KEY

Each caller tries each route. A cell marked allowed must not answer 401 or
403 (ids are ones that do not exist, so nothing is destroyed: 404, 400 or
409 are the handler's answers once the caller was let in); a cell marked
denied must answer 403. Prints one line per cell and exits 1 if any is
wrong."""
import http.client
import json
import socket
import ssl
import sys

base, sock_path, device, viewer, operator, admin = sys.argv[1:7]

D, V, O, A, L = "device", "viewer", "operator", "admin", "local"
EVERYONE = {D, V, O, A, L}
USERS = {V, O, A, L}
ADMINS = {A, L}
MATRIX = [
    ("GET", "/v1/tunnels", EVERYONE),
    ("POST", "/v1/tunnels", {D}),
    ("GET", "/v1/tunnels/tnosuch", EVERYONE),
    ("DELETE", "/v1/tunnels/tnosuch", {D, O, A, L}),
    ("POST", "/v1/tunnels/tnosuch/token", {D}),
    # The HTTP inspector: visitors' data, operators and up only.
    ("PUT", "/v1/tunnels/tnosuch/inspect", {O, A, L}),
    ("GET", "/v1/tunnels/tnosuch/requests", {O, A, L}),
    ("GET", "/v1/tunnels/tnosuch/requests/1", {O, A, L}),
    ("POST", "/v1/tunnels/tnosuch/requests/1/replay", {O, A, L}),
    ("GET", "/v1/approvals", EVERYONE),
    ("GET", "/v1/approvals/anosuch", EVERYONE),
    ("DELETE", "/v1/approvals/anosuch", {D, A, L}),
    ("POST", "/v1/approvals/anosuch/approve", ADMINS),
    ("POST", "/v1/approvals/anosuch/deny", ADMINS),
    ("GET", "/v1/devices", USERS),
    ("POST", "/v1/devices", ADMINS),
    ("GET", "/v1/devices/nosuch", USERS),
    ("PATCH", "/v1/devices/nosuch", {O, A, L}),
    # A terminal (the check a page makes before its WebSocket).
    ("GET", "/v1/devices/nosuch/terminal?port=22&user=ops", {O, A, L}),
    ("POST", "/v1/devices/nosuch/revoke", ADMINS),
    ("DELETE", "/v1/devices/nosuch/key", ADMINS),
    ("PUT", "/v1/devices/nosuch/key", {D}),
    ("GET", "/v1/audit", EVERYONE),
    ("GET", "/v1/events", USERS),
    ("GET", "/v1/users", ADMINS),
    ("POST", "/v1/users", ADMINS),
    ("DELETE", "/v1/users/nosuch", ADMINS),
    ("POST", "/v1/users/nosuch/key", ADMINS),
    # Another user's console password and TOTP: administrators only (a
    # user's own is theirs too: tests/shell/passwd.sh).
    ("PUT", "/v1/users/nosuch/password", ADMINS),
    ("POST", "/v1/users/nosuch/totp", ADMINS),
    ("DELETE", "/v1/users/nosuch/totp", ADMINS),
    ("POST", "/v1/users/nosuch/totp/confirm", ADMINS),
]


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


def call(who, method, path):
    headers = {"Content-Type": "application/json"}
    if who == L:
        conn = UnixConnection(sock_path)
    else:
        host = base.split("//", 1)[1]
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(host, timeout=10, context=ctx)
        headers["Authorization"] = "Bearer " + {
            D: device, V: viewer, O: operator, A: admin}[who]
    body = "{}" if method in ("POST", "PATCH", "PUT") else None
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    if resp.getheader("Content-Type", "").startswith("text/event-stream"):
        text = ""  # a stream that stays open: its head is the answer
    else:
        text = resp.read().decode(errors="replace")
    conn.close()
    return resp.status, text


wrong = 0
for method, path, allowed in MATRIX:
    for who in (D, V, O, A, L):
        status, text = call(who, method, path)
        want_in = who in allowed
        ok = status not in (401, 403) if want_in else status == 403
        print("%s %-4s %-7s %-32s %s %d" % (
            "ok:  " if ok else "FAIL:", method, who, path,
            "allowed" if want_in else "denied ", status))
        if not ok:
            wrong += 1
            print("      " + text[:200])
print("%d cells, %d wrong" % (len(MATRIX) * 5, wrong))
sys.exit(1 if wrong else 0)
