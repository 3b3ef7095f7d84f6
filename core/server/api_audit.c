/* GET /v1/audit?limit=N&device=ID&actor=ID&event=E&since=T: the newest
 * audit events from the store, narrowed by what the query names. */
#include "server/control_api_internal.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/errors.h>

#include "base/clock.h"
#include "base/names.h"
#include "tunnel/store.h"

/* api_query_value for a value that must be plain (letters, digits, '-',
 * '_', '.'): -1 if it is not. */
static int query_plain(const char *url, const char *key, char *out,
                       size_t len)
{
  int found = api_query_value(url, key, out, len);
  return found > 0 && !name_is_plain(out, len - 1) ? -1 : found;
}

/* An actor is a device id, or KIND:NAME (user:ops, local:root) with its
 * colon given as is or as %3A: decoded in place; false if it is neither. */
static bool actor_ok(char *actor)
{
  char *pct = strstr(actor, "%3A");
  if (!pct)
    pct = strstr(actor, "%3a");
  if (pct) {
    *pct = ':';
    memmove(pct + 1, pct + 3, strlen(pct + 3) + 1);
  }
  char *colon = strchr(actor, ':');
  if (!colon)
    return name_is_plain(actor, 63);
  *colon = '\0';
  bool ok = name_is_plain(actor, 63) && name_is_plain(colon + 1, 63);
  *colon = ':';
  return ok;
}

static int audit_to_json(void *arg, const struct audit_event *e)
{
  json_t *list = arg;
  json_t *item = json_pack("{s:I,s:I,s:s}", "seq", (json_int_t)e->seq, "at",
                           (json_int_t)e->at, "event", e->event);
  if (e->tunnel_id[0])
    json_object_set_new(item, "tunnel_id", json_string(e->tunnel_id));
  if (e->device_id[0])
    json_object_set_new(item, "device_id", json_string(e->device_id));
  if (e->detail[0])
    json_object_set_new(item, "detail", json_string(e->detail));
  if (e->actor)
    json_object_set_new(item, "actor", json_string(e->actor));
  json_array_append_new(list, item);
  return 0;
}

void api_audit_event(struct control_api *api, const char *event,
                     const char *device_id, const char *tunnel_id,
                     const char *actor, const char *detail)
{
  struct audit_event e = {.at = clock_wall_s(), .event = event,
                          .device_id = device_id, .tunnel_id = tunnel_id,
                          .detail = detail, .actor = actor};
  store_audit(api->store, &e);
}

/* A user (or an administrator device) reads every event; a device only
 * its own. */
void api_audit(struct control_api *api, const struct http_request *req,
               struct http_response *resp, const struct principal *who)
{
  char limit_text[16], device[64], actor[64], event[64], since_text[24];
  if (query_plain(req->url, "limit", limit_text, sizeof limit_text) < 0 ||
      query_plain(req->url, "device", device, sizeof device) < 0 ||
      api_query_value(req->url, "actor", actor, sizeof actor) < 0 ||
      (actor[0] && !actor_ok(actor)) ||
      query_plain(req->url, "event", event, sizeof event) < 0 ||
      query_plain(req->url, "since", since_text, sizeof since_text) < 0)
    return api_reply_error(resp, 400, "bad_request",
                           "device and event are plain names, actor one or "
                           "KIND:NAME (user:ops); limit and since are "
                           "numbers");
  char *end;
  long limit = limit_text[0] ? strtol(limit_text, &end, 10) : 100;
  if (limit < 1 || limit > 1000 || (limit_text[0] && *end))
    return api_reply_error(resp, 400, "bad_request", "limit must be 1-1000");
  long long since = since_text[0] ? strtoll(since_text, &end, 10) : 0;
  if (since < 0 || (since_text[0] && *end))
    return api_reply_error(resp, 400, "bad_request",
                           "since is a time in seconds since 1970");
  struct audit_filter f = {.device_id = device[0] ? device : NULL,
                           .actor = actor[0] ? actor : NULL,
                           .event = event[0] ? event : NULL,
                           .since = since};
  /* A device reads only its own events, whatever it asks for. */
  if (who->role == ROLE_NONE) {
    if (f.device_id && strcmp(f.device_id, who->name))
      return api_reply_json(resp, 200, json_pack("{s:[]}", "events"));
    f.device_id = who->name;
  }
  json_t *list = json_array();
  api->store->ops->audit_each(api->store, &f, (size_t)limit, audit_to_json,
                              list);
  api_reply_json(resp, 200, json_pack("{s:o}", "events", list));
}
