/* The lease type: what a tunnel holds on the server and until when. The
 * leases themselves (claims, expiry, the store) are leases.h. */
#ifndef WEFT_CORE_LEASE_TYPES_H
#define WEFT_CORE_LEASE_TYPES_H

#include <stdbool.h>
#include <stdint.h>

struct lease {
  char *tunnel_id;
  char *device_id;
  char *name;        /* may be "" */
  char *transport;
  char *local_url;
  char *remote_url;  /* as requested, "" when the server chose */
  char *public_url;  /* what the server published */
  char *allow_ips;   /* public source allowlist, "" = the device's ACL */
  uint32_t vip;      /* virtual IPv4 address (host order), 0 = none */
  char port_proto[4];/* "tcp", "udp" or "" */
  uint16_t port;     /* public port, 0 = none */
  char *hostname;    /* "" = none */
  int64_t created_at;     /* wall-clock seconds */
  int64_t expires_at;
  int64_t idle_timeout_s;
  int64_t last_activity;  /* public-side traffic only */
  int64_t last_persisted; /* when last_activity last reached the store */
};

void lease_free(struct lease *l);
/* A deep copy, or NULL when out of memory. */
struct lease *lease_dup(const struct lease *l);

#endif
