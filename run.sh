#!/usr/bin/env bash
# Installs what is missing, builds, and runs `weft server` on its embedded
# defaults (control API on port 9092). Ctrl-C stops it.
set -eu
top=$(cd "$(dirname "$0")" && pwd)
"$top/scripts/setup-deps.sh"
echo "build: compiling (build/)"
"$top/scripts/build.sh" build
exec "$top/build/weft" server "$@"
