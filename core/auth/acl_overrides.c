#include "auth/acl_overrides.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


const char *const acl_override_keys[ACL_OV_COUNT] = {
    "class", "publish_ports", "publish_hosts", "reach_ports", "allow_ips"};

void acl_overrides_init(struct acl_overrides *o)
{
  str_index_init(&o->by_device);
  o->first = NULL;
  o->count = 0;
}

static void override_free(struct acl_override *ov)
{
  for (int i = 0; i < ACL_OV_COUNT; i++)
    free(ov->text[i]);
  free(ov);
}

void acl_overrides_free(struct acl_overrides *o)
{
  for (struct acl_override *ov = o->first, *next; ov; ov = next) {
    next = ov->next;
    override_free(ov);
  }
  o->first = NULL;
  str_index_free(&o->by_device);
  o->count = 0;
}

const struct acl_override *acl_overrides_find(const struct acl_overrides *o,
                                              const char *device_id)
{
  return o && device_id ? str_index_get(&o->by_device, device_id) : NULL;
}

int acl_override_field(const char *key)
{
  for (int i = 0; i < ACL_OV_COUNT; i++)
    if (!strcmp(key, acl_override_keys[i]))
      return i;
  return -1;
}

int acl_overrides_set(struct acl_overrides *o, const char *device_id,
                      int field, const char *text)
{
  assert(field >= 0 && field < ACL_OV_COUNT);
  struct acl_override *ov = str_index_get(&o->by_device, device_id);
  if (!ov) {
    if (!text)
      return 0;
    ov = calloc(1, sizeof *ov);
    if (!ov)
      return -1;
    snprintf(ov->device_id, sizeof ov->device_id, "%s", device_id);
    if (str_index_add(&o->by_device, ov->device_id, ov) != 0) {
      free(ov);
      return -1;
    }
    ov->next = o->first;
    if (ov->next)
      ov->next->prev = ov;
    o->first = ov;
    o->count++;
  }
  char *copy = text ? strdup(text) : NULL;
  if (text && !copy)
    return -1;
  free(ov->text[field]);
  ov->text[field] = copy;
  for (int i = 0; i < ACL_OV_COUNT; i++)
    if (ov->text[i])
      return 0;
  str_index_remove(&o->by_device, ov->device_id, ov);
  if (ov->prev)
    ov->prev->next = ov->next;
  else
    o->first = ov->next;
  if (ov->next)
    ov->next->prev = ov->prev;
  override_free(ov);
  o->count--;
  return 0;
}
