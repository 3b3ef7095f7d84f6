/* GET /v1/devices/{id}/terminal?port=22&user=NAME, upgraded to a
 * WebSocket: a terminal to the device's sshd (server/terminal.h). The
 * table (authz.c) admits operators; here, the device's ACL must let
 * operators reach that port, a tunnel of the device must be up to carry
 * it, and a browser must call from the console's own origin. Without the
 * upgrade, the same checks answer what it would open (a browser's
 * WebSocket hears no refusal's sentence: the page asks first). */
#include "server/control_api_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ws_conn.h> /* the websocket transport's RFC 6455 layer */

#include "auth/acl.h"
#include "base/url.h"
#include "server/terminal.h"

/* Idle limit for a terminal whose tunnel has none. */
#define TERMINAL_IDLE_DEFAULT_S 3600

struct pending_terminal {
  struct control_api *api;
  struct terminal_request rq;
};

static void start(void *arg, const struct http_request *req,
                  struct weft_stream *conn)
{
  struct pending_terminal *p = arg;
  struct terminals *ts = p->api->terminals;
  struct weft_http_header headers[HTTP_MAX_HEADERS];
  struct weft_http_request view;
  api_request_view(req, headers, &view);
  struct ws_upgrade up;
  const char *why;
  int status = ws_check_upgrade(&view, &up, &why);
  if (status != 0)
    ws_refuse(&ts->host.host, conn, status, why);
  else
    terminal_start(ts, &p->rq, &up, conn);
  free(p);
}

/* A browser's page must be the console's: its Origin, when it sends one,
 * is this server as the browser reached it. */
static bool same_origin(const struct http_request *req)
{
  const char *origin = http_request_header(req, "origin");
  const char *host = http_request_header(req, "host");
  if (!origin)
    return true; /* not a browser: the API key or cookie decides */
  return host && !strncmp(origin, "https://", 8) && !strcmp(origin + 8, host);
}

/* The tunnel that can carry a terminal to the device's port: one whose
 * device has its own address (wireguard: any port, its firewall holds
 * the ACL), else a TCP tunnel to that very port. NULL when none is up. */
static struct tunnel *carrier(struct control_api *api, const char *device,
                              uint16_t port, bool *own_address)
{
  struct tunnel *relay = NULL;
  for (struct tunnel *t = api->tunnels->live; t; t = t->next) {
    const struct lease *l = t->lease;
    if (!t->connected || strcmp(l->device_id, device))
      continue;
    if (l->vip) {
      *own_address = true;
      return t;
    }
    struct url local;
    char err[128];
    if (!relay && !strcmp(l->port_proto, "tcp") &&
        url_parse(l->local_url, &local, err, sizeof err) == 0 &&
        local.scheme == URL_TCP && local.port == port)
      relay = t;
  }
  *own_address = false;
  return relay;
}

static void fill_request(struct control_api *api,
                         const struct http_request *req,
                         const struct principal *who, const char *device_id,
                         const struct tunnel *t, bool own_address,
                         uint16_t port, const char *user,
                         struct terminal_request *rq)
{
  snprintf(rq->actor, sizeof rq->actor, "%s", who->actor);
  snprintf(rq->user, sizeof rq->user, "%s", who->name);
  char key_id[64];
  if (!http_request_header(req, "authorization"))
    api_console_session_of(api, req, rq->session, sizeof rq->session, key_id,
                           sizeof key_id);
  snprintf(rq->peer_ip, sizeof rq->peer_ip, "%s", req->peer_ip);
  snprintf(rq->device_id, sizeof rq->device_id, "%s", device_id);
  snprintf(rq->tunnel_id, sizeof rq->tunnel_id, "%s", t->lease->tunnel_id);
  if (own_address) {
    uint32_t a = t->lease->vip;
    snprintf(rq->address, sizeof rq->address, "%u.%u.%u.%u", a >> 24,
             (a >> 16) & 255, (a >> 8) & 255, a & 255);
  }
  rq->port = port;
  snprintf(rq->ssh_user, sizeof rq->ssh_user, "%s", user);
  rq->idle_s = t->lease->idle_timeout_s > 0 ? t->lease->idle_timeout_s
                                            : TERMINAL_IDLE_DEFAULT_S;
}

static json_t *request_json(const struct terminal_request *rq)
{
  return json_pack("{s:s,s:i,s:s,s:s,s:s,s:I}", "device_id", rq->device_id,
                   "port", (int)rq->port, "user", rq->ssh_user, "tunnel_id",
                   rq->tunnel_id, "via",
                   rq->address[0] ? rq->address : "relay", "idle_timeout",
                   (json_int_t)rq->idle_s);
}

void api_terminal_open(struct control_api *api, const struct http_request *req,
                       struct http_response *resp, const char *device_id,
                       const struct principal *who)
{
  struct terminals *ts = api->terminals;
  if (!ts || !ts->usable)
    return api_reply_error(resp, 503, "terminal_unavailable",
                           "this server cannot run terminals (see its log)");
  if (!same_origin(req))
    return api_reply_error(resp, 403, "forbidden",
                           "a terminal opens from the console's own page");
  char port_text[8], user[TERMINAL_USER_MAX + 1];
  char *end = port_text;
  long port = api_query_value(req->url, "port", port_text,
                              sizeof port_text) > 0
                  ? strtol(port_text, &end, 10)
                  : 0;
  if (port < 1 || port > 65535 || *end)
    return api_reply_error(resp, 400, "bad_request",
                           "port must be the device's port, 1-65535");
  if (api_query_value(req->url, "user", user, sizeof user) <= 0 ||
      !terminal_ssh_user_ok(user))
    return api_reply_error(resp, 400, "bad_request",
                           "user must be a login name on the device: "
                           "letters, digits, '.', '_' and '-', at most 32, "
                           "not starting with '.' or '-'");
  struct acl_rules *rules = calloc(1, sizeof *rules);
  if (!rules)
    return api_reply_error(resp, 500, "internal", "out of memory");
  acl_effective(api->tunnels->acl, device_id, rules);
  char why[160];
  int reach = acl_check_reach(rules, (uint16_t)port, why, sizeof why);
  free(rules);
  if (reach != 0)
    return api_reply_error(resp, 403, "port_not_allowed", why);
  bool own_address;
  struct tunnel *t = carrier(api, device_id, (uint16_t)port, &own_address);
  if (!t) {
    snprintf(why, sizeof why,
             "%s has no tunnel up that reaches its port %ld (a wireguard "
             "tunnel, or a tcp one to that port)",
             device_id, port);
    return api_reply_error(resp, 409, "no_route", why);
  }
  if (terminals_of(ts, who->name) >= TERMINALS_PER_USER)
    return api_reply_error(resp, 429, "too_many_terminals",
                           "you have as many terminals open as one user "
                           "may; close one first");
  if (ts->count >= TERMINALS_MAX)
    return api_reply_error(resp, 503, "terminals_full",
                           "the server runs as many terminals as it may; "
                           "try again later");
  struct pending_terminal *p = calloc(1, sizeof *p);
  if (!p)
    return api_reply_error(resp, 500, "internal", "out of memory");
  p->api = api;
  fill_request(api, req, who, device_id, t, own_address, (uint16_t)port,
               user, &p->rq);
  if (!req->upgrade) { /* a check: what an upgrade would open */
    api_reply_json(resp, 200, request_json(&p->rq));
    return free(p);
  }
  resp->take_over = start;
  resp->take_over_arg = p;
}

/* ---- what a terminal asks of the control API (terminal_hooks) ---- */

static void hook_audit(void *arg, const char *event, const char *device_id,
                       const char *tunnel_id, const char *actor,
                       const char *detail)
{
  api_audit_event(arg, event, device_id, tunnel_id, actor, detail);
}

static bool hook_session(void *arg, const char *session, const char *csrf,
                         bool activity)
{
  return api_console_session_check(arg, session, csrf, activity);
}

void control_api_terminals(struct control_api *api, struct terminals *ts)
{
  api->terminals = ts;
  ts->hooks = (struct terminal_hooks){hook_audit, hook_session, api};
}
