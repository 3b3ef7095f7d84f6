/* The vhost transport: one public TLS port for many hostnames, routed by SNI
 * (passthrough) or by HTTP Host after termination; the device's own session
 * arrives on the same port. This file declares the plugin and its options;
 * routing is not built yet, and every tunnel op says so. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/weft.h>

struct vhost_conf {
  const char *listen;
  const char *http_listen;
  int64_t hello_timeout_ms;
  const char *default_backend;
  bool redirect_http;
};

struct vhost_tunnel_conf {
  const char *mode;
  const char *cert_file;
  const char *key_file;
};

static const struct weft_option vhost_options[] = {
    {"listen", WEFT_OPT_STRING, offsetof(struct vhost_conf, listen),
     "0.0.0.0:443", "public TLS address (HOST:PORT)", NULL, 0, 0, 0},
    {"http_listen", WEFT_OPT_STRING, offsetof(struct vhost_conf, http_listen),
     "0.0.0.0:80", "public plain-HTTP address routed by Host", NULL, 0, 0, 0},
    {"client_hello_timeout", WEFT_OPT_DURATION,
     offsetof(struct vhost_conf, hello_timeout_ms), "10s",
     "close a visitor that has not sent its ClientHello by then", NULL, 100,
     600000, 0},
    {"default_backend", WEFT_OPT_STRING,
     offsetof(struct vhost_conf, default_backend), NULL,
     "hostname whose tunnel gets connections with no or unknown SNI (default: "
     "close them)",
     NULL, 0, 0, 0},
    {"redirect_http", WEFT_OPT_BOOL, offsetof(struct vhost_conf, redirect_http),
     "false", "answer plain HTTP with a redirect to https", NULL, 0, 0, 0},
    WEFT_OPTIONS_END,
};

static const struct weft_option vhost_tunnel_options[] = {
    {"mode", WEFT_OPT_ENUM, offsetof(struct vhost_tunnel_conf, mode),
     "passthrough",
     "passthrough: the device terminates TLS; terminate: the server does",
     "passthrough|terminate", 0, 0, 0},
    {"cert_file", WEFT_OPT_STRING,
     offsetof(struct vhost_tunnel_conf, cert_file), NULL,
     "certificate chain (PEM) for terminate mode", NULL, 0, 0, 0},
    {"key_file", WEFT_OPT_STRING, offsetof(struct vhost_tunnel_conf, key_file),
     NULL, "private key (PEM) for terminate mode", NULL, 0, 0, 0},
    WEFT_OPTIONS_END,
};

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
    .options = vhost_options,
    .config_size = sizeof(struct vhost_conf),
    .tunnel_options = vhost_tunnel_options,
    .tunnel_config_size = sizeof(struct vhost_tunnel_conf),
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
