#include "server/control_api.h"
#include "server/control_api_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <weft/errors.h>

#include "base/clock.h"
#include "auth/jwt.h"
#include "base/log.h"
#include "plugin/plugin_registry.h"
#include "net/stream.h"
#include "tunnel/store.h"

/* ---- sessions ---- */

/* Checks the Bearer token; on success copies its subject and returns true,
 * else replies 401. */
static bool authorised(struct control_api *api, const struct http_request *req,
                       struct http_response *resp, char *subject, size_t len)
{
  const char *auth = http_request_header(req, "authorization");
  if (auth && !strncasecmp(auth, "Bearer ", 7)) {
    const char *tok = auth + 7;
    if (tokens_verify_session(api->tokens, tok, strlen(tok),
                              api->per_ip ? req->local_ip : NULL,
                              clock_wall_s(), subject, len) == JWT_OK &&
        api->store->ops->device_revoked(api->store, subject) == 0)
      return true; /* (a revoked device's sessions end with it) */
  }
  api->stats.unauthorized++;
  api_reply_error(resp, 401, "unauthorized",
                  "a valid session token is required: log in with POST "
                  "/v1/login");
  strbuf_addf(&resp->headers, "WWW-Authenticate: Bearer realm=\"weft\"\r\n");
  return false;
}

bool api_admin_here(const struct control_api *api,
                    const struct http_request *req, const char *subject)
{
  if (!approvals_is_admin(api->admins, subject))
    return false;
  uint8_t a[16];
  if (addr_parse(req->peer_ip, a) != 0)
    return false;
  static const uint8_t v6_loopback[16] = {[15] = 1};
  bool loopback = addr_is_v4(a) ? a[12] == 127
                                : !memcmp(a, v6_loopback, sizeof a);
  return loopback || !strcmp(req->peer_ip, req->local_ip);
}

/* ---- upgrades: a device's session for a transport ---- */

static void hand_to_plugin(void *arg, const struct http_request *req,
                           struct weft_stream *conn)
{
  struct plugin *p = arg;
  struct weft_http_header headers[HTTP_MAX_HEADERS];
  for (size_t i = 0; i < req->header_count; i++)
    headers[i] = (struct weft_http_header){req->headers[i].name,
                                           req->headers[i].value};
  struct weft_http_request view = {
      .struct_size = sizeof view,
      .method = req->method,
      .target = req->url,
      .headers = headers,
      .header_count = req->header_count,
      .peer_ip = req->peer_ip,
  };
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

void control_api_handle(void *data, const struct http_request *req,
                        struct http_response *resp)
{
  struct control_api *api = data;
  api->stats.requests++;
  const char *url = req->url;
  uint8_t peer[16];
  bool plain_ok = req->tls || (addr_parse(req->peer_ip, peer) == 0 &&
                               prefix_list_has(&api->plain_allow, peer));
  if (!plain_ok && !api_path_is(url, "/healthz") &&
      !api_path_is(url, "/metrics"))
    return api_reply_error(
        resp, 403, "tls_required",
        "this server takes the control API from your address "
        "over TLS only: use https:// (weft clients do)");
  if (req->upgrade) {
    if (!route_upgrade(api, req, resp))
      api_reply_error(resp, 404, "not_found", "nothing to upgrade to here");
    return;
  }
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

  bool tunnels = api_path_is(url, "/v1/tunnels");
  bool tunnel_item = !tunnels && !strncmp(url, "/v1/tunnels/", 12);
  bool audit = api_path_is(url, "/v1/audit");
  bool approvals = api_path_is(url, "/v1/approvals");
  bool approval_item = !approvals && !strncmp(url, "/v1/approvals/", 14);
  bool devices = api_path_is(url, "/v1/devices");
  bool device_item = !devices && !strncmp(url, "/v1/devices/", 12);
  if (!tunnels && !tunnel_item && !audit && !approvals && !approval_item &&
      !devices && !device_item)
    return api_reply_error(resp, 404, "not_found", "no such endpoint");
  char subject[64];
  if (!authorised(api, req, resp, subject, sizeof subject))
    return;
  if (devices) {
    if (!api_method_is(req, "GET"))
      return api_method_not_allowed(resp, "GET");
    return api_device_list(api, req, resp, subject);
  }
  if (device_item) {
    /* /v1/devices/{id}/key and /v1/devices/{id}/revoke */
    char dev[64];
    size_t n = api_path_len(url) - 12;
    const char *slash = memchr(url + 12, '/', n);
    size_t id_len = slash ? (size_t)(slash - (url + 12)) : n;
    size_t rest = slash ? (size_t)(url + 12 + n - slash) : 0;
    bool key = rest == 4 && !strncmp(slash, "/key", 4);
    bool revoke = rest == 7 && !strncmp(slash, "/revoke", 7);
    if (!slash || id_len == 0 || id_len >= sizeof dev || (!key && !revoke))
      return api_reply_error(resp, 404, "not_found", "no such endpoint");
    memcpy(dev, url + 12, id_len);
    dev[id_len] = '\0';
    if (revoke) {
      if (!api_method_is(req, "POST"))
        return api_method_not_allowed(resp, "POST");
      return api_device_revoke(api, req, resp, dev, subject);
    }
    if (!api_method_is(req, "DELETE"))
      return api_method_not_allowed(resp, "DELETE");
    return api_device_key_forget(api, req, resp, dev, subject);
  }
  if (audit) {
    if (!api_method_is(req, "GET"))
      return api_method_not_allowed(resp, "GET");
    return api_audit(api, req, resp, subject);
  }
  if (approvals) {
    if (!api_method_is(req, "GET"))
      return api_method_not_allowed(resp, "GET");
    return api_approval_list(api, req, resp, subject);
  }
  if (approval_item) {
    char rest[128];
    size_t n = api_path_len(url) - 14;
    if (n >= sizeof rest)
      return api_reply_error(resp, 404, "not_found", "no such request");
    memcpy(rest, url + 14, n);
    rest[n] = '\0';
    return api_approval_one(api, req, resp, rest, subject);
  }
  if (tunnels) {
    if (api_method_is(req, "POST"))
      return api_tunnel_create(api, req, resp, subject);
    if (api_method_is(req, "GET"))
      return api_tunnel_list(api, resp, subject);
    return api_method_not_allowed(resp, "GET, POST");
  }
  char id[64];
  size_t n = api_path_len(url) - 12;
  const char *slash = memchr(url + 12, '/', n);
  bool token = slash && (size_t)(url + 12 + n - slash) == 6 &&
               !strncmp(slash, "/token", 6);
  if (token)
    n = (size_t)(slash - (url + 12));
  if (n == 0 || n >= sizeof id || memchr(url + 12, '/', n))
    return api_reply_error(resp, 404, "not_found", "no such tunnel");
  memcpy(id, url + 12, n);
  id[n] = '\0';
  if (token)
    return api_tunnel_token(api, req, resp, id, subject);
  api_tunnel_one(api, req, resp, id, subject);
}
