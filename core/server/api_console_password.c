/* Console sign-in with a user's name and password, and a TOTP code when
 * they turned it on. The password is checked on the thread pool
 * (server/password_work.h): the answer to the request is deferred until
 * then (http_message.h's resp->later). Every refusal says the same
 * sentence, whatever was wrong, and counts against the address as a
 * failed login does. */
#include "server/control_api_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/crypto.h"
#include "auth/totp.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/names.h"
#include "tunnel/store.h"

static const char refusal[] =
    "the user name, password and code (if you turned on one) do not match: "
    "check them and try again";

struct signin {
  struct control_api *api;
  struct http_request req;  /* what open_session needs: the peer */
  struct http_pending *pending;
  char name[64];
  char code[TOTP_DIGITS + 2];
  char hash[PASSWORD_HASH_MAX]; /* the hash checked ("" for none) */
};

static void refuse(struct control_api *api, const char *peer_ip,
                   struct http_response *resp)
{
  login_server_note_failure(api->login, peer_ip);
  api_reply_error(resp, 401, "auth_failed", refusal);
}

/* The code, if the user needs one: whether it is right (and spends it). */
static bool code_ok(struct control_api *api, const struct signin *in,
                    const struct store_user_signin *now)
{
  if (!now->totp_secret[0])
    return true; /* TOTP is off: a code is not asked for */
  int64_t step;
  return totp_check(now->totp_secret, in->code, clock_wall_s(),
                    now->totp_last_step, &step) == 0 &&
         api->store->ops->user_totp_spend(api->store, in->name, step) == 0;
}

static void checked(void *arg, const struct password_result *r)
{
  struct signin *in = arg;
  struct control_api *api = in->api;
  struct http_response resp = {.status = 200};
  struct store_user u;
  struct store_user_signin now = {0};
  api_console_headers(&resp);
  /* Still the same password as the one checked (not changed meanwhile). */
  bool ok = r->ok &&
            api->store->ops->user_get(api->store, in->name, &u) == 0 &&
            api->store->ops->user_signin_get(api->store, in->name, &now) ==
                0 &&
            !strcmp(now.password_hash, in->hash) &&
            authz_role_parse(u.role) != ROLE_NONE && code_ok(api, in, &now);
  if (!ok) {
    refuse(api, in->req.peer_ip, &resp);
  } else {
    if (r->hash[0] && api->store->ops->user_rehash_password(
                          api->store, in->name, in->hash, r->hash) == 0)
      log_info("user %s's password hashed again with today's limits",
               in->name);
    struct principal who;
    char how[96];
    api_user_as_principal(u.name, authz_role_parse(u.role), &who);
    snprintf(how, sizeof how, "with a password%s, from %s",
             now.totp_secret[0] ? " and a code" : "", in->req.peer_ip);
    api_console_open_session(api, &in->req, &resp, &who, how);
  }
  crypto_wipe(&now, sizeof now);
  http_pending_answer(in->pending, &resp);
  crypto_wipe(in, sizeof *in);
  free(in);
}

/* The server holds the request: the check may start. */
static void held(void *arg, struct http_pending *pending)
{
  struct signin *in = arg;
  in->pending = pending; /* (the check ends on a later turn of the loop) */
}

void api_console_password_sign_in(struct control_api *api,
                                  const struct http_request *req,
                                  struct http_response *resp, json_t *doc)
{
  static const char *const fields[] = {"name", "password", "totp", NULL};
  const char *name = NULL, *password = NULL, *code = NULL;
  if (!api_only_fields(doc, fields, resp) ||
      !api_string_field(doc, "name", &name, resp) ||
      !api_string_field(doc, "password", &password, resp) ||
      !api_string_field(doc, "totp", &code, resp))
    return;
  if (!name || !password || !name[0] || !password[0])
    return api_reply_error(resp, 400, "bad_request",
                           "give your user name and password (or an API "
                           "key)");
  if (!password_work_free(&api->passwords)) {
    api_reply_error(resp, 503, "busy",
                    "the server is checking other passwords; try again in "
                    "a second");
    return api_retry_after(resp, 1000);
  }
  struct signin *in = calloc(1, sizeof *in);
  if (!in)
    return api_reply_error(resp, 500, "internal", "out of memory");
  in->api = api;
  memcpy(in->req.peer_ip, req->peer_ip, sizeof in->req.peer_ip);
  in->req.method = "POST";
  in->req.url = "/ui/session";
  /* An unknown name, or a user without a password, is checked against
   * nothing, for as long (password_work_check). */
  struct store_user_signin kept;
  if (name_is_plain(name, sizeof in->name - 1) &&
      api->store->ops->user_signin_get(api->store, name, &kept) == 0) {
    snprintf(in->hash, sizeof in->hash, "%s", kept.password_hash);
    crypto_wipe(&kept, sizeof kept);
  }
  snprintf(in->name, sizeof in->name, "%s", name);
  snprintf(in->code, sizeof in->code, "%s", code ? code : "");
  if (strlen(password) > PASSWORD_MAX_BYTES ||
      password_work_check(&api->passwords, in->hash, password, checked,
                          in) != 0) {
    bool too_long = strlen(password) > PASSWORD_MAX_BYTES;
    free(in);
    if (too_long)
      return refuse(api, req->peer_ip, resp);
    return api_reply_error(resp, 500, "internal",
                           "cannot check the password now");
  }
  resp->later = held;
  resp->later_arg = in;
}
