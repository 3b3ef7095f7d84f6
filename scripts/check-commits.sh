#!/usr/bin/env bash
# check-commits.sh [BASE]: every commit after BASE (default: the last one
# before the commit form of CONTRIBUTING.md was adopted) passes the
# commit-msg hook. Past history stays as it is.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
base=${1:-5d2843f}
if ! git -C "$top" rev-parse -q --verify "$base^{commit}" >/dev/null; then
  echo "SKIP: commit $base is not in this clone (shallow?)"
  exit 77
fi
bad=0 n=0
for c in $(git -C "$top" rev-list --no-merges "$base..HEAD"); do
  n=$((n + 1))
  git -C "$top" log -1 --format=%B "$c" >"${TMPDIR:-/tmp}/weft-msg.$$"
  if ! out=$("$top/scripts/commit-msg" "${TMPDIR:-/tmp}/weft-msg.$$" 2>&1); then
    echo "$(git -C "$top" log -1 --format='%h %s' "$c")"
    printf '%s\n' "$out" | grep -v 'is kept in' | sed 's/^/    /'
    bad=$((bad + 1))
  fi
done
rm -f "${TMPDIR:-/tmp}/weft-msg.$$"
echo "$n commits since $base, $bad not in form"
[ "$bad" -eq 0 ]
