#!/usr/bin/env bash
# weft-server.service and weft-tunnel@.service (conf/systemd) as meson
# install puts them: systemd-analyze verify accepts both; deploy_check.py
# finds neither running as root or with a capability beyond CAP_NET_ADMIN,
# and does catch a unit that would (User= dropped, a capability added).
# Then the server unit's ExecStart runs as systemd would run it (no
# systemd here as PID 1): as the user "weft", with the unit's capability
# sets and no new privileges, in a private mount and network namespace
# where /var/lib/weft is its StateDirectory=; it must answer /healthz,
# hold exactly CAP_NET_ADMIN, and own what it writes there; then the
# agent unit's ExecStart (weft-tunnel@x) opens a tunnel to it, as weft.
. "$(dirname "$0")/lib.sh"
CHECK="$SOURCE_ROOT/tests/shell/deploy_check.py"
# Debian's python3 (python3-yaml is its), not one earlier in PATH
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

for tool in systemd-analyze setpriv unshare curl; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/setup-deps.sh)"; exit 77; }
done
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: running the unit as its own user needs root"
  exit 77
fi

DEST="$TMP/dest"
meson install -C "$BUILD_ROOT" --no-rebuild --destdir "$DEST" \
  >"$TMP/install.log" 2>&1 || { fail "meson install: $(tail -5 "$TMP/install.log")"; finish; }
UNITS=$(find "$DEST" -name 'weft-server.service' -o -name 'weft-tunnel@.service' | sort)
[ "$(echo "$UNITS" | wc -l)" -eq 2 ] && pass "meson install puts both units" ||
  { fail "installed units: $UNITS"; finish; }
SERVER_UNIT=$(echo "$UNITS" | grep server)
TUNNEL_UNIT=$(echo "$UNITS" | grep tunnel)

# ExecStart's first word: where the unit expects weft.
exec_start() { sed -n 's/^ExecStart=//p' "$1"; }
BIN=$(exec_start "$SERVER_UNIT" | cut -d' ' -f1)
PREFIX=${BIN%/bin/weft}

# In a private mount namespace the installed tree is where the units look:
# a tmpfs over PREFIX holds the installed copy, and weft-tunnel@x's
# config and connection file exist. Man pages from the same tree.
check "systemd-analyze verify accepts both units" 0 unshare -m bash -c '
  set -e
  mount -t tmpfs tmpfs "$1" && cp -a "$2$1"/. "$1"/
  MANPATH="$1/share/man" systemd-analyze verify "$3" "$4"
' - "$PREFIX" "$DEST" "$SERVER_UNIT" "$TUNNEL_UNIT"

check "deploy_check.py passes both units" 0 "$PY" "$CHECK" unit "$SERVER_UNIT" "$TUNNEL_UNIT"
grep -v '^User=' "$SERVER_UNIT" >"$TMP/root.service"
check "a unit without User= is caught" 1 "$PY" "$CHECK" unit "$TMP/root.service"
contains "its reason" "runs as root"
sed 's/^User=.*/User=root/' "$SERVER_UNIT" >"$TMP/root.service"
check "User=root is caught" 1 "$PY" "$CHECK" unit "$TMP/root.service"
sed 's/^AmbientCapabilities=.*/& CAP_SYS_ADMIN/' "$SERVER_UNIT" >"$TMP/caps.service"
check "a capability beyond CAP_NET_ADMIN is caught" 1 "$PY" "$CHECK" unit "$TMP/caps.service"
contains "its reason" "CAP_SYS_ADMIN"

# ---- the server unit's ExecStart, run by hand as its user
key() { sed -n "s/^$2=//p" "$1" | tail -1; }
USER_=$(key "$SERVER_UNIT" User)
CAPS=$(key "$SERVER_UNIT" AmbientCapabilities)
STATE=/var/lib/$(key "$SERVER_UNIT" StateDirectory)
cat >"$TMP/run.sh" <<'RUN'
set -eu
prefix=$1 dest=$2 user=$3 caps=$4 state=$5 tmp=$6 tunnel_unit=$7
shift 7
ip link set lo up
mount -t tmpfs -o mode=0755 tmpfs "$prefix" && cp -a "$dest$prefix"/. "$prefix"/
# The user, if this machine has none of that name: in this namespace only.
if ! getent passwd "$user" >/dev/null; then
  cp /etc/passwd /etc/group "$tmp"/
  echo "$user:x:64990:64990:Weft:$state:/usr/sbin/nologin" >>"$tmp/passwd"
  echo "$user:x:64990:" >>"$tmp/group"
  mount --bind "$tmp/passwd" /etc/passwd && mount --bind "$tmp/group" /etc/group
fi
# StateDirectory=: made by systemd, owned by the user, 0700
mount -t tmpfs -o mode=0755 tmpfs "$(dirname "$state")"
install -d -o "$user" -g "$user" -m 0700 "$state"
cap=$(echo "$caps" | tr 'A-Z' 'a-z' | sed 's/^cap_//')
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$state" USER="$user" \
  setpriv --reuid "$user" --regid "$user" --init-groups --no-new-privs \
    --inh-caps "-all,+$cap" --ambient-caps "-all,+$cap" --bounding-set "-all,+$cap" \
    "$@" >"$tmp/server.log" 2>&1 &
pid=$!
ok=0
for _ in $(seq 100); do
  curl -fsS -m 1 http://127.0.0.1:9092/healthz >/dev/null 2>&1 && { ok=1; break; }
  sleep 0.1
done
echo "healthz=$ok"
grep -E '^Cap(Eff|Amb|Bnd):' /proc/$pid/status
echo "state=$(stat -c '%U %a' "$state")"
# what the server wrote there, and who owns it
find "$state" -mindepth 1 -maxdepth 1 ! -user "$user" -printf 'not-owned=%p\n'
echo "files=$(find "$state" -mindepth 1 | wc -l)"

# weft-tunnel@x.service's ExecStart, to that server: %i is x, %d the
# credentials directory systemd would fill from tunnel-x.connect.
mount -t tmpfs -o mode=0755 tmpfs /run
creds=/run/credentials/weft-tunnel@x.service
install -d -o "$user" -m 0500 "$creds"
install -o "$user" -m 0400 "$state/connection.txt" "$creds/connect"
install -d -o "$user" -g "$user" -m 0700 /var/lib/weft-tunnel /var/lib/weft-tunnel/x
install -d -o "$user" -g "$user" -m 0750 /run/weft-tunnel-x
agent_cmd=$(sed -n 's/^ExecStart=//p' "$tunnel_unit" | sed "s|%i|x|g; s|%d|$creds|g")
conf=$(echo "$agent_cmd" | sed 's/.*--config \([^ ]*\).*/\1/')
printf '[tunnel "ssh"]\ntransport = websocket\nlocal = tcp://127.0.0.1:22\nremote = tcp://:20022\n' >"$conf"
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/var/lib/weft USER="$user" \
  setpriv --reuid "$user" --regid "$user" --init-groups --no-new-privs \
    --inh-caps "-all,+$cap" --ambient-caps "-all,+$cap" --bounding-set "-all,+$cap" \
    $agent_cmd >"$tmp/agent.log" 2>&1 &
agent=$!
for _ in $(seq 150); do
  grep -q "is reachable at" "$tmp/agent.log" && break
  sleep 0.1
done
echo "agent: $(grep -m1 'is reachable at' "$tmp/agent.log")"
echo "agent-status: $(weft_status=$("$prefix/bin/weft" tunnel status --run-dir /run/weft-tunnel-x 2>&1); echo "$weft_status" | tr '\n' ' ')"
find /var/lib/weft-tunnel/x -name '*.key' -printf 'agent-key=%u %m\n'
kill "$agent"; wait "$agent" || echo "agent-exit=$?"
kill "$pid"; wait "$pid" || echo "exit=$?"
RUN
read -r -a CMD <<<"$(exec_start "$SERVER_UNIT")"
START=$(date +%s%N)
OUT=$(unshare -m -n bash "$TMP/run.sh" "$PREFIX" "$DEST" "$USER_" "$CAPS" "$STATE" "$TMP" "$TUNNEL_UNIT" "${CMD[@]}" 2>&1)
echo "$OUT"; echo "server log:"; cat "$TMP/server.log"
echo "(ran in $((($(date +%s%N) - START) / 1000000)) ms)"
contains "the server answers /healthz as $USER_" "healthz=1"
contains "it holds CAP_NET_ADMIN (effective)" "CapEff:	0000000000001000"
contains "as an ambient capability" "CapAmb:	0000000000001000"
contains "and nothing else in its bounding set" "CapBnd:	0000000000001000"
contains "the state directory is $USER_'s, 0700" "state=$USER_ 700"
case "$OUT" in *not-owned=*) fail "files in $STATE not owned by $USER_" ;; *) pass "everything in $STATE is $USER_'s" ;; esac
case "$OUT" in *"files=0"*) fail "the server wrote nothing in $STATE" ;; esac
case "$OUT" in *" exit="* | exit=*) fail "the server did not stop cleanly: $(cat "$TMP/server.log")" ;; esac
contains "weft-tunnel@x's ExecStart opens its tunnel as $USER_" "agent: "
contains "weft tunnel status finds it in its RuntimeDirectory" "ssh"
contains "its device key is in its StateDirectory, $USER_'s, 0600" "agent-key=$USER_ 600"
case "$OUT" in *agent-exit=*) fail "the agent did not stop cleanly: $(cat "$TMP/agent.log")" ;; esac
finish
