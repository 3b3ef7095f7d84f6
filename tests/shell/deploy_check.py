#!/usr/bin/env python3
"""Checks that Weft's deployment files would not run it with more power
than it needs. Each subcommand prints one line per problem and exits 1
if there is any, 0 otherwise.

  deploy_check.py unit FILE...      systemd units (conf/systemd)

A unit must name a User= other than root (or DynamicUser=yes), grant no
capability but CAP_NET_ADMIN (the wireguard transport's: docs/install.md),
and keep systemd's hardening options on."""
import sys

ALLOWED_CAPS = {"CAP_NET_ADMIN"}
HARDENING = {  # key: the value it must have
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectControlGroups": "yes",
    "RestrictSUIDSGID": "yes",
    "SystemCallArchitectures": "native",
}


def parse_unit(path):
    """{section: {key: [values in order]}}; continuation lines joined."""
    sections, current, pending = {}, None, ""
    for raw in open(path, encoding="utf-8"):
        line = pending + raw.rstrip("\n")
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        if current is None or "=" not in line:
            raise ValueError(f"{path}: not a unit line: {line!r}")
        key, value = (s.strip() for s in line.split("=", 1))
        current.setdefault(key, []).append(value)
    return sections


def last(service, key, default=None):
    values = service.get(key)
    return values[-1] if values else default


def check_unit(path):
    problems = []
    service = parse_unit(path).get("Service")
    if service is None:
        return [f"{path}: no [Service] section"]
    user = last(service, "User", "")
    if last(service, "DynamicUser", "no") != "yes":
        if user in ("", "root", "0"):
            problems.append(f"{path}: runs as root (User={user or 'missing'}); "
                            "Weft needs only CAP_NET_ADMIN, give it a user")
    for key in ("AmbientCapabilities", "CapabilityBoundingSet"):
        caps = set()
        for value in service.get(key, []):  # an empty value resets the list
            caps = set() if not value else caps | set(value.split())
        if key == "CapabilityBoundingSet" and key not in service:
            problems.append(f"{path}: no CapabilityBoundingSet= (every "
                            "capability stays in the bounding set)")
        extra = caps - ALLOWED_CAPS  # "~CAP_X" (all but X) too
        if extra:
            problems.append(f"{path}: {key} grants {' '.join(sorted(extra))}; "
                            "only CAP_NET_ADMIN is needed")
    for key, want in HARDENING.items():
        if last(service, key) != want:
            problems.append(f"{path}: {key}={last(service, key, '(unset)')}, "
                            f"expected {want}")
    families = set(" ".join(service.get("RestrictAddressFamilies", [])).split())
    if not families or not families <= {"AF_UNIX", "AF_INET", "AF_INET6",
                                        "AF_NETLINK"}:
        problems.append(f"{path}: RestrictAddressFamilies={' '.join(families)}"
                        "; expected AF_UNIX AF_INET AF_INET6 AF_NETLINK")
    filters = service.get("SystemCallFilter", [])
    if "@system-service" not in filters:
        problems.append(f"{path}: SystemCallFilter lacks @system-service")
    return problems


def main(argv):
    if len(argv) < 3 or argv[1] not in CHECKS:
        print(__doc__, file=sys.stderr)
        return 2
    problems = []
    for path in argv[2:]:
        try:
            problems += CHECKS[argv[1]](path)
        except (OSError, ValueError) as e:
            problems.append(f"{path}: {e}")
    for p in problems:
        print(p)
    return 1 if problems else 0


CHECKS = {"unit": check_unit}

if __name__ == "__main__":
    sys.exit(main(sys.argv))
