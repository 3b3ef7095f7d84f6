/* Public ingress on the server: the listeners a tunnel's lease owns, and
 * what happens to each public connection before its transport carries it
 * (source allowlist, per-address cap, traffic accounting for the tunnel's
 * metrics and idle timer). A listener lives and dies with its lease. */
#ifndef WEFT_CORE_INGRESS_H
#define WEFT_CORE_INGRESS_H

#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

struct lease;
struct prefix_list;
struct tunnel;
struct tunnel_service;

/* The sources a lease's public port admits: false for anyone; else true
 * and the list (the lease's own allow_ips, or else its device's ACL). */
bool ingress_allow_list(const struct tunnel_service *svc,
                        const struct lease *l, struct prefix_list *out);

/* Opens what the tunnel's lease publishes (a tcp or udp port). 0, or a code
 * with why (the port is taken on this host...). */
int ingress_open(struct tunnel_service *svc, struct tunnel *t, char *why,
                 size_t len);
/* Hands one public connection to the tunnel's transport, after the
 * source allowlist and the per-address cap, with traffic accounting. 0, or
 * a code (the caller still owns the stream and should close it). */
struct weft_stream;
int ingress_adopt(struct tunnel *t, struct weft_stream *s);

/* Sends a datagram from the tunnel's public UDP port (host->datagram_send):
 * 0, or WEFT_ENOENT / WEFT_EINVAL / WEFT_EIO (dropped). */
struct weft_udp_peer;
int ingress_send_datagram(struct tunnel *t, const struct weft_udp_peer *peer,
                          const void *data, size_t len);

/* Closes the listeners and every public connection still open. */
void ingress_close(struct tunnel *t);

#endif
