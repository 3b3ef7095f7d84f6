#include "tunnel/lease_types.h"

#include <stdlib.h>
#include <string.h>

void lease_free(struct lease *l)
{
  if (!l)
    return;
  free(l->tunnel_id);
  free(l->device_id);
  free(l->name);
  free(l->transport);
  free(l->local_url);
  free(l->remote_url);
  free(l->public_url);
  free(l->allow_ips);
  free(l->hostname);
  free(l);
}

struct lease *lease_dup(const struct lease *src)
{
  struct lease *l = malloc(sizeof *l);
  if (!l)
    return NULL;
  *l = *src;
  char **fields[] = {&l->tunnel_id, &l->device_id,  &l->name,
                     &l->transport, &l->local_url,  &l->remote_url,
                     &l->public_url, &l->allow_ips, &l->hostname};
  bool ok = true;
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    const char *s = *fields[i];
    *fields[i] = strdup(s ? s : "");
    ok &= *fields[i] != NULL;
  }
  if (!ok) {
    lease_free(l);
    return NULL;
  }
  return l;
}
