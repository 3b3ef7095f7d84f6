#!/usr/bin/env python3
"""Checks that Weft's deployment files would not run it with more power
than it needs. Each subcommand prints one line per problem and exits 1
if there is any, 0 otherwise.

  deploy_check.py unit FILE...      systemd units (conf/systemd)
  deploy_check.py k8s FILE...       Kubernetes manifests (conf/kubernetes)
  deploy_check.py compose FILE      a compose file (conf/container)
  deploy_check.py dockerfile FILE   a Dockerfile (conf/container)

A unit must name a User= other than root (or DynamicUser=yes), grant no
capability but CAP_NET_ADMIN (the wireguard transport's: docs/install.md),
and keep systemd's hardening options on. A container must run as a user
other than root, never privileged nor able to gain privileges, with every
capability dropped and at most NET_ADMIN added. Kubernetes manifests must
also hold what a server needs: a StatefulSet or Deployment with its state
volume at /var/lib/weft, a Service whose ports the container has, a
ConfigMap with weft.conf, a Secret."""
import re
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


def caps_problems(where, caps, ctx):
    problems = []
    if not caps or "ALL" not in (caps.get("drop") or []):
        problems.append(f"{where}: capabilities drop: [ALL] missing")
    extra = set(caps.get("add") or []) - {"NET_ADMIN", "CAP_NET_ADMIN"} if caps else set()
    if extra:
        problems.append(f"{where}: adds {' '.join(sorted(extra))}; only "
                        "NET_ADMIN is ever needed (wireguard)")
    return problems


def check_pod(where, pod):
    problems = []
    psc = pod.get("securityContext") or {}
    containers = (pod.get("initContainers") or []) + (pod.get("containers") or [])
    if not pod.get("containers"):
        problems.append(f"{where}: no containers")
    for c in containers:
        cw = f"{where}: container {c.get('name')}"
        sc = c.get("securityContext") or {}
        non_root = sc.get("runAsNonRoot", psc.get("runAsNonRoot"))
        uid = sc.get("runAsUser", psc.get("runAsUser"))
        if non_root is not True or uid == 0:
            problems.append(f"{cw}: may run as root (runAsNonRoot: "
                            f"{non_root}, runAsUser: {uid})")
        if sc.get("privileged") is True:
            problems.append(f"{cw}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{cw}: allowPrivilegeEscalation is not false")
        problems += caps_problems(cw, sc.get("capabilities"), c)
        for key in ("image", "name"):
            if not c.get(key):
                problems.append(f"{cw}: no {key}")
    if pod.get("hostNetwork") or pod.get("hostPID"):
        problems.append(f"{where}: shares the host's network or PIDs")
    return problems


def check_k8s(paths):
    import yaml
    docs = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            docs += [(path, d) for d in yaml.safe_load_all(f) if d]
    problems, kinds = [], {}
    for path, d in docs:
        for key in ("apiVersion", "kind", "metadata"):
            if key not in d:
                problems.append(f"{path}: no {key}")
        if not (d.get("metadata") or {}).get("name"):
            problems.append(f"{path}: no metadata.name")
        kinds.setdefault(d.get("kind"), []).append((path, d))
    for kind in ("Service", "ConfigMap", "Secret"):
        if kind not in kinds:
            problems.append(f"no {kind}")
    workloads = kinds.get("StatefulSet", []) + kinds.get("Deployment", [])
    if not workloads:
        problems.append("no StatefulSet or Deployment")
    ports = set()
    for path, d in workloads:
        where = f"{path}: {d['kind']} {d['metadata'].get('name')}"
        spec = d.get("spec") or {}
        tmpl = spec.get("template") or {}
        labels = (tmpl.get("metadata") or {}).get("labels") or {}
        sel = (spec.get("selector") or {}).get("matchLabels") or {}
        if not sel or any(labels.get(k) != v for k, v in sel.items()):
            problems.append(f"{where}: selector does not match the pod's labels")
        pod = tmpl.get("spec") or {}
        problems += check_pod(where, pod)
        claims = {c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])}
        volumes = {v["name"] for v in pod.get("volumes") or []} | claims
        state = False
        for c in pod.get("containers") or []:
            for p in c.get("ports") or []:
                ports |= {p.get("name"), p.get("containerPort")}
            for m in c.get("volumeMounts") or []:
                if m.get("name") not in volumes:
                    problems.append(f"{where}: mounts {m.get('name')}, no such volume")
                if m.get("mountPath") == "/var/lib/weft" and m.get("name") in claims:
                    state = True
        if not state and d["kind"] == "StatefulSet":
            problems.append(f"{where}: /var/lib/weft is not on a volumeClaimTemplate")
    for path, d in kinds.get("Service", []):
        for p in (d.get("spec") or {}).get("ports") or []:
            if p.get("targetPort", p.get("port")) not in ports:
                problems.append(f"{path}: Service port {p.get('name')} targets "
                                f"{p.get('targetPort')}, which no container has")
    for path, d in kinds.get("ConfigMap", []):
        if "weft.conf" not in (d.get("data") or {}):
            problems.append(f"{path}: ConfigMap has no weft.conf")
    return problems


def check_compose(path):
    import yaml
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    services = (doc or {}).get("services") or {}
    problems = [] if services else [f"{path}: no services"]
    for name, svc in services.items():
        where = f"{path}: service {name}"
        user = str(svc.get("user", "")).split(":")[0]
        if user in ("", "0", "root"):
            problems.append(f"{where}: runs as root (user: {user or 'unset'})")
        if svc.get("privileged"):
            problems.append(f"{where}: privileged")
        if "no-new-privileges:true" not in (svc.get("security_opt") or []):
            problems.append(f"{where}: no security_opt no-new-privileges:true")
        problems += caps_problems(where, {"drop": svc.get("cap_drop"),
                                          "add": svc.get("cap_add")}, svc)
        if not any(str(v).split(":")[1:2] == ["/var/lib/weft"]
                   for v in svc.get("volumes") or []):
            problems.append(f"{where}: /var/lib/weft is not on a volume")
    return problems


def check_dockerfile(path):
    stages, problems = [], []
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        word = line.split(" ", 1)[0].upper()
        if word == "FROM":
            stages.append({"from": line.split()[1], "user": None})
        elif word == "USER" and stages:
            stages[-1]["user"] = line.split()[1].split(":")[0]
    if len(stages) < 2:
        problems.append(f"{path}: {len(stages)} stage(s); expected a build "
                        "stage and a runtime one")
    for s in stages:
        if not re.match(r"debian:bookworm(-slim)?$", s["from"]):
            problems.append(f"{path}: FROM {s['from']}, expected debian:bookworm")
    if stages and stages[-1]["user"] in (None, "root", "0"):
        problems.append(f"{path}: the image runs as root (no USER in its "
                        "last stage)")
    return problems


def main(argv):
    if len(argv) < 3 or argv[1] not in CHECKS:
        print(__doc__, file=sys.stderr)
        return 2
    problems = []
    try:
        if argv[1] == "k8s":  # one set: references go across files
            problems = check_k8s(argv[2:])
        else:
            for path in argv[2:]:
                problems += CHECKS[argv[1]](path)
    except Exception as e:  # a file that does not parse, or lacks a level
        problems.append(f"{' '.join(argv[2:])}: {type(e).__name__}: {e}")
    for p in problems:
        print(p)
    return 1 if problems else 0


CHECKS = {"unit": check_unit, "k8s": check_k8s, "compose": check_compose,
          "dockerfile": check_dockerfile}

if __name__ == "__main__":
    sys.exit(main(sys.argv))
