/* Leases: every tunnel's claims (a virtual address from the pool, a public
 * port, a host name), each with an expiry and an idle timeout that only
 * public-side traffic resets. One live tunnel per device. Kept in memory for
 * speed and written through to the store, so they survive restarts.
 *
 * Time is wall-clock seconds passed in by the caller (core/base/clock.c), so
 * tests move time instead of sleeping. */
#ifndef WEFT_CORE_LEASES_H
#define WEFT_CORE_LEASES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunnel/lease_types.h"
#include "base/netlist.h"
#include "tunnel/store.h"
#include "base/url.h"

struct lease_config {
  uint32_t pool_net;         /* host order */
  unsigned pool_bits;        /* prefix length, 8..30 */
  struct port_list ports;    /* handed out when a tunnel asks for none */
  int64_t idle_timeout_s;
  int64_t ttl_s;             /* a term, renewed while the tunnel is used */
  int64_t max_lifetime_s;    /* after creation, in use or not; 0: never */
  int64_t quarantine_s;
  size_t max_tunnels;
};

struct lease_request {
  const char *device_id;
  const char *name;          /* may be NULL */
  const char *transport;
  const char *local_url;
  const struct url *remote;  /* NULL: the server chooses */
  const char *remote_text;
  const char *allow_ips;     /* NULL: the device's ACL */
  bool wants_address;        /* the transport gives devices pool addresses */
  const char *public_host;   /* host in published tcp/udp URLs */
  const char *path_base;     /* for http without a remote: public base URL */
  uint16_t http_port;        /* public HTTP port, for host-name URLs */
  uint16_t tls_port;         /* public TLS port, for https host names */
  unsigned device_max;       /* the device's live tunnels at most (ACL) */
};

struct quarantined {
  uint32_t vip;
  int64_t until;
};

struct leases {
  struct store *store;
  struct lease_config cfg;
  struct lease **items;
  size_t count, cap;
  struct quarantined *quarantine;
  size_t quarantine_count, quarantine_cap;
  uint32_t next_port_hint;
  /* Claims held, one bit each, so allocation never scans the leases:
   * pool addresses (leased or in quarantine), and public ports. */
  uint8_t *addr_held;
  uint8_t tcp_ports[65536 / 8];
  uint8_t udp_ports[65536 / 8];
  /* Optional: whether another program of the host holds a port, so that
   * a port the server picks is one it can listen on. */
  bool (*port_taken)(void *arg, const char *proto, uint16_t port);
  void *port_taken_arg;
};

/* Parses [server] pool/port_range etc. into a config. 0 or -1 with err. */
int lease_config_from_text(struct lease_config *cfg, const char *pool,
                           const char *port_range, int64_t idle_timeout_ms,
                           int64_t ttl_ms, int64_t quarantine_ms,
                           int64_t max_tunnels, char *err, size_t errlen);

/* The server's own address: the top usable address of the pool. */
uint32_t leases_server_address(const struct lease_config *cfg);
bool leases_is_device_address(const struct lease_config *cfg, uint32_t addr);

/* Loads every lease from the store. Leases already expired or idle are
 * reaped (on_reaped is told each one, with the reason). */
int leases_open(struct leases *ls, struct store *store,
                const struct lease_config *cfg, int64_t now,
                void (*on_reaped)(void *arg, const struct lease *l,
                                  const char *reason),
                void *arg);
void leases_close(struct leases *ls);

/* Creates a lease. Returns 0 and *out (owned by ls), or a negative code
 * with a message: WEFT_EEXIST (the device has a live tunnel: the message
 * names it), WEFT_EADDRINUSE (port or host name held by another tunnel),
 * WEFT_ELIMIT (pool, ports or tunnel count exhausted), WEFT_EIO (store). */
int leases_create(struct leases *ls, const struct lease_request *req,
                  int64_t now, struct lease **out, char *why, size_t len);

/* Ends a lease: out of the store, address into quarantine, audit record
 * naming the actor (see struct audit_event). The lease pointer is freed. */
int leases_release(struct leases *ls, const char *tunnel_id,
                   const char *event, const char *actor, const char *detail,
                   int64_t now);

/* An event of a live lease's tunnel (no change to the lease) in the
 * audit trail. */
void leases_audit(struct leases *ls, const struct lease *l, const char *event,
                  const char *actor, const char *detail, int64_t now);

/* Public traffic on a tunnel: resets its idle timer (persisted lazily). */
void leases_touch(struct leases *ls, struct lease *l, int64_t now);

/* Ends every lease past its expiry or idle timeout; returns how many. */
size_t leases_reap(struct leases *ls, int64_t now,
                   void (*on_reaped)(void *arg, const struct lease *l,
                                     const char *reason),
                   void *arg);

/* Seconds until the next lease could expire (for the reaper's timer), or
 * -1 if there is none. */
int64_t leases_next_deadline(const struct leases *ls, int64_t now);

struct lease *leases_find(const struct leases *ls, const char *tunnel_id);
/* A live lease of the device (the first found), or NULL. */
struct lease *leases_find_device(const struct leases *ls,
                                 const char *device_id);

/* "10.1.0.2" */
void leases_addr_text(uint32_t addr, char *buf, size_t len);

#endif
