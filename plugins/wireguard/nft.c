/* Weft's nftables table for a WireGuard interface: the script is built
 * here as text (nft's own syntax, so an operator can read it with
 * `nft list table`) and run through libnftables. See nft.h for the rules. */
#include "nft.h"

#include <jansson.h>
#include <nftables/libnftables.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNTER_PREFIX "weft_"

/* ---- names ------------------------------------------------------------ */

static bool all_chars_in(const char *s, const char *extra)
{
  for (; *s; s++) {
    bool ok = (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              strchr(extra, *s) != NULL;
    if (!ok)
      return false;
  }
  return true;
}

static bool valid_table(const char *name)
{
  size_t n = strnlen(name, 32);
  return n >= 1 && n <= 31 && all_chars_in(name, "_");
}

/* Linux takes 1 to 15 bytes (IFNAMSIZ less the NUL), never "." or "..";
 * Weft keeps to a quiet subset of characters so the name can sit inside
 * nft's double quotes as it is. */
static bool valid_ifname(const char *name)
{
  size_t n = strnlen(name, 16);
  return n >= 1 && n <= 15 && strcmp(name, ".") != 0 &&
         strcmp(name, "..") != 0 &&
         all_chars_in(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_.-");
}

static bool valid_tunnel_id(const char *id, size_t size)
{
  size_t n = strnlen(id, size);
  return n >= 1 && n <= 31 && n < size && all_chars_in(id, "");
}

/* ---- a growing text buffer ---------------------------------------------- */

struct text {
  char *buf;
  size_t len, cap;
  bool failed; /* out of memory: every later append is a no-op */
};

static void put(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
  if (t->failed)
    return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
      t->failed = true;
      return;
    }
    if ((size_t)n < t->cap - t->len) {
      t->len += (size_t)n;
      return;
    }
    size_t cap = (t->cap + (size_t)n + 1) * 2;
    char *grown = realloc(t->buf, cap);
    if (!grown) {
      t->failed = true;
      return;
    }
    t->buf = grown;
    t->cap = cap;
  }
}

static char *text_finish(struct text *t)
{
  if (t->failed) {
    free(t->buf);
    return NULL;
  }
  return t->buf;
}

static void text_init(struct text *t)
{
  *t = (struct text){.cap = 1024};
  t->buf = malloc(t->cap);
  if (t->buf)
    t->buf[0] = '\0';
  else
    t->failed = true;
}

/* ---- the rule set ------------------------------------------------------- */

static int check_device(const struct nft_device *devs, size_t i, char *why,
                        size_t whylen)
{
  const struct nft_device *d = &devs[i];
  if (!valid_tunnel_id(d->tunnel_id, sizeof d->tunnel_id)) {
    snprintf(why, whylen, "bad tunnel id '%.31s' (want 1-31 of a-z 0-9)",
             d->tunnel_id);
    return -1;
  }
  for (size_t j = 0; j < i; j++)
    if (strcmp(devs[j].tunnel_id, d->tunnel_id) == 0) {
      snprintf(why, whylen, "tunnel id '%s' appears twice", d->tunnel_id);
      return -1;
    }
  if (d->port_count > NFT_MAX_PORT_RANGES) {
    snprintf(why, whylen, "tunnel '%s': %zu port ranges (at most %d)",
             d->tunnel_id, d->port_count, NFT_MAX_PORT_RANGES);
    return -1;
  }
  for (size_t j = 0; j < d->port_count; j++) {
    const struct nft_port_range *r = &d->ports[j];
    if (r->lo < 1 || r->lo > r->hi) {
      snprintf(why, whylen, "tunnel '%s': bad port range %u-%u",
               d->tunnel_id, r->lo, r->hi);
      return -1;
    }
  }
  const struct nft_publish *p = &d->publish;
  if (!p->port)
    return 0;
  if (!d->relay_port || d->relay_udp != p->udp) {
    snprintf(why, whylen, "tunnel '%s': public port %u has no %s relay port "
             "to go to", d->tunnel_id, p->port, p->udp ? "udp" : "tcp");
    return -1;
  }
  if (p->allow_count > NFT_MAX_ALLOW) {
    snprintf(why, whylen, "tunnel '%s': %zu allowed prefixes (at most %d)",
             d->tunnel_id, p->allow_count, NFT_MAX_ALLOW);
    return -1;
  }
  for (size_t j = 0; j < p->allow_count; j++)
    if (p->allow[j].bits > 32) {
      snprintf(why, whylen, "tunnel '%s': bad prefix length /%u",
               d->tunnel_id, p->allow[j].bits);
      return -1;
    }
  return 0;
}

static int check_all(const char *table, const char *ifname,
                     const struct nft_device *devs, size_t count, char *why,
                     size_t whylen)
{
  if (!table || !valid_table(table)) {
    snprintf(why, whylen, "bad nftables table name '%.40s' (want 1-31 of "
             "a-z 0-9 _)", table ? table : "");
    return -1;
  }
  if (!ifname || !valid_ifname(ifname)) {
    snprintf(why, whylen, "bad interface name '%.40s' (want 1-15 of "
             "A-Z a-z 0-9 _ . -)", ifname ? ifname : "");
    return -1;
  }
  if (count > 0 && !devs) {
    snprintf(why, whylen, "no devices given");
    return -1;
  }
  for (size_t i = 0; i < count; i++)
    if (check_device(devs, i, why, whylen) < 0)
      return -1;
  return 0;
}

static void put_range(struct text *t, const char *sep, uint16_t lo,
                      uint16_t hi)
{
  if (lo == hi)
    put(t, "%s%u", sep, lo);
  else
    put(t, "%s%u-%u", sep, lo, hi);
}

/* "oifname IF ip daddr A.B.C.D", the start of every per-device rule. */
static void put_to_device(struct text *t, const char *ifname,
                          const struct nft_device *d)
{
  put(t, "\t\toifname \"%s\" ip daddr %u.%u.%u.%u", ifname, d->addr[0],
      d->addr[1], d->addr[2], d->addr[3]);
}

/* The accept rule for one protocol, or nothing when no port is open. */
static void put_accept(struct text *t, const char *ifname,
                       const struct nft_device *d, const char *proto,
                       uint16_t extra_port)
{
  if (d->port_count == 0 && extra_port == 0)
    return;
  put_to_device(t, ifname, d);
  put(t, " %s dport { ", proto);
  const char *sep = "";
  for (size_t i = 0; i < d->port_count; i++, sep = ", ")
    put_range(t, sep, d->ports[i].lo, d->ports[i].hi);
  if (extra_port)
    put_range(t, sep, extra_port, extra_port);
  put(t, " } accept\n");
}

static const char *proto_of(const struct nft_publish *p)
{
  return p->udp ? "udp" : "tcp";
}

/* Forwarding carries one thing: a public connection from another host,
 * NATed to its device's relay port, and that device's replies to it. */
static void put_forward_published(struct text *t, const char *ifname,
                                  const struct nft_device *d)
{
  const struct nft_publish *p = &d->publish;
  if (!p->port || !p->from_other_hosts)
    return;
  put(t, "\t\tiifname != \"%s\" oifname \"%s\" ip daddr %u.%u.%u.%u %s "
         "dport %u ct status dnat counter name \"" COUNTER_PREFIX "%s\" "
         "accept\n",
      ifname, ifname, d->addr[0], d->addr[1], d->addr[2], d->addr[3],
      proto_of(p), d->relay_port, d->tunnel_id);
  put(t, "\t\tiifname \"%s\" oifname != \"%s\" ip saddr %u.%u.%u.%u %s "
         "sport %u ct status dnat ct direction reply accept\n",
      ifname, ifname, d->addr[0], d->addr[1], d->addr[2], d->addr[3],
      proto_of(p), d->relay_port);
}

static void put_input_forward(struct text *t, const char *ifname,
                              const struct nft_device *devs, size_t count)
{
  put(t, "\tchain input {\n"
         "\t\ttype filter hook input priority 0; policy accept;\n"
         "\t\tiifname \"%s\" ct state established,related accept\n"
         "\t\tiifname \"%s\" drop\n"
         "\t}\n",
      ifname, ifname);
  put(t, "\tchain forward {\n"
         "\t\ttype filter hook forward priority 0; policy accept;\n");
  for (size_t i = 0; i < count; i++)
    put_forward_published(t, ifname, &devs[i]);
  put(t, "\t\tiifname \"%s\" drop\n"
         "\t\toifname \"%s\" drop\n"
         "\t}\n",
      ifname, ifname);
}

/* ---- the kernel path of published ports --------------------------------- */

/* "[ip daddr B.I.N.D ]tcp dport P": the public port as clients address it */
static void put_public_match(struct text *t, const struct nft_publish *p)
{
  put(t, "\t\t");
  if (p->bind[0] | p->bind[1] | p->bind[2] | p->bind[3])
    put(t, "ip daddr %u.%u.%u.%u ", p->bind[0], p->bind[1], p->bind[2],
        p->bind[3]);
  put(t, "%s dport %u", proto_of(p), p->port);
}

/* Only IPv4 to one of this host's own addresses, never loopback (NAT from
 * 127.0.0.1 out of another interface would need route_localnet, and local
 * clients on loopback are few: the core's listener takes them), and never
 * what a device sends (no device reaches another through the server). */
static void put_public_guard(struct text *t, const char *ifname, bool remote)
{
  put(t, "\t\tmeta nfproto != ipv4 return\n");
  if (remote)
    put(t, "\t\tiifname \"%s\" return\n", ifname);
  else
    put(t, "\t\tip daddr 127.0.0.0/8 return\n");
  put(t, "\t\tfib daddr type != local return\n");
}

/* Whether the device's public port is NATed on this hook. */
static bool on_hook(const struct nft_device *d, bool remote)
{
  return d->publish.port && (!remote || d->publish.from_other_hosts);
}

static bool any_published(const struct nft_device *devs, size_t count,
                          bool remote)
{
  for (size_t i = 0; i < count; i++)
    if (on_hook(&devs[i], remote))
      return true;
  return false;
}

/* Per device: its cap's set and the chain with its source policy. */
static void put_policy(struct text *t, const struct nft_device *d)
{
  const struct nft_publish *p = &d->publish;
  bool cap = !p->udp && p->conns_per_ip > 0;
  if (cap)
    put(t, "\tset cap_%s {\n\t\ttype ipv4_addr; size 65535; "
           "flags dynamic;\n\t}\n",
        d->tunnel_id);
  put(t, "\tchain pub_%s {\n", d->tunnel_id);
  if (p->restricted && p->allow_count == 0) {
    put(t, "\t\tdrop\n");
  } else if (p->restricted) {
    put(t, "\t\tip saddr != { ");
    for (size_t i = 0; i < p->allow_count; i++) {
      const struct nft_prefix4 *a = &p->allow[i];
      put(t, "%s%u.%u.%u.%u/%u", i ? ", " : "", a->addr[0], a->addr[1],
          a->addr[2], a->addr[3], a->bits);
    }
    put(t, " } drop\n");
  }
  if (cap)
    put(t, "\t\tct state new add @cap_%s { ip saddr ct count over %u } "
           "reject with tcp reset\n",
        d->tunnel_id, p->conns_per_ip);
  put(t, "\t}\n");
}

/* Policy before NAT (priority -150), then NAT (-100), on one hook. */
static void put_hook(struct text *t, const char *ifname,
                     const struct nft_device *devs, size_t count, bool remote)
{
  if (!any_published(devs, count, remote))
    return;
  const char *name = remote ? "remote" : "local";
  const char *hook = remote ? "prerouting" : "output";
  put(t, "\tchain public_%s {\n\t\ttype filter hook %s priority -150; "
         "policy accept;\n", name, hook);
  put_public_guard(t, ifname, remote);
  for (size_t i = 0; i < count; i++)
    if (on_hook(&devs[i], remote)) {
      put_public_match(t, &devs[i].publish);
      put(t, " jump pub_%s\n", devs[i].tunnel_id);
    }
  put(t, "\t}\n");
  put(t, "\tchain dnat_%s {\n\t\ttype nat hook %s priority -100; "
         "policy accept;\n", name, hook);
  put_public_guard(t, ifname, remote);
  for (size_t i = 0; i < count; i++) {
    const struct nft_device *d = &devs[i];
    if (on_hook(d, remote)) {
      put_public_match(t, &d->publish);
      put(t, " dnat ip to %u.%u.%u.%u:%u\n", d->addr[0], d->addr[1],
          d->addr[2], d->addr[3], d->relay_port);
    }
  }
  put(t, "\t}\n");
}

static void put_published(struct text *t, const char *ifname,
                          const struct nft_device *devs, size_t count)
{
  if (!any_published(devs, count, false))
    return;
  for (size_t i = 0; i < count; i++)
    if (devs[i].publish.port)
      put_policy(t, &devs[i]);
  put_hook(t, ifname, devs, count, false);
  put_hook(t, ifname, devs, count, true);
  /* The device answers the server's own address, which it routes back. */
  put(t, "\tchain nat_source {\n\t\ttype nat hook postrouting priority 100; "
         "policy accept;\n"
         "\t\toifname \"%s\" ct status dnat masquerade\n\t}\n",
      ifname);
}

/* The counters come first and carry no verdict, so they see every packet
 * the server sends a device, replies included. */
static void put_output(struct text *t, const char *ifname,
                       const struct nft_device *devs, size_t count)
{
  put(t, "\tchain output {\n"
         "\t\ttype filter hook output priority 0; policy accept;\n");
  for (size_t i = 0; i < count; i++) {
    put_to_device(t, ifname, &devs[i]);
    put(t, " counter name \"" COUNTER_PREFIX "%s\"\n", devs[i].tunnel_id);
  }
  put(t, "\t\toifname \"%s\" ct state established,related accept\n", ifname);
  for (size_t i = 0; i < count; i++) {
    uint16_t relay = devs[i].relay_port;
    put_accept(t, ifname, &devs[i], "tcp", devs[i].relay_udp ? 0 : relay);
    put_accept(t, ifname, &devs[i], "udp", devs[i].relay_udp ? relay : 0);
  }
  put(t, "\t\toifname \"%s\" meta l4proto tcp reject with tcp reset\n"
         "\t\toifname \"%s\" reject with icmpx type admin-prohibited\n"
         "\t}\n",
      ifname, ifname);
}

/* Declaring the table empty first makes the delete valid whether or not it
 * existed; all three commands are one transaction. */
static void put_replace_header(struct text *t, const char *table)
{
  put(t, "table inet %s {}\ndelete table inet %s\n", table, table);
}

char *nft_ruleset(const char *table, const char *ifname,
                  const struct nft_device *devs, size_t count, char *why,
                  size_t whylen)
{
  if (check_all(table, ifname, devs, count, why, whylen) < 0)
    return NULL;
  struct text t;
  text_init(&t);
  put_replace_header(&t, table);
  put(&t, "table inet %s {\n", table);
  for (size_t i = 0; i < count; i++)
    put(&t, "\tcounter " COUNTER_PREFIX "%s {\n\t}\n", devs[i].tunnel_id);
  put_input_forward(&t, ifname, devs, count);
  put_output(&t, ifname, devs, count);
  put_published(&t, ifname, devs, count);
  put(&t, "}\n");
  char *script = text_finish(&t);
  if (!script)
    snprintf(why, whylen, "out of memory");
  return script;
}

char *nft_device_script(const char *table, const char *ifname,
                        const uint8_t my_addr[4], bool udp,
                        uint16_t relay_port, const uint8_t target[4],
                        uint16_t target_port, char *why, size_t whylen)
{
  if (check_all(table, ifname, NULL, 0, why, whylen) < 0)
    return NULL;
  if (!relay_port || !target_port || target[0] != 127) {
    snprintf(why, whylen, "the device's NAT needs ports and a loopback "
             "target (got %u.%u.%u.%u:%u from port %u)", target[0], target[1],
             target[2], target[3], target_port, relay_port);
    return NULL;
  }
  const uint8_t *m = my_addr;
  struct text t;
  text_init(&t);
  put_replace_header(&t, table);
  put(&t, "table inet %s {\n", table);
  put(&t, "\tchain guard {\n\t\ttype filter hook prerouting priority -150; "
          "policy accept;\n"
          "\t\tiifname \"%s\" meta nfproto != ipv4 drop\n"
          "\t\tiifname \"%s\" ip daddr != %u.%u.%u.%u drop\n\t}\n",
      ifname, ifname, m[0], m[1], m[2], m[3]);
  put(&t, "\tchain to_service {\n\t\ttype nat hook prerouting priority "
          "-100; policy accept;\n"
          "\t\tiifname \"%s\" ip daddr %u.%u.%u.%u %s dport %u dnat ip to "
          "%u.%u.%u.%u:%u\n\t}\n",
      ifname, m[0], m[1], m[2], m[3], udp ? "udp" : "tcp", relay_port,
      target[0], target[1], target[2], target[3], target_port);
  put(&t, "}\n");
  char *script = text_finish(&t);
  if (!script)
    snprintf(why, whylen, "out of memory");
  return script;
}

char *nft_delete_script(const char *table)
{
  if (!table || !valid_table(table))
    return NULL;
  struct text t;
  text_init(&t);
  put_replace_header(&t, table);
  return text_finish(&t);
}

/* ---- running scripts ---------------------------------------------------- */

static struct nft_ctx *nft_open(unsigned output_flags, char *why,
                                size_t whylen)
{
  struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!ctx) {
    snprintf(why, whylen, "libnftables: cannot create a context");
    return NULL;
  }
  nft_ctx_output_set_flags(ctx, output_flags);
  if (nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0) {
    snprintf(why, whylen, "libnftables: cannot buffer its output");
    nft_ctx_free(ctx);
    return NULL;
  }
  return ctx;
}

/* nft's error text, less its trailing newlines; a generic line when nft
 * said nothing. */
static void copy_error(struct nft_ctx *ctx, char *why, size_t whylen)
{
  const char *err = nft_ctx_get_error_buffer(ctx);
  size_t n = err ? strlen(err) : 0;
  while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
    n--;
  if (n == 0)
    snprintf(why, whylen, "nft failed without a message");
  else
    snprintf(why, whylen, "%.*s", (int)(n > 4096 ? 4096 : n), err);
}

static int run(struct nft_ctx *ctx, const char *script, char *why,
               size_t whylen)
{
  if (nft_run_cmd_from_buffer(ctx, script) != 0) {
    copy_error(ctx, why, whylen);
    return -1;
  }
  return 0;
}

int nft_apply(const char *script, char *why, size_t whylen)
{
  if (!script) {
    snprintf(why, whylen, "no script");
    return -1;
  }
  struct nft_ctx *ctx = nft_open(0, why, whylen);
  if (!ctx)
    return -1;
  int rc = run(ctx, script, why, whylen);
  nft_ctx_free(ctx);
  return rc;
}

/* ---- counters ------------------------------------------------------------ */

static bool counter_value(json_t *c, const char *key, uint64_t *out)
{
  json_t *v = json_object_get(c, key);
  if (!json_is_integer(v) || json_integer_value(v) < 0)
    return false;
  *out = (uint64_t)json_integer_value(v);
  return true;
}

/* One element of nft's JSON list: {"counter": {"name", "table",
 * "packets", "bytes", ...}}; anything else (the metainfo) is skipped, and
 * so are counters Weft did not name. */
static int one_counter(json_t *item, const char *table,
                       void (*cb)(void *, const char *, uint64_t, uint64_t),
                       void *arg, char *why, size_t whylen)
{
  json_t *c = json_object_get(item, "counter");
  if (!c)
    return 0;
  const char *name = json_string_value(json_object_get(c, "name"));
  const char *owner = json_string_value(json_object_get(c, "table"));
  if (!name || !owner || strcmp(owner, table) != 0 ||
      strncmp(name, COUNTER_PREFIX, strlen(COUNTER_PREFIX)) != 0)
    return 0;
  const char *id = name + strlen(COUNTER_PREFIX);
  if (!valid_tunnel_id(id, 32))
    return 0;
  uint64_t packets, bytes;
  if (!counter_value(c, "packets", &packets) ||
      !counter_value(c, "bytes", &bytes)) {
    snprintf(why, whylen, "nft listed counter %s without its values", name);
    return -1;
  }
  cb(arg, id, packets, bytes);
  return 0;
}

static int parse_counters(const char *out, const char *table,
                          void (*cb)(void *, const char *, uint64_t, uint64_t),
                          void *arg, char *why, size_t whylen)
{
  json_error_t error;
  json_t *doc = json_loads(out ? out : "", 0, &error);
  json_t *list = json_object_get(doc, "nftables");
  if (!json_is_array(list)) {
    snprintf(why, whylen, "nft's JSON listing is not understood: %s",
             doc ? "no \"nftables\" array" : error.text);
    json_decref(doc);
    return -1;
  }
  size_t i;
  json_t *item;
  int rc = 0;
  json_array_foreach(list, i, item)
  {
    rc = one_counter(item, table, cb, arg, why, whylen);
    if (rc < 0)
      break;
  }
  json_decref(doc);
  return rc;
}

int nft_read_counters(const char *table,
                      void (*cb)(void *arg, const char *tunnel_id,
                                 uint64_t packets, uint64_t bytes),
                      void *arg, char *why, size_t whylen)
{
  if (!table || !valid_table(table)) {
    snprintf(why, whylen, "bad nftables table name '%.40s'",
             table ? table : "");
    return -1;
  }
  struct nft_ctx *ctx = nft_open(NFT_CTX_OUTPUT_JSON, why, whylen);
  if (!ctx)
    return -1;
  char cmd[80];
  snprintf(cmd, sizeof cmd, "list counters table inet %s", table);
  int rc = run(ctx, cmd, why, whylen);
  if (rc == 0)
    rc = parse_counters(nft_ctx_get_output_buffer(ctx), table, cb, arg, why,
                        whylen);
  nft_ctx_free(ctx);
  return rc;
}
