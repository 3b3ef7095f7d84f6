/* POST /v1/login: both steps of the login (auth/login.h). */
#include "server/control_api_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/errors.h>

#include "base/clock.h"
#include "base/log.h"

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
    uint8_t ns[LOGIN_NONCE_LEN], answer[LOGIN_SEALED_LEN];
    const char *device = json_string_value(json_object_get(doc, "device_id"));
    char device_id[64];
    bool ok = api_fixed_b64(doc, "server_nonce", ns, sizeof ns) &&
              api_fixed_b64(doc, "answer", answer, sizeof answer) && device &&
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
      return api_reply_error(resp, 500, "internal", "cannot issue a session");
    api->stats.logins_ok++;
    log_info("device %s logged in from %s (%s)", device_id, req->peer_ip,
             req->tls ? "TLS, channel bound" : "plain HTTP");
    json_t *reply = json_pack("{s:s,s:s,s:i}", "token", token, "device_id",
                              device_id, "expires_in", SESSION_TTL_S);
    free(token);
    return api_reply_json(resp, 200, reply);
  }
  json_decref(doc);
  login_malformed(api, req, resp);
}
