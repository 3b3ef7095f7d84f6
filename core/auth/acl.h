/* Access control, checked in one place: what a device may publish, which of
 * its ports operators may reach, who may connect to a tunnel's public side,
 * which addresses may be targets at all, and no device-to-device traffic.
 *
 * Rules come in layers: built-in defaults, then [class "default"], then the
 * device's class, then [device "ID"] overrides, then what the API set for
 * the device; a later layer replaces a whole list, it does not merge. */
#ifndef WEFT_CORE_ACL_H
#define WEFT_CORE_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/netlist.h"
#include "base/url.h"

struct acl_rules {
  struct port_list publish_ports;   /* remote tcp/udp ports it may publish */
  struct host_list publish_hosts;   /* remote http/https names */
  struct port_list reach_ports;     /* its ports operators may reach */
  struct prefix_list allow_ips;     /* public clients allowed in */
  bool allow_special_targets;       /* loopback, link-local, metadata */
  unsigned max_tunnels;             /* live tunnels it may hold at once */
};

/* Which fields a layer sets. */
enum acl_field {
  ACL_PUBLISH_PORTS = 1u << 0,
  ACL_PUBLISH_HOSTS = 1u << 1,
  ACL_REACH_PORTS = 1u << 2,
  ACL_ALLOW_IPS = 1u << 3,
  ACL_SPECIAL_TARGETS = 1u << 4,
  ACL_MAX_TUNNELS = 1u << 5,
};

/* A device's live tunnels, unless its class or section says otherwise. */
#define ACL_DEFAULT_MAX_TUNNELS 64

struct acl_layer {
  char name[64];       /* class name or device id */
  char class_name[64]; /* devices only: "" = default */
  unsigned set;        /* enum acl_field bits */
  struct acl_rules rules;
};

struct acl_overrides;

struct acl_policy {
  struct acl_layer *classes;
  size_t class_count;
  struct acl_layer *devices;
  size_t device_count;
  /* What operators set through the API (auth/acl_overrides.h): the last
   * layer, and a class that replaces the device's. Not owned; may be NULL. */
  const struct acl_overrides *overrides;
};

/* The keys a [class "X"] or [device "X"] section takes. */
extern const char *const acl_keys[];

/* Parses one key into a layer: 0, or -1 with a message naming what is
 * valid. Shared by weft.conf validation and the policy builder. */
int acl_layer_set(struct acl_layer *layer, const char *key, const char *value,
                  char *err, size_t errlen);

/* A policy is built from weft.conf by conf_acl_policy (config.h). */
void acl_policy_free(struct acl_policy *policy);

/* Whether weft.conf has [class "name"] ("default" always exists). */
bool acl_policy_has_class(const struct acl_policy *policy, const char *name);

/* The class a device is in ("default" when none names one). */
const char *acl_class_of(const struct acl_policy *policy,
                         const char *device_id);

/* Whether text is a valid value for an API override's field (auth/
 * acl_overrides.h: a class, a plain name; the lists, as weft.conf reads
 * them). 0, or -1 with err. */
int acl_override_check(int field, const char *text, char *err, size_t errlen);

/* The rules for one device. */
void acl_effective(const struct acl_policy *policy, const char *device_id,
                   struct acl_rules *out);

/* Each returns 0 if allowed, or -1 with why (written for the client). */
int acl_check_publish(const struct acl_rules *rules, const struct url *remote,
                      char *why, size_t len);
int acl_check_reach(const struct acl_rules *rules, uint16_t port, char *why,
                    size_t len);
int acl_check_source(const struct prefix_list *allow, const char *ip,
                     char *why, size_t len);
/* Loopback, unspecified, link-local, multicast and cloud metadata addresses
 * (v4, v6 and v4-mapped) are refused unless rules allow special targets. */
int acl_check_target(const struct acl_rules *rules, const char *ip,
                     uint16_t port, char *why, size_t len);
/* is_device(addr) tells whether an address belongs to a device. */
int acl_check_device_to_device(const char *src_ip, const char *dst_ip,
                               bool (*is_device)(const uint8_t addr[16],
                                                 void *arg),
                               void *arg, char *why, size_t len);

#endif
