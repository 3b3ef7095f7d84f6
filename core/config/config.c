#include "config/config.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/acl.h"
#include "base/netlist.h"
#include "plugin/options.h"
#include "plugin/plugin_registry.h"

/* inih's line buffer; longer lines are refused with their line number. */
#define CONF_MAX_LINE 4096
#define CONF_MAX_FILE (1024 * 1024)

const struct weft_option conf_server_options[] = {
    {"listen", WEFT_OPT_STRING, offsetof(struct server_conf, listen),
     "0.0.0.0:9092",
     "control API address(es): HOST:PORT, comma-separated for several", NULL,
     0, 0, 0},
    {"http_listen", WEFT_OPT_STRING, offsetof(struct server_conf, http_listen),
     "0.0.0.0:8080",
     "public HTTP address (HOST:PORT) for tunnels routed by Host or path, or "
     "off",
     NULL, 0, 0, 0},
    {"public_host", WEFT_OPT_STRING, offsetof(struct server_conf, public_host),
     NULL,
     "host name or address clients use to reach this server (default: the "
     "first listen address, or this machine's address)",
     NULL, 0, 0, 0},
    {"state_dir", WEFT_OPT_STRING, offsetof(struct server_conf, state_dir),
     NULL,
     "where the secret, keys and store live (default /var/lib/weft as root, "
     "else ~/.local/state/weft)",
     NULL, 0, 0, 0},
    {"secret_file", WEFT_OPT_STRING, offsetof(struct server_conf, secret_file),
     NULL, "also write the connection string to this file (mode 0600)", NULL,
     0, 0, 0},
    {"tls_cert", WEFT_OPT_STRING, offsetof(struct server_conf, tls_cert), NULL,
     "control port certificate chain (PEM); default: a self-signed one made "
     "in the state directory",
     NULL, 0, 0, 0},
    {"tls_key", WEFT_OPT_STRING, offsetof(struct server_conf, tls_key), NULL,
     "private key of tls_cert (PEM)", NULL, 0, 0, 0},
    {"tls_listen", WEFT_OPT_STRING, offsetof(struct server_conf, tls_listen),
     "0.0.0.0:8443",
     "public TLS address (HOST:PORT) for https:// host names, routed by SNI, "
     "or off",
     NULL, 0, 0, 0},
    {"tls_certs_dir", WEFT_OPT_STRING,
     offsetof(struct server_conf, tls_certs_dir), NULL,
     "certificates (NAME.crt, NAME.key) for the host names the server "
     "terminates TLS for (default: certs in the state directory)",
     NULL, 0, 0, 0},
    {"tls_default_host", WEFT_OPT_STRING,
     offsetof(struct server_conf, tls_default_host), NULL,
     "host name whose tunnel gets TLS connections with no or an unknown "
     "server name (default: close them)",
     NULL, 0, 0, 0},
    {"tls_control", WEFT_OPT_ENUM, offsetof(struct server_conf, tls_control),
     "auto",
     "devices may reach the control API through the TLS port: auto (when "
     "the control port itself listens on every address or on the TLS "
     "port's), on, or off",
     "auto|on|off", 0, 0, 0},
    {"client_hello_timeout", WEFT_OPT_DURATION,
     offsetof(struct server_conf, client_hello_timeout_ms), "10s",
     "close a TLS visitor that has not sent its ClientHello by then", NULL,
     100, 600000, 0},
    {"https_redirect", WEFT_OPT_BOOL,
     offsetof(struct server_conf, https_redirect), "false",
     "answer plain HTTP for an https:// host name with a redirect to https",
     NULL, 0, 0, 0},
    {"acme_directory", WEFT_OPT_STRING,
     offsetof(struct server_conf, acme_directory),
     "https://acme-v02.api.letsencrypt.org/directory",
     "ACME directory URL, used with email", NULL, 0, 0, 0},
    {"acme_ca_file", WEFT_OPT_STRING,
     offsetof(struct server_conf, acme_ca_file), NULL,
     "CA (PEM) to trust for the ACME server's own TLS (default: the "
     "system's)",
     NULL, 0, 0, 0},
    {"plain_http", WEFT_OPT_ENUM, offsetof(struct server_conf, plain_http),
     "loopback",
     "control API over plain HTTP (not TLS): from loopback only, from "
     "anywhere, or never",
     "loopback|on|off", 0, 0, 0},
    {"use_secret_per_ip", WEFT_OPT_BOOL,
     offsetof(struct server_conf, use_secret_per_ip), "false",
     "one secret per listen address; a client must use the one it reached",
     NULL, 0, 0, 0},
    {"admins", WEFT_OPT_STRING, offsetof(struct server_conf, admins), NULL,
     "device ids (comma-separated) that are administrators when they log in "
     "from the server's own host: the older way, kept for existing set-ups "
     "(administrators now use the local socket, or an API key); none by "
     "default", NULL, 0, 0, 0},
    {"enrollment", WEFT_OPT_ENUM, offsetof(struct server_conf, enrollment),
     "open",
     "open: a new device id is bound to the first key that logs in as it; "
     "approve: to that key once an administrator approves it (weft admin "
     "approvals); closed: only ids bound already log in, and the secret "
     "alone only for the ids in admins",
     "open|approve|closed", 0, 0, 0},
    {"email", WEFT_OPT_STRING, offsetof(struct server_conf, email), NULL,
     "contact address for ACME certificates", NULL, 0, 0, 0},
    {"log_level", WEFT_OPT_ENUM, offsetof(struct server_conf, log_level),
     "info", "how much to log", "error|warning|info|debug", 0, 0, 0},
    {"opentelemetry", WEFT_OPT_STRING,
     offsetof(struct server_conf, opentelemetry), NULL,
     "send events and metrics to an OpenTelemetry collector (OTLP over "
     "HTTP, JSON): its URL, or endpoint=URL;headers=K=V;interval=60s",
     NULL, 0, 0, 0},
    {"log_format", WEFT_OPT_ENUM, offsetof(struct server_conf, log_format),
     "text", "text: one line per record, \"TIME weft: LEVEL: [ORIGIN] "
     "message\"; json: one JSON object per line", "text|json", 0, 0, 0},
    {"idle_timeout", WEFT_OPT_DURATION,
     offsetof(struct server_conf, idle_timeout_ms), "15m",
     "end a tunnel after this long without public traffic", NULL, 1000,
     INT64_C(31536000000), 0},
    {"lease_ttl", WEFT_OPT_DURATION, offsetof(struct server_conf, lease_ttl_ms),
     "24h", "a lease's term: renewed for as long again while the tunnel "
     "has public traffic, else the tunnel ends", NULL, 1000,
     INT64_C(31536000000), 0},
    {"max_lifetime", WEFT_OPT_DURATION,
     offsetof(struct server_conf, max_lifetime_ms), "0",
     "end a tunnel this long after it was created, in use or not (0: never)",
     NULL, 0, INT64_C(31536000000), 0},
    {"pool", WEFT_OPT_STRING, offsetof(struct server_conf, pool), "10.1.0.0/16",
     "virtual IPv4 address pool (CIDR, /8 to /30); the server takes the top "
     "address",
     NULL, 0, 0, 0},
    {"port_range", WEFT_OPT_STRING, offsetof(struct server_conf, port_range),
     "20000-29999", "public ports handed out when a tunnel asks for none",
     NULL, 0, 0, 0},
    {"ip_quarantine", WEFT_OPT_DURATION,
     offsetof(struct server_conf, ip_quarantine_ms), "5m",
     "a freed virtual address is not reused for this long", NULL, 0,
     INT64_C(86400000), 0},
    {"metrics_allow", WEFT_OPT_STRING,
     offsetof(struct server_conf, metrics_allow), "any",
     "who may read /metrics without a session: any, or address prefixes",
     NULL, 0, 0, 0},
    {"metrics_max_series", WEFT_OPT_INT,
     offsetof(struct server_conf, metrics_max_series), "1000",
     "/metrics: tunnels, and devices, with their own series; the rest are "
     "summed under the label value (other)",
     NULL, 0, 1000000, 0},
    {"max_tunnels", WEFT_OPT_INT, offsetof(struct server_conf, max_tunnels),
     "10000", "live tunnels in all", NULL, 1, 1000000, 0},
    {"header_timeout", WEFT_OPT_DURATION,
     offsetof(struct server_conf, header_timeout_ms), "10s",
     "control API: time a client has to send a whole request", NULL, 100,
     600000, 0},
    {"keepalive_timeout", WEFT_OPT_DURATION,
     offsetof(struct server_conf, keepalive_timeout_ms), "60s",
     "control API: idle time allowed between requests", NULL, 100, 3600000,
     0},
    {"max_conns", WEFT_OPT_INT, offsetof(struct server_conf, max_conns),
     "4096",
     "control API: connections in all; at the cap, idle ones are closed "
     "(oldest first) to make room",
     NULL, 1, 1000000, 0},
    {"max_conns_per_ip", WEFT_OPT_INT,
     offsetof(struct server_conf, max_conns_per_ip), "256",
     "control API: connections one address may hold open", NULL, 1, 100000,
     0},
    {"public_conns_per_ip", WEFT_OPT_INT,
     offsetof(struct server_conf, public_conns_per_ip), "250",
     "public connections one address may hold open to one tunnel (a "
     "quarter of a websocket tunnel's 1000 streams by default)",
     NULL, 1, 1000000, 0},
    {"response_timeout", WEFT_OPT_DURATION,
     offsetof(struct server_conf, response_timeout_ms), "60s",
     "public HTTP: a visitor gets 504 when the device's service has said "
     "nothing this long after the visitor's last byte",
     NULL, 1000, INT64_C(86400000), 0},
    {"send_timeout", WEFT_OPT_DURATION,
     offsetof(struct server_conf, send_timeout_ms), "60s",
     "public HTTP: a visitor who reads none of the answer waiting for it "
     "this long is disconnected",
     NULL, 1000, INT64_C(86400000), 0},
    {"body_timeout", WEFT_OPT_DURATION,
     offsetof(struct server_conf, body_timeout_ms), "20s",
     "public HTTP: a request body gets this long, plus a second per 500 "
     "bytes it brought; a slower one gets 408",
     NULL, 1000, INT64_C(86400000), 0},
    WEFT_OPTIONS_END,
};

/* Keys every [tunnel "NAME"] takes, whatever its transport. */
static const char *const tunnel_core_keys[] = {
    "transport", "local", "remote", "device_id", "tls_secret", NULL};

struct parser {
  const char *file;
  const char *text;
  size_t len, pos;
  int line;
  bool at_line_start;
  struct conf *conf;
  struct conf_section *current; /* NULL before the first (valid) header */
  bool current_invalid;         /* inside a header we already reported */
  const struct plugin_registry *reg;
  struct strbuf *errors;
  int error_count;
};

static void report(struct parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(struct parser *p, int line, const char *fmt, ...)
{
  char msg[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (line > 0)
    strbuf_addf(p->errors, "%s:%d: %s\n", p->file, line, msg);
  else
    strbuf_addf(p->errors, "%s: %s\n", p->file, msg);
  p->error_count++;
}

static const char *section_title(const struct conf_section *s, char *buf,
                                 size_t len)
{
  switch (s->kind) {
  case SECTION_SERVER:
    snprintf(buf, len, "[server]");
    break;
  case SECTION_TUNNEL:
    snprintf(buf, len, "[tunnel \"%s\"]", s->name);
    break;
  case SECTION_TRANSPORT:
    snprintf(buf, len, "[transport.%s]", s->name);
    break;
  case SECTION_CLASS:
    snprintf(buf, len, "[class \"%s\"]", s->name);
    break;
  case SECTION_DEVICE:
    snprintf(buf, len, "[device \"%s\"]", s->name);
    break;
  }
  return buf;
}

static bool valid_tunnel_name(const char *s, size_t n)
{
  if (n == 0 || n > 63)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
          (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' ||
          s[i] == '.'))
      return false;
  return true;
}

static struct conf_section *add_section(struct parser *p,
                                        enum conf_section_kind kind,
                                        const char *name, size_t name_len)
{
  struct conf *c = p->conf;
  for (size_t i = 0; i < c->section_count; i++) {
    struct conf_section *s = &c->sections[i];
    if (s->kind == kind &&
        (kind == SECTION_SERVER ||
         (strlen(s->name) == name_len && !strncmp(s->name, name, name_len)))) {
      char title[128];
      report(p, p->line, "%s appears twice (first at line %d)",
             section_title(s, title, sizeof title), s->line);
      return NULL;
    }
  }
  struct conf_section *grown =
      realloc(c->sections, (c->section_count + 1) * sizeof *grown);
  if (!grown) {
    report(p, p->line, "out of memory");
    return NULL;
  }
  c->sections = grown;
  struct conf_section *s = &c->sections[c->section_count];
  memset(s, 0, sizeof *s);
  s->kind = kind;
  s->line = p->line;
  if (name && !(s->name = strpool_ndup(&c->strings, name, name_len))) {
    report(p, p->line, "out of memory");
    return NULL;
  }
  c->section_count++;
  return s;
}

/* `[WORD "NAME"]` sections: tunnel, class, device. */
static void open_named_section(struct parser *p, enum conf_section_kind kind,
                               const char *word, const char *q, size_t n)
{
  const char *end = q + n;
  while (q < end && (*q == ' ' || *q == '\t'))
    q++;
  if (q >= end || *q != '"' || end - q < 2 || end[-1] != '"') {
    report(p, p->line, "a %s section needs a quoted name, as in [%s \"%s\"]",
           word, word,
           kind == SECTION_TUNNEL ? "nas-ssh"
           : kind == SECTION_CLASS ? "fleet"
                                   : "agent-7");
    return;
  }
  const char *name = q + 1;
  size_t name_len = (size_t)(end - 1 - name);
  if (!valid_tunnel_name(name, name_len)) {
    report(p, p->line,
           "%s name \"%.*s\" must be 1-63 letters, digits, '.', '_' or '-'",
           word, (int)(name_len > 80 ? 80 : name_len), name);
    return;
  }
  p->current = add_section(p, kind, name, name_len);
  p->current_invalid = p->current == NULL;
}

/* A "[...]" line: which section it opens. Entries of a bad header are
 * skipped so one mistake gives one error. */
static void open_section(struct parser *p, const char *line, size_t len)
{
  p->current = NULL;
  p->current_invalid = true;
  const char *close = memchr(line, ']', len);
  if (!close) {
    report(p, p->line, "section header without a closing ']'");
    return;
  }
  for (const char *t = close + 1; t < line + len; t++) {
    if (*t == ';' || *t == '#')
      break;
    if (*t != ' ' && *t != '\t' && *t != '\r' && *t != '\n') {
      report(p, p->line, "unexpected text after ']' in a section header");
      return;
    }
  }
  const char *in = line + 1;
  size_t n = (size_t)(close - in);
  while (n && (*in == ' ' || *in == '\t'))
    in++, n--;
  while (n && (in[n - 1] == ' ' || in[n - 1] == '\t'))
    n--;

  if (n == 6 && !strncmp(in, "server", 6)) {
    p->current = add_section(p, SECTION_SERVER, NULL, 0);
  } else if (n > 10 && !strncmp(in, "transport.", 10)) {
    p->current = add_section(p, SECTION_TRANSPORT, in + 10, n - 10);
  } else {
    static const struct {
      const char *word;
      enum conf_section_kind kind;
    } named[] = {{"tunnel", SECTION_TUNNEL},
                 {"class", SECTION_CLASS},
                 {"device", SECTION_DEVICE}};
    for (size_t k = 0; k < sizeof named / sizeof named[0]; k++) {
      size_t w = strlen(named[k].word);
      if (n >= w && !strncmp(in, named[k].word, w) &&
          (n == w || in[w] == ' ' || in[w] == '\t' || in[w] == '"')) {
        open_named_section(p, named[k].kind, named[k].word, in + w,
                           n - w);
        return;
      }
    }
    report(p, p->line,
           "unknown section [%.*s]: valid sections are [server], "
           "[tunnel \"NAME\"], [transport.NAME], [class \"NAME\"] and "
           "[device \"ID\"]",
           (int)(n > 80 ? 80 : n), in);
    return;
  }
  p->current_invalid = p->current == NULL;
}

/* inih's reader: hands inih the text line by line (in pieces when a line is
 * longer than inih's buffer), counting lines and noting section headers
 * itself, because Debian's inih tells its handler neither the line number
 * nor about sections that hold no keys. */
static char *reader(char *buf, int size, void *stream)
{
  struct parser *p = stream;
  if (p->pos >= p->len || size < 2)
    return NULL;
  const char *start = p->text + p->pos;
  size_t avail = p->len - p->pos;
  const char *nl = memchr(start, '\n', avail);
  size_t rest = nl ? (size_t)(nl - start) + 1 : avail;

  if (p->at_line_start) {
    p->line++;
    if (rest > CONF_MAX_LINE - 3 || memchr(start, '\0', rest)) {
      if (rest > CONF_MAX_LINE - 3)
        report(p, p->line, "line is longer than %d characters",
               CONF_MAX_LINE - 3);
      else
        report(p, p->line, "line contains a NUL byte");
      p->pos += rest;
      buf[0] = '\n', buf[1] = '\0';
      return buf;
    }
    const char *s = start;
    size_t n = rest;
    if (p->line == 1 && n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))
      s += 3, n -= 3;
    while (n && (*s == ' ' || *s == '\t'))
      s++, n--;
    if (n && *s == '[')
      open_section(p, s, n);
  }
  size_t chunk = rest < (size_t)size - 1 ? rest : (size_t)size - 1;
  memcpy(buf, start, chunk);
  buf[chunk] = '\0';
  p->pos += chunk;
  p->at_line_start = chunk == rest;
  return buf;
}

static int handler(void *user, const char *section, const char *key,
                   const char *value)
{
  (void)section; /* we track sections ourselves, see reader() */
  struct parser *p = user;
  if (p->current_invalid)
    return 1;
  if (!p->current) {
    report(p, p->line,
           "'%s' is outside any section: put it under [server], "
           "[tunnel \"NAME\"] or [transport.NAME]",
           key);
    return 1;
  }
  struct conf_section *s = p->current;
  for (size_t i = 0; i < s->count; i++) {
    if (!strcmp(s->entries[i].key, key)) {
      char title[128];
      report(p, p->line, "'%s' is set twice in %s (first at line %d)", key,
             section_title(s, title, sizeof title), s->entries[i].line);
      return 1;
    }
  }
  if (s->count == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 8;
    struct conf_entry *e = realloc(s->entries, cap * sizeof *e);
    if (!e) {
      report(p, p->line, "out of memory");
      return 1;
    }
    s->entries = e;
    s->cap = cap;
  }
  struct conf_entry *e = &s->entries[s->count];
  e->key = strpool_dup(&p->conf->strings, key);
  e->value = strpool_dup(&p->conf->strings, value);
  e->line = p->line;
  if (!e->key || !e->value) {
    report(p, p->line, "out of memory");
    return 1;
  }
  s->count++;
  return 1;
}

static const struct conf_entry *entry_of(const struct conf_section *s,
                                         const char *key)
{
  for (size_t i = 0; i < s->count; i++)
    if (!strcmp(s->entries[i].key, key))
      return &s->entries[i];
  return NULL;
}

static void check_required(struct parser *p, const struct conf_section *s,
                           const struct weft_option *table)
{
  for (size_t i = 0; table && table[i].name; i++) {
    if ((table[i].flags & WEFT_OPT_REQUIRED) && !entry_of(s, table[i].name)) {
      char title[128];
      report(p, s->line, "%s needs the key '%s' (%s)",
             section_title(s, title, sizeof title), table[i].name,
             table[i].description ? table[i].description : "required");
    }
  }
}

/* Applies a section's entries through an option table into dst. */
static void apply_options(struct parser *p, const struct conf_section *s,
                          const struct weft_option *table, void *dst,
                          const char *const *extra_keys, const char *owner)
{
  char title[128], names[2048], why[URL_MAX_TEXT + 256];
  section_title(s, title, sizeof title);
  for (size_t i = 0; i < s->count; i++) {
    const struct conf_entry *e = &s->entries[i];
    bool core_key = false;
    for (size_t k = 0; extra_keys && extra_keys[k]; k++)
      core_key |= !strcmp(extra_keys[k], e->key);
    if (core_key)
      continue;
    const struct weft_option *opt = options_find(table, e->key);
    if (!opt) {
      options_names(table, names, sizeof names);
      if (extra_keys)
        report(p, e->line,
               "unknown key '%s' in %s: valid keys are transport, local, "
               "remote, device_id, and for transport %s: %s",
               e->key, title, owner, names);
      else if (owner)
        report(p, e->line,
               "unknown key '%s' in %s: plugin %s declares: %s", e->key,
               title, owner, names);
      else
        report(p, e->line, "unknown key '%s' in %s: valid keys are %s",
               e->key, title, names);
      continue;
    }
    if (options_set(opt, dst, e->value, &p->conf->strings, why, sizeof why) !=
        0)
      report(p, e->line, "%s %s: %s", title, e->key, why);
  }
  check_required(p, s, table);
}

/* Keys of [server] whose text needs more than the option table checks. */
static void check_server_lists(struct parser *p, const struct conf_section *s)
{
  char why[512];
  const struct conf_entry *e;
  static const char *const public_ports[] = {"http_listen", "tls_listen"};
  for (size_t i = 0; i < 2; i++) {
    if (!(e = entry_of(s, public_ports[i])) || !strcmp(e->value, "off"))
      continue;
    enum url_host_kind kind;
    char host[URL_MAX_HOST + 1];
    uint16_t port;
    if (hostport_parse(e->value, &kind, host, sizeof host, &port, why,
                       sizeof why) != 0 ||
        kind == URL_HOST_NAME)
      report(p, e->line, "[server] %s: %s", public_ports[i],
             kind == URL_HOST_NAME ? "give an IP address, not a name" : why);
  }
  if ((e = entry_of(s, "tls_default_host"))) {
    enum url_host_kind kind;
    char host[URL_MAX_HOST + 1];
    if (host_parse(e->value, strlen(e->value), &kind, host, sizeof host, why,
                   sizeof why) != 0 ||
        kind != URL_HOST_NAME)
      report(p, e->line, "[server] tls_default_host: %s",
             kind != URL_HOST_NAME ? "give a host name" : why);
  }
  if ((e = entry_of(s, "pool"))) {
    struct prefix_list l;
    if (prefix_list_parse(e->value, &l, why, sizeof why) != 0 ||
        l.count != 1 || !addr_is_v4(l.p[0].addr) || l.p[0].bits < 96 + 8 ||
        l.p[0].bits > 96 + 30)
      report(p, e->line,
             "[server] pool: '%s' must be one IPv4 prefix from /8 to /30, "
             "as in 10.1.0.0/16",
             e->value);
  }
  if ((e = entry_of(s, "port_range"))) {
    struct port_list l;
    if (port_list_parse(e->value, &l, why, sizeof why) != 0)
      report(p, e->line, "[server] port_range: %s", why);
  }
  if ((e = entry_of(s, "metrics_allow"))) {
    struct prefix_list l;
    if (prefix_list_parse(e->value, &l, why, sizeof why) != 0)
      report(p, e->line, "[server] metrics_allow: %s", why);
  }
  const struct conf_entry *cert = entry_of(s, "tls_cert");
  const struct conf_entry *key = entry_of(s, "tls_key");
  if (!cert != !key)
    report(p, (cert ? cert : key)->line,
           "[server] tls_cert and tls_key go together: give both or neither");
}

static void check_server(struct parser *p, const struct conf_section *s)
{
  apply_options(p, s, conf_server_options, &p->conf->server, NULL, NULL);
  check_server_lists(p, s);
  const struct conf_entry *listen = entry_of(s, "listen");
  if (!listen)
    return;
  char *copy = strdup(listen->value), *save = NULL, why[256];
  for (char *item = copy ? strtok_r(copy, ",", &save) : NULL; item;
       item = strtok_r(NULL, ",", &save)) {
    while (*item == ' ' || *item == '\t')
      item++;
    char *end = item + strlen(item);
    while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
      *--end = '\0';
    enum url_host_kind kind;
    char host[URL_MAX_HOST + 1];
    uint16_t port;
    if (hostport_parse(item, &kind, host, sizeof host, &port, why,
                       sizeof why) != 0)
      report(p, listen->line, "[server] listen: %s", why);
  }
  free(copy);
}

static void check_acl_section(struct parser *p, const struct conf_section *s)
{
  char title[128], why[512];
  section_title(s, title, sizeof title);
  struct acl_layer *scratch = calloc(1, sizeof *scratch);
  if (!scratch) {
    report(p, s->line, "out of memory");
    return;
  }
  for (size_t i = 0; i < s->count; i++) {
    const struct conf_entry *e = &s->entries[i];
    if (s->kind == SECTION_DEVICE && !strcmp(e->key, "class")) {
      bool known = !strcmp(e->value, "default");
      for (size_t k = 0; k < p->conf->section_count; k++) {
        const struct conf_section *c = &p->conf->sections[k];
        known |= c->kind == SECTION_CLASS && !strcmp(c->name, e->value);
      }
      if (!known)
        report(p, e->line,
               "%s class: no [class \"%s\"] section defines that class",
               title, e->value);
      continue;
    }
    bool known_key = false;
    for (size_t k = 0; acl_keys[k]; k++)
      known_key |= !strcmp(acl_keys[k], e->key);
    if (!known_key) {
      report(p, e->line,
             "unknown key '%s' in %s: valid keys are %spublish_ports, "
             "publish_hosts, reach_ports, allow_ips, allow_special_targets, "
             "max_tunnels",
             e->key, title, s->kind == SECTION_DEVICE ? "class, " : "");
      continue;
    }
    if (acl_layer_set(scratch, e->key, e->value, why, sizeof why) != 0)
      report(p, e->line, "%s %s: %s", title, e->key, why);
  }
  free(scratch);
}

static const struct plugin *transport_plugin(struct parser *p,
                                             const char *name, int line,
                                             const char *where)
{
  const struct plugin *plugin = plugin_registry_find(p->reg, name);
  if (!plugin) {
    char names[512];
    plugin_registry_names(p->reg, names, sizeof names);
    report(p, line, "%s: no loaded plugin provides transport '%s' (loaded: %s)",
           where, name, names);
  }
  return plugin;
}

static void check_transport(struct parser *p, const struct conf_section *s)
{
  char title[128];
  section_title(s, title, sizeof title);
  const struct plugin *plugin = transport_plugin(p, s->name, s->line, title);
  if (!plugin)
    return;
  void *scratch = calloc(1, plugin->desc.config_size ? plugin->desc.config_size
                                                     : 1);
  if (!scratch) {
    report(p, s->line, "out of memory");
    return;
  }
  apply_options(p, s, plugin->desc.options, scratch, NULL, s->name);
  free(scratch);
}

static void check_tunnel(struct parser *p, const struct conf_section *s,
                         struct conf_tunnel *t)
{
  char title[128], why[URL_MAX_TEXT + 256];
  section_title(s, title, sizeof title);
  memset(t, 0, sizeof *t);
  t->name = s->name;
  t->line = s->line;

  const struct conf_entry *transport = entry_of(s, "transport");
  const struct conf_entry *local = entry_of(s, "local");
  const struct conf_entry *remote = entry_of(s, "remote");
  const struct conf_entry *device = entry_of(s, "device_id");
  const struct conf_entry *tls_secret = entry_of(s, "tls_secret");
  const struct plugin *plugin = NULL;
  if (!transport) {
    char names[512];
    plugin_registry_names(p->reg, names, sizeof names);
    report(p, s->line, "%s has no 'transport' key (loaded transports: %s)",
           title, names);
  } else {
    t->transport = transport->value;
    plugin = transport_plugin(p, transport->value, transport->line, title);
    if (plugin && !(plugin->desc.caps & WEFT_CAP_CLIENT)) {
      report(p, transport->line,
             "%s: transport '%s' has no client side, so a tunnel cannot use "
             "it",
             title, transport->value);
      plugin = NULL;
    }
  }
  bool urls_ok = true;
  if (!local) {
    report(p, s->line,
           "%s has no 'local' key (the service on this machine, as in "
           "local = tcp://127.0.0.1:22)",
           title);
    urls_ok = false;
  } else if (url_parse(local->value, &t->local, why, sizeof why) != 0) {
    report(p, local->line, "%s local: %s", title, why);
    urls_ok = false;
  } else {
    t->local_text = local->value;
  }
  if (remote) {
    if (url_parse(remote->value, &t->remote, why, sizeof why) != 0) {
      report(p, remote->line, "%s remote: %s", title, why);
      urls_ok = false;
    } else {
      t->remote_text = remote->value;
      t->has_remote = true;
    }
  }
  if (device) {
    for (const char *c = device->value; *c; c++)
      if (!valid_tunnel_name(c, 1)) {
        report(p, device->line,
               "%s device_id: use letters, digits, '.', '_' or '-'", title);
        break;
      }
    t->device_id = device->value;
  }
  if (urls_ok && local &&
      tunnel_spec_check(&t->local, t->has_remote ? &t->remote : NULL, plugin,
                        why, sizeof why) != 0)
    report(p, remote ? remote->line : local->line, "%s: %s", title, why);
  if (tls_secret) {
    t->tls_secret = tls_secret->value;
    if (urls_ok && tls_secret_check(local ? &t->local : NULL,
                                    t->has_remote ? &t->remote : NULL, why,
                                    sizeof why) != 0)
      report(p, tls_secret->line, "%s tls_secret: %s", title, why);
  }

  if (!plugin) {
    return;
  }
  if (plugin->desc.tunnel_config_size || plugin->desc.tunnel_options) {
    t->plugin_config =
        calloc(1, plugin->desc.tunnel_config_size ? plugin->desc.tunnel_config_size
                                                  : 1);
    if (!t->plugin_config) {
      report(p, s->line, "out of memory");
      return;
    }
    if (options_set_defaults(plugin->desc.tunnel_options, t->plugin_config,
                             &p->conf->strings, why, sizeof why) != 0)
      report(p, s->line, "%s: %s", title, why);
  }
  apply_options(p, s, plugin->desc.tunnel_options, t->plugin_config,
                tunnel_core_keys, plugin->desc.name);
}

static void validate(struct parser *p)
{
  struct conf *c = p->conf;
  size_t tunnels = 0;
  for (size_t i = 0; i < c->section_count; i++)
    tunnels += c->sections[i].kind == SECTION_TUNNEL;
  c->tunnels = tunnels ? calloc(tunnels, sizeof *c->tunnels) : NULL;
  if (tunnels && !c->tunnels) {
    report(p, 0, "out of memory");
    return;
  }
  for (size_t i = 0; i < c->section_count; i++) {
    const struct conf_section *s = &c->sections[i];
    switch (s->kind) {
    case SECTION_SERVER:
      check_server(p, s);
      break;
    case SECTION_TRANSPORT:
      check_transport(p, s);
      break;
    case SECTION_TUNNEL:
      check_tunnel(p, s, &c->tunnels[c->tunnel_count++]);
      break;
    case SECTION_CLASS:
    case SECTION_DEVICE:
      check_acl_section(p, s);
      break;
    }
  }
}

static struct conf *conf_new(const char *path)
{
  struct conf *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  if (path && !(c->path = strdup(path))) {
    free(c);
    return NULL;
  }
  char why[256];
  if (options_set_defaults(conf_server_options, &c->server, &c->strings, why,
                           sizeof why) != 0) {
    conf_free(c);
    return NULL;
  }
  return c;
}

struct conf *conf_defaults(void) { return conf_new(NULL); }

struct conf *conf_load_buffer(const char *name, const char *text, size_t len,
                              const struct plugin_registry *reg,
                              struct strbuf *errors)
{
  struct parser p = {.file = name, .text = text, .len = len, .reg = reg,
                     .errors = errors, .at_line_start = true};
  p.conf = conf_new(name);
  if (!p.conf) {
    strbuf_addf(errors, "%s: out of memory\n", name);
    return NULL;
  }
  /* Debian's inih exposes its options as globals; these are ours. */
  ini_allow_multiline = false;
  ini_use_stack = false;
  ini_allow_realloc = true;
  ini_max_line = CONF_MAX_LINE;
  ini_stop_on_first_error = false;
  int rc = ini_parse_stream(reader, &p, handler, &p);
  if (rc > 0 && p.error_count == 0)
    report(&p, rc,
           "syntax error: expected [section], key = value, or a comment");
  else if (rc < 0)
    report(&p, 0, "could not be parsed (inih error %d)", rc);
  if (p.error_count == 0)
    validate(&p);
  if (p.error_count) {
    conf_free(p.conf);
    return NULL;
  }
  return p.conf;
}

struct conf *conf_load_file(const char *path, const struct plugin_registry *reg,
                            struct strbuf *errors)
{
  FILE *f = fopen(path, "rb");
  if (!f) {
    strbuf_addf(errors, "%s: cannot open: %s\n", path, strerror(errno));
    return NULL;
  }
  char *text = malloc(CONF_MAX_FILE + 1);
  size_t len = text ? fread(text, 1, CONF_MAX_FILE + 1, f) : 0;
  int read_error = ferror(f);
  fclose(f);
  if (!text || read_error) {
    strbuf_addf(errors, "%s: cannot read\n", path);
    free(text);
    return NULL;
  }
  if (len > CONF_MAX_FILE) {
    strbuf_addf(errors, "%s: larger than %d bytes; is it the right file?\n",
                path, CONF_MAX_FILE);
    free(text);
    return NULL;
  }
  struct conf *c = conf_load_buffer(path, text, len, reg, errors);
  free(text);
  return c;
}

void conf_free(struct conf *c)
{
  if (!c)
    return;
  for (size_t i = 0; i < c->section_count; i++)
    free(c->sections[i].entries);
  free(c->sections);
  for (size_t i = 0; i < c->tunnel_count; i++)
    free(c->tunnels[i].plugin_config);
  free(c->tunnels);
  strpool_free(&c->strings);
  free(c->path);
  free(c);
}

static const struct conf_section *find_section(const struct conf *c,
                                               enum conf_section_kind kind,
                                               const char *name)
{
  for (size_t i = 0; c && i < c->section_count; i++) {
    const struct conf_section *s = &c->sections[i];
    if (s->kind == kind && (kind == SECTION_SERVER || !strcmp(s->name, name)))
      return s;
  }
  return NULL;
}

int conf_plugin_options(const void *arg, const struct plugin *plugin,
                        void *dst, struct strpool *pool, char *err,
                        size_t errlen)
{
  const struct conf *conf = arg;
  if (!conf)
    return 0;
  const struct conf_section *s =
      find_section(conf, SECTION_TRANSPORT, plugin->desc.name);
  for (size_t i = 0; s && i < s->count; i++) {
    const struct weft_option *opt =
        options_find(plugin->desc.options, s->entries[i].key);
    char why[512];
    if (!opt || options_set(opt, dst, s->entries[i].value, pool, why,
                            sizeof why) != 0) {
      snprintf(err, errlen, "[transport.%s] %s: %s", plugin->desc.name,
               s->entries[i].key, opt ? why : "unknown key");
      return -1;
    }
  }
  return 0;
}

int conf_acl_policy(const struct conf *conf, struct acl_policy *p)
{
  memset(p, 0, sizeof *p);
  if (!conf)
    return 0;
  size_t classes = 0, devices = 0;
  for (size_t i = 0; i < conf->section_count; i++) {
    classes += conf->sections[i].kind == SECTION_CLASS;
    devices += conf->sections[i].kind == SECTION_DEVICE;
  }
  p->classes = calloc(classes ? classes : 1, sizeof *p->classes);
  p->devices = calloc(devices ? devices : 1, sizeof *p->devices);
  if (!p->classes || !p->devices) {
    acl_policy_free(p);
    return -1;
  }
  for (size_t i = 0; i < conf->section_count; i++) {
    const struct conf_section *s = &conf->sections[i];
    if (s->kind != SECTION_CLASS && s->kind != SECTION_DEVICE)
      continue;
    struct acl_layer *l = s->kind == SECTION_CLASS
                              ? &p->classes[p->class_count++]
                              : &p->devices[p->device_count++];
    snprintf(l->name, sizeof l->name, "%s", s->name);
    for (size_t k = 0; k < s->count; k++) {
      char err[256];
      if (!strcmp(s->entries[k].key, "class"))
        snprintf(l->class_name, sizeof l->class_name, "%s",
                 s->entries[k].value);
      else
        acl_layer_set(l, s->entries[k].key, s->entries[k].value, err,
                      sizeof err); /* validated when the conf was loaded */
    }
  }
  return 0;
}

/* Lists keys added, removed or changed between two versions of a section. */
static void diff_entries(const struct conf_section *a,
                         const struct conf_section *b, struct strbuf *keys)
{
  for (size_t i = 0; i < a->count; i++) {
    const struct conf_entry *other = entry_of(b, a->entries[i].key);
    if (!other || strcmp(other->value, a->entries[i].value))
      strbuf_addf(keys, "%s%s", keys->len ? ", " : "", a->entries[i].key);
  }
  for (size_t i = 0; i < b->count; i++)
    if (!entry_of(a, b->entries[i].key))
      strbuf_addf(keys, "%s%s", keys->len ? ", " : "", b->entries[i].key);
}

static const char *change_note(enum conf_section_kind kind)
{
  switch (kind) {
  case SECTION_SERVER:
  case SECTION_TRANSPORT:
    return " (takes effect when weft restarts)";
  case SECTION_TUNNEL:
    return "";
  case SECTION_CLASS:
  case SECTION_DEVICE:
    return " (applies to tunnels created from now on)";
  }
  return "";
}

void conf_describe_changes(const struct conf *old, const struct conf *new_conf,
                           struct strbuf *out)
{
  static const struct conf_section empty_server = {.kind = SECTION_SERVER};
  size_t before = out->len;
  char title[128];
  for (size_t i = 0; new_conf && i < new_conf->section_count; i++) {
    const struct conf_section *s = &new_conf->sections[i];
    const struct conf_section *was = find_section(old, s->kind, s->name);
    section_title(s, title, sizeof title);
    if (!was && s->kind != SECTION_SERVER) {
      strbuf_addf(out, "%s added%s\n", title, change_note(s->kind));
      continue;
    }
    struct strbuf keys = {0};
    diff_entries(was ? was : &empty_server, s, &keys);
    if (keys.len)
      strbuf_addf(out, "%s changed: %s%s\n", title, strbuf_str(&keys),
                  change_note(s->kind));
    strbuf_free(&keys);
  }
  for (size_t i = 0; old && i < old->section_count; i++) {
    const struct conf_section *s = &old->sections[i];
    if (find_section(new_conf, s->kind, s->name))
      continue;
    section_title(s, title, sizeof title);
    if (s->kind == SECTION_SERVER) {
      struct strbuf keys = {0};
      diff_entries(s, &empty_server, &keys);
      if (keys.len)
        strbuf_addf(out, "%s changed: %s%s\n", title, strbuf_str(&keys),
                    change_note(s->kind));
      strbuf_free(&keys);
    } else {
      strbuf_addf(out, "%s removed%s\n", title, change_note(s->kind));
    }
  }
  if (out->len == before)
    strbuf_addf(out, "no changes\n");
}

static unsigned cap_for(enum url_scheme scheme)
{
  switch (scheme) {
  case URL_TCP:
    return WEFT_CAP_TCP;
  case URL_UDP:
    return WEFT_CAP_UDP;
  case URL_HTTP:
    return WEFT_CAP_HTTP;
  case URL_HTTPS:
    /* TLS on the public side: a transport that routes by SNI (vhost). */
    return WEFT_CAP_SNI;
  }
  return 0;
}

int tunnel_spec_check(const struct url *local, const struct url *remote,
                      const struct plugin *plugin, char *err, size_t errlen)
{
  const char *ls = url_scheme_name(local->scheme);
  if (local->host_kind == URL_HOST_ANY) {
    snprintf(err, errlen,
             "the local URL needs a host, as in %s://127.0.0.1:%u", ls,
             local->port ? local->port : 8080);
    return -1;
  }
  if (remote) {
    bool ok;
    switch (local->scheme) {
    case URL_TCP:
    case URL_UDP:
      ok = remote->scheme == local->scheme;
      break;
    case URL_HTTP:
      ok = remote->scheme == URL_HTTP || remote->scheme == URL_HTTPS;
      break;
    case URL_HTTPS:
      ok = remote->scheme == URL_HTTPS;
      break;
    default:
      ok = false;
    }
    if (!ok) {
      snprintf(err, errlen, "a %s local service cannot be published as %s",
               ls, url_scheme_name(remote->scheme));
      return -1;
    }
    if ((remote->scheme == URL_HTTP || remote->scheme == URL_HTTPS) &&
        remote->path[0] && strcmp(remote->path, "/")) {
      /* Never silently dropped: the public URL would not be the one
       * asked for. */
      snprintf(err, errlen,
               "a remote path (%s) cannot be published: the server routes "
               "http tunnels by host name (%s://NAME) or gives each its own "
               "/{tunnel_id}/ path; drop the path",
               remote->path, url_scheme_name(remote->scheme));
      return -1;
    }
    if ((remote->scheme == URL_TCP || remote->scheme == URL_UDP) &&
        remote->host_kind == URL_HOST_NAME) {
      snprintf(err, errlen,
               "a %s remote binds an address on the server: give an IP or "
               "leave it empty, as in %s://:%u",
               url_scheme_name(remote->scheme), url_scheme_name(remote->scheme),
               remote->port);
      return -1;
    }
  }
  if (plugin) {
    unsigned need = cap_for(remote ? remote->scheme : local->scheme);
    if (!(plugin->desc.caps & need)) {
      char caps[128];
      plugin_caps_text(plugin->desc.caps, caps, sizeof caps);
      snprintf(err, errlen, "transport '%s' cannot carry %s (it declares: %s)",
               plugin->desc.name,
               url_scheme_name(remote ? remote->scheme : local->scheme), caps);
      return -1;
    }
  }
  return 0;
}

int tls_secret_check(const struct url *local, const struct url *remote,
                     char *err, size_t errlen)
{
  if (!remote || remote->scheme != URL_HTTPS) {
    snprintf(err, errlen, "a TLS secret goes with an https:// remote (the "
                          "host name its certificate is for)");
    return -1;
  }
  if (local && local->scheme == URL_HTTPS) {
    snprintf(err, errlen, "the local service speaks TLS itself, so it keeps "
                          "its own certificate: drop the TLS secret, or "
                          "publish a local http:// service");
    return -1;
  }
  return 0;
}
