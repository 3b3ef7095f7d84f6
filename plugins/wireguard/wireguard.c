/* The wireguard transport: one WireGuard peer per device, configured through
 * kernel generic netlink or, where the kernel has no WireGuard, through the
 * UAPI socket of a supervised wireguard-go. This file declares the plugin
 * and its options; peer management is not built yet, and every tunnel op
 * says so. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/weft.h>

struct wireguard_conf {
  const char *backend;
  const char *interface;
  int64_t listen_port;
  const char *pool;
  const char *wireguard_go;
  int64_t keepalive_ms;
};

static const struct weft_option wireguard_options[] = {
    {"backend", WEFT_OPT_ENUM, offsetof(struct wireguard_conf, backend),
     "auto",
     "kernel (generic netlink), uapi (wireguard-go), or auto to detect",
     "auto|kernel|uapi", 0, 0, 0},
    {"interface", WEFT_OPT_STRING, offsetof(struct wireguard_conf, interface),
     "weft0", "name of the WireGuard interface", NULL, 0, 0, 0},
    {"listen_port", WEFT_OPT_INT, offsetof(struct wireguard_conf, listen_port),
     "30000", "UDP port the server's interface listens on", NULL, 1, 65535,
     0},
    {"pool", WEFT_OPT_STRING, offsetof(struct wireguard_conf, pool),
     "10.1.0.0/16",
     "device address pool; the server takes the top address", NULL, 0, 0, 0},
    {"wireguard_go", WEFT_OPT_STRING,
     offsetof(struct wireguard_conf, wireguard_go), "wireguard-go",
     "the userspace WireGuard program for the uapi backend", NULL, 0, 0, 0},
    {"persistent_keepalive", WEFT_OPT_DURATION,
     offsetof(struct wireguard_conf, keepalive_ms), "25s",
     "keepalive the device sends so NAT keeps its mapping", NULL, 0, 65535000,
     0},
    WEFT_OPTIONS_END,
};

struct wireguard {
  const struct weft_host *host;
};

static int wg_create(const struct weft_host *host, const void *config,
                     void **ctx)
{
  (void)config;
  struct wireguard *wg = host->calloc(1, sizeof *wg);
  if (!wg)
    return WEFT_ENOMEM;
  wg->host = host;
  *ctx = wg;
  return 0;
}

static void wg_destroy(void *ctx)
{
  struct wireguard *wg = ctx;
  wg->host->free(wg);
}

static int not_built(struct wireguard *wg, const char *side)
{
  wg->host->log(wg->host, WEFT_LOG_ERROR,
                "the wireguard transport's %s side is not built in this "
                "version of weft; no tunnel was opened",
                side);
  return WEFT_ENOTBUILT;
}

static int wg_server_tunnel_open(void *ctx, const struct weft_tunnel_info *t,
                                 void **tunnel_ctx)
{
  (void)t, (void)tunnel_ctx;
  return not_built(ctx, "server");
}

static int wg_server_stream_open(void *ctx, void *tunnel_ctx,
                                 struct weft_stream *conn)
{
  (void)tunnel_ctx, (void)conn;
  return not_built(ctx, "server");
}

static int wg_server_datagram(void *ctx, void *tunnel_ctx,
                              const struct weft_udp_peer *peer,
                              const void *data, size_t len)
{
  (void)tunnel_ctx, (void)peer, (void)data, (void)len;
  return not_built(ctx, "server");
}

static void wg_server_tunnel_close(void *ctx, void *tunnel_ctx, int reason)
{
  (void)ctx, (void)tunnel_ctx, (void)reason;
}

static int wg_client_tunnel_open(void *ctx, const struct weft_tunnel_info *t,
                                 void **tunnel_ctx)
{
  (void)t, (void)tunnel_ctx;
  return not_built(ctx, "client");
}

static void wg_client_tunnel_close(void *ctx, void *tunnel_ctx)
{
  (void)ctx, (void)tunnel_ctx;
}

static const char *wg_status(void *ctx)
{
  (void)ctx;
  return "not built yet: tunnels asking for it are refused";
}

static const struct weft_plugin wireguard_plugin = {
    WEFT_PLUGIN_HEADER,
    .name = "wireguard",
    .description = "a WireGuard peer per device (kernel netlink or "
                   "wireguard-go UAPI), host-only reach",
    .version = "0.1.0",
    .caps = WEFT_CAP_SERVER | WEFT_CAP_CLIENT | WEFT_CAP_TCP | WEFT_CAP_UDP |
            WEFT_CAP_ADDRESS,
    .options = wireguard_options,
    .config_size = sizeof(struct wireguard_conf),
    .create = wg_create,
    .destroy = wg_destroy,
    .server_tunnel_open = wg_server_tunnel_open,
    .server_stream_open = wg_server_stream_open,
    .server_datagram = wg_server_datagram,
    .server_tunnel_close = wg_server_tunnel_close,
    .client_tunnel_open = wg_client_tunnel_open,
    .client_tunnel_close = wg_client_tunnel_close,
    .status = wg_status,
};

WEFT_PLUGIN_EXPORT(wireguard_plugin)
