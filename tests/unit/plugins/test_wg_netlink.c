/* The wireguard plugin's netlink parts: every message the builders make is
 * parsed back with libmnl and each attribute checked; the GET_DEVICE
 * parser is fed replies built here in the kernel's layout. The live tests
 * (root only) work in a network namespace of a forked child, which takes
 * everything it made with it when it exits. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/fib_rules.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/time_types.h>
#include <linux/wireguard.h>

#include "../../../plugins/wireguard/genl.h"
#include "../../../plugins/wireguard/rtnl.h"

#define FAMILY 0x1b /* any generic netlink family id */
#define MAXT 64     /* above every attribute type checked here */

/* ---- reading messages back ---------------------------------------------- */

typedef const struct nlattr *attrs[MAXT];

static int collect_cb(const struct nlattr *a, void *data)
{
  const struct nlattr **tb = data;
  uint16_t type = mnl_attr_get_type(a);
  cr_assert_lt(type, MAXT, "attribute type %u", type);
  cr_assert_null(tb[type], "attribute %u appears twice", type);
  tb[type] = a;
  return MNL_CB_OK;
}

/* The attributes in p[0..len) fill it exactly: none cut short, nothing
 * left over (libmnl's parsers stop quietly at a broken one). */
static void expect_filled(const void *p, size_t len, const char *what)
{
  size_t used = 0;
  while (used < len) {
    const struct nlattr *a = (const void *)((const char *)p + used);
    cr_assert(len - used >= sizeof *a && a->nla_len >= sizeof *a &&
                  a->nla_len <= len - used,
              "%s: a broken attribute at byte %zu of %zu", what, used, len);
    used += MNL_ALIGN(a->nla_len);
  }
}

static void collect(const struct nlmsghdr *nlh, size_t hdrlen, attrs tb)
{
  size_t head = MNL_NLMSG_HDRLEN + MNL_ALIGN(hdrlen);
  cr_assert_geq(nlh->nlmsg_len, head);
  expect_filled((const char *)nlh + head, nlh->nlmsg_len - head, "message");
  memset(tb, 0, sizeof(attrs));
  cr_assert_eq(mnl_attr_parse(nlh, (unsigned)hdrlen, collect_cb, tb),
               MNL_CB_OK);
}

static void collect_nested(const struct nlattr *nest, attrs tb)
{
  cr_assert_not_null(nest);
  cr_assert(nest->nla_type & NLA_F_NESTED, "a nest without NLA_F_NESTED");
  expect_filled(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest),
                "nest");
  memset(tb, 0, sizeof(attrs));
  cr_assert_eq(mnl_attr_parse_nested(nest, collect_cb, tb), MNL_CB_OK);
}

static int present(const attrs tb)
{
  int n = 0;
  for (int i = 0; i < MAXT; i++)
    n += tb[i] != NULL;
  return n;
}

/* The entries of a nested list (peers, allowed IPs): each a nest, type 0. */
static size_t entries(const struct nlattr *list, const struct nlattr **out,
                      size_t max)
{
  cr_assert_not_null(list);
  cr_assert(list->nla_type & NLA_F_NESTED, "a list without NLA_F_NESTED");
  expect_filled(mnl_attr_get_payload(list), mnl_attr_get_payload_len(list),
                "list");
  size_t n = 0;
  const struct nlattr *a;
  mnl_attr_for_each_nested(a, list) {
    cr_assert_lt(n, max, "more than %zu entries", max);
    cr_assert_eq(mnl_attr_get_type(a), 0);
    out[n++] = a;
  }
  return n;
}

static void expect_bytes(const struct nlattr *a, const void *want, size_t len,
                         const char *what)
{
  cr_assert_not_null(a, "%s missing", what);
  cr_assert_eq(mnl_attr_get_payload_len(a), len, "%s: %u bytes, not %zu",
               what, mnl_attr_get_payload_len(a), len);
  cr_assert(memcmp(mnl_attr_get_payload(a), want, len) == 0, "%s differs",
            what);
}

static void expect_u8(const struct nlattr *a, uint8_t want, const char *what)
{
  cr_assert_not_null(a, "%s missing", what);
  cr_assert_eq(mnl_attr_validate(a, MNL_TYPE_U8), 0, "%s: not a u8", what);
  cr_assert_eq(mnl_attr_get_u8(a), want, "%s", what);
}

static void expect_u16(const struct nlattr *a, uint16_t want, const char *what)
{
  cr_assert_not_null(a, "%s missing", what);
  cr_assert_eq(mnl_attr_validate(a, MNL_TYPE_U16), 0, "%s: not a u16", what);
  cr_assert_eq(mnl_attr_get_u16(a), want, "%s", what);
}

static void expect_u32(const struct nlattr *a, uint32_t want, const char *what)
{
  cr_assert_not_null(a, "%s missing", what);
  cr_assert_eq(mnl_attr_validate(a, MNL_TYPE_U32), 0, "%s: not a u32", what);
  cr_assert_eq(mnl_attr_get_u32(a), want, "%s: %u", what,
               mnl_attr_get_u32(a));
}

static void expect_str(const struct nlattr *a, const char *want,
                       const char *what)
{
  cr_assert_not_null(a, "%s missing", what);
  cr_assert_eq(mnl_attr_validate(a, MNL_TYPE_NUL_STRING), 0,
               "%s: not a NUL-terminated string", what);
  cr_assert_str_eq(mnl_attr_get_str(a), want, "%s", what);
}

static const struct genlmsghdr *genl_of(const struct nlmsghdr *nlh)
{
  cr_assert_geq(nlh->nlmsg_len,
                MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct genlmsghdr)));
  return mnl_nlmsg_get_payload(nlh);
}

/* ---- test values -------------------------------------------------------- */

static void fill_key(uint8_t key[WG_KEY_LEN], uint8_t seed)
{
  for (int i = 0; i < WG_KEY_LEN; i++)
    key[i] = (uint8_t)(seed + i);
}

static struct wg_prefix prefix(const char *text, uint8_t bits)
{
  struct wg_prefix p = {.family = strchr(text, ':') ? AF_INET6 : AF_INET,
                        .bits = bits};
  cr_assert_eq(inet_pton(p.family, text, p.addr), 1, "%s", text);
  return p;
}

static size_t alen(int family)
{
  return family == AF_INET ? 4 : 16;
}

/* ---- genl_build_set ----------------------------------------------------- */

struct set_case {
  struct wg_device_set dev;
  struct wg_peer_set peers[3];
};

/* A device with every field, two full peers (v4 and v6 endpoints) and one
 * to remove, whose other fields are set only to show they are left out. */
static void set_case(struct set_case *c)
{
  memset(c, 0, sizeof *c);
  c->dev.has_private_key = true;
  fill_key(c->dev.private_key, 1);
  c->dev.has_listen_port = true;
  c->dev.listen_port = 51820;
  c->dev.replace_peers = true;

  struct wg_peer_set *a = &c->peers[0];
  fill_key(a->public_key, 0x10);
  a->has_psk = true;
  fill_key(a->psk, 0x20);
  a->has_endpoint = true;
  a->endpoint_family = AF_INET;
  inet_pton(AF_INET, "192.0.2.7", a->endpoint_addr);
  a->endpoint_port = 51821;
  a->has_keepalive = true;
  a->keepalive_s = 25;
  a->replace_allowed_ips = true;
  a->allowed_ips[0] = prefix("10.1.0.2", 32);
  a->allowed_ips[1] = prefix("fd00::2", 128);
  a->allowed_ip_count = 2;

  struct wg_peer_set *b = &c->peers[1];
  fill_key(b->public_key, 0x30);
  b->has_psk = true;
  fill_key(b->psk, 0x40);
  b->has_endpoint = true;
  b->endpoint_family = AF_INET6;
  inet_pton(AF_INET6, "2001:db8::9", b->endpoint_addr);
  b->endpoint_port = 4500;
  b->allowed_ips[0] = prefix("10.1.0.3", 32);
  b->allowed_ip_count = 1;

  struct wg_peer_set *gone = &c->peers[2];
  fill_key(gone->public_key, 0x50);
  gone->remove = true;
  gone->has_psk = true;
  gone->has_keepalive = true;
  gone->replace_allowed_ips = true;
  gone->allowed_ips[0] = prefix("10.1.0.4", 32);
  gone->allowed_ip_count = 1;
}

static void expect_allowed_ip(const struct nlattr *entry,
                              const struct wg_prefix *want)
{
  attrs tb;
  collect_nested(entry, tb);
  cr_assert_eq(present(tb), 3);
  expect_u16(tb[WGALLOWEDIP_A_FAMILY], (uint16_t)want->family, "ip family");
  expect_bytes(tb[WGALLOWEDIP_A_IPADDR], want->addr, alen(want->family),
               "ip address");
  expect_u8(tb[WGALLOWEDIP_A_CIDR_MASK], want->bits, "cidr mask");
}

static void expect_allowed_ips(const struct nlattr *list,
                               const struct wg_peer_set *want)
{
  const struct nlattr *ips[WG_MAX_ALLOWED_IPS + 1];
  cr_assert_eq(entries(list, ips, WG_MAX_ALLOWED_IPS + 1),
               want->allowed_ip_count);
  for (size_t i = 0; i < want->allowed_ip_count; i++)
    expect_allowed_ip(ips[i], &want->allowed_ips[i]);
}

static void expect_endpoint_v4(const struct nlattr *a,
                               const struct wg_peer_set *want)
{
  struct sockaddr_in sin;
  cr_assert_not_null(a);
  cr_assert_eq(mnl_attr_get_payload_len(a), sizeof sin);
  memcpy(&sin, mnl_attr_get_payload(a), sizeof sin);
  cr_assert_eq(sin.sin_family, AF_INET);
  cr_assert_eq(ntohs(sin.sin_port), want->endpoint_port);
  cr_assert(memcmp(&sin.sin_addr, want->endpoint_addr, 4) == 0);
}

static void expect_endpoint_v6(const struct nlattr *a,
                               const struct wg_peer_set *want)
{
  struct sockaddr_in6 sin6;
  cr_assert_not_null(a);
  cr_assert_eq(mnl_attr_get_payload_len(a), sizeof sin6);
  memcpy(&sin6, mnl_attr_get_payload(a), sizeof sin6);
  cr_assert_eq(sin6.sin6_family, AF_INET6);
  cr_assert_eq(ntohs(sin6.sin6_port), want->endpoint_port);
  cr_assert(memcmp(&sin6.sin6_addr, want->endpoint_addr, 16) == 0);
}

Test(genl_build_set, device_and_peers)
{
  struct set_case c;
  set_case(&c);
  char buf[8192], why[256] = "";
  size_t done = 0;
  int len = genl_build_set(buf, sizeof buf, FAMILY, 77, "weft0", &c.dev,
                           c.peers, 3, &done, why, sizeof why);
  cr_assert_gt(len, 0, "%s", why);
  cr_assert_eq(done, 3);

  const struct nlmsghdr *nlh = (const void *)buf;
  cr_assert_eq(nlh->nlmsg_len, (uint32_t)len);
  cr_assert_eq(nlh->nlmsg_type, FAMILY);
  cr_assert_eq(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
  cr_assert_eq(nlh->nlmsg_seq, 77);
  cr_assert_eq(genl_of(nlh)->cmd, WG_CMD_SET_DEVICE);
  cr_assert_eq(genl_of(nlh)->version, WG_GENL_VERSION);

  attrs dev;
  collect(nlh, sizeof(struct genlmsghdr), dev);
  cr_assert_eq(present(dev), 5);
  expect_str(dev[WGDEVICE_A_IFNAME], "weft0", "ifname");
  expect_u32(dev[WGDEVICE_A_FLAGS], WGDEVICE_F_REPLACE_PEERS, "device flags");
  expect_bytes(dev[WGDEVICE_A_PRIVATE_KEY], c.dev.private_key, WG_KEY_LEN,
               "private key");
  expect_u16(dev[WGDEVICE_A_LISTEN_PORT], 51820, "listen port");

  const struct nlattr *peer[4];
  cr_assert_eq(entries(dev[WGDEVICE_A_PEERS], peer, 4), 3);

  attrs a;
  collect_nested(peer[0], a);
  cr_assert_eq(present(a), 6);
  expect_bytes(a[WGPEER_A_PUBLIC_KEY], c.peers[0].public_key, WG_KEY_LEN,
               "public key");
  expect_u32(a[WGPEER_A_FLAGS], WGPEER_F_REPLACE_ALLOWEDIPS, "peer flags");
  expect_bytes(a[WGPEER_A_PRESHARED_KEY], c.peers[0].psk, WG_KEY_LEN, "psk");
  expect_endpoint_v4(a[WGPEER_A_ENDPOINT], &c.peers[0]);
  expect_u16(a[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL], 25, "keepalive");
  expect_allowed_ips(a[WGPEER_A_ALLOWEDIPS], &c.peers[0]);

  attrs b;
  collect_nested(peer[1], b);
  cr_assert_eq(present(b), 5, "no keepalive asked, none sent");
  expect_bytes(b[WGPEER_A_PUBLIC_KEY], c.peers[1].public_key, WG_KEY_LEN,
               "public key");
  expect_u32(b[WGPEER_A_FLAGS], 0, "peer flags");
  expect_bytes(b[WGPEER_A_PRESHARED_KEY], c.peers[1].psk, WG_KEY_LEN, "psk");
  expect_endpoint_v6(b[WGPEER_A_ENDPOINT], &c.peers[1]);
  expect_allowed_ips(b[WGPEER_A_ALLOWEDIPS], &c.peers[1]);

  attrs gone;
  collect_nested(peer[2], gone);
  cr_assert_eq(present(gone), 2, "a removed peer carries its key and flags");
  expect_bytes(gone[WGPEER_A_PUBLIC_KEY], c.peers[2].public_key, WG_KEY_LEN,
               "public key");
  expect_u32(gone[WGPEER_A_FLAGS], WGPEER_F_REMOVE_ME, "peer flags");
}

Test(genl_build_set, device_only)
{
  struct wg_device_set dev = {.has_listen_port = true, .listen_port = 0};
  char buf[256], why[256] = "";
  size_t done = 0;
  int len = genl_build_set(buf, sizeof buf, FAMILY, 1, "weft0", &dev, NULL, 0,
                           &done, why, sizeof why);
  cr_assert_gt(len, 0, "%s", why);
  cr_assert_eq(done, 0);
  attrs tb;
  collect((const void *)buf, sizeof(struct genlmsghdr), tb);
  cr_assert_eq(present(tb), 2, "ifname and listen port, no empty peer list");
  expect_str(tb[WGDEVICE_A_IFNAME], "weft0", "ifname");
  expect_u16(tb[WGDEVICE_A_LISTEN_PORT], 0, "listen port");
}

static void many_peers(struct wg_peer_set *peers, size_t n)
{
  memset(peers, 0, n * sizeof *peers);
  for (size_t i = 0; i < n; i++) {
    fill_key(peers[i].public_key, 0x77);
    peers[i].public_key[0] = (uint8_t)i; /* the peer's index in its key */
    peers[i].public_key[1] = (uint8_t)(i >> 8);
    peers[i].has_psk = true;
    fill_key(peers[i].psk, (uint8_t)i);
    peers[i].has_endpoint = true;
    peers[i].endpoint_family = AF_INET;
    memcpy(peers[i].endpoint_addr, "\xc0\x00\x02\x01", 4);
    peers[i].endpoint_port = (uint16_t)(40000 + i);
    peers[i].has_keepalive = true;
    peers[i].keepalive_s = 25;
    peers[i].replace_allowed_ips = true;
    peers[i].allowed_ips[0] = prefix("10.2.0.0", 32);
    peers[i].allowed_ips[0].addr[2] = (uint8_t)(i >> 8);
    peers[i].allowed_ips[0].addr[3] = (uint8_t)i;
    peers[i].allowed_ip_count = 1;
  }
}

/* Checks one message of a split request; returns how many peers it held
 * and marks them in seen. */
static size_t check_split_message(const struct nlmsghdr *nlh, bool first,
                                  const struct wg_peer_set *peers,
                                  size_t expect_from, int *seen)
{
  attrs dev;
  collect(nlh, sizeof(struct genlmsghdr), dev);
  expect_str(dev[WGDEVICE_A_IFNAME], "weft0", "ifname");
  if (first) {
    expect_u32(dev[WGDEVICE_A_FLAGS], WGDEVICE_F_REPLACE_PEERS, "flags");
    cr_assert_not_null(dev[WGDEVICE_A_PRIVATE_KEY]);
    cr_assert_eq(present(dev), 4);
  } else {
    /* Replace-peers again would drop what the first messages added. */
    cr_assert_eq(present(dev), 2, "a later message repeats device fields");
  }
  const struct nlattr *list[200];
  size_t n = entries(dev[WGDEVICE_A_PEERS], list, 200);
  for (size_t i = 0; i < n; i++) {
    attrs p;
    collect_nested(list[i], p);
    cr_assert_eq(present(p), 6, "peer cut short");
    const uint8_t *key = mnl_attr_get_payload(p[WGPEER_A_PUBLIC_KEY]);
    size_t index = (size_t)key[0] | (size_t)key[1] << 8;
    cr_assert_eq(index, expect_from + i, "peers out of order");
    seen[index]++;
    expect_bytes(p[WGPEER_A_PRESHARED_KEY], peers[index].psk, WG_KEY_LEN,
                 "psk");
    expect_allowed_ips(p[WGPEER_A_ALLOWEDIPS], &peers[index]);
  }
  return n;
}

Test(genl_build_set, splits_200_peers)
{
  static struct wg_peer_set peers[200];
  many_peers(peers, 200);
  struct wg_device_set dev = {.has_private_key = true, .replace_peers = true};
  fill_key(dev.private_key, 9);
  int seen[200] = {0};
  char buf[4096], why[256] = "";
  size_t done = 0, messages = 0;
  while (done < 200) {
    size_t before = done;
    int len = genl_build_set(buf, sizeof buf, FAMILY, (uint32_t)messages,
                             "weft0", &dev, peers, 200, &done, why,
                             sizeof why);
    cr_assert_gt(len, 0, "%s", why);
    cr_assert_leq(len, 4096);
    cr_assert_gt(done, before, "no progress");
    size_t n = check_split_message((const void *)buf, messages == 0, peers,
                                   before, seen);
    cr_assert_eq(n, done - before);
    cr_assert_lt(++messages, 200);
  }
  cr_assert_gt(messages, 1, "200 peers fit one 4096-byte message?");
  for (size_t i = 0; i < 200; i++)
    cr_assert_eq(seen[i], 1, "peer %zu sent %d times", i, seen[i]);
}

Test(genl_build_set, buffer_too_small_for_one_peer)
{
  struct wg_peer_set peer = {0};
  fill_key(peer.public_key, 3);
  peer.has_psk = true;
  for (int i = 0; i < WG_MAX_ALLOWED_IPS; i++)
    peer.allowed_ips[i] = prefix("fd00::1", 128);
  peer.allowed_ip_count = WG_MAX_ALLOWED_IPS;
  struct wg_device_set dev = {.has_listen_port = true, .listen_port = 1};
  char buf[160], why[256] = "";
  size_t done = 0;
  cr_assert_eq(genl_build_set(buf, sizeof buf, FAMILY, 1, "weft0", &dev,
                              &peer, 1, &done, why, sizeof why),
               -1);
  cr_assert_eq(done, 0);
  cr_assert_not_null(strstr(why, "not even one peer"), "%s", why);

  why[0] = '\0';
  cr_assert_eq(genl_build_set(buf, 16, FAMILY, 1, "weft0", &dev, &peer, 1,
                              &done, why, sizeof why),
               -1);
  cr_assert_neq(why[0], '\0');
  cr_assert_eq(done, 0);
}

Test(genl_build_set, refuses_bad_values)
{
  char buf[4096], why[256];
  size_t done = 0;
  struct wg_peer_set peer = {0};
  peer.allowed_ips[0] = prefix("10.0.0.1", 32);
  peer.allowed_ip_count = 1;

  struct wg_peer_set bad = peer;
  bad.allowed_ips[0].bits = 33;
  cr_assert_eq(genl_build_set(buf, sizeof buf, FAMILY, 1, "weft0", NULL, &bad,
                              1, &done, why, sizeof why),
               -1);
  cr_assert_not_null(strstr(why, "allowed IP"), "%s", why);

  bad = peer;
  bad.allowed_ip_count = WG_MAX_ALLOWED_IPS + 1;
  cr_assert_eq(genl_build_set(buf, sizeof buf, FAMILY, 1, "weft0", NULL, &bad,
                              1, &done, why, sizeof why),
               -1);

  bad = peer;
  bad.has_endpoint = true;
  bad.endpoint_family = AF_UNIX;
  cr_assert_eq(genl_build_set(buf, sizeof buf, FAMILY, 1, "weft0", NULL, &bad,
                              1, &done, why, sizeof why),
               -1);
  cr_assert_not_null(strstr(why, "endpoint"), "%s", why);

  cr_assert_eq(genl_build_set(buf, sizeof buf, FAMILY, 1, "", NULL, &peer, 1,
                              &done, why, sizeof why),
               -1);
  cr_assert_eq(genl_build_set(buf, sizeof buf, FAMILY, 1, "a-name-too-long-0",
                              NULL, &peer, 1, &done, why, sizeof why),
               -1);
  cr_assert_eq(done, 0);

  /* genl_set checks every peer before it opens a socket. */
  bad = peer;
  bad.allowed_ips[0].family = 0;
  cr_assert_eq(genl_set("weft0", NULL, &bad, 1, why, sizeof why), -EINVAL);
  cr_assert_not_null(strstr(why, "peer 0"), "%s", why);
}

/* ---- genl_build_get ----------------------------------------------------- */

Test(genl_build_get, dump_request)
{
  char buf[128];
  int len = genl_build_get(buf, sizeof buf, FAMILY, 12, "weft0");
  cr_assert_gt(len, 0);
  const struct nlmsghdr *nlh = (const void *)buf;
  cr_assert_eq(nlh->nlmsg_len, (uint32_t)len);
  cr_assert_eq(nlh->nlmsg_type, FAMILY);
  cr_assert_eq(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
  cr_assert_eq(nlh->nlmsg_seq, 12);
  cr_assert_eq(genl_of(nlh)->cmd, WG_CMD_GET_DEVICE);
  cr_assert_eq(genl_of(nlh)->version, WG_GENL_VERSION);
  attrs tb;
  collect(nlh, sizeof(struct genlmsghdr), tb);
  cr_assert_eq(present(tb), 1);
  expect_str(tb[WGDEVICE_A_IFNAME], "weft0", "ifname");

  cr_assert_eq(genl_build_get(buf, 20, FAMILY, 1, "weft0"), -1);
  cr_assert_eq(genl_build_get(buf, sizeof buf, FAMILY, 1, ""), -1);
}

/* ---- genl_parse_device, on replies in the kernel's layout --------------- */

static struct nlmsghdr *reply_start(void *buf)
{
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = FAMILY;
  nlh->nlmsg_flags = NLM_F_MULTI;
  nlh->nlmsg_seq = 5;
  struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof *g);
  g->cmd = WG_CMD_GET_DEVICE;
  g->version = WG_GENL_VERSION;
  return nlh;
}

static void reply_device(struct nlmsghdr *nlh)
{
  uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
  fill_key(priv, 1);
  fill_key(pub, 2);
  mnl_attr_put_u32(nlh, WGDEVICE_A_IFINDEX, 7);
  mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, "weft0");
  mnl_attr_put(nlh, WGDEVICE_A_PRIVATE_KEY, WG_KEY_LEN, priv);
  mnl_attr_put(nlh, WGDEVICE_A_PUBLIC_KEY, WG_KEY_LEN, pub);
  mnl_attr_put_u16(nlh, WGDEVICE_A_LISTEN_PORT, 51820);
  mnl_attr_put_u32(nlh, WGDEVICE_A_FWMARK, 0x42);
}

static void reply_allowed_ips(struct nlmsghdr *nlh,
                              const struct wg_prefix *ips, size_t n)
{
  struct nlattr *list = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
  for (size_t i = 0; i < n; i++) {
    struct nlattr *ip = mnl_attr_nest_start(nlh, 0);
    mnl_attr_put_u16(nlh, WGALLOWEDIP_A_FAMILY, (uint16_t)ips[i].family);
    mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, alen(ips[i].family), ips[i].addr);
    mnl_attr_put_u8(nlh, WGALLOWEDIP_A_CIDR_MASK, ips[i].bits);
    mnl_attr_nest_end(nlh, ip);
  }
  mnl_attr_nest_end(nlh, list);
}

/* A peer with every attribute the kernel reports, in its order. */
static void reply_full_peer(struct nlmsghdr *nlh, uint8_t key_seed,
                            const struct wg_prefix *ips, size_t n)
{
  uint8_t key[WG_KEY_LEN], psk[WG_KEY_LEN];
  fill_key(key, key_seed);
  fill_key(psk, 0x99);
  struct __kernel_timespec ts = {.tv_sec = 1700000000, .tv_nsec = 5};
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(51821)};
  inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr);
  struct nlattr *peer = mnl_attr_nest_start(nlh, 0);
  mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, key);
  mnl_attr_put(nlh, WGPEER_A_PRESHARED_KEY, WG_KEY_LEN, psk);
  mnl_attr_put(nlh, WGPEER_A_LAST_HANDSHAKE_TIME, sizeof ts, &ts);
  mnl_attr_put_u16(nlh, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 25);
  mnl_attr_put_u64(nlh, WGPEER_A_TX_BYTES, 2000);
  mnl_attr_put_u64(nlh, WGPEER_A_RX_BYTES, 1000);
  mnl_attr_put_u32(nlh, WGPEER_A_PROTOCOL_VERSION, 1);
  mnl_attr_put(nlh, WGPEER_A_ENDPOINT, sizeof sin, &sin);
  reply_allowed_ips(nlh, ips, n);
  mnl_attr_nest_end(nlh, peer);
}

/* What the kernel writes for a peer continued from the last message. */
static void reply_key_and_ips(struct nlmsghdr *nlh, uint8_t key_seed,
                              const struct wg_prefix *ips, size_t n)
{
  uint8_t key[WG_KEY_LEN];
  fill_key(key, key_seed);
  struct nlattr *peer = mnl_attr_nest_start(nlh, 0);
  mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, key);
  if (n)
    reply_allowed_ips(nlh, ips, n);
  mnl_attr_nest_end(nlh, peer);
}

static void ips_from(struct wg_prefix *ips, size_t n, int first)
{
  for (size_t i = 0; i < n; i++) {
    ips[i] = prefix("10.1.0.0", 32);
    ips[i].addr[3] = (uint8_t)(first + (int)i);
  }
}

static int parse(const void *buf, struct wg_device_state *st, char *why,
                 size_t whylen)
{
  const struct nlmsghdr *nlh = buf;
  return genl_parse_device(buf, nlh->nlmsg_len, st, why, whylen);
}

Test(genl_parse, full_device)
{
  char buf[4096], why[256] = "";
  struct nlmsghdr *nlh = reply_start(buf);
  reply_device(nlh);
  struct nlattr *peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
  struct wg_prefix ips[2] = {prefix("10.1.0.2", 32), prefix("fd00::2", 128)};
  reply_full_peer(nlh, 0x10, ips, 2);
  /* A second peer: no preshared key (zeros), an IPv6 endpoint, never a
   * handshake, no allowed IPs. */
  uint8_t key[WG_KEY_LEN], zero[WG_KEY_LEN] = {0};
  fill_key(key, 0x30);
  struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6,
                              .sin6_port = htons(4500)};
  inet_pton(AF_INET6, "2001:db8::9", &sin6.sin6_addr);
  struct __kernel_timespec never = {0};
  struct nlattr *peer = mnl_attr_nest_start(nlh, 0);
  mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, key);
  mnl_attr_put(nlh, WGPEER_A_PRESHARED_KEY, WG_KEY_LEN, zero);
  mnl_attr_put(nlh, WGPEER_A_LAST_HANDSHAKE_TIME, sizeof never, &never);
  mnl_attr_put_u16(nlh, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 0);
  mnl_attr_put(nlh, WGPEER_A_ENDPOINT, sizeof sin6, &sin6);
  mnl_attr_nest_end(nlh, peer);
  mnl_attr_nest_end(nlh, peers);

  struct wg_device_state st = {0};
  cr_assert_eq(parse(buf, &st, why, sizeof why), 0, "%s", why);
  uint8_t priv[WG_KEY_LEN];
  fill_key(priv, 1);
  cr_assert(st.has_private_key);
  cr_assert(memcmp(st.private_key, priv, WG_KEY_LEN) == 0);
  cr_assert_eq(st.listen_port, 51820);
  cr_assert_eq(st.fwmark, 0x42);
  cr_assert_eq(st.peer_count, 2);

  const struct wg_peer_state *a = &st.peers[0];
  fill_key(key, 0x10);
  cr_assert(memcmp(a->public_key, key, WG_KEY_LEN) == 0);
  cr_assert(a->has_psk);
  cr_assert(a->has_endpoint);
  cr_assert_eq(a->endpoint_family, AF_INET);
  cr_assert(memcmp(a->endpoint_addr, "\xc0\x00\x02\x07", 4) == 0);
  cr_assert_eq(a->endpoint_port, 51821);
  cr_assert_eq(a->last_handshake_s, 1700000000);
  cr_assert_eq(a->rx_bytes, 1000);
  cr_assert_eq(a->tx_bytes, 2000);
  cr_assert_eq(a->keepalive_s, 25);
  cr_assert_eq(a->allowed_ip_count, 2);
  for (size_t i = 0; i < 2; i++) {
    cr_assert_eq(a->allowed_ips[i].family, ips[i].family);
    cr_assert_eq(a->allowed_ips[i].bits, ips[i].bits);
    cr_assert(memcmp(a->allowed_ips[i].addr, ips[i].addr,
                     alen(ips[i].family)) == 0);
  }

  const struct wg_peer_state *b = &st.peers[1];
  fill_key(key, 0x30);
  cr_assert(memcmp(b->public_key, key, WG_KEY_LEN) == 0);
  cr_assert_not(b->has_psk, "an all-zero preshared key is no key");
  cr_assert(b->has_endpoint);
  cr_assert_eq(b->endpoint_family, AF_INET6);
  cr_assert(memcmp(b->endpoint_addr, &sin6.sin6_addr, 16) == 0);
  cr_assert_eq(b->endpoint_port, 4500);
  cr_assert_eq(b->last_handshake_s, 0);
  cr_assert_eq(b->keepalive_s, 0);
  cr_assert_eq(b->allowed_ip_count, 0);
  wg_device_state_free(&st);
}

Test(genl_parse, peer_continued_across_messages)
{
  struct wg_prefix first[5], rest[3], other[1];
  ips_from(first, 5, 1);
  ips_from(rest, 3, 6);
  ips_from(other, 1, 100);
  char m1[4096], m2[4096], why[256] = "";
  struct nlmsghdr *nlh = reply_start(m1);
  reply_device(nlh);
  struct nlattr *peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
  reply_full_peer(nlh, 0x10, first, 5);
  mnl_attr_nest_end(nlh, peers);

  /* The next message: only the interface name and the peers, the first of
   * them the same peer again with the rest of its allowed IPs. */
  nlh = reply_start(m2);
  mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, "weft0");
  peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
  reply_key_and_ips(nlh, 0x10, rest, 3);
  reply_key_and_ips(nlh, 0x20, other, 1);
  mnl_attr_nest_end(nlh, peers);

  struct wg_device_state st = {0};
  cr_assert_eq(parse(m1, &st, why, sizeof why), 0, "%s", why);
  cr_assert_eq(parse(m2, &st, why, sizeof why), 0, "%s", why);
  cr_assert_eq(st.listen_port, 51820, "the second message keeps it");
  cr_assert_eq(st.peer_count, 2);
  const struct wg_peer_state *a = &st.peers[0];
  cr_assert_eq(a->allowed_ip_count, 8);
  for (int i = 0; i < 8; i++)
    cr_assert_eq(a->allowed_ips[i].addr[3], i + 1, "allowed IP %d", i);
  cr_assert_eq(a->keepalive_s, 25, "the continuation keeps the fields");
  cr_assert_eq(a->rx_bytes, 1000);
  cr_assert_eq(st.peers[1].public_key[0], 0x20);
  cr_assert_eq(st.peers[1].allowed_ip_count, 1);
  cr_assert_eq(st.peers[1].allowed_ips[0].addr[3], 100);
  wg_device_state_free(&st);
}

Test(genl_parse, allowed_ips_bounded)
{
  struct wg_prefix ips[WG_MAX_ALLOWED_IPS + 1];
  ips_from(ips, WG_MAX_ALLOWED_IPS + 1, 1);
  char m1[4096], m2[4096], why[256] = "";

  /* Too many in one message. */
  struct nlmsghdr *nlh = reply_start(m1);
  struct nlattr *peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
  reply_full_peer(nlh, 0x10, ips, WG_MAX_ALLOWED_IPS + 1);
  mnl_attr_nest_end(nlh, peers);
  struct wg_device_state st = {0};
  cr_assert_eq(parse(m1, &st, why, sizeof why), -1);
  cr_assert_not_null(strstr(why, "more than 8 allowed IPs"), "%s", why);
  wg_device_state_free(&st);

  /* Too many once a continuation is added: 6 then 3. */
  nlh = reply_start(m1);
  peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
  reply_full_peer(nlh, 0x10, ips, 6);
  mnl_attr_nest_end(nlh, peers);
  nlh = reply_start(m2);
  peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
  reply_key_and_ips(nlh, 0x10, ips + 6, 3);
  mnl_attr_nest_end(nlh, peers);
  st = (struct wg_device_state){0};
  cr_assert_eq(parse(m1, &st, why, sizeof why), 0, "%s", why);
  why[0] = '\0';
  cr_assert_eq(parse(m2, &st, why, sizeof why), -1);
  cr_assert_not_null(strstr(why, "more than 8 allowed IPs"), "%s", why);
  cr_assert_eq(st.peers[0].allowed_ip_count, 6, "left as it was");
  wg_device_state_free(&st);
}

/* A reply whose only peer carries one attribute as put() writes it. */
typedef void (*put_fn)(struct nlmsghdr *nlh);

static void expect_refused(put_fn put, const char *want_in_why)
{
  char buf[1024], why[256] = "";
  struct nlmsghdr *nlh = reply_start(buf);
  put(nlh);
  struct wg_device_state st = {0};
  cr_assert_eq(parse(buf, &st, why, sizeof why), -1, "accepted (%s)",
               want_in_why);
  cr_assert_not_null(strstr(why, want_in_why), "why: %s", why);
  wg_device_state_free(&st);
}

static struct nlattr *peer_with_key(struct nlmsghdr *nlh,
                                    struct nlattr **peers)
{
  uint8_t key[WG_KEY_LEN];
  fill_key(key, 0x10);
  *peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
  struct nlattr *peer = mnl_attr_nest_start(nlh, 0);
  mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, key);
  return peer;
}

static void end_peer(struct nlmsghdr *nlh, struct nlattr *peer,
                     struct nlattr *peers)
{
  mnl_attr_nest_end(nlh, peer);
  mnl_attr_nest_end(nlh, peers);
}

static void short_private_key(struct nlmsghdr *nlh)
{
  uint8_t key[WG_KEY_LEN - 1] = {1};
  mnl_attr_put(nlh, WGDEVICE_A_PRIVATE_KEY, sizeof key, key);
}

static void wide_listen_port(struct nlmsghdr *nlh)
{
  mnl_attr_put_u32(nlh, WGDEVICE_A_LISTEN_PORT, 51820);
}

static void unterminated_ifname(struct nlmsghdr *nlh)
{
  mnl_attr_put(nlh, WGDEVICE_A_IFNAME, 5, "weft0");
}

static void wide_keepalive(struct nlmsghdr *nlh)
{
  struct nlattr *peers, *peer = peer_with_key(nlh, &peers);
  mnl_attr_put_u32(nlh, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 25);
  end_peer(nlh, peer, peers);
}

static void long_public_key(struct nlmsghdr *nlh)
{
  uint8_t key[WG_KEY_LEN + 1] = {1};
  struct nlattr *peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
  struct nlattr *peer = mnl_attr_nest_start(nlh, 0);
  mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, sizeof key, key);
  end_peer(nlh, peer, peers);
}

static void short_endpoint(struct nlmsghdr *nlh)
{
  struct sockaddr_in sin = {.sin_family = AF_INET};
  struct nlattr *peers, *peer = peer_with_key(nlh, &peers);
  mnl_attr_put(nlh, WGPEER_A_ENDPOINT, sizeof sin - 4, &sin);
  end_peer(nlh, peer, peers);
}

static void short_handshake(struct nlmsghdr *nlh)
{
  uint64_t sec = 1;
  struct nlattr *peers, *peer = peer_with_key(nlh, &peers);
  mnl_attr_put(nlh, WGPEER_A_LAST_HANDSHAKE_TIME, sizeof sec, &sec);
  end_peer(nlh, peer, peers);
}

static void v4_with_16_bytes(struct nlmsghdr *nlh)
{
  struct wg_prefix ip = prefix("fd00::1", 32);
  ip.family = AF_INET;
  struct nlattr *peers, *peer = peer_with_key(nlh, &peers);
  struct nlattr *list = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
  struct nlattr *entry = mnl_attr_nest_start(nlh, 0);
  mnl_attr_put_u16(nlh, WGALLOWEDIP_A_FAMILY, AF_INET);
  mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, 16, ip.addr);
  mnl_attr_put_u8(nlh, WGALLOWEDIP_A_CIDR_MASK, 32);
  mnl_attr_nest_end(nlh, entry);
  mnl_attr_nest_end(nlh, list);
  end_peer(nlh, peer, peers);
}

static void wide_cidr(struct nlmsghdr *nlh)
{
  struct wg_prefix ip = prefix("10.0.0.1", 32);
  struct nlattr *peers, *peer = peer_with_key(nlh, &peers);
  struct nlattr *list = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
  struct nlattr *entry = mnl_attr_nest_start(nlh, 0);
  mnl_attr_put_u16(nlh, WGALLOWEDIP_A_FAMILY, AF_INET);
  mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, 4, ip.addr);
  mnl_attr_put_u16(nlh, WGALLOWEDIP_A_CIDR_MASK, 32);
  mnl_attr_nest_end(nlh, entry);
  mnl_attr_nest_end(nlh, list);
  end_peer(nlh, peer, peers);
}

static void keyless_peer(struct nlmsghdr *nlh)
{
  struct nlattr *peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
  struct nlattr *peer = mnl_attr_nest_start(nlh, 0);
  mnl_attr_put_u16(nlh, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 25);
  end_peer(nlh, peer, peers);
}

Test(genl_parse, wrong_lengths_refused)
{
  expect_refused(short_private_key, "private key");
  expect_refused(wide_listen_port, "listen port");
  expect_refused(unterminated_ifname, "interface name");
  expect_refused(wide_keepalive, "keepalive");
  expect_refused(long_public_key, "public key");
  expect_refused(short_endpoint, "endpoint");
  expect_refused(short_handshake, "handshake");
  expect_refused(v4_with_16_bytes, "allowed IP");
  expect_refused(wide_cidr, "prefix length");
  expect_refused(keyless_peer, "without a public key");
}

Test(genl_parse, not_a_device_message)
{
  char buf[256], why[256] = "";
  struct nlmsghdr *nlh = reply_start(buf);
  reply_device(nlh);
  struct wg_device_state st = {0};
  cr_assert_eq(genl_parse_device(buf, nlh->nlmsg_len - 4, &st, why,
                                 sizeof why),
               -1, "a message longer than the bytes read");
  cr_assert_not_null(strstr(why, "truncated"), "%s", why);

  nlh->nlmsg_type = NLMSG_DONE;
  cr_assert_eq(parse(buf, &st, why, sizeof why), -1);

  nlh = reply_start(buf);
  ((struct genlmsghdr *)mnl_nlmsg_get_payload(nlh))->cmd = WG_CMD_SET_DEVICE;
  cr_assert_eq(parse(buf, &st, why, sizeof why), -1);
  cr_assert_eq(st.peer_count, 0);
}

/* ---- rtnl builders ------------------------------------------------------ */

Test(rtnl, name_ok)
{
  const char *good[] = {"weft0", "a", "wg-1.x_Y", "fifteen-chars-0"};
  for (size_t i = 0; i < sizeof good / sizeof *good; i++)
    cr_assert(rtnl_name_ok(good[i]), "%s", good[i]);
  const char *bad[] = {"", "sixteen-chars-00", "a b", "a/b", ".", "..",
                       "w\xc3\xa9", "a:1", "tab\t"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    cr_assert_not(rtnl_name_ok(bad[i]), "%s", bad[i]);
  cr_assert_not(rtnl_name_ok(NULL));
}

static const uint16_t create_flags =
    NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;

Test(rtnl_build, link_create)
{
  char buf[512];
  int len = rtnl_build_link_create(buf, sizeof buf, 3, "weft0", "wireguard");
  cr_assert_gt(len, 0);
  const struct nlmsghdr *nlh = (const void *)buf;
  cr_assert_eq(nlh->nlmsg_len, (uint32_t)len);
  cr_assert_eq(nlh->nlmsg_type, RTM_NEWLINK);
  cr_assert_eq(nlh->nlmsg_flags, create_flags);
  cr_assert_eq(nlh->nlmsg_seq, 3);
  const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
  cr_assert_eq(ifi->ifi_family, AF_UNSPEC);
  cr_assert_eq(ifi->ifi_index, 0);
  cr_assert_eq(ifi->ifi_change, 0);

  attrs tb, info;
  collect(nlh, sizeof *ifi, tb);
  cr_assert_eq(present(tb), 2);
  expect_str(tb[IFLA_IFNAME], "weft0", "ifname");
  collect_nested(tb[IFLA_LINKINFO], info);
  cr_assert_eq(present(info), 1);
  expect_str(info[IFLA_INFO_KIND], "wireguard", "kind");

  cr_assert_eq(rtnl_build_link_create(buf, sizeof buf, 3, "bad name", "x"),
               -1);
  cr_assert_eq(rtnl_build_link_create(buf, sizeof buf, 3, "weft0", ""), -1);
  cr_assert_eq(rtnl_build_link_create(buf, sizeof buf, 3, "weft0", NULL), -1);
  cr_assert_eq(rtnl_build_link_create(buf, 40, 3, "weft0", "wireguard"), -1);
}

static void expect_addr(const char *text, uint8_t bits)
{
  struct wg_prefix p = prefix(text, bits);
  char buf[512];
  int len = rtnl_build_addr(buf, sizeof buf, 4, 9, &p);
  cr_assert_gt(len, 0, "%s/%u", text, bits);
  const struct nlmsghdr *nlh = (const void *)buf;
  cr_assert_eq(nlh->nlmsg_len, (uint32_t)len);
  cr_assert_eq(nlh->nlmsg_type, RTM_NEWADDR);
  cr_assert_eq(nlh->nlmsg_flags, create_flags);
  const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
  cr_assert_eq(ifa->ifa_family, p.family);
  cr_assert_eq(ifa->ifa_prefixlen, bits);
  cr_assert_eq(ifa->ifa_index, 9);
  cr_assert_eq(ifa->ifa_scope, RT_SCOPE_UNIVERSE);
  cr_assert_eq(ifa->ifa_flags, 0);
  attrs tb;
  collect(nlh, sizeof *ifa, tb);
  cr_assert_eq(present(tb), 2);
  expect_bytes(tb[IFA_LOCAL], p.addr, alen(p.family), "IFA_LOCAL");
  expect_bytes(tb[IFA_ADDRESS], p.addr, alen(p.family), "IFA_ADDRESS");
}

Test(rtnl_build, addr_v4_v6)
{
  expect_addr("10.9.0.1", 24);
  expect_addr("fd00:9::1", 64);
  expect_addr("10.1.255.254", 16);
}

static void expect_route(const char *text, uint8_t bits)
{
  struct wg_prefix p = prefix(text, bits);
  char buf[512];
  int len = rtnl_build_route(buf, sizeof buf, 5, 9, &p);
  cr_assert_gt(len, 0, "%s/%u", text, bits);
  const struct nlmsghdr *nlh = (const void *)buf;
  cr_assert_eq(nlh->nlmsg_len, (uint32_t)len);
  cr_assert_eq(nlh->nlmsg_type, RTM_NEWROUTE);
  cr_assert_eq(nlh->nlmsg_flags, create_flags);
  const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
  cr_assert_eq(rtm->rtm_family, p.family);
  cr_assert_eq(rtm->rtm_dst_len, bits);
  cr_assert_eq(rtm->rtm_src_len, 0);
  cr_assert_eq(rtm->rtm_table, RT_TABLE_MAIN);
  cr_assert_eq(rtm->rtm_protocol, RTPROT_STATIC);
  cr_assert_eq(rtm->rtm_scope, RT_SCOPE_LINK);
  cr_assert_eq(rtm->rtm_type, RTN_UNICAST);
  attrs tb;
  collect(nlh, sizeof *rtm, tb);
  cr_assert_eq(present(tb), 2);
  expect_bytes(tb[RTA_DST], p.addr, alen(p.family), "RTA_DST");
  expect_u32(tb[RTA_OIF], 9, "RTA_OIF");
}

Test(rtnl_build, route)
{
  expect_route("10.9.1.0", 24);
  expect_route("fd00:9:1::", 48);
}

/* Tables past 255 travel in RTA_TABLE (the one-byte field says UNSPEC). */
Test(rtnl_build, route_in_a_table)
{
  struct wg_prefix p = prefix("10.1.255.254", 32);
  char buf[512];
  int len = rtnl_build_route_table(buf, sizeof buf, 5, 9, &p, 0x57460102u);
  cr_assert_gt(len, 0);
  const struct nlmsghdr *nlh = (const void *)buf;
  const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
  cr_assert_eq(rtm->rtm_table, RT_TABLE_UNSPEC);
  attrs tb;
  collect(nlh, sizeof *rtm, tb);
  cr_assert_eq(present(tb), 3);
  expect_bytes(tb[RTA_DST], p.addr, 4, "RTA_DST");
  expect_u32(tb[RTA_OIF], 9, "RTA_OIF");
  expect_u32(tb[RTA_TABLE], 0x57460102u, "RTA_TABLE");
  cr_assert_eq(rtnl_build_route_table(buf, sizeof buf, 5, 9, &p, 0), -1);
}

Test(rtnl_build, source_rule)
{
  struct wg_prefix from = prefix("10.1.0.7", 32);
  char buf[512];
  for (int del = 0; del < 2; del++) {
    struct wg_rule r = {.from = from, .table = 0x57460007u, .priority = 5180};
    int len = rtnl_build_rule(buf, sizeof buf, 6, del, &r);
    cr_assert_gt(len, 0);
    const struct nlmsghdr *nlh = (const void *)buf;
    cr_assert_eq(nlh->nlmsg_type, del ? RTM_DELRULE : RTM_NEWRULE);
    cr_assert_eq(nlh->nlmsg_flags,
                 del ? NLM_F_REQUEST | NLM_F_ACK : create_flags);
    const struct fib_rule_hdr *frh = mnl_nlmsg_get_payload(nlh);
    cr_assert_eq(frh->family, AF_INET);
    cr_assert_eq(frh->src_len, 32);
    cr_assert_eq(frh->dst_len, 0);
    cr_assert_eq(frh->action, FR_ACT_TO_TBL);
    attrs tb;
    collect(nlh, sizeof *frh, tb);
    cr_assert_eq(present(tb), 3);
    expect_bytes(tb[FRA_SRC], from.addr, 4, "FRA_SRC");
    expect_u32(tb[FRA_TABLE], 0x57460007u, "FRA_TABLE");
    expect_u32(tb[FRA_PRIORITY], 5180, "FRA_PRIORITY");
  }
  struct wg_rule wide = {.from = prefix("10.1.0.7", 33), .table = 7};
  cr_assert_eq(rtnl_build_rule(buf, sizeof buf, 6, false, &wide), -1);
  struct wg_rule no_table = {.from = from};
  cr_assert_eq(rtnl_build_rule(buf, sizeof buf, 6, false, &no_table), -1);
  struct wg_rule ok = {.from = from, .table = 7};
  cr_assert_eq(rtnl_build_rule(buf, 20, 6, false, &ok), -1);
}

/* The device's second rule: replies from its loopback service (kernel
 * NAT) to the server's /32, told apart from other tunnels' by port. */
Test(rtnl_build, reply_rule)
{
  struct wg_rule r = {.from = prefix("127.0.0.0", 8), .has_to = true,
                      .to = prefix("10.1.255.254", 32),
                      .ip_proto = IPPROTO_TCP, .sport = 8080, .table = 7,
                      .priority = 5179};
  char buf[512];
  int len = rtnl_build_rule(buf, sizeof buf, 6, false, &r);
  cr_assert_gt(len, 0);
  const struct nlmsghdr *nlh = (const void *)buf;
  const struct fib_rule_hdr *frh = mnl_nlmsg_get_payload(nlh);
  cr_assert_eq(frh->src_len, 8);
  cr_assert_eq(frh->dst_len, 32);
  attrs tb;
  collect(nlh, sizeof *frh, tb);
  cr_assert_eq(present(tb), 6);
  expect_bytes(tb[FRA_SRC], r.from.addr, 4, "FRA_SRC");
  expect_bytes(tb[FRA_DST], r.to.addr, 4, "FRA_DST");
  cr_assert_eq(mnl_attr_get_u8(tb[FRA_IP_PROTO]), IPPROTO_TCP);
  const struct fib_rule_port_range want = {8080, 8080};
  expect_bytes(tb[FRA_SPORT_RANGE], &want, sizeof want, "FRA_SPORT_RANGE");
  struct wg_rule bad = r;
  bad.to = prefix("::1", 128);
  cr_assert_eq(rtnl_build_rule(buf, sizeof buf, 6, false, &bad), -1);
  bad = r;
  bad.ip_proto = 0; /* a port needs its protocol */
  cr_assert_eq(rtnl_build_rule(buf, sizeof buf, 6, false, &bad), -1);
}

Test(rtnl_build, refuses_bad_values)
{
  char buf[512];
  struct wg_prefix p = prefix("10.9.0.1", 24);
  struct wg_prefix wide = prefix("10.9.0.1", 33);
  struct wg_prefix v6wide = prefix("fd00::1", 129);
  struct wg_prefix nofamily = p;
  nofamily.family = AF_UNSPEC;
  cr_assert_eq(rtnl_build_addr(buf, sizeof buf, 1, 9, &wide), -1);
  cr_assert_eq(rtnl_build_addr(buf, sizeof buf, 1, 9, &v6wide), -1);
  cr_assert_eq(rtnl_build_addr(buf, sizeof buf, 1, 9, &nofamily), -1);
  cr_assert_eq(rtnl_build_addr(buf, sizeof buf, 1, 0, &p), -1);
  cr_assert_eq(rtnl_build_addr(buf, 30, 1, 9, &p), -1);
  cr_assert_eq(rtnl_build_route(buf, sizeof buf, 1, 9, &wide), -1);
  cr_assert_eq(rtnl_build_route(buf, sizeof buf, 1, 9, &nofamily), -1);
  cr_assert_eq(rtnl_build_route(buf, sizeof buf, 1, -1, &p), -1);
  cr_assert_eq(rtnl_build_route(buf, 36, 1, 9, &p), -1);
}

/* ---- live, as root, in a network namespace of a child ------------------- */

#define LIVE_IF "weftnl0"

static int report_fd = -1;

/* Ends the child with a message for the parent to fail the test with. */
__attribute__((format(printf, 1, 2), noreturn)) static void
child_fail(const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ssize_t ignored = write(report_fd, msg, strlen(msg));
  (void)ignored;
  _exit(1);
}

#define EXPECT(cond, ...)                                                      \
  do {                                                                         \
    if (!(cond))                                                               \
      child_fail(__VA_ARGS__);                                                 \
  } while (0)

/* Runs steps in a forked child that first moves to a new network
 * namespace: whatever the steps make goes with the child, pass or fail. */
static void in_new_netns(void (*steps)(void))
{
  if (geteuid() != 0)
    cr_skip("needs root: makes links in a network namespace of its own");
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  pid_t pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    close(fds[0]);
    report_fd = fds[1];
    if (unshare(CLONE_NEWNET) < 0)
      child_fail("unshare(CLONE_NEWNET): %s", strerror(errno));
    steps();
    _exit(0);
  }
  close(fds[1]);
  char msg[1024];
  size_t got = 0;
  ssize_t n;
  while (got < sizeof msg - 1 &&
         (n = read(fds[0], msg + got, sizeof msg - 1 - got)) > 0)
    got += (size_t)n;
  msg[got] = '\0';
  close(fds[0]);
  int status = 0;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s",
            got ? msg : "the child died without a word");
}

/* A command's output, run inside the child's namespace. */
static const char *output_of(const char *cmd)
{
  static char out[4096];
  FILE *f = popen(cmd, "r");
  EXPECT(f, "popen %s: %s", cmd, strerror(errno));
  size_t n = fread(out, 1, sizeof out - 1, f);
  out[n] = '\0';
  EXPECT(pclose(f) == 0, "%s failed: %s", cmd, out);
  return out;
}

/* The kernel here may lack dummy too (CONFIG_DUMMY): any kind that makes
 * a plain link with no extra attributes will do. */
static const char *make_plain_link(char *why, size_t whylen)
{
  static const char *const kinds[] = {"dummy", "ifb", "bridge"};
  for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
    int r = rtnl_link_create(LIVE_IF, kinds[i], why, whylen);
    if (r == 0)
      return kinds[i];
    EXPECT(r == -EOPNOTSUPP, "%s", why);
  }
  child_fail("no link kind among dummy, ifb, bridge: %s", why);
}

static void link_steps(void)
{
  char why[256] = "";
  int r = rtnl_link_create(LIVE_IF, "wireguard", why, sizeof why);
  EXPECT(r == -EOPNOTSUPP, "wireguard link: %d (%s); this test expects a "
         "kernel without WireGuard", r, why);
  EXPECT(strstr(why, "creating link " LIVE_IF
                     " (wireguard): Operation not supported") == why,
         "why: %s", why);
  EXPECT(!rtnl_link_exists(LIVE_IF), "a failed create left a link");

  const char *kind = make_plain_link(why, sizeof why);
  EXPECT(rtnl_link_exists(LIVE_IF), "%s link made, not there", kind);
  r = rtnl_link_create(LIVE_IF, kind, why, sizeof why);
  EXPECT(r == -EEXIST && strstr(why, LIVE_IF), "again: %d %s", r, why);

  r = rtnl_link_up(LIVE_IF, why, sizeof why);
  EXPECT(r == 0, "up: %s", why);
  const char *out = output_of("ip -o link show dev " LIVE_IF);
  EXPECT(strstr(out, ",UP") || strstr(out, "<UP"), "not up: %s", out);

  struct wg_prefix addr = prefix("10.9.0.1", 24);
  r = rtnl_addr_add(LIVE_IF, &addr, why, sizeof why);
  EXPECT(r == 0, "address: %s", why);
  r = rtnl_addr_add(LIVE_IF, &addr, why, sizeof why);
  EXPECT(r == 0, "address again (EEXIST is success): %d %s", r, why);
  struct wg_prefix addr6 = prefix("fd00:9::1", 64);
  r = rtnl_addr_add(LIVE_IF, &addr6, why, sizeof why);
  EXPECT(r == 0, "IPv6 address: %s", why);
  out = output_of("ip -o addr show dev " LIVE_IF);
  EXPECT(strstr(out, "inet 10.9.0.1/24 "), "no address: %s", out);
  EXPECT(strstr(out, "inet6 fd00:9::1/64 "), "no IPv6 address: %s", out);

  struct wg_prefix dst = prefix("10.9.1.0", 24);
  r = rtnl_route_add(LIVE_IF, &dst, why, sizeof why);
  EXPECT(r == 0, "route: %s", why);
  out = output_of("ip route show dev " LIVE_IF " 10.9.1.0/24");
  EXPECT(strstr(out, "10.9.1.0/24 proto static scope link"), "route: %s",
         out);
  r = rtnl_route_add(LIVE_IF, &dst, why, sizeof why);
  EXPECT(r == -EEXIST && strstr(why, "adding route 10.9.1.0/24 via " LIVE_IF),
         "route again: %d %s", r, why);
  struct wg_prefix host_bits = prefix("10.9.2.1", 24);
  r = rtnl_route_add(LIVE_IF, &host_bits, why, sizeof why);
  EXPECT(r == -EINVAL, "route with host bits: %d %s", r, why);

  r = rtnl_link_delete(LIVE_IF, why, sizeof why);
  EXPECT(r == 0, "delete: %s", why);
  EXPECT(!rtnl_link_exists(LIVE_IF), "still there after delete");
  r = rtnl_link_delete(LIVE_IF, why, sizeof why);
  EXPECT(r == -ENODEV && strstr(why, "deleting link " LIVE_IF),
         "delete again: %d %s", r, why);
  r = rtnl_link_up(LIVE_IF, why, sizeof why);
  EXPECT(r == -ENODEV && strstr(why, LIVE_IF), "up, gone: %d %s", r, why);
  r = rtnl_addr_add(LIVE_IF, &addr, why, sizeof why);
  EXPECT(r == -ENODEV && strstr(why, LIVE_IF), "address, gone: %d %s", r,
         why);
}

Test(live, links_addresses_routes, .timeout = 60)
{
  in_new_netns(link_steps);
}

static void genl_steps(void)
{
  char why[256] = "";
  struct wg_peer_set peer = {0};
  fill_key(peer.public_key, 0x10);
  struct wg_device_set dev = {.has_listen_port = true, .listen_port = 51820};
  int r = genl_set(LIVE_IF, &dev, &peer, 1, why, sizeof why);
  EXPECT(r == -ENOENT, "genl_set: %d (%s); this test expects a kernel "
         "without WireGuard", r, why);
  EXPECT(strstr(why, LIVE_IF) && strstr(why, "no WireGuard"), "why: %s",
         why);

  struct wg_device_state st = {.peer_count = 7};
  why[0] = '\0';
  r = genl_get(LIVE_IF, &st, why, sizeof why);
  EXPECT(r == -ENOENT, "genl_get: %d (%s)", r, why);
  EXPECT(strstr(why, "reading WireGuard device " LIVE_IF), "why: %s", why);
  EXPECT(st.peers == NULL && st.peer_count == 0, "state left filled");
}

Test(live, genl_without_kernel_wireguard, .timeout = 60)
{
  in_new_netns(genl_steps);
}
