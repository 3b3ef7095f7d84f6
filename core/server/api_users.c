/* /v1/users: people who call the API with a key, and their roles
 * (server/authz.h). A key is shown once, when it is made; the store
 * keeps its id and the SHA-256 of its secret (auth/api_key.h). */
#include "server/control_api_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include <weft/errors.h>

#include "auth/api_key.h"
#include "auth/crypto.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/names.h"
#include "tunnel/store.h"

bool api_user_principal(struct control_api *api, const char *key, size_t len,
                        struct principal *who)
{
  struct api_key presented, kept;
  struct store_user u;
  if (!api->store || api_key_parse(key, len, &presented) != 0 ||
      api->store->ops->user_by_key(api->store, presented.id, &u) != 0)
    return false;
  memcpy(kept.id, u.key_id, sizeof kept.id);
  memcpy(kept.hash, u.key_hash, sizeof kept.hash);
  enum role role = authz_role_parse(u.role);
  if (!api_key_matches(&presented, &kept) || role == ROLE_NONE)
    return false;
  api_user_as_principal(u.name, role, who);
  return true;
}

void api_user_as_principal(const char *name, enum role role,
                           struct principal *who)
{
  memset(who, 0, sizeof *who);
  who->kind = PRINCIPAL_USER;
  who->role = role;
  snprintf(who->name, sizeof who->name, "%s", name);
  snprintf(who->actor, sizeof who->actor, "user:%s", name);
}

void api_user_key_refused(struct control_api *api,
                          const struct http_request *req, const char *key,
                          size_t len)
{
  struct api_key presented;
  struct store_user u;
  /* Only a key that names a user's id is worth a line: someone holds
   * part of a real key. Other garbage would let anyone fill the trail. */
  if (!api->store || api_key_parse(key, len, &presented) != 0 ||
      api->store->ops->user_by_key(api->store, presented.id, &u) != 0)
    return;
  char detail[160];
  snprintf(detail, sizeof detail,
           "a key with user %s's id and another secret, from %s", u.name,
           req->peer_ip);
  api_audit_event(api, "api-key-refused", NULL, NULL, NULL, detail);
  log_warn("%s", detail);
}

static int user_to_json(void *arg, const struct store_user *u)
{
  json_array_append_new(
      arg, json_pack("{s:s,s:s,s:s,s:I,s:I}", "name", u->name, "role",
                     u->role, "key_id", u->key_id, "created_at",
                     (json_int_t)u->created_at, "key_made_at",
                     (json_int_t)u->key_made_at));
  return 0;
}

void api_user_list(struct control_api *api, struct http_response *resp)
{
  json_t *list = json_array();
  if (api->store->ops->user_each(api->store, user_to_json, list) != 0) {
    json_decref(list);
    return api_reply_error(resp, 500, "internal", "the store failed");
  }
  api_reply_json(resp, 200, json_pack("{s:o}", "users", list));
}

/* A key for name: its text in out (shown once), what is kept in *u. */
static bool new_key(struct store_user *u, char *out, size_t len)
{
  struct api_key kept;
  if (api_key_make(out, len, &kept) != 0)
    return false;
  memcpy(u->key_id, kept.id, sizeof u->key_id);
  memcpy(u->key_hash, kept.hash, sizeof u->key_hash);
  u->key_made_at = clock_wall_s();
  return true;
}

void api_user_add(struct control_api *api, const struct http_request *req,
                  struct http_response *resp, const struct principal *who)
{
  static const char *const fields[] = {"name", "role", NULL};
  json_t *doc = api_body_object(req, resp);
  const char *name = NULL, *role_text = NULL;
  if (!doc)
    return;
  if (!api_only_fields(doc, fields, resp) ||
      !api_string_field(doc, "name", &name, resp) ||
      !api_string_field(doc, "role", &role_text, resp)) {
    json_decref(doc);
    return;
  }
  struct store_user u = {0};
  enum role role = role_text ? authz_role_parse(role_text) : ROLE_NONE;
  if (!name || !name_is_plain(name, sizeof u.name - 1) || role == ROLE_NONE) {
    json_decref(doc);
    return api_reply_error(resp, 400, "bad_request",
                           "a user needs a name (1-63 letters, digits, '.', "
                           "'_' or '-') and a role: admin, operator or "
                           "viewer");
  }
  snprintf(u.name, sizeof u.name, "%s", name);
  snprintf(u.role, sizeof u.role, "%s", authz_role_name(role));
  json_decref(doc);
  char key[API_KEY_TEXT_LEN + 1];
  u.created_at = clock_wall_s();
  if (!new_key(&u, key, sizeof key))
    return api_reply_error(resp, 500, "internal", "cannot make a key");
  int rc = api->store->ops->user_add(api->store, &u);
  if (rc == WEFT_EEXIST)
    return api_reply_error(resp, 409, "user_exists",
                           "a user has that name already (give them a new "
                           "key with POST /v1/users/NAME/key)");
  if (rc != 0)
    return api_reply_error(resp, 500, "internal", "the store failed");
  char detail[128];
  snprintf(detail, sizeof detail, "user %s added as %s", u.name, u.role);
  api_audit_event(api, "user-added", NULL, NULL, who->actor, detail);
  log_info("%s by %s", detail, who->actor);
  api_reply_json(resp, 201,
                 json_pack("{s:s,s:s,s:s,s:s}", "name", u.name, "role",
                           u.role, "key_id", u.key_id, "api_key", key));
  crypto_wipe(key, sizeof key);
}

void api_user_remove(struct control_api *api, struct http_response *resp,
                     const char *name, const struct principal *who)
{
  int rc = api->store->ops->user_remove(api->store, name);
  if (rc == WEFT_ENOENT)
    return api_reply_error(resp, 404, "not_found", "no such user");
  if (rc != 0)
    return api_reply_error(resp, 500, "internal", "the store failed");
  api_console_end_sessions(api, name);
  totp_pending_drop(&api->totp_pending, name);
  char detail[128];
  snprintf(detail, sizeof detail, "user %s removed", name);
  api_audit_event(api, "user-removed", NULL, NULL, who->actor, detail);
  log_info("%s by %s", detail, who->actor);
  resp->status = 204;
}

void api_user_new_key(struct control_api *api, struct http_response *resp,
                      const char *name, const struct principal *who)
{
  struct store_user u;
  char key[API_KEY_TEXT_LEN + 1];
  if (api->store->ops->user_get(api->store, name, &u) != 0)
    return api_reply_error(resp, 404, "not_found", "no such user");
  if (!new_key(&u, key, sizeof key))
    return api_reply_error(resp, 500, "internal", "cannot make a key");
  if (api->store->ops->user_set_key(api->store, name, u.key_id, u.key_hash,
                                    u.key_made_at) != 0)
    return api_reply_error(resp, 500, "internal", "the store failed");
  char detail[128];
  snprintf(detail, sizeof detail, "user %s given a new key (the old one "
                                  "no longer works)",
           name);
  api_audit_event(api, "user-key-rotated", NULL, NULL, who->actor, detail);
  log_info("%s by %s", detail, who->actor);
  api_reply_json(resp, 200,
                 json_pack("{s:s,s:s,s:s}", "name", u.name, "key_id",
                           u.key_id, "api_key", key));
  crypto_wipe(key, sizeof key);
}
