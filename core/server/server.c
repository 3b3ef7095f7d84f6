#include "server/server.h"
#include "server/state_lock.h"
#include "server/terminal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "auth/acl.h"
#include "auth/acl_overrides.h"
#include "base/clock.h"
#include "config/config.h"
#include "server/control_api.h"
#include "telemetry/otlp.h"
#include "auth/crypto.h"
#include "base/exit_codes.h"
#include "base/fdlimit.h"
#include "ingress/http_ingress.h"
#include "ingress/tls_setup.h"
#include "http/http_server.h"
#include "base/log.h"
#include "base/proc_metrics.h"
#include "plugin/plugin_registry.h"
#include "auth/secret.h"
#include "net/stream.h"
#include "tunnel/store.h"
#include "net/tls_ctx.h"
#include "auth/tokens.h"
#include "tunnel/tunnels.h"
#include "base/url.h"
#include "version.h"

#define MAX_LISTEN 16

struct listen_addr {
  enum url_host_kind kind;
  char host[URL_MAX_HOST + 1];
  uint16_t port;
  struct secret secret; /* with use_secret_per_ip: this address's own */
};

struct server {
  uv_loop_t loop;
  const struct server_options *opts;
  struct plugin_registry plugins;
  struct conf *conf;
  struct lease_config lease_cfg; /* [server] pool, ports, timeouts */
  struct listen_addr listen[MAX_LISTEN];
  size_t listen_count;
  bool per_ip_secrets;
  struct secret secret;
  struct secret server_key; /* from which the token keys derive */
  struct tokens tokens;
  struct store *store;
  struct acl_policy acl;
  struct acl_overrides acl_overrides; /* the API's layer of every policy */
  struct login_server *login;
  struct tunnel_service tunnels;
  bool tunnels_open;
  struct http_server http;
  SSL_CTX *tls_ctx;         /* the control port's TLS */
  struct tls_setup tls_setup; /* the public TLS port and its certificates */
  char tls_fingerprint[TLS_FINGERPRINT_HEX + 1];
  struct control_api api;
  struct terminals terminals; /* the console's (server/terminal.h) */
  struct proc_metrics proc; /* fds, memory, the loop's lag */
  uv_signal_t sigint, sigterm, sighup;
  bool stopping;
  int state_lock; /* weft.lock's descriptor, -1 until taken */
  char admin_socket[108]; /* the local administration socket, or "" */
};

static int parse_listen(struct server *s, char *err, size_t errlen)
{
  /* [server] listen gives HOST:PORT pairs; --bind-ips replaces the hosts
   * and --port the ports. */
  char text[1024];
  const char *list = s->conf->server.listen;
  uint16_t conf_port = WEFT_DEFAULT_PORT;
  s->listen_count = 0;
  snprintf(text, sizeof text, "%s", list);
  char *save = NULL;
  for (char *item = strtok_r(text, ",", &save); item;
       item = strtok_r(NULL, ",", &save)) {
    while (*item == ' ' || *item == '\t')
      item++;
    char *end = item + strlen(item);
    while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
      *--end = '\0';
    if (s->listen_count == MAX_LISTEN) {
      snprintf(err, errlen, "more than %d listen addresses", MAX_LISTEN);
      return -1;
    }
    struct listen_addr *a = &s->listen[s->listen_count];
    if (hostport_parse(item, &a->kind, a->host, sizeof a->host, &a->port, err,
                       errlen) != 0)
      return -1;
    conf_port = a->port;
    s->listen_count++;
  }
  if (s->opts->bind_ips) {
    snprintf(text, sizeof text, "%s", s->opts->bind_ips);
    s->listen_count = 0;
    for (char *item = strtok_r(text, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
      if (s->listen_count == MAX_LISTEN) {
        snprintf(err, errlen, "more than %d --bind-ips", MAX_LISTEN);
        return -1;
      }
      struct listen_addr *a = &s->listen[s->listen_count];
      char why[256];
      if (host_parse(item, strlen(item), &a->kind, a->host, sizeof a->host,
                     why, sizeof why) != 0 ||
          a->kind == URL_HOST_NAME || a->kind == URL_HOST_ANY) {
        snprintf(err, errlen, "--bind-ips: '%s' is not an IP address", item);
        return -1;
      }
      a->port = conf_port;
      s->listen_count++;
    }
  }
  if (s->opts->port)
    for (size_t i = 0; i < s->listen_count; i++)
      s->listen[i].port = s->opts->port;
  for (size_t i = 0; i < s->listen_count; i++) {
    if (s->listen[i].kind == URL_HOST_NAME) {
      snprintf(err, errlen,
               "listen address '%s' must be an IP address, not a name",
               s->listen[i].host);
      return -1;
    }
    if (s->listen[i].kind == URL_HOST_ANY) /* ":9092" */
      snprintf(s->listen[i].host, sizeof s->listen[i].host, "0.0.0.0");
  }
  if (s->listen_count == 0) {
    snprintf(err, errlen, "no listen address");
    return -1;
  }
  return 0;
}

static bool is_wildcard(const char *host)
{
  return !strcmp(host, "0.0.0.0") || !strcmp(host, "::");
}

/* The host a device should dial: public_host, a specific listen address, or
 * this machine's first non-loopback IPv4 address. */
static void public_host(const struct server *s, const struct listen_addr *a,
                        char *out, size_t len)
{
  if (s->conf->server.public_host) {
    snprintf(out, len, "%s", s->conf->server.public_host);
    return;
  }
  if (!is_wildcard(a->host)) {
    if (strchr(a->host, ':'))
      snprintf(out, len, "[%s]", a->host);
    else
      snprintf(out, len, "%s", a->host);
    return;
  }
  uv_interface_address_t *ifs;
  int count;
  snprintf(out, len, "127.0.0.1");
  if (uv_interface_addresses(&ifs, &count) != 0)
    return;
  for (int i = 0; i < count; i++) {
    if (!ifs[i].is_internal && ifs[i].address.address4.sin_family == AF_INET) {
      uv_ip4_name(&ifs[i].address.address4, out, len);
      break;
    }
  }
  uv_free_interface_addresses(ifs, count);
}

static int load_secrets(struct server *s, const char *state_dir, char *err,
                        size_t errlen)
{
  if (state_dir_prepare(state_dir, err, errlen) != 0)
    return -1;
  /* Before anything in the directory is read or written. */
  s->state_lock = state_lock_take(state_dir, err, errlen);
  if (s->state_lock < 0)
    return -1;
  if (!s->per_ip_secrets)
    return secret_load_or_create(state_dir, "secret", &s->secret, err,
                                 errlen);
  for (size_t i = 0; i < s->listen_count; i++) {
    struct listen_addr *a = &s->listen[i];
    if (is_wildcard(a->host)) {
      snprintf(err, errlen,
               "--use-secret-per-ip needs specific addresses (--bind-ips "
               "A,B), not %s",
               a->host);
      return -1;
    }
    char name[URL_MAX_HOST + 16];
    snprintf(name, sizeof name, "secret-%s", a->host);
    for (char *c = name; *c; c++)
      if (*c == ':')
        *c = '_';
    if (secret_load_or_create(state_dir, name, &a->secret, err, errlen) != 0)
      return -1;
  }
  return 0;
}

static const struct secret *secret_for(void *ctx, const char *local_ip,
                                       int *secret_id)
{
  struct server *s = ctx;
  if (!s->per_ip_secrets) {
    *secret_id = 0;
    return &s->secret;
  }
  for (size_t i = 0; i < s->listen_count; i++) {
    if (!strcmp(s->listen[i].host, local_ip)) {
      *secret_id = (int)i;
      return &s->listen[i].secret;
    }
  }
  return NULL;
}

/* The leases' settings, read once: plugins that give devices addresses
 * learn the pool from them before they start, the leases after. */
static int read_lease_config(struct server *s, char *err, size_t errlen)
{
  const struct server_conf *sc = &s->conf->server;
  if (lease_config_from_text(&s->lease_cfg, sc->pool, sc->port_range,
                             sc->idle_timeout_ms, sc->lease_ttl_ms,
                             sc->ip_quarantine_ms, sc->max_tunnels, err,
                             errlen) != 0)
    return -1;
  s->lease_cfg.max_lifetime_s = sc->max_lifetime_ms / 1000;
  char net[32], top[32], pool[48];
  leases_addr_text(s->lease_cfg.pool_net, net, sizeof net);
  leases_addr_text(leases_server_address(&s->lease_cfg), top, sizeof top);
  snprintf(pool, sizeof pool, "%s/%u", net, s->lease_cfg.pool_bits);
  plugin_registry_set_pool(&s->plugins, pool, top);
  return 0;
}

/* The store, tokens, leases and ACLs behind the control API. */
static int load_acl_override(void *arg, const char *device_id,
                             const char *const text[ACL_OV_COUNT])
{
  for (int i = 0; i < ACL_OV_COUNT; i++)
    if (text[i] && acl_overrides_set(arg, device_id, i, text[i]) != 0)
      return -1;
  return 0;
}

/* Devices' ACLs as operators set them through the API, from the store. */
static int load_acl_overrides(struct server *s)
{
  acl_overrides_init(&s->acl_overrides);
  if (s->store->ops->device_acl_each(s->store, load_acl_override,
                                     &s->acl_overrides) != 0)
    return -1;
  if (s->acl_overrides.count)
    log_info("%zu device(s) with ACLs set through the API",
             s->acl_overrides.count);
  return 0;
}

static int start_services(struct server *s, const char *state_dir, char *err,
                          size_t errlen)
{
  proc_metrics_start(&s->proc, &s->loop);
  s->api.proc = &s->proc;
  if (secret_load_or_create(state_dir, "server-key", &s->server_key, err,
                            errlen) != 0)
    return -1;
  if (tokens_init(&s->tokens, s->server_key.key) != 0) {
    snprintf(err, errlen, "cannot derive the token keys");
    return -1;
  }
  plugin_registry_set_tokens(&s->plugins, &s->tokens);
  char path[1024];
  snprintf(path, sizeof path, "%s/weft.db", state_dir);
  if (store_open_sqlite(path, &s->store, err, errlen) != 0)
    return -1;
  /* Every audit record goes to the event stream's subscribers too. */
  control_api_events_start(&s->api, &s->loop, s->store);
  const struct server_conf *sc = &s->conf->server;
  if (conf_acl_policy(s->conf, &s->acl) != 0 ||
      load_acl_overrides(s) != 0) {
    snprintf(err, errlen, "out of memory, or the store failed");
    return -1;
  }
  s->acl.overrides = &s->acl_overrides;
  s->login = calloc(1, sizeof *s->login);
  if (!s->login) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  login_server_init(s->login);
  char host[URL_MAX_HOST + 3], base[URL_MAX_HOST + 32];
  public_host(s, &s->listen[0], host, sizeof host);
  enum url_host_kind kind;
  char http_host[URL_MAX_HOST + 1] = "";
  uint16_t http_port = 0;
  const char *http_listen =
      s->opts->http_listen ? s->opts->http_listen : sc->http_listen;
  bool http_on = strcmp(http_listen, "off") != 0;
  if (http_on && hostport_parse(http_listen, &kind, http_host,
                                sizeof http_host, &http_port, err,
                                errlen) != 0)
    return -1;
  if (http_port == 80)
    snprintf(base, sizeof base, "http://%s", host);
  else
    snprintf(base, sizeof base, "http://%s:%u", host, http_port);
  if (tunnel_service_open(&s->tunnels, &s->loop, s->store, &s->lease_cfg,
                          &s->tokens, &s->acl, &s->plugins, host, base,
                          (size_t)sc->metrics_max_series) != 0) {
    snprintf(err, errlen, "cannot load the leases from %.900s", path);
    return -1;
  }
  s->tunnels_open = true;
  plugin_registry_set_datagram_sender(&s->plugins,
                                      tunnel_service_send_datagram,
                                      &s->tunnels);
  plugin_registry_set_toucher(&s->plugins, tunnel_service_touch, &s->tunnels);
  plugin_registry_set_auditor(&s->plugins, tunnel_service_audit, &s->tunnels);
  s->tunnels.conns_per_ip = (unsigned)sc->public_conns_per_ip;
  s->tunnels.response_timeout_ms = (uint64_t)sc->response_timeout_ms;
  s->tunnels.send_timeout_ms = (uint64_t)sc->send_timeout_ms;
  s->tunnels.body_timeout_ms = (uint64_t)sc->body_timeout_ms;
  s->tunnels.http_port = http_port;
  if (http_on) {
    if (kind == URL_HOST_ANY)
      snprintf(http_host, sizeof http_host, "0.0.0.0");
    int rc = http_ingress_open(&s->tunnels, &s->loop, http_host, http_port,
                               &s->tunnels.http);
    if (rc != 0) {
      snprintf(err, errlen, "cannot listen on %s:%u (http_listen): %s",
               http_host, http_port, uv_strerror(rc));
      return -1;
    }
    log_info("public HTTP listening on %s:%u", http_host, http_port);
  }
  char why[256];
  if (terminals_init(&s->terminals, &s->loop, &s->tunnels, state_dir, why,
                     sizeof why))
    control_api_terminals(&s->api, &s->terminals);
  else
    log_warn("the console's terminals are off: %s", why);
  s->api.login = s->login;
  s->api.tokens = &s->tokens;
  s->api.tunnels = &s->tunnels;
  s->api.store = s->store;
  s->api.passwords.loop = &s->loop;
  s->api.acl_overrides = &s->acl_overrides;
  s->api.secret_for = secret_for;
  s->api.secret_ctx = s;
  s->api.per_ip = s->per_ip_secrets;
  s->api.admins = sc->admins;
  s->api.enrollment_closed = !strcmp(sc->enrollment, "closed");
  s->api.enrollment_approve = !strcmp(sc->enrollment, "approve");
  memset(&s->api.plain_allow, 0, sizeof s->api.plain_allow); /* off */
  if (strcmp(sc->plain_http, "off") &&
      prefix_list_parse(strcmp(sc->plain_http, "on") ? "127.0.0.0/8, ::1"
                                                     : "0.0.0.0/0, ::/0",
                        &s->api.plain_allow, err, errlen) != 0)
    return -1;
  return prefix_list_parse(sc->metrics_allow, &s->api.metrics_allow, err,
                           errlen);
}

/* The control port's certificate: the configured one, or a self-signed one
 * kept in the state directory. Clients need no CA: the login binds the TLS
 * channel, and they pin the certificate they logged in over. */
static int start_tls(struct server *s, const char *state_dir, char *err,
                     size_t errlen)
{
  char host[URL_MAX_HOST + 3];
  public_host(s, &s->listen[0], host, sizeof host);
  size_t n = strlen(host);
  if (host[0] == '[' && n > 2) { /* the certificate names the bare v6 */
    memmove(host, host + 1, n - 2);
    host[n - 2] = '\0';
  }
  const struct server_conf *sc = &s->conf->server;
  s->tls_ctx = tls_server_ctx(sc->tls_cert, sc->tls_key, state_dir, host,
                              s->tls_fingerprint, err, errlen);
  if (!s->tls_ctx)
    return -1;
  /* No dial of a device or a login resumes a session (each is a full
   * handshake, and the login's channel binding wants one): no tickets on
   * the wire, nothing cached per connection. */
  SSL_CTX_set_num_tickets(s->tls_ctx, 0);
  SSL_CTX_set_options(s->tls_ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(s->tls_ctx, SSL_SESS_CACHE_OFF);
  log_info("control port TLS certificate SHA-256 %s", s->tls_fingerprint);
  X509 *cert = SSL_CTX_get0_certificate(s->tls_ctx);
  if (!cert || tls_spki_pin(cert, s->api.spki_pin) != 0)
    s->api.spki_pin[0] = '\0'; /* no enrollment strings, then */
  char where[URL_MAX_HOST + 3];
  public_host(s, &s->listen[0], where, sizeof where);
  snprintf(s->api.enroll_at, sizeof s->api.enroll_at, "%s:%u", where,
           s->listen[0].port);
  return 0;
}

/* Whether the TLS port may hand devices to the control API: never a way
 * around a control port kept off the public address ([server] listen). */
static bool control_on_tls_port(const struct server *s, const char *tls_listen)
{
  const char *mode = s->conf->server.tls_control;
  if (!strcmp(mode, "on") || !strcmp(mode, "off"))
    return !strcmp(mode, "on");
  enum url_host_kind kind;
  char host[URL_MAX_HOST + 1], err[256];
  uint16_t port;
  if (hostport_parse(tls_listen, &kind, host, sizeof host, &port, err,
                     sizeof err) != 0)
    return false;
  for (size_t i = 0; i < s->listen_count; i++) {
    const char *h = s->listen[i].host;
    if (!strcmp(h, "0.0.0.0") || !strcmp(h, "::") || !strcmp(h, host))
      return true;
  }
  return false;
}

static void stop_services(struct server *s)
{
  proc_metrics_stop(&s->proc);
  tls_setup_stop(&s->tls_setup);
  /* the public HTTP port, opened here or by tls_setup_start */
  http_ingress_close(s->tunnels.http);
  s->tunnels.http = NULL;
  if (s->tunnels_open)
    tunnel_service_close(&s->tunnels);
  s->tunnels_open = false;
}

static void free_services(struct server *s)
{
  if (s->store)
    s->store->ops->close(s->store);
  s->store = NULL;
  acl_policy_free(&s->acl);
  acl_overrides_free(&s->acl_overrides);
  approvals_free(&s->api.approvals);
  tokens_free(&s->tokens);
  free(s->login);
  s->login = NULL;
  tls_setup_free(&s->tls_setup);
  SSL_CTX_free(s->tls_ctx);
  s->tls_ctx = NULL;
  crypto_wipe(&s->server_key, sizeof s->server_key);
}

static void print_connect_help(struct server *s)
{
  struct strbuf out = {0};
  for (size_t i = 0; i < s->listen_count; i++) {
    const struct listen_addr *a = &s->listen[i];
    const struct secret *sec = s->per_ip_secrets ? &a->secret : &s->secret;
    char host[URL_MAX_HOST + 3];
    public_host(s, a, host, sizeof host);
    if (i == 0 || s->per_ip_secrets)
      strbuf_addf(&out, "weft://%s@%s:%u\n", sec->text, host, a->port);
  }
  const char *secret_file = s->opts->secret_file ? s->opts->secret_file
                                                 : s->conf->server.secret_file;
  if (secret_file) {
    char why[512];
    if (write_private_file(secret_file, strbuf_str(&out), why, sizeof why))
      log_error("--secret-file: %s", why);
    else
      log_info("connection string written to %s", secret_file);
  }
  printf("Connection string (anyone who holds it can open tunnels; keep it "
         "secret):\n");
  const char *line = strbuf_str(&out);
  while (*line) {
    size_t n = strcspn(line, "\n");
    printf("  %.*s\n", (int)n, line);
    line += n + (line[n] == '\n');
  }
  size_t first = strcspn(strbuf_str(&out), "\n");
  printf("On a device, expose its SSH port as port 2222 of this server with:\n"
         "  weft tunnel %.*s tcp://127.0.0.1:22 tcp://:2222\n"
         "Press Ctrl-C to stop.\n",
         (int)first, strbuf_str(&out));
  fflush(stdout);
  strbuf_free(&out);
}

static void close_signal(uv_signal_t *sig)
{
  if (!uv_is_closing((uv_handle_t *)sig))
    uv_close((uv_handle_t *)sig, NULL);
}

static void audit_server(struct server *s, const char *event,
                         const char *detail);

static void otel_metrics(void *arg, struct strbuf *out)
{
  struct server *s = arg;
  control_api_metrics_text(&s->api, out);
}


static void server_stop(struct server *s, const char *why)
{
  if (s->stopping)
    return;
  s->stopping = true;
  log_info("stopping (%s)", why);
  char detail[128];
  snprintf(detail, sizeof detail, "stopping (%s)", why);
  if (s->api.terminals) /* (their ends are audited before the stop) */
    terminals_close(s->api.terminals);
  audit_server(s, "server-stopped", detail);
  otlp_stop(s->api.otlp); /* this last event goes, within its timeout */
  s->api.otlp = NULL;
  events_close(&s->api.events); /* its streams left the HTTP server */
  control_api_inspect_close(&s->api);
  http_server_close(&s->http, NULL);
  close_signal(&s->sigint);
  close_signal(&s->sigterm);
  close_signal(&s->sighup);
  stop_services(s);
  plugin_registry_stop(&s->plugins);
}

/* A record is one line: each line of a multi-line text is its own. */
static void log_lines(enum weft_log_level level, const char *text)
{
  while (*text) {
    size_t n = strcspn(text, "\n");
    if (n)
      log_msg(level, "core", "  %.*s", (int)n, text);
    text += n + (text[n] == '\n');
  }
}

static void reload(struct server *s)
{
  tls_setup_reload(&s->tls_setup);
  if (!s->opts->config_path) {
    log_info("SIGHUP: running on embedded defaults; there is no --config "
             "file to re-read");
    return;
  }
  struct strbuf errors = {0};
  struct conf *fresh =
      conf_load_file(s->opts->config_path, &s->plugins, &errors);
  if (!fresh) {
    log_error("SIGHUP: %s refused, the running configuration stays:",
              s->opts->config_path);
    log_lines(WEFT_LOG_ERROR, strbuf_str(&errors));
    strbuf_free(&errors);
    return;
  }
  struct strbuf changes = {0};
  conf_describe_changes(s->conf, fresh, &changes);
  log_info("SIGHUP: re-read %s:", s->opts->config_path);
  log_lines(WEFT_LOG_INFO, strbuf_str(&changes));
  strbuf_free(&changes);
  strbuf_free(&errors);
  struct acl_policy acl;
  if (conf_acl_policy(fresh, &acl) == 0) {
    acl_policy_free(&s->acl);
    s->acl = acl; /* the tunnel service reads it through a pointer */
    s->acl.overrides = &s->acl_overrides;
    if (s->tunnels_open)
      tunnel_service_acl_changed(&s->tunnels);
  }
  conf_free(s->conf);
  s->conf = fresh;
  s->api.admins = fresh->server.admins;
  s->api.enrollment_closed = !strcmp(fresh->server.enrollment, "closed");
  s->api.enrollment_approve = !strcmp(fresh->server.enrollment, "approve");
}

static void on_signal(uv_signal_t *sig, int signum)
{
  struct server *s = sig->data;
  if (signum == SIGHUP)
    reload(s);
  else
    server_stop(s, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

/* The local administration socket, STATE_DIR/admin.sock, mode 0600: whoever
 * may connect to it (the server's user, and root) is an administrator of
 * this server, as Docker's socket works. A state directory whose path is
 * too long for a socket's address does without it, with a warning. */
static void start_admin_socket(struct server *s, const char *state_dir)
{
  char path[sizeof s->admin_socket];
  int n = snprintf(path, sizeof path, "%s/admin.sock", state_dir);
  if (n < 0 || (size_t)n >= sizeof path) {
    log_warn("no local administration socket: %s/admin.sock is longer than "
             "a Unix socket's %zu bytes (use a shorter --state-dir)",
             state_dir, sizeof path - 1);
    return;
  }
  int rc = http_server_listen_local(&s->http, path);
  if (rc != 0) {
    log_warn("no local administration socket at %s: %s", path,
             uv_strerror(rc));
    return;
  }
  memcpy(s->admin_socket, path, sizeof path);
  log_info("local administration socket %s (weft admin --state-dir %s)", path,
           state_dir);
}

static int start_listeners(struct server *s, const char *state_dir)
{
  http_server_init(&s->http, &s->loop, control_api_handle, &s->api);
  s->http.tls_ctx = s->tls_ctx;
  const struct server_conf *sc = &s->conf->server;
  s->http.limits.header_timeout_ms = (uint64_t)sc->header_timeout_ms;
  s->http.limits.idle_timeout_ms = (uint64_t)sc->keepalive_timeout_ms;
  s->http.limits.max_conns_per_ip = (unsigned)sc->max_conns_per_ip;
  s->http.limits.max_conns = (unsigned)sc->max_conns;
  for (size_t i = 0; i < s->listen_count; i++) {
    const struct listen_addr *a = &s->listen[i];
    int rc = http_server_listen(&s->http, a->host, a->port);
    if (rc != 0) {
      log_error("cannot listen on %s%s%s:%u: %s",
                strchr(a->host, ':') ? "[" : "", a->host,
                strchr(a->host, ':') ? "]" : "", a->port, uv_strerror(rc));
      return -1;
    }
    log_info("control API listening on %s%s%s:%u",
             strchr(a->host, ':') ? "[" : "", a->host,
             strchr(a->host, ':') ? "]" : "", a->port);
  }
  start_admin_socket(s, state_dir);
  return 0;
}

/* The server's own comings and goings, in the audit trail. */
static void audit_server(struct server *s, const char *event,
                         const char *detail)
{
  if (!s->store)
    return;
  struct audit_event e = {.at = clock_wall_s(), .event = event,
                          .actor = "server", .detail = detail};
  store_audit(s->store, &e);
}

static void start_signals(struct server *s)
{
  uv_signal_t *sigs[] = {&s->sigint, &s->sigterm, &s->sighup};
  int nums[] = {SIGINT, SIGTERM, SIGHUP};
  for (size_t i = 0; i < 3; i++) {
    uv_signal_init(&s->loop, sigs[i]);
    sigs[i]->data = s;
    uv_signal_start(sigs[i], on_signal, nums[i]);
  }
}

static void close_any(uv_handle_t *h, void *arg)
{
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

/* Runs the loop until every handle is closed and closes it; a handle still
 * open at that point is a leak we report rather than hide. */
static int drain_loop(uv_loop_t *loop)
{
  stream_rounds_stop();
  uv_run(loop, UV_RUN_DEFAULT);
  if (uv_loop_close(loop) == 0)
    return 0;
  log_error("internal: handles were still open at shutdown");
  uv_walk(loop, close_any, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop) == 0 ? -1 : -2;
}

int server_main(const struct server_options *opts)
{
  struct server *s = calloc(1, sizeof *s);
  if (!s)
    return EXIT_RUNTIME;
  s->opts = opts;
  s->api.version = WEFT_VERSION;
  int code = EXIT_OK;
  char err[1024];
  uv_loop_init(&s->loop);
  stream_rounds_start(&s->loop);
  log_set_timestamps(1);
  log_detect_journal();
  enum log_format log_format = LOG_FORMAT_TEXT;
  /* --log-format from the first line; [server] log_format once read */
  if (opts->log_format && log_format_parse(opts->log_format, &log_format) == 0)
    log_set_format(log_format);
  if (opts->verbose)
    log_set_level(WEFT_LOG_DEBUG);
  fdlimit_raise(); /* sockets per connection, UDP peer and session */

  plugin_registry_init_empty(&s->plugins);
  plugin_registry_scan_default(&s->plugins, opts->plugin_dir);
  if (opts->config_path) {
    struct strbuf errors = {0};
    s->conf = conf_load_file(opts->config_path, &s->plugins, &errors);
    if (!s->conf)
      fprintf(stderr, "weft: configuration refused:\n%s", strbuf_str(&errors));
    strbuf_free(&errors);
  } else {
    s->conf = conf_defaults();
  }
  if (!s->conf) {
    code = EXIT_CONFIG;
    goto out;
  }
  if (!opts->verbose) {
    const char *lvl = s->conf->server.log_level;
    log_set_level(!strcmp(lvl, "error")     ? WEFT_LOG_ERROR
                  : !strcmp(lvl, "warning") ? WEFT_LOG_WARN
                  : !strcmp(lvl, "debug")   ? WEFT_LOG_DEBUG
                                            : WEFT_LOG_INFO);
  }
  if (log_format_parse(opts->log_format ? opts->log_format
                                         : s->conf->server.log_format,
                       &log_format) == 0) /* both checked already */
    log_set_format(log_format);
  s->per_ip_secrets = opts->use_secret_per_ip || s->conf->server.use_secret_per_ip;
  struct otlp_conf otel;
  const char *otel_text = opts->otel ? opts->otel : s->conf->server.opentelemetry;
  if (otlp_conf_parse(otel_text, NULL, "weft-server", &otel, err,
                      sizeof err) != 0) {
    fprintf(stderr, "weft: OpenTelemetry: %s\n", err);
    code = EXIT_CONFIG;
    goto out;
  }
  if (parse_listen(s, err, sizeof err) != 0) {
    fprintf(stderr, "weft: %s\n", err);
    code = EXIT_CONFIG;
    goto out;
  }
  const char *state_dir = opts->state_dir         ? opts->state_dir
                          : s->conf->server.state_dir ? s->conf->server.state_dir
                                                      : state_dir_default();
  if (load_secrets(s, state_dir, err, sizeof err) != 0) {
    fprintf(stderr, "weft: %s\n", err);
    code = EXIT_CONFIG;
    goto out;
  }
  log_info("state directory %s", state_dir);

  plugin_registry_set_state_root(&s->plugins, state_dir);
  if (read_lease_config(s, err, sizeof err) != 0) {
    fprintf(stderr, "weft: %s\n", err);
    code = EXIT_CONFIG;
    goto out;
  }
  plugin_registry_start(&s->plugins, &s->loop, conf_plugin_options, s->conf);
  const char *tls_listen = opts->tls_listen ? opts->tls_listen
                                            : s->conf->server.tls_listen;
  if (start_services(s, state_dir, err, sizeof err) != 0 ||
      start_tls(s, state_dir, err, sizeof err) != 0 ||
      tls_setup_start(&s->tls_setup, &s->tunnels, &s->loop,
                       &s->conf->server, tls_listen,
                       opts->email ? opts->email : s->conf->server.email,
                       state_dir, s->tls_ctx,
                       strcmp(tls_listen, "off") &&
                               control_on_tls_port(s, tls_listen)
                           ? &s->http
                           : NULL,
                       err, sizeof err) != 0) {
    fprintf(stderr, "weft: %s\n", err);
    code = EXIT_RUNTIME;
    stop_services(s);
    plugin_registry_stop(&s->plugins);
    goto out;
  }
  char names[512];
  plugin_registry_names(&s->plugins, names, sizeof names);
  log_info("transports: %s", names);
  if (s->plugins.refused_count)
    log_warn("%zu plugin(s) refused; run `weft plugins` for the reasons",
             s->plugins.refused_count);

  if (otel.enabled &&
      !(s->api.otlp = otlp_start(&s->loop, &otel, "server", otel_metrics, s)))
    log_warn("OpenTelemetry: the exporter could not start (libcurl); "
             "running without it");

  start_signals(s);
  if (start_listeners(s, state_dir) != 0) {
    code = EXIT_RUNTIME;
    server_stop(s, "could not listen");
  } else {
    audit_server(s, "server-started", "version " WEFT_VERSION);
    print_connect_help(s);
  }
  uv_run(&s->loop, UV_RUN_DEFAULT);
  if (!s->stopping)
    server_stop(s, "loop ended");
  if (drain_loop(&s->loop) != 0 && code == EXIT_OK)
    code = EXIT_RUNTIME;
  free_services(s);
  plugin_registry_free(&s->plugins);
  conf_free(s->conf);
  if (s->admin_socket[0])
    unlink(s->admin_socket); /* under the lock: no other server's */
  state_lock_release(s->state_lock);
  if (code == EXIT_OK)
    log_info("stopped cleanly");
  free(s);
  return code;
out:
  drain_loop(&s->loop);
  free_services(s);
  plugin_registry_free(&s->plugins);
  conf_free(s->conf);
  state_lock_release(s->state_lock);
  free(s);
  return code;
}
