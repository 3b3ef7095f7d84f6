/* What the control API's files share (control_api.c routes; api_*.c
 * handle): reply and request helpers, and one function per route group.
 * Nothing outside core/server/ includes this. */
#ifndef WEFT_CORE_CONTROL_API_INTERNAL_H
#define WEFT_CORE_CONTROL_API_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/http.h>

#include "server/authz.h"
#include "server/control_api.h"

/* ---- replies and request checks (api_reply.c) ---- */
void api_reply_json(struct http_response *resp, int status, json_t *doc);

void api_reply_error(struct http_response *resp, int status,
                     const char *code, const char *message);

void api_retry_after(struct http_response *resp, uint64_t ms);

size_t api_path_len(const char *url);

bool api_path_is(const char *url, const char *path);

bool api_method_is(const struct http_request *req, const char *m);

void api_method_not_allowed(struct http_response *resp, const char *allow);

json_t *api_body_object(const struct http_request *req,
                        struct http_response *resp);

bool api_only_fields(json_t *doc, const char *const *allowed,
                     struct http_response *resp);

bool api_string_field(json_t *doc, const char *name, const char **out,
                      struct http_response *resp);

bool api_fixed_b64(json_t *doc, const char *name, uint8_t *out, size_t len);

char *api_b64_text(const uint8_t *bin, size_t len, char *buf, size_t size);

/* The raw value of `key` in the URL's query into out ("" when absent):
 * 1 if present, 0 if absent, -1 if empty or too long. The caller judges
 * what the value may hold. */
int api_query_value(const char *url, const char *key, char *out, size_t len);

/* req as the SDK shows a request (to a plugin, or to ws_conn), its
 * headers in `headers`; valid while req is. */
void api_request_view(const struct http_request *req,
                      struct weft_http_header *headers,
                      struct weft_http_request *view);


/* ---- login (api_login.c) ---- */
void api_login(struct control_api *api,
               const struct http_request *req,
               struct http_response *resp);

/* ---- tunnels (api_tunnels.c) ---- */
json_t *api_created_reply(struct control_api *api,
                          struct tunnel_outcome *out);

bool api_tunnel_request_fields(json_t *doc, struct tunnel_request *tr,
                               struct http_response *resp);

/* Handlers run once authz.h's table admitted their caller, who; they
 * narrow a device to what is its own. */
void api_tunnel_create(struct control_api *api,
                       const struct http_request *req,
                       struct http_response *resp,
                       const struct principal *who);

void api_tunnel_list(struct control_api *api, struct http_response *resp,
                     const struct principal *who);

void api_tunnel_one(struct control_api *api, const struct http_request *req,
                    struct http_response *resp, const char *id,
                    const struct principal *who);

void api_tunnel_token(struct control_api *api, const struct http_request *req,
                      struct http_response *resp, const char *id,
                      const struct principal *who);

/* ---- the HTTP inspector (api_inspect.c; tunnel/inspect.h) ---- */
void api_inspect_switch(struct control_api *api,
                        const struct http_request *req,
                        struct http_response *resp, const char *id,
                        const struct principal *who);
void api_inspect_list(struct control_api *api, struct http_response *resp,
                      const char *id);
void api_inspect_one(struct control_api *api, const struct http_request *req,
                     struct http_response *resp, const char *id);
void api_inspect_replay(struct control_api *api,
                        const struct http_request *req,
                        struct http_response *resp, const char *id,
                        const struct principal *who);

/* ---- approvals (api_approvals.c) ---- */
void api_approval_list(struct control_api *api, struct http_response *resp,
                       const struct principal *who);

void api_approval_one(struct control_api *api,
                      const struct http_request *req,
                      struct http_response *resp, const char *rest,
                      const struct principal *who);

/* ---- devices (api_devices.c) ---- */
void api_device_list(struct control_api *api, struct http_response *resp);
void api_device_revoke(struct control_api *api,
                       const struct http_request *req,
                       struct http_response *resp, const char *device_id,
                       const struct principal *who);
void api_device_key_forget(struct control_api *api,
                           const struct http_request *req,
                           struct http_response *resp, const char *device_id,
                           const struct principal *who);
void api_device_key_rotate(struct control_api *api,
                           const struct http_request *req,
                           struct http_response *resp, const char *device_id,
                           const struct principal *who);

/* /v1/devices/{id} (api_device_acl.c): GET, and PATCH its ACL. */
void api_device_one(struct control_api *api, const struct http_request *req,
                    struct http_response *resp, const char *id,
                    const struct principal *who);
void api_device_patch(struct control_api *api, const struct http_request *req,
                      struct http_response *resp, const char *id,
                      const struct principal *who);

/* Enrollment strings (api_enroll.c). */
void api_device_add(struct control_api *api, const struct http_request *req,
                    struct http_response *resp, const struct principal *who);
void api_enroll(struct control_api *api, const struct http_request *req,
                struct http_response *resp);

/* ---- the web console (api_console.c) ----
 * weft server serves its page and files at /ui/ on the control port, and
 * signs people in with their API key into a short session held in a
 * cookie (HttpOnly, Secure, SameSite=Strict) with a CSRF token every
 * state change must carry. The page then calls the same /v1 API, as that
 * user, under the same authorization table. */
/* Serves /ui and /ui/...: true if the path was the console's. */
bool api_console_handle(struct control_api *api, const struct http_request *req,
                    struct http_response *resp);

/* The request's console session as its user: true with *who, false when
 * it carries none (or one that ended: *who is then untouched). A state
 * change without the session's CSRF token is answered 403 here, and
 * *refused set. */
bool api_console_principal(struct control_api *api,
                       const struct http_request *req,
                       struct http_response *resp, struct principal *who,
                       bool *refused);

/* Opens a console session for who (a user) and answers with its cookie
 * and CSRF token; how goes into the audit trail ("with a password, from
 * ADDRESS"). The address's failed sign-ins are forgiven. */
void api_console_open_session(struct control_api *api,
                              const struct http_request *req,
                              struct http_response *resp,
                              const struct principal *who, const char *how);
/* Ends every console session of user, now (a new password, removed). */
void api_console_end_sessions(struct control_api *api, const char *user);
/* The console's security headers (its Content-Security-Policy...). */
void api_console_headers(struct http_response *resp);

/* Sign-in with a name, password and (when the user turned TOTP on) a
 * code: doc is the request's body (api_console_password.c). The answer
 * comes once the password is checked on the thread pool. */
void api_console_password_sign_in(struct control_api *api,
                                  const struct http_request *req,
                                  struct http_response *resp, json_t *doc);

/* The request's console session (its cookie): its id and the key id it
 * signed in with, or false when it has none. */
bool api_console_session_of(struct control_api *api,
                            const struct http_request *req, char *id,
                            size_t id_len, char *key_id, size_t key_len);
/* Is the session of that id still signed in (not ended, not idle too
 * long)? Asking does not count as a request. */
bool api_console_session_live(struct control_api *api, const char *id);

/* Whether console session `id` is still signed in; with csrf, also
 * whether that is its CSRF token. touch: this counts as its activity. */
bool api_console_session_check(struct control_api *api, const char *id,
                               const char *csrf, bool touch);

/* ---- terminals (api_terminal.c; server/terminal.h) ---- */
/* GET /v1/devices/{id}/terminal, upgraded: hands the connection to
 * api->terminals once the ACL, a tunnel and the caller allow it. */
void api_terminal_open(struct control_api *api, const struct http_request *req,
                       struct http_response *resp, const char *device_id,
                       const struct principal *who);

/* ---- the event stream (api_events.c; server/events.h) ---- */
/* GET /v1/events: hands the connection to api->events. */
void api_events_subscribe(struct control_api *api,
                          const struct http_request *req,
                          struct http_response *resp,
                          const struct principal *who);

/* ---- users (api_users.c) ---- */
/* The user an API key (the Bearer's text) belongs to, as a principal:
 * true, or false when it is no key of anyone's. */
bool api_user_principal(struct control_api *api, const char *key,
                        size_t len, struct principal *who);
/* A user of that name and role as a principal (actor "user:NAME"). */
void api_user_as_principal(const char *name, enum role role,
                           struct principal *who);
/* A refused key that carries a user's id: audited (api-key-refused). */
void api_user_key_refused(struct control_api *api,
                          const struct http_request *req, const char *key,
                          size_t len);
void api_user_list(struct control_api *api, struct http_response *resp);
void api_user_add(struct control_api *api, const struct http_request *req,
                  struct http_response *resp, const struct principal *who);
void api_user_remove(struct control_api *api, struct http_response *resp,
                     const char *name, const struct principal *who);
void api_user_new_key(struct control_api *api, struct http_response *resp,
                      const char *name, const struct principal *who);

/* The current password, shown again (api_user_reauth.c). Whether who
 * must show it to change name's sign-in secrets: a console session
 * changing its own user's, who has a password. */
bool api_reauth_needed(struct control_api *api, const struct principal *who,
                       const char *name);
/* Called on the loop when the check ends: pending NULL when the password
 * was wrong (the request is answered); else the change goes on and
 * answers pending with http_pending_answer. */
typedef void (*api_reauth_fn)(void *arg, struct http_pending *pending);
/* Checks current against name's password on the thread pool, then calls
 * done; the answer is deferred (resp->later). False after answering resp
 * (none given, the address must wait, busy): done is not called. */
bool api_reauth_start(struct control_api *api, const struct http_request *req,
                      struct http_response *resp, const char *name,
                      const char *current, api_reauth_fn done, void *arg);

/* Console sign-in secrets (api_user_signin.c): PUT
 * /v1/users/{name}/password, POST and DELETE /v1/users/{name}/totp; a
 * user's own, or anyone's by an administrator. */
void api_user_password(struct control_api *api, const struct http_request *req,
                       struct http_response *resp, const char *name,
                       const struct principal *who);
/* POST /v1/users/{name}/totp/confirm {"code"}: a user's own new TOTP
 * secret (totp_pending.h) on, once a code from their app shows they have
 * it (and a console session's, the current password: api_reauth_*). */
void api_user_totp_confirm(struct control_api *api,
                           const struct http_request *req,
                           struct http_response *resp, const char *name,
                           const struct principal *who);
void api_user_totp(struct control_api *api, const struct http_request *req,
                   struct http_response *resp, const char *name,
                   const struct principal *who);

/* ---- audit and metrics (api_audit.c, api_metrics.c) ---- */
/* Records an event; actor is who did it (a device or administrator id,
 * "server"), or NULL when nobody proved who they are. */
void api_audit_event(struct control_api *api, const char *event,
                     const char *device_id, const char *tunnel_id,
                     const char *actor, const char *detail);
void api_audit(struct control_api *api, const struct http_request *req,
               struct http_response *resp, const struct principal *who);

void api_metrics(struct control_api *api, const struct http_request *req,
                 struct http_response *resp);

#endif
