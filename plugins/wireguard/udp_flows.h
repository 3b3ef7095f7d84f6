/* A udp tunnel's server half: each public peer of the tunnel's public UDP
 * port gets a socket of its own toward the device's UDP relay (through the
 * interface), so the device's answers find their way back to that peer
 * only. Bounded in count (the least recently used goes) and in idle time. */
#ifndef WEFT_WG_UDP_FLOWS_H
#define WEFT_WG_UDP_FLOWS_H

#include <stddef.h>
#include <stdint.h>
#include <weft/weft.h>

struct udp_flows;

struct udp_flows *udp_flows_new(const struct weft_host *host,
                                const char *tunnel_id, size_t max_flows,
                                uint64_t idle_ms);
/* Where the device relays (its /32 and the port its session named). */
void udp_flows_target(struct udp_flows *f, const uint8_t addr[4],
                      uint16_t port);
/* One public datagram for the device. 0, or a code (dropped, as UDP may). */
int udp_flows_send(struct udp_flows *f, const struct weft_udp_peer *peer,
                   const void *data, size_t len);
size_t udp_flows_count(const struct udp_flows *f);
/* Closes every flow; the sockets finish closing on the loop. */
void udp_flows_free(struct udp_flows *f);

#endif
