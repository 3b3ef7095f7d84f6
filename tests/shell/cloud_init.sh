#!/usr/bin/env bash
# conf/cloud-init/user-data.yaml, the throwaway support server: Debian's
# cloud-init finds it valid, with nothing deprecated; the shell script it
# writes parses; the drop-in's ExecStart is the packaged unit's with only
# --config changed; and the server runs on the weft.conf it writes (here,
# in a network namespace of its own: its port is the fixed 9092), with
# enrollment = approve, and takes `weft user add support --role admin` as
# the script runs it, which prints an API key.
. "$(dirname "$0")/lib.sh"
USER_DATA="$SOURCE_ROOT/conf/cloud-init/user-data.yaml"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
command -v cloud-init >/dev/null ||
  { echo "SKIP: cloud-init is not installed (scripts/setup-deps.sh)"; exit 77; }
"$PY" -c 'import yaml' 2>/dev/null ||
  { echo "SKIP: python3-yaml is not installed (scripts/setup-deps.sh)"; exit 77; }

check "cloud-init schema: valid" 0 cloud-init schema --config-file "$USER_DATA"
contains "it says so" "Valid cloud-config"
echo "$OUT" | grep -qi deprecat && fail "deprecated keys: $OUT" || pass "nothing deprecated"

# The files it writes, each into $TMP/files/ as its path with / as _.
mkdir "$TMP/files"
"$PY" - "$USER_DATA" "$TMP/files" <<'PY'
import os, sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
for f in doc["write_files"]:
    open(os.path.join(sys.argv[2], f["path"].strip("/").replace("/", "_")), "w").write(f["content"])
print(" ".join(map(str, doc["runcmd"][0])), file=open(os.path.join(sys.argv[2], "runcmd"), "w"))
PY
check "the script parses (sh -n)" 0 sh -n "$TMP/files/usr_local_sbin_weft-support-up"
grep -q '^\[server\]$' "$TMP/files/etc_weft_support.conf" && pass "its sed finds [server]" ||
  fail "support.conf has no [server] line for the script's sed"
contains_file() { grep -qF -- "$2" "$1" && pass "$3" || fail "$3: $1 lacks '$2'"; }
contains_file "$TMP/files/runcmd" /usr/local/sbin/weft-support-up "runcmd runs the script written"

# The drop-in's ExecStart against the packaged unit's.
UNIT="$BUILD_ROOT/conf/systemd/weft-server.service"
if [ -f "$UNIT" ]; then
  want=$(sed -n 's/^ExecStart=//p' "$UNIT" | sed 's|--config [^ ]*|--config /etc/weft/support.conf|; s|^[^ ]*/weft |/usr/bin/weft |')
  got=$(sed -n 's/^ExecStart=\(.\)/\1/p' "$TMP/files/etc_systemd_system_weft-server.service.d_support.conf")
  [ "$got" = "$want" ] && pass "the drop-in changes only --config" ||
    fail "drop-in ExecStart: $got"$'\n'"unit's, with its config: $want"
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "(not root: the server is not run on support.conf)"
  finish
fi
OUT=$(unshare -n bash -c '
  ip link set lo up
  "$1" server --config "$2/files/etc_weft_support.conf" --state-dir "$2/state" \
    --secret-file "$2/state/connection.txt" >"$2/server.log" 2>&1 &
  for _ in $(seq 100); do
    [ -s "$2/state/connection.txt" ] && [ -S "$2/state/admin.sock" ] && break
    sleep 0.1
  done
  echo "connection: $(head -n 1 "$2/state/connection.txt")"
  "$1" user add support --role admin --state-dir "$2/state"; echo "user-add=$?"
  kill $!; wait $!; echo "exit=$?"' - "$WEFT" "$TMP" 2>&1)
echo "$OUT"
contains "the server on support.conf writes its connection string" "connection: weft://"
contains "weft user add support --role admin works" "user-add=0"
contains "and prints an API key" "weft_"
contains "the server stops cleanly" "exit=0"
finish
