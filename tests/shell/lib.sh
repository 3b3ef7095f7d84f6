# Helpers for the process-level tests. Each test script sources this file.
# Environment from meson: WEFT (the binary under test), BUILD_ROOT,
# SOURCE_ROOT, TEST_PLUGIN_DIR.
set -u

TMP=$(mktemp -d /tmp/weft-test.XXXXXX)
# Device agents keep their keys here, not in the machine's /var/lib/weft.
export WEFT_STATE_DIR="$TMP/agent-state"
# The plugin ABI this tree builds, as MAJOR.MINOR, from the SDK header.
ABI=$(awk '/#define WEFT_ABI_MAJOR/ {M=$3} /#define WEFT_ABI_MINOR/ {m=$3}
           END {print M "." m}' "$SOURCE_ROOT/sdk/weft/plugin.h")
STARTED_PIDS=()
FAILURES=0

cleanup() {
  for pid in "${STARTED_PIDS[@]}"; do
    kill "$pid" 2>/dev/null
  done
  # Bounded: whatever has not ended 10 s after SIGTERM is named and killed.
  local deadline=$(($(date +%s) + 10))
  for pid in "${STARTED_PIDS[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "FAIL: process $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)) ignored SIGTERM" >&2
      kill -9 "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
  done
  local reported=0
  sanitizer_reports && reported=1
  [ -n "${KEEP_TMP:-}" ] && echo "kept $TMP" || rm -rf "$TMP"
  if [ "$reported" = 1 ]; then exit 1; fi
}
trap cleanup EXIT

# Under ASan+UBSan: what the sanitizers said in the logs of the processes
# the test started (a server's leak at its stop changes no answer a test
# reads): printed, and true when there is any.
sanitizer_reports() {
  [ -n "${SANITIZE_FLAGS:-}" ] || return 1
  local files
  files=$(grep -rlE "ERROR: (Address|Leak)Sanitizer|runtime error: " "$TMP" 2>/dev/null) || return 1
  for f in $files; do
    echo "FAIL: a sanitizer report in ${f#"$TMP"/}:" >&2
    grep -A 30 -E "ERROR: (Address|Leak)Sanitizer|runtime error: " "$f" | head -40 >&2
  done
  return 0
}

fail() {
  echo "FAIL: $*" >&2
  FAILURES=$((FAILURES + 1))
}

pass() { echo "ok: $*"; }

# check NAME EXPECTED_STATUS COMMAND... : runs COMMAND, keeps its output in
# $OUT and its status in $STATUS, and fails unless the status is expected.
check() {
  local name=$1 want=$2
  shift 2
  OUT=$("$@" 2>&1)
  STATUS=$?
  if [ "$STATUS" -ne "$want" ]; then
    fail "$name: exit status $STATUS, expected $want; output:"$'\n'"$OUT"
    return 1
  fi
  pass "$name"
}

# contains NAME TEXT : fails unless $OUT contains TEXT.
contains() {
  case "$OUT" in
  *"$2"*) pass "$1" ;;
  *) fail "$1: output lacks '$2'; output was:"$'\n'"$OUT" ;;
  esac
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for SECONDS COMMAND... : retries COMMAND every 0.1 s until it succeeds.
wait_for() {
  local deadline=$(($(date +%s) + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.1
  done
}

# start_server [ARGS...]: weft server on $TMP/weft.conf and $STATE (and
# ARGS, such as --plugin-dir), its output added to $TMP/server.log (a
# restart keeps what the last run said); returns once its control port
# $PORT answers /healthz. Sets SERVER (its pid, in STARTED_PIDS) and
# CONN (the connection string with the server's secret).
start_server() {
  "$WEFT" server --config "$TMP/weft.conf" --state-dir "$STATE" "$@" \
    >>"$TMP/server.log" 2>&1 </dev/null &
  SERVER=$!
  STARTED_PIDS+=("$SERVER")
  wait_for 20 curl -ksfS "https://127.0.0.1:$PORT/healthz" ||
    fail "the server did not start: $(tail -n 20 "$TMP/server.log")"
  CONN="weft://$(cat "$STATE/secret")@127.0.0.1:$PORT"
}

# test_ca: a throwaway CA in $TMP/pki (ca.pem, ca.key), with the openssl
# CLI; test_leaf NAME PREFIX: a certificate for NAME it signs, as
# PREFIX.crt and PREFIX.key.
test_ca() {
  mkdir -p "$TMP/pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=weft test CA" -keyout "$TMP/pki/ca.key" -out "$TMP/pki/ca.pem" 2>/dev/null
}
test_leaf() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
    -keyout "$2.key" -out "$2.csr" 2>/dev/null
  printf 'subjectAltName=DNS:%s\n' "$1" >"$2.ext"
  openssl x509 -req -in "$2.csr" -CA "$TMP/pki/ca.pem" -CAkey "$TMP/pki/ca.key" \
    -CAcreateserial -days 2 -extfile "$2.ext" -out "$2.crt" 2>/dev/null
}

# device_sshd PORT PASSWORD [NETNS]: an sshd on 127.0.0.1:PORT (or on
# every address of network namespace NETNS) where user "weft-op" logs in
# with PASSWORD, a device's sshd for the console's terminal. It runs in a
# private mount namespace whose /etc/passwd and /etc/shadow are copies
# with that user added: the machine's own stay untouched. Needs root;
# sets SSHD_PID.
device_sshd() {
  local dir="$TMP/device-sshd-$1" listen=127.0.0.1 in=()
  [ -n "${3:-}" ] && listen=0.0.0.0 in=(ip netns exec "$3")
  mkdir -p "$dir" /run/sshd
  ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key"
  cp /etc/passwd "$dir/passwd" && cp /etc/shadow "$dir/shadow"
  echo "weft-op:x:4242:4242:weft test operator:/tmp:/bin/sh" >>"$dir/passwd"
  echo "weft-op:$(openssl passwd -6 "$2"):19000:0:99999:7:::" >>"$dir/shadow"
  cat >"$dir/sshd_config" <<EOC
Port $1
ListenAddress $listen
HostKey $dir/host_key
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
StrictModes no
PrintMotd no
PrintLastLog no
UseDNS no
AllowTcpForwarding no
PidFile $dir/sshd.pid
EOC
  "${in[@]}" unshare -m --propagation private sh -c "mount --bind '$dir/passwd' /etc/passwd &&
    mount --bind '$dir/shadow' /etc/shadow &&
    exec /usr/sbin/sshd -D -f '$dir/sshd_config' -E '$dir/sshd.log'" &
  SSHD_PID=$!
  STARTED_PIDS+=("$SSHD_PID")
  wait_for 10 "${in[@]}" bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" ||
    fail "the device's sshd did not start: $(tail -3 "$dir/sshd.log")"
}

finish() {
  if [ "$FAILURES" -gt 0 ]; then
    echo "$FAILURES check(s) failed" >&2
    exit 1
  fi
  exit 0
}
