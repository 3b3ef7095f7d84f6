#!/usr/bin/env bash
# A third party's view: install Weft, build sdk/examples/hello with nothing
# but `pkg-config weft-sdk`, and load it with `weft plugins`.
. "$(dirname "$0")/lib.sh"

DEST="$TMP/root"
check "meson install" 0 meson install -C "$BUILD_ROOT" --destdir "$DEST" --no-rebuild --quiet
PC_DIR=$(dirname "$(find "$DEST" -name weft-sdk.pc | head -n 1)")
[ -f "$PC_DIR/weft-sdk.pc" ] && pass "weft-sdk.pc installed" || fail "no weft-sdk.pc under $DEST"
export PKG_CONFIG_PATH="$PC_DIR" PKG_CONFIG_SYSROOT_DIR="$DEST" PKG_CONFIG_LIBDIR="$PC_DIR"
check "pkg-config finds the SDK" 0 pkg-config --cflags weft-sdk
contains "cflags point at the installed headers" "-I$DEST"
INSTALLED_WEFT=$(find "$DEST" -type f -name weft -perm -u+x | head -n 1)
[ -n "$INSTALLED_WEFT" ] && pass "weft installed" || fail "weft binary not installed"
for name in autossh vhost websocket wireguard; do
  [ -n "$(find "$DEST" -name "$name.so")" ] && pass "$name plugin installed" || fail "$name.so not installed"
done
[ -f "$(find "$DEST" -path '*include/weft/plugin.h' | head -n 1)" ] && pass "SDK headers installed" || fail "SDK headers missing"

cp -r "$SOURCE_ROOT/sdk/examples/hello" "$TMP/hello"
# The example must not see the source tree: only the installed SDK.
check "example builds out of tree" 0 make -C "$TMP/hello" CC="${CC:-cc}" CFLAGS="-O2 ${SANITIZE_FLAGS:-}"
check "weft plugins loads the example" 0 "$WEFT" plugins --plugin-dir "$TMP/hello" --verbose
contains "example listed" "hello      $ABI   client tcp"
contains "example options listed" "greeting"
OUT_REFUSED=$(printf '%s' "$OUT" | sed -n '/^Refused:/,$p')
[ -z "$OUT_REFUSED" ] && pass "nothing refused" || fail "refusals: $OUT_REFUSED"

finish
