/* Claims ABI 2.0: the loader must refuse it by its major version. */
#include "common_ops.h"

static const struct weft_plugin plugin = {
    .abi_major = WEFT_ABI_MAJOR + 1,
    .abi_minor = 0,
    .struct_size = sizeof(struct weft_plugin),
    .name = "wrongmajor",
    .description = "built for a future ABI",
    .caps = WEFT_CAP_CLIENT,
    .create = test_create,
    .destroy = test_destroy,
    .client_tunnel_open = test_client_open,
    .client_tunnel_close = test_client_close,
};

WEFT_PLUGIN_EXPORT(plugin)
