/* A small HTTP/1.1 server on libuv for the control port, parsed with
 * http-parser. Bounded everywhere: header bytes and count, body size, a
 * deadline for the headers (slowloris), an idle timeout between requests, a
 * cap on connections per source IP and in all.
 *
 * The handler runs synchronously for each complete request and fills a
 * response, or defers it (resp->later, answered with http_pending_answer
 * when work off the loop is done); responses go out in request order
 * (pipelining works). */
#ifndef WEFT_CORE_HTTP_SERVER_H
#define WEFT_CORE_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <uv.h>

#include "http/http_message.h"

struct http_conn;
struct http_listener;

struct http_server {
  uv_loop_t *loop;
  http_handler_fn handler;
  void *handler_data;
  struct http_limits limits;
  /* If set, a connection whose first byte opens a TLS record speaks TLS
   * with this context; others stay plain HTTP on the same port. */
  SSL_CTX *tls_ctx;
  struct http_listener *listeners;
  struct http_conn *conns;
  unsigned conn_count;
  bool closing;
  void (*on_closed)(struct http_server *srv);
};

void http_server_init(struct http_server *srv, uv_loop_t *loop,
                      http_handler_fn handler, void *handler_data);
/* Serves a connection another listener took (the public TLS port hands
 * over devices that come to the server itself), TLS already begun on it. */
void http_server_adopt(struct http_server *srv, struct weft_stream *s);
/* Binds and listens on host:port (an IPv4 or IPv6 literal). Returns 0 or a
 * negative libuv error code. */
int http_server_listen(struct http_server *srv, const char *host,
                       uint16_t port);
/* Listens on a Unix socket at path (mode 0600): its requests carry
 * req->local. 0 or a negative libuv error code. */
int http_server_listen_local(struct http_server *srv, const char *path);
/* Closes every listener and connection; on_closed (if set) runs once all
 * handles are closed. */
void http_server_close(struct http_server *srv,
                       void (*on_closed)(struct http_server *srv));

#endif
