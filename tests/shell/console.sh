#!/usr/bin/env bash
# The web console, end to end in a real browser (tests/ui/console.mjs:
# Debian's Chromium driven by playwright-core): sign-in with API keys, with
# a password, with a password and a TOTP code (oathtool computes it),
# the session cookie's flags, a device's allowed-port switch changing its
# ACL through the API, pages that follow the server's events (a tunnel and
# an approval request from outside), the HTTP inspector (three curl
# requests listed live, one replayed: the backend gets it twice), a
# terminal to a device's real sshd (log in, echo hello-from-weft, end it),
# CSRF, sign-out, a viewer's limits, and the Account page: otto sets his
# own password (the page goes back to sign-in, saying why) and turns TOTP
# on (its QR code read back by zbarimg, a wrong code refused, oathtool's
# turning it on and signing in) and off (with his password shown again).
. "$(dirname "$0")/lib.sh"
NETKIT="$(dirname "$0")/netkit.py"
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: the terminal's device sshd needs root to log a user in; run the suite as root"
  exit 77
fi
for need in /usr/bin/chromium /usr/bin/oathtool /usr/bin/zbarimg /usr/sbin/sshd "$SOURCE_ROOT/ui/node_modules/playwright-core"; do
  [ -e "$need" ] || { echo "SKIP: $need is missing (scripts/setup-deps.sh installs it)"; exit 77; }
done

PORT=$(free_port)
ECHO=$(free_port)
STATE="$TMP/state"
HTTP=$(free_port)
SITE=$(free_port)
printf '[server]\nlisten = 127.0.0.1:%s\nhttp_listen = 127.0.0.1:%s\ntls_listen = off\n' "$PORT" "$HTTP" >"$TMP/weft.conf"
start_server
python3 "$NETKIT" echo-server "$ECHO" >"$TMP/echo.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
"$WEFT" tunnel --device-id laptop-7 "$CONN" "tcp://127.0.0.1:$ECHO" >"$TMP/dev.out" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
wait_for 20 grep -q "is reachable at" "$TMP/dev.out" || fail "device: $(cat "$TMP/dev.out")"
# An HTTP device for the inspector: http.server logs each request it gets.
mkdir -p "$TMP/site" && echo hello >"$TMP/site/page.txt"
python3 -m http.server "$SITE" --bind 127.0.0.1 --directory "$TMP/site" >"$TMP/site.log" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
"$WEFT" tunnel --device-id web-5 "$CONN" "http://127.0.0.1:$SITE" >"$TMP/web.out" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
wait_for 20 grep -q "is reachable at" "$TMP/web.out" || fail "web device: $(cat "$TMP/web.out")"
# A device whose tunnel carries its sshd, for the terminal (root runs the
# suite: sshd needs it to log a user in).
SSHD=$(free_port)
SSH_PASSWORD="device password 7"
device_sshd "$SSHD" "$SSH_PASSWORD"
"$WEFT" tunnel --device-id box-1 "$CONN" "tcp://127.0.0.1:$SSHD" >"$TMP/box.out" 2>&1 </dev/null &
STARTED_PIDS+=("$!")
wait_for 20 grep -q "is reachable at" "$TMP/box.out" || fail "ssh device: $(cat "$TMP/box.out")"
OPERATOR=$("$WEFT" user add otto --role operator --state-dir "$STATE" | tail -n 1)
VIEWER=$("$WEFT" user add vera --role viewer --state-dir "$STATE" | tail -n 1)
ADMIN=$("$WEFT" user add ada --role admin --state-dir "$STATE" | tail -n 1)
PASSWORD="a console password"
"$WEFT" user add tess --role viewer --state-dir "$STATE" >/dev/null
for who in otto tess; do
  printf '%s\n' "$PASSWORD" | "$WEFT" user passwd "$who" --stdin --state-dir "$STATE" >/dev/null ||
    fail "weft user passwd $who"
done
check "weft user totp prints the URI" 0 "$WEFT" user totp tess --state-dir "$STATE"
contains "an otpauth:// one" "otpauth://totp/Weft:tess?secret="
SECRET=$(echo "$OUT" | sed -n 's/.*secret=\([A-Z2-7]*\).*/\1/p')

mkdir -p "$BUILD_ROOT/console-screenshots"
check "the console in Chromium" 0 env BASE="https://127.0.0.1:$PORT" OPERATOR_KEY="$OPERATOR" ADMIN_KEY="$ADMIN" \
  VIEWER_KEY="$VIEWER" DEVICE=laptop-7 PASSWORD="$PASSWORD" TOTP_USER=tess \
  TOTP_SECRET="$SECRET" CONN="$CONN" ECHO="$ECHO" HOME="$TMP" SITE_LOG="$TMP/site.log" \
  SSH_DEVICE=box-1 SSHD_PORT="$SSHD" SSH_PASSWORD="$SSH_PASSWORD" SHOTS="$BUILD_ROOT/console-screenshots" \
  timeout 150 node "$SOURCE_ROOT/tests/ui/console.mjs"
echo "$OUT"
SHOTS="$BUILD_ROOT/console-screenshots"
check "the console's pages at two widths, its CSP, origin and weight" 0 env \
  BASE="https://127.0.0.1:$PORT" OPERATOR_KEY="$OPERATOR" OUT="$SHOTS" HOME="$TMP" \
  timeout 90 node "$SOURCE_ROOT/tests/ui/console_shots.mjs"
echo "$OUT"
check "/ui redirects to /ui/" 0 curl -ks -o /dev/null -w '%{http_code} %{redirect_url}' "https://127.0.0.1:$PORT/ui"
contains "with a 308" "308 https://127.0.0.1:$PORT/ui/"
finish
