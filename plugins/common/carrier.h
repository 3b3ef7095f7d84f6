/* What carries a device's session between weft tunnel and weft server, as
 * session.c sees it: a connection opened by an HTTP Upgrade on the server's
 * control API (or its public TLS port), then HTTP/2 session bytes both ways
 * and, where the carrier can delimit them, UDP datagrams.
 *
 * Two carriers exist: the websocket plugin's (RFC 6455 binary messages,
 * plugins/websocket/ws_carrier.c) and the vhost plugin's (the HTTP/2 bytes
 * straight on the TLS stream after the upgrade, plugins/vhost/h2_carrier.c).
 * Close codes are WebSocket's (1000 normal, 1001 going away, 1002 protocol
 * error); a carrier without codes keeps them for its log lines. */
#ifndef WEFT_PLUGIN_CARRIER_H
#define WEFT_PLUGIN_CARRIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/weft.h>

#include "mux.h"

struct carrier_conn;

struct carrier_cbs {
  void (*on_open)(void *arg);  /* the upgrade completed (device side) */
  void (*on_h2)(void *arg, const uint8_t *data, size_t len);
  void (*on_datagram)(void *arg, const uint8_t *data, size_t len);
  void (*on_drained)(void *arg); /* the send backlog went low again */
  /* True while the session carries nothing that a carrier's buffers
   * would serve soon (no streams, no datagrams): they may be released. */
  bool (*idle)(void *arg);
  /* The connection is over: the last callback. */
  void (*on_closed)(void *arg, uint16_t code, const char *why);
};

/* What the server learns from a valid upgrade request. */
struct carrier_upgrade {
  char key[32];        /* Sec-WebSocket-Key, where there is one */
  const char *token;   /* Authorization: Bearer ..., points into the req */
};

struct carrier_ops {
  const char *name;    /* for log lines: "ws", "h2" */
  /* 0, or the HTTP status to refuse the upgrade with, and why. */
  int (*check_upgrade)(const struct weft_http_request *req,
                       struct carrier_upgrade *out, const char **why);
  /* Answers the upgrade (server side); on failure the stream is closed. */
  int (*accept)(const struct weft_host *host, struct weft_stream *s,
                const struct carrier_upgrade *up,
                const struct carrier_cbs *cbs, void *arg,
                struct carrier_conn **out);
  void (*refuse)(const struct weft_host *host, struct weft_stream *s,
                 int status, const char *why);
  /* Sends the upgrade on a connected stream (device side); on_open or
   * on_closed follows. */
  int (*dial)(const struct weft_host *host, struct weft_stream *s,
              const char *host_header, const char *path, const char *token,
              const struct carrier_cbs *cbs, void *arg,
              struct carrier_conn **out);
  /* HTTP/2 bytes for the peer, in pieces (one message where the carrier
   * has messages). Returns the backlog. */
  size_t (*send_h2)(struct carrier_conn *c, const struct iovec *pieces,
                    size_t count);
  /* One datagram message, or NULL where the carrier has none. */
  size_t (*send_datagram)(struct carrier_conn *c, const uint8_t *msg,
                          size_t len);
  size_t (*backlog)(const struct carrier_conn *c);
  /* Ends it gracefully; on_closed follows. */
  void (*close)(struct carrier_conn *c, uint16_t code, const char *reason);
  /* Drops it at once; on_closed follows. */
  void (*abort)(struct carrier_conn *c);
};

#endif
