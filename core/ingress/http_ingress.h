/* The server's public HTTP port: requests are routed to a tunnel by their
 * Host (a tunnel that leased that name) or by a path prefix /{tunnel_id}/
 * (which is stripped), and every request head is rewritten on its way:
 * X-Forwarded-For, -Proto and -Host are set by the server, and any the
 * client sent are dropped, never trusted. Bodies (chunked or not) and
 * upgraded connections (WebSockets to the device's app) pass untouched;
 * responses come back as the device's service wrote them.
 *
 * One public connection is carried as one transport stream, so a
 * keep-alive connection stays with the tunnel its first request chose; a
 * later request for another tunnel closes it.
 *
 * Host names published as https: on the plain port they get a redirect
 * (https_redirect), or are served plainly if the server terminates their
 * TLS, or refused if their device does (passthrough). HTTP-01 challenges
 * of the server's own ACME orders are answered before any routing. */
#ifndef WEFT_CORE_HTTP_INGRESS_H
#define WEFT_CORE_HTTP_INGRESS_H

#include <stdint.h>
#include <uv.h>

struct tunnel_service;
struct http_ingress;

/* Listens on host:port (host NULL: no listener of its own, only what the
 * TLS port hands over); 0 or a negative libuv code. */
int http_ingress_open(struct tunnel_service *svc, uv_loop_t *loop,
                      const char *host, uint16_t port,
                      struct http_ingress **out);
/* A connection the public TLS port terminated for host name `name` (TLS
 * already begun on it): routed like the others, but only to that name's
 * tunnel, with X-Forwarded-Proto: https. */
struct weft_stream;
void http_ingress_adopt_tls(struct http_ingress *ing, struct weft_stream *s,
                            const char *name);
/* Closes the listener and the connections not yet handed to a tunnel. */
void http_ingress_close(struct http_ingress *ing);

/* Where the port listens, for a connection from this host (the HTTP
 * inspector's replays): an address of "any" as loopback. 0 or a libuv
 * error. */
int http_ingress_local(const struct http_ingress *ing, char *addr,
                       size_t len, uint16_t *port);

#endif
