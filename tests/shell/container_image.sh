#!/usr/bin/env bash
# The image of conf/container/Dockerfile, built and run with podman: it
# runs as uid 10001, answers /healthz, and writes its connection string
# into its state volume. Where no engine can run it (no podman, no
# debian:bookworm image and no registry to pull it from, or podman
# cannot start a container here) it skips saying which;
# deploy_files.sh checks the same files structurally in any case.
. "$(dirname "$0")/lib.sh"

command -v podman >/dev/null || { echo "SKIP: podman is not installed (scripts/setup-deps.sh)"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "SKIP: rootful podman needs root"; exit 77; }
for image in debian:bookworm debian:bookworm-slim; do
  if ! podman image exists "$image" &&
    ! WHY=$(timeout 30 podman pull -q "docker.io/library/$image" 2>&1 >/dev/null); then
    echo "SKIP: no $image image here and it cannot be pulled: $(echo "$WHY" | tail -1)"
    exit 77
  fi
done
# Engine options: modest limits on open files and processes (the
# engines' defaults are above what this machine lets them set, and
# setrlimit fails), and runc where crun cannot run (it refuses hybrid
# cgroup hierarchies).
OPTS=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
if ! WHY=$(timeout 60 podman run "${OPTS[@]}" --rm --network none debian:bookworm-slim true 2>&1); then
  if command -v runc >/dev/null &&
    timeout 60 podman --runtime runc run "${OPTS[@]}" --rm --network none debian:bookworm-slim true >/dev/null 2>&1; then
    PODMAN=(podman --runtime runc)
  else
    echo "SKIP: podman cannot run a container on this machine: $(echo "$WHY" | tail -1)"
    exit 77
  fi
fi
podman() { command "${PODMAN[@]:-podman}" "$@"; }

TAG=localhost/weft-test:$$
podman build "${OPTS[@]}" --network host -q -f "$SOURCE_ROOT/conf/container/Dockerfile" -t "$TAG" "$SOURCE_ROOT" \
  >"$TMP/build.log" 2>&1 || { fail "podman build: $(tail -20 "$TMP/build.log")"; finish; }
trap 'podman rm -f weft-test-$$ >/dev/null 2>&1; podman rmi -f "$TAG" >/dev/null 2>&1; podman volume rm -f weft-test-$$ >/dev/null 2>&1; cleanup' EXIT
check "the image runs as uid 10001" 0 podman run "${OPTS[@]}" --rm --entrypoint id "$TAG" -u
contains "id -u prints 10001" "10001"
podman run "${OPTS[@]}" --network none -d --name "weft-test-$$" -v "weft-test-$$:/var/lib/weft" "$TAG" >/dev/null ||
  { fail "podman run failed"; finish; }
wait_for 20 podman exec "weft-test-$$" sh -c 'test -s /var/lib/weft/connection.txt' &&
  pass "the server wrote its connection string" || fail "no connection string: $(podman logs "weft-test-$$" 2>&1 | tail -5)"
check "the server's process is weft's" 0 podman top "weft-test-$$" user
contains "user weft" "weft"
finish
