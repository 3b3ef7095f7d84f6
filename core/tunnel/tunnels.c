#include "tunnel/tunnels.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/plugin.h>

#include "net/cert_pair.h"
#include "net/certs.h"
#include "base/clock.h"
#include "config/config.h"
#include "tunnel/tunnel_metrics.h"
#include "tunnel/inspect.h"
#include "tunnel/tunnel_ports.h"
#include "base/log.h"
#include "net/listen.h"
#include "base/names.h"
#include "plugin/plugin_registry.h"

#define REAPER_INTERVAL_MS 1000

static void outcome(struct tunnel_outcome *out, int status, const char *code,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void outcome(struct tunnel_outcome *out, int status, const char *code,
                    const char *fmt, ...)
{
  out->status = status;
  snprintf(out->code, sizeof out->code, "%s", code);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out->message, sizeof out->message, fmt, ap);
  va_end(ap);
}

static void add_param(void *ctx, const char *key, const char *value)
{
  if (key && value)
    json_object_set_new(ctx, key, json_string(value));
}

#define MAX_DEVICE_PARAMS 16

/* Asks the transport to get ready for the tunnel's device, with what the
 * device's side of it sent (none when a tunnel is restored). 0 or its code. */
/* The device's reach ports as its ACL says now, "22,80" ("" for none). */
static void reach_text(const struct tunnel_service *svc, const struct lease *l,
                       char *buf, size_t len)
{
  struct acl_rules rules;
  acl_effective(svc->acl, l->device_id, &rules);
  port_list_format(&rules.reach_ports, buf, len);
}

static int open_transport(const struct tunnel_service *svc, struct tunnel *t,
                          const json_t *device_params)
{
  const struct lease *l = t->lease;
  char reach[1024];
  reach_text(svc, l, reach, sizeof reach);
  /* The lease holds what check_request accepted: these parse. */
  struct url local = {0}, remote = {0};
  char why[URL_MAX_TEXT + 256];
  url_parse(l->local_url, &local, why, sizeof why);
  if (l->remote_url[0])
    url_parse(l->remote_url, &remote, why, sizeof why);
  struct weft_kv params[MAX_DEVICE_PARAMS];
  size_t nparams = 0;
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)device_params, key, value)
  {
    if (nparams < MAX_DEVICE_PARAMS && json_is_string(value))
      params[nparams++] = (struct weft_kv){key, json_string_value(value)};
  }
  struct prefix_list allow_list;
  char allow[4096] = "";
  bool restricted = tunnel_ports_allow_list(svc, l, &allow_list);
  if (restricted)
    prefix_list_format(&allow_list, allow, sizeof allow);
  char address[32] = "";
  if (l->vip)
    leases_addr_text(l->vip, address, sizeof address);
  struct weft_tunnel_info info = {
      .struct_size = sizeof info,
      .id = l->tunnel_id,
      .name = l->name[0] ? l->name : NULL,
      .device_id = l->device_id,
      .local_url = l->local_url,
      .remote_url = l->remote_url[0] ? l->remote_url : NULL,
      .address = l->vip ? address : NULL,
      .public_proto = l->port ? l->port_proto : NULL,
      .public_port = l->port,
      .hostname = l->hostname[0] ? l->hostname : NULL,
      .idle_timeout_s = l->idle_timeout_s,
      .add_param = add_param,
      .param_ctx = t->params,
      .params = nparams ? params : NULL,
      .param_count = nparams,
      .expires_at = l->expires_at,
      .local_host = local.host,
      .local_port = local.port,
      .remote_host = remote.host,
      .remote_port = remote.port,
      .reach_ports = reach,
      .public_allow = restricted ? allow : NULL,
      .public_conns_per_ip = svc->conns_per_ip,
  };
  t->plugin->binding.last_error[0] = '\0';
  return t->plugin->desc.server_tunnel_open(t->plugin->ctx, &info,
                                            &t->plugin_ctx);
}

static void close_transport(struct tunnel *t, int reason)
{
  if (t->plugin && t->plugin_ctx)
    t->plugin->desc.server_tunnel_close(t->plugin->ctx, t->plugin_ctx, reason);
  t->plugin_ctx = NULL;
  tunnel_ports_close(t); /* and whatever public connection is left */
  assert(!t->ports && t->conns_open == 0);
}

/* Who terminates a tunnel's TLS, from its lease's URLs. */
static enum tunnel_tls tls_mode_of(const struct lease *l)
{
  struct url remote, local;
  char err[256];
  if (!l->hostname[0] ||
      url_parse(l->remote_url, &remote, err, sizeof err) != 0 ||
      remote.scheme != URL_HTTPS ||
      url_parse(l->local_url, &local, err, sizeof err) != 0)
    return TUNNEL_TLS_NONE;
  return local.scheme == URL_HTTPS ? TUNNEL_TLS_PASSTHROUGH
                                   : TUNNEL_TLS_TERMINATE;
}

static struct tunnel *tunnel_new(struct tunnel_service *svc, struct lease *l)
{
  /* One tunnel per lease: ids and host names are unique among live
   * leases (leases_create checks; the store's indexes for restored). */
  assert(!str_index_get(&svc->by_id, l->tunnel_id));
  assert(!l->hostname[0] || !str_index_get(&svc->by_host, l->hostname));
  struct tunnel *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->lease = l;
  if (str_index_add(&svc->by_id, l->tunnel_id, t) != 0 ||
      (l->hostname[0] && str_index_add(&svc->by_host, l->hostname, t) != 0)) {
    str_index_remove(&svc->by_id, l->tunnel_id, t);
    free(t);
    return NULL;
  }
  t->tls_mode = tls_mode_of(l);
  t->plugin = plugin_registry_find(svc->plugins, l->transport);
  t->params = json_object();
  tunnel_metrics_attach(&svc->metrics, t);
  t->next = svc->live;
  svc->live = t;
  return t;
}

static void tunnel_unlink(struct tunnel_service *svc, struct tunnel *t)
{
  /* A live tunnel is on the list and in the index once, and goes
   * before its lease is released (t->lease is still valid here). */
  assert(str_index_get(&svc->by_id, t->lease->tunnel_id) == t);
  assert(!t->lease->hostname[0] ||
         str_index_get(&svc->by_host, t->lease->hostname) == t);
  struct tunnel **pp = &svc->live;
  while (*pp && *pp != t)
    pp = &(*pp)->next;
  assert(*pp == t);
  *pp = t->next;
  str_index_remove(&svc->by_id, t->lease->tunnel_id, t);
  if (t->lease->hostname[0])
    str_index_remove(&svc->by_host, t->lease->hostname, t);
  tunnel_metrics_detach(&svc->metrics, t);
  json_decref(t->params);
  inspect_ring_free(t->inspect); /* its visitors' data goes with it */
  free(t);
}

static struct tunnel *by_lease(struct tunnel_service *svc, const struct lease *l)
{
  for (struct tunnel *t = svc->live; t; t = t->next)
    if (t->lease == l)
      return t;
  return NULL;
}

int tunnel_service_send_datagram(void *ctx, const char *plugin_name,
                                 const char *tunnel_id,
                                 const struct weft_udp_peer *peer,
                                 const void *data, size_t len)
{
  struct tunnel *t = tunnel_service_find(ctx, tunnel_id);
  /* A transport answers only on the tunnels it carries. */
  if (!t || !t->plugin || strcmp(t->plugin->desc.name, plugin_name))
    return WEFT_ENOENT;
  return tunnel_ports_send_datagram(t, peer, data, len);
}

void tunnel_service_touch(void *ctx, const char *plugin_name,
                          const char *tunnel_id)
{
  struct tunnel_service *svc = ctx;
  struct tunnel *t = tunnel_service_find(svc, tunnel_id);
  if (t && t->plugin && !strcmp(t->plugin->desc.name, plugin_name))
    leases_touch(&svc->leases, t->lease, clock_wall_s());
}

void tunnel_service_audit(void *ctx, const char *plugin_name,
                          const char *tunnel_id, const char *event,
                          const char *detail)
{
  struct tunnel_service *svc = ctx;
  struct tunnel *t = tunnel_service_find(svc, tunnel_id);
  if (!t || !t->plugin || strcmp(t->plugin->desc.name, plugin_name))
    return;
  /* The transports report their device's session this way (plugins/
   * common/session.c, wireguard): it is also the tunnel's state. */
  if (!strcmp(event, "session-up"))
    t->connected = true;
  else if (!strcmp(event, "session-down") ||
           !strcmp(event, "session-cut-off"))
    t->connected = false;
  tunnel_metrics_session(t, event);
  leases_audit(&svc->leases, t->lease, event, "server", detail,
               clock_wall_s());
}

void tunnel_service_acl_changed(struct tunnel_service *svc)
{
  for (struct tunnel *t = svc->live; t; t = t->next) {
    tunnel_ports_refresh_allow(svc, t);
    const struct weft_plugin *d = t->plugin ? &t->plugin->desc : NULL;
    if (!d || !t->plugin_ctx ||
        d->struct_size < offsetof(struct weft_plugin, server_tunnel_reach) +
                             sizeof d->server_tunnel_reach ||
        !d->server_tunnel_reach)
      continue;
    char reach[1024];
    reach_text(svc, t->lease, reach, sizeof reach);
    d->server_tunnel_reach(t->plugin->ctx, t->plugin_ctx, reach);
  }
}

struct tunnel *tunnel_service_find(const struct tunnel_service *svc,
                                   const char *id)
{
  return str_index_get(&svc->by_id, id);
}

struct tunnel *tunnel_service_by_hostname(const struct tunnel_service *svc,
                                          const char *name)
{
  return name[0] ? str_index_get(&svc->by_host, name) : NULL;
}

/* A tunnel ended: the certificate its device handed over goes with it
 * (kept across a server restart, as the tunnel is). */
static void drop_device_certificate(struct tunnel_service *svc,
                                    const struct tunnel *t)
{
  if (t->tls_mode == TUNNEL_TLS_TERMINATE && svc->certs)
    cert_store_drop_device(svc->certs, t->lease->hostname);
}

static void on_reaped(void *arg, const struct lease *l, const char *reason)
{
  struct tunnel_service *svc = arg;
  struct tunnel *t = by_lease(svc, l);
  log_info("tunnel %s of device %s ended: %s", l->tunnel_id, l->device_id,
           reason);
  if (!strcmp(reason, "expired"))
    svc->stats.expired++;
  else
    svc->stats.idle_timeouts++;
  if (t) {
    t->dev->ended[tunnel_end_of(reason)]++;
    close_transport(t, WEFT_ETIMEDOUT);
    drop_device_certificate(svc, t);
    tunnel_unlink(svc, t);
  }
  assert(!str_index_get(&svc->by_id, l->tunnel_id));
}

static void reap(uv_timer_t *timer)
{
  struct tunnel_service *svc = timer->data;
  leases_reap(&svc->leases, clock_wall_s(), on_reaped, svc);
}

/* A port the server picks must be one its listener can have. */
static bool port_taken(void *arg, const char *proto, uint16_t port)
{
  (void)arg;
  return listen_port_taken(proto, port);
}

int tunnel_service_open(struct tunnel_service *svc, uv_loop_t *loop,
                        struct store *store, const struct lease_config *cfg,
                        struct tokens *tokens, const struct acl_policy *acl,
                        struct plugin_registry *plugins,
                        const char *public_host, const char *path_base,
                        size_t metrics_cap)
{
  memset(svc, 0, sizeof *svc);
  tunnel_metrics_init(&svc->metrics, metrics_cap);
  str_index_init(&svc->by_id);
  str_index_init(&svc->by_host);
  svc->loop = loop;
  svc->tokens = tokens;
  svc->acl = acl;
  svc->plugins = plugins;
  svc->conns_per_ip = 1024;
  snprintf(svc->public_host, sizeof svc->public_host, "%s", public_host);
  snprintf(svc->path_base, sizeof svc->path_base, "%s", path_base);
  int rc = leases_open(&svc->leases, store, cfg, clock_wall_s(), NULL, NULL);
  if (rc != 0)
    return rc;
  svc->leases.port_taken = port_taken;
  /* Restored leases: the transports get ready for their devices again. */
  for (size_t i = 0; i < svc->leases.count; i++) {
    struct tunnel *t = tunnel_new(svc, svc->leases.items[i]);
    if (!t)
      return WEFT_ENOMEM;
    int orc = t->plugin ? open_transport(svc, t, NULL) : WEFT_ENOENT;
    char why[256];
    if (orc == 0 && tunnel_ports_open(svc, t, why, sizeof why) != 0)
      log_warn("restored tunnel %s: %s", t->lease->tunnel_id, why);
    if (orc != 0) {
      t->plugin_ctx = NULL;
      log_warn("restored tunnel %s: transport %s %s (%s); its lease stays "
               "until it expires",
               t->lease->tunnel_id, t->lease->transport,
               t->plugin ? "refused it" : "is not loaded", weft_strerror(orc));
    }
  }
  uv_timer_init(loop, &svc->reaper);
  svc->reaper.data = svc;
  uv_timer_start(&svc->reaper, reap, REAPER_INTERVAL_MS, REAPER_INTERVAL_MS);
  return 0;
}

void tunnel_service_close(struct tunnel_service *svc)
{
  /* The server closed the shared public ports first (server.c). */
  assert(!svc->http && !svc->tls);
  while (svc->live) {
    close_transport(svc->live, WEFT_ECANCELED);
    tunnel_unlink(svc, svc->live);
  }
  if (svc->loop && !uv_is_closing((uv_handle_t *)&svc->reaper))
    uv_close((uv_handle_t *)&svc->reaper, NULL);
  str_index_free(&svc->by_id);
  str_index_free(&svc->by_host);
  tunnel_metrics_free(&svc->metrics);
  leases_close(&svc->leases);
}

/* What check_request found in a request it let through: the parsed
 * ends, the transport and, with a tls_secret, the device's certificate
 * pair, parsed once here and kept for the tunnel (zero without one; the
 * holder frees it). */
struct checked_request {
  struct url local, remote;
  struct plugin *plugin;
  struct cert_pair secret;
};

/* A remote https://NAME is served on the public TLS port: passthrough
 * when the device's service speaks TLS itself, else the server terminates
 * with a certificate it has (files, or ACME). The device's own pair goes
 * to *secret, parsed and checked. */
static bool check_tls_secret(struct tunnel_service *svc,
                             const struct url *local,
                             const struct url *remote, const char *pem,
                             struct cert_pair *secret,
                             struct tunnel_outcome *out)
{
  if (local->scheme == URL_HTTPS) {
    outcome(out, 400, "bad_request",
            "tls_secret is for a remote the server terminates TLS for (a "
            "local http:// service); a local https:// service keeps its own "
            "certificate");
    return false;
  }
  if (!svc->certs) {
    outcome(out, 501, "no_tls_port",
            "this server has no public TLS port (its tls_listen is off)");
    return false;
  }
  if (cert_store_source(svc->certs, remote->host) == CERT_FROM_FILES) {
    outcome(out, 409, "certificate_exists",
            "the server has its own certificate for %s (in its "
            "tls_certs_dir): drop the TLS secret",
            remote->host);
    return false;
  }
  char why[256];
  if (cert_pair_parse(secret, pem, strlen(pem), why, sizeof why) != 0) {
    outcome(out, 400, "bad_tls_secret", "tls_secret: %s", why);
    return false;
  }
  if (cert_pair_check(secret, remote->host, clock_wall_s(), why,
                      sizeof why) != 0) {
    cert_pair_free(secret);
    outcome(out, 400, "bad_tls_secret", "tls_secret: %s", why);
    return false;
  }
  return true;
}

static bool check_https(struct tunnel_service *svc, const struct url *local,
                        const struct url *remote, const char *tls_secret,
                        struct cert_pair *secret, struct tunnel_outcome *out)
{
  if (remote->host_kind != URL_HOST_NAME) {
    outcome(out, 400, "bad_request",
            "an https remote names the host to publish, as in "
            "https://app.example.com");
    return false;
  }
  if (!svc->tls_port) {
    outcome(out, 501, "no_tls_port",
            "this server has no public TLS port (its tls_listen is off)");
    return false;
  }
  if (remote->port_given && remote->port != svc->tls_port) {
    outcome(out, 400, "bad_request",
            "this server publishes https on port %u, not %u", svc->tls_port,
            remote->port);
    return false;
  }
  if (tls_secret)
    return check_tls_secret(svc, local, remote, tls_secret, secret, out);
  if (local->scheme == URL_HTTPS)
    return true;
  if (svc->certs && cert_store_has(svc->certs, remote->host))
    return true;
  if (svc->cert_want)
    return true;
  outcome(out, 501, "no_certificate",
          "the server terminates TLS for %s (the local service speaks plain "
          "HTTP) but has no certificate for it: put %s.crt and %s.key in its "
          "tls_certs_dir, start it with --email for ACME, or publish a local "
          "https:// service (passthrough)",
          remote->host, remote->host, remote->host);
  return false;
}

/* A terminated tunnel's certificate from its device (checked already),
 * or none (NULL): then a pair left by an earlier tunnel of that name
 * goes. */
static int put_device_certificate(struct tunnel_service *svc,
                                  const struct tunnel *t,
                                  const struct cert_pair *secret, char *why,
                                  size_t whylen)
{
  if (t->tls_mode != TUNNEL_TLS_TERMINATE || !svc->certs)
    return 0;
  const char *name = t->lease->hostname;
  if (!secret) {
    cert_store_drop_device(svc->certs, name);
    return 0;
  }
  int rc = cert_store_put_device(svc->certs, name, secret, why, whylen);
  if (rc == 0)
    log_info("tunnel %s: serving %s with the certificate its device handed "
             "over",
             t->lease->tunnel_id, name);
  return rc;
}

/* A tunnel the server terminates TLS for, with no certificate yet: ask
 * for one (ACME), which serves it from when it arrives. */
static void want_certificate(struct tunnel_service *svc, struct tunnel *t)
{
  if (t->tls_mode == TUNNEL_TLS_TERMINATE && svc->cert_want &&
      !(svc->certs && cert_store_has(svc->certs, t->lease->hostname)))
    svc->cert_want(svc->cert_arg, t->lease->hostname);
}

static bool check_request(struct tunnel_service *svc,
                          const struct tunnel_request *req,
                          struct checked_request *c,
                          struct tunnel_outcome *out)
{
  struct url *local = &c->local, *remote = &c->remote;
  struct plugin **plugin = &c->plugin;
  char why[URL_MAX_TEXT + 256];
  if (!req->device_id || !name_is_plain(req->device_id, 63)) {
    outcome(out, 400, "bad_request",
            "device_id must be 1-63 letters, digits, '.', '_' or '-'");
    return false;
  }
  if (req->name && *req->name && !name_is_plain(req->name, 63)) {
    outcome(out, 400, "bad_request",
            "name must be 1-63 letters, digits, '.', '_' or '-'");
    return false;
  }
  if (!req->transport || !*req->transport) {
    outcome(out, 400, "bad_request", "transport is required");
    return false;
  }
  *plugin = plugin_registry_find(svc->plugins, req->transport);
  if (!*plugin || !(*plugin)->initialized ||
      !((*plugin)->desc.caps & WEFT_CAP_SERVER)) {
    char names[512];
    plugin_registry_names(svc->plugins, names, sizeof names);
    outcome(out, 400, "unknown_transport",
            "this server has no transport '%.64s' (loaded: %s)",
            req->transport, names);
    return false;
  }
  if (!req->local) {
    outcome(out, 400, "bad_request", "local is required");
    return false;
  }
  if (url_parse(req->local, local, why, sizeof why) != 0) {
    outcome(out, 400, "bad_request", "local: %s", why);
    return false;
  }
  if (req->remote && url_parse(req->remote, remote, why, sizeof why) != 0) {
    outcome(out, 400, "bad_request", "remote: %s", why);
    return false;
  }
  if (tunnel_spec_check(local, req->remote ? remote : NULL, *plugin, why,
                        sizeof why) != 0) {
    outcome(out, 400, "bad_request", "%s", why);
    return false;
  }
  if (req->tls_secret && (!req->remote || remote->scheme != URL_HTTPS)) {
    outcome(out, 400, "bad_request",
            "tls_secret goes with an https:// remote (the host name its "
            "certificate is for)");
    return false;
  }
  if (req->remote && remote->scheme == URL_HTTPS &&
      !check_https(svc, local, remote, req->tls_secret, &c->secret, out))
    return false;
  struct acl_rules rules;
  acl_effective(svc->acl, req->device_id, &rules);
  if (req->remote && acl_check_publish(&rules, remote, why, sizeof why) != 0) {
    outcome(out, 403, "forbidden", "%s", why);
    return false;
  }
  if (req->allow_ips) {
    struct prefix_list l;
    if (prefix_list_parse(req->allow_ips, &l, why, sizeof why) != 0) {
      outcome(out, 400, "bad_request", "allow_ips: %s", why);
      return false;
    }
  }
  return true;
}

static int lease_error_status(int rc, const char **code)
{
  switch (rc) {
  case WEFT_EEXIST: *code = "device_busy"; return 409;
  case WEFT_EADDRINUSE: *code = "claim_taken"; return 409;
  case WEFT_ELIMIT: *code = "exhausted"; return 503;
  default: *code = "internal"; return 500;
  }
}

/* A create that failed after the lease was taken: give everything back,
 * with the refusal (already in out) in the audit trail. */
static void undo_create(struct tunnel_service *svc, struct tunnel *t,
                        struct tunnel_outcome *out, int64_t now)
{
  char id[32];
  snprintf(id, sizeof id, "%s", t->lease->tunnel_id);
  tunnel_unlink(svc, t);
  leases_release(&svc->leases, id, "refused", "server", out->message, now);
  free(out->token);
  out->token = NULL;
  svc->stats.refused++;
}

bool tunnel_service_check(struct tunnel_service *svc,
                          const struct tunnel_request *req,
                          struct tunnel_outcome *out)
{
  struct checked_request c = {0};
  memset(out, 0, sizeof *out);
  bool ok = check_request(svc, req, &c, out);
  cert_pair_free(&c.secret);
  return ok;
}

static bool same_text(const char *a, const char *b)
{
  return !strcmp(a ? a : "", b ? b : "");
}

/* --replace: the device asks for a tunnel it had (an agent restarted
 * after a crash): its live tunnels with the same name, local and remote
 * end first, so the new one takes their place and claims. */
static void replace_same(struct tunnel_service *svc,
                         const struct tunnel_request *req)
{
  for (;;) {
    const struct lease *old = NULL;
    for (size_t i = 0; i < svc->leases.count && !old; i++) {
      const struct lease *l = svc->leases.items[i];
      if (!strcmp(l->device_id, req->device_id) &&
          same_text(l->name, req->name) &&
          same_text(l->local_url, req->local) &&
          same_text(l->remote_url, req->remote))
        old = l;
    }
    if (!old)
      return;
    char old_id[64];
    snprintf(old_id, sizeof old_id, "%s", old->tunnel_id);
    log_info("tunnel %s of device %s replaced by a new one", old_id,
             req->device_id);
    if (tunnel_service_delete(svc, old_id, "replaced", req->device_id,
                              "replaced by a new tunnel of the same device") !=
        0)
      return;
  }
}

/* tunnel_service_create once check_request let req through. */
static void create_checked(struct tunnel_service *svc,
                           const struct tunnel_request *req,
                           const struct checked_request *c,
                           struct tunnel_outcome *out)
{
  struct plugin *plugin = c->plugin;
  /* check_request refuses a tls_secret it could not parse. */
  assert(!req->tls_secret || c->secret.leaf);
  if (req->replace)
    replace_same(svc, req);
  struct acl_rules rules;
  acl_effective(svc->acl, req->device_id, &rules);
  struct lease_request lr = {
      .device_id = req->device_id,
      .name = req->name,
      .transport = req->transport,
      .local_url = req->local,
      .remote = req->remote ? &c->remote : NULL,
      .remote_text = req->remote,
      .allow_ips = req->allow_ips,
      .wants_address = (plugin->desc.caps & WEFT_CAP_ADDRESS) != 0,
      .public_host = svc->public_host,
      .path_base = svc->path_base,
      .http_port = svc->http_port,
      .tls_port = svc->tls_port,
      .device_max = rules.max_tunnels,
  };
  struct lease *lease;
  char why[512];
  int64_t now = clock_wall_s();
  int rc = leases_create(&svc->leases, &lr, now, &lease, why, sizeof why);
  if (rc != 0) {
    const char *code;
    int status = lease_error_status(rc, &code);
    outcome(out, status, code, "%s", why);
    svc->stats.refused++;
    return;
  }
  struct tunnel *t = tunnel_new(svc, lease);
  char id[32];
  snprintf(id, sizeof id, "%s", lease->tunnel_id);
  if (!t || !(out->token = tunnel_service_token(svc, t))) {
    if (t)
      tunnel_unlink(svc, t);
    leases_release(&svc->leases, id, "refused", "server", "out of memory",
                   now);
    outcome(out, 500, "internal", "out of memory");
    return;
  }
  rc = open_transport(svc, t, req->device_params);
  if (rc != 0) {
    const char *said = plugin->binding.last_error;
    if (rc == WEFT_ENOTBUILT)
      outcome(out, 501, "transport_not_built",
              "the %s transport cannot carry tunnels in this version of weft",
              plugin->desc.name);
    else
      outcome(out, 503, "transport_failed", "the %s transport refused: %s",
              plugin->desc.name, *said ? said : weft_strerror(rc));
    t->plugin_ctx = NULL;
    undo_create(svc, t, out, now);
    return;
  }
  char why2[256];
  rc = tunnel_ports_open(svc, t, why2, sizeof why2);
  if (rc != 0) {
    outcome(out, rc == WEFT_EADDRINUSE ? 409 : 503,
            rc == WEFT_EADDRINUSE ? "claim_taken" : "ingress_failed", "%s",
            why2);
    close_transport(t, 0); /* its lease is released */
    undo_create(svc, t, out, now);
    return;
  }
  if (put_device_certificate(svc, t, req->tls_secret ? &c->secret : NULL,
                             why2, sizeof why2)) {
    outcome(out, 500, "internal", "the device's certificate: %s", why2);
    close_transport(t, 0);
    undo_create(svc, t, out, now);
    return;
  }
  svc->stats.created++;
  t->dev->created++;
  want_certificate(svc, t);
  log_info("tunnel %s created for device %s: %s %s -> %s", id,
           lease->device_id, lease->transport, lease->local_url,
           lease->public_url);
  out->status = 201;
  out->tunnel = t;
}

void tunnel_service_create(struct tunnel_service *svc,
                           const struct tunnel_request *req,
                           struct tunnel_outcome *out)
{
  memset(out, 0, sizeof *out);
  struct checked_request c = {0};
  if (check_request(svc, req, &c, out))
    create_checked(svc, req, &c, out);
  else
    svc->stats.refused++;
  cert_pair_free(&c.secret);
}

char *tunnel_service_token(struct tunnel_service *svc, const struct tunnel *t)
{
  const struct lease *l = t->lease;
  struct orchestration_claims oc = {.port = l->port};
  snprintf(oc.device_id, sizeof oc.device_id, "%s", l->device_id);
  snprintf(oc.tunnel_id, sizeof oc.tunnel_id, "%s", l->tunnel_id);
  snprintf(oc.transport, sizeof oc.transport, "%s", l->transport);
  snprintf(oc.proto, sizeof oc.proto, "%s", l->port_proto);
  snprintf(oc.hostname, sizeof oc.hostname, "%s", l->hostname);
  char *token = NULL;
  if (tokens_issue_orchestration(svc->tokens, &oc, clock_wall_s(), &token))
    return NULL;
  return token;
}

int tunnel_service_delete(struct tunnel_service *svc, const char *id,
                          const char *event, const char *actor,
                          const char *detail)
{
  struct tunnel *t = tunnel_service_find(svc, id);
  if (!t)
    return WEFT_ENOENT;
  char copy[64];
  snprintf(copy, sizeof copy, "%s", id);
  t->dev->ended[tunnel_end_of(event)]++;
  close_transport(t, 0);
  drop_device_certificate(svc, t);
  tunnel_unlink(svc, t);
  int rc = leases_release(&svc->leases, copy, event, actor, detail,
                          clock_wall_s());
  if (rc == 0) {
    svc->stats.deleted++;
    log_info("tunnel %s %s", copy, event);
  }
  return rc;
}

json_t *tunnel_to_json(const struct tunnel_service *svc,
                       const struct tunnel *t)
{
  (void)svc;
  const struct lease *l = t->lease;
  json_t *lease = json_object();
  if (l->vip) {
    char address[32];
    leases_addr_text(l->vip, address, sizeof address);
    json_object_set_new(lease, "address", json_string(address));
  }
  if (l->port) {
    json_object_set_new(lease, "proto", json_string(l->port_proto));
    json_object_set_new(lease, "port", json_integer(l->port));
  }
  if (l->hostname[0])
    json_object_set_new(lease, "hostname", json_string(l->hostname));
  json_t *doc = json_pack(
      "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:o}", "id", l->tunnel_id,
      "device_id", l->device_id, "transport", l->transport, "local",
      l->local_url, "public_url", l->public_url, "state",
      t->plugin_ctx ? "ready" : "transport unavailable", "name", l->name,
      "created_at", (json_int_t)l->created_at, "expires_at",
      (json_int_t)l->expires_at, "idle_timeout", (json_int_t)l->idle_timeout_s,
      "last_activity", (json_int_t)l->last_activity, "lease", lease);
  if (doc)
    json_object_set_new(doc, "connected", json_boolean(t->connected));
  if (doc)
    json_object_set_new(doc, "inspect", json_boolean(t->inspect != NULL));
  if (doc && l->remote_url[0])
    json_object_set_new(doc, "remote", json_string(l->remote_url));
  if (doc && l->allow_ips[0])
    json_object_set_new(doc, "allow_ips", json_string(l->allow_ips));
  if (doc) {
    json_object_set(doc, "params", t->params);
    json_object_set_new(doc, "traffic",
                        json_pack("{s:I,s:I,s:I,s:I}", "bytes_in",
                                  (json_int_t)t->bytes_in, "bytes_out",
                                  (json_int_t)t->bytes_out, "connections_open",
                                  (json_int_t)t->conns_open,
                                  "connections_total",
                                  (json_int_t)t->conns_total));
    if (!strcmp(l->port_proto, "udp"))
      json_object_update_new(
          json_object_get(doc, "traffic"),
          json_pack("{s:I,s:I,s:I}", "datagrams_in",
                    (json_int_t)t->datagrams_in, "datagrams_out",
                    (json_int_t)t->datagrams_out, "datagrams_dropped",
                    (json_int_t)t->datagrams_dropped));
  }
  return doc;
}
