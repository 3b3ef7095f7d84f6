#include "net/listen.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

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

int listen_local(uv_loop_t *loop, uv_pipe_t *handle, const char *path,
                 uv_connection_cb cb, void *data)
{
  uv_pipe_init(loop, handle, 0);
  handle->data = data;
  /* A socket left by a server that ended without removing it; anything
   * else at that path is not ours to remove, and bind says so. */
  struct stat st;
  if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
    unlink(path);
  int rc = uv_pipe_bind(handle, path);
  if (rc == 0 && chmod(path, 0600) != 0)
    rc = uv_translate_sys_error(errno);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)handle, 64, cb);
  return rc;
}

static void freed_on_close(uv_handle_t *h) { free(h); }

int listen_tcp_new(uv_loop_t *loop, const char *host, uint16_t port,
                   uv_connection_cb cb, void *data, uv_tcp_t **out)
{
  uv_tcp_t *handle = calloc(1, sizeof *handle);
  if (!handle)
    return UV_ENOMEM;
  int rc = 0;
  if (host) {
    rc = listen_tcp(loop, handle, host, port, cb, data);
  } else {
    uv_tcp_init(loop, handle);
    handle->data = data;
  }
  if (rc != 0) {
    listen_tcp_free(handle);
    return rc;
  }
  *out = handle;
  return 0;
}

void listen_tcp_free(uv_tcp_t *handle)
{
  if (handle)
    uv_close((uv_handle_t *)handle, freed_on_close);
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

bool listen_port_taken(const char *proto, uint16_t port)
{
  bool udp = !strcmp(proto, "udp");
  int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false; /* cannot tell: the listen will say */
  int on = 1; /* as libuv binds: a port in TIME_WAIT is free */
  if (!udp)
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  bool taken = bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 &&
               errno == EADDRINUSE;
  close(fd);
  return taken;
}
