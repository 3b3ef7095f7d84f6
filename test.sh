#!/usr/bin/env bash
# Installs what is missing, then builds and runs every test three ways:
# a normal build, an AddressSanitizer + UndefinedBehaviorSanitizer build,
# and the libFuzzer targets (clang). Ends with "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")" && pwd)
"$top/scripts/setup-deps.sh" || exit 1

export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

passed=0 failed=0 skipped=0
run_suite() {
  local label=$1 dir=$2 multiplier=1
  shift 2
  # Sanitizers run the same tests two to three times slower.
  case "$*" in *b_sanitize*) multiplier=2 ;; esac
  echo "== $label: building ($dir/)"
  if ! "$top/scripts/build.sh" "$dir" "$@"; then
    echo "== $label: BUILD FAILED"
    failed=$((failed + 1))
    return
  fi
  echo "== $label: testing"
  meson test -C "$top/$dir" --no-rebuild --print-errorlogs --num-processes 2 \
    --timeout-multiplier "$multiplier" \
    >"$top/$dir.test.log" 2>&1
  grep -E '^ *[0-9]+/[0-9]+ ' "$top/$dir.test.log"
  local counts
  counts=$(python3 - "$top/$dir/meson-logs/testlog.json" <<'PY'
import json, sys
ok = bad = skip = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r == "OK": ok += 1
    elif r == "SKIP": skip += 1
    else: bad += 1
print(ok, bad, skip)
PY
)
  read -r ok bad skip <<<"$counts"
  passed=$((passed + ok)) failed=$((failed + bad)) skipped=$((skipped + skip))
  if [ "$bad" -gt 0 ]; then
    echo "== $label: failures (full log: $dir.test.log)"
    # the end of each failed test's own output, so a CI log says why
    python3 - "$top/$dir/meson-logs/testlog.json" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["result"] in ("OK", "SKIP"):
        continue
    print(f"---- {r['name']}: {r['result']} (last 60 lines of its output)")
    out = (r.get("stdout") or "") + (r.get("stderr") or "")
    print("\n".join(out.splitlines()[-60:]))
PY
  fi
}

run_suite "normal build" build
run_suite "ASan+UBSan build" build-asan \
  -Db_sanitize=address,undefined -Db_lundef=false \
  -Dc_args=-fno-sanitize-recover=all
CC=clang run_suite "fuzzers (clang, libFuzzer)" build-fuzz \
  -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false \
  -Dc_args=-fsanitize=fuzzer-no-link

[ "$skipped" -gt 0 ] && echo "($skipped skipped: see the SKIP lines above for why)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
