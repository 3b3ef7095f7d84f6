/* The control API (HTTP/JSON on the control port), routes over the core's
 * services:
 *
 *   POST   /v1/login            both steps of the login (core/auth/login.h)
 *   POST   /v1/tunnels          create: the lease, token and transport params
 *   GET    /v1/tunnels          list
 *   GET    /v1/tunnels/{id}     inspect
 *   DELETE /v1/tunnels/{id}     immediate teardown and lease release
 *   GET    /v1/audit            the newest audit events
 *   GET    /v1/events           changes as they happen (text/event-stream)
 *   GET    /healthz             liveness, no session needed
 *   GET    /metrics             Prometheus text; [server] metrics_allow
 *
 * Everything but login, health and metrics needs a session JWT
 * (Authorization: Bearer). Errors are {"error":{"code","message"}}.
 * control_api.c routes and checks sessions; each group of routes is its
 * own file (api_login.c, api_tunnels.c, api_approvals.c, api_audit.c,
 * api_metrics.c), sharing the helpers of control_api_internal.h. */
#ifndef WEFT_CORE_CONTROL_API_H
#define WEFT_CORE_CONTROL_API_H

#include <stdbool.h>
#include <stdint.h>

#include "tunnel/approvals.h"
#include "http/http_server.h"
#include "auth/login.h"
#include "base/netlist.h"
#include "auth/secret.h"
#include "auth/tokens.h"
#include "server/console_types.h"
#include "server/password_work.h"
#include "server/totp_pending.h"
#include "server/events.h"
#include "tunnel/tunnels.h"

struct acl_overrides;
struct curl_loop;
struct otlp;
struct strbuf;

struct control_stats {
  uint64_t requests;
  uint64_t logins_ok, logins_denied, logins_limited;
  uint64_t unauthorized;
  uint64_t rate_limited;       /* requests answered 429 */
};

struct proc_metrics;

struct control_api {
  const char *version;
  struct login_server *login;
  struct tokens *tokens;
  struct tunnel_service *tunnels;
  struct store *store;
  /* The secret a request must have used: the one of the address it
   * reached when per_ip, else the single one. Returns NULL if none. */
  const struct secret *(*secret_for)(void *ctx, const char *local_ip,
                                     int *secret_id);
  void *secret_ctx;
  bool per_ip;
  struct prefix_list metrics_allow;
  /* Who may use the API (login, tunnels, sessions) without TLS. */
  struct prefix_list plain_allow;
  struct control_stats stats;
  const struct proc_metrics *proc; /* for /metrics; may be NULL */
  const char *admins;          /* [server] admins: who decides approvals */
  bool enrollment_closed;      /* [server] enrollment = closed */
  bool enrollment_approve;     /* [server] enrollment = approve */
  struct approvals approvals;  /* tunnels waiting for an administrator */
  /* Devices' ACLs set through the API: the last layer of the tunnels'
   * policy (api->tunnels->acl points at it). */
  struct acl_overrides *acl_overrides;
  /* Where an enrollment string sends devices ("HOST:PORT", the first
   * control address as the connection string names it) and the control
   * port's key they pin (libcurl's "sha256//..."); "" when not known. */
  char enroll_at[300];
  /* People signed in to the web console (server/console.h). */
  struct console_sessions console;
  /* Passwords hashed and checked on the thread pool (sign-in, passwd). */
  struct password_work passwords;
  /* Users' own new TOTP secrets, waiting for a code (totp_pending.h). */
  struct totp_pending totp_pending;
  char spki_pin[64];
  /* The OpenTelemetry exporter: each audit event goes to it too; NULL:
   * none. */
  struct otlp *otlp;
  /* Who follows GET /v1/events (server/events.h). */
  struct events events;
  /* The HTTP inspector's replays under way (api_inspect.c), or NULL. */
  struct curl_loop *replays;
  /* The console's terminals (server/terminal.h), or NULL: none. */
  struct terminals *terminals;
};

/* Lets the API open terminals in ts (GET /v1/devices/{id}/terminal),
 * which audit and check console sessions through it (api_terminal.c). */
struct terminals;
void control_api_terminals(struct control_api *api, struct terminals *ts);

/* Starts the event stream (GET /v1/events, api_events.c) on loop, fed
 * by store's audit trail. Stop it with events_close(&api->events). */
struct store;
void control_api_events_start(struct control_api *api, uv_loop_t *loop,
                              struct store *store);

/* Drops the HTTP inspector's replays under way (at the server's stop). */
void control_api_inspect_close(struct control_api *api);

/* An http_handler_fn; data is a struct control_api. */
void control_api_handle(void *data, const struct http_request *req,
                        struct http_response *resp);

/* The Prometheus text /metrics serves, appended to out (for the
 * OpenTelemetry export too). */
void control_api_metrics_text(struct control_api *api, struct strbuf *out);

#endif
