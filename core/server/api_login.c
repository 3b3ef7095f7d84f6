/* POST /v1/login: both steps of the login (auth/login.h). */
#include "server/control_api_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/errors.h>

#include "auth/crypto.h"
#include "auth/device_key.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/names.h"
#include "telemetry/otlp.h"
#include "tunnel/store.h"

/* A malformed request: denied like a failed one, and counted as one. */
static void login_malformed(struct control_api *api,
                            const struct http_request *req,
                            struct http_response *resp);

static void login_denied(struct control_api *api, struct http_response *resp)
{
  api->stats.logins_denied++;
  api_reply_error(resp, 401, "auth_failed", "authentication failed");
}

static void login_limited(struct control_api *api, struct http_response *resp,
                          uint64_t ms)
{
  api->stats.logins_limited++;
  api_reply_error(resp, 429, "rate_limited",
                  "too many attempts; wait and try again");
  api_retry_after(resp, ms);
}

static void login_malformed(struct control_api *api,
                            const struct http_request *req,
                            struct http_response *resp)
{
  login_server_note_failure(api->login, req->peer_ip);
  login_denied(api, resp);
}

/* What a client that proved the secret is told when its device may not
 * log in: it is trusted that far, and needs to know what to do. A bad
 * signature stays the uniform refusal (code NULL). */
struct refusal {
  const char *why;   /* for the log and the audit trail */
  const char *code;  /* 403 code for the client, or NULL */
  const struct approval *ap; /* enrollment_pending: the request */
};

#define REFUSE(w, c) ((struct refusal){(w), (c), NULL})

/* What the device is told for a refusal's code: what to do about it. */
static void refusal_message(const char *code, const char *device_id,
                            const struct approval *ap, char *out, size_t len)
{
  if (!strcmp(code, "enrollment_pending") && ap) {
    snprintf(out, len,
             "device %s waits for an administrator to approve its key: "
             "request %s, verification code %s (on the server: weft admin "
             "approve %s)",
             device_id, ap->id, ap->code, ap->id);
    return;
  }
  if (!strcmp(code, "enrollment_denied")) {
    snprintf(out, len,
             "an administrator denied device %s's key; ask them before "
             "trying again",
             device_id);
    return;
  }
  if (!strcmp(code, "device_revoked"))
    snprintf(out, len,
             "device %s is revoked; an administrator must run forget-key %s "
             "before it logs in again",
             device_id, device_id);
  else if (!strcmp(code, "enrollment_closed"))
    snprintf(out, len,
             "device %s is not enrolled, and this server takes no new "
             "devices (enrollment = closed)",
             device_id);
  else
    snprintf(out, len,
             "device id %s belongs to another device's key: use another "
             "--device-id, or ask an administrator to run forget-key %s",
             device_id, device_id);
}

/* [server] enrollment = approve: a new device's key waits for an
 * administrator (weft admin approvals) instead of being bound; the device
 * asks again until it is. */
static struct refusal enrollment_request(struct control_api *api,
                                         const struct http_request *req,
                                         const char *device_id,
                                         const uint8_t *pk)
{
  char fp[DEVICE_KEY_FINGERPRINT_LEN], why[128];
  device_key_fingerprint(pk, fp);
  size_t before = api->approvals.count;
  struct approval *ap =
      approvals_enrollment(&api->approvals, device_id, pk, req->peer_ip, fp,
                           clock_wall_s(), why, sizeof why);
  if (!ap)
    return REFUSE("too many requests wait for an administrator",
                  "enrollment_pending");
  if (api->approvals.count > before) {
    char detail[200];
    snprintf(detail, sizeof detail,
             "request %s from %s to bind key %s (code %s)", ap->id,
             req->peer_ip, fp, ap->code);
    api_audit_event(api, "enrollment-requested", device_id, NULL, NULL,
                    detail);
    log_info("device %s: %s", device_id, detail);
  }
  if (ap->state == APPROVAL_DENIED)
    return REFUSE("an administrator denied its key", "enrollment_denied");
  struct refusal r = REFUSE("its key waits for an administrator",
                            "enrollment_pending");
  r.ap = ap;
  return r;
}

/* Whether device_id may log in with this key (pk NULL: it sent none),
 * once the secret is proven: why == NULL, or why not. A device id with no
 * key yet is bound to the first that signs a login as it. */
static struct refusal check_device_key(struct control_api *api,
                                       const struct http_request *req,
                                       const char *device_id,
                                       const uint8_t *nc, const uint8_t *ns,
                                       const uint8_t *pk, const uint8_t *sig)
{
  if (pk) {
    uint8_t msg[256];
    size_t n = device_key_login_message(nc, ns, LOGIN_NONCE_LEN, req->binding,
                                        req->binding_len, device_id, msg,
                                        sizeof msg);
    if (!n || device_key_verify(pk, msg, n, sig) != 0)
      return REFUSE("its device key's signature does not match this login",
                    NULL);
  }
  int revoked = api->store->ops->device_revoked(api->store, device_id);
  if (revoked)
    return revoked > 0 ? REFUSE("it is revoked", "device_revoked")
                       : REFUSE("the store cannot say whether it is revoked",
                                NULL);
  uint8_t bound[DEVICE_KEY_PUBLIC_LEN];
  int rc = api->store->ops->device_key_get(api->store, device_id, bound, NULL);
  if (rc == WEFT_ENOENT && api->enrollment_closed) {
    /* No new devices; the secret alone is the administrators' way in. */
    if (pk)
      return REFUSE("enrollment is closed and it has no key yet",
                    "enrollment_closed");
    if (!approvals_is_admin(api->admins, device_id))
      return REFUSE("enrollment is closed: the secret alone is for "
                    "administrators",
                    "enrollment_closed");
    return REFUSE(NULL, NULL);
  }
  if (rc == WEFT_ENOENT && pk && api->enrollment_approve)
    return enrollment_request(api, req, device_id, pk);
  if (rc == WEFT_ENOENT && pk) {
    rc = api->store->ops->device_key_bind(api->store, device_id, pk,
                                          clock_wall_s());
    if (rc == 0) {
      char fp[DEVICE_KEY_FINGERPRINT_LEN], detail[160];
      device_key_fingerprint(pk, fp);
      snprintf(detail, sizeof detail,
               "bound to key %s on its first login, from %s", fp,
               req->peer_ip);
      api_audit_event(api, "device-enrolled", device_id, NULL, device_id,
                      detail);
      log_info("device %s enrolled: %s", device_id, detail);
      return REFUSE(NULL, NULL);
    }
    if (rc == WEFT_EEXIST) /* another login bound it first: compare */
      rc = api->store->ops->device_key_get(api->store, device_id, bound,
                                           NULL);
  }
  if (rc == WEFT_ENOENT) /* no key to hold it to: the secret is enough */
    return REFUSE(NULL, NULL);
  if (rc != 0)
    return REFUSE("the store cannot say which key it has", NULL);
  if (!pk)
    return REFUSE("it has a device key and this login showed none",
                  "device_key_mismatch");
  if (!crypto_equal(bound, pk, DEVICE_KEY_PUBLIC_LEN))
    return REFUSE("it has another device key", "device_key_mismatch");
  return REFUSE(NULL, NULL);
}

static void issue_session(struct control_api *api,
                          const struct http_request *req,
                          struct http_response *resp, const char *device_id,
                          const char *how)
{
  char *token;
  if (tokens_issue_session(api->tokens, device_id,
                           api->per_ip ? req->local_ip : NULL, clock_wall_s(),
                           &token) != 0)
    return api_reply_error(resp, 500, "internal", "cannot issue a session");
  api->stats.logins_ok++;
  log_info("device %s logged in from %s (%s%s)", device_id, req->peer_ip,
           req->tls ? "TLS, channel bound" : "plain HTTP", how);
  /* Not an audit record (a device logs in every 30 minutes), but an
   * event of the tunnel lifecycle for OpenTelemetry. */
  char detail[128];
  snprintf(detail, sizeof detail, "from %s", req->peer_ip);
  otlp_event(api->otlp, "login", "INFO", device_id, NULL, device_id, detail);
  json_t *reply = json_pack("{s:s,s:s,s:i}", "token", token, "device_id",
                            device_id, "expires_in", SESSION_TTL_S);
  free(token);
  api_reply_json(resp, 200, reply);
}

/* Step 4 of an enrolled device, which holds its key and no secret: its
 * signature over both nonces, this TLS channel and its id, checked with
 * the key bound to the id (never binding a new one). It knows the server
 * by the certificate pinned in its enrollment string. Takes doc. */
static void key_login(struct control_api *api, const struct http_request *req,
                      struct http_response *resp, json_t *doc)
{
  uint8_t nc[LOGIN_NONCE_LEN], ns[LOGIN_NONCE_LEN], sig[DEVICE_KEY_SIG_LEN];
  uint8_t bound[DEVICE_KEY_PUBLIC_LEN];
  const char *device = json_string_value(json_object_get(doc, "device_id"));
  char device_id[64];
  bool ok = api_fixed_b64(doc, "server_nonce", ns, sizeof ns) &&
            api_fixed_b64(doc, "device_sig", sig, sizeof sig) && device &&
            name_is_plain(device, sizeof device_id - 1);
  if (ok)
    snprintf(device_id, sizeof device_id, "%s", device);
  json_decref(doc);
  if (!ok)
    return login_malformed(api, req, resp);
  uint64_t retry = 0;
  int rc = login_server_take(api->login, req->peer_ip, ns, req->binding,
                             req->binding_len, nc, &retry);
  if (rc == LOGIN_RATE_LIMITED)
    return login_limited(api, resp, retry);
  uint8_t msg[256];
  size_t n = rc == LOGIN_OK
                 ? device_key_login_message(nc, ns, LOGIN_NONCE_LEN,
                                            req->binding, req->binding_len,
                                            device_id, msg, sizeof msg)
                 : 0;
  ok = n && api->store->ops->device_key_get(api->store, device_id, bound,
                                            NULL) == 0 &&
       device_key_verify(bound, msg, n, sig) == 0;
  if (!ok) {
    if (rc == LOGIN_OK) /* (take counted a bad challenge already) */
      login_server_note_failure(api->login, req->peer_ip);
    log_info("key login as %s from %s refused", device_id, req->peer_ip);
    return login_denied(api, resp);
  }
  int revoked = api->store->ops->device_revoked(api->store, device_id);
  if (revoked) {
    char message[256];
    refusal_message("device_revoked", device_id, NULL, message,
                    sizeof message);
    api->stats.logins_denied++;
    return api_reply_error(resp, 403, "device_revoked", message);
  }
  login_server_note_success(api->login, req->peer_ip);
  issue_session(api, req, resp, device_id, ", its key alone");
}

void api_login(struct control_api *api, const struct http_request *req,
               struct http_response *resp)
{
  if (!api_method_is(req, "POST"))
    return api_method_not_allowed(resp, "POST");
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
    if (!api_fixed_b64(doc, "client_nonce", nc, sizeof nc)) {
      json_decref(doc);
      return login_malformed(api, req, resp);
    }
    json_decref(doc);
    int rc = login_server_challenge(api->login, secret, secret_id,
                                    req->peer_ip, nc, req->binding,
                                    req->binding_len, ns, proof, &retry);
    if (rc == LOGIN_RATE_LIMITED)
      return login_limited(api, resp, retry);
    if (rc != LOGIN_OK)
      return login_denied(api, resp);
    char ns_text[64], proof_text[128];
    return api_reply_json(
        resp, 200,
        json_pack(
            "{s:i,s:s,s:s}", "version", LOGIN_VERSION, "server_nonce",
            api_b64_text(ns, sizeof ns, ns_text, sizeof ns_text), "proof",
            api_b64_text(proof, sizeof proof, proof_text, sizeof proof_text)));
  }
  if (!strcmp(step, "answer")) {
    uint8_t nc[LOGIN_NONCE_LEN], ns[LOGIN_NONCE_LEN], answer[LOGIN_SEALED_LEN];
    uint8_t pk[DEVICE_KEY_PUBLIC_LEN], sig[DEVICE_KEY_SIG_LEN];
    const char *device = json_string_value(json_object_get(doc, "device_id"));
    char device_id[64];
    /* The device key is optional, but whole when given. */
    bool keyed = json_object_get(doc, "device_key") ||
                 json_object_get(doc, "device_sig");
    bool ok = api_fixed_b64(doc, "server_nonce", ns, sizeof ns) &&
              api_fixed_b64(doc, "answer", answer, sizeof answer) && device &&
              strlen(device) < sizeof device_id &&
              (!keyed || (api_fixed_b64(doc, "device_key", pk, sizeof pk) &&
                          api_fixed_b64(doc, "device_sig", sig, sizeof sig)));
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
                                 req->binding_len, nc, &retry);
    if (rc == LOGIN_RATE_LIMITED)
      return login_limited(api, resp, retry);
    if (rc != LOGIN_OK || !device_id[0]) {
      log_info("login from %s refused", req->peer_ip);
      return login_denied(api, resp);
    }
    struct refusal no = check_device_key(api, req, device_id, nc, ns,
                                         keyed ? pk : NULL, sig);
    /* A device waiting for its enrollment asks again and again: that is
     * no failure, and its request was audited once. */
    bool waiting = no.code && !strcmp(no.code, "enrollment_pending");
    if (no.why && !waiting) {
      char detail[200];
      snprintf(detail, sizeof detail, "login from %s refused: %s",
               req->peer_ip, no.why);
      /* No actor: nobody proved to be anyone. */
      api_audit_event(api, "login-refused", device_id, NULL, NULL, detail);
      log_info("device %s: %s", device_id, detail);
      login_server_note_failure(api->login, req->peer_ip);
    }
    if (no.why) {
      if (!no.code)
        return login_denied(api, resp);
      api->stats.logins_denied++;
      char message[256];
      refusal_message(no.code, device_id, no.ap, message, sizeof message);
      return api_reply_error(resp, 403, no.code, message);
    }
    return issue_session(api, req, resp, device_id, "");
  }
  if (!strcmp(step, "key"))
    return key_login(api, req, resp, doc);
  json_decref(doc);
  login_malformed(api, req, resp);
}
