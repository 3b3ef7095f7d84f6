#!/usr/bin/env bash
# The login's cost on the server, with and without a device key: N logins
# by weft login as ids no key holds (the secret alone: HKDF and AES-GCM),
# then N as ids bound to their keys (and an Ed25519 signature to verify,
# a store lookup), and the server's CPU per login for each, read from
# /proc. weft login is a process each time, so logins per second here
# are the client's; the server's CPU per login is the figure to compare.
#
#   bench/login.sh          N=200
#   N=50 bench/login.sh
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
WEFT="$top/build/weft"
N=${N:-200}
[ -x "$WEFT" ] || { echo "$WEFT is missing: build first (scripts/build.sh build)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/weft-loginbench.XXXXXX)
export WEFT_STATE_DIR="$TMP/agent-state" # device keys, not in /var/lib/weft
cleanup() {
  stop_all
  rm -rf "$TMP"
}
trap cleanup EXIT

CTL=$(port)
printf '[server]\nlisten = 127.0.0.1:%s\nhttp_listen = off\ntls_listen = off\n' "$CTL" >"$TMP/weft.conf"
bg "$WEFT" server --config "$TMP/weft.conf" --state-dir "$TMP/state"
SERVER=${PIDS[-1]}
wait_port "$CTL" || exit 1
CONN="weft://$(cat "$TMP/state/secret")@127.0.0.1:$CTL"

# Server CPU (utime + stime) in clock ticks.
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)

# logins KIND: N logins, returns "server ms per login" and "logins/s".
logins() {
  local kind=$1 before after start end
  before=$(cpu "$SERVER")
  start=$(date +%s.%N)
  for ((i = 0; i < N; i++)); do
    "$WEFT" login "$CONN" --device-id "$kind-$i" >/dev/null 2>&1 || say "login $kind-$i failed"
    [ $((i % 50)) -eq 49 ] && say "  $kind: $((i + 1))/$N"
  done
  end=$(date +%s.%N)
  after=$(cpu "$SERVER")
  awk -v t=$((after - before)) -v hz="$TICK" -v n="$N" -v s="$start" -v e="$end" \
    'BEGIN { printf "%.3f %.1f", t * 1000 / hz / n, n / (e - s) }'
}

say "login bench: $N logins each way"
read -r PLAIN_MS PLAIN_RATE < <(logins plain)
# Keys for N ids, bound at a first login each, then the measured round.
mkdir -p "$WEFT_STATE_DIR/device-keys"
for ((i = 0; i < N; i++)); do
  printf 'weft-device-key 1\n%s\n' "$(head -c 32 /dev/urandom | basenc --base64url | tr -d '=')" \
    >"$WEFT_STATE_DIR/device-keys/keyed-$i.key"
  chmod 600 "$WEFT_STATE_DIR/device-keys/keyed-$i.key"
  "$WEFT" login "$CONN" --device-id "keyed-$i" >/dev/null 2>&1 || say "enrolling keyed-$i failed"
done
read -r KEYED_MS KEYED_RATE < <(logins keyed)
printf '%-34s %10s %12s\n' "login" "server ms" "logins/s"
printf '%-34s %10s %12s\n' "secret alone (no device key)" "$PLAIN_MS" "$PLAIN_RATE"
printf '%-34s %10s %12s\n' "device key (Ed25519, bound id)" "$KEYED_MS" "$KEYED_RATE"
printf 'ratio keyed / secret alone: %s\n' "$(ratio "$KEYED_MS" "$PLAIN_MS")"
