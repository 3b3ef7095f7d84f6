/* A transport for testing the core's services through the real loader and
 * the real control API, before (and besides) the real transports: it
 * carries no bytes. Its server side hands the device one parameter and can
 * be told to refuse some devices; its client side accepts what the server
 * handed over and checks the token is there. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <weft/weft.h>

struct test_conf {
  const char *refuse_device;
  const char *not_built_device;
};

static const struct weft_option test_options[] = {
    {"refuse_device", WEFT_OPT_STRING,
     offsetof(struct test_conf, refuse_device), NULL,
     "server side refuses tunnels of this device", NULL, 0, 0, 0},
    {"not_built_device", WEFT_OPT_STRING,
     offsetof(struct test_conf, not_built_device), NULL,
     "server side answers this device's tunnels as a transport that is not "
     "built (WEFT_ENOTBUILT)",
     NULL, 0, 0, 0},
    WEFT_OPTIONS_END,
};

struct test_transport {
  const struct weft_host *host;
  const struct test_conf *conf;
  int open_tunnels;
};

static int tt_create(const struct weft_host *host, const void *config,
                     void **ctx)
{
  struct test_transport *t = host->calloc(1, sizeof *t);
  if (!t)
    return WEFT_ENOMEM;
  t->host = host;
  t->conf = config;
  *ctx = t;
  return 0;
}

static void tt_destroy(void *ctx)
{
  struct test_transport *t = ctx;
  if (t->open_tunnels)
    t->host->log(t->host, WEFT_LOG_ERROR, "destroyed with %d open tunnels",
                 t->open_tunnels);
  t->host->free(t);
}

static int tt_server_open(void *ctx, const struct weft_tunnel_info *info,
                          void **tunnel_ctx)
{
  struct test_transport *t = ctx;
  if (t->conf->refuse_device && info->device_id &&
      !strcmp(t->conf->refuse_device, info->device_id)) {
    t->host->log(t->host, WEFT_LOG_ERROR, "device %s is refused by config",
                 info->device_id);
    return WEFT_EDENIED;
  }
  if (t->conf->not_built_device && info->device_id &&
      !strcmp(t->conf->not_built_device, info->device_id))
    return WEFT_ENOTBUILT;
  info->add_param(info->param_ctx, "endpoint", info->id);
  if (info->address)
    info->add_param(info->param_ctx, "address", info->address);
  t->open_tunnels++;
  *tunnel_ctx = t;
  t->host->log(t->host, WEFT_LOG_INFO, "server side ready for tunnel %s",
               info->id);
  return 0;
}

static int tt_stream(void *ctx, void *tunnel_ctx, struct weft_stream *s)
{
  (void)ctx, (void)tunnel_ctx, (void)s;
  return WEFT_ENOTSUP;
}

static int tt_datagram(void *ctx, void *tunnel_ctx,
                       const struct weft_udp_peer *peer,
                       const void *data, size_t len)
{
  (void)ctx, (void)tunnel_ctx, (void)peer, (void)data, (void)len;
  return WEFT_ENOTSUP;
}

static void tt_server_close(void *ctx, void *tunnel_ctx, int reason)
{
  struct test_transport *t = ctx;
  (void)tunnel_ctx;
  t->open_tunnels--;
  t->host->log(t->host, WEFT_LOG_INFO, "server side closed (%s)",
               weft_err_name(reason));
}

static int tt_client_open(void *ctx, const struct weft_tunnel_info *info,
                          void **tunnel_ctx)
{
  struct test_transport *t = ctx;
  const char *endpoint = NULL;
  for (size_t i = 0; i < info->param_count; i++)
    if (!strcmp(info->params[i].key, "endpoint"))
      endpoint = info->params[i].value;
  if (!endpoint || strcmp(endpoint, info->id) || !info->token ||
      !*info->token) {
    t->host->log(t->host, WEFT_LOG_ERROR,
                 "client side: missing endpoint parameter or token");
    return WEFT_EPROTO;
  }
  t->open_tunnels++;
  *tunnel_ctx = t;
  t->host->log(t->host, WEFT_LOG_INFO, "client side open for tunnel %s",
               info->id);
  /* Nothing to connect: it is up at once (the agent says it is reachable
   * when a transport reports so). */
  weft_report_tunnel(t->host, info->id, WEFT_TUNNEL_UP, 0, "open");
  return 0;
}

static void tt_client_close(void *ctx, void *tunnel_ctx)
{
  struct test_transport *t = ctx;
  (void)tunnel_ctx;
  t->open_tunnels--;
}

static const struct weft_plugin test_transport = {
    WEFT_PLUGIN_HEADER,
    .name = "testtransport",
    .description = "test double: carries no bytes, exercises the core",
    .version = "1.0.0",
    .caps = WEFT_CAP_SERVER | WEFT_CAP_CLIENT | WEFT_CAP_TCP | WEFT_CAP_UDP |
            WEFT_CAP_HTTP | WEFT_CAP_ADDRESS,
    .options = test_options,
    .config_size = sizeof(struct test_conf),
    .create = tt_create,
    .destroy = tt_destroy,
    .server_tunnel_open = tt_server_open,
    .server_stream_open = tt_stream,
    .server_datagram = tt_datagram,
    .server_tunnel_close = tt_server_close,
    .client_tunnel_open = tt_client_open,
    .client_tunnel_close = tt_client_close,
};

WEFT_PLUGIN_EXPORT(test_transport)
