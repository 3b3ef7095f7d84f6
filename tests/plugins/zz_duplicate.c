/* Same name as good.so, found after it: refused as a duplicate. */
#include "common_ops.h"

static const struct weft_plugin plugin = {
    WEFT_PLUGIN_HEADER,
    .name = "good",
    .description = "an impostor",
    .caps = WEFT_CAP_CLIENT,
    .create = test_create,
    .destroy = test_destroy,
    .client_tunnel_open = test_client_open,
    .client_tunnel_close = test_client_close,
};

WEFT_PLUGIN_EXPORT(plugin)
