"""A Python client for Weft's control API (docs/python.md).

    import weft
    c = weft.Client("https://HOST:9092?pin=sha256//...", api_key=KEY)
    for t in c.tunnels():
        print(t.id, t.device_id, t.public_url)
"""

from .client import Client, default_socket, default_state_dir, enrolled_server
from .errors import ApiError, ConnectError, LoginError, PinError, WeftError
from .types import (Approval, AuditEvent, Device, DeviceAcl, Enrollment,
                    Health, Revocation, Traffic, Tunnel, User, UserKey)

__all__ = [
    "Client", "default_socket", "default_state_dir", "enrolled_server",
    "WeftError", "ApiError", "ConnectError", "PinError", "LoginError",
    "Approval", "AuditEvent", "Device", "DeviceAcl", "Enrollment", "Health",
    "Revocation", "Traffic", "Tunnel", "User", "UserKey",
]
