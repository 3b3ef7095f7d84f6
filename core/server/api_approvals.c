/* /v1/approvals: tunnels waiting for an administrator (the consent flow). */
#include "server/control_api_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/errors.h>

#include "base/clock.h"
#include "base/log.h"
#include "tunnel/store.h"

void api_approval_list(struct control_api *api, struct http_response *resp,
                       const struct principal *who)
{
  int64_t now = clock_wall_s();
  approvals_expire(&api->approvals, now);
  json_t *list = json_array();
  for (struct approval *ap = api->approvals.head; ap; ap = ap->next)
    if (who->role != ROLE_NONE || authz_is_device(who, ap->device_id))
      json_array_append_new(list, approval_to_json(ap, now, 0));
  api_reply_json(resp, 200, json_pack("{s:o}", "approvals", list));
}

/* enrollment = approve: the device's key is bound now; its next login
 * gets in. */
static void enroll_approved(struct control_api *api, struct approval *ap,
                            const char *actor, struct http_response *resp)
{
  int64_t now = clock_wall_s();
  int rc = api->store->ops->device_key_bind(api->store, ap->device_id,
                                            ap->device_key, now);
  if (rc != 0) {
    ap->state = APPROVAL_FAILED;
    snprintf(ap->message, sizeof ap->message,
             "approved by %.63s, but the device id %s", actor,
             rc == WEFT_EEXIST ? "is bound to a key already" : "could not be "
                                                               "stored");
    return api_reply_error(resp, rc == WEFT_EEXIST ? 409 : 500,
                           rc == WEFT_EEXIST ? "device_enrolled" : "internal",
                           ap->message);
  }
  ap->state = APPROVAL_APPROVED;
  char detail[200];
  snprintf(detail, sizeof detail, "bound to key %s, request %s approved",
           ap->key_fingerprint, ap->id);
  api_audit_event(api, "device-enrolled", ap->device_id, NULL, actor, detail);
  log_info("device %s enrolled by %s: %s", ap->device_id, actor, detail);
  api_reply_json(resp, 200, approval_to_json(ap, now, 0));
}

static void decide(struct control_api *api, struct approval *ap, bool approve,
                   const char *actor, struct http_response *resp)
{
  int64_t now = clock_wall_s();
  if (ap->state != APPROVAL_PENDING)
    return api_reply_error(resp, 409, "already_decided",
                           "this request was already decided");
  snprintf(ap->decided_by, sizeof ap->decided_by, "%s", actor);
  ap->decided_at = now;
  if (!approve) {
    ap->state = APPROVAL_DENIED;
    snprintf(ap->message, sizeof ap->message, "denied by %s", actor);
    log_info("approval %s for device %s denied by %s", ap->id, ap->device_id,
             actor);
    char detail[96];
    snprintf(detail, sizeof detail, "request %s denied", ap->id);
    api_audit_event(api, "approval-denied", ap->device_id, NULL, actor,
                    detail);
    return api_reply_json(resp, 200, approval_to_json(ap, now, 0));
  }
  if (ap->enrollment)
    return enroll_approved(api, ap, actor, resp);
  struct tunnel_request tr;
  struct http_response scratch = {0};
  api_tunnel_request_fields(ap->request, &tr,
                            &scratch); /* checked when it came */
  strbuf_free(&scratch.body);
  strbuf_free(&scratch.headers);
  tr.device_id = ap->device_id;
  struct tunnel_outcome out;
  tunnel_service_create(api->tunnels, &tr, &out);
  if (out.status != 201) {
    ap->state = APPROVAL_FAILED;
    snprintf(ap->message, sizeof ap->message, "approved by %.63s, but: %.512s",
             actor, out.message);
    return api_reply_error(resp, out.status, out.code, out.message);
  }
  ap->state = APPROVAL_APPROVED;
  ap->tunnel = api_created_reply(api, &out);
  log_info("approval %s for device %s granted by %s: tunnel %s", ap->id,
           ap->device_id, actor, out.tunnel->lease->tunnel_id);
  char detail[96];
  snprintf(detail, sizeof detail, "request %s approved", ap->id);
  api_audit_event(api, "approval-granted", ap->device_id,
                  out.tunnel->lease->tunnel_id, actor, detail);
  json_t *doc = approval_to_json(ap, now, 0);
  json_object_set_new(doc, "tunnel_id",
                      json_string(out.tunnel->lease->tunnel_id));
  api_reply_json(resp, 200, doc);
}

/* /v1/approvals/ID[/approve|/deny] */
void api_approval_one(struct control_api *api, const struct http_request *req,
                      struct http_response *resp, const char *rest,
                      const struct principal *who)
{
  approvals_expire(&api->approvals, clock_wall_s());
  char id[32];
  size_t n = strcspn(rest, "/");
  const char *action = rest[n] ? rest + n + 1 : NULL;
  if (n == 0 || n >= sizeof id)
    return api_reply_error(resp, 404, "not_found", "no such request");
  memcpy(id, rest, n);
  id[n] = '\0';
  struct approval *ap = approvals_find(&api->approvals, id);
  /* Deciding is for administrators alone (the table says so before any
   * handler runs, the same answer whether or not ID exists). */
  bool owner = ap && authz_is_device(who, ap->device_id);
  if (!ap || (who->role == ROLE_NONE && !owner))
    return api_reply_error(resp, 404, "not_found",
                           "no such request (it expired, was withdrawn, or the "
                           "server restarted: ask again)");
  if (action) {
    bool approve = !strcmp(action, "approve");
    if (!approve && strcmp(action, "deny"))
      return api_reply_error(resp, 404, "not_found", "no such endpoint");
    if (!api_method_is(req, "POST"))
      return api_method_not_allowed(resp, "POST");
    if (owner)
      return api_reply_error(resp, 403, "forbidden",
                             "a device does not approve its own tunnel");
    return decide(api, ap, approve, who->actor, resp);
  }
  if (api_method_is(req, "GET"))
    return api_reply_json(resp, 200,
                          approval_to_json(ap, clock_wall_s(), owner));
  if (api_method_is(req, "DELETE")) { /* withdrawn by its device, or dropped */
    if (!owner && who->role != ROLE_ADMIN)
      return api_reply_error(resp, 403, "forbidden",
                             "only the device that asked, or an "
                             "administrator, withdraws a request");
    log_info("approval %s withdrawn by %s", ap->id, who->actor);
    char detail[96];
    snprintf(detail, sizeof detail, "request %s withdrawn", ap->id);
    api_audit_event(api, "approval-withdrawn", ap->device_id, NULL,
                    who->actor, detail);
    approvals_remove(&api->approvals, ap);
    resp->status = 204;
    return;
  }
  api_method_not_allowed(resp, "GET, DELETE");
}

/* A tunnel as others see it: what its transport handed its device (keys,
 * such as a WireGuard preshared key) only to that device. */
