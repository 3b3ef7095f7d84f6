/* A well-formed plugin: loads, initialises, declares options of every type. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common_ops.h"

struct good_conf {
  const char *mode;
  int64_t port;
  bool fast;
  int64_t timeout_ms;
  const char *label;
  const char *upstream;
};

static const struct weft_option good_options[] = {
    {"mode", WEFT_OPT_ENUM, offsetof(struct good_conf, mode), "auto",
     "which way", "auto|kernel|uapi", 0, 0, 0},
    {"port", WEFT_OPT_INT, offsetof(struct good_conf, port), "30000",
     "a port", NULL, 1, 65535, 0},
    {"fast", WEFT_OPT_BOOL, offsetof(struct good_conf, fast), "false",
     "go fast", NULL, 0, 0, 0},
    {"timeout", WEFT_OPT_DURATION, offsetof(struct good_conf, timeout_ms),
     "30s", "how long", NULL, 0, 0, 0},
    {"label", WEFT_OPT_STRING, offsetof(struct good_conf, label), NULL,
     "free text", NULL, 0, 0, 0},
    {"upstream", WEFT_OPT_URL, offsetof(struct good_conf, upstream), NULL,
     "a URL", NULL, 0, 0, 0},
    WEFT_OPTIONS_END,
};

static int good_create(const struct weft_host *host, const void *config,
                       void **ctx)
{
  const struct good_conf *conf = config;
  host->log(host, WEFT_LOG_DEBUG, "good: mode=%s port=%lld", conf->mode,
            (long long)conf->port);
  *ctx = (void *)host;
  return 0;
}

static const char *good_status(void *ctx)
{
  (void)ctx;
  return "ready";
}

static const struct weft_plugin good_plugin = {
    WEFT_PLUGIN_HEADER,
    .name = "good",
    .description = "a well-formed test plugin",
    .version = "1.2.3",
    .caps = WEFT_CAP_CLIENT | WEFT_CAP_TCP,
    .options = good_options,
    .config_size = sizeof(struct good_conf),
    .create = good_create,
    .destroy = test_destroy,
    .client_tunnel_open = test_client_open,
    .client_tunnel_close = test_client_close,
    .status = good_status,
};

WEFT_PLUGIN_EXPORT(good_plugin)
