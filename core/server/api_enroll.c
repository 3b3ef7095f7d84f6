/* Enrollment strings (auth/enrollment.h):
 *   POST /v1/devices  {"id","class"?,"expires_in"?}  an administrator makes
 *                     one for a device id: 201 with the string, shown once
 *   POST /v1/enroll   {"device_id","token","device_key","device_sig"}  the
 *                     device uses it, once, over TLS: its key is bound to
 *                     the id, and from then on it logs in with that key
 *                     alone (the "key" step of /v1/login). */
#include "server/control_api_internal.h"

#include <jansson.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include <weft/errors.h>

#include "auth/acl.h"
#include "auth/acl_overrides.h"
#include "auth/crypto.h"
#include "auth/device_key.h"
#include "auth/enrollment.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/names.h"
#include "tunnel/store.h"

#define ENROLL_DEFAULT_S 3600
#define ENROLL_MAX_S (30 * 24 * 3600)

void api_device_add(struct control_api *api, const struct http_request *req,
                    struct http_response *resp, const struct principal *who)
{
  static const char *const fields[] = {"id", "class", "expires_in", NULL};
  json_t *doc = api_body_object(req, resp);
  const char *id = NULL, *cls = NULL;
  if (!doc)
    return;
  if (!api_only_fields(doc, fields, resp) ||
      !api_string_field(doc, "id", &id, resp) ||
      !api_string_field(doc, "class", &cls, resp)) {
    json_decref(doc);
    return;
  }
  json_t *exp = json_object_get(doc, "expires_in");
  json_int_t secs = exp ? json_integer_value(exp) : ENROLL_DEFAULT_S;
  struct enrollment e = {0};
  char err[160] = "";
  if (!id || !name_is_plain(id, sizeof e.device_id - 1))
    snprintf(err, sizeof err, "id: a device id is 1-63 letters, digits, "
                              "'.', '_' or '-'");
  else if (exp && (!json_is_integer(exp) || secs < 1 || secs > ENROLL_MAX_S))
    snprintf(err, sizeof err, "expires_in: seconds, from 1 to %d",
             ENROLL_MAX_S);
  else if (cls && !acl_policy_has_class(api->tunnels->acl, cls))
    snprintf(err, sizeof err, "class: weft.conf has no [class \"%.64s\"]",
             cls);
  char class_name[64] = "";
  if (!err[0]) {
    snprintf(e.device_id, sizeof e.device_id, "%s", id);
    snprintf(class_name, sizeof class_name, "%s", cls ? cls : "");
  }
  json_decref(doc);
  if (err[0])
    return api_reply_error(resp, 400, "bad_request", err);
  uint8_t key[DEVICE_KEY_PUBLIC_LEN];
  if (api->store->ops->device_key_get(api->store, e.device_id, key, NULL) ==
      0)
    return api_reply_error(resp, 409, "device_enrolled",
                           "that device id is bound to a key already "
                           "(weft admin forget-key ID frees it)");
  if (!api->enroll_at[0] || !api->spki_pin[0] ||
      hostport_parse(api->enroll_at, &e.host_kind, e.host, sizeof e.host,
                     &e.port, err, sizeof err) != 0)
    return api_reply_error(resp, 501, "not_built",
                           "this server has no TLS address to enroll at");
  snprintf(e.pin, sizeof e.pin, "%s", api->spki_pin);
  uint8_t hash[32];
  crypto_random(e.token, sizeof e.token);
  SHA256(e.token, sizeof e.token, hash);
  int64_t expires = clock_wall_s() + secs;
  char text[ENROLL_TEXT_MAX];
  if (enrollment_format(&e, text, sizeof text) != 0 ||
      api->store->ops->enrollment_put(api->store, e.device_id, hash,
                                      class_name, expires) != 0) {
    crypto_wipe(&e, sizeof e);
    return api_reply_error(resp, 500, "internal", "the store failed");
  }
  char detail[160];
  snprintf(detail, sizeof detail, "enrollment string made%s%s, for %lld s",
           class_name[0] ? " for class " : "", class_name, (long long)secs);
  api_audit_event(api, "enrollment-created", e.device_id, NULL, who->actor,
                  detail);
  log_info("device %s: %s by %s", e.device_id, detail, who->actor);
  api_reply_json(resp, 201,
                 json_pack("{s:s,s:s,s:I}", "id", e.device_id, "enrollment",
                           text, "expires_at", (json_int_t)expires));
  crypto_wipe(text, sizeof text);
  crypto_wipe(&e, sizeof e);
}

/* One answer for every refused enrollment (which check failed stays in
 * the log and the audit trail), counted as a failed login. */
static void enroll_refused(struct control_api *api,
                           const struct http_request *req,
                           struct http_response *resp, const char *device_id,
                           const char *why)
{
  login_server_note_failure(api->login, req->peer_ip);
  char detail[200];
  snprintf(detail, sizeof detail, "enrollment from %s refused: %s",
           req->peer_ip, why);
  if (device_id)
    api_audit_event(api, "enrollment-refused", device_id, NULL, NULL, detail);
  log_info("device %s: %s", device_id ? device_id : "?", detail);
  api_reply_error(resp, 403, "enrollment_refused",
                  "this enrollment string is not valid: it was used, it "
                  "expired, or it is not for this device (ask for a new "
                  "one: weft device add ID)");
}

void api_enroll(struct control_api *api, const struct http_request *req,
                struct http_response *resp)
{
  if (!api_method_is(req, "POST"))
    return api_method_not_allowed(resp, "POST");
  uint64_t wait = 0;
  if (login_server_blocked(api->login, req->peer_ip, &wait)) {
    api_reply_error(resp, 429, "rate_limited",
                    "too many attempts; wait and try again");
    return api_retry_after(resp, wait);
  }
  if (!req->tls || !req->binding_len)
    return api_reply_error(resp, 403, "tls_required",
                           "enrollment is over TLS only");
  json_error_t error;
  json_t *doc = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES,
                           &error);
  uint8_t token[ENROLL_TOKEN_LEN], pk[DEVICE_KEY_PUBLIC_LEN],
      sig[DEVICE_KEY_SIG_LEN];
  const char *device =
      doc ? json_string_value(json_object_get(doc, "device_id")) : NULL;
  char device_id[64] = "";
  bool ok = doc && json_is_object(doc) && device &&
            name_is_plain(device, sizeof device_id - 1) &&
            api_fixed_b64(doc, "token", token, sizeof token) &&
            api_fixed_b64(doc, "device_key", pk, sizeof pk) &&
            api_fixed_b64(doc, "device_sig", sig, sizeof sig);
  if (ok)
    snprintf(device_id, sizeof device_id, "%s", device);
  json_decref(doc);
  if (!ok)
    return enroll_refused(api, req, resp, NULL, "a malformed request");
  uint8_t msg[256], hash[32];
  size_t n = device_key_enroll_message(token, sizeof token, req->binding,
                                       req->binding_len, device_id, msg,
                                       sizeof msg);
  if (!n || device_key_verify(pk, msg, n, sig) != 0)
    return enroll_refused(api, req, resp, device_id,
                          "its key's signature does not match");
  SHA256(token, sizeof token, hash);
  crypto_wipe(token, sizeof token);
  char class_name[64];
  int64_t expires = 0;
  if (api->store->ops->enrollment_take(api->store, device_id, hash,
                                       class_name, &expires) != 0)
    return enroll_refused(api, req, resp, device_id,
                          "no enrollment of that device has that token (used, "
                          "replaced, or never made)");
  if (expires <= clock_wall_s())
    return enroll_refused(api, req, resp, device_id, "the string expired");
  int rc = api->store->ops->device_key_bind(api->store, device_id, pk,
                                            clock_wall_s());
  if (rc != 0)
    return enroll_refused(api, req, resp, device_id,
                          rc == WEFT_EEXIST ? "the id is bound to a key already"
                                            : "the store failed");
  if (class_name[0]) {
    const char *text[ACL_OV_COUNT] = {0};
    const struct acl_override *ov =
        acl_overrides_find(api->acl_overrides, device_id);
    for (int i = 0; ov && i < ACL_OV_COUNT; i++)
      text[i] = ov->text[i];
    text[ACL_OV_CLASS] = class_name;
    if (api->store->ops->device_acl_put(api->store, device_id, text,
                                        clock_wall_s()) == 0)
      acl_overrides_set(api->acl_overrides, device_id, ACL_OV_CLASS,
                        class_name);
  }
  char fp[DEVICE_KEY_FINGERPRINT_LEN], detail[320];
  device_key_fingerprint(pk, fp);
  snprintf(detail, sizeof detail,
           "bound to key %s with an enrollment string, from %s%s%s", fp,
           req->peer_ip, class_name[0] ? ", class " : "", class_name);
  api_audit_event(api, "device-enrolled", device_id, NULL, device_id, detail);
  log_info("device %s enrolled: %s", device_id, detail);
  login_server_note_success(api->login, req->peer_ip);
  api_reply_json(resp, 200,
                 json_pack("{s:s,s:s}", "device_id", device_id,
                           "key_fingerprint", fp));
}
