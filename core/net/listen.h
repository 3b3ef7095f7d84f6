/* Listeners on an IP literal and a port: the one way the core binds
 * (control port, public TCP and UDP ports, public HTTP port), and on a
 * Unix socket (the server's local administration socket). */
#ifndef WEFT_CORE_LISTEN_H
#define WEFT_CORE_LISTEN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* Initialises *handle on loop, binds host:port (IPv6 only for an IPv6
 * address) and listens with cb; handle->data is set to data. Returns 0 or
 * a negative libuv code; on failure the handle is initialised and must
 * still be closed by the caller. */
int listen_tcp(uv_loop_t *loop, uv_tcp_t *handle, const char *host,
               uint16_t port, uv_connection_cb cb, void *data);

/* The same with a handle of its own, allocated here (host NULL: one that
 * listens on nothing yet); on failure nothing is left to free. Close it
 * with listen_tcp_free. */
int listen_tcp_new(uv_loop_t *loop, const char *host, uint16_t port,
                   uv_connection_cb cb, void *data, uv_tcp_t **out);
void listen_tcp_free(uv_tcp_t *handle);

/* The same for a Unix socket at path, mode 0600 (only its owner, and
 * root, may connect); a stale socket file there is replaced. */
int listen_local(uv_loop_t *loop, uv_pipe_t *handle, const char *path,
                 uv_connection_cb cb, void *data);

/* Whether another socket of this host holds tcp or udp port on every
 * IPv4 address, so that listening there would fail (a bind() tried and
 * undone). */
bool listen_port_taken(const char *proto, uint16_t port);

/* The same for UDP: binds host:port and starts receiving with alloc/cb. */
int listen_udp(uv_loop_t *loop, uv_udp_t *handle, const char *host,
               uint16_t port, uv_alloc_cb alloc, uv_udp_recv_cb cb,
               void *data);

#endif
