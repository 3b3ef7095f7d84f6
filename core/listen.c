#include "listen.h"

#include <stdbool.h>
#include <string.h>

/* host:port as a socket address; 0 or a libuv code. */
static int address_of(const char *host, uint16_t port,
                      struct sockaddr_storage *ss, bool *v6)
{
  *v6 = strchr(host, ':') != NULL;
  return *v6 ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss)
             : uv_ip4_addr(host, port, (struct sockaddr_in *)ss);
}

int listen_tcp(uv_loop_t *loop, uv_tcp_t *handle, const char *host,
               uint16_t port, uv_connection_cb cb, void *data)
{
  uv_tcp_init(loop, handle);
  handle->data = data;
  struct sockaddr_storage ss;
  bool v6;
  int rc = address_of(host, port, &ss, &v6);
  if (rc == 0)
    rc = uv_tcp_bind(handle, (struct sockaddr *)&ss, v6 ? UV_TCP_IPV6ONLY : 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)handle, 511, cb);
  return rc;
}

int listen_udp(uv_loop_t *loop, uv_udp_t *handle, const char *host,
               uint16_t port, uv_alloc_cb alloc, uv_udp_recv_cb cb, void *data)
{
  uv_udp_init(loop, handle);
  handle->data = data;
  struct sockaddr_storage ss;
  bool v6;
  int rc = address_of(host, port, &ss, &v6);
  if (rc == 0)
    rc = uv_udp_bind(handle, (struct sockaddr *)&ss, v6 ? UV_UDP_IPV6ONLY : 0);
  if (rc == 0)
    rc = uv_udp_recv_start(handle, alloc, cb);
  return rc;
}
