/* /v1/devices: what the server holds about devices: the key a device id
 * is bound to (auth/device_key.h), its class, and its release (one device
 * and its ACL: api_device_acl.c):
 *   GET    /v1/devices            every device with a key
 *   POST   /v1/devices/{id}/revoke  an administrator revokes a device: its
 *                                 tunnels end at once on every transport,
 *                                 its sessions stop working, and no login
 *                                 as it succeeds until its key is forgotten
 *   DELETE /v1/devices/{id}/key   an administrator frees the id, e.g. for a
 *                                 reinstalled device that lost its key; the
 *                                 next key to log in as it is bound. */
#include "server/control_api_internal.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft/errors.h>

#include "base/clock.h"
#include "auth/acl.h"
#include "auth/device_key.h"
#include "base/log.h"
#include "base/names.h"
#include "base/str_index.h"
#include "tunnel/store.h"
#include "tunnel/tunnels.h"

/* The list is written as text, not built as a jansson tree: at 10,000
 * devices the tree and its serialisation were most of the request's time
 * (bench/devices.sh). Ids and classes are plain names (checked where they
 * come in), fingerprints hex; an id that is not plain is encoded by
 * jansson, to be safe with whatever an older store holds. */
struct listing {
  struct strbuf *body;
  const struct acl_policy *policy;
  struct str_index online; /* device ids with a session up, from tunnels */
  size_t count;
};

static int device_to_text(void *arg, const char *device_id,
                          const uint8_t public_key[32], int64_t bound_at)
{
  struct listing *l = arg;
  char fp[DEVICE_KEY_FINGERPRINT_LEN];
  device_key_fingerprint(public_key, fp);
  const char *sep = l->count++ ? "," : "";
  if (!name_is_plain(device_id, 63)) {
    json_t *odd = json_string(device_id);
    char *text = odd ? json_dumps(odd, JSON_ENCODE_ANY) : NULL;
    json_decref(odd);
    strbuf_addf(l->body, "%s{\"id\":%s,", sep, text ? text : "\"\"");
    free(text);
  } else {
    strbuf_addf(l->body, "%s{\"id\":\"%s\",", sep, device_id);
  }
  strbuf_addf(l->body,
              "\"key_fingerprint\":\"%s\",\"enrolled_at\":%lld,"
              "\"class\":\"%s\",\"online\":%s}",
              fp, (long long)bound_at, acl_class_of(l->policy, device_id),
              str_index_get(&l->online, device_id) ? "true" : "false");
  return 0;
}

void api_device_list(struct control_api *api, struct http_response *resp)
{
  struct listing l = {.body = &resp->body, .policy = api->tunnels->acl};
  str_index_init(&l.online);
  for (struct tunnel *t = api->tunnels->live; t; t = t->next)
    if (t->connected)
      str_index_add(&l.online, t->lease->device_id, t); /* (or offline) */
  strbuf_addf(&resp->body, "{\"devices\":[");
  int rc = api->store->ops->device_key_each(api->store, device_to_text, &l);
  str_index_free(&l.online);
  if (rc != 0) {
    strbuf_reset(&resp->body);
    return api_reply_error(resp, 500, "internal", "the store failed");
  }
  strbuf_addf(&resp->body, "]}\n");
  resp->status = 200;
  resp->content_type = "application/json";
}

void api_device_revoke(struct control_api *api,
                       const struct http_request *req,
                       struct http_response *resp, const char *device_id,
                       const struct principal *who)
{
  int rc = api->store->ops->device_revoke(api->store, device_id,
                                          clock_wall_s());
  if (rc == WEFT_EEXIST)
    return api_reply_error(resp, 409, "already_revoked",
                           "that device is revoked already");
  if (rc != 0)
    return api_reply_error(resp, 500, "internal", "the store failed");
  char detail[160];
  snprintf(detail, sizeof detail, "revoked by %s from %s", who->actor,
           req->peer_ip);
  /* Its tunnels end now, each on its transport (a WireGuard peer and its
   * rules, a WebSocket session...), audited one by one. */
  size_t ended = 0;
  for (;;) {
    struct lease *l = leases_find_device(&api->tunnels->leases, device_id);
    if (!l)
      break;
    char id[32];
    snprintf(id, sizeof id, "%s", l->tunnel_id);
    if (tunnel_service_delete(api->tunnels, id, "revoked", who->actor,
                              detail) != 0)
      break;
    ended++;
  }
  api_audit_event(api, "device-revoked", device_id, NULL, who->actor,
                  detail);
  log_info("device %s %s; %zu tunnel(s) ended", device_id, detail, ended);
  api_reply_json(resp, 200,
                 json_pack("{s:s,s:I}", "revoked", device_id, "tunnels_ended",
                           (json_int_t)ended));
}

void api_device_key_forget(struct control_api *api,
                           const struct http_request *req,
                           struct http_response *resp, const char *device_id,
                           const struct principal *who)
{
  int rc = api->store->ops->device_key_forget(api->store, device_id);
  if (rc == WEFT_ENOENT)
    return api_reply_error(resp, 404, "not_found",
                           "no key is bound to that device id");
  if (rc != 0)
    return api_reply_error(resp, 500, "internal", "the store failed");
  char detail[160];
  snprintf(detail, sizeof detail, "its key was forgotten by %s from %s",
           who->actor, req->peer_ip);
  api_audit_event(api, "device-key-forgotten", device_id, NULL, who->actor,
                  detail);
  log_info("device %s: %s", device_id, detail);
  resp->status = 204;
}

/* PUT /v1/devices/{id}/key by the device itself, logged in with its old
 * key: {"device_key","device_sig"}, the new key's signature over the old
 * key, this TLS channel and its id. The old key stops at once; its
 * sessions end with their expiry (they proved the old key when made). */
void api_device_key_rotate(struct control_api *api,
                           const struct http_request *req,
                           struct http_response *resp, const char *device_id,
                           const struct principal *who)
{
  if (!authz_is_device(who, device_id)) /* another's: none of its business */
    return api_reply_error(resp, 404, "not_found", "no such device");
  if (!req->tls || !req->binding_len)
    return api_reply_error(resp, 403, "tls_required",
                           "a key is rotated over TLS only");
  json_t *doc = api_body_object(req, resp);
  if (!doc)
    return;
  uint8_t pk[DEVICE_KEY_PUBLIC_LEN], sig[DEVICE_KEY_SIG_LEN],
      old[DEVICE_KEY_PUBLIC_LEN];
  bool ok = api_fixed_b64(doc, "device_key", pk, sizeof pk) &&
            api_fixed_b64(doc, "device_sig", sig, sizeof sig);
  json_decref(doc);
  if (!ok)
    return api_reply_error(resp, 400, "bad_request",
                           "device_key and device_sig, base64url");
  if (api->store->ops->device_key_get(api->store, device_id, old, NULL) != 0)
    return api_reply_error(resp, 409, "no_key",
                           "this device has no key to rotate: its next "
                           "login with one binds it");
  uint8_t msg[256];
  size_t n = device_key_rotate_message(old, req->binding, req->binding_len,
                                       device_id, msg, sizeof msg);
  if (!n || device_key_verify(pk, msg, n, sig) != 0)
    return api_reply_error(resp, 400, "bad_signature",
                           "the new key's signature does not match this "
                           "request");
  if (api->store->ops->device_key_replace(api->store, device_id, old, pk,
                                          clock_wall_s()) != 0)
    return api_reply_error(resp, 409, "key_changed",
                           "the device's key changed meanwhile");
  char was[DEVICE_KEY_FINGERPRINT_LEN], now[DEVICE_KEY_FINGERPRINT_LEN];
  char detail[200];
  device_key_fingerprint(old, was);
  device_key_fingerprint(pk, now);
  snprintf(detail, sizeof detail, "key %s replaced by %s, from %s", was, now,
           req->peer_ip);
  api_audit_event(api, "device-key-rotated", device_id, NULL, who->actor,
                  detail);
  log_info("device %s: %s", device_id, detail);
  api_reply_json(resp, 200,
                 json_pack("{s:s,s:s}", "id", device_id, "key_fingerprint",
                           now));
}
