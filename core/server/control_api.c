#include "server/control_api.h"
#include "server/control_api_internal.h"

#include <assert.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <weft/errors.h>

#include "auth/api_key.h"
#include "base/clock.h"
#include "auth/jwt.h"
#include "base/log.h"
#include "plugin/plugin_registry.h"
#include "net/stream.h"
#include "tunnel/store.h"

/* ---- who calls ---- */

/* The older way to administer: a device id in [server] admins, calling
 * from the server's own host. Every device holds the connection secret
 * and names itself at login, so the id alone would let any device approve
 * its own request; the host it calls from it cannot choose. */
static bool legacy_admin(const struct control_api *api,
                         const struct http_request *req, const char *device)
{
  if (!approvals_is_admin(api->admins, device))
    return false;
  uint8_t a[16];
  if (addr_parse(req->peer_ip, a) != 0)
    return false;
  static const uint8_t v6_loopback[16] = {[15] = 1};
  bool loopback = addr_is_v4(a) ? a[12] == 127
                                : !memcmp(a, v6_loopback, sizeof a);
  return loopback || !strcmp(req->peer_ip, req->local_ip);
}

/* Who the request comes from: the local socket (an administrator of this
 * host), a user's API key, or a device's session. False after a 401. */
static bool identify(struct control_api *api, const struct http_request *req,
                     struct http_response *resp, struct principal *who)
{
  memset(who, 0, sizeof *who);
  if (req->local) {
    who->kind = PRINCIPAL_LOCAL;
    who->role = ROLE_ADMIN;
    snprintf(who->name, sizeof who->name, "root");
    snprintf(who->actor, sizeof who->actor, "local:root");
    return true;
  }
  const char *auth = http_request_header(req, "authorization");
  bool refused = false;
  if (!auth && api_console_principal(api, req, resp, who, &refused))
    return true; /* a person signed in to the web console */
  if (refused)
    return false;
  if (auth && !strncasecmp(auth, "Bearer ", 7)) {
    const char *tok = auth + 7;
    size_t len = strlen(tok);
    if (!strncmp(tok, API_KEY_PREFIX, sizeof API_KEY_PREFIX - 1)) {
      /* No per-source backoff as for logins: a key is 256 random bits,
       * beyond guessing, and a backoff would let a neighbour behind the
       * same address lock an operator out. */
      if (api_user_principal(api, tok, len, who))
        return true;
      api_user_key_refused(api, req, tok, len);
    } else if (tokens_verify_session(api->tokens, tok, len,
                                     api->per_ip ? req->local_ip : NULL,
                                     clock_wall_s(), who->name,
                                     sizeof who->name) == JWT_OK &&
               api->store->ops->device_revoked(api->store, who->name) == 0) {
      /* (a revoked device's sessions end with it) */
      who->kind = PRINCIPAL_DEVICE;
      who->role = legacy_admin(api, req, who->name) ? ROLE_ADMIN : ROLE_NONE;
      snprintf(who->actor, sizeof who->actor, "%s", who->name);
      return true;
    }
  }
  api->stats.unauthorized++;
  api_reply_error(resp, 401, "unauthorized",
                  "a valid session token (log in with POST /v1/login) or "
                  "API key (weft user add) is required");
  strbuf_addf(&resp->headers, "WWW-Authenticate: Bearer realm=\"weft\"\r\n");
  return false;
}

static void forbidden(struct http_response *resp, const struct authz_rule *r,
                      const struct principal *who)
{
  char message[192];
  if (who->kind == PRINCIPAL_DEVICE && who->role == ROLE_NONE)
    snprintf(message, sizeof message, "a device may not %s", r->what);
  else
    snprintf(message, sizeof message, "%s (%s) may not %s", who->name,
             authz_role_name(who->role), r->what);
  api_reply_error(resp, 403, "forbidden", message);
}

/* ---- upgrades: a device's session for a transport ---- */

static void hand_to_plugin(void *arg, const struct http_request *req,
                           struct weft_stream *conn)
{
  struct plugin *p = arg;
  struct weft_http_header headers[HTTP_MAX_HEADERS];
  struct weft_http_request view;
  api_request_view(req, headers, &view);
  int rc = p->desc.server_upgrade(p->ctx, &view, conn);
  if (rc != 0) {
    static const char refusal[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n";
    log_info("%s refused a session from %s: %s", p->desc.name, req->peer_ip,
             weft_strerror(rc));
    stream_end(conn, refusal, sizeof refusal - 1);
  }
}

static bool route_upgrade(struct control_api *api,
                          const struct http_request *req,
                          struct http_response *resp)
{
  struct plugin_registry *reg = api->tunnels->plugins;
  for (size_t i = 0; i < reg->count; i++) {
    struct plugin *p = reg->plugins[i];
    if (p->initialized && p->desc.upgrade_path &&
        api_path_is(req->url, p->desc.upgrade_path)) {
      resp->take_over = hand_to_plugin;
      resp->take_over_arg = p;
      return true;
    }
  }
  return false;
}

/* ---- routing ---- */

static bool is_terminal(const char *url)
{
  static const char suffix[] = "/terminal";
  size_t len = api_path_len(url);
  return !strncmp(url, "/v1/devices/", 12) && len > 12 + sizeof suffix - 1 &&
         !strncmp(url + len - (sizeof suffix - 1), suffix, sizeof suffix - 1);
}

/* The n-th segment of url's path ("/v1/tunnels/ID": 2 is ID) into out;
 * false when it is too long to be an id. */
static bool segment(const char *url, unsigned n, char *out, size_t size)
{
  const char *p = url + 1;
  size_t len = api_path_len(url);
  for (unsigned i = 0; i < n; i++) {
    const char *slash = memchr(p, '/', (size_t)(url + len - p));
    if (!slash)
      return false;
    p = slash + 1;
  }
  size_t k = strcspn(p, "/?#");
  if (k == 0 || k >= size)
    return false;
  memcpy(out, p, k);
  out[k] = '\0';
  return true;
}

/* Calls the handler of the route the table matched (route: its path). */
static void dispatch(struct control_api *api, const struct http_request *req,
                     struct http_response *resp, const char *route,
                     const struct principal *who)
{
  char id[128];
  bool has_id = segment(req->url, 2, id, 64);
  if (!strcmp(route, "/v1/tunnels"))
    return api_method_is(req, "POST") ? api_tunnel_create(api, req, resp, who)
                                      : api_tunnel_list(api, resp, who);
  if (!strcmp(route, "/v1/approvals"))
    return api_approval_list(api, resp, who);
  if (!strcmp(route, "/v1/devices"))
    return api_method_is(req, "POST") ? api_device_add(api, req, resp, who)
                                      : api_device_list(api, resp);
  if (!strcmp(route, "/v1/audit"))
    return api_audit(api, req, resp, who);
  if (!strcmp(route, "/v1/events"))
    return api_events_subscribe(api, req, resp, who);
  if (!strcmp(route, "/v1/users"))
    return api_method_is(req, "POST") ? api_user_add(api, req, resp, who)
                                      : api_user_list(api, resp);
  if (!has_id)
    return api_reply_error(resp, 404, "not_found", "no such id");
  if (!strcmp(route, "/v1/tunnels/*"))
    return api_tunnel_one(api, req, resp, id, who);
  if (!strcmp(route, "/v1/tunnels/*/inspect"))
    return api_inspect_switch(api, req, resp, id, who);
  if (!strcmp(route, "/v1/tunnels/*/requests"))
    return api_inspect_list(api, resp, id);
  if (!strcmp(route, "/v1/tunnels/*/requests/*"))
    return api_inspect_one(api, req, resp, id);
  if (!strcmp(route, "/v1/tunnels/*/requests/*/replay"))
    return api_inspect_replay(api, req, resp, id, who);
  if (!strcmp(route, "/v1/tunnels/*/token"))
    return api_tunnel_token(api, req, resp, id, who);
  if (!strncmp(route, "/v1/approvals/*", 15)) {
    /* ID, or ID/approve, ID/deny */
    size_t n = strcspn(req->url + 14, "?#");
    if (n >= sizeof id)
      return api_reply_error(resp, 404, "not_found", "no such request");
    memcpy(id, req->url + 14, n);
    id[n] = '\0';
    return api_approval_one(api, req, resp, id, who);
  }
  if (!strcmp(route, "/v1/devices/*"))
    return api_device_one(api, req, resp, id, who);
  if (!strcmp(route, "/v1/devices/*/terminal"))
    return api_terminal_open(api, req, resp, id, who);
  if (!strcmp(route, "/v1/devices/*/revoke"))
    return api_device_revoke(api, req, resp, id, who);
  if (!strcmp(route, "/v1/devices/*/key"))
    return api_method_is(req, "PUT")
               ? api_device_key_rotate(api, req, resp, id, who)
               : api_device_key_forget(api, req, resp, id, who);
  if (!strcmp(route, "/v1/users/*"))
    return api_user_remove(api, resp, id, who);
  if (!strcmp(route, "/v1/users/*/key"))
    return api_user_new_key(api, resp, id, who);
  if (!strcmp(route, "/v1/users/*/password"))
    return api_user_password(api, req, resp, id, who);
  if (!strcmp(route, "/v1/users/*/totp"))
    return api_user_totp(api, req, resp, id, who);
  if (!strcmp(route, "/v1/users/*/totp/confirm"))
    return api_user_totp_confirm(api, req, resp, id, who);
  assert(!"a route in authz.c without a handler here");
  api_reply_error(resp, 404, "not_found", "no such endpoint");
}

static void handle(struct control_api *api, const struct http_request *req,
                   struct http_response *resp);

void control_api_handle(void *data, const struct http_request *req,
                        struct http_response *resp)
{
  struct control_api *api = data;
  api->stats.requests++;
  handle(api, req, resp);
  if (resp->status == 429)
    api->stats.rate_limited++;
}

static void handle(struct control_api *api, const struct http_request *req,
                   struct http_response *resp)
{
  const char *url = req->url;
  uint8_t peer[16];
  bool plain_ok = req->tls || req->local || (addr_parse(req->peer_ip, peer) == 0 &&
                               prefix_list_has(&api->plain_allow, peer));
  if (!plain_ok && !api_path_is(url, "/healthz") &&
      !api_path_is(url, "/metrics"))
    return api_reply_error(
        resp, 403, "tls_required",
        "this server takes the control API from your address "
        "over TLS only: use https:// (weft clients do)");
  /* A transport's session, or else a terminal (routed below, with who
   * may open one). */
  if (req->upgrade && route_upgrade(api, req, resp))
    return;
  if (req->upgrade && !is_terminal(url))
    return api_reply_error(resp, 404, "not_found",
                           "nothing to upgrade to here");
  if (api_path_is(url, "/healthz")) {
    if (!api_method_is(req, "GET"))
      return api_method_not_allowed(resp, "GET");
    return api_reply_json(
        resp, 200,
        json_pack("{s:s,s:s}", "status", "ok", "version", api->version));
  }
  if (api_path_is(url, "/metrics")) {
    if (!api_method_is(req, "GET"))
      return api_method_not_allowed(resp, "GET");
    return api_metrics(api, req, resp);
  }
  if (api_path_is(url, "/v1/login"))
    return api_login(api, req, resp);
  if (api_path_is(url, "/v1/enroll"))
    return api_enroll(api, req, resp);
  if (api_console_handle(api, req, resp))
    return;

  char allow[64];
  const struct authz_rule *rule =
      authz_find(req->method, url, allow, sizeof allow);
  if (!rule) {
    if (allow[0])
      return api_method_not_allowed(resp, allow);
    return api_reply_error(resp, 404, "not_found", "no such endpoint");
  }
  struct principal who;
  if (!identify(api, req, resp, &who))
    return;
  if (!authz_allows(rule, &who))
    return forbidden(resp, rule, &who);
  dispatch(api, req, resp, rule->path, &who);
}
