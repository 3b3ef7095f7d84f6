#!/usr/bin/env bash
# run_fuzzer.sh FUZZER SEED_DIR SECONDS: a short libFuzzer run over a copy of
# the seeds (libFuzzer writes new inputs into its first corpus directory, and
# the source tree must stay untouched).
set -u
fuzzer=$1 seeds=$2 seconds=$3
work=$(mktemp -d /tmp/weft-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$seeds"/. "$work/"
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -error_exitcode=1 \
  -timeout_exitcode=1 \
  -max_len=8192 -print_final_stats=1 -artifact_prefix="$work/" "$work" 2>&1 |
  tail -n 25
status=${PIPESTATUS[0]}
for crash in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
  [ -e "$crash" ] || continue
  echo "reproducer: $crash (base64 follows)"
  base64 "$crash"
done
exit "$status"
