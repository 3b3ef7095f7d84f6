"""Typed results of the control API (docs/api.md).

Each is a dataclass of the fields the API documents; `raw` keeps the whole
JSON object, so a field a newer server adds is still reachable."""

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional


def _build(cls, doc):
    """cls from a JSON object: its known fields, the rest left to raw."""
    if not isinstance(doc, dict):
        from .errors import ConnectError
        raise ConnectError(f"expected a JSON object for {cls.__name__}, "
                           f"got {type(doc).__name__}")
    names = {f.name for f in dataclasses.fields(cls)} - {"raw"}
    known = {k: doc[k] for k in names if k in doc}
    return cls(raw=doc, **known)


@dataclass
class Health:
    status: str = ""
    version: str = ""
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class Traffic:
    bytes_in: int = 0
    bytes_out: int = 0
    connections_open: int = 0
    connections_total: int = 0
    datagrams_in: Optional[int] = None
    datagrams_out: Optional[int] = None
    datagrams_dropped: Optional[int] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class Tunnel:
    id: str = ""
    device_id: str = ""
    transport: str = ""
    local: str = ""
    remote: Optional[str] = None
    public_url: str = ""
    state: str = ""
    name: str = ""
    created_at: int = 0
    expires_at: int = 0
    idle_timeout: int = 0
    last_activity: int = 0
    allow_ips: Optional[str] = None
    lease: Dict[str, Any] = field(default_factory=dict)
    params: Optional[Dict[str, Any]] = None
    traffic: Optional[Traffic] = None
    # Only in the answer to a create, for the device's transport.
    token: Optional[str] = None
    token_expires_in: Optional[int] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, doc):
        t = _build(cls, doc)
        if isinstance(t.traffic, dict):
            t.traffic = _build(Traffic, t.traffic)
        return t


@dataclass
class DeviceAcl:
    publish_ports: str = ""
    publish_hosts: str = ""
    reach_ports: str = ""
    allow_ips: str = ""
    allow_special_targets: bool = False
    max_tunnels: int = 0
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class Device:
    """A device: in a list (id, class, key), or one (with its ACL)."""
    id: str = ""
    key_fingerprint: Optional[str] = None
    enrolled_at: Optional[int] = None
    # `class` is a Python keyword.
    device_class: str = ""
    revoked: Optional[bool] = None
    acl: Optional[DeviceAcl] = None
    # What the API set over weft.conf's layers.
    set: Optional[Dict[str, Any]] = None
    tunnels: Optional[List[str]] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, doc):
        d = _build(cls, doc)
        d.device_class = doc.get("class", "")
        if isinstance(d.acl, dict):
            d.acl = _build(DeviceAcl, d.acl)
        return d


@dataclass
class Enrollment:
    id: str = ""
    enrollment: str = ""
    expires_at: int = 0
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class Revocation:
    revoked: str = ""
    tunnels_ended: int = 0
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class Approval:
    id: str = ""
    state: str = ""
    device_id: str = ""
    created: int = 0
    request: Any = None
    kind: str = ""
    code: str = ""
    expires_in: Optional[int] = None
    # "from" is a Python keyword.
    source: Optional[str] = None
    key_fingerprint: Optional[str] = None
    decided_by: Optional[str] = None
    message: Optional[str] = None
    tunnel_id: Optional[str] = None
    tunnel: Optional[Tunnel] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, doc):
        a = _build(cls, doc)
        a.source = doc.get("from")
        if isinstance(a.tunnel, dict):
            a.tunnel = Tunnel.from_json(a.tunnel)
        return a


@dataclass
class AuditEvent:
    seq: int = 0
    at: int = 0
    event: str = ""
    tunnel_id: Optional[str] = None
    device_id: Optional[str] = None
    detail: Optional[str] = None
    actor: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class User:
    name: str = ""
    role: str = ""
    key_id: str = ""
    created_at: int = 0
    key_made_at: int = 0
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class UserKey:
    """A user's new API key, shown this once."""
    name: str = ""
    key_id: str = ""
    api_key: str = ""
    role: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    def __repr__(self):  # never print the key by accident
        return f"UserKey(name={self.name!r}, key_id={self.key_id!r}, " \
               f"role={self.role!r}, api_key=...)"


def build(cls, doc):
    """cls from a JSON object (its own from_json where it has one)."""
    maker = getattr(cls, "from_json", None)
    return maker(doc) if maker else _build(cls, doc)
