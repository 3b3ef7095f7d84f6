#!/usr/bin/env bash
# The weft command line as a user meets it: help, versions, exit codes,
# plain errors.
. "$(dirname "$0")/lib.sh"

check "weft with no command prints usage" 2 "$WEFT"
contains "usage lists commands" "Commands:"
check "weft help" 0 "$WEFT" help
contains "help documents exit codes" "Exit codes:"
for cmd in server tunnel plugins login version help; do
  check "weft help $cmd" 0 "$WEFT" help "$cmd"
  contains "help $cmd shows its usage" "Usage: weft $cmd"
done
for cmd in server tunnel plugins login version help admin service; do
  check "weft $cmd --help" 0 "$WEFT" "$cmd" --help
  contains "$cmd --help shows its usage" "Usage: weft $cmd"
done
check "weft server --help" 0 "$WEFT" server --help
contains "server help shows the HTTP port's default" "(default 0.0.0.0:8080)"
contains "server help shows the TLS port's default" "(default 0.0.0.0:8443)"
check "weft version" 0 "$WEFT" version
contains "version names the ABI" "plugin ABI $ABI"
check "unknown command" 2 "$WEFT" frobnicate
contains "unknown command is named" "unknown command 'frobnicate'"
check "unknown option" 2 "$WEFT" server --frob
contains "unknown option is named" "unknown option '--frob'"
check "bad port" 2 "$WEFT" server --port 70000
contains "bad port explained" "--port: 70000 is out of range 1-65535"
check "option without value" 2 "$WEFT" server --config
contains "missing value explained" "--config needs a value"

# weft plugins: the four transports from the built-in directory.
check "weft plugins" 0 "$WEFT" plugins
for name in autossh vhost websocket wireguard; do
  contains "plugins lists $name" "$name "
done
contains "plugins shows the ABI" " $ABI "
contains "plugins shows capabilities" "server client tcp udp address"
contains "plugins shows a transport's status" "endpoint /v1/vhost"
check "weft plugins --verbose" 0 "$WEFT" plugins --verbose
contains "verbose lists plugin keys" "[transport.wireguard] keys:"
contains "verbose lists tunnel keys" "remote_port"

# Broken plugins next to good ones: each refused with its reason.
check "plugins with a broken directory" 0 "$WEFT" plugins --plugin-dir "$TEST_PLUGIN_DIR"
contains "good test plugin loads" "good       $ABI"
contains "built-in plugins still load" "websocket"
contains "not-ELF refused" "not a shared object (no ELF header)"
contains "wrong ABI refused" "built for plugin ABI 2.0"
contains "short struct refused" "smaller than the"
contains "missing symbol refused" "no entry symbol 'weft_plugin_entry'"
contains "duplicate refused" "duplicate plugin name 'good'"
contains "capabilities without ops refused" "but lacks the op server_tunnel_open"
contains "failing init refused" "init failed (ENOENT): cannot find /dev/imaginary"
WEFT_PLUGIN_PATH="$TEST_PLUGIN_DIR" check "WEFT_PLUGIN_PATH is searched" 0 "$WEFT" plugins
contains "plugin from WEFT_PLUGIN_PATH" "good       $ABI"
check "missing --plugin-dir is reported" 0 "$WEFT" plugins --plugin-dir /nonexistent/dir
contains "missing dir reason" "cannot open plugin directory"

# weft tunnel: validation first, then the transport says what it cannot do.
SECRET=KRmcPUWWgYNwyf3rbDyqi9Q-2Lno_oT19X-diKptK_w
check "tunnel without arguments" 2 "$WEFT" tunnel
check "tunnel bad connection string" 2 "$WEFT" tunnel "weft://127.0.0.1" tcp://127.0.0.1:22
contains "connection string error" "has no secret"
check "tunnel bad local URL" 2 "$WEFT" tunnel "weft://$SECRET@127.0.0.1" tcp://127.0.0.1
contains "local URL error" "LOCAL_URL: tcp URL 'tcp://127.0.0.1' needs a port"
check "tunnel mismatched schemes" 2 "$WEFT" tunnel "weft://$SECRET@127.0.0.1" tcp://127.0.0.1:22 udp://:53
contains "scheme mismatch explained" "cannot be published as udp"
LONG_ID=$(printf 'd%.0s' $(seq 64))
check "a device id over 63 characters is refused" 2 "$WEFT" tunnel --device-id "$LONG_ID" "weft://$SECRET@127.0.0.1" tcp://127.0.0.1:22
contains "not cut" "refused, never cut"
check "weft login refuses it too" 2 "$WEFT" login --device-id "$LONG_ID" "weft://$SECRET@127.0.0.1:1"
contains "login says why" "is not 1 to 63 letters"
check "tunnel remote with a path" 2 "$WEFT" tunnel "weft://$SECRET@127.0.0.1" http://127.0.0.1:3000 http://app.example.test/myapp
contains "a remote path is refused, not dropped" "a remote path (/myapp) cannot be published"
check "tunnel unknown transport" 4 "$WEFT" tunnel --transport nope "weft://$SECRET@127.0.0.1" tcp://127.0.0.1:22
contains "unknown transport lists loaded" "no loaded plugin provides transport 'nope' (loaded: autossh, vhost, websocket, wireguard"
check "tunnel transport cannot carry udp" 2 "$WEFT" tunnel --transport autossh "weft://$SECRET@[::1]:9092" udp://127.0.0.1:53
contains "capability mismatch explained" "transport 'autossh' cannot carry udp"
check "tunnel with an unreachable server" 1 "$WEFT" tunnel "weft://$SECRET@127.0.0.1:1" tcp://127.0.0.1:22 tcp://:2222
contains "unreachable server explained" "cannot reach the server at https://127.0.0.1:1"
check "tunnel with a malformed secret" 2 "$WEFT" tunnel "weft://not-a-real-secret-at-all@127.0.0.1" tcp://127.0.0.1:22
contains "malformed secret explained" "is not the 43 characters"

# weft tunnel --config: every tunnel section, errors with file:line.
cat >"$TMP/bad.conf" <<CONF
[tunnel "web"]
transport = websocket
local = http://localhost:3000
remote = http://app.example.test
bogus = 1
CONF
check "tunnel --config with a bad key" 3 "$WEFT" tunnel --config "$TMP/bad.conf" "weft://$SECRET@127.0.0.1:1"
contains "bad key with file and line" "$TMP/bad.conf:5: unknown key 'bogus' in [tunnel \"web\"]"
check "the example config is valid" 0 "$WEFT" plugins --config "$SOURCE_ROOT/conf/weft.conf.example"

finish
