#include "listen.h"

#include <stdbool.h>
#include <string.h>

int listen_tcp(uv_loop_t *loop, uv_tcp_t *handle, const char *host,
               uint16_t port, uv_connection_cb cb, void *data)
{
  uv_tcp_init(loop, handle);
  handle->data = data;
  struct sockaddr_storage ss;
  bool v6 = strchr(host, ':') != NULL;
  int rc = v6 ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss)
              : uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
  if (rc == 0)
    rc = uv_tcp_bind(handle, (struct sockaddr *)&ss, v6 ? UV_TCP_IPV6ONLY : 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)handle, 511, cb);
  return rc;
}
