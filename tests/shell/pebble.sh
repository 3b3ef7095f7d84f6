# Debian's pebble (a local ACME server) for the tests that need one; sourced
# after lib.sh. Sets CA (the PEM trusting pebble's own HTTPS), and on
# start_pebble: ACME_PORT, MGMT_PORT (its root at /roots/0), HTTP01_PORT
# (where it checks HTTP-01 answers), PEBBLE_PID, CTS_PID.
# --- ports: random in 61000-65499 (above Linux's ephemeral range, and
# clear of the fixed public ports other tests publish in 2000-32767, which
# run at the same time), free for TCP and UDP right now, all different; a
# start that still loses a race is retried with new ones.
USED_PORTS=" "
random_port() {
  local p
  for _ in $(seq 100); do
    p=$((61000 + RANDOM % 4500))
    case "$USED_PORTS" in *" $p "*) continue ;; esac
    if python3 - "$p" 2>/dev/null <<'PY'; then
import socket, sys
for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.close()
PY
      USED_PORTS+="$p "
      echo "$p"
      return 0
    fi
  done
  return 1
}

# --- a throwaway CA and a certificate for pebble's own HTTPS listener
# (Debian's pebble ships none)
make_pebble_tls() {
  local d=$TMP/pki
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=weft test CA for pebble" -keyout "$d/ca.key" -out "$d/ca.pem" \
    -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>"$d/log" &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -subj "/CN=localhost" -keyout "$d/tls.key" -out "$d/tls.csr" 2>>"$d/log" &&
    printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" \
      "basicConstraints=CA:FALSE" "extendedKeyUsage=serverAuth" >"$d/ext" &&
    openssl x509 -req -in "$d/tls.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
      -CAcreateserial -days 2 -extfile "$d/ext" -out "$d/tls.pem" 2>>"$d/log"
}
make_pebble_tls || { fail "openssl could not make pebble's certificate: $(cat "$TMP/pki/log")"; finish; }
CA=$TMP/pki/ca.pem

# start_pebble REJECT_PERCENT NAME: challtestsrv (DNS: every name is
# 127.0.0.1) and pebble, on fresh ports, logs in $TMP/NAME.log; 0 once
# pebble's directory answers.
start_pebble() {
  local reject=$1 log=$TMP/$2.log
  ACME_PORT=$(random_port) && MGMT_PORT=$(random_port) && DNS_PORT=$(random_port) &&
    CTS_PORT=$(random_port) && HTTP01_PORT=$(random_port) && TLS01_PORT=$(random_port) || return 1
  cat >"$TMP/$2.json" <<JSON
{"pebble": {
  "listenAddress": "127.0.0.1:$ACME_PORT",
  "managementListenAddress": "127.0.0.1:$MGMT_PORT",
  "certificate": "$TMP/pki/tls.pem",
  "privateKey": "$TMP/pki/tls.key",
  "httpPort": $HTTP01_PORT,
  "tlsPort": $TLS01_PORT,
  "ocspResponderURL": "",
  "externalAccountBindingRequired": false
}}
JSON
  pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" \
    -dns01 "127.0.0.1:$DNS_PORT" -http01 "" -https01 "" -tlsalpn01 "" \
    -management "127.0.0.1:$CTS_PORT" >"$TMP/$2-challtestsrv.log" 2>&1 &
  CTS_PID=$!
  STARTED_PIDS+=("$CTS_PID")
  # PEBBLE_AUTHZREUSE=100: a second order on the same account reuses the
  # valid authorization, so the test knows that path is taken.
  PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=$reject PEBBLE_AUTHZREUSE=100 \
    pebble -config "$TMP/$2.json" -dnsserver "127.0.0.1:$DNS_PORT" \
    >"$log" 2>&1 &
  PEBBLE_PID=$!
  STARTED_PIDS+=("$PEBBLE_PID")
  local deadline=$(($(date +%s) + 20))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    kill -0 "$PEBBLE_PID" 2>/dev/null && kill -0 "$CTS_PID" 2>/dev/null || break
    curl -fsS --max-time 2 --cacert "$CA" "https://127.0.0.1:$ACME_PORT/dir" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  kill "$PEBBLE_PID" "$CTS_PID" 2>/dev/null
  wait "$PEBBLE_PID" "$CTS_PID" 2>/dev/null
  return 1
}
start_pebble_retrying() { # as start_pebble, three tries
  for try in 1 2 3; do
    start_pebble "$@" && return 0
    echo "pebble did not start (try $try): $(tail -3 "$TMP/$2.log" "$TMP/$2-challtestsrv.log")"
  done
  return 1
}
