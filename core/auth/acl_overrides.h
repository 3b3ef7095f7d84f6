/* A device's ACL as operators set it through the API (PATCH
 * /v1/devices/{id}), the last layer over weft.conf's: its class, and any
 * of publish_ports, publish_hosts, reach_ports and allow_ips. Kept as the
 * texts weft.conf would hold (a few bytes a device, however many devices)
 * and parsed when a device's rules are worked out. The store keeps them;
 * this is the server's copy. */
#ifndef WEFT_AUTH_ACL_OVERRIDES_H
#define WEFT_AUTH_ACL_OVERRIDES_H

#include <stddef.h>

#include "base/str_index.h"

enum acl_override_field {
  ACL_OV_CLASS,
  ACL_OV_PUBLISH_PORTS,
  ACL_OV_PUBLISH_HOSTS,
  ACL_OV_REACH_PORTS,
  ACL_OV_ALLOW_IPS,
  ACL_OV_COUNT
};

/* The field names, as the API and weft.conf spell them. */
extern const char *const acl_override_keys[ACL_OV_COUNT];

struct acl_override {
  char device_id[64];
  char *text[ACL_OV_COUNT]; /* NULL: not set here */
  struct acl_override *next, *prev;
};

struct acl_overrides {
  struct str_index by_device;
  struct acl_override *first; /* every one, in no order */
  size_t count;
};

void acl_overrides_init(struct acl_overrides *o);
void acl_overrides_free(struct acl_overrides *o);

/* A device's overrides, or NULL when it has none. */
const struct acl_override *acl_overrides_find(const struct acl_overrides *o,
                                              const char *device_id);

/* The field a key names, or -1. */
int acl_override_field(const char *key);

/* Sets one field of a device's overrides (text NULL: clears it; a device
 * left with none is forgotten). text must have passed acl_override_check.
 * 0, or -1 (out of memory). */
int acl_overrides_set(struct acl_overrides *o, const char *device_id,
                      int field, const char *text);

#endif
