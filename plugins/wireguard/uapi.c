#include "uapi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* How long uapi_set and uapi_get wait for wireguard-go. */
#define UAPI_TIMEOUT_MS 5000
/* More peers than this in a request or a reply is refused. */
#define UAPI_MAX_PEERS 65536
/* No line wireguard-go writes comes near this; longer is refused. */
#define UAPI_MAX_LINE 256
/* Room one peer's lines can take in a set request (766 at most: its
 * public_key, preshared_key, endpoint, keepalive, replace_allowed_ips and
 * WG_MAX_ALLOWED_IPS allowed_ip lines), and the device's lines. */
#define PEER_TEXT_MAX 1024
#define DEVICE_TEXT_MAX 256

/* ---- keys as hex ---- */

static void hex_encode(const uint8_t key[WG_KEY_LEN],
                       char out[2 * WG_KEY_LEN + 1])
{
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < WG_KEY_LEN; i++) {
    out[2 * i] = digits[key[i] >> 4];
    out[2 * i + 1] = digits[key[i] & 15];
  }
  out[2 * WG_KEY_LEN] = '\0';
}

static int hex_digit(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Exactly 64 hex digits, or -1. */
static int hex_decode(const char *text, uint8_t key[WG_KEY_LEN])
{
  if (strlen(text) != 2 * WG_KEY_LEN)
    return -1;
  for (size_t i = 0; i < WG_KEY_LEN; i++) {
    int hi = hex_digit(text[2 * i]), lo = hex_digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return -1;
    key[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

static bool all_zero(const uint8_t key[WG_KEY_LEN])
{
  uint8_t any = 0;
  for (size_t i = 0; i < WG_KEY_LEN; i++)
    any |= key[i];
  return any == 0;
}

/* ---- writing a set request ---- */

/* Text appended into a caller's buffer; full once anything did not fit. */
struct out {
  char *p;
  size_t len, cap;
  bool full;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o,
                                                      const char *fmt, ...)
{
  if (o->full)
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= o->cap - o->len) {
    o->full = true;
    return;
  }
  o->len += (size_t)n;
}

static void put_key(struct out *o, const char *name,
                    const uint8_t key[WG_KEY_LEN])
{
  char hex[2 * WG_KEY_LEN + 1];
  hex_encode(key, hex);
  put(o, "%s=%s\n", name, hex);
}

static int family_bits(int family)
{
  return family == AF_INET ? 32 : family == AF_INET6 ? 128 : -1;
}

/* Checked before anything is written, so a refused request leaves no half
 * of itself in out. A removed peer's other fields are ignored. */
static int check_peer(const struct wg_peer_set *ps, size_t i, char *why,
                      size_t whylen)
{
  if (ps->remove)
    return 0;
  if (ps->has_endpoint && family_bits(ps->endpoint_family) < 0) {
    snprintf(why, whylen, "peers[%zu]: endpoint has unknown address family %d",
             i, ps->endpoint_family);
    return -1;
  }
  if (ps->allowed_ip_count > WG_MAX_ALLOWED_IPS) {
    snprintf(why, whylen, "peers[%zu]: %zu allowed IPs, at most %d", i,
             ps->allowed_ip_count, WG_MAX_ALLOWED_IPS);
    return -1;
  }
  for (size_t j = 0; j < ps->allowed_ip_count; j++) {
    const struct wg_prefix *a = &ps->allowed_ips[j];
    int max = family_bits(a->family);
    if (max < 0) {
      snprintf(why, whylen,
               "peers[%zu].allowed_ips[%zu]: unknown address family %d", i, j,
               a->family);
      return -1;
    }
    if (a->bits > max) {
      snprintf(why, whylen,
               "peers[%zu].allowed_ips[%zu]: prefix length %u is more than %d",
               i, j, a->bits, max);
      return -1;
    }
  }
  return 0;
}

static void put_endpoint(struct out *o, const struct wg_peer_set *ps)
{
  char addr[INET6_ADDRSTRLEN];
  inet_ntop(ps->endpoint_family, ps->endpoint_addr, addr, sizeof addr);
  if (ps->endpoint_family == AF_INET6)
    put(o, "endpoint=[%s]:%u\n", addr, ps->endpoint_port);
  else
    put(o, "endpoint=%s:%u\n", addr, ps->endpoint_port);
}

static void put_peer(struct out *o, const struct wg_peer_set *ps)
{
  put_key(o, "public_key", ps->public_key);
  if (ps->remove) {
    put(o, "remove=true\n");
    return;
  }
  if (ps->has_psk)
    put_key(o, "preshared_key", ps->psk);
  if (ps->has_endpoint)
    put_endpoint(o, ps);
  if (ps->has_keepalive)
    put(o, "persistent_keepalive_interval=%u\n", ps->keepalive_s);
  if (ps->replace_allowed_ips)
    put(o, "replace_allowed_ips=true\n");
  for (size_t j = 0; j < ps->allowed_ip_count; j++) {
    const struct wg_prefix *a = &ps->allowed_ips[j];
    char addr[INET6_ADDRSTRLEN];
    inet_ntop(a->family, a->addr, addr, sizeof addr);
    put(o, "allowed_ip=%s/%u\n", addr, a->bits);
  }
}

int uapi_format_set(const struct wg_device_set *dev,
                    const struct wg_peer_set *peers, size_t count, char *out,
                    size_t outlen, char *why, size_t whylen)
{
  if (count > UAPI_MAX_PEERS) {
    snprintf(why, whylen, "%zu peers in one request, at most %d", count,
             UAPI_MAX_PEERS);
    return -1;
  }
  for (size_t i = 0; i < count; i++)
    if (check_peer(&peers[i], i, why, whylen) != 0)
      return -1;
  struct out o = {.p = out, .cap = outlen, .full = outlen == 0};
  put(&o, "set=1\n");
  if (dev->has_private_key)
    put_key(&o, "private_key", dev->private_key);
  if (dev->has_listen_port)
    put(&o, "listen_port=%u\n", dev->listen_port);
  if (dev->replace_peers)
    put(&o, "replace_peers=true\n");
  for (size_t i = 0; i < count; i++)
    put_peer(&o, &peers[i]);
  put(&o, "\n");
  if (o.full || o.len > INT32_MAX) {
    snprintf(why, whylen, "the set request does not fit in %zu bytes", outlen);
    return -1;
  }
  return (int)o.len;
}

/* ---- reading a get reply ---- */

struct parser {
  struct wg_device_state *st;
  size_t cap;                 /* room in st->peers */
  struct wg_peer_state *peer; /* the peer being read; NULL: the device */
  uint32_t seen;              /* fields seen in this section, by index */
  unsigned line;
  char *why;
  size_t whylen;
};

__attribute__((format(printf, 2, 3))) static int fail(struct parser *p,
                                                      const char *fmt, ...)
{
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snprintf(p->why, p->whylen, "line %u: %s", p->line, msg);
  return -1;
}

/* Decimal digits only, at most max: 0, or -1 when not a number, -2 when
 * out of range (however many digits). */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
  if (!*s)
    return -1;
  uint64_t v = 0;
  bool over = false;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return -1;
    unsigned d = (unsigned)(*s - '0');
    if (d > max || v > (max - d) / 10)
      over = true;
    else
      v = v * 10 + d;
  }
  if (over)
    return -2;
  *out = v;
  return 0;
}

static int read_number(struct parser *p, const char *key, const char *val,
                       uint64_t max, uint64_t *out)
{
  int rc = parse_u64(val, max, out);
  if (rc == -1)
    return fail(p, "%s '%.40s' is not a number", key, val);
  if (rc == -2)
    return fail(p, "%s %.40s is out of range", key, val);
  return 0;
}

static int read_key(struct parser *p, const char *key, const char *val,
                    uint8_t out[WG_KEY_LEN])
{
  if (hex_decode(val, out) != 0)
    return fail(p, "%s is not 64 hex digits (%zu characters)", key,
                strlen(val));
  return 0;
}

/* The address text of an endpoint or prefix into buf: fewer than
 * INET6_ADDRSTRLEN characters. */
static bool copy_addr(char buf[INET6_ADDRSTRLEN], const char *s, size_t n)
{
  if (n == 0 || n >= INET6_ADDRSTRLEN)
    return false;
  memcpy(buf, s, n);
  buf[n] = '\0';
  return true;
}

/* "a.b.c.d:port" or "[v6]:port"; NULL, or what is wrong. wireguard-go may
 * name a link-local address's zone ("[fe80::1%eth0]:51820"); the zone is
 * checked and dropped, as wg_peer_state has no place for it. */
static const char *parse_endpoint(const char *s, struct wg_peer_state *ps)
{
  char addr[INET6_ADDRSTRLEN];
  const char *port;
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    if (!close || close[1] != ':')
      return "an IPv6 endpoint is [ADDRESS]:PORT";
    const char *zone = memchr(s + 1, '%', (size_t)(close - s - 1));
    const char *end = zone ? zone : close;
    if (zone && (close - zone - 1 < 1 || close - zone - 1 >= IF_NAMESIZE))
      return "bad zone";
    if (!copy_addr(addr, s + 1, (size_t)(end - s - 1)) ||
        inet_pton(AF_INET6, addr, ps->endpoint_addr) != 1)
      return "bad IPv6 address";
    ps->endpoint_family = AF_INET6;
    port = close + 2;
  } else {
    const char *colon = strchr(s, ':');
    if (!colon || strchr(colon + 1, ':'))
      return "an IPv4 endpoint is ADDRESS:PORT";
    memset(ps->endpoint_addr, 0, sizeof ps->endpoint_addr);
    if (!copy_addr(addr, s, (size_t)(colon - s)) ||
        inet_pton(AF_INET, addr, ps->endpoint_addr) != 1)
      return "bad IPv4 address";
    ps->endpoint_family = AF_INET;
    port = colon + 1;
  }
  uint64_t v;
  if (parse_u64(port, 65535, &v) != 0)
    return "bad port";
  ps->endpoint_port = (uint16_t)v;
  ps->has_endpoint = true;
  return NULL;
}

/* "ADDRESS/BITS"; NULL, or what is wrong. */
static const char *parse_prefix(const char *s, struct wg_prefix *out)
{
  const char *slash = strchr(s, '/');
  char addr[INET6_ADDRSTRLEN];
  if (!slash || !copy_addr(addr, s, (size_t)(slash - s)))
    return "not ADDRESS/BITS";
  memset(out, 0, sizeof *out);
  out->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
  if (inet_pton(out->family, addr, out->addr) != 1)
    return "bad address";
  uint64_t bits;
  if (parse_u64(slash + 1, (uint64_t)family_bits(out->family), &bits) != 0)
    return "prefix length out of range";
  out->bits = (uint8_t)bits;
  return NULL;
}

static int on_private_key(struct parser *p, const char *k, const char *v)
{
  if (read_key(p, k, v, p->st->private_key) != 0)
    return -1;
  p->st->has_private_key = !all_zero(p->st->private_key);
  return 0;
}

static int on_listen_port(struct parser *p, const char *k, const char *v)
{
  uint64_t n;
  if (read_number(p, k, v, 65535, &n) != 0)
    return -1;
  p->st->listen_port = (uint16_t)n;
  return 0;
}

static int on_fwmark(struct parser *p, const char *k, const char *v)
{
  uint64_t n;
  if (read_number(p, k, v, UINT32_MAX, &n) != 0)
    return -1;
  p->st->fwmark = (uint32_t)n;
  return 0;
}

/* A public_key line starts the next peer. The array grows with the peers
 * actually present, never with a count the reply claims. */
static int on_public_key(struct parser *p, const char *k, const char *v)
{
  struct wg_device_state *st = p->st;
  if (st->peer_count == UAPI_MAX_PEERS)
    return fail(p, "more than %d peers", UAPI_MAX_PEERS);
  if (st->peer_count == p->cap) {
    size_t cap = p->cap ? 2 * p->cap : 4;
    struct wg_peer_state *grown = realloc(st->peers, cap * sizeof *grown);
    if (!grown)
      return fail(p, "out of memory for %zu peers", cap);
    st->peers = grown;
    p->cap = cap;
  }
  p->peer = &st->peers[st->peer_count++];
  memset(p->peer, 0, sizeof *p->peer);
  return read_key(p, k, v, p->peer->public_key);
}

static int on_preshared_key(struct parser *p, const char *k, const char *v)
{
  uint8_t psk[WG_KEY_LEN];
  if (read_key(p, k, v, psk) != 0)
    return -1;
  p->peer->has_psk = !all_zero(psk); /* zeros: no preshared key */
  return 0;
}

static int on_protocol_version(struct parser *p, const char *k, const char *v)
{
  if (strcmp(v, "1") != 0)
    return fail(p, "%s %.40s is not 1", k, v);
  return 0;
}

static int on_endpoint(struct parser *p, const char *k, const char *v)
{
  const char *bad = parse_endpoint(v, p->peer);
  if (bad)
    return fail(p, "%s '%.60s': %s", k, v, bad);
  return 0;
}

static int on_handshake_sec(struct parser *p, const char *k, const char *v)
{
  uint64_t n;
  if (read_number(p, k, v, INT64_MAX, &n) != 0)
    return -1;
  p->peer->last_handshake_s = (int64_t)n;
  return 0;
}

static int on_handshake_nsec(struct parser *p, const char *k, const char *v)
{
  uint64_t n;
  return read_number(p, k, v, 999999999, &n);
}

static int on_tx_bytes(struct parser *p, const char *k, const char *v)
{
  return read_number(p, k, v, UINT64_MAX, &p->peer->tx_bytes);
}

static int on_rx_bytes(struct parser *p, const char *k, const char *v)
{
  return read_number(p, k, v, UINT64_MAX, &p->peer->rx_bytes);
}

static int on_keepalive(struct parser *p, const char *k, const char *v)
{
  uint64_t n;
  if (read_number(p, k, v, 65535, &n) != 0)
    return -1;
  p->peer->keepalive_s = (uint16_t)n;
  return 0;
}

static int on_allowed_ip(struct parser *p, const char *k, const char *v)
{
  struct wg_peer_state *ps = p->peer;
  if (ps->allowed_ip_count == WG_MAX_ALLOWED_IPS)
    return fail(p, "a peer with more than %d allowed IPs", WG_MAX_ALLOWED_IPS);
  const char *bad = parse_prefix(v, &ps->allowed_ips[ps->allowed_ip_count]);
  if (bad)
    return fail(p, "%s '%.60s': %s", k, v, bad);
  ps->allowed_ip_count++;
  return 0;
}

enum section { DEVICE, PEER };

static const struct field {
  const char *key;
  enum section section;
  bool repeats;
  int (*read)(struct parser *p, const char *key, const char *val);
} fields[] = {
    {"private_key", DEVICE, false, on_private_key},
    {"listen_port", DEVICE, false, on_listen_port},
    {"fwmark", DEVICE, false, on_fwmark},
    {"public_key", PEER, false, on_public_key},
    {"preshared_key", PEER, false, on_preshared_key},
    {"protocol_version", PEER, false, on_protocol_version},
    {"endpoint", PEER, false, on_endpoint},
    {"last_handshake_time_sec", PEER, false, on_handshake_sec},
    {"last_handshake_time_nsec", PEER, false, on_handshake_nsec},
    {"tx_bytes", PEER, false, on_tx_bytes},
    {"rx_bytes", PEER, false, on_rx_bytes},
    {"persistent_keepalive_interval", PEER, false, on_keepalive},
    {"allowed_ip", PEER, true, on_allowed_ip},
};

/* One key=value line (NUL-terminated, printable). */
static int read_field(struct parser *p, char *line)
{
  char *eq = strchr(line, '=');
  if (!eq)
    return fail(p, "'%.40s' has no '='", line);
  *eq = '\0';
  const struct field *f = NULL;
  for (size_t i = 0; i < sizeof fields / sizeof fields[0] && !f; i++)
    if (strcmp(line, fields[i].key) == 0)
      f = &fields[i];
  if (!f)
    return fail(p, "unknown key '%.40s'", line);
  uint32_t bit = 1u << (f - fields);
  if (f->read == on_public_key) {
    p->seen = 0; /* a new section */
  } else if (f->section == PEER && !p->peer) {
    return fail(p, "%s before any public_key", f->key);
  } else if (f->section == DEVICE && p->peer) {
    return fail(p, "%s after the first peer", f->key);
  } else if ((p->seen & bit) && !f->repeats) {
    return fail(p, "%s appears twice", f->key);
  }
  p->seen |= bit;
  return f->read(p, f->key, eq + 1);
}

/* The line at *pos into buf (without its newline), checked: no longer than
 * UAPI_MAX_LINE, ending in '\n', printable ASCII without spaces. */
static int next_line(struct parser *p, const char *text, size_t len,
                     size_t *pos, char buf[UAPI_MAX_LINE + 1])
{
  p->line++;
  size_t avail = len - *pos;
  if (avail == 0)
    return fail(p, "the reply ends without errno and a blank line");
  size_t look = avail < UAPI_MAX_LINE + 1 ? avail : UAPI_MAX_LINE + 1;
  const char *nl = memchr(text + *pos, '\n', look);
  if (!nl)
    return avail > UAPI_MAX_LINE
               ? fail(p, "longer than %d bytes", UAPI_MAX_LINE)
               : fail(p, "the reply ends in the middle of a line");
  size_t n = (size_t)(nl - (text + *pos));
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)text[*pos + i];
    if (c <= ' ' || c >= 0x7f)
      return fail(p, "byte 0x%02x is not allowed", c);
  }
  memcpy(buf, text + *pos, n);
  buf[n] = '\0';
  *pos += n + 1;
  return 0;
}

/* "errno=N" with N a decimal int, perhaps negative (wireguard-go answers
 * -EINVAL as "errno=-22"); 0, or -1 when it is anything else. */
static int parse_errno_value(const char *line, int *out)
{
  if (strncmp(line, "errno=", 6) != 0)
    return -1;
  const char *s = line + 6;
  bool neg = *s == '-';
  uint64_t v;
  if (parse_u64(s + neg, INT32_MAX, &v) != 0)
    return -1;
  *out = neg ? -(int)v : (int)v;
  return 0;
}

static int compare_keys(const void *a, const void *b)
{
  return memcmp(a, b, WG_KEY_LEN);
}

/* The same public key twice would make one peer two. Sorted copies find it
 * in n log n, however many peers there are. */
static int check_unique(struct parser *p)
{
  size_t n = p->st->peer_count;
  if (n < 2)
    return 0;
  uint8_t (*keys)[WG_KEY_LEN] = malloc(n * sizeof *keys);
  if (!keys) {
    snprintf(p->why, p->whylen, "out of memory for %zu peers", n);
    return -1;
  }
  for (size_t i = 0; i < n; i++)
    memcpy(keys[i], p->st->peers[i].public_key, WG_KEY_LEN);
  qsort(keys, n, sizeof *keys, compare_keys);
  int rc = 0;
  for (size_t i = 1; i < n && rc == 0; i++)
    if (memcmp(keys[i - 1], keys[i], WG_KEY_LEN) == 0) {
      char hex[2 * WG_KEY_LEN + 1];
      hex_encode(keys[i], hex);
      snprintf(p->why, p->whylen, "peer %s appears twice", hex);
      rc = -1;
    }
  free(keys);
  return rc;
}

/* Lines up to errno, then exactly the blank line. 0 with *code, or -1. */
static int read_reply(struct parser *p, const char *text, size_t len,
                      int *code)
{
  size_t pos = 0;
  char line[UAPI_MAX_LINE + 1];
  for (;;) {
    if (next_line(p, text, len, &pos, line) != 0)
      return -1;
    if (!line[0])
      return fail(p, "a blank line before errno");
    if (strncmp(line, "errno=", 6) == 0)
      break;
    if (read_field(p, line) != 0)
      return -1;
  }
  if (parse_errno_value(line, code) != 0)
    return fail(p, "'%.40s' is not errno=NUMBER", line);
  p->line++;
  if (pos == len || text[pos] != '\n')
    return fail(p, "no blank line after errno");
  if (pos + 1 != len)
    return fail(p, "%zu bytes after the blank line", len - pos - 1);
  return 0;
}

int uapi_parse_get(const char *text, size_t len, struct wg_device_state *out,
                   int *uapi_errno, char *why, size_t whylen)
{
  memset(out, 0, sizeof *out);
  *uapi_errno = 0;
  struct parser p = {.st = out, .why = why, .whylen = whylen};
  int code = 0;
  if (!text)
    len = 0;
  if (read_reply(&p, text, len, &code) != 0)
    goto fail;
  if (code != 0) {
    *uapi_errno = code;
    snprintf(why, whylen, "wireguard-go answered errno=%d (%s)", code,
             strerror(code < 0 ? -code : code));
    goto fail;
  }
  if (check_unique(&p) != 0)
    goto fail;
  return 0;
fail:
  wg_device_state_free(out);
  return -1;
}

int uapi_parse_errno(const char *text, size_t len, int *uapi_errno, char *why,
                     size_t whylen)
{
  *uapi_errno = 0;
  /* At most "errno=-2147483648\n\n"; anything longer is not a set reply. */
  char buf[32];
  if (!text || len < 2 || len >= sizeof buf || text[len - 1] != '\n' ||
      text[len - 2] != '\n' || memchr(text, '\n', len - 2) ||
      memchr(text, '\0', len)) {
    snprintf(why, whylen, "the reply is not errno=N and a blank line "
                          "(%zu bytes)", len);
    return -1;
  }
  memcpy(buf, text, len - 2);
  buf[len - 2] = '\0';
  if (parse_errno_value(buf, uapi_errno) != 0) {
    snprintf(why, whylen, "the reply is not errno=N and a blank line");
    return -1;
  }
  return 0;
}

/* ---- the socket ---- */

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 once fd is ready for events, 0 at the deadline, -1 with errno. */
static int wait_for(int fd, short events, int64_t deadline)
{
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0)
      return 0;
    struct pollfd pfd = {.fd = fd, .events = events};
    int rc = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
    if (rc > 0)
      return 1;
    if (rc < 0 && errno != EINTR)
      return -1;
  }
}

static int connect_unix(const char *path, int timeout_ms, char *why,
                        size_t whylen)
{
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sa.sun_path) {
    snprintf(why, whylen, "socket path %s is too long", path);
    return -1;
  }
  strcpy(sa.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(why, whylen, "socket for %s: %s", path, strerror(errno));
    return -1;
  }
  /* A Unix socket's connect only waits when the listener's backlog is
   * full, and then for as long as SO_SNDTIMEO says. */
  struct timeval tv = {.tv_sec = timeout_ms / 1000,
                       .tv_usec = (timeout_ms % 1000) * 1000};
  if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 ||
      connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
      fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
    snprintf(why, whylen, "cannot connect to %s: %s", path, strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

/* The whole request. When wireguard-go stops reading (it answers an
 * invalid line at once, then drops the connection), sending stops with
 * success: its reply may be waiting and says more than "broken pipe". */
static int send_all(int fd, const char *path, const char *req,
                    int64_t deadline, int timeout_ms, char *why, size_t whylen)
{
  size_t len = strlen(req), done = 0;
  while (done < len) {
    int ready = wait_for(fd, POLLOUT, deadline);
    if (ready == 0) {
      snprintf(why, whylen, "%s took no request within %d ms", path,
               timeout_ms);
      return -1;
    }
    ssize_t n = ready < 0 ? -1 : send(fd, req + done, len - done, MSG_NOSIGNAL);
    if (n >= 0) {
      done += (size_t)n;
    } else if (errno == EPIPE || errno == ECONNRESET) {
      return 0;
    } else if (errno != EINTR && errno != EAGAIN) {
      snprintf(why, whylen, "cannot write to %s: %s", path, strerror(errno));
      return -1;
    }
  }
  return 0;
}

/* Room for at least one more byte and the NUL, up to UAPI_MAX_REPLY. */
static int make_room(char **buf, size_t *cap, size_t have)
{
  if (have + 1 < *cap)
    return 0;
  size_t grown = *cap ? 2 * *cap : 4096;
  if (grown > UAPI_MAX_REPLY + 1)
    grown = UAPI_MAX_REPLY + 1;
  char *p = realloc(*buf, grown);
  if (!p)
    return -1;
  *buf = p;
  *cap = grown;
  return 0;
}

/* Reads until the text holds a blank line, i.e. "\n\n": no line of a
 * reply is empty, so the first one ends it. Whatever came with it stays
 * in the text for the parser to refuse. */
static char *recv_reply(int fd, const char *path, int64_t deadline,
                        int timeout_ms, size_t *len, char *why, size_t whylen)
{
  char *buf = NULL;
  size_t cap = 0, have = 0;
  for (;;) {
    if (have == UAPI_MAX_REPLY) {
      snprintf(why, whylen, "the reply from %s is longer than %u bytes", path,
               UAPI_MAX_REPLY);
      break;
    }
    if (make_room(&buf, &cap, have) != 0) {
      snprintf(why, whylen, "out of memory reading from %s", path);
      break;
    }
    int ready = wait_for(fd, POLLIN, deadline);
    if (ready == 0) {
      snprintf(why, whylen, "no complete reply from %s within %d ms (%zu "
               "bytes)", path, timeout_ms, have);
      break;
    }
    ssize_t n = ready < 0 ? -1 : recv(fd, buf + have, cap - 1 - have, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (n < 0 && errno != ECONNRESET) {
      snprintf(why, whylen, "cannot read from %s: %s", path, strerror(errno));
      break;
    }
    /* Reset: it closed with part of the request unread. */
    if (n <= 0) {
      snprintf(why, whylen, "%s closed the connection after %zu bytes, "
               "before the reply's blank line", path, have);
      break;
    }
    size_t from = have ? have - 1 : 0; /* a "\n" may end the last read */
    have += (size_t)n;
    buf[have] = '\0';
    if (memmem(buf + from, have - from, "\n\n", 2)) {
      *len = have;
      return buf;
    }
  }
  free(buf);
  return NULL;
}

char *uapi_exchange(const char *socket_path, const char *request,
                    int timeout_ms, size_t *len, char *why, size_t whylen)
{
  *len = 0;
  if (timeout_ms < 1)
    timeout_ms = 1; /* 0 would make SO_SNDTIMEO wait for ever */
  int64_t deadline = now_ms() + timeout_ms;
  int fd = connect_unix(socket_path, timeout_ms, why, whylen);
  if (fd < 0)
    return NULL;
  char *reply = NULL;
  if (send_all(fd, socket_path, request, deadline, timeout_ms, why, whylen) ==
      0)
    reply = recv_reply(fd, socket_path, deadline, timeout_ms, len, why, whylen);
  close(fd);
  return reply;
}

int uapi_set(const char *socket_path, const struct wg_device_set *dev,
             const struct wg_peer_set *peers, size_t count, char *why,
             size_t whylen)
{
  if (count > UAPI_MAX_PEERS) {
    snprintf(why, whylen, "%zu peers in one request, at most %d", count,
             UAPI_MAX_PEERS);
    return -1;
  }
  size_t cap = DEVICE_TEXT_MAX + count * PEER_TEXT_MAX;
  char *req = malloc(cap);
  if (!req) {
    snprintf(why, whylen, "out of memory for a request of %zu peers", count);
    return -1;
  }
  int rc = -1, code = 0;
  size_t len = 0;
  char *reply = NULL;
  if (uapi_format_set(dev, peers, count, req, cap, why, whylen) >= 0)
    reply = uapi_exchange(socket_path, req, UAPI_TIMEOUT_MS, &len, why,
                          whylen);
  char msg[200];
  if (reply && uapi_parse_errno(reply, len, &code, msg, sizeof msg) != 0)
    snprintf(why, whylen, "%s: %s", socket_path, msg);
  else if (reply && code != 0)
    snprintf(why, whylen, "%s refused the settings: errno=%d (%s)",
             socket_path, code, strerror(code < 0 ? -code : code));
  else if (reply)
    rc = 0;
  free(reply);
  free(req);
  return rc;
}

int uapi_get(const char *socket_path, struct wg_device_state *out, char *why,
             size_t whylen)
{
  memset(out, 0, sizeof *out);
  size_t len;
  char *reply = uapi_exchange(socket_path, "get=1\n\n", UAPI_TIMEOUT_MS, &len,
                              why, whylen);
  if (!reply)
    return -1;
  int code;
  char msg[256];
  int rc = uapi_parse_get(reply, len, out, &code, msg, sizeof msg);
  if (rc != 0)
    snprintf(why, whylen, "%s: %s", socket_path, msg);
  free(reply);
  return rc;
}
