#include "server/control_api.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <weft/errors.h>

#include "base/clock.h"
#include "auth/crypto.h"
#include "auth/jwt.h"
#include "base/log.h"
#include "plugin/plugin_registry.h"
#include "tunnel/store.h"
#include "ingress/tls_ingress.h"
#include "net/stream.h"

/* ---- small helpers ---- */

static void reply_json(struct http_response *resp, int status, json_t *doc)
{
  resp->status = status;
  resp->content_type = "application/json";
  char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  if (text)
    strbuf_addf(&resp->body, "%s\n", text);
  else
    http_response_error(resp, 500, "internal", "out of memory");
  free(text);
  json_decref(doc);
}

static void reply_error(struct http_response *resp, int status,
                        const char *code, const char *message)
{
  http_response_error(resp, status, code, message);
}

static void retry_after(struct http_response *resp, uint64_t ms)
{
  strbuf_addf(&resp->headers, "Retry-After: %llu\r\n",
              (unsigned long long)((ms + 999) / 1000));
}

/* The request target's path, without the query string. */
static size_t path_len(const char *url) { return strcspn(url, "?#"); }

static bool path_is(const char *url, const char *path)
{
  size_t n = path_len(url);
  return n == strlen(path) && !strncmp(url, path, n);
}

static bool method_is(const struct http_request *req, const char *m)
{
  return !strcmp(req->method, m);
}

static void method_not_allowed(struct http_response *resp, const char *allow)
{
  reply_error(resp, 405, "method_not_allowed", "method not allowed here");
  strbuf_addf(&resp->headers, "Allow: %s\r\n", allow);
}

/* Parses the body as one JSON object; replies 400 and returns NULL if not. */
static json_t *body_object(const struct http_request *req,
                           struct http_response *resp)
{
  json_error_t error;
  json_t *doc = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES,
                           &error);
  if (!doc || !json_is_object(doc)) {
    char msg[300];
    if (doc)
      snprintf(msg, sizeof msg, "the body must be a JSON object");
    else
      snprintf(msg, sizeof msg, "the body is not JSON: %s (line %d, column %d)",
               error.text, error.line, error.column);
    json_decref(doc);
    reply_error(resp, 400, "bad_request", msg);
    return NULL;
  }
  return doc;
}

/* Refuses members outside `allowed`, so a typo is an error, not ignored. */
static bool only_fields(json_t *doc, const char *const *allowed,
                        struct http_response *resp)
{
  const char *key;
  json_t *value;
  json_object_foreach(doc, key, value)
  {
    bool ok = false;
    for (size_t i = 0; allowed[i]; i++)
      ok |= !strcmp(allowed[i], key);
    if (!ok) {
      char msg[200];
      snprintf(msg, sizeof msg, "unknown field '%.64s'", key);
      reply_error(resp, 400, "bad_request", msg);
      return false;
    }
  }
  return true;
}

/* A string member, or NULL; replies 400 if present but not a string. */
static bool string_field(json_t *doc, const char *name, const char **out,
                         struct http_response *resp)
{
  json_t *v = json_object_get(doc, name);
  *out = NULL;
  if (!v || json_is_null(v))
    return true;
  if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
    char msg[128];
    snprintf(msg, sizeof msg, "'%s' must be a string", name);
    reply_error(resp, 400, "bad_request", msg);
    return false;
  }
  *out = json_string_value(v);
  return true;
}

static bool fixed_b64(json_t *doc, const char *name, uint8_t *out, size_t len)
{
  const char *text = json_string_value(json_object_get(doc, name));
  size_t n;
  return text && b64url_decode(text, strlen(text), out, len, &n) == 0 &&
         n == len;
}

static char *b64_text(const uint8_t *bin, size_t len, char *buf, size_t size)
{
  b64url_encode(bin, len, buf, size);
  return buf;
}

/* ---- login ---- */

/* A malformed request: denied like a failed one, and counted as one. */
static void login_malformed(struct control_api *api,
                            const struct http_request *req,
                            struct http_response *resp);

static void login_denied(struct control_api *api, struct http_response *resp)
{
  api->stats.logins_denied++;
  reply_error(resp, 401, "auth_failed", "authentication failed");
}

static void login_limited(struct control_api *api, struct http_response *resp,
                          uint64_t ms)
{
  api->stats.logins_limited++;
  reply_error(resp, 429, "rate_limited",
              "too many attempts; wait and try again");
  retry_after(resp, ms);
}

static void login_malformed(struct control_api *api,
                            const struct http_request *req,
                            struct http_response *resp)
{
  login_server_note_failure(api->login, req->peer_ip);
  login_denied(api, resp);
}

static void handle_login(struct control_api *api,
                         const struct http_request *req,
                         struct http_response *resp)
{
  if (!method_is(req, "POST"))
    return method_not_allowed(resp, "POST");
  uint64_t wait = 0;
  if (login_server_blocked(api->login, req->peer_ip, &wait))
    return login_limited(api, resp, wait);
  json_error_t error;
  json_t *doc = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES,
                           &error);
  int secret_id;
  const struct secret *secret =
      api->secret_for(api->secret_ctx, req->local_ip, &secret_id);
  json_t *version = doc ? json_object_get(doc, "version") : NULL;
  const char *step = doc ? json_string_value(json_object_get(doc, "step"))
                         : NULL;
  /* Every malformed or failed login gets the same answer. */
  if (!doc || !json_is_object(doc) || !secret || !json_is_integer(version) ||
      json_integer_value(version) != LOGIN_VERSION || !step) {
    json_decref(doc);
    return login_malformed(api, req, resp);
  }
  uint64_t retry = 0;
  if (!strcmp(step, "challenge")) {
    uint8_t nc[LOGIN_NONCE_LEN], ns[LOGIN_NONCE_LEN], proof[LOGIN_SEALED_LEN];
    if (!fixed_b64(doc, "client_nonce", nc, sizeof nc)) {
      json_decref(doc);
      return login_malformed(api, req, resp);
    }
    json_decref(doc);
    int rc = login_server_challenge(api->login, secret, secret_id,
                                    req->peer_ip, nc, req->binding,
                                    req->binding_len, ns, proof, &retry);
    if (rc == LOGIN_RATE_LIMITED || rc == LOGIN_BUSY)
      return login_limited(api, resp, retry);
    if (rc != LOGIN_OK)
      return login_denied(api, resp);
    char ns_text[64], proof_text[128];
    return reply_json(
        resp, 200,
        json_pack("{s:i,s:s,s:s}", "version", LOGIN_VERSION, "server_nonce",
                  b64_text(ns, sizeof ns, ns_text, sizeof ns_text), "proof",
                  b64_text(proof, sizeof proof, proof_text,
                           sizeof proof_text)));
  }
  if (!strcmp(step, "answer")) {
    uint8_t ns[LOGIN_NONCE_LEN], answer[LOGIN_SEALED_LEN];
    const char *device = json_string_value(json_object_get(doc, "device_id"));
    char device_id[64];
    bool ok = fixed_b64(doc, "server_nonce", ns, sizeof ns) &&
              fixed_b64(doc, "answer", answer, sizeof answer) && device &&
              strlen(device) < sizeof device_id;
    if (ok)
      snprintf(device_id, sizeof device_id, "%s", device);
    json_decref(doc);
    if (!ok)
      return login_malformed(api, req, resp);
    for (const char *c = device_id; *c; c++)
      if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
            (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.'))
        return login_malformed(api, req, resp);
    int rc = login_server_verify(api->login, secret, secret_id, req->peer_ip,
                                 ns, answer, sizeof answer, req->binding,
                                 req->binding_len, &retry);
    if (rc == LOGIN_RATE_LIMITED)
      return login_limited(api, resp, retry);
    if (rc != LOGIN_OK || !device_id[0]) {
      log_info("login from %s refused", req->peer_ip);
      return login_denied(api, resp);
    }
    char *token;
    if (tokens_issue_session(api->tokens, device_id,
                             api->per_ip ? req->local_ip : NULL,
                             clock_wall_s(), &token) != 0)
      return reply_error(resp, 500, "internal", "cannot issue a session");
    api->stats.logins_ok++;
    log_info("device %s logged in from %s (%s)", device_id, req->peer_ip,
             req->tls ? "TLS, channel bound" : "plain HTTP");
    json_t *reply = json_pack("{s:s,s:s,s:i}", "token", token, "device_id",
                              device_id, "expires_in", SESSION_TTL_S);
    free(token);
    return reply_json(resp, 200, reply);
  }
  json_decref(doc);
  login_malformed(api, req, resp);
}

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
                              clock_wall_s(), subject, len) == JWT_OK)
      return true;
  }
  api->stats.unauthorized++;
  reply_error(resp, 401, "unauthorized",
              "a valid session token is required: log in with POST /v1/login");
  strbuf_addf(&resp->headers, "WWW-Authenticate: Bearer realm=\"weft\"\r\n");
  return false;
}

/* ---- tunnels ---- */

/* What a device's transport sends its server side: a small object of short
 * strings with plain keys. */
static bool device_params_ok(const json_t *params, struct http_response *resp)
{
  const char *key;
  json_t *value;
  if (!json_is_object(params) || json_object_size(params) > 16) {
    reply_error(resp, 400, "bad_request",
                "device_params must be an object of at most 16 strings");
    return false;
  }
  json_object_foreach((json_t *)params, key, value)
  {
    size_t n = strlen(key);
    bool plain = n >= 1 && n <= 32;
    for (size_t i = 0; plain && i < n; i++)
      plain = (key[i] >= 'a' && key[i] <= 'z') ||
              (key[i] >= '0' && key[i] <= '9') || key[i] == '_';
    if (!plain || !json_is_string(value) ||
        json_string_length(value) > 4096 ||
        strlen(json_string_value(value)) != json_string_length(value)) {
      reply_error(resp, 400, "bad_request",
                  "device_params: each key is 1-32 of [a-z0-9_] and each "
                  "value a string of at most 4096 bytes without NUL");
      return false;
    }
  }
  return true;
}

/* What a 201 create answers: the tunnel, and its orchestration token. */
static json_t *created_reply(struct control_api *api,
                             struct tunnel_outcome *out)
{
  json_t *reply = tunnel_to_json(api->tunnels, out->tunnel);
  json_object_set_new(reply, "token", json_string(out->token));
  json_object_set_new(reply, "token_expires_in",
                      json_integer(ORCHESTRATION_TTL_S));
  free(out->token);
  out->token = NULL;
  return reply;
}

/* A create body's fields into tr (strings point into doc). */
static bool request_fields(json_t *doc, struct tunnel_request *tr,
                           struct http_response *resp)
{
  static const char *const fields[] = {
      "transport", "local",         "remote",         "name",
      "device_id", "allow_ips",     "device_params",  "await_approval",
      "replace",   NULL};
  memset(tr, 0, sizeof *tr);
  if (!only_fields(doc, fields, resp) ||
      !string_field(doc, "transport", &tr->transport, resp) ||
      !string_field(doc, "local", &tr->local, resp) ||
      !string_field(doc, "remote", &tr->remote, resp) ||
      !string_field(doc, "name", &tr->name, resp) ||
      !string_field(doc, "device_id", &tr->device_id, resp) ||
      !string_field(doc, "allow_ips", &tr->allow_ips, resp))
    return false;
  const json_t *replace = json_object_get(doc, "replace");
  if (replace && !json_is_boolean(replace)) {
    reply_error(resp, 400, "bad_request", "replace must be true or false");
    return false;
  }
  tr->replace = json_is_true(replace);
  tr->device_params = json_object_get(doc, "device_params");
  return !tr->device_params || device_params_ok(tr->device_params, resp);
}

/* The consent flow: checked now, opened only when an administrator
 * approves (POST /v1/approvals/ID/approve). */
static void ask_approval(struct control_api *api,
                         const struct tunnel_request *tr, json_t *doc,
                         struct http_response *resp)
{
  struct tunnel_outcome out;
  if (!tunnel_service_check(api->tunnels, tr, &out))
    return reply_error(resp, out.status, out.code, out.message);
  json_object_del(doc, "await_approval");
  json_object_set_new(doc, "device_id", json_string(tr->device_id));
  char why[256];
  int64_t now = clock_wall_s();
  struct approval *ap =
      approvals_add(&api->approvals, tr->device_id, doc, now, why, sizeof why);
  if (!ap)
    return reply_error(resp, 409, "approval_busy", why);
  log_info("device %s asks for a tunnel (%s %s) that waits for approval: %s",
           tr->device_id, tr->transport ? tr->transport : "websocket",
           tr->local ? tr->local : "", ap->id);
  strbuf_addf(&resp->headers, "Location: /v1/approvals/%s\r\n", ap->id);
  reply_json(resp, 202, approval_to_json(ap, now, 0));
}

static void create_tunnel(struct control_api *api,
                          const struct http_request *req,
                          struct http_response *resp, const char *subject)
{
  json_t *doc = body_object(req, resp);
  if (!doc)
    return;
  struct tunnel_request tr;
  if (!request_fields(doc, &tr, resp)) {
    json_decref(doc);
    return;
  }
  const json_t *wait = json_object_get(doc, "await_approval");
  if (wait && !json_is_boolean(wait)) {
    json_decref(doc);
    return reply_error(resp, 400, "bad_request",
                       "await_approval must be true or false");
  }
  /* A device opens tunnels for itself only. */
  if (tr.device_id && strcmp(tr.device_id, subject)) {
    json_decref(doc);
    return reply_error(resp, 403, "forbidden",
                       "device_id differs from the device that logged in");
  }
  tr.device_id = subject;
  if (json_is_true(wait)) {
    ask_approval(api, &tr, doc, resp);
    json_decref(doc);
    return;
  }
  struct tunnel_outcome out;
  tunnel_service_create(api->tunnels, &tr, &out);
  json_decref(doc);
  if (out.status != 201)
    return reply_error(resp, out.status, out.code, out.message);
  strbuf_addf(&resp->headers, "Location: /v1/tunnels/%s\r\n",
              out.tunnel->lease->tunnel_id);
  reply_json(resp, 201, created_reply(api, &out));
}

/* An administrator: a device id in [server] admins, calling from the
 * server's own host. Every device holds the connection secret and names
 * itself at login, so the id alone would let any device approve its own
 * request; the host it calls from it cannot choose. */
static bool admin_here(const struct control_api *api,
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

/* ---- approvals ---- */

static void list_approvals(struct control_api *api,
                           const struct http_request *req,
                           struct http_response *resp, const char *subject)
{
  int64_t now = clock_wall_s();
  approvals_expire(&api->approvals, now);
  bool admin = admin_here(api, req, subject);
  json_t *list = json_array();
  for (struct approval *ap = api->approvals.head; ap; ap = ap->next)
    if (admin || !strcmp(ap->device_id, subject))
      json_array_append_new(list, approval_to_json(ap, now, 0));
  reply_json(resp, 200, json_pack("{s:o}", "approvals", list));
}

static void decide(struct control_api *api, struct approval *ap, bool approve,
                   const char *subject, struct http_response *resp)
{
  int64_t now = clock_wall_s();
  if (ap->state != APPROVAL_PENDING)
    return reply_error(resp, 409, "already_decided",
                       "this request was already decided");
  snprintf(ap->decided_by, sizeof ap->decided_by, "%s", subject);
  ap->decided_at = now;
  if (!approve) {
    ap->state = APPROVAL_DENIED;
    snprintf(ap->message, sizeof ap->message, "denied by %s", subject);
    log_info("approval %s for device %s denied by %s", ap->id, ap->device_id,
             subject);
    return reply_json(resp, 200, approval_to_json(ap, now, 0));
  }
  struct tunnel_request tr;
  struct http_response scratch = {0};
  request_fields(ap->request, &tr, &scratch); /* checked when it came */
  strbuf_free(&scratch.body);
  strbuf_free(&scratch.headers);
  tr.device_id = ap->device_id;
  struct tunnel_outcome out;
  tunnel_service_create(api->tunnels, &tr, &out);
  if (out.status != 201) {
    ap->state = APPROVAL_FAILED;
    snprintf(ap->message, sizeof ap->message, "approved by %.63s, but: %.512s",
             subject, out.message);
    return reply_error(resp, out.status, out.code, out.message);
  }
  ap->state = APPROVAL_APPROVED;
  ap->tunnel = created_reply(api, &out);
  log_info("approval %s for device %s granted by %s: tunnel %s", ap->id,
           ap->device_id, subject, out.tunnel->lease->tunnel_id);
  json_t *doc = approval_to_json(ap, now, 0);
  json_object_set_new(doc, "tunnel_id",
                      json_string(out.tunnel->lease->tunnel_id));
  reply_json(resp, 200, doc);
}

/* /v1/approvals/ID[/approve|/deny] */
static void one_approval(struct control_api *api,
                         const struct http_request *req,
                         struct http_response *resp, const char *rest,
                         const char *subject)
{
  approvals_expire(&api->approvals, clock_wall_s());
  char id[32];
  size_t n = strcspn(rest, "/");
  const char *action = rest[n] ? rest + n + 1 : NULL;
  if (n == 0 || n >= sizeof id)
    return reply_error(resp, 404, "not_found", "no such request");
  memcpy(id, rest, n);
  id[n] = '\0';
  struct approval *ap = approvals_find(&api->approvals, id);
  bool admin = admin_here(api, req, subject);
  if (action && !admin) /* the same answer whether or not ID exists */
    return reply_error(resp, 403, "forbidden",
                       "only an administrator ([server] admins, on the "
                       "server's own host) decides");
  bool owner = ap && !strcmp(ap->device_id, subject);
  if (!ap || (!admin && !owner))
    return reply_error(resp, 404, "not_found",
                       "no such request (it expired, was withdrawn, or the "
                       "server restarted: ask again)");
  if (action) {
    bool approve = !strcmp(action, "approve");
    if (!approve && strcmp(action, "deny"))
      return reply_error(resp, 404, "not_found", "no such endpoint");
    if (!method_is(req, "POST"))
      return method_not_allowed(resp, "POST");
    if (owner)
      return reply_error(resp, 403, "forbidden",
                         "a device does not approve its own tunnel");
    return decide(api, ap, approve, subject, resp);
  }
  if (method_is(req, "GET"))
    return reply_json(resp, 200,
                      approval_to_json(ap, clock_wall_s(), owner));
  if (method_is(req, "DELETE")) { /* withdrawn by its device, or dropped */
    log_info("approval %s withdrawn by %s", ap->id, subject);
    approvals_remove(&api->approvals, ap);
    resp->status = 204;
    return;
  }
  method_not_allowed(resp, "GET, DELETE");
}

/* A tunnel as others see it: what its transport handed its device (keys,
 * such as a WireGuard preshared key) only to that device. */
static json_t *tunnel_view(struct control_api *api, const struct tunnel *t,
                           const char *subject)
{
  json_t *doc = tunnel_to_json(api->tunnels, t);
  if (strcmp(t->lease->device_id, subject))
    json_object_del(doc, "params");
  return doc;
}

static void list_tunnels(struct control_api *api, struct http_response *resp,
                         const char *subject)
{
  json_t *list = json_array();
  for (struct tunnel *t = api->tunnels->live; t; t = t->next)
    json_array_append_new(list, tunnel_view(api, t, subject));
  reply_json(resp, 200, json_pack("{s:o}", "tunnels", list));
}

static void one_tunnel(struct control_api *api, const struct http_request *req,
                       struct http_response *resp, const char *id,
                       const char *subject)
{
  struct tunnel *t = tunnel_service_find(api->tunnels, id);
  if (!t)
    return reply_error(resp, 404, "not_found", "no such tunnel");
  if (method_is(req, "GET"))
    return reply_json(resp, 200, tunnel_view(api, t, subject));
  if (method_is(req, "DELETE")) {
    if (strcmp(t->lease->device_id, subject) && !admin_here(api, req, subject))
      return reply_error(resp, 403, "forbidden",
                         "only the tunnel's own device, or an administrator "
                         "on the server's host, ends it");
    char detail[128];
    snprintf(detail, sizeof detail, "deleted by %s from %s", subject,
             req->peer_ip);
    if (tunnel_service_delete(api->tunnels, id, "deleted", detail) != 0)
      return reply_error(resp, 500, "internal",
                         "the store could not release the lease");
    resp->status = 204;
    return;
  }
  method_not_allowed(resp, "GET, DELETE");
}

/* A fresh orchestration token for the device's own tunnel, for a
 * transport that reconnects (the one it had admitted one session). */
static void renew_token(struct control_api *api, const struct http_request *req,
                        struct http_response *resp, const char *id,
                        const char *subject)
{
  if (!method_is(req, "POST"))
    return method_not_allowed(resp, "POST");
  struct tunnel *t = tunnel_service_find(api->tunnels, id);
  if (!t)
    return reply_error(resp, 404, "not_found", "no such tunnel");
  if (strcmp(t->lease->device_id, subject))
    return reply_error(resp, 403, "forbidden",
                       "only the tunnel's device may renew its token");
  char *token = tunnel_service_token(api->tunnels, t);
  if (!token)
    return reply_error(resp, 500, "internal", "cannot issue a token");
  reply_json(resp, 200,
             json_pack("{s:s,s:i}", "token", token, "expires_in",
                       ORCHESTRATION_TTL_S));
  free(token);
}

static int audit_to_json(void *arg, const struct audit_event *e)
{
  json_t *list = arg;
  json_t *item = json_pack("{s:I,s:I,s:s}", "seq", (json_int_t)e->seq, "at",
                           (json_int_t)e->at, "event", e->event);
  if (e->tunnel_id[0])
    json_object_set_new(item, "tunnel_id", json_string(e->tunnel_id));
  if (e->device_id[0])
    json_object_set_new(item, "device_id", json_string(e->device_id));
  if (e->detail[0])
    json_object_set_new(item, "detail", json_string(e->detail));
  json_array_append_new(list, item);
  return 0;
}

static void audit_log(struct control_api *api, const struct http_request *req,
                      struct http_response *resp)
{
  long limit = 100;
  const char *q = strstr(req->url, "limit=");
  if (q)
    limit = strtol(q + 6, NULL, 10);
  if (limit < 1 || limit > 1000)
    return reply_error(resp, 400, "bad_request", "limit must be 1-1000");
  json_t *list = json_array();
  api->store->ops->audit_each(api->store, (size_t)limit, audit_to_json, list);
  reply_json(resp, 200, json_pack("{s:o}", "events", list));
}

/* ---- metrics ---- */

static void metrics(struct control_api *api, const struct http_request *req,
                    struct http_response *resp)
{
  uint8_t addr[16];
  if (addr_parse(req->peer_ip, addr) != 0 ||
      !prefix_list_has(&api->metrics_allow, addr))
    return reply_error(resp, 403, "forbidden",
                       "metrics are not open to your address");
  const struct tunnel_stats *t = &api->tunnels->stats;
  struct strbuf *b = &resp->body;
  resp->status = 200;
  resp->content_type = "text/plain; version=0.0.4";
  strbuf_addf(b, "# HELP weft_build_info Weft version.\n"
                 "# TYPE weft_build_info gauge\n"
                 "weft_build_info{version=\"%s\"} 1\n",
              api->version);
  strbuf_addf(b, "# HELP weft_tunnels_live Tunnels holding a lease.\n"
                 "# TYPE weft_tunnels_live gauge\n"
                 "weft_tunnels_live %zu\n",
              api->tunnels->leases.count);
  strbuf_addf(b,
              "# HELP weft_tunnels_total Tunnels ended or refused, by how.\n"
              "# TYPE weft_tunnels_total counter\n"
              "weft_tunnels_total{outcome=\"created\"} %llu\n"
              "weft_tunnels_total{outcome=\"deleted\"} %llu\n"
              "weft_tunnels_total{outcome=\"expired\"} %llu\n"
              "weft_tunnels_total{outcome=\"idle_timeout\"} %llu\n"
              "weft_tunnels_total{outcome=\"refused\"} %llu\n",
              (unsigned long long)t->created, (unsigned long long)t->deleted,
              (unsigned long long)t->expired,
              (unsigned long long)t->idle_timeouts,
              (unsigned long long)t->refused);
  const struct control_stats *c = &api->stats;
  strbuf_addf(b,
              "# HELP weft_logins_total Login attempts, by result.\n"
              "# TYPE weft_logins_total counter\n"
              "weft_logins_total{result=\"ok\"} %llu\n"
              "weft_logins_total{result=\"denied\"} %llu\n"
              "weft_logins_total{result=\"rate_limited\"} %llu\n"
              "# HELP weft_control_requests_total Control API requests.\n"
              "# TYPE weft_control_requests_total counter\n"
              "weft_control_requests_total %llu\n"
              "# HELP weft_control_unauthorized_total Requests without a "
              "valid session.\n"
              "# TYPE weft_control_unauthorized_total counter\n"
              "weft_control_unauthorized_total %llu\n",
              (unsigned long long)c->logins_ok,
              (unsigned long long)c->logins_denied,
              (unsigned long long)c->logins_limited,
              (unsigned long long)c->requests,
              (unsigned long long)c->unauthorized);
  if (api->tunnels->tls) {
    const struct tls_ingress_stats *x = tls_ingress_stats(api->tunnels->tls);
    strbuf_addf(b,
                "# HELP weft_tls_connections_total Connections to the public "
                "TLS port, by where they went.\n"
                "# TYPE weft_tls_connections_total counter\n"
                "weft_tls_connections_total{route=\"passthrough\"} %llu\n"
                "weft_tls_connections_total{route=\"terminated\"} %llu\n"
                "weft_tls_connections_total{route=\"control\"} %llu\n"
                "weft_tls_connections_total{route=\"refused\"} %llu\n"
                "weft_tls_connections_total{route=\"timed_out\"} %llu\n",
                (unsigned long long)x->passthrough,
                (unsigned long long)x->terminated,
                (unsigned long long)x->control,
                (unsigned long long)x->refused,
                (unsigned long long)x->timeouts);
  }
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
        path_is(req->url, p->desc.upgrade_path)) {
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
  if (!plain_ok && !path_is(url, "/healthz") && !path_is(url, "/metrics"))
    return reply_error(resp, 403, "tls_required",
                       "this server takes the control API from your address "
                       "over TLS only: use https:// (weft clients do)");
  if (req->upgrade) {
    if (!route_upgrade(api, req, resp))
      reply_error(resp, 404, "not_found", "nothing to upgrade to here");
    return;
  }
  if (path_is(url, "/healthz")) {
    if (!method_is(req, "GET"))
      return method_not_allowed(resp, "GET");
    return reply_json(resp, 200,
                      json_pack("{s:s,s:s}", "status", "ok", "version",
                                api->version));
  }
  if (path_is(url, "/metrics")) {
    if (!method_is(req, "GET"))
      return method_not_allowed(resp, "GET");
    return metrics(api, req, resp);
  }
  if (path_is(url, "/v1/login"))
    return handle_login(api, req, resp);

  bool tunnels = path_is(url, "/v1/tunnels");
  bool tunnel_item = !tunnels && !strncmp(url, "/v1/tunnels/", 12);
  bool audit = path_is(url, "/v1/audit");
  bool approvals = path_is(url, "/v1/approvals");
  bool approval_item = !approvals && !strncmp(url, "/v1/approvals/", 14);
  if (!tunnels && !tunnel_item && !audit && !approvals && !approval_item)
    return reply_error(resp, 404, "not_found", "no such endpoint");
  char subject[64];
  if (!authorised(api, req, resp, subject, sizeof subject))
    return;
  if (audit) {
    if (!method_is(req, "GET"))
      return method_not_allowed(resp, "GET");
    return audit_log(api, req, resp);
  }
  if (approvals) {
    if (!method_is(req, "GET"))
      return method_not_allowed(resp, "GET");
    return list_approvals(api, req, resp, subject);
  }
  if (approval_item) {
    char rest[128];
    size_t n = path_len(url) - 14;
    if (n >= sizeof rest)
      return reply_error(resp, 404, "not_found", "no such request");
    memcpy(rest, url + 14, n);
    rest[n] = '\0';
    return one_approval(api, req, resp, rest, subject);
  }
  if (tunnels) {
    if (method_is(req, "POST"))
      return create_tunnel(api, req, resp, subject);
    if (method_is(req, "GET"))
      return list_tunnels(api, resp, subject);
    return method_not_allowed(resp, "GET, POST");
  }
  char id[64];
  size_t n = path_len(url) - 12;
  const char *slash = memchr(url + 12, '/', n);
  bool token = slash && (size_t)(url + 12 + n - slash) == 6 &&
               !strncmp(slash, "/token", 6);
  if (token)
    n = (size_t)(slash - (url + 12));
  if (n == 0 || n >= sizeof id || memchr(url + 12, '/', n))
    return reply_error(resp, 404, "not_found", "no such tunnel");
  memcpy(id, url + 12, n);
  id[n] = '\0';
  if (token)
    return renew_token(api, req, resp, id, subject);
  one_tunnel(api, req, resp, id, subject);
}
