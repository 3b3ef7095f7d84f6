/* The server's public TLS port: one port for many host names. Each
 * connection's ClientHello is read (core/ingress/clienthello.c: bounded, under a
 * deadline, split anywhere) without terminating TLS, and the connection
 * goes where its server name says:
 *
 *  - a weft device coming to the server itself (ALPN "weft/1", which every
 *    TLS dial of a device offers, or the server's public name, or no name
 *    when no default host is set), where tls_control allows: TLS with the
 *    server's own certificate, then the control API, as on the control
 *    port (transports' sessions included), so one port can carry all;
 *  - a name a tunnel leased as https://NAME whose device serves TLS itself:
 *    the whole connection, ClientHello bytes first, to that tunnel
 *    (passthrough: the visitor sees the device's own certificate);
 *  - a name the server terminates TLS for (the device's service speaks
 *    plain HTTP): TLS with that name's certificate, then the public HTTP
 *    routing, limited to that name, with X-Forwarded-Proto: https;
 *  - no name, or one no tunnel publishes over https: the configured
 *    default name's tunnel if there is one, else the connection is closed;
 *    a broken hello is always closed. Plain HTTP sent here gets a 400 that
 *    says this port speaks TLS. */
#ifndef WEFT_CORE_TLS_INGRESS_H
#define WEFT_CORE_TLS_INGRESS_H

#include <openssl/ssl.h>
#include <stdint.h>
#include <uv.h>

struct tunnel_service;
struct http_server;
struct tls_ingress;

struct tls_ingress_conf {
  uint64_t hello_timeout_ms;  /* close a visitor silent this long */
  const char *default_host;   /* name for hellos that match none, or NULL */
  SSL_CTX *server_ctx;        /* the server's own certificate (devices) */
  struct http_server *control;/* where devices go, or NULL */
};

/* Counters for the metrics. */
struct tls_ingress_stats {
  uint64_t passthrough, terminated, control, refused, timeouts;
};

/* Listens on host:port; 0 or a negative libuv code. conf is copied. */
int tls_ingress_open(struct tunnel_service *svc, uv_loop_t *loop,
                     const char *host, uint16_t port,
                     const struct tls_ingress_conf *conf,
                     struct tls_ingress **out);
const struct tls_ingress_stats *tls_ingress_stats(const struct tls_ingress *ing);
/* Closes the listener and the connections whose hello is still awaited. */
void tls_ingress_close(struct tls_ingress *ing);

#endif
