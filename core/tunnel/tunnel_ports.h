/* A tunnel's own public ports on the server: the listeners its lease
 * owns, and what happens to each public connection before its transport
 * carries it (source allowlist, per-address cap, traffic accounting for
 * the tunnel's metrics and idle timer). A listener lives and dies with its
 * lease. The server's shared HTTP and TLS ports are ingress/. */
#ifndef WEFT_CORE_TUNNEL_PORTS_H
#define WEFT_CORE_TUNNEL_PORTS_H

#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

struct lease;
struct prefix_list;
struct tunnel;
struct tunnel_service;

/* The sources a lease's public port admits: false for anyone; else true
 * and the list (the lease's own allow_ips, or else its device's ACL). */
bool tunnel_ports_allow_list(const struct tunnel_service *svc,
                        const struct lease *l, struct prefix_list *out);

/* Opens what the tunnel's lease publishes (a tcp or udp port). 0, or a code
 * with why (the port is taken on this host...). */
/* The ACL changed: who may connect is worked out again, for connections
 * from now on. */
void tunnel_ports_refresh_allow(struct tunnel_service *svc, struct tunnel *t);

int tunnel_ports_open(struct tunnel_service *svc, struct tunnel *t, char *why,
                 size_t len);
/* Hands one public connection to the tunnel's transport, after the
 * source allowlist and the per-address cap, with traffic accounting. 0, or
 * a code (the caller still owns the stream and should close it). */
struct weft_stream;
int tunnel_ports_adopt(struct tunnel *t, struct weft_stream *s);
/* The same for a connection the server itself makes to the device's
 * service (the console terminal's ssh, which an operator's ACL admitted):
 * no source checks, the same accounting. */
int tunnel_ports_relay(struct tunnel *t, struct weft_stream *s);

/* Sends a datagram from the tunnel's public UDP port (host->datagram_send):
 * 0, or WEFT_ENOENT / WEFT_EINVAL / WEFT_EIO (dropped). */
struct weft_udp_peer;
int tunnel_ports_send_datagram(struct tunnel *t, const struct weft_udp_peer *peer,
                          const void *data, size_t len);

/* Closes the listeners and every public connection still open. */
void tunnel_ports_close(struct tunnel *t);

#endif
