/* Loads, then fails in create(): refused with the reason it logged. */
#include "common_ops.h"

static int fail_create(const struct weft_host *host, const void *config,
                       void **ctx)
{
  (void)config, (void)ctx;
  host->log(host, WEFT_LOG_ERROR, "cannot find /dev/imaginary");
  return WEFT_ENOENT;
}

static const struct weft_plugin plugin = {
    WEFT_PLUGIN_HEADER,
    .name = "failinit",
    .description = "fails to initialise",
    .caps = WEFT_CAP_CLIENT,
    .create = fail_create,
    .destroy = test_destroy,
    .client_tunnel_open = test_client_open,
    .client_tunnel_close = test_client_close,
};

WEFT_PLUGIN_EXPORT(plugin)
