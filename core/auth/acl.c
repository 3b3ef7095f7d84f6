#include "auth/acl.h"
#include "auth/acl_overrides.h"
#include "base/names.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


const char *const acl_keys[] = {"publish_ports", "publish_hosts",
                                "reach_ports",   "allow_ips",
                                "allow_special_targets", "max_tunnels",
                                NULL};

static void defaults(struct acl_rules *r)
{
  char err[64];
  memset(r, 0, sizeof *r);
  port_list_parse("1024-65535", &r->publish_ports, err, sizeof err);
  host_list_parse("*", &r->publish_hosts, err, sizeof err);
  port_list_parse("22, 80, 443", &r->reach_ports, err, sizeof err);
  prefix_list_parse("any", &r->allow_ips, err, sizeof err);
  r->allow_special_targets = false;
  r->max_tunnels = ACL_DEFAULT_MAX_TUNNELS;
}

int acl_layer_set(struct acl_layer *layer, const char *key, const char *value,
                  char *err, size_t errlen)
{
  struct acl_rules *r = &layer->rules;
  if (!strcmp(key, "publish_ports")) {
    layer->set |= ACL_PUBLISH_PORTS;
    return port_list_parse(value, &r->publish_ports, err, errlen);
  }
  if (!strcmp(key, "publish_hosts")) {
    layer->set |= ACL_PUBLISH_HOSTS;
    return host_list_parse(value, &r->publish_hosts, err, errlen);
  }
  if (!strcmp(key, "reach_ports")) {
    layer->set |= ACL_REACH_PORTS;
    return port_list_parse(value, &r->reach_ports, err, errlen);
  }
  if (!strcmp(key, "allow_ips")) {
    layer->set |= ACL_ALLOW_IPS;
    return prefix_list_parse(value, &r->allow_ips, err, errlen);
  }
  if (!strcmp(key, "allow_special_targets")) {
    layer->set |= ACL_SPECIAL_TARGETS;
    if (!strcmp(value, "true") || !strcmp(value, "yes"))
      r->allow_special_targets = true;
    else if (!strcmp(value, "false") || !strcmp(value, "no"))
      r->allow_special_targets = false;
    else {
      snprintf(err, errlen, "'%.64s' is not a boolean: use true or false",
               value);
      return -1;
    }
    return 0;
  }
  if (!strcmp(key, "max_tunnels")) {
    layer->set |= ACL_MAX_TUNNELS;
    char *end;
    long n = strtol(value, &end, 10);
    if (end == value || *end || n < 1 || n > 10000) {
      snprintf(err, errlen, "'%.64s' is not a number of tunnels (1-10000)",
               value);
      return -1;
    }
    r->max_tunnels = (unsigned)n;
    return 0;
  }
  snprintf(err, errlen,
           "unknown key '%s': valid keys are publish_ports, publish_hosts, "
           "reach_ports, allow_ips, allow_special_targets, max_tunnels",
           key);
  return -1;
}

static void apply(struct acl_rules *r, const struct acl_layer *l)
{
  if (l->set & ACL_PUBLISH_PORTS)
    r->publish_ports = l->rules.publish_ports;
  if (l->set & ACL_PUBLISH_HOSTS)
    r->publish_hosts = l->rules.publish_hosts;
  if (l->set & ACL_REACH_PORTS)
    r->reach_ports = l->rules.reach_ports;
  if (l->set & ACL_ALLOW_IPS)
    r->allow_ips = l->rules.allow_ips;
  if (l->set & ACL_SPECIAL_TARGETS)
    r->allow_special_targets = l->rules.allow_special_targets;
  if (l->set & ACL_MAX_TUNNELS)
    r->max_tunnels = l->rules.max_tunnels;
}

static const struct acl_layer *find(const struct acl_layer *layers, size_t n,
                                    const char *name)
{
  for (size_t i = 0; i < n; i++)
    if (!strcmp(layers[i].name, name))
      return &layers[i];
  return NULL;
}

bool acl_policy_has_class(const struct acl_policy *p, const char *name)
{
  return !strcmp(name, "default") || find(p->classes, p->class_count, name);
}

const char *acl_class_of(const struct acl_policy *p, const char *device_id)
{
  const struct acl_override *ov = acl_overrides_find(p->overrides, device_id);
  if (ov && ov->text[ACL_OV_CLASS])
    return ov->text[ACL_OV_CLASS];
  const struct acl_layer *dev =
      device_id ? find(p->devices, p->device_count, device_id) : NULL;
  return dev && dev->class_name[0] ? dev->class_name : "default";
}

/* The API's layer: each text set, parsed as weft.conf's would be (checked
 * when it was set, so a failure here leaves that field out). */
static void apply_override(struct acl_rules *out,
                           const struct acl_override *ov)
{
  struct acl_layer *layer = calloc(1, sizeof *layer);
  if (!layer)
    return;
  char err[128];
  for (int i = ACL_OV_CLASS + 1; i < ACL_OV_COUNT; i++)
    if (ov->text[i] &&
        acl_layer_set(layer, acl_override_keys[i], ov->text[i], err,
                      sizeof err) != 0)
      layer->set = 0; /* never half a layer */
  apply(out, layer);
  free(layer);
}

void acl_effective(const struct acl_policy *p, const char *device_id,
                   struct acl_rules *out)
{
  defaults(out);
  const struct acl_layer *base = find(p->classes, p->class_count, "default");
  if (base)
    apply(out, base);
  const char *class_name = acl_class_of(p, device_id);
  if (strcmp(class_name, "default")) {
    const struct acl_layer *cls = find(p->classes, p->class_count, class_name);
    if (cls)
      apply(out, cls);
  }
  const struct acl_layer *dev =
      device_id ? find(p->devices, p->device_count, device_id) : NULL;
  if (dev)
    apply(out, dev);
  const struct acl_override *ov = acl_overrides_find(p->overrides, device_id);
  if (ov)
    apply_override(out, ov);
}

int acl_override_check(int field, const char *text, char *err, size_t errlen)
{
  assert(field >= 0 && field < ACL_OV_COUNT);
  if (field == ACL_OV_CLASS) {
    if (name_is_plain(text, 63))
      return 0;
    snprintf(err, errlen, "class: '%.64s' is not a class name", text);
    return -1;
  }
  struct acl_layer *layer = calloc(1, sizeof *layer); /* 20 KiB: not on the stack */
  if (!layer) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  char why[192];
  int rc = acl_layer_set(layer, acl_override_keys[field], text, why,
                         sizeof why);
  free(layer);
  if (rc != 0)
    snprintf(err, errlen, "%s: %s", acl_override_keys[field], why);
  return rc;
}

void acl_policy_free(struct acl_policy *p)
{
  free(p->classes);
  free(p->devices);
  memset(p, 0, sizeof *p);
}

int acl_check_publish(const struct acl_rules *r, const struct url *remote,
                      char *why, size_t len)
{
  if (remote->scheme == URL_TCP || remote->scheme == URL_UDP) {
    if (!port_list_has(&r->publish_ports, remote->port)) {
      snprintf(why, len, "this device may not publish port %u", remote->port);
      return -1;
    }
    return 0;
  }
  if (remote->host_kind == URL_HOST_NAME &&
      !host_list_has(&r->publish_hosts, remote->host)) {
    snprintf(why, len, "this device may not publish host name %s",
             remote->host);
    return -1;
  }
  return 0;
}

int acl_check_reach(const struct acl_rules *r, uint16_t port, char *why,
                    size_t len)
{
  if (!port_list_has(&r->reach_ports, port)) {
    snprintf(why, len, "port %u of this device is not open to operators",
             port);
    return -1;
  }
  return 0;
}

int acl_check_source(const struct prefix_list *allow, const char *ip,
                     char *why, size_t len)
{
  uint8_t a[16];
  if (addr_parse(ip, a) != 0 || !prefix_list_has(allow, a)) {
    snprintf(why, len, "%s is not allowed to connect to this tunnel", ip);
    return -1;
  }
  return 0;
}

/* Addresses that are never a legitimate relay target without saying so. */
static const char *special_kind(const uint8_t a[16])
{
  static const struct {
    const char *prefix;
    const char *kind;
  } specials[] = {
      {"127.0.0.0/8", "a loopback address"},
      {"::1/128", "a loopback address"},
      {"0.0.0.0/8", "an unspecified address"},
      {"::/128", "an unspecified address"},
      {"169.254.169.254/32", "a cloud metadata address"},
      {"fd00:ec2::254/128", "a cloud metadata address"},
      {"100.100.100.200/32", "a cloud metadata address"},
      {"169.254.0.0/16", "a link-local address"},
      {"fe80::/10", "a link-local address"},
      {"224.0.0.0/4", "a multicast address"},
      {"ff00::/8", "a multicast address"},
      {"255.255.255.255/32", "a broadcast address"},
  };
  for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) {
    struct prefix_list l;
    char err[64];
    prefix_list_parse(specials[i].prefix, &l, err, sizeof err);
    if (prefix_list_has(&l, a))
      return specials[i].kind;
  }
  /* NAT64 and 6to4 forms could smuggle an IPv4 loopback; refuse them too. */
  struct prefix_list nat64;
  char err[64];
  prefix_list_parse("64:ff9b::/96, 2002::/16", &nat64, err, sizeof err);
  if (prefix_list_has(&nat64, a))
    return "an IPv4-translated address";
  return NULL;
}

int acl_check_target(const struct acl_rules *r, const char *ip, uint16_t port,
                     char *why, size_t len)
{
  uint8_t a[16];
  if (addr_parse(ip, a) != 0) {
    snprintf(why, len, "'%s' is not an IP address", ip);
    return -1;
  }
  const char *kind = special_kind(a);
  if (kind && !(r && r->allow_special_targets)) {
    snprintf(why, len,
             "%s:%u is %s; set allow_special_targets = true for the device "
             "to allow it",
             ip, port, kind);
    return -1;
  }
  return 0;
}

int acl_check_device_to_device(const char *src_ip, const char *dst_ip,
                               bool (*is_device)(const uint8_t addr[16],
                                                 void *arg),
                               void *arg, char *why, size_t len)
{
  uint8_t s[16], d[16];
  if (addr_parse(src_ip, s) != 0 || addr_parse(dst_ip, d) != 0) {
    snprintf(why, len, "not an IP address");
    return -1;
  }
  if (is_device(s, arg) && is_device(d, arg)) {
    snprintf(why, len, "device-to-device traffic (%s to %s) is not allowed",
             src_ip, dst_ip);
    return -1;
  }
  return 0;
}
