/* libFuzzer target: weft.conf parsing and validation, against a transport
 * that declares options of every type (as a plugin would). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config/config.h"
#include "base/log.h"
#include "plugin/plugin_registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_conf {
  const char *mode;
  int64_t port;
  bool fast;
  int64_t timeout_ms;
  const char *upstream;
};
struct fz_tunnel {
  const char *bastion;
  int64_t remote_port;
};

static const struct weft_option fz_options[] = {
    {"mode", WEFT_OPT_ENUM, offsetof(struct fz_conf, mode), "auto", "",
     "auto|kernel|uapi", 0, 0, 0},
    {"port", WEFT_OPT_INT, offsetof(struct fz_conf, port), "1", "", NULL, 1,
     65535, 0},
    {"fast", WEFT_OPT_BOOL, offsetof(struct fz_conf, fast), "false", "", NULL,
     0, 0, 0},
    {"timeout", WEFT_OPT_DURATION, offsetof(struct fz_conf, timeout_ms), "1s",
     "", NULL, 0, 0, 0},
    {"upstream", WEFT_OPT_URL, offsetof(struct fz_conf, upstream), NULL, "",
     NULL, 0, 0, WEFT_OPT_REQUIRED},
    WEFT_OPTIONS_END,
};
static const struct weft_option fz_tunnel_options[] = {
    {"bastion", WEFT_OPT_STRING, offsetof(struct fz_tunnel, bastion), NULL, "",
     NULL, 0, 0, 0},
    {"remote_port", WEFT_OPT_INT, offsetof(struct fz_tunnel, remote_port),
     "22", "", NULL, 1, 65535, 0},
    WEFT_OPTIONS_END,
};

static int fz_create(const struct weft_host *h, const void *c, void **x)
{
  (void)h, (void)c, (void)x;
  return 0;
}
static void fz_destroy(void *x) { (void)x; }
static int fz_open(void *x, const struct weft_tunnel_info *t, void **tc)
{
  (void)x, (void)t, (void)tc;
  return 0;
}
static void fz_close(void *x, void *tc) { (void)x, (void)tc; }

static const struct weft_plugin fz_plugin = {
    WEFT_PLUGIN_HEADER,
    .name = "fz",
    .description = "fuzz transport",
    .caps = WEFT_CAP_CLIENT | WEFT_CAP_TCP | WEFT_CAP_UDP | WEFT_CAP_HTTP,
    .options = fz_options,
    .config_size = sizeof(struct fz_conf),
    .tunnel_options = fz_tunnel_options,
    .tunnel_config_size = sizeof(struct fz_tunnel),
    .create = fz_create,
    .destroy = fz_destroy,
    .client_tunnel_open = fz_open,
    .client_tunnel_close = fz_close,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct plugin_registry reg;
  static bool ready;
  if (!ready) {
    log_set_level(WEFT_LOG_ERROR);
    plugin_registry_init_empty(&reg);
    if (plugin_registry_add_static(&reg, &fz_plugin, "fuzz") != 0)
      abort();
    ready = true;
  }
  struct strbuf errors = {0};
  struct conf *c =
      conf_load_buffer("fuzz.conf", (const char *)data, size, &reg, &errors);
  if (c) {
    struct conf *defaults = conf_defaults();
    struct strbuf diff = {0};
    conf_describe_changes(defaults, c, &diff);
    strbuf_free(&diff);
    conf_free(defaults);
  } else if (errors.len == 0) {
    abort(); /* a refusal must always say why */
  }
  conf_free(c);
  strbuf_free(&errors);
  return 0;
}
