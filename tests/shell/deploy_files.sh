#!/usr/bin/env bash
# The container files (conf/container) and Kubernetes manifests
# (conf/kubernetes), checked as files: deploy_check.py finds in them no
# root user, privileged container, privilege escalation or capability
# beyond NET_ADMIN, and the pieces a server needs (its state volume, the
# Service's ports on the container, weft.conf in the ConfigMap, a
# Secret); it does catch each of those when a copy is made wrong. The
# ConfigMap's weft.conf is then run by the weft built here. Running the
# image itself: container_image.sh.
. "$(dirname "$0")/lib.sh"
CHECK="$SOURCE_ROOT/tests/shell/deploy_check.py"
# Debian's python3 (python3-yaml is its), not one earlier in PATH
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
CONF="$SOURCE_ROOT/conf"
"$PY" -c 'import yaml' 2>/dev/null ||
  { echo "SKIP: python3-yaml is not installed (scripts/setup-deps.sh)"; exit 77; }

K8S=("$CONF"/kubernetes/*.yaml)
check "the Kubernetes manifests pass" 0 "$PY" "$CHECK" k8s "${K8S[@]}"
check "the compose file passes" 0 "$PY" "$CHECK" compose "$CONF/container/compose.yaml"
check "the Dockerfile passes" 0 "$PY" "$CHECK" dockerfile "$CONF/container/Dockerfile"
[ -f "$CONF/container/$(sed -n 's|^ *- \(\.\./weft.conf\):.*|\1|p' "$CONF/container/compose.yaml")" ] &&
  pass "the weft.conf compose mounts exists" || fail "compose mounts a weft.conf that is not there"

# wrong K8S_FILE SED_SCRIPT WHAT: a copy of the manifests with one file
# changed by SED_SCRIPT must be caught, saying WHAT.
wrong() {
  rm -rf "$TMP/k8s" && mkdir "$TMP/k8s" && cp "${K8S[@]}" "$TMP/k8s/"
  sed -i "$2" "$TMP/k8s/$1"
  check "caught: $3" 1 "$PY" "$CHECK" k8s "$TMP"/k8s/*.yaml
  contains "its reason names it" "$4"
}
wrong statefulset.yaml '/runAsNonRoot/d' "no runAsNonRoot" "may run as root"
wrong statefulset.yaml 's/runAsUser: 10001/runAsUser: 0/' "runAsUser 0" "may run as root"
wrong statefulset.yaml 's/privileged: false/privileged: true/' "a privileged container" "privileged"
wrong statefulset.yaml 's/allowPrivilegeEscalation: false/allowPrivilegeEscalation: true/' \
  "privilege escalation" "allowPrivilegeEscalation"
wrong statefulset.yaml 's/drop: \[ALL\]/drop: [ALL]\n              add: [NET_ADMIN, SYS_ADMIN]/' \
  "a capability beyond NET_ADMIN" "SYS_ADMIN"
wrong statefulset.yaml 's/- name: state$/- name: data/' "state not on its volume" "volume"
wrong service.yaml 's/targetPort: control/targetPort: admin/' "a Service port no container has" "admin"
wrong configmap.yaml 's/weft.conf: |/other.conf: |/' "no weft.conf" "weft.conf"
rm "$TMP/k8s/secret.yaml"
check "caught: no Secret" 1 "$PY" "$CHECK" k8s "$TMP"/k8s/*.yaml

sed '/^ *user:/d' "$CONF/container/compose.yaml" >"$TMP/compose.yaml"
check "caught: compose without user" 1 "$PY" "$CHECK" compose "$TMP/compose.yaml"
sed 's/cap_drop: \[ALL\]/cap_drop: [ALL]\n    cap_add: [SYS_ADMIN]/' "$CONF/container/compose.yaml" >"$TMP/compose.yaml"
check "caught: compose adding SYS_ADMIN" 1 "$PY" "$CHECK" compose "$TMP/compose.yaml"
sed '/^USER /d' "$CONF/container/Dockerfile" >"$TMP/Dockerfile"
check "caught: a Dockerfile without USER" 1 "$PY" "$CHECK" dockerfile "$TMP/Dockerfile"
contains "its reason" "runs as root"

# The ConfigMap's weft.conf, run: it listens on the ports the Service
# names and prints its public_host in the connection string.
"$PY" -c 'import sys, yaml
print(yaml.safe_load(open(sys.argv[1]))["data"]["weft.conf"], end="")' \
  "$CONF/kubernetes/configmap.yaml" >"$TMP/weft.conf"
if [ "$(id -u)" -eq 0 ]; then
  # its own network namespace: the ports are the fixed ones of the manifest
  OUT=$(unshare -n bash -c '
    ip link set lo up
    "$1" server --config "$2/weft.conf" --state-dir "$2/state" >"$2/server.log" 2>&1 &
    for _ in $(seq 100); do
      curl -fsS -m 1 http://127.0.0.1:9092/healthz >/dev/null 2>&1 && break
      sleep 0.1
    done
    code() { curl -s -k -o /dev/null -m 2 -w "%{http_code}" "$1"; }
    echo "port 9092: $(code http://127.0.0.1:9092/healthz)"
    echo "port 8080: $(code http://127.0.0.1:8080/)"
    echo "port 8443: $(code https://127.0.0.1:8443/)"
    kill $!; wait $!; echo "exit=$?"' - "$WEFT" "$TMP" 2>&1)
  echo "$OUT"
  cat "$TMP/server.log"
  contains "the ConfigMap's server answers /healthz on 9092" "port 9092: 200"
  contains "public HTTP on 8080" "port 8080: 404"
  case "$OUT" in *"port 8443: 000"*) fail "no TLS on 8443" ;; *) pass "public TLS on 8443" ;; esac
  contains "and stops cleanly" "exit=0"
  grep -q 'weft://.*@tunnels.example.com:9092' "$TMP/server.log" &&
    pass "its connection string names public_host" ||
    fail "no connection string for tunnels.example.com in the log"
else
  echo "(not root: the ConfigMap's weft.conf is not run)"
fi
finish
