#!/usr/bin/env bash
# Installs the Debian 12 packages Weft needs to build and test, and only
# those that are missing, so running it again does nothing.
#   setup-deps.sh          build and test
#   setup-deps.sh bench    also what bench/run.sh compares against
set -eu
"$(dirname "$0")/install-hooks.sh"

PACKAGES=(
  # build (pandoc: the man pages, docs/man/)
  gcc make meson ninja-build pkg-config pandoc
  # libraries (docs/architecture.md says what each is for)
  libuv1-dev libinih-dev libsodium-dev libssl-dev libjansson-dev
  libhttp-parser-dev libsqlite3-dev libnghttp2-dev libwslay-dev libmnl-dev
  libhiredis-dev libcurl4-openssl-dev libnftables-dev
  liboath-dev  # TOTP codes for console sign-in (core/auth/totp.c)
  # tests
  libcriterion-dev clang g++ libfuzzer-14-dev libclang-rt-14-dev
  curl python3 python3-websockets iproute2 procps man-db
  python3-cryptography   # the Python client's device login (python/weft)
  openssh-server openssh-client systemd
  wireguard-go wireguard-tools nftables
  pebble
  prometheus   # promtool check metrics, on /metrics in tests/shell/metrics*.sh
  debhelper dpkg-dev lintian   # the Debian package (debian/, tests/shell/deb.sh)
  podman runc python3-yaml     # the image (runc: crun refuses hybrid cgroups) and manifests
  cloud-init                   # cloud-init schema (conf/cloud-init)
  chromium     # the web console's browser test (playwright-core drives it)
  oathtool     # TOTP codes in that test, computed independently of weft
  zbar-tools   # reads the Account page's QR code back in that test (zbarimg)
)
if [ "${1:-}" = bench ]; then
  PACKAGES+=(iperf3 wrk haproxy nginx-light)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$pkg")
  fi
done

command -v npm >/dev/null || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
elif [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages: ${missing[*]}" >&2
  echo "setup: run as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
else
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# From the npm registry, exactly as each package-lock.json records them,
# unless they are there already: the web console's libraries (embedded
# into weft at build time) and its browser test's driver (ui/), and the
# OpenTelemetry test's OTLP types (tests/otel/).
top="$(cd "$(dirname "$0")/.." && pwd)"
for dir in "$top/ui" "$top/tests/otel"; do
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$dir/node_modules/.weft-lock" 2>/dev/null)" != "$want" ]; then
    echo "setup: npm ci in ${dir#"$top"/}/"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$dir/node_modules/.weft-lock"
  fi
done
