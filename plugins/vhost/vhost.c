/* The vhost transport: HTTP/2 streams straight over the device's TLS session
 * to the server's public TLS port, without the WebSocket framing the
 * websocket transport puts in between. The port itself, its SNI routing and
 * TLS termination are the core's (core/tls_ingress.c) and serve every
 * transport; this carriage is not built yet, and every tunnel op says so. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/weft.h>

struct vhost {
  const struct weft_host *host;
};

static int vh_create(const struct weft_host *host, const void *config,
                     void **ctx)
{
  (void)config;
  struct vhost *vh = host->calloc(1, sizeof *vh);
  if (!vh)
    return WEFT_ENOMEM;
  vh->host = host;
  *ctx = vh;
  return 0;
}

static void vh_destroy(void *ctx)
{
  struct vhost *vh = ctx;
  vh->host->free(vh);
}

static int not_built(struct vhost *vh, const char *side)
{
  vh->host->log(vh->host, WEFT_LOG_ERROR,
                "the vhost transport's %s side is not built in this version "
                "of weft; no tunnel was opened",
                side);
  return WEFT_ENOTBUILT;
}

static int vh_server_tunnel_open(void *ctx, const struct weft_tunnel_info *t,
                                 void **tunnel_ctx)
{
  (void)t, (void)tunnel_ctx;
  return not_built(ctx, "server");
}

static int vh_server_stream_open(void *ctx, void *tunnel_ctx,
                                 struct weft_stream *conn)
{
  (void)tunnel_ctx, (void)conn;
  return not_built(ctx, "server");
}

static void vh_server_tunnel_close(void *ctx, void *tunnel_ctx, int reason)
{
  (void)ctx, (void)tunnel_ctx, (void)reason;
}

static int vh_client_tunnel_open(void *ctx, const struct weft_tunnel_info *t,
                                 void **tunnel_ctx)
{
  (void)t, (void)tunnel_ctx;
  return not_built(ctx, "client");
}

static void vh_client_tunnel_close(void *ctx, void *tunnel_ctx)
{
  (void)ctx, (void)tunnel_ctx;
}

static const char *vh_status(void *ctx)
{
  (void)ctx;
  return "not built yet: tunnels asking for it are refused";
}

static const struct weft_plugin vhost_plugin = {
    WEFT_PLUGIN_HEADER,
    .name = "vhost",
    .description = "one TLS port for many hostnames: SNI passthrough or "
                   "HTTP Host routing",
    .version = "0.1.0",
    .caps = WEFT_CAP_SERVER | WEFT_CAP_CLIENT | WEFT_CAP_HTTP | WEFT_CAP_SNI,
        .create = vh_create,
    .destroy = vh_destroy,
    .server_tunnel_open = vh_server_tunnel_open,
    .server_stream_open = vh_server_stream_open,
    .server_tunnel_close = vh_server_tunnel_close,
    .client_tunnel_open = vh_client_tunnel_open,
    .client_tunnel_close = vh_client_tunnel_close,
    .status = vh_status,
};

WEFT_PLUGIN_EXPORT(vhost_plugin)
