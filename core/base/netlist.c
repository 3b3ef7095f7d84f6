#include "base/netlist.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/url.h"

/* Calls fn on each comma-separated, trimmed item; stops at the first error. */
static int each_item(const char *text, int (*fn)(const char *item, void *arg,
                                                 char *err, size_t errlen),
                     void *arg, char *err, size_t errlen)
{
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", text) >= (int)sizeof buf) {
    snprintf(err, errlen, "list longer than %zu characters", sizeof buf - 1);
    return -1;
  }
  for (char *item = buf, *next; item; item = next) {
    next = strchr(item, ',');
    if (next)
      *next++ = '\0';
    while (*item == ' ' || *item == '\t')
      item++;
    char *end = item + strlen(item);
    while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
      *--end = '\0';
    if (!*item) {
      snprintf(err, errlen, "empty item in list");
      return -1;
    }
    if (fn(item, arg, err, errlen) != 0)
      return -1;
  }
  return 0;
}

static int parse_port(const char *s, uint16_t *out)
{
  char *end;
  long v = strtol(s, &end, 10);
  if (end == s || *end || v < 1 || v > 65535 || *s == '+' || *s == '-')
    return -1;
  *out = (uint16_t)v;
  return 0;
}

static int add_port(const char *item, void *arg, char *err, size_t errlen)
{
  struct port_list *l = arg;
  if (l->count == NETLIST_MAX) {
    snprintf(err, errlen, "more than %d port ranges", NETLIST_MAX);
    return -1;
  }
  struct port_range r;
  char lo[16], hi[16];
  const char *dash = strchr(item, '-');
  if (dash) {
    snprintf(lo, sizeof lo, "%.*s", (int)(dash - item), item);
    snprintf(hi, sizeof hi, "%s", dash + 1);
  } else {
    snprintf(lo, sizeof lo, "%s", item);
    snprintf(hi, sizeof hi, "%s", item);
  }
  if (parse_port(lo, &r.lo) || parse_port(hi, &r.hi) || r.lo > r.hi) {
    snprintf(err, errlen,
             "'%s' is not a port or range of ports (1-65535, as in 8000-8100)",
             item);
    return -1;
  }
  l->r[l->count++] = r;
  return 0;
}

int port_list_parse(const char *text, struct port_list *out, char *err,
                    size_t errlen)
{
  memset(out, 0, sizeof *out);
  return each_item(text, add_port, out, err, errlen);
}

bool port_list_has(const struct port_list *l, uint16_t port)
{
  for (size_t i = 0; i < l->count; i++)
    if (port >= l->r[i].lo && port <= l->r[i].hi)
      return true;
  return false;
}

void port_list_format(const struct port_list *l, char *buf, size_t len)
{
  size_t used = 0;
  if (len)
    buf[0] = '\0';
  for (size_t i = 0; i < l->count && used < len; i++) {
    const struct port_range *r = &l->r[i];
    int n = r->lo == r->hi
                ? snprintf(buf + used, len - used, "%s%u", i ? "," : "", r->lo)
                : snprintf(buf + used, len - used, "%s%u-%u", i ? "," : "",
                           r->lo, r->hi);
    if (n < 0)
      break;
    used += (size_t)n;
  }
}

int addr_parse(const char *text, uint8_t out[16])
{
  struct in_addr a4;
  if (inet_pton(AF_INET, text, &a4) == 1) {
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    memcpy(out + 12, &a4, 4);
    return 0;
  }
  return inet_pton(AF_INET6, text, out) == 1 ? 0 : -1;
}

bool addr_is_v4(const uint8_t a[16])
{
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return memcmp(a, mapped, 12) == 0;
}

void addr_source_key(const char *text, uint8_t key[16])
{
  if (addr_parse(text, key) != 0)
    memset(key, 0, 16);
  else if (!addr_is_v4(key))
    memset(key + 8, 0, 8); /* the /64 */
}

static int add_prefix(const char *item, void *arg, char *err, size_t errlen)
{
  struct prefix_list *l = arg;
  if (l->count == NETLIST_MAX) {
    snprintf(err, errlen, "more than %d address prefixes", NETLIST_MAX);
    return -1;
  }
  char addr[64];
  struct prefix p;
  const char *slash = strchr(item, '/');
  snprintf(addr, sizeof addr, "%.*s", slash ? (int)(slash - item) : 63, item);
  if (addr_parse(addr, p.addr) != 0) {
    snprintf(err, errlen, "'%s' is not an IP address or prefix", item);
    return -1;
  }
  bool v4 = addr_is_v4(p.addr) && !strchr(addr, ':');
  long bits = v4 ? 32 : 128;
  if (slash) {
    char *end;
    bits = strtol(slash + 1, &end, 10);
    if (end == slash + 1 || *end || bits < 0 || bits > (v4 ? 32 : 128)) {
      snprintf(err, errlen, "'%s': prefix length must be 0-%d", item,
               v4 ? 32 : 128);
      return -1;
    }
  }
  p.bits = (unsigned)(v4 ? bits + 96 : bits);
  l->p[l->count++] = p;
  return 0;
}

int prefix_list_parse(const char *text, struct prefix_list *out, char *err,
                      size_t errlen)
{
  memset(out, 0, sizeof *out);
  if (!strcmp(text, "any")) {
    /* ::/0 covers the IPv4-mapped form too */
    out->count = 1;
    return 0;
  }
  return each_item(text, add_prefix, out, err, errlen);
}

static bool prefix_match(const struct prefix *p, const uint8_t a[16])
{
  unsigned full = p->bits / 8, rest = p->bits % 8;
  if (memcmp(p->addr, a, full) != 0)
    return false;
  if (rest == 0)
    return true;
  uint8_t mask = (uint8_t)(0xff << (8 - rest));
  return (p->addr[full] & mask) == (a[full] & mask);
}

bool prefix_list_has(const struct prefix_list *l, const uint8_t addr[16])
{
  for (size_t i = 0; i < l->count; i++)
    if (prefix_match(&l->p[i], addr))
      return true;
  return false;
}

static const uint8_t V4_MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void append(char *buf, size_t len, size_t *used, const char *text)
{
  int n = snprintf(buf + *used, len - *used, "%s%s", *used ? "," : "", text);
  if (n > 0)
    *used = *used + (size_t)n < len ? *used + (size_t)n : len - 1;
}

void prefix_list_format(const struct prefix_list *l, char *buf, size_t len)
{
  if (!len)
    return;
  buf[0] = '\0';
  size_t used = 0;
  uint8_t any_v4[16] = {0};
  memcpy(any_v4, V4_MAPPED, sizeof V4_MAPPED);
  for (size_t i = 0; i < l->count; i++) {
    const struct prefix *p = &l->p[i];
    char addr[INET6_ADDRSTRLEN], item[INET6_ADDRSTRLEN + 8];
    if (p->bits >= 96 && !memcmp(p->addr, V4_MAPPED, sizeof V4_MAPPED)) {
      inet_ntop(AF_INET, p->addr + 12, addr, sizeof addr);
      snprintf(item, sizeof item, "%s/%u", addr, p->bits - 96);
      append(buf, len, &used, item);
      continue;
    }
    inet_ntop(AF_INET6, p->addr, addr, sizeof addr);
    snprintf(item, sizeof item, "%s/%u", addr, p->bits);
    append(buf, len, &used, item);
    if (p->bits <= 96 && prefix_match(p, any_v4))
      append(buf, len, &used, "0.0.0.0/0");
  }
}

static int add_host(const char *item, void *arg, char *err, size_t errlen)
{
  struct host_list *l = arg;
  if (l->count == NETLIST_MAX) {
    snprintf(err, errlen, "more than %d host patterns", NETLIST_MAX);
    return -1;
  }
  char *dst = l->pattern[l->count];
  if (!strcmp(item, "*")) {
    strcpy(dst, "*");
  } else {
    const char *name = item;
    bool wildcard = !strncmp(item, "*.", 2);
    if (wildcard)
      name += 2;
    enum url_host_kind kind;
    char host[URL_MAX_HOST + 1], why[256];
    if (host_parse(name, strlen(name), &kind, host, sizeof host, why,
                   sizeof why) != 0 ||
        kind != URL_HOST_NAME) {
      snprintf(err, errlen,
               "'%s' is not a host name or pattern (as in app.example.com "
               "or *.example.com)",
               item);
      return -1;
    }
    snprintf(dst, sizeof l->pattern[0], "%s%s", wildcard ? "*." : "", host);
  }
  l->count++;
  return 0;
}

int host_list_parse(const char *text, struct host_list *out, char *err,
                    size_t errlen)
{
  memset(out, 0, sizeof *out);
  return each_item(text, add_host, out, err, errlen);
}

bool host_list_has(const struct host_list *l, const char *host)
{
  size_t hlen = strlen(host);
  for (size_t i = 0; i < l->count; i++) {
    const char *p = l->pattern[i];
    if (!strcmp(p, "*") || !strcmp(p, host))
      return true;
    if (!strncmp(p, "*.", 2)) {
      /* "*.example.com" matches "a.example.com" and "a.b.example.com",
       * not "example.com" itself. */
      size_t slen = strlen(p + 1);
      if (hlen > slen && !strcmp(host + hlen - slen, p + 1))
        return true;
    }
  }
  return false;
}
