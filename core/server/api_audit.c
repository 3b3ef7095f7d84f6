/* GET /v1/audit: the newest audit events from the store. */
#include "server/control_api_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/errors.h>

#include "tunnel/store.h"

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
  json_array_append_new(list, item);
  return 0;
}

/* An administrator on the server's host reads every event; a device
 * only its own (the identity issue brings roles). */
void api_audit(struct control_api *api, const struct http_request *req,
               struct http_response *resp, const char *subject)
{
  long limit = 100;
  const char *q = strstr(req->url, "limit=");
  if (q)
    limit = strtol(q + 6, NULL, 10);
  if (limit < 1 || limit > 1000)
    return api_reply_error(resp, 400, "bad_request", "limit must be 1-1000");
  json_t *list = json_array();
  const char *only = api_admin_here(api, req, subject) ? NULL : subject;
  api->store->ops->audit_each(api->store, only, (size_t)limit, audit_to_json,
                              list);
  api_reply_json(resp, 200, json_pack("{s:o}", "events", list));
}
