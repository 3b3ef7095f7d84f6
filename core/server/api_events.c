/* GET /v1/events: the event stream (server/events.h) as the control API
 * makes it. Who may subscribe is the table's (authz.c: viewers and up; a
 * device may not), with the console's cookie or an API key. What is sent
 * comes from the audit trail's tap: every change a page shows is audited
 * first (tunnels, sessions, devices, approvals), so a record becomes
 *   audit     the record itself
 *   tunnel    {"id","device_id","what":"created"|"changed"|"ended"}
 *   device    {"id","what":EVENT,"online"}   (its tunnels or itself)
 *   approval  {"device_id","what":EVENT}
 * and once a second, while anyone follows, "traffic" (below),
 * small enough that a page fetches or patches what changed. */
#include "server/control_api_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/api_key.h"
#include "auth/crypto.h"
#include "base/clock.h"
#include "base/strbuf.h"
#include "telemetry/otlp.h"
#include "tunnel/store.h"

struct pending {
  struct control_api *api;
  struct events_who who;
};

/* http_server calls this at once, right after the handler that set it. */
static void start_stream(void *arg, const struct http_request *req,
                         struct weft_stream *conn)
{
  (void)req;
  struct pending *p = arg;
  events_subscribe(&p->api->events, conn, &p->who);
  crypto_wipe(p, sizeof *p);
  free(p);
}

void api_events_subscribe(struct control_api *api,
                          const struct http_request *req,
                          struct http_response *resp,
                          const struct principal *who)
{
  struct events_who w = {.local = who->kind == PRINCIPAL_LOCAL};
  snprintf(w.user, sizeof w.user, "%s", who->name);
  const char *auth = http_request_header(req, "authorization");
  if (w.local) {
    /* the server's own host: nothing to end it but the stop */
  } else if (auth) {
    struct api_key key;
    const char *text = auth + 7; /* "Bearer ": identify() checked it */
    if (strncasecmp(auth, "Bearer ", 7) ||
        api_key_parse(text, strlen(text), &key) != 0)
      return api_reply_error(resp, 403, "forbidden",
                             "the event stream is for users (an API key or "
                             "the console), not devices");
    memcpy(w.key_id, key.id, sizeof w.key_id);
  } else if (!api_console_session_of(api, req, w.session, sizeof w.session,
                                     w.key_id, sizeof w.key_id)) {
    return api_reply_error(resp, 401, "unauthorized", "not signed in");
  }
  int refuse = events_admit(&api->events, w.user);
  if (refuse == 429)
    return api_reply_error(resp, 429, "too_many_subscribers",
                           "you have as many event streams open as one "
                           "user may; close one (another tab?) first");
  if (refuse)
    return api_reply_error(resp, 503, "events_full",
                           "the server has as many event streams open as it "
                           "serves; try again later");
  struct pending *p = calloc(1, sizeof *p);
  if (!p)
    return api_reply_error(resp, 500, "internal", "out of memory");
  p->api = api;
  p->who = w;
  resp->take_over = start_stream;
  resp->take_over_arg = p;
  crypto_wipe(&w, sizeof w);
}

static bool may_stay(void *arg, const struct events_who *who)
{
  struct control_api *api = arg;
  struct store_user u;
  if (who->session[0] && !api_console_session_live(api, who->session))
    return false;
  return api->store->ops->user_get(api->store, who->user, &u) == 0 &&
         !strcmp(u.key_id, who->key_id);
}

/* Once a second: each tunnel whose traffic moved, in one event
 *   traffic  {"tunnels":[{"id","bytes_in","bytes_out","connections_open",
 *            "connections_total","last_activity"}]}
 * (ids are plain names: written as text, no tree for 1,000 tunnels). */
static void traffic(struct control_api *api)
{
  struct strbuf b = {0};
  size_t n = 0;
  for (struct tunnel *t = api->tunnels->live; t; t = t->next) {
    uint64_t sum = t->bytes_in + t->bytes_out + t->conns_open +
                   t->conns_total + t->datagrams_in + t->datagrams_out;
    if (sum == t->traffic_told)
      continue;
    t->traffic_told = sum;
    strbuf_addf(&b,
                "%s{\"id\":\"%s\",\"bytes_in\":%llu,\"bytes_out\":%llu,"
                "\"connections_open\":%llu,\"connections_total\":%llu,"
                "\"last_activity\":%lld}",
                n++ ? "," : "{\"tunnels\":[", t->lease->tunnel_id,
                (unsigned long long)t->bytes_in,
                (unsigned long long)t->bytes_out,
                (unsigned long long)t->conns_open,
                (unsigned long long)t->conns_total,
                (long long)t->lease->last_activity);
  }
  if (n) {
    strbuf_addf(&b, "]}");
    if (!b.oom)
      events_publish(&api->events, "traffic", b.data);
  }
  strbuf_free(&b);
}

/* What changes with time alone: traffic, and approvals that expire. */
static void tick(void *arg)
{
  struct control_api *api = arg;
  traffic(api);
  size_t before = api->approvals.count;
  approvals_expire(&api->approvals, clock_wall_s());
  if (api->approvals.count != before)
    events_publish(&api->events, "approval",
                   "{\"device_id\":null,\"what\":\"expired\"}");
}

static void publish(struct control_api *api, const char *kind, json_t *doc)
{
  char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  if (text)
    events_publish(&api->events, kind, text);
  free(text);
  json_decref(doc);
}

static bool starts(const char *s, const char *prefix)
{
  return !strncmp(s, prefix, strlen(prefix));
}

/* A device is online while one of its tunnels' sessions is up. */
static bool device_online(const struct control_api *api, const char *id)
{
  for (const struct tunnel *t = api->tunnels->live; t; t = t->next)
    if (t->connected && !strcmp(t->lease->device_id, id))
      return true;
  return false;
}

/* Every audit record, once kept: an OpenTelemetry event, and what the
 * event streams' subscribers see change. */
static void audit_tap(void *arg, const struct audit_event *e)
{
  struct control_api *api = arg;
  const char *what = e->event;
  bool warn = strstr(what, "refused") || strstr(what, "revoked") ||
              strstr(what, "denied") || strstr(what, "cut-off");
  otlp_event(api->otlp, what, warn ? "WARN" : "INFO", e->device_id,
             e->tunnel_id, e->actor, e->detail);
  /* Whoever signed out, was removed, rekeyed or given a new password
   * (which ended their console sessions): their streams end. */
  if (!strcmp(what, "console-signed-out") || !strcmp(what, "user-removed") ||
      !strcmp(what, "user-key-rotated") || !strcmp(what, "user-password-set"))
    events_recheck(&api->events);
  if (!events_count(&api->events))
    return;
  json_t *rec = json_pack("{s:s,s:I}", "event", what, "at", (json_int_t)e->at);
  const char *fields[][2] = {{"device_id", e->device_id},
                             {"tunnel_id", e->tunnel_id},
                             {"actor", e->actor},
                             {"detail", e->detail}};
  for (size_t i = 0; rec && i < sizeof fields / sizeof fields[0]; i++)
    if (fields[i][1])
      json_object_set_new(rec, fields[i][0], json_string(fields[i][1]));
  publish(api, "audit", rec);
  if (e->tunnel_id) {
    /* "created" is written before the tunnel joins the live ones; an end
     * after it has left them. */
    const struct tunnel *t = tunnel_service_find(api->tunnels, e->tunnel_id);
    json_t *doc = json_pack("{s:s,s:s}", "id", e->tunnel_id, "what",
                            !strcmp(what, "created") ? "created"
                            : t                      ? "changed"
                                                     : "ended");
    if (doc && e->device_id)
      json_object_set_new(doc, "device_id", json_string(e->device_id));
    if (doc && t)
      json_object_set_new(doc, "connected", json_boolean(t->connected));
    publish(api, "tunnel", doc);
  }
  if (e->device_id && (e->tunnel_id || starts(what, "device-")))
    publish(api, "device",
            json_pack("{s:s,s:s,s:b}", "id", e->device_id, "what", what,
                      "online", device_online(api, e->device_id)));
  if (starts(what, "approval-") || !strcmp(what, "enrollment-requested")) {
    json_t *doc = json_pack("{s:s}", "what", what);
    if (doc)
      json_object_set_new(doc, "device_id", e->device_id
                                                ? json_string(e->device_id)
                                                : json_null());
    publish(api, "approval", doc);
  }
}

void control_api_events_start(struct control_api *api, uv_loop_t *loop,
                              struct store *store)
{
  events_init(&api->events, loop, may_stay, tick, api);
  store->on_audit = audit_tap;
  store->on_audit_arg = api;
}
