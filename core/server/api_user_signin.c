/* A user's console sign-in secrets: PUT /v1/users/{name}/password, and
 * POST (on, the URI shown once; a user's own waits for POST
 * .../totp/confirm with a code) or DELETE (off) /v1/users/{name}/totp.
 * The table (authz.c) lets any user in; here, a user changes only their
 * own, an administrator anyone's. The password is hashed on the thread
 * pool (server/password_work.h), so its answer is deferred; so is a
 * console session's own new password, TOTP confirmed or TOTP off,
 * which first shows the current password (api_user_reauth.c). */
#include "server/control_api_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/errors.h>

#include "auth/crypto.h"
#include "auth/totp.h"
#include "base/clock.h"
#include "base/log.h"
#include "tunnel/store.h"

static void totp_audit_on(struct control_api *api, const char *name,
                          const char *actor)
{
  char detail[128];
  snprintf(detail, sizeof detail, "user %s turned TOTP on", name);
  api_audit_event(api, "user-totp-on", NULL, NULL, actor, detail);
  log_info("%s by %s", detail, actor);
}

/* Whether who may change name's secrets; answers 403 if not. */
static bool own_or_admin(const struct principal *who, const char *name,
                         struct http_response *resp)
{
  if (who->role == ROLE_ADMIN ||
      (who->kind == PRINCIPAL_USER && !strcmp(who->name, name)))
    return true;
  char message[160];
  snprintf(message, sizeof message,
           "%s (%s) may change only their own password and TOTP; an "
           "administrator may change anyone's",
           who->name, authz_role_name(who->role));
  api_reply_error(resp, 403, "forbidden", message);
  return false;
}

struct new_password {
  struct control_api *api;
  struct http_pending *pending;
  char name[64];
  char actor[72];
  char pw[PASSWORD_MAX_BYTES + 1]; /* kept while the current is checked */
};

static void forget(struct new_password *np)
{
  crypto_wipe(np, sizeof *np);
  free(np);
}

static void hashed(void *arg, const struct password_result *r)
{
  struct new_password *np = arg;
  struct control_api *api = np->api;
  struct http_response resp = {.status = 204};
  int rc = r->ok ? api->store->ops->user_set_password(api->store, np->name,
                                                      r->hash)
                 : WEFT_ENOMEM;
  if (rc == WEFT_ENOENT) {
    api_reply_error(&resp, 404, "not_found", "no such user");
  } else if (rc != 0) {
    api_reply_error(&resp, 500, "internal", "cannot store the password");
  } else {
    api_console_end_sessions(api, np->name);
    char detail[160];
    snprintf(detail, sizeof detail,
             "user %s's password set (their console sessions end)",
             np->name);
    api_audit_event(api, "user-password-set", NULL, NULL, np->actor, detail);
    log_info("%s by %s", detail, np->actor);
  }
  http_pending_answer(np->pending, &resp);
  forget(np);
}

/* The current password was shown (pending), or wrong (NULL, answered). */
static void reauthed(void *arg, struct http_pending *pending)
{
  struct new_password *np = arg;
  if (!pending)
    return forget(np);
  np->pending = pending;
  /* (the check's job has ended: a slot is free) */
  if (password_work_hash(&np->api->passwords, np->pw, hashed, np) == 0)
    return crypto_wipe(np->pw, sizeof np->pw);
  struct http_response resp = {0};
  api_reply_error(&resp, 500, "internal", "cannot hash the password now");
  http_pending_answer(pending, &resp);
  forget(np);
}

static void held(void *arg, struct http_pending *pending)
{
  struct new_password *np = arg;
  np->pending = pending; /* (the hash ends on a later turn of the loop) */
}

void api_user_password(struct control_api *api, const struct http_request *req,
                       struct http_response *resp, const char *name,
                       const struct principal *who)
{
  static const char *const fields[] = {"password", "current_password", NULL};
  if (!own_or_admin(who, name, resp))
    return;
  json_t *doc = api_body_object(req, resp);
  const char *pw = NULL, *current = NULL;
  if (!doc)
    return;
  if (!api_only_fields(doc, fields, resp) ||
      !api_string_field(doc, "password", &pw, resp) ||
      !api_string_field(doc, "current_password", &current, resp))
    return json_decref(doc);
  const char *why = pw ? password_policy_refusal(pw)
                       : "give the new password: {\"password\": \"...\"}";
  struct store_user u;
  struct new_password *np = NULL;
  bool later = false; /* the hash (or first the check) runs */
  if (why)
    api_reply_error(resp, 400, "bad_password", why);
  else if (api->store->ops->user_get(api->store, name, &u) != 0)
    api_reply_error(resp, 404, "not_found", "no such user");
  else if (!password_work_free(&api->passwords)) {
    api_reply_error(resp, 503, "busy",
                    "the server is hashing other passwords; try again in a "
                    "second");
    api_retry_after(resp, 1000);
  } else if (!(np = calloc(1, sizeof *np))) {
    api_reply_error(resp, 500, "internal", "out of memory");
  } else {
    np->api = api;
    snprintf(np->name, sizeof np->name, "%s", name);
    snprintf(np->actor, sizeof np->actor, "%s", who->actor);
    if (api_reauth_needed(api, who, name)) {
      snprintf(np->pw, sizeof np->pw, "%s", pw); /* (policy: it fits) */
      later = api_reauth_start(api, req, resp, name, current, reauthed, np);
    } else if (password_work_hash(&api->passwords, pw, hashed, np) == 0) {
      later = true;
      resp->later = held;
      resp->later_arg = np;
    } else {
      api_reply_error(resp, 500, "internal", "cannot hash the password now");
    }
  }
  json_decref(doc); /* (jansson keeps its strings; pw is copied by now) */
  if (np && !later)
    forget(np);
}

/* A user's own new secret waits for a code from their app (confirm,
 * below); an administrator's for another, or root's over the local
 * socket, is on at once, as `weft user totp NAME` always was: they hand
 * it over and the user was not asked to finish anything. */
static void totp_on(struct control_api *api, struct http_response *resp,
                    const char *name, const struct principal *who)
{
  char secret[TOTP_SECRET_TEXT], uri[256];
  struct store_user u;
  bool own = who->kind == PRINCIPAL_USER && !strcmp(who->name, name);
  if (api->store->ops->user_get(api->store, name, &u) != 0)
    return api_reply_error(resp, 404, "not_found", "no such user");
  if (totp_secret_make(secret) != 0 ||
      totp_uri("Weft", name, secret, uri, sizeof uri) != 0)
    return api_reply_error(resp, 500, "internal", "cannot make a secret");
  int rc = 0;
  if (own) {
    totp_pending_put(&api->totp_pending, name, secret, clock_wall_s());
  } else {
    totp_pending_drop(&api->totp_pending, name);
    rc = api->store->ops->user_set_totp(api->store, name, secret);
  }
  if (rc == 0) {
    if (!own)
      totp_audit_on(api, name, who->actor);
    api_reply_json(resp, 201,
                   json_pack("{s:s,s:s,s:s,s:b}", "name", name, "secret",
                             secret, "otpauth_uri", uri, "pending", own));
  } else if (rc == WEFT_ENOENT) {
    api_reply_error(resp, 404, "not_found", "no such user");
  } else {
    api_reply_error(resp, 500, "internal", "the store failed");
  }
  crypto_wipe(secret, sizeof secret);
  crypto_wipe(uri, sizeof uri);
}

/* name's waiting secret on, if code is its code now. */
static void confirm_now(struct control_api *api, struct http_response *resp,
                        const char *name, const char *actor,
                        const char *code)
{
  char secret[TOTP_SECRET_TEXT];
  int64_t step;
  if (!totp_pending_get(&api->totp_pending, name, clock_wall_s(), secret))
    return api_reply_error(resp, 409, "no_pending_totp",
                           "no new TOTP secret waits for a code (one waits "
                           "10 minutes): turn TOTP on again, then confirm");
  bool right = totp_check(secret, code, clock_wall_s(), 0, &step) == 0;
  int rc = right ? api->store->ops->user_set_totp(api->store, name, secret)
                 : 0;
  crypto_wipe(secret, sizeof secret);
  if (!right)
    return api_reply_error(resp, 400, "bad_code",
                           "that is not the code of the new secret now: "
                           "check that the app has it and its clock is "
                           "right, then type the code it shows; TOTP stays "
                           "off");
  if (rc == WEFT_ENOENT)
    return api_reply_error(resp, 404, "not_found", "no such user");
  if (rc != 0)
    return api_reply_error(resp, 500, "internal", "the store failed");
  /* The code was used: sign-in does not take it again. */
  api->store->ops->user_totp_spend(api->store, name, step);
  totp_pending_drop(&api->totp_pending, name);
  totp_audit_on(api, name, actor);
  resp->status = 204;
}

/* A change to a user's TOTP once the current password was shown: on
 * (code set) or off. */
struct totp_change {
  struct control_api *api;
  char name[64];
  char actor[72];
  char code[TOTP_DIGITS + 2];
};

static void on_reauthed(void *arg, struct http_pending *pending)
{
  struct totp_change *tc = arg;
  if (pending) {
    struct http_response resp = {0};
    confirm_now(tc->api, &resp, tc->name, tc->actor, tc->code);
    http_pending_answer(pending, &resp);
  }
  free(tc);
}

void api_user_totp_confirm(struct control_api *api,
                           const struct http_request *req,
                           struct http_response *resp, const char *name,
                           const struct principal *who)
{
  static const char *const fields[] = {"code", "current_password", NULL};
  char secret[TOTP_SECRET_TEXT];
  const char *code = NULL, *current = NULL;
  struct totp_change *tc = NULL;
  if (!own_or_admin(who, name, resp))
    return;
  json_t *doc = api_body_object(req, resp);
  if (!doc)
    return;
  if (!api_only_fields(doc, fields, resp) ||
      !api_string_field(doc, "code", &code, resp) ||
      !api_string_field(doc, "current_password", &current, resp))
    return json_decref(doc);
  if (!code || strlen(code) > TOTP_DIGITS) {
    api_reply_error(resp, 400, "bad_request",
                    "give the code your app shows: {\"code\": \"123456\"}");
  } else if (!api_reauth_needed(api, who, name)) {
    confirm_now(api, resp, name, who->actor, code);
  } else if (!totp_pending_get(&api->totp_pending, name, clock_wall_s(),
                               secret)) { /* 409 now, not after the check */
    confirm_now(api, resp, name, who->actor, code);
  } else if (!(tc = calloc(1, sizeof *tc))) {
    api_reply_error(resp, 500, "internal", "out of memory");
  } else {
    tc->api = api;
    snprintf(tc->name, sizeof tc->name, "%s", name);
    snprintf(tc->actor, sizeof tc->actor, "%s", who->actor);
    snprintf(tc->code, sizeof tc->code, "%s", code);
    if (!api_reauth_start(api, req, resp, name, current, on_reauthed, tc))
      free(tc);
  }
  crypto_wipe(secret, sizeof secret);
  json_decref(doc);
}

static void totp_off(struct control_api *api, struct http_response *resp,
                     const char *name, const char *actor)
{
  totp_pending_drop(&api->totp_pending, name);
  int rc = api->store->ops->user_set_totp(api->store, name, "");
  if (rc == WEFT_ENOENT)
    return api_reply_error(resp, 404, "not_found", "no such user");
  if (rc != 0)
    return api_reply_error(resp, 500, "internal", "the store failed");
  char detail[128];
  snprintf(detail, sizeof detail, "user %s turned TOTP off", name);
  api_audit_event(api, "user-totp-off", NULL, NULL, actor, detail);
  log_info("%s by %s", detail, actor);
  resp->status = 204;
}

/* TOTP off once the current password was shown. */
static void off_reauthed(void *arg, struct http_pending *pending)
{
  struct totp_change *tc = arg;
  if (pending) {
    struct http_response resp = {0};
    totp_off(tc->api, &resp, tc->name, tc->actor);
    http_pending_answer(pending, &resp);
  }
  free(tc);
}

/* The body's "current_password" (NULL without a body), or false after
 * answering resp. */
static bool current_of(const struct http_request *req,
                       struct http_response *resp, json_t **doc,
                       const char **current)
{
  static const char *const fields[] = {"current_password", NULL};
  *doc = NULL;
  *current = NULL;
  if (req->body_len == 0)
    return true;
  if (!(*doc = api_body_object(req, resp)))
    return false;
  return api_only_fields(*doc, fields, resp) &&
         api_string_field(*doc, "current_password", current, resp);
}

void api_user_totp(struct control_api *api, const struct http_request *req,
                   struct http_response *resp, const char *name,
                   const struct principal *who)
{
  if (!own_or_admin(who, name, resp))
    return;
  if (api_method_is(req, "POST"))
    return totp_on(api, resp, name, who);
  if (!api_reauth_needed(api, who, name))
    return totp_off(api, resp, name, who->actor);
  json_t *doc;
  const char *current;
  struct totp_change *tc = NULL;
  if (!current_of(req, resp, &doc, &current)) {
    json_decref(doc);
    return;
  }
  if (!(tc = calloc(1, sizeof *tc))) {
    api_reply_error(resp, 500, "internal", "out of memory");
  } else {
    tc->api = api;
    snprintf(tc->name, sizeof tc->name, "%s", name);
    snprintf(tc->actor, sizeof tc->actor, "%s", who->actor);
    if (!api_reauth_start(api, req, resp, name, current, off_reauthed, tc))
      free(tc);
  }
  json_decref(doc);
}
