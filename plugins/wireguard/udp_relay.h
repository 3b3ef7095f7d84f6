/* The device's UDP relay: it listens on the device's /32 and gives each
 * sender there (one per public peer, see udp_flows.h) a socket of its own
 * toward the local service, so answers go back to the sender they belong
 * to. Bounded in count (the least recently used goes) and in idle time. */
#ifndef WEFT_WG_UDP_RELAY_H
#define WEFT_WG_UDP_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct uv_loop_s;
struct udp_relay;

/* 0 with *out and *port, or a negative libuv code (UV_EADDRINUSE: taken). */
int udp_relay_listen(struct uv_loop_s *loop, const struct sockaddr *bind_addr,
                     const struct sockaddr *target, size_t max_flows,
                     uint64_t idle_ms, struct udp_relay **out,
                     uint16_t *port);
size_t udp_relay_flow_count(const struct udp_relay *r);
/* Closes the listener and every flow; memory goes once libuv is done. */
void udp_relay_close(struct udp_relay *r);

#endif
