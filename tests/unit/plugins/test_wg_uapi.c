/* wireguard-go's UAPI codec: set requests written from binary settings,
 * get and set replies read strictly, the socket exchange against a fake
 * server, and a round trip through a real wireguard-go when the machine
 * allows (root, /usr/bin/wireguard-go, /dev/net/tun). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../../plugins/wireguard/uapi.h"

/* 32 copies: a key's hex from its byte's two digits. */
#define HEX(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c

static void fill(uint8_t key[WG_KEY_LEN], uint8_t byte)
{
  memset(key, byte, WG_KEY_LEN);
}

static struct wg_prefix v4(const char *addr, uint8_t bits)
{
  struct wg_prefix p = {.family = AF_INET, .bits = bits};
  cr_assert_eq(inet_pton(AF_INET, addr, p.addr), 1);
  return p;
}

static struct wg_prefix v6(const char *addr, uint8_t bits)
{
  struct wg_prefix p = {.family = AF_INET6, .bits = bits};
  cr_assert_eq(inet_pton(AF_INET6, addr, p.addr), 1);
  return p;
}

static void endpoint(struct wg_peer_set *ps, int family, const char *addr,
                     uint16_t port)
{
  ps->has_endpoint = true;
  ps->endpoint_family = family;
  cr_assert_eq(inet_pton(family, addr, ps->endpoint_addr), 1);
  ps->endpoint_port = port;
}

/* ---- uapi_format_set ---- */

static const char *format(const struct wg_device_set *dev,
                          const struct wg_peer_set *peers, size_t count)
{
  static char out[8192];
  char why[256];
  int n = uapi_format_set(dev, peers, count, out, sizeof out, why, sizeof why);
  cr_assert_geq(n, 0, "%s", why);
  cr_assert_eq((size_t)n, strlen(out));
  return out;
}

Test(format, nothing_to_change)
{
  struct wg_device_set dev = {0};
  cr_assert_str_eq(format(&dev, NULL, 0), "set=1\n\n");
}

Test(format, device)
{
  struct wg_device_set dev = {.has_private_key = true,
                              .has_listen_port = true,
                              .listen_port = 51820,
                              .replace_peers = true};
  fill(dev.private_key, 0xab);
  cr_assert_str_eq(format(&dev, NULL, 0),
                   "set=1\nprivate_key=" HEX("ab") "\nlisten_port=51820\n"
                   "replace_peers=true\n\n");
}

Test(format, peer_ipv4)
{
  struct wg_device_set dev = {0};
  struct wg_peer_set p = {.has_psk = true,
                          .has_keepalive = true,
                          .keepalive_s = 25,
                          .replace_allowed_ips = true,
                          .allowed_ip_count = 2};
  fill(p.public_key, 0x01);
  fill(p.psk, 0xfe);
  endpoint(&p, AF_INET, "192.0.2.1", 51820);
  p.allowed_ips[0] = v4("10.0.0.2", 32);
  p.allowed_ips[1] = v4("0.0.0.0", 0);
  cr_assert_str_eq(format(&dev, &p, 1),
                   "set=1\npublic_key=" HEX("01") "\npreshared_key=" HEX("fe")
                   "\nendpoint=192.0.2.1:51820\n"
                   "persistent_keepalive_interval=25\n"
                   "replace_allowed_ips=true\nallowed_ip=10.0.0.2/32\n"
                   "allowed_ip=0.0.0.0/0\n\n");
}

Test(format, peer_ipv6)
{
  struct wg_device_set dev = {0};
  struct wg_peer_set p = {.allowed_ip_count = 2};
  fill(p.public_key, 0x02);
  endpoint(&p, AF_INET6, "2001:db8::1", 1);
  p.allowed_ips[0] = v6("fd00::2", 128);
  p.allowed_ips[1] = v6("fd00:1::", 64);
  cr_assert_str_eq(format(&dev, &p, 1),
                   "set=1\npublic_key=" HEX("02")
                   "\nendpoint=[2001:db8::1]:1\nallowed_ip=fd00::2/128\n"
                   "allowed_ip=fd00:1::/64\n\n");
}

Test(format, keepalive_off_and_two_peers)
{
  struct wg_device_set dev = {.has_listen_port = true, .listen_port = 0};
  struct wg_peer_set p[2] = {{.has_keepalive = true, .keepalive_s = 0},
                             {.has_keepalive = true, .keepalive_s = 65535}};
  fill(p[0].public_key, 0x03);
  fill(p[1].public_key, 0x04);
  cr_assert_str_eq(format(&dev, p, 2),
                   "set=1\nlisten_port=0\npublic_key=" HEX("03")
                   "\npersistent_keepalive_interval=0\npublic_key=" HEX("04")
                   "\npersistent_keepalive_interval=65535\n\n");
}

Test(format, remove_ignores_the_rest)
{
  struct wg_device_set dev = {0};
  /* Fields a removal ignores are not even checked. */
  struct wg_peer_set p = {.remove = true, .has_psk = true,
                          .has_endpoint = true, .endpoint_family = 99,
                          .allowed_ip_count = 1000};
  fill(p.public_key, 0x05);
  cr_assert_str_eq(format(&dev, &p, 1),
                   "set=1\npublic_key=" HEX("05") "\nremove=true\n\n");
}

static void refused(const struct wg_peer_set *p, const char *expect)
{
  struct wg_device_set dev = {0};
  char out[8192] = "untouched", why[256] = "";
  cr_assert_eq(uapi_format_set(&dev, p, 1, out, sizeof out, why, sizeof why),
               -1);
  cr_assert(strstr(why, expect), "'%s' lacks '%s'", why, expect);
}

Test(format, bad_values_refused)
{
  struct wg_peer_set p = {.allowed_ip_count = 1};
  p.allowed_ips[0] = v4("10.0.0.0", 33);
  refused(&p, "peers[0].allowed_ips[0]: prefix length 33 is more than 32");
  p.allowed_ips[0] = v6("fd00::", 129);
  refused(&p, "prefix length 129 is more than 128");
  p.allowed_ips[0] = v4("10.0.0.0", 8);
  p.allowed_ips[0].family = 12345;
  refused(&p, "unknown address family 12345");
  p.allowed_ips[0].family = AF_INET;
  p.allowed_ip_count = WG_MAX_ALLOWED_IPS + 1;
  refused(&p, "9 allowed IPs, at most 8");
  p.allowed_ip_count = 0;
  p.has_endpoint = true;
  p.endpoint_family = AF_UNIX;
  refused(&p, "endpoint has unknown address family");
}

Test(format, too_many_peers)
{
  struct wg_device_set dev = {0};
  struct wg_peer_set p = {0};
  char out[64], why[256];
  cr_assert_eq(uapi_format_set(&dev, &p, 65537, out, sizeof out, why,
                               sizeof why), -1);
  cr_assert(strstr(why, "at most 65536"), "%s", why);
}

Test(format, out_of_room)
{
  struct wg_device_set dev = {.has_private_key = true};
  struct wg_peer_set p = {.allowed_ip_count = 1};
  p.allowed_ips[0] = v6("fd00::1", 128);
  char full[1024], why[256];
  int need = uapi_format_set(&dev, &p, 1, full, sizeof full, why, sizeof why);
  cr_assert_gt(need, 0, "%s", why);
  /* The text and its NUL: one byte less never fits. */
  for (size_t room = 0; room <= (size_t)need; room++) {
    char *out = room ? malloc(room) : NULL;
    cr_assert_eq(uapi_format_set(&dev, &p, 1, out, room, why, sizeof why), -1,
                 "room %zu", room);
    cr_assert(strstr(why, "does not fit"), "%s", why);
    free(out);
  }
  char *exact = malloc((size_t)need + 1);
  cr_assert_eq(uapi_format_set(&dev, &p, 1, exact, (size_t)need + 1, why,
                               sizeof why), need);
  cr_assert_str_eq(exact, full);
  free(exact);
}

/* ---- uapi_parse_get ---- */

/* What wireguard-go 0.0.20220316 answered with two peers configured. */
static const char realistic[] =
    "private_key=" HEX("a8") "\n"
    "listen_port=51820\n"
    "fwmark=7\n"
    "public_key=" HEX("11") "\n"
    "preshared_key=" HEX("33") "\n"
    "protocol_version=1\n"
    "endpoint=192.0.2.1:51820\n"
    "last_handshake_time_sec=1700000000\n"
    "last_handshake_time_nsec=123456789\n"
    "tx_bytes=18446744073709551615\n"
    "rx_bytes=1234\n"
    "persistent_keepalive_interval=25\n"
    "allowed_ip=10.9.8.0/24\n"
    "allowed_ip=fd00::/64\n"
    "public_key=" HEX("22") "\n"
    "preshared_key=" HEX("00") "\n"
    "protocol_version=1\n"
    "endpoint=[2001:db8::1]:1234\n"
    "last_handshake_time_sec=0\n"
    "last_handshake_time_nsec=0\n"
    "tx_bytes=0\n"
    "rx_bytes=0\n"
    "persistent_keepalive_interval=0\n"
    "allowed_ip=10.0.0.3/32\n"
    "errno=0\n\n";

static void assert_prefix(const struct wg_prefix *p, int family,
                          const char *addr, uint8_t bits)
{
  uint8_t want[16] = {0};
  cr_assert_eq(p->family, family);
  cr_assert_eq(inet_pton(family, addr, want), 1);
  cr_assert_arr_eq(p->addr, want, family == AF_INET ? 4 : 16, "%s", addr);
  cr_assert_eq(p->bits, bits);
}

Test(parse_get, two_peers)
{
  struct wg_device_state st;
  int code = 99;
  char why[256] = "";
  cr_assert_eq(uapi_parse_get(realistic, strlen(realistic), &st, &code, why,
                              sizeof why), 0, "%s", why);
  cr_assert_eq(code, 0);
  uint8_t key[WG_KEY_LEN];
  fill(key, 0xa8);
  cr_assert(st.has_private_key);
  cr_assert_arr_eq(st.private_key, key, WG_KEY_LEN);
  cr_assert_eq(st.listen_port, 51820);
  cr_assert_eq(st.fwmark, 7);
  cr_assert_eq(st.peer_count, 2);

  const struct wg_peer_state *a = &st.peers[0], *b = &st.peers[1];
  fill(key, 0x11);
  cr_assert_arr_eq(a->public_key, key, WG_KEY_LEN);
  cr_assert(a->has_psk);
  cr_assert(a->has_endpoint);
  cr_assert_eq(a->endpoint_family, AF_INET);
  cr_assert_arr_eq(a->endpoint_addr, ((uint8_t[]){192, 0, 2, 1}), 4);
  cr_assert_eq(a->endpoint_port, 51820);
  cr_assert_eq(a->last_handshake_s, 1700000000);
  cr_assert_eq(a->tx_bytes, UINT64_MAX);
  cr_assert_eq(a->rx_bytes, 1234);
  cr_assert_eq(a->keepalive_s, 25);
  cr_assert_eq(a->allowed_ip_count, 2);
  assert_prefix(&a->allowed_ips[0], AF_INET, "10.9.8.0", 24);
  assert_prefix(&a->allowed_ips[1], AF_INET6, "fd00::", 64);

  fill(key, 0x22);
  cr_assert_arr_eq(b->public_key, key, WG_KEY_LEN);
  cr_assert_not(b->has_psk, "all-zero preshared key means none");
  cr_assert_eq(b->endpoint_family, AF_INET6);
  uint8_t six[16];
  inet_pton(AF_INET6, "2001:db8::1", six);
  cr_assert_arr_eq(b->endpoint_addr, six, 16);
  cr_assert_eq(b->endpoint_port, 1234);
  cr_assert_eq(b->last_handshake_s, 0);
  cr_assert_eq(b->keepalive_s, 0);
  cr_assert_eq(b->allowed_ip_count, 1);
  assert_prefix(&b->allowed_ips[0], AF_INET, "10.0.0.3", 32);
  wg_device_state_free(&st);
  cr_assert_null(st.peers);
}

static void parses(const char *text, struct wg_device_state *st)
{
  int code;
  char why[256] = "";
  cr_assert_eq(uapi_parse_get(text, strlen(text), st, &code, why, sizeof why),
               0, "%s: %s", text, why);
}

Test(parse_get, fresh_device)
{
  /* A fresh wireguard-go: no private key, no fwmark line, a random port. */
  struct wg_device_state st;
  parses("listen_port=38571\nerrno=0\n\n", &st);
  cr_assert_not(st.has_private_key);
  cr_assert_eq(st.listen_port, 38571);
  cr_assert_eq(st.fwmark, 0);
  cr_assert_eq(st.peer_count, 0);
  cr_assert_null(st.peers);
  parses("private_key=" HEX("00") "\nerrno=0\n\n", &st);
  cr_assert_not(st.has_private_key, "all zeros: no key");
  parses("private_key=" HEX("AB") "\nerrno=0\n\n", &st);
  cr_assert(st.has_private_key, "upper case hex is hex too");
}

Test(parse_get, minimal_peer_and_zone)
{
  struct wg_device_state st;
  parses("public_key=" HEX("01") "\nendpoint=[fe80::1%eth0]:51820\n"
         "errno=0\n\n", &st);
  cr_assert_eq(st.peer_count, 1);
  cr_assert_eq(st.peers[0].endpoint_family, AF_INET6);
  cr_assert_eq(st.peers[0].endpoint_addr[0], 0xfe);
  cr_assert_eq(st.peers[0].endpoint_port, 51820);
  cr_assert_not(st.peers[0].has_psk);
  wg_device_state_free(&st);
}

Test(parse_get, errno_not_zero)
{
  struct wg_device_state st;
  int code = 0;
  char why[256];
  cr_assert_eq(uapi_parse_get("errno=-22\n\n", 11, &st, &code, why,
                              sizeof why), -1);
  cr_assert_eq(code, -22);
  cr_assert(strstr(why, "errno=-22"), "%s", why);
  cr_assert_null(st.peers);
}

static void rejects(const char *text, size_t len, const char *expect)
{
  struct wg_device_state st;
  int code = 99;
  char why[256] = "";
  cr_assert_eq(uapi_parse_get(text, len, &st, &code, why, sizeof why), -1,
               "accepted: %s", text);
  cr_assert_eq(code, 0);
  cr_assert_null(st.peers);
  cr_assert_eq(st.peer_count, 0);
  cr_assert(strstr(why, expect), "'%s' lacks '%s'", why, expect);
}

#define REJECTS(text, expect) rejects(text, sizeof text - 1, expect)
#define PEER "public_key=" HEX("01") "\n"

Test(parse_get, malformed)
{
  REJECTS("", "line 1: the reply ends without errno");
  REJECTS("errno=0\n", "line 2: no blank line after errno");
  REJECTS("errno=0", "line 1: the reply ends in the middle of a line");
  REJECTS("listen_port=1\n", "line 2: the reply ends without errno");
  REJECTS("errno=0\n\n\n", "1 bytes after the blank line");
  REJECTS("errno=0\n\nerrno=0\n\n", "bytes after the blank line");
  REJECTS("\nerrno=0\n\n", "line 1: a blank line before errno");
  REJECTS("errno=zero\n\n", "is not errno=NUMBER");
  REJECTS("errno=99999999999\n\n", "is not errno=NUMBER");
  REJECTS("listen_port\nerrno=0\n\n", "line 1: 'listen_port' has no '='");
  REJECTS("listen_port=1\r\nerrno=0\n\n", "byte 0x0d");
  REJECTS("listen_port=1 \nerrno=0\n\n", "byte 0x20");
  REJECTS("listen_port=\xc3\xa9\nerrno=0\n\n", "byte 0xc3");
  REJECTS("listen_port=1\0\nerrno=0\n\n", "byte 0x00");
  char long_line[400];
  snprintf(long_line, sizeof long_line, "fwmark=%0300d\nerrno=0\n\n", 1);
  rejects(long_line, strlen(long_line), "line 1: longer than 256 bytes");
}

Test(parse_get, keys_and_sections)
{
  REJECTS("listen_port=1\nbogus=1\nerrno=0\n\n", "line 2: unknown key 'bogus'");
  REJECTS("Listen_port=1\nerrno=0\n\n", "unknown key 'Listen_port'");
  REJECTS("=1\nerrno=0\n\n", "unknown key ''");
  REJECTS("listen_port=1\nlisten_port=2\nerrno=0\n\n",
          "line 2: listen_port appears twice");
  REJECTS(PEER "rx_bytes=1\nrx_bytes=1\nerrno=0\n\n",
          "line 3: rx_bytes appears twice");
  REJECTS("tx_bytes=1\nerrno=0\n\n", "line 1: tx_bytes before any public_key");
  REJECTS(PEER "fwmark=1\nerrno=0\n\n", "line 2: fwmark after the first peer");
  REJECTS(PEER "tx_bytes=1\n" PEER "errno=0\n\n",
          "peer " HEX("01") " appears twice");
}

Test(parse_get, values)
{
  REJECTS("listen_port=70000\nerrno=0\n\n",
          "line 1: listen_port 70000 is out of range");
  REJECTS("listen_port=-1\nerrno=0\n\n", "listen_port '-1' is not a number");
  REJECTS("listen_port=\nerrno=0\n\n", "listen_port '' is not a number");
  REJECTS("fwmark=4294967296\nerrno=0\n\n",
          "fwmark 4294967296 is out of range");
  REJECTS("private_key=abc\nerrno=0\n\n",
          "private_key is not 64 hex digits (3 characters)");
  REJECTS("private_key=" HEX("a") "\nerrno=0\n\n", "(32 characters)");
  REJECTS("private_key=" HEX("a") "b" HEX("a") "\nerrno=0\n\n",
          "(65 characters)");
  REJECTS("private_key=" HEX("gg") "\nerrno=0\n\n",
          "private_key is not 64 hex digits");
  REJECTS("public_key=" HEX("0x") "\nerrno=0\n\n",
          "line 1: public_key is not 64 hex digits");
  REJECTS(PEER "preshared_key=xyz\nerrno=0\n\n",
          "line 2: preshared_key is not 64 hex digits");
  REJECTS(PEER "tx_bytes=18446744073709551616\nerrno=0\n\n",
          "tx_bytes 18446744073709551616 is out of range");
  REJECTS(PEER "rx_bytes=99999999999999999999999999999999\nerrno=0\n\n",
          "is out of range");
  REJECTS(PEER "last_handshake_time_sec=9223372036854775808\nerrno=0\n\n",
          "out of range");
  REJECTS(PEER "last_handshake_time_nsec=1000000000\nerrno=0\n\n",
          "out of range");
  REJECTS(PEER "persistent_keepalive_interval=65536\nerrno=0\n\n",
          "out of range");
  REJECTS(PEER "protocol_version=2\nerrno=0\n\n",
          "protocol_version 2 is not 1");
}

Test(parse_get, endpoints)
{
  REJECTS(PEER "endpoint=vpn.example.com:51820\nerrno=0\n\n",
          "line 2: endpoint 'vpn.example.com:51820': bad IPv4 address");
  REJECTS(PEER "endpoint=192.0.2.1\nerrno=0\n\n", "ADDRESS:PORT");
  REJECTS(PEER "endpoint=192.0.2.1:70000\nerrno=0\n\n", "bad port");
  REJECTS(PEER "endpoint=192.0.2.1:\nerrno=0\n\n", "bad port");
  REJECTS(PEER "endpoint=2001:db8::1:80\nerrno=0\n\n", "ADDRESS:PORT");
  REJECTS(PEER "endpoint=[2001:db8::1]80\nerrno=0\n\n", "[ADDRESS]:PORT");
  REJECTS(PEER "endpoint=[192.0.2.1]:80\nerrno=0\n\n", "bad IPv6 address");
  REJECTS(PEER "endpoint=[fe80::1%]:80\nerrno=0\n\n", "bad zone");
  REJECTS(PEER "endpoint=[fe80::1%abcdefghijklmnop]:80\nerrno=0\n\n",
          "bad zone");
  REJECTS(PEER "endpoint=:80\nerrno=0\n\n", "bad IPv4 address");
}

Test(parse_get, allowed_ips)
{
  REJECTS(PEER "allowed_ip=10.0.0.0/33\nerrno=0\n\n",
          "line 2: allowed_ip '10.0.0.0/33': prefix length out of range");
  REJECTS(PEER "allowed_ip=fd00::/129\nerrno=0\n\n", "prefix length");
  REJECTS(PEER "allowed_ip=10.0.0.0\nerrno=0\n\n", "not ADDRESS/BITS");
  REJECTS(PEER "allowed_ip=10.0.0.0/\nerrno=0\n\n", "prefix length");
  REJECTS(PEER "allowed_ip=10.0.0/8\nerrno=0\n\n", "bad address");
  REJECTS(PEER "allowed_ip=example/8\nerrno=0\n\n", "bad address");
  char text[1024] = PEER;
  for (int i = 0; i < WG_MAX_ALLOWED_IPS + 1; i++)
    snprintf(text + strlen(text), sizeof text - strlen(text),
             "allowed_ip=10.0.0.%d/32\n", i);
  strcat(text, "errno=0\n\n");
  rejects(text, strlen(text), "line 10: a peer with more than 8 allowed IPs");
}

Test(parse_get, too_many_peers)
{
  size_t n = 65537, line = 76, len = n * line + 9;
  char *text = malloc(len + 1), *p = text;
  for (size_t i = 0; i < n; i++)
    p += sprintf(p, "public_key=%056x%08zx\n", 0, i);
  strcpy(p, "errno=0\n\n");
  cr_assert_eq(strlen(text), len);
  rejects(text, len, "line 65537: more than 65536 peers");
  /* One fewer is fine. */
  struct wg_device_state st;
  int code;
  char why[256];
  strcpy(text + (n - 1) * line, "errno=0\n\n");
  cr_assert_eq(uapi_parse_get(text, strlen(text), &st, &code, why, sizeof why),
               0, "%s", why);
  cr_assert_eq(st.peer_count, 65536);
  wg_device_state_free(&st);
  free(text);
}

/* ---- uapi_parse_errno ---- */

static int set_reply(const char *text, size_t len, int *code, char *why)
{
  return uapi_parse_errno(text, len, code, why, 256);
}

Test(parse_errno, replies)
{
  int code = 99;
  char why[256];
  cr_assert_eq(set_reply("errno=0\n\n", 9, &code, why), 0);
  cr_assert_eq(code, 0);
  cr_assert_eq(set_reply("errno=-22\n\n", 11, &code, why), 0);
  cr_assert_eq(code, -22);
  cr_assert_eq(set_reply("errno=5\n\n", 9, &code, why), 0);
  cr_assert_eq(code, 5);
  static const char *bad[] = {"",
                              "\n\n",
                              "errno=0\n",
                              "errno=0",
                              "errno=0\n\nx",
                              "errno=\n\n",
                              "errno=-\n\n",
                              "errno=x\n\n",
                              "errno= 1\n\n",
                              "errno=99999999999\n\n",
                              "errno=0\nerrno=0\n\n",
                              "listen_port=1\nerrno=0\n\n",
                              "ERRNO=0\n\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    code = 99;
    cr_assert_eq(set_reply(bad[i], strlen(bad[i]), &code, why), -1, "%s",
                 bad[i]);
    cr_assert_eq(code, 0);
    cr_assert(strstr(why, "errno=N"), "%s", why);
  }
  cr_assert_eq(set_reply("errno=0\0\n\n", 10, &code, why), -1);
}

/* ---- uapi_exchange against a fake wireguard-go ---- */

struct fake {
  char dir[64], path[128];
  int listener;
  pthread_t thread;
  const char *reply;     /* sent in two halves, a moment apart */
  size_t reply_len;
  bool close_at_once;    /* close without a word */
  bool never_answer;     /* keep the connection open, silent */
  char request[16384];   /* what the client sent, up to its blank line */
};

static void read_request(int fd, struct fake *f)
{
  size_t have = 0;
  while (have + 1 < sizeof f->request) {
    ssize_t n = read(fd, f->request + have, sizeof f->request - 1 - have);
    if (n <= 0)
      break;
    have += (size_t)n;
    f->request[have] = '\0';
    if (have >= 2 && !strcmp(f->request + have - 2, "\n\n"))
      break;
  }
}

/* The client may hang up first: no SIGPIPE. */
static bool send_all(int fd, const char *p, size_t len)
{
  while (len) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n <= 0)
      return false;
    p += n;
    len -= (size_t)n;
  }
  return true;
}

static void *serve(void *arg)
{
  struct fake *f = arg;
  int fd = accept(f->listener, NULL, NULL);
  if (fd < 0)
    return NULL;
  if (!f->close_at_once) {
    read_request(fd, f);
    char c;
    if (f->never_answer) {
      while (read(fd, &c, 1) > 0) /* until the client gives up */
        ;
    } else if (send_all(fd, f->reply, f->reply_len / 2)) {
      usleep(20000);
      send_all(fd, f->reply + f->reply_len / 2,
               f->reply_len - f->reply_len / 2);
      usleep(20000);
    }
  }
  close(fd);
  return NULL;
}

static void fake_start(struct fake *f)
{
  strcpy(f->dir, "/tmp/weft-uapi-XXXXXX");
  cr_assert_not_null(mkdtemp(f->dir));
  snprintf(f->path, sizeof f->path, "%s/wg0.sock", f->dir);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  strcpy(sa.sun_path, f->path);
  f->listener = socket(AF_UNIX, SOCK_STREAM, 0);
  cr_assert_geq(f->listener, 0);
  cr_assert_eq(bind(f->listener, (struct sockaddr *)&sa, sizeof sa), 0);
  cr_assert_eq(listen(f->listener, 4), 0);
  cr_assert_eq(pthread_create(&f->thread, NULL, serve, f), 0);
}

static void fake_stop(struct fake *f)
{
  pthread_join(f->thread, NULL);
  close(f->listener);
  unlink(f->path);
  rmdir(f->dir);
}

Test(exchange, reply_in_pieces)
{
  struct fake f = {.reply = "errno=0\n\n", .reply_len = 9};
  fake_start(&f);
  size_t len;
  char why[256];
  char *reply = uapi_exchange(f.path, "get=1\n\n", 2000, &len, why, sizeof why);
  cr_assert_not_null(reply, "%s", why);
  cr_assert_eq(len, 9);
  cr_assert_str_eq(reply, "errno=0\n\n");
  fake_stop(&f);
  cr_assert_str_eq(f.request, "get=1\n\n");
  free(reply);
}

Test(exchange, errors_name_the_path)
{
  size_t len;
  char why[256];
  cr_assert_null(uapi_exchange("/nonexistent/wg9.sock", "get=1\n\n", 100,
                               &len, why, sizeof why));
  cr_assert(strstr(why, "cannot connect to /nonexistent/wg9.sock"), "%s", why);
  char long_path[200];
  memset(long_path, 'a', sizeof long_path - 1);
  long_path[sizeof long_path - 1] = '\0';
  cr_assert_null(uapi_exchange(long_path, "get=1\n\n", 100, &len, why,
                               sizeof why));
  cr_assert(strstr(why, "is too long"), "%s", why);
}

Test(exchange, closed_without_reply)
{
  struct fake f = {.close_at_once = true};
  fake_start(&f);
  size_t len;
  char why[256];
  cr_assert_null(uapi_exchange(f.path, "get=1\n\n", 2000, &len, why,
                               sizeof why));
  cr_assert(strstr(why, f.path), "%s", why);
  cr_assert(strstr(why, "closed the connection"), "%s", why);
  fake_stop(&f);
}

Test(exchange, half_a_reply_then_close)
{
  struct fake f = {.reply = "errno=0\n", .reply_len = 8};
  fake_start(&f);
  size_t len;
  char why[256];
  cr_assert_null(uapi_exchange(f.path, "get=1\n\n", 2000, &len, why,
                               sizeof why));
  cr_assert(strstr(why, "closed the connection after 8 bytes"), "%s", why);
  fake_stop(&f);
}

Test(exchange, timeout)
{
  struct fake f = {.never_answer = true};
  fake_start(&f);
  size_t len;
  char why[256];
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cr_assert_null(uapi_exchange(f.path, "get=1\n\n", 200, &len, why,
                               sizeof why));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  cr_assert(s >= 0.19 && s < 2, "%f s", s);
  cr_assert(strstr(why, "no complete reply from"), "%s", why);
  cr_assert(strstr(why, "within 200 ms"), "%s", why);
  fake_stop(&f);
}

Test(exchange, reply_too_long)
{
  size_t n = UAPI_MAX_REPLY + 100;
  char *big = malloc(n);
  memset(big, 'x', n);
  struct fake f = {.reply = big, .reply_len = n};
  fake_start(&f);
  size_t len;
  char why[256];
  cr_assert_null(uapi_exchange(f.path, "get=1\n\n", 5000, &len, why,
                               sizeof why));
  cr_assert(strstr(why, "longer than 1048576 bytes"), "%s", why);
  fake_stop(&f);
  free(big);
}

Test(exchange, set_and_get)
{
  struct fake f = {.reply = "errno=-22\n\n", .reply_len = 11};
  fake_start(&f);
  struct wg_device_set dev = {.has_listen_port = true, .listen_port = 1};
  char why[256];
  cr_assert_eq(uapi_set(f.path, &dev, NULL, 0, why, sizeof why), -1);
  cr_assert(strstr(why, "refused the settings: errno=-22"), "%s", why);
  cr_assert(strstr(why, f.path), "%s", why);
  fake_stop(&f);
  cr_assert_str_eq(f.request, "set=1\nlisten_port=1\n\n");

  struct fake g = {.reply = "errno=0\n\n", .reply_len = 9};
  fake_start(&g);
  cr_assert_eq(uapi_set(g.path, &dev, NULL, 0, why, sizeof why), 0, "%s", why);
  fake_stop(&g);

  struct fake h = {.reply = realistic, .reply_len = strlen(realistic)};
  fake_start(&h);
  struct wg_device_state st;
  cr_assert_eq(uapi_get(h.path, &st, why, sizeof why), 0, "%s", why);
  cr_assert_eq(st.peer_count, 2);
  wg_device_state_free(&st);
  fake_stop(&h);
  cr_assert_str_eq(h.request, "get=1\n\n");

  struct fake k = {.reply = "listen_port=99999\nerrno=0\n\n", .reply_len = 27};
  fake_start(&k);
  cr_assert_eq(uapi_get(k.path, &st, why, sizeof why), -1);
  cr_assert(strstr(why, k.path), "%s", why);
  cr_assert(strstr(why, "line 1: listen_port 99999 is out of range"), "%s",
            why);
  fake_stop(&k);
}

/* ---- a real wireguard-go ---- */

#define WIREGUARD_GO "/usr/bin/wireguard-go"

static struct {
  char netns[64], ifname[16], sock[128];
  bool netns_made;
  pid_t child;
} real;

/* Runs argv, quietly; its exit status, or -1. */
static int run(char *const argv[])
{
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execvp(argv[0], argv);
    _exit(127);
  }
  int status;
  if (pid < 0 || waitpid(pid, &status, 0) != pid)
    return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void real_cleanup(void)
{
  if (real.child > 0) {
    /* Its own process group: "ip netns exec" and wireguard-go alike. */
    kill(-real.child, SIGTERM);
    for (int i = 0; i < 50 && waitpid(real.child, NULL, WNOHANG) == 0; i++)
      usleep(100000);
    if (kill(real.child, 0) == 0) {
      kill(-real.child, SIGKILL);
      waitpid(real.child, NULL, 0);
    }
    real.child = 0;
  }
  if (real.sock[0])
    unlink(real.sock);
  if (real.netns_made) {
    run((char *[]){"ip", "-n", real.netns, "link", "del", real.ifname, NULL});
    run((char *[]){"ip", "netns", "del", real.netns, NULL});
    real.netns_made = false;
  }
}

/* Whether the UAPI socket takes a connection: its file shows when it is
 * bound, a moment before wireguard-go listens on it. */
static bool accepts(const char *path)
{
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  size_t n = strlen(path);
  if (n >= sizeof sa.sun_path)
    return false;
  memcpy(sa.sun_path, path, n + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
  if (fd >= 0)
    close(fd);
  return ok;
}

static void start_wireguard_go(void)
{
  snprintf(real.netns, sizeof real.netns, "weft-uapi-test-%d", (int)getpid());
  snprintf(real.ifname, sizeof real.ifname, "wgu%d", (int)getpid());
  snprintf(real.sock, sizeof real.sock, UAPI_SOCKET_DIR "/%s.sock",
           real.ifname);
  cr_assert_eq(run((char *[]){"ip", "netns", "add", real.netns, NULL}), 0,
               "ip netns add %s failed", real.netns);
  real.netns_made = true;
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    setpgid(0, 0);
    setenv("WG_PROCESS_FOREGROUND", "1", 1);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    execlp("ip", "ip", "netns", "exec", real.netns, WIREGUARD_GO, "-f",
           real.ifname, (char *)NULL);
    _exit(127);
  }
  setpgid(pid, pid); /* both sides, so kill(-pid) never misses */
  real.child = pid;
  for (int i = 0; i < 100; i++) {
    if (accepts(real.sock))
      return;
    cr_assert_eq(waitpid(pid, NULL, WNOHANG), 0, "wireguard-go exited");
    usleep(50000);
  }
  cr_assert_fail("no %s taking connections after 5 s", real.sock);
}

static const struct wg_peer_state *find_peer(const struct wg_device_state *st,
                                             const uint8_t key[WG_KEY_LEN])
{
  for (size_t i = 0; i < st->peer_count; i++)
    if (!memcmp(st->peers[i].public_key, key, WG_KEY_LEN))
      return &st->peers[i];
  return NULL;
}

/* The peer as set, as the interface reports it (its allowed IPs in any
 * order: wireguard-go walks its routing trie). */
static void assert_peer(const struct wg_device_state *st,
                        const struct wg_peer_set *want)
{
  const struct wg_peer_state *got = find_peer(st, want->public_key);
  cr_assert_not_null(got, "a peer is missing");
  cr_assert_eq(got->has_psk, want->has_psk);
  cr_assert(got->has_endpoint);
  cr_assert_eq(got->endpoint_family, want->endpoint_family);
  cr_assert_arr_eq(got->endpoint_addr, want->endpoint_addr,
                   want->endpoint_family == AF_INET ? 4 : 16);
  cr_assert_eq(got->endpoint_port, want->endpoint_port);
  cr_assert_eq(got->keepalive_s, want->keepalive_s);
  cr_assert_eq(got->last_handshake_s, 0);
  cr_assert_eq(got->tx_bytes, 0);
  cr_assert_eq(got->rx_bytes, 0);
  cr_assert_eq(got->allowed_ip_count, want->allowed_ip_count);
  for (size_t i = 0; i < want->allowed_ip_count; i++) {
    bool found = false;
    for (size_t j = 0; j < got->allowed_ip_count; j++)
      found |= !memcmp(&got->allowed_ips[j], &want->allowed_ips[i],
                       sizeof want->allowed_ips[i]);
    cr_assert(found, "allowed IP %zu is missing", i);
  }
}

TestSuite(real_wireguard_go, .fini = real_cleanup);

Test(real_wireguard_go, set_get_remove, .timeout = 60)
{
  if (geteuid() != 0)
    cr_skip("needs root (network namespaces and a tun device)");
  if (access(WIREGUARD_GO, X_OK) != 0)
    cr_skip("no " WIREGUARD_GO);
  if (access("/dev/net/tun", R_OK | W_OK) != 0)
    cr_skip("no /dev/net/tun");
  start_wireguard_go();

  /* A private key as wireguard-go keeps it: clamped. */
  struct wg_device_set dev = {.has_private_key = true,
                              .has_listen_port = true,
                              .listen_port = 51820};
  for (int i = 0; i < WG_KEY_LEN; i++)
    dev.private_key[i] = (uint8_t)(i * 7 + 1);
  dev.private_key[0] &= 248;
  dev.private_key[31] = (dev.private_key[31] & 127) | 64;

  struct wg_peer_set peers[2] = {
      {.has_psk = true, .has_keepalive = true, .keepalive_s = 25,
       .replace_allowed_ips = true, .allowed_ip_count = 1},
      {.has_psk = true, .has_keepalive = true, .keepalive_s = 0,
       .replace_allowed_ips = true, .allowed_ip_count = 2}};
  for (int i = 0; i < WG_KEY_LEN; i++) {
    peers[0].public_key[i] = (uint8_t)(i * 13 + 5);
    peers[1].public_key[i] = (uint8_t)(i * 29 + 3);
  }
  fill(peers[0].psk, 0x5a);
  fill(peers[1].psk, 0xc3);
  endpoint(&peers[0], AF_INET, "192.0.2.7", 51000);
  endpoint(&peers[1], AF_INET6, "2001:db8::7", 4242);
  peers[0].allowed_ips[0] = v4("10.77.0.2", 32);
  peers[1].allowed_ips[0] = v4("10.77.0.3", 32);
  peers[1].allowed_ips[1] = v6("fd00:77::3", 128);

  char why[512];
  cr_assert_eq(uapi_set(real.sock, &dev, peers, 2, why, sizeof why), 0, "%s",
               why);
  struct wg_device_state st;
  cr_assert_eq(uapi_get(real.sock, &st, why, sizeof why), 0, "%s", why);
  cr_assert(st.has_private_key);
  cr_assert_arr_eq(st.private_key, dev.private_key, WG_KEY_LEN);
  cr_assert_eq(st.listen_port, 51820);
  cr_assert_eq(st.fwmark, 0);
  cr_assert_eq(st.peer_count, 2);
  assert_peer(&st, &peers[0]);
  assert_peer(&st, &peers[1]);
  wg_device_state_free(&st);

  struct wg_device_set none = {0};
  struct wg_peer_set gone = {.remove = true};
  memcpy(gone.public_key, peers[0].public_key, WG_KEY_LEN);
  cr_assert_eq(uapi_set(real.sock, &none, &gone, 1, why, sizeof why), 0, "%s",
               why);
  cr_assert_eq(uapi_get(real.sock, &st, why, sizeof why), 0, "%s", why);
  cr_assert_eq(st.peer_count, 1);
  cr_assert_null(find_peer(&st, peers[0].public_key));
  assert_peer(&st, &peers[1]);
  wg_device_state_free(&st);

  /* What it refuses comes back as its errno. */
  struct wg_peer_set bad = {.has_endpoint = true, .endpoint_family = AF_INET,
                            .endpoint_port = 1};
  memcpy(bad.public_key, peers[1].public_key, WG_KEY_LEN);
  char request[512];
  cr_assert_gt(uapi_format_set(&none, &bad, 1, request, sizeof request, why,
                               sizeof why), 0);
  strcpy(strstr(request, "endpoint="), "endpoint=vpn.example:1\n\n");
  size_t len;
  char *reply = uapi_exchange(real.sock, request, 5000, &len, why, sizeof why);
  cr_assert_not_null(reply, "%s", why);
  int code;
  cr_assert_eq(uapi_parse_errno(reply, len, &code, why, sizeof why), 0, "%s",
               why);
  cr_assert_eq(code, -EINVAL);
  free(reply);

  struct wg_device_set wipe = {.replace_peers = true};
  cr_assert_eq(uapi_set(real.sock, &wipe, NULL, 0, why, sizeof why), 0, "%s",
               why);
  cr_assert_eq(uapi_get(real.sock, &st, why, sizeof why), 0, "%s", why);
  cr_assert_eq(st.peer_count, 0);
  wg_device_state_free(&st);
}
