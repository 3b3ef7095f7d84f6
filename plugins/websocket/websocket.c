/* The websocket transport: tunnels carried as HTTP/2 streams inside one
 * RFC 6455 WebSocket (ws:// or wss://) from the device to the server's
 * control port. This file declares the plugin and its options; the carriage
 * itself is not built yet, and every tunnel op says so instead of
 * pretending. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/weft.h>

struct websocket_conf {
  const char *path;
  int64_t ping_interval_ms;
  int64_t max_streams;
  int64_t reconnect_min_ms;
  int64_t reconnect_max_ms;
  int64_t udp_flow_idle_ms;
};

static const struct weft_option websocket_options[] = {
    {"path", WEFT_OPT_STRING, offsetof(struct websocket_conf, path), "/v1/ws",
     "HTTP path of the WebSocket endpoint on the control port", NULL, 0, 0, 0},
    {"ping_interval", WEFT_OPT_DURATION,
     offsetof(struct websocket_conf, ping_interval_ms), "20s",
     "HTTP/2 PING keepalive interval", NULL, 1000, 3600000, 0},
    {"max_streams", WEFT_OPT_INT, offsetof(struct websocket_conf, max_streams),
     "1000", "concurrent public connections per tunnel", NULL, 1, 65535, 0},
    {"reconnect_min", WEFT_OPT_DURATION,
     offsetof(struct websocket_conf, reconnect_min_ms), "1s",
     "first reconnect delay (doubles, with jitter)", NULL, 100, 3600000, 0},
    {"reconnect_max", WEFT_OPT_DURATION,
     offsetof(struct websocket_conf, reconnect_max_ms), "60s",
     "longest reconnect delay", NULL, 1000, 86400000, 0},
    {"udp_flow_idle", WEFT_OPT_DURATION,
     offsetof(struct websocket_conf, udp_flow_idle_ms), "60s",
     "forget a UDP peer after this long without datagrams", NULL, 1000,
     86400000, 0},
    WEFT_OPTIONS_END,
};

struct websocket {
  const struct weft_host *host;
  const struct websocket_conf *conf;
};

static int ws_create(const struct weft_host *host, const void *config,
                     void **ctx)
{
  const struct websocket_conf *conf = config;
  if (conf->reconnect_min_ms > conf->reconnect_max_ms) {
    host->log(host, WEFT_LOG_ERROR,
              "reconnect_min (%lld ms) is longer than reconnect_max (%lld ms)",
              (long long)conf->reconnect_min_ms,
              (long long)conf->reconnect_max_ms);
    return WEFT_ECONFIG;
  }
  struct websocket *ws = host->calloc(1, sizeof *ws);
  if (!ws)
    return WEFT_ENOMEM;
  ws->host = host;
  ws->conf = conf;
  *ctx = ws;
  return 0;
}

static void ws_destroy(void *ctx)
{
  struct websocket *ws = ctx;
  ws->host->free(ws);
}

static int not_built(struct websocket *ws, const char *side)
{
  ws->host->log(ws->host, WEFT_LOG_ERROR,
                "the websocket transport's %s side is not built in this "
                "version of weft; no tunnel was opened",
                side);
  return WEFT_ENOTBUILT;
}

static int ws_server_tunnel_open(void *ctx, const struct weft_tunnel_info *t,
                                 void **tunnel_ctx)
{
  (void)t, (void)tunnel_ctx;
  return not_built(ctx, "server");
}

static int ws_server_stream_open(void *ctx, void *tunnel_ctx,
                                 struct weft_stream *conn)
{
  (void)tunnel_ctx, (void)conn;
  return not_built(ctx, "server");
}

static int ws_server_datagram(void *ctx, void *tunnel_ctx, const void *peer,
                              const void *data, size_t len)
{
  (void)tunnel_ctx, (void)peer, (void)data, (void)len;
  return not_built(ctx, "server");
}

static void ws_server_tunnel_close(void *ctx, void *tunnel_ctx, int reason)
{
  (void)ctx, (void)tunnel_ctx, (void)reason;
}

static int ws_client_tunnel_open(void *ctx, const struct weft_tunnel_info *t,
                                 void **tunnel_ctx)
{
  (void)t, (void)tunnel_ctx;
  return not_built(ctx, "client");
}

static void ws_client_tunnel_close(void *ctx, void *tunnel_ctx)
{
  (void)ctx, (void)tunnel_ctx;
}

static const char *ws_status(void *ctx)
{
  (void)ctx;
  return "not built yet: tunnels asking for it are refused";
}

static const struct weft_plugin websocket_plugin = {
    WEFT_PLUGIN_HEADER,
    .name = "websocket",
    .description = "streams multiplexed over HTTP/2 inside a WebSocket "
                   "(ws/wss), for networks that pass only HTTP(S)",
    .version = "0.1.0",
    .caps = WEFT_CAP_SERVER | WEFT_CAP_CLIENT | WEFT_CAP_TCP | WEFT_CAP_UDP |
            WEFT_CAP_HTTP,
    .options = websocket_options,
    .config_size = sizeof(struct websocket_conf),
    .create = ws_create,
    .destroy = ws_destroy,
    .server_tunnel_open = ws_server_tunnel_open,
    .server_stream_open = ws_server_stream_open,
    .server_datagram = ws_server_datagram,
    .server_tunnel_close = ws_server_tunnel_close,
    .client_tunnel_open = ws_client_tunnel_open,
    .client_tunnel_close = ws_client_tunnel_close,
    .status = ws_status,
};

WEFT_PLUGIN_EXPORT(websocket_plugin)
