#!/usr/bin/env bash
# bash completion for weft (completion/): sourced in a bash of its own it
# completes commands, subcommands, options and their values; its options
# are exactly those each command's getopt table takes (core/cli/cmd_*.c),
# so help text, completion and parser cannot drift apart; meson install
# puts it where bash-completion looks.
. "$(dirname "$0")/lib.sh"

COMPLETION="$BUILD_ROOT/completion/weft"
[ -f "$COMPLETION" ] && pass "completion built" || { fail "no $COMPLETION"; finish; }
check "it is valid bash" 0 bash -n "$COMPLETION"

# complete WORD...: what bash completes the last WORD to, one per line, in
# a fresh non-interactive bash (no bash-completion loaded).
complete_words() {
  OUT=$(cd "$TMP" && bash -c '
    . "$0" || exit 1
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    _weft
    printf "%s\n" "${COMPREPLY[@]}"' "$COMPLETION" "$@" 2>&1)
}

# completes NAME WANT WORD...: fails unless the completions are WANT
# (space-separated, in any order).
completes() {
  local name=$1 want got
  want=$(printf '%s\n' $2 | sort)
  shift 2
  complete_words "$@"
  got=$(printf '%s\n' $OUT | sort)
  [ "$got" = "$want" ] && pass "$name" ||
    fail "$name: '$*' completes to [$(echo $got)], expected [$(echo $want)]"
}

completes "weft de -> device" "device" weft de
completes "weft tunnel --en -> --enroll" "--enroll" weft tunnel --en
completes "weft <tab>: every command" \
  "$("$WEFT" help | awk '/^Commands:/ {on = 1; next} on && NF == 0 {exit} on {print $1}') --help --version" \
  weft ""
completes "weft help s" "server service" weft help s
completes "weft tunnel status --r" "--run-dir" weft tunnel status --r
completes "weft admin, after a connection string" "approvals approve" weft admin weft://S@h:9092 appro
completes "weft device, after an option's value" "show set" weft device --state-dir /tmp s
completes "weft device add --" "--class --expires --device-id --help --socket --state-dir" weft device add x --
completes "weft user --role" "operator" weft user add otto --role op
completes "weft user --role=" "admin operator viewer" weft user add otto --role = ""
completes "no subcommand after an argument" "" weft device show x ""
mkdir -p "$TMP/confs/sub" && touch "$TMP/confs/weft.conf"
completes "--config FILE: files" "$TMP/confs/sub $TMP/confs/weft.conf" weft server --config "$TMP/confs/"
completes "--state-dir DIR: directories" "$TMP/confs/sub" weft tunnel --state-dir "$TMP/confs/"
check "complete -p weft names _weft" 0 bash -c '. "$0" && complete -p weft' "$COMPLETION"
contains "registered for weft" "complete -F _weft weft"

# Each cmd_*.c's getopt table against the completion: the file prints its
# usage with cli_print_usage("KEY"); its long options (and the short ones of
# its optstring) are what completion offers for KEY, --help aside.
check "getopt tables and completion agree" 0 python3 - "$SOURCE_ROOT/core/cli" "$COMPLETION" <<'PY'
import glob, re, subprocess, sys
cli, completion = sys.argv[1], sys.argv[2]
tables = {}
for path in sorted(glob.glob(cli + "/cmd_*.c")):
    src = open(path).read()
    table = re.search(r"struct option longopts\[\] = \{(.*?)\};", src, re.S)
    if not table:
        continue
    key = re.search(r'cli_print_usage\("([^"]+)"\)', src).group(1)
    longs = set("--" + n for n in re.findall(r'\{"([a-z0-9-]+)",', table.group(1)))
    optstring = re.search(r'getopt_long\(argc, argv, "([^"]*)"', src).group(1)
    shorts = set("-" + c for c in optstring if c.isalnum())
    tables[key] = (longs | shorts) - {"--help", "-h"}
script = '. "$0"; for k in "${!_weft_options[@]}"; do echo "$k=${_weft_options[$k]}"; done'
offered = {}
for line in subprocess.run(["bash", "-c", script, completion], capture_output=True,
                           text=True, check=True).stdout.splitlines():
    key, opts = line.split("=", 1)
    offered[key] = set(opts.split()) - {"--help", "-h"}
bad = 0
for key in sorted(set(tables) | set(offered)):
    parser, comp = tables.get(key, set()), offered.get(key, set())
    for opt in sorted(parser - comp):
        print(f"weft {key}: getopt takes {opt}, but weft help '{key}' does not list it")
    for opt in sorted(comp - parser):
        print(f"weft {key}: weft help '{key}' lists {opt}, which getopt refuses")
    if parser != comp:
        bad = 1
    else:
        print(f"weft {key}: the same {len(parser)} options")
sys.exit(bad)
PY
[ "$STATUS" -eq 0 ] && printf '%s\n' "$OUT"

DEST="$TMP/root"
check "meson install" 0 meson install -C "$BUILD_ROOT" --destdir "$DEST" --no-rebuild --quiet
INSTALLED=$(find "$DEST" -path '*/bash-completion/completions/weft' -type f)
[ -n "$INSTALLED" ] && cmp -s "$INSTALLED" "$COMPLETION" && pass "installed ${INSTALLED#"$DEST"}" ||
  fail "completion not installed under $DEST/.../bash-completion/completions/"

finish
