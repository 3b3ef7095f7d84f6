/* relay: the descriptor, the options and the plugin's lifecycle. The
 * server side is server.c, the device side device.c; both join streams
 * with splice.c and speak the few texts of wire.c (relay.h says how).
 *
 *   make                                  # uses `pkg-config weft-sdk`
 *   weft server --plugin-dir .            # on the server
 *   weft tunnel --plugin-dir . --transport relay weft://... tcp://...
 */
#include <assert.h>
#include <stddef.h>
#include <stdio.h>

#include "relay.h"
#include "splice.h"

static const struct weft_option relay_options[] = {
    {"open_timeout", WEFT_OPT_DURATION,
     offsetof(struct relay_conf, open_timeout_ms), "10s",
     "server side: close a public connection the device has not fetched "
     "in this long",
     NULL, 100, 300000, 0},
    {"reconnect_min", WEFT_OPT_DURATION,
     offsetof(struct relay_conf, reconnect_min_ms), "1s",
     "device side: the first wait before redialling a lost server", NULL, 10,
     3600000, 0},
    {"reconnect_max", WEFT_OPT_DURATION,
     offsetof(struct relay_conf, reconnect_max_ms), "60s",
     "device side: the longest wait between redials", NULL, 10, 3600000, 0},
    WEFT_OPTIONS_END,
};

void relay_ref(struct relay *r) { r->refs++; }

void relay_unref(struct relay *r)
{
  assert(r->refs > 0);
  if (--r->refs == 0)
    r->host->free(r);
}

static int relay_create(const struct weft_host *host, const void *config,
                        void **ctx)
{
  const struct relay_conf *conf = config;
  int rc = weft_reconnect_check(host, conf->reconnect_min_ms,
                                conf->reconnect_max_ms);
  if (rc != 0)
    return rc;
  struct relay *r = host->calloc(1, sizeof *r);
  if (!r)
    return WEFT_ENOMEM;
  r->host = host;
  r->conf = conf; /* the core's, until destroy returns */
  r->refs = 1;    /* dropped by destroy */
  *ctx = r;
  return 0;
}

/* Every tunnel was closed before this, and closing them ended what they
 * held; what is still closing holds a reference and frees the plugin when
 * the last close callback has run (the core runs the loop until then). */
static void relay_destroy(void *ctx)
{
  struct relay *r = ctx;
  assert(!r->tunnels && !r->waiting);
  relay_unref(r);
}

static const char *relay_status(void *ctx)
{
  struct relay *r = ctx;
  snprintf(r->status, sizeof r->status,
           "%zu device session(s) connected, %zu connection(s) relayed now",
           relay_server_sessions(r), relay_splice_count(r));
  return r->status;
}

static const struct weft_plugin relay_plugin = {
    WEFT_PLUGIN_HEADER,
    .name = "relay",
    .description = "example out-of-tree plugin: one connection from the "
                   "device per public TCP connection",
    .version = "1.0.0",
    .caps = WEFT_CAP_SERVER | WEFT_CAP_CLIENT | WEFT_CAP_TCP,
    .options = relay_options,
    .config_size = sizeof(struct relay_conf),
    .create = relay_create,
    .destroy = relay_destroy,
    .server_tunnel_open = relay_server_tunnel_open,
    .server_stream_open = relay_server_stream_open,
    .server_tunnel_close = relay_server_tunnel_close,
    .client_tunnel_open = relay_client_tunnel_open,
    .client_tunnel_close = relay_client_tunnel_close,
    .status = relay_status,
    .upgrade_path = RELAY_PATH,
    .server_upgrade = relay_server_upgrade,
};

WEFT_PLUGIN_EXPORT(relay_plugin)
