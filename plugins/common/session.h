/* The tunnel, session and reconnect logic the websocket and vhost plugins
 * share (session.c); each plugin names its carrier (carrier.h), its
 * upgrade path and its options, and fills its descriptor with these ops. */
#ifndef WEFT_PLUGIN_SESSION_H
#define WEFT_PLUGIN_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/weft.h>

#include "carrier.h"

#define SESSION_PATH_MAX 128

/* The options both plugins read ([transport.NAME]); a plugin that does not
 * offer one leaves it 0. */
struct session_conf {
  int64_t ping_interval_ms;
  int64_t max_streams;
  int64_t reconnect_min_ms;
  int64_t reconnect_max_ms;
  int64_t udp_flow_idle_ms;
  int64_t udp_max_flows;
  bool wss;
};

/* The [transport.NAME] keys every session plugin offers. */
#define SESSION_OPTIONS                                                      \
  {"ping_interval", WEFT_OPT_DURATION,                                       \
   offsetof(struct session_conf, ping_interval_ms), "20s",                   \
   "HTTP/2 PING keepalive interval", NULL, 200, 3600000, 0},                 \
      {"max_streams", WEFT_OPT_INT,                                          \
       offsetof(struct session_conf, max_streams), "1000",                   \
       "concurrent public connections per tunnel", NULL, 1, 65535, 0},       \
      {"reconnect_min", WEFT_OPT_DURATION,                                   \
       offsetof(struct session_conf, reconnect_min_ms), "1s",                \
       "first reconnect delay (doubles, with jitter)", NULL, 100, 3600000,   \
       0},                                                                   \
      {"reconnect_max", WEFT_OPT_DURATION,                                   \
       offsetof(struct session_conf, reconnect_max_ms), "60s",               \
       "longest reconnect delay", NULL, 1000, 86400000, 0}

/* tls_required: devices always dial with TLS, pinned (else conf->wss). */
int session_plugin_create(const struct weft_host *host,
                          const struct session_conf *conf,
                          const struct carrier_ops *carrier,
                          const char *endpoint, bool tls_required, void **ctx);
void session_plugin_destroy(void *ctx);
const char *session_plugin_status(void *ctx);

int session_server_tunnel_open(void *ctx, const struct weft_tunnel_info *t,
                               void **tunnel_ctx);
int session_server_stream_open(void *ctx, void *tunnel_ctx,
                               struct weft_stream *conn);
int session_server_datagram(void *ctx, void *tunnel_ctx,
                            const struct weft_udp_peer *peer,
                            const void *data, size_t len);
void session_server_tunnel_close(void *ctx, void *tunnel_ctx, int reason);
int session_server_upgrade(void *ctx, const struct weft_http_request *req,
                           struct weft_stream *conn);
int session_client_tunnel_open(void *ctx, const struct weft_tunnel_info *t,
                               void **tunnel_ctx);
void session_client_tunnel_close(void *ctx, void *tunnel_ctx);

#endif
