#!/usr/bin/env bash
# The man pages (docs/man/): each renders with man-db and groff without a
# warning; weft(1) names every command weft help lists, in the docs' part
# and in OPTIONS; weft.conf(5) every key the server accepts in [server],
# [class] and [device] (from its own error for an unknown one) and every
# key weft plugins --verbose lists; meson install puts them in share/man.
. "$(dirname "$0")/lib.sh"

PAGES="$BUILD_ROOT/docs/man"
if [ ! -f "$PAGES/weft.1" ]; then
  echo "SKIP: the man pages were not built (pandoc is missing: apt-get install pandoc)"
  exit 77
fi
for tool in man groff col; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (apt-get install man-db)"; exit 77; }
done
export LC_ALL=C.UTF-8 MANWIDTH=80 MANROFFSEQ= MAN_KEEP_FORMATTING=

# render PAGE: the page as a terminal shows it, into $TEXT; anything groff
# says on the way (with every warning on) fails.
render() {
  local warnings
  # as lintian checks a page: man-db's own pipeline, its warnings on
  warnings=$(man --warnings -E UTF-8 -l -Tutf8 -Z "$1" 2>&1 >/dev/null)
  warnings+=$(groff -man -t -ww -Tutf8 -z "$1" 2>&1)
  [ -z "$warnings" ] && pass "$(basename "$1") renders without warnings" ||
    fail "$(basename "$1"): groff says:"$'\n'"$warnings"
  TEXT=$(man -l "$1" 2>&1 | col -bx)
}

# section TITLE: the lines of $TEXT under the header TITLE, to the next.
section() {
  printf '%s\n' "$TEXT" | awk -v t="$1" '/^[^ ]/ {on = ($0 == t); next} on'
}

# keys_of SECTION: the keys weft's config parser takes in SECTION, from the
# error it gives for one it does not.
keys_of() {
  printf '%s\nno_such_key = 1\n' "$1" >"$TMP/keys.conf"
  "$WEFT" server --config "$TMP/keys.conf" 2>&1 |
    sed -n 's/.*valid keys are //p' | tr -d ',' | tr ' ' '\n'
}

# tagged LIST_NAME KEY...: fails unless each KEY opens an entry (a line of
# its own at the list's indent, "KEY" or "KEY (...)") in $OUT.
tagged() {
  local what=$1 key missing=
  shift
  [ $# -gt 0 ] || { fail "$what: nothing to look for"; return; }
  for key in "$@"; do
    printf '%s\n' "$OUT" | grep -Eq "^       $key( \(.*)?\$" || missing+=" $key"
  done
  [ -z "$missing" ] && pass "$what: all $# listed" || fail "$what: missing$missing"
}

# weft(1): every command, in the docs' part and in OPTIONS.
render "$PAGES/weft.1"
COMMANDS=$("$WEFT" help | awk '/^Commands:/ {on = 1; next} on && NF == 0 {exit} on {print $1}')
[ "$(echo "$COMMANDS" | wc -l)" -ge 10 ] && pass "weft help lists the commands" ||
  fail "weft help lists only: $COMMANDS"
BODY=$(printf '%s\n' "$TEXT" | awk '/^OPTIONS$/ {exit} {print}')
missing=
for cmd in $COMMANDS; do
  grep -q "weft $cmd\b" <<<"$BODY" || missing+=" $cmd"
done
[ -z "$missing" ] && pass "weft(1) describes every command" ||
  fail "weft(1) (docs/cli.md) never names weft$missing"
OUT=$(section OPTIONS)
missing=
for cmd in $COMMANDS; do
  grep -qx "   weft $cmd" <<<"$OUT" || missing+=" $cmd"
done
[ -z "$missing" ] && pass "weft(1) OPTIONS has a part per command" ||
  fail "weft(1) OPTIONS lacks weft$missing"
for opt in $("$WEFT" help tunnel | grep -o -- '--[a-z-]*' | sort -u); do
  grep -q -- "$opt" <<<"$OUT" || fail "weft(1) OPTIONS lacks weft tunnel $opt"
done
contains "OPTIONS has weft tunnel --enroll" "--enroll STRING"
for section in NAME SYNOPSIS DESCRIPTION OPTIONS 'Exit codes' 'SEE ALSO'; do
  grep -qx "$section" <<<"$TEXT" && pass "weft(1) has $section" || fail "weft(1) lacks $section"
done

# weft.conf(5): every key the parser takes, each an entry of its section.
render "$PAGES/weft.conf.5"
OUT=$(section '[server]')
tagged "weft.conf(5) [server]" $(keys_of '[server]')
OUT=$(section '[class "NAME"] and [device "ID"]')
tagged "weft.conf(5) [class] and [device]" $(keys_of '[device "x"]')
OUT=$(section 'TRANSPORT OPTIONS')
tagged "weft.conf(5) [transport.websocket]" ping_interval max_streams udp_max_flows
# every key each transport plugin declares, as weft plugins --verbose has it
PLUGIN_KEYS=$("$WEFT" plugins --verbose 2>/dev/null | awk '
  /^[a-z]/ {name = $1}
  /^    \[/ {keys = 1; next}
  /^    [^ ]/ {keys = 0}
  keys && /^      [a-z]/ {print name, $1}')
[ "$(echo "$PLUGIN_KEYS" | wc -l)" -ge 20 ] && pass "weft plugins --verbose lists the transports' keys" ||
  fail "weft plugins --verbose lists only: $PLUGIN_KEYS"
missing=
while read -r plugin key; do
  grep -qw -- "$key" <<<"$(printf '%s\n' "$OUT" | awk -v p="   $plugin" '/^   [^ ]/ {on = ($0 == p)} on')" ||
    missing+=" $plugin:$key"
done <<<"$PLUGIN_KEYS"
[ -z "$missing" ] && pass "weft.conf(5) names every transport's keys" ||
  fail "weft.conf(5) TRANSPORT OPTIONS lacks$missing"

render "$PAGES/weft-plugin.7"
OUT=$TEXT
contains "weft-plugin(7) has the guide" "When the loader says no"
contains "weft-plugin(7) shows the SDK's pkg-config" "pkg-config --cflags weft-sdk"

DEST="$TMP/root"
check "meson install" 0 meson install -C "$BUILD_ROOT" --destdir "$DEST" --no-rebuild --quiet
for page in man1/weft.1 man5/weft.conf.5 man7/weft-plugin.7; do
  found=$(find "$DEST" -path "*/share/man/$page")
  [ -n "$found" ] && cmp -s "$found" "$PAGES/$(basename "$page")" &&
    pass "installed ${found#"$DEST"}" || fail "$page not installed under $DEST/.../share/man"
done
check "man finds the installed page" 0 env MANPATH="$(dirname "$(dirname "$found")")" man -w weft-plugin
contains "it is the installed one" "$DEST"

finish
