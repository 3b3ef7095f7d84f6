/* Declares the server side with tcp but has no server ops. */
#include "common_ops.h"

static const struct weft_plugin plugin = {
    WEFT_PLUGIN_HEADER,
    .name = "missingops",
    .description = "declares more than it does",
    .caps = WEFT_CAP_SERVER | WEFT_CAP_TCP,
    .create = test_create,
    .destroy = test_destroy,
};

WEFT_PLUGIN_EXPORT(plugin)
