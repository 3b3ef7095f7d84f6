/* /v1/devices/{id}: one device, and its ACL as operators change it.
 *   GET   /v1/devices/{id}  its key, class, the rules in force (weft.conf's
 *                           layers and the API's), its live tunnels
 *   PATCH /v1/devices/{id}  {"reach_ports":"22,3389"} (operators), and
 *                           class, publish_ports, publish_hosts, allow_ips
 *                           (administrators); null clears a field. Kept in
 *                           the store, in force at once on live tunnels
 *                           (the WireGuard firewall, the public ports'
 *                           allowlists), audited with who changed what. */
#include "server/control_api_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include <weft/errors.h>

#include "auth/acl.h"
#include "auth/acl_overrides.h"
#include "auth/device_key.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/names.h"
#include "tunnel/store.h"

static void host_list_text(const struct host_list *l, char *buf, size_t len)
{
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < l->count && used < len; i++) {
    int n = snprintf(buf + used, len - used, "%s%s", i ? "," : "",
                     l->pattern[i]);
    if (n < 0)
      break;
    used += (size_t)n;
  }
}

/* The rules in force for the device, as texts weft.conf would hold. */
static json_t *rules_json(const struct acl_rules *r)
{
  char ports[1024], reach[1024], hosts[4096], ips[2048];
  port_list_format(&r->publish_ports, ports, sizeof ports);
  port_list_format(&r->reach_ports, reach, sizeof reach);
  host_list_text(&r->publish_hosts, hosts, sizeof hosts);
  prefix_list_format(&r->allow_ips, ips, sizeof ips);
  return json_pack("{s:s,s:s,s:s,s:s,s:b,s:i}", "publish_ports", ports,
                   "publish_hosts", hosts, "reach_ports", reach, "allow_ips",
                   ips, "allow_special_targets", r->allow_special_targets,
                   "max_tunnels", (int)r->max_tunnels);
}

static json_t *device_json(struct control_api *api, const char *id)
{
  const struct acl_policy *policy = api->tunnels->acl;
  struct acl_rules *rules = calloc(1, sizeof *rules); /* 20 KiB */
  if (!rules)
    return NULL;
  acl_effective(policy, id, rules);
  json_t *doc = json_pack("{s:s,s:s,s:o,s:b}", "id", id, "class",
                          acl_class_of(policy, id), "acl", rules_json(rules),
                          "revoked",
                          api->store->ops->device_revoked(api->store, id) == 1);
  free(rules);
  uint8_t key[32];
  int64_t bound_at = 0;
  if (api->store->ops->device_key_get(api->store, id, key, &bound_at) == 0) {
    char fp[DEVICE_KEY_FINGERPRINT_LEN];
    device_key_fingerprint(key, fp);
    json_object_set_new(doc, "key_fingerprint", json_string(fp));
    json_object_set_new(doc, "enrolled_at", json_integer(bound_at));
  }
  json_t *set = json_object();
  const struct acl_override *ov = acl_overrides_find(api->acl_overrides, id);
  for (int i = 0; ov && i < ACL_OV_COUNT; i++)
    if (ov->text[i])
      json_object_set_new(set, acl_override_keys[i], json_string(ov->text[i]));
  json_object_set_new(doc, "set", set);
  json_t *tunnels = json_array();
  bool online = false; /* while one of its sessions is up */
  for (struct tunnel *t = api->tunnels->live; t; t = t->next)
    if (!strcmp(t->lease->device_id, id)) {
      json_array_append_new(tunnels, json_string(t->lease->tunnel_id));
      online = online || t->connected;
    }
  json_object_set_new(doc, "tunnels", tunnels);
  json_object_set_new(doc, "online", json_boolean(online));
  return doc;
}

void api_device_one(struct control_api *api, const struct http_request *req,
                    struct http_response *resp, const char *id,
                    const struct principal *who)
{
  if (!name_is_plain(id, 63))
    return api_reply_error(resp, 404, "not_found", "no such device");
  if (api_method_is(req, "PATCH"))
    return api_device_patch(api, req, resp, id, who);
  json_t *doc = device_json(api, id);
  if (!doc)
    return api_reply_error(resp, 500, "internal", "out of memory");
  api_reply_json(resp, 200, doc);
}

void api_device_patch(struct control_api *api, const struct http_request *req,
                      struct http_response *resp, const char *id,
                      const struct principal *who)
{
  json_t *doc = api_body_object(req, resp);
  if (!doc)
    return;
  /* What the device has now, and what the body changes. */
  const struct acl_override *ov = acl_overrides_find(api->acl_overrides, id);
  const char *text[ACL_OV_COUNT] = {0};
  bool changed[ACL_OV_COUNT] = {0};
  for (int i = 0; ov && i < ACL_OV_COUNT; i++)
    text[i] = ov->text[i];
  const char *key;
  json_t *value;
  char err[256], detail[512] = "";
  size_t used = 0;
  json_object_foreach(doc, key, value)
  {
    int field = acl_override_field(key);
    if (field < 0 || (!json_is_string(value) && !json_is_null(value))) {
      json_decref(doc);
      return api_reply_error(resp, 400, "bad_request",
                             "a device takes class, publish_ports, "
                             "publish_hosts, reach_ports and allow_ips, each "
                             "a string, or null to clear it");
    }
    if (field != ACL_OV_REACH_PORTS && who->role != ROLE_ADMIN) {
      json_decref(doc);
      char message[160];
      snprintf(message, sizeof message,
               "%s (%s) may change a device's reach_ports only", who->name,
               authz_role_name(who->role));
      return api_reply_error(resp, 403, "forbidden", message);
    }
    const char *v = json_string_value(value);
    if (v && acl_override_check(field, v, err, sizeof err) != 0) {
      json_decref(doc);
      return api_reply_error(resp, 400, "bad_request", err);
    }
    if (v && field == ACL_OV_CLASS &&
        !acl_policy_has_class(api->tunnels->acl, v)) {
      snprintf(err, sizeof err, "class: weft.conf has no [class \"%.64s\"]",
               v);
      json_decref(doc); /* (v was in it) */
      return api_reply_error(resp, 400, "bad_request", err);
    }
    text[field] = v;
    changed[field] = true;
    int n = snprintf(detail + used, sizeof detail - used, "%s%s=%s",
                     used ? ", " : "", key, v ? v : "(weft.conf's)");
    if (n > 0 && used + (size_t)n < sizeof detail)
      used += (size_t)n;
  }
  if (!used) {
    json_decref(doc);
    return api_reply_error(resp, 400, "bad_request", "nothing to change");
  }
  /* The store first: what it did not keep is not in force. */
  if (api->store->ops->device_acl_put(api->store, id, text, clock_wall_s()) !=
      0) {
    json_decref(doc);
    return api_reply_error(resp, 500, "internal", "the store failed");
  }
  for (int i = 0; i < ACL_OV_COUNT; i++)
    if (changed[i] &&
        acl_overrides_set(api->acl_overrides, id, i, text[i]) != 0)
      log_error("device %s: out of memory setting its %s", id,
                acl_override_keys[i]);
  json_decref(doc); /* (text[] pointed into it until here) */
  tunnel_service_acl_changed(api->tunnels);
  api_audit_event(api, "device-acl-changed", id, NULL, who->actor, detail);
  log_info("device %s: %s, by %s", id, detail, who->actor);
  json_t *view = device_json(api, id);
  if (!view)
    return api_reply_error(resp, 500, "internal", "out of memory");
  api_reply_json(resp, 200, view);
}
