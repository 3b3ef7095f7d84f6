/* /v1/devices: what the server holds about devices. So far, the key a
 * device id is bound to (auth/device_key.h) and its release:
 *   GET    /v1/devices            every device with a key (administrators)
 *   DELETE /v1/devices/{id}/key   an administrator frees the id, e.g. for a
 *                                 reinstalled device that lost its key; the
 *                                 next key to log in as it is bound. */
#include "server/control_api_internal.h"

#include <jansson.h>
#include <stdio.h>

#include <weft/errors.h>

#include "base/clock.h"
#include "auth/device_key.h"
#include "base/log.h"
#include "tunnel/store.h"

static int device_to_json(void *arg, const char *device_id,
                          const uint8_t public_key[32], int64_t bound_at)
{
  char fp[DEVICE_KEY_FINGERPRINT_LEN];
  device_key_fingerprint(public_key, fp);
  json_array_append_new(arg, json_pack("{s:s,s:s,s:I}", "id", device_id,
                                       "key_fingerprint", fp, "enrolled_at",
                                       (json_int_t)bound_at));
  return 0;
}

void api_device_list(struct control_api *api, const struct http_request *req,
                     struct http_response *resp, const char *subject)
{
  if (!api_admin_here(api, req, subject))
    return api_reply_error(resp, 403, "forbidden",
                           "only an administrator on the server's host may "
                           "list devices");
  json_t *list = json_array();
  if (api->store->ops->device_key_each(api->store, device_to_json, list) !=
      0) {
    json_decref(list);
    return api_reply_error(resp, 500, "internal", "the store failed");
  }
  api_reply_json(resp, 200, json_pack("{s:o}", "devices", list));
}

void api_device_key_forget(struct control_api *api,
                           const struct http_request *req,
                           struct http_response *resp, const char *device_id,
                           const char *subject)
{
  if (!api_admin_here(api, req, subject))
    return api_reply_error(resp, 403, "forbidden",
                           "only an administrator on the server's host may "
                           "free a device id");
  int rc = api->store->ops->device_key_forget(api->store, device_id);
  if (rc == WEFT_ENOENT)
    return api_reply_error(resp, 404, "not_found",
                           "no key is bound to that device id");
  if (rc != 0)
    return api_reply_error(resp, 500, "internal", "the store failed");
  char detail[160];
  snprintf(detail, sizeof detail, "its key was forgotten by %s from %s",
           subject, req->peer_ip);
  struct audit_event e = {.at = clock_wall_s(),
                          .event = "device-key-forgotten",
                          .device_id = device_id,
                          .detail = detail};
  api->store->ops->audit(api->store, &e);
  log_info("device %s: %s", device_id, detail);
  resp->status = 204;
}
