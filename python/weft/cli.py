"""python3 -m weft tunnels|devices|approvals|audit|users|health: the
control API as tables (or --json). The server is --server URL with an API
key (--key, or WEFT_API_KEY), else the local socket."""

import argparse
import json
import os
import sys
import time

from .client import Client, default_socket
from .errors import WeftError, ApiError


def _when(t):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"


def _cell(v):
    if v is None or v == "":
        return "-"
    return str(v).replace("\n", " ")


def table(headers, rows, out):
    """Columns as wide as their widest cell; the last one unpadded."""
    rows = [[_cell(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows])
              for i, h in enumerate(headers)]
    for r in [list(headers)] + rows:
        line = "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths))
        print((line + "  " + r[-1]) if len(r) > 1 else r[-1], file=out)


def _tunnels(c, a):
    items = c.tunnels()
    rows = [[t.id, t.device_id, t.transport, t.local, t.public_url, t.state,
             t.traffic.connections_open if t.traffic else None,
             t.traffic.bytes_in if t.traffic else None,
             t.traffic.bytes_out if t.traffic else None] for t in items]
    return items, ["ID", "DEVICE", "TRANSPORT", "LOCAL", "PUBLIC", "STATE",
                   "OPEN", "BYTES_IN", "BYTES_OUT"], rows


def _devices(c, a):
    items = c.devices()
    rows = [[d.id, d.device_class, d.key_fingerprint, _when(d.enrolled_at)]
            for d in items]
    return items, ["ID", "CLASS", "KEY", "ENROLLED"], rows


def _approvals(c, a):
    items = c.approvals()
    rows = []
    for p in items:
        req = p.request if isinstance(p.request, dict) else {}
        what = (f"enroll key {p.key_fingerprint}" if p.kind == "enrollment"
                else " ".join(str(req[k]) for k in ("transport", "local",
                                                    "remote") if k in req))
        rows.append([p.id, p.state, p.device_id, p.code, p.source, what])
    return items, ["ID", "STATE", "DEVICE", "CODE", "FROM", "REQUEST"], rows


def _audit(c, a):
    items = c.audit(limit=a.limit, device=a.device, actor=a.actor,
                    event=a.event, since=a.since)
    rows = [[_when(e.at), e.event, e.device_id, e.tunnel_id, e.actor,
             e.detail] for e in items]
    return items, ["TIME", "EVENT", "DEVICE", "TUNNEL", "ACTOR", "DETAIL"], \
        rows


def _users(c, a):
    items = c.users()
    rows = [[u.name, u.role, u.key_id, _when(u.created_at)] for u in items]
    return items, ["NAME", "ROLE", "KEY_ID", "CREATED"], rows


def _health(c, a):
    h = c.health()
    return h, ["STATUS", "VERSION"], [[h.status, h.version]]


COMMANDS = {"tunnels": _tunnels, "devices": _devices,
            "approvals": _approvals, "audit": _audit, "users": _users,
            "health": _health}


def parser():
    p = argparse.ArgumentParser(
        prog="python3 -m weft",
        description="Weft's control API from Python: live tunnels, devices, "
                    "approvals, the audit trail.")
    p.add_argument("command", choices=sorted(COMMANDS))
    p.add_argument("--server", help="https://HOST:PORT[?pin=sha256//...] "
                   "(default: the local socket)")
    p.add_argument("--key", help="API key (default: $WEFT_API_KEY)")
    p.add_argument("--ca", help="CA file that signed the server's "
                   "certificate (e.g. a copy of STATE_DIR/tls.crt)")
    p.add_argument("--pin", help="sha256//... of the server's public key")
    p.add_argument("--socket", help=f"the server's local socket (default "
                   f"{default_socket()})")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds per socket operation (default 10)")
    p.add_argument("--json", action="store_true",
                   help="print the API's JSON instead of a table")
    g = p.add_argument_group("audit filters")
    g.add_argument("--limit", type=int, help="newest N events (1-1000)")
    g.add_argument("--device", help="events of this device")
    g.add_argument("--actor", help="events by this actor")
    g.add_argument("--event", help="events of this kind (e.g. created)")
    g.add_argument("--since", type=int, help="seconds since 1970")
    return p


def main(argv=None, out=sys.stdout, err=sys.stderr):
    a = parser().parse_args(argv)
    key = a.key or os.environ.get("WEFT_API_KEY") or None
    try:
        if a.server:
            if a.socket:
                raise WeftError("give --server or --socket, not both")
            client = Client(a.server, api_key=key, ca=a.ca, pin=a.pin,
                            timeout=a.timeout)
        else:
            if a.ca or a.pin:
                raise WeftError("--ca and --pin go with --server")
            client = Client(socket=a.socket or default_socket(),
                            api_key=key, timeout=a.timeout)
        items, headers, rows = COMMANDS[a.command](client, a)
    except ApiError as e:
        print(f"weft: {e.status} {e.code}: {e.message}", file=err)
        return 1
    except WeftError as e:
        print(f"weft: {e}", file=err)
        return 1
    if a.json:
        raw = [i.raw for i in items] if isinstance(items, list) else items.raw
        json.dump(raw, out, indent=2)
        print(file=out)
    else:
        table(headers, rows, out)
    return 0
