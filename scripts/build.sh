#!/usr/bin/env bash
# build.sh DIR [MESON OPTIONS...]: configures DIR once (again if the options
# changed) and builds it. Prints only what went wrong.
set -eu
dir=$1
shift
top=$(cd "$(dirname "$0")/.." && pwd)
stamp="$top/$dir/.weft-options"
want="$*"
if [ ! -f "$top/$dir/build.ninja" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  rm -rf "${top:?}/$dir"
  meson setup "$top/$dir" "$top" "$@" >"$top/$dir.setup.log" 2>&1 || {
    cat "$top/$dir.setup.log" >&2
    exit 1
  }
  rm -f "$top/$dir.setup.log"
  printf '%s' "$want" >"$stamp"
fi
ninja -C "$top/$dir" >"$top/$dir.ninja.log" 2>&1 || {
  tail -n 60 "$top/$dir.ninja.log" >&2
  exit 1
}
rm -f "$top/$dir.ninja.log"
