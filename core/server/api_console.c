/* The web console: its files, and sign-in with an API key into a cookie
 * session (see control_api_internal.h); with a password, through
 * api_console_password.c. */
#include "server/control_api_internal.h"

#include <assert.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth/crypto.h"
#include "base/clock.h"
#include "base/log.h"
#include "server/console_assets.h"
#include "tunnel/store.h"

/* No inline script or style anywhere: the page loads its own files only,
 * talks to its own origin only, and may not be framed. */
#define CSP_HEAD                                                             \
  "Content-Security-Policy: default-src 'none'; script-src 'self'; "        \
  "style-src 'self'"
#define CSP_TAIL                                                             \
  "; img-src 'self' data:; connect-src 'self'; base-uri 'none'; "           \
  "form-action 'self'; frame-ancestors 'none'\r\n"                          \
  "Referrer-Policy: no-referrer\r\n" /* (nosniff, no-store: every answer) */
static const char security_headers[] = CSP_HEAD CSP_TAIL;
/* Where the page (index.html) names its style nonce. */
static const char nonce_mark[] = "@STYLE_NONCE@";

static void random_text(char *out, size_t len)
{
  uint8_t raw[32];
  crypto_random(raw, sizeof raw);
  b64url_encode(raw, sizeof raw, out, len);
  crypto_wipe(raw, sizeof raw);
}

/* The page itself also admits <style> elements that carry a nonce made
 * for this answer: xterm.js styles the terminal's rows with ones it makes
 * (ui/src/terminal.js gives them the nonce the page names). Scripts come
 * from the page's own files still, so only they can use it. */
static void serve_page(const struct console_asset *a,
                       struct http_response *resp)
{
  char nonce[64];
  random_text(nonce, sizeof nonce);
  strbuf_addf(&resp->headers, CSP_HEAD " 'nonce-%s'" CSP_TAIL, nonce);
  const char *text = (const char *)a->data;
  const char *mark = memmem(text, a->len, nonce_mark, sizeof nonce_mark - 1);
  assert(mark); /* ui/src/index.html names it */
  size_t before = (size_t)(mark - text);
  strbuf_add(&resp->body, text, before);
  strbuf_addf(&resp->body, "%s", nonce);
  before += sizeof nonce_mark - 1;
  strbuf_add(&resp->body, text + before, a->len - before);
}

static void serve_asset(const struct console_asset *a,
                        struct http_response *resp)
{
  resp->status = 200;
  resp->content_type = a->content_type;
  if (!strcmp(a->path, "/ui/"))
    return serve_page(a, resp);
  strbuf_addf(&resp->headers, "%s", security_headers);
  strbuf_add(&resp->body, (const char *)a->data, a->len);
}

/* The cookie's value in the request, or "" (it fits in out or is none). */
static void cookie_value(const struct http_request *req, char *out,
                         size_t len)
{
  out[0] = '\0';
  const char *h = http_request_header(req, "cookie");
  const size_t name = sizeof CONSOLE_COOKIE - 1;
  for (const char *p = h; p && *p;) {
    while (*p == ' ' || *p == ';')
      p++;
    size_t n = strcspn(p, ";");
    if (n > name && !strncmp(p, CONSOLE_COOKIE, name) && p[name] == '=' &&
        n - name - 1 < len) {
      memcpy(out, p + name + 1, n - name - 1);
      out[n - name - 1] = '\0';
      return;
    }
    p += n;
  }
}

static struct console_session *find_session(struct control_api *api,
                                            const char *id)
{
  struct console_session *found = NULL;
  size_t n = strlen(id);
  if (n == 0 || n >= sizeof found->id)
    return NULL;
  /* Every slot compared in the same time: the id is a secret. */
  for (size_t i = 0; i < CONSOLE_SESSIONS_MAX; i++) {
    struct console_session *s = &api->console.s[i];
    bool same = s->live && strlen(s->id) == n && crypto_equal(s->id, id, n);
    if (same)
      found = s;
  }
  return found;
}


/* A session still valid: not idle too long, its user still there with the
 * key and password it had at sign-in. Ends it otherwise. */
static bool session_valid(struct control_api *api, struct console_session *s,
                          struct store_user *u)
{
  int64_t now = clock_wall_s();
  struct store_user_signin in;
  if (now - s->last_s > CONSOLE_SESSION_IDLE_S ||
      api->store->ops->user_get(api->store, s->user, u) != 0 ||
      strcmp(u->key_id, s->key_id) ||
      api->store->ops->user_signin_get(api->store, s->user, &in) != 0 ||
      in.password_gen != s->password_gen) {
    crypto_wipe(s, sizeof *s);
    return false;
  }
  crypto_wipe(&in, sizeof in);
  s->last_s = now;
  return true;
}

void api_console_end_sessions(struct control_api *api, const char *user)
{
  for (size_t i = 0; i < CONSOLE_SESSIONS_MAX; i++) {
    struct console_session *s = &api->console.s[i];
    if (s->live && !strcmp(s->user, user))
      crypto_wipe(s, sizeof *s);
  }
}

void api_console_headers(struct http_response *resp)
{
  strbuf_addf(&resp->headers, "%s", security_headers);
}

bool api_console_principal(struct control_api *api,
                       const struct http_request *req,
                       struct http_response *resp, struct principal *who,
                       bool *refused)
{
  char id[64];
  struct store_user u;
  *refused = false;
  cookie_value(req, id, sizeof id);
  struct console_session *s = id[0] ? find_session(api, id) : NULL;
  if (!s || !session_valid(api, s, &u))
    return false;
  enum role role = authz_role_parse(u.role);
  if (role == ROLE_NONE)
    return false;
  /* A state change must show the token only the page was given: a form
   * another site makes the browser send carries the cookie, not this. */
  if (!api_method_is(req, "GET") && !api_method_is(req, "HEAD")) {
    const char *token = http_request_header(req, "x-csrf-token");
    size_t n = strlen(s->csrf);
    if (!token || strlen(token) != n || !crypto_equal(token, s->csrf, n)) {
      *refused = true;
      api_reply_error(resp, 403, "csrf",
                      "this change did not come from the console's page "
                      "(no X-CSRF-Token)");
      return false;
    }
  }
  api_user_as_principal(u.name, role, who);
  who->console = true;
  return true;
}

/* Who is signed in, whether they turned TOTP on (the page's Account
 * shows which of on and off it offers) and have a password (which the
 * Account then asks for before changing either: api_user_reauth.c). */
static void session_reply(struct http_response *resp, int status,
                          const struct console_session *s, const char *role,
                          const struct store_user_signin *in)
{
  api_reply_json(resp, status,
                 json_pack("{s:s,s:s,s:s,s:b,s:b}", "name", s->user, "role",
                           role, "csrf", s->csrf, "totp",
                           in->totp_secret[0] != '\0', "password",
                           in->password_hash[0] != '\0'));
}

void api_console_open_session(struct control_api *api,
                              const struct http_request *req,
                              struct http_response *resp,
                              const struct principal *who, const char *how)
{
  struct store_user u;
  struct store_user_signin in;
  if (api->store->ops->user_get(api->store, who->name, &u) != 0 ||
      api->store->ops->user_signin_get(api->store, who->name, &in) != 0)
    return api_reply_error(resp, 500, "internal", "the store failed");
  login_server_note_success(api->login, req->peer_ip);
  /* A free slot, or the one idle longest. */
  struct console_session *slot = &api->console.s[0];
  for (size_t i = 0; i < CONSOLE_SESSIONS_MAX; i++) {
    struct console_session *s = &api->console.s[i];
    if (!s->live) {
      slot = s;
      break;
    }
    if (s->last_s < slot->last_s)
      slot = s;
  }
  memset(slot, 0, sizeof *slot);
  random_text(slot->id, sizeof slot->id);
  random_text(slot->csrf, sizeof slot->csrf);
  snprintf(slot->user, sizeof slot->user, "%s", who->name);
  memcpy(slot->key_id, u.key_id, sizeof slot->key_id);
  slot->password_gen = in.password_gen;
  slot->last_s = clock_wall_s();
  slot->live = true;
  strbuf_addf(&resp->headers,
              "Set-Cookie: " CONSOLE_COOKIE "=%s; Path=/; HttpOnly; Secure; "
              "SameSite=Strict; Max-Age=%d\r\n",
              slot->id, CONSOLE_SESSION_IDLE_S);
  api_audit_event(api, "console-signed-in", NULL, NULL, who->actor, how);
  session_reply(resp, 200, slot, authz_role_name(who->role), &in);
  crypto_wipe(&in, sizeof in);
}

static void sign_in(struct control_api *api, const struct http_request *req,
                    struct http_response *resp)
{
  uint64_t wait = 0;
  if (login_server_blocked(api->login, req->peer_ip, &wait)) {
    api_reply_error(resp, 429, "rate_limited",
                    "too many attempts; wait and try again");
    return api_retry_after(resp, wait);
  }
  json_t *doc = api_body_object(req, resp);
  if (!doc)
    return;
  json_t *key_field = json_object_get(doc, "api_key");
  if (!key_field) { /* a name and password instead */
    api_console_password_sign_in(api, req, resp, doc);
    return json_decref(doc);
  }
  const char *key = json_string_value(key_field);
  struct principal who;
  bool ok = key && api_user_principal(api, key, strlen(key), &who);
  json_decref(doc);
  if (!ok) {
    login_server_note_failure(api->login, req->peer_ip);
    return api_reply_error(resp, 401, "auth_failed",
                           "that is not a user's API key");
  }
  char how[80];
  snprintf(how, sizeof how, "with an API key, from %s", req->peer_ip);
  api_console_open_session(api, req, resp, &who, how);
}

static void session_route(struct control_api *api,
                          const struct http_request *req,
                          struct http_response *resp)
{
  if (api_method_is(req, "POST"))
    return sign_in(api, req, resp);
  struct principal who;
  bool refused;
  if (!api_console_principal(api, req, resp, &who, &refused)) {
    if (!refused)
      api_reply_error(resp, 401, "unauthorized", "not signed in");
    return;
  }
  char id[64];
  cookie_value(req, id, sizeof id);
  struct console_session *s = find_session(api, id);
  if (api_method_is(req, "GET")) {
    struct store_user_signin in;
    if (api->store->ops->user_signin_get(api->store, who.name, &in) != 0)
      return api_reply_error(resp, 500, "internal", "the store failed");
    session_reply(resp, 200, s, authz_role_name(who.role), &in);
    return crypto_wipe(&in, sizeof in);
  }
  if (api_method_is(req, "DELETE")) { /* signed out, here and now */
    crypto_wipe(s, sizeof *s);
    strbuf_addf(&resp->headers, "Set-Cookie: " CONSOLE_COOKIE "=; Path=/; "
                                "HttpOnly; Secure; SameSite=Strict; "
                                "Max-Age=0\r\n");
    api_audit_event(api, "console-signed-out", NULL, NULL, who.actor,
                    req->peer_ip);
    resp->status = 204;
    return;
  }
  api_method_not_allowed(resp, "GET, POST, DELETE");
}

bool api_console_handle(struct control_api *api, const struct http_request *req,
                    struct http_response *resp)
{
  const char *url = req->url;
  if (strncmp(url, "/ui", 3) || (url[3] && url[3] != '/' && url[3] != '?'))
    return false;
  if (api_path_is(url, "/ui")) { /* the page's files are relative to /ui/ */
    resp->status = 308;
    strbuf_addf(&resp->headers, "Location: /ui/\r\n");
    return true;
  }
  if (api_path_is(url, "/ui/session")) {
    strbuf_addf(&resp->headers, "%s", security_headers);
    session_route(api, req, resp);
    return true;
  }
  if (!api_method_is(req, "GET")) {
    api_method_not_allowed(resp, "GET");
    return true;
  }
  for (const struct console_asset *a = console_assets; a->path; a++)
    if (api_path_is(url, a->path)) {
      serve_asset(a, resp);
      return true;
    }
  api_reply_error(resp, 404, "not_found", "no such page");
  return true;
}

bool api_console_session_of(struct control_api *api,
                            const struct http_request *req, char *id,
                            size_t id_len, char *key_id, size_t key_len)
{
  char cookie[64];
  cookie_value(req, cookie, sizeof cookie);
  struct console_session *s = cookie[0] ? find_session(api, cookie) : NULL;
  if (!s || strlen(s->id) >= id_len || strlen(s->key_id) >= key_len)
    return false;
  snprintf(id, id_len, "%s", s->id);
  snprintf(key_id, key_len, "%s", s->key_id);
  return true;
}

bool api_console_session_live(struct control_api *api, const char *id)
{
  const struct console_session *s = find_session(api, id);
  return s && clock_wall_s() - s->last_s <= CONSOLE_SESSION_IDLE_S;
}

bool api_console_session_check(struct control_api *api, const char *id,
                               const char *csrf, bool touch)
{
  struct console_session *s = find_session(api, id);
  int64_t now = clock_wall_s();
  if (!s || now - s->last_s > CONSOLE_SESSION_IDLE_S)
    return false;
  if (csrf) {
    size_t n = strlen(s->csrf);
    if (strlen(csrf) != n || !crypto_equal(csrf, s->csrf, n))
      return false;
  }
  if (touch)
    s->last_s = now;
  return true;
}
