/* Declares a descriptor smaller than ABI 1.0 requires (as a plugin built
 * against a truncated header would). */
#include "common_ops.h"

static const struct weft_plugin plugin = {
    .abi_major = WEFT_ABI_MAJOR,
    .abi_minor = 0,
    .struct_size = offsetof(struct weft_plugin, create),
    .name = "shortstruct",
    .description = "too short",
    .caps = WEFT_CAP_CLIENT,
};

WEFT_PLUGIN_EXPORT(plugin)
