/* The current password, shown again before a console session changes its
 * own user's sign-in secrets (a new password, TOTP on or off): whoever
 * sits at a signed-in browser left unattended must not lock the owner
 * out. Checked
 * on the thread pool like a sign-in (server/password_work.h); a wrong one
 * counts against the address as a failed login does, so guessing it
 * meets the same backoff. A key's caller, an administrator changing
 * another's, and the local socket are not asked (api_reauth_needed). */
#include "server/control_api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/crypto.h"
#include "tunnel/store.h"

static const char wrong[] =
    "the current password does not match: give the one you sign in with "
    "now; nothing was changed";

struct reauth {
  struct control_api *api;
  struct http_pending *pending;
  char peer_ip[46];
  char name[64];
  char hash[PASSWORD_HASH_MAX]; /* the hash checked */
  api_reauth_fn done;
  void *arg;
};

bool api_reauth_needed(struct control_api *api, const struct principal *who,
                       const char *name)
{
  if (!who->console || who->kind != PRINCIPAL_USER || strcmp(who->name, name))
    return false;
  struct store_user_signin in;
  if (api->store->ops->user_signin_get(api->store, name, &in) != 0)
    return false; /* no row: no password to show (a key signed in) */
  bool has = in.password_hash[0] != '\0';
  crypto_wipe(&in, sizeof in);
  return has;
}

static void checked(void *arg, const struct password_result *r)
{
  struct reauth *ra = arg;
  struct control_api *api = ra->api;
  struct store_user_signin now = {0};
  /* Still the password checked (not changed meanwhile). */
  bool ok = r->ok &&
            api->store->ops->user_signin_get(api->store, ra->name, &now) ==
                0 &&
            !strcmp(now.password_hash, ra->hash);
  crypto_wipe(&now, sizeof now);
  if (ok) {
    login_server_note_success(api->login, ra->peer_ip); /* as sign-in */
    ra->done(ra->arg, ra->pending);
  } else {
    struct http_response resp = {0};
    login_server_note_failure(api->login, ra->peer_ip);
    api_reply_error(&resp, 403, "wrong_password", wrong);
    http_pending_answer(ra->pending, &resp);
    ra->done(ra->arg, NULL);
  }
  crypto_wipe(ra, sizeof *ra);
  free(ra);
}

static void held(void *arg, struct http_pending *pending)
{
  struct reauth *ra = arg;
  ra->pending = pending; /* (the check ends on a later turn of the loop) */
}

bool api_reauth_start(struct control_api *api, const struct http_request *req,
                      struct http_response *resp, const char *name,
                      const char *current, api_reauth_fn done, void *arg)
{
  uint64_t wait = 0;
  if (!current || !current[0]) {
    api_reply_error(resp, 400, "current_password_required",
                    "give your current password too (\"current_password\"): "
                    "a console session changes its own password or TOTP "
                    "only with it");
    return false;
  }
  if (login_server_blocked(api->login, req->peer_ip, &wait)) {
    api_reply_error(resp, 429, "rate_limited",
                    "too many attempts; wait and try again");
    api_retry_after(resp, wait);
    return false;
  }
  if (strlen(current) > PASSWORD_MAX_BYTES) { /* nobody's: wrong */
    login_server_note_failure(api->login, req->peer_ip);
    api_reply_error(resp, 403, "wrong_password", wrong);
    return false;
  }
  struct store_user_signin kept;
  struct reauth *ra = NULL;
  if (!password_work_free(&api->passwords)) {
    api_reply_error(resp, 503, "busy",
                    "the server is checking other passwords; try again in "
                    "a second");
    api_retry_after(resp, 1000);
    return false;
  }
  if (api->store->ops->user_signin_get(api->store, name, &kept) != 0) {
    api_reply_error(resp, 500, "internal", "the store failed");
    return false;
  }
  if (!(ra = calloc(1, sizeof *ra))) {
    crypto_wipe(&kept, sizeof kept);
    api_reply_error(resp, 500, "internal", "out of memory");
    return false;
  }
  ra->api = api;
  snprintf(ra->peer_ip, sizeof ra->peer_ip, "%s", req->peer_ip);
  snprintf(ra->name, sizeof ra->name, "%s", name);
  snprintf(ra->hash, sizeof ra->hash, "%s", kept.password_hash);
  crypto_wipe(&kept, sizeof kept);
  ra->done = done;
  ra->arg = arg;
  if (password_work_check(&api->passwords, ra->hash, current, checked,
                          ra) == 0) {
    resp->later = held;
    resp->later_arg = ra;
    return true;
  }
  api_reply_error(resp, 500, "internal", "cannot check the password now");
  crypto_wipe(ra, sizeof *ra);
  free(ra);
  return false;
}
