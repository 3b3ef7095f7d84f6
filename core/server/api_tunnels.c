/* /v1/tunnels: create, list, inspect and delete tunnels, and renew a
 * tunnel's orchestration token. */
#include "server/control_api_internal.h"

#include <assert.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/errors.h>

#include "auth/device_key.h"
#include "base/clock.h"
#include "base/log.h"
#include "tunnel/store.h"

/* What a device's transport sends its server side: a small object of short
 * strings with plain keys. */
static bool device_params_ok(const json_t *params, struct http_response *resp)
{
  const char *key;
  json_t *value;
  if (!json_is_object(params) || json_object_size(params) > 16) {
    api_reply_error(resp, 400, "bad_request",
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
      api_reply_error(resp, 400, "bad_request",
                      "device_params: each key is 1-32 of [a-z0-9_] and each "
                      "value a string of at most 4096 bytes without NUL");
      return false;
    }
  }
  return true;
}

/* What a 201 create answers: the tunnel, and its orchestration token. */
json_t *api_created_reply(struct control_api *api, struct tunnel_outcome *out)
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
bool api_tunnel_request_fields(json_t *doc, struct tunnel_request *tr,
                               struct http_response *resp)
{
  static const char *const fields[] = {
      "transport", "local",         "remote",         "name",
      "device_id", "allow_ips",     "device_params",  "await_approval",
      "replace",   "tls_secret",    NULL};
  memset(tr, 0, sizeof *tr);
  if (!api_only_fields(doc, fields, resp) ||
      !api_string_field(doc, "transport", &tr->transport, resp) ||
      !api_string_field(doc, "local", &tr->local, resp) ||
      !api_string_field(doc, "remote", &tr->remote, resp) ||
      !api_string_field(doc, "name", &tr->name, resp) ||
      !api_string_field(doc, "device_id", &tr->device_id, resp) ||
      !api_string_field(doc, "allow_ips", &tr->allow_ips, resp) ||
      !api_string_field(doc, "tls_secret", &tr->tls_secret, resp))
    return false;
  const json_t *replace = json_object_get(doc, "replace");
  if (replace && !json_is_boolean(replace)) {
    api_reply_error(resp, 400, "bad_request", "replace must be true or false");
    return false;
  }
  tr->replace = json_is_true(replace);
  tr->device_params = json_object_get(doc, "device_params");
  return !tr->device_params || device_params_ok(tr->device_params, resp);
}

/* The consent flow: checked now, opened only when an administrator
 * approves (POST /v1/approvals/ID/approve). */
static void ask_approval(struct control_api *api,
                         const struct http_request *req,
                         const struct tunnel_request *tr, json_t *doc,
                         struct http_response *resp)
{
  struct tunnel_outcome out;
  if (!tunnel_service_check(api->tunnels, tr, &out))
    return api_reply_error(resp, out.status, out.code, out.message);
  json_object_del(doc, "await_approval");
  json_object_set_new(doc, "device_id", json_string(tr->device_id));
  char why[256];
  int64_t now = clock_wall_s();
  uint8_t pk[DEVICE_KEY_PUBLIC_LEN];
  char fp[DEVICE_KEY_FINGERPRINT_LEN] = "";
  if (api->store->ops->device_key_get(api->store, tr->device_id, pk, NULL) ==
      0)
    device_key_fingerprint(pk, fp);
  struct approval *ap = approvals_add(&api->approvals, tr->device_id, doc,
                                      req->peer_ip, fp, now, why, sizeof why);
  if (!ap)
    return api_reply_error(resp, 409, "approval_busy", why);
  log_info("device %s asks for a tunnel (%s %s) that waits for approval: %s",
           tr->device_id, tr->transport ? tr->transport : "websocket",
           tr->local ? tr->local : "", ap->id);
  char detail[256];
  snprintf(detail, sizeof detail, "request %s from %s, code %s: %.100s%s%.100s",
           ap->id, ap->from, ap->code, tr->local ? tr->local : "",
           tr->remote ? " -> " : "", tr->remote ? tr->remote : "");
  api_audit_event(api, "approval-requested", tr->device_id, NULL,
                  tr->device_id, detail);
  strbuf_addf(&resp->headers, "Location: /v1/approvals/%s\r\n", ap->id);
  api_reply_json(resp, 202, approval_to_json(ap, now, 0));
}

void api_tunnel_create(struct control_api *api, const struct http_request *req,
                       struct http_response *resp,
                       const struct principal *who)
{
  json_t *doc = api_body_object(req, resp);
  if (!doc)
    return;
  struct tunnel_request tr;
  if (!api_tunnel_request_fields(doc, &tr, resp)) {
    json_decref(doc);
    return;
  }
  const json_t *wait = json_object_get(doc, "await_approval");
  if (wait && !json_is_boolean(wait)) {
    json_decref(doc);
    return api_reply_error(resp, 400, "bad_request",
                           "await_approval must be true or false");
  }
  /* A device opens tunnels for itself only (the table admits devices
   * alone here). */
  assert(who->kind == PRINCIPAL_DEVICE);
  if (tr.device_id && strcmp(tr.device_id, who->name)) {
    json_decref(doc);
    return api_reply_error(resp, 403, "forbidden",
                           "device_id differs from the device that logged in");
  }
  tr.device_id = who->name;
  if (json_is_true(wait)) {
    ask_approval(api, req, &tr, doc, resp);
    json_decref(doc);
    return;
  }
  struct tunnel_outcome out;
  tunnel_service_create(api->tunnels, &tr, &out);
  json_decref(doc);
  if (out.status != 201)
    return api_reply_error(resp, out.status, out.code, out.message);
  strbuf_addf(&resp->headers, "Location: /v1/tunnels/%s\r\n",
              out.tunnel->lease->tunnel_id);
  api_reply_json(resp, 201, api_created_reply(api, &out));
}

/* A tunnel as its caller may see it: what its transport handed its device
 * (keys, such as a WireGuard preshared key) only to that device. */
static json_t *tunnel_view(struct control_api *api, const struct tunnel *t,
                           const struct principal *who)
{
  json_t *doc = tunnel_to_json(api->tunnels, t);
  if (!authz_is_device(who, t->lease->device_id))
    json_object_del(doc, "params");
  return doc;
}

/* A device sees its own tunnels; a user (or an administrator device)
 * sees every one. */
static bool may_see(const struct principal *who, const struct tunnel *t)
{
  return who->role != ROLE_NONE || authz_is_device(who, t->lease->device_id);
}

void api_tunnel_list(struct control_api *api, struct http_response *resp,
                     const struct principal *who)
{
  json_t *list = json_array();
  for (struct tunnel *t = api->tunnels->live; t; t = t->next)
    if (may_see(who, t))
      json_array_append_new(list, tunnel_view(api, t, who));
  api_reply_json(resp, 200, json_pack("{s:o}", "tunnels", list));
}

void api_tunnel_one(struct control_api *api, const struct http_request *req,
                    struct http_response *resp, const char *id,
                    const struct principal *who)
{
  struct tunnel *t = tunnel_service_find(api->tunnels, id);
  if (!t || !may_see(who, t))
    return api_reply_error(resp, 404, "not_found", "no such tunnel");
  if (api_method_is(req, "GET"))
    return api_reply_json(resp, 200, tunnel_view(api, t, who));
  if (api_method_is(req, "DELETE")) {
    /* The table let devices and operators here; a device only its own. */
    if (who->role < ROLE_OPERATOR &&
        !authz_is_device(who, t->lease->device_id))
      return api_reply_error(resp, 404, "not_found", "no such tunnel");
    char detail[192];
    snprintf(detail, sizeof detail, "deleted by %s from %s", who->actor,
             req->peer_ip);
    if (tunnel_service_delete(api->tunnels, id, "deleted", who->actor,
                              detail) != 0)
      return api_reply_error(resp, 500, "internal",
                             "the store could not release the lease");
    resp->status = 204;
    return;
  }
  api_method_not_allowed(resp, "GET, DELETE");
}

/* A fresh orchestration token for the device's own tunnel, for a
 * transport that reconnects (the one it had admitted one session). */
/* How a tunnel that is gone ended, from its last audit event. */
struct ending {
  const char *device; /* who asks: only the tunnel's own device is told */
  char event[32];
  char detail[160];
};

static int note_ending(void *arg, const struct audit_event *e)
{
  struct ending *end = arg;
  if (strcmp(e->device_id, end->device))
    return 0;
  snprintf(end->event, sizeof end->event, "%s", e->event);
  snprintf(end->detail, sizeof end->detail, "%s", e->detail);
  return 0;
}

/* 404 for a token of a tunnel that is gone; its own device also hears
 * how it ended ("ended": the audit event), so that an agent can tell an
 * expiry, which it opens again, from an administrator's delete. */
static void tunnel_gone(struct control_api *api, struct http_response *resp,
                        const char *id, const struct principal *who)
{
  struct ending end = {.device = who->name};
  if (api->store &&
      api->store->ops->audit_last(api->store, id, note_ending, &end) == 0 &&
      end.event[0] && strcmp(end.event, "created")) {
    char msg[256];
    snprintf(msg, sizeof msg, "tunnel %s ended: %s%s%s", id, end.event,
             end.detail[0] ? ", " : "", end.detail);
    json_t *doc = json_pack("{s:{s:s,s:s},s:s}", "error", "code",
                            "tunnel_ended", "message", msg, "ended",
                            end.event);
    return api_reply_json(resp, 404, doc);
  }
  api_reply_error(resp, 404, "not_found", "no such tunnel");
}

void api_tunnel_token(struct control_api *api, const struct http_request *req,
                      struct http_response *resp, const char *id,
                      const struct principal *who)
{
  if (!api_method_is(req, "POST"))
    return api_method_not_allowed(resp, "POST");
  assert(who->kind == PRINCIPAL_DEVICE); /* the table admits no one else */
  struct tunnel *t = tunnel_service_find(api->tunnels, id);
  if (!t)
    return tunnel_gone(api, resp, id, who);
  if (!authz_is_device(who, t->lease->device_id))
    return api_reply_error(resp, 403, "forbidden",
                           "only the tunnel's device may renew its token");
  char *token = tunnel_service_token(api->tunnels, t);
  if (!token)
    return api_reply_error(resp, 500, "internal", "cannot issue a token");
  api_reply_json(resp, 200,
                 json_pack("{s:s,s:i}", "token", token, "expires_in",
                           ORCHESTRATION_TTL_S));
  free(token);
}
