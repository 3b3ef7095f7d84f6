#!/usr/bin/env bash
# The SDK from C++: every header compiles alone as C++17, and a plugin
# written in C++ builds against this build tree's weft-sdk-uninstalled.pc
# and loads.
. "$(dirname "$0")/lib.sh"
CXX=${CXX:-g++}
CXXFLAGS="-std=c++17 -Wall -Wextra -Werror -pedantic"

export PKG_CONFIG_PATH="$BUILD_ROOT/meson-uninstalled" PKG_CONFIG_LIBDIR="$BUILD_ROOT/meson-uninstalled"
check "pkg-config finds the uninstalled SDK" 0 pkg-config --cflags weft-sdk
contains "its Cflags name the headers" "-I$SOURCE_ROOT/sdk"
SDK_CFLAGS=$OUT

for header in "$SOURCE_ROOT"/sdk/weft/*.h; do
  name=weft/$(basename "$header")
  check "$name compiles alone as C++" 0 \
    $CXX $CXXFLAGS $SDK_CFLAGS -fsyntax-only -x c++ - <<<"#include <$name>"
done

mkdir -m 0755 "$TMP/plugins"
check "a C++ plugin builds" 0 $CXX $CXXFLAGS ${SANITIZE_FLAGS:-} $SDK_CFLAGS \
  -fPIC -fvisibility=hidden -shared -o "$TMP/plugins/cxx.so" \
  "$(dirname "$0")/sdk_cxx_plugin.cc"
check "weft plugins loads it" 0 "$WEFT" plugins --plugin-dir "$TMP/plugins"
contains "it is listed" "cxx        $ABI   server client tcp"
OUT_REFUSED=$(printf '%s' "$OUT" | sed -n '/^Refused:/,$p')
[ -z "$OUT_REFUSED" ] && pass "nothing refused" || fail "refusals: $OUT_REFUSED"

finish
