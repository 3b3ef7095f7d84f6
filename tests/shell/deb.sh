#!/usr/bin/env bash
# The Debian package (debian/): dpkg-buildpackage builds weft and weft-dev
# from a copy of the source tree (nocheck: its tests are not even built),
# lintian finds no error or warning, and both install with dpkg -i into a
# fresh root: an overlay over this machine's / in a private mount
# namespace, so the libraries are there but nothing of Weft is. There
# weft version and weft plugins run, the postinst made the user weft,
# systemd-analyze verify accepts the installed units, and pkg-config finds
# weft-sdk. Normal build only (meson.build): it compiles Weft once more,
# about a minute of CPU.
. "$(dirname "$0")/lib.sh"

for tool in dpkg-buildpackage dh lintian unshare chroot; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/setup-deps.sh)"; exit 77; }
done
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: the fresh root (mount namespace, overlay, chroot) needs root"
  exit 77
fi
[ -d "$SOURCE_ROOT/ui/node_modules/preact" ] ||
  { echo "SKIP: ui/node_modules is empty (scripts/setup-deps.sh runs npm ci)"; exit 77; }
ms() { echo $(($(date +%s%N) / 1000000)); }

# ---- build, from a copy (dpkg-buildpackage writes beside the tree)
VERSION=$(dpkg-parsechangelog -l "$SOURCE_ROOT/debian/changelog" -S Version)
SRC="$TMP/src/weft-$VERSION"
mkdir -p "$SRC"
tar -C "$SOURCE_ROOT" --exclude='./build*' --exclude=./.git \
  --exclude=./ui/node_modules/playwright-core -cf - . | tar -C "$SRC" -xf -
T0=$(ms)
(cd "$SRC" && DEB_BUILD_OPTIONS="nocheck noddebs parallel=2" DEB_BUILD_PROFILES=nocheck \
  dpkg-buildpackage -us -uc -b) >"$TMP/build.log" 2>&1 ||
  { fail "dpkg-buildpackage: $(tail -30 "$TMP/build.log")"; finish; }
echo "dpkg-buildpackage: $(($(ms) - T0)) ms"
DEBS=("$TMP/src/weft_${VERSION}_"*.deb "$TMP/src/weft-dev_${VERSION}_"*.deb)
for deb in "${DEBS[@]}"; do
  [ -f "$deb" ] && pass "built $(basename "$deb")" || { fail "no $deb"; finish; }
done

T0=$(ms)
check "lintian: no error or warning" 0 lintian --fail-on error,warning \
  "$TMP/src/weft_${VERSION}_"*.changes
echo "$OUT" | grep -v 'root privileges'
echo "lintian: $(($(ms) - T0)) ms"

# ---- install into a fresh root
T0=$(ms)
cp "${DEBS[@]}" "$TMP/"
cat >"$TMP/fresh.sh" <<'FRESH'
set -eu
tmp=$1
shift
mount -t tmpfs tmpfs "$tmp/layers"
mkdir "$tmp/layers/upper" "$tmp/layers/work" "$tmp/layers/root"
root=$tmp/layers/root
mount -t overlay overlay \
  -o "lowerdir=/,upperdir=$tmp/layers/upper,workdir=$tmp/layers/work" "$root"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/tmp"
mount -t tmpfs tmpfs "$root/run"
cp "$@" "$root/tmp/"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
echo "before: $(in_root sh -c 'command -v weft || echo none')"
in_root sh -c 'dpkg -i /tmp/*.deb' >"$tmp/dpkg.log" 2>&1 || { echo "dpkg -i failed:"; cat "$tmp/dpkg.log"; exit 1; }
echo "== weft version"; in_root weft version
echo "== weft plugins"; in_root weft plugins
echo "== user"; in_root getent passwd weft
echo "== verify"; in_root systemd-analyze verify /lib/systemd/system/weft-server.service \
  /lib/systemd/system/weft-tunnel@x.service && echo verified
echo "== pkg-config"; in_root pkg-config --cflags --variable=plugindir weft-sdk
echo "== man"; in_root man -w weft.conf
FRESH
mkdir "$TMP/layers"
OUT=$(unshare -m bash "$TMP/fresh.sh" "$TMP" "$TMP"/*.deb 2>&1)
echo "$OUT"
echo "install and run in a fresh root: $(($(ms) - T0)) ms"
contains "no weft in the fresh root before" "before: none"
contains "weft version runs there" "weft $VERSION"
for p in autossh vhost websocket wireguard; do
  contains "weft plugins lists $p" "$p"
done
contains "the postinst made the user weft" "weft:x:"
contains "systemd-analyze verify accepts the installed units" "verified"
contains "pkg-config finds weft-sdk" "/usr/lib/"
contains "man finds weft.conf(5)" "weft.conf.5"
finish
