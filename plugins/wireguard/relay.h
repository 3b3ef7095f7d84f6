/* The device's relay: it listens on the device's own tunnel address and
 * joins each connection the server opens there to the local service (so a
 * service bound to 127.0.0.1 is reachable through the tunnel), moving bytes
 * both ways with backpressure and half-close, in plain libuv. */
#ifndef WEFT_WG_RELAY_H
#define WEFT_WG_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct uv_loop_s;
struct relay_listener;

/* Each side stops reading when the other side's unwritten bytes pass this. */
#define RELAY_HIGH_WATER (256 * 1024)
/* Connections one relay carries at once; more are refused (closed). */
#define RELAY_MAX_CONNS 1024

/* Listens on bind_addr (its port 0: any free port) and relays to target.
 * 0 with *out and *port, or a negative libuv code (UV_EADDRINUSE when the
 * port is taken). log(arg, text) hears refusals and failures. */
int relay_listen(struct uv_loop_s *loop, const struct sockaddr *bind_addr,
                 const struct sockaddr *target,
                 void (*log)(void *arg, const char *text), void *arg,
                 struct relay_listener **out, uint16_t *port);

/* Live connections, for status. */
size_t relay_conn_count(const struct relay_listener *l);

/* Stops listening and closes every connection; memory goes once libuv has
 * closed the handles (the loop must run). */
void relay_close(struct relay_listener *l);

#endif
