/* hello: the smallest complete Weft transport plugin, built out of tree.
 *
 * It carries no bytes. It shows the parts every plugin has: the descriptor,
 * an option table the core validates, create/destroy with a context, the
 * host's logger and timers, and a tunnel op pair. ../relay is a transport
 * that carries bytes (docs/plugin-guide.md walks through it).
 *
 *   make                      # uses `pkg-config weft-sdk`
 *   weft plugins --plugin-dir .
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/weft.h>

struct hello_conf {
  const char *greeting;
  int64_t interval_ms;
};

static const struct weft_option hello_options[] = {
    {"greeting", WEFT_OPT_STRING, offsetof(struct hello_conf, greeting),
     "hello", "what to log for each open tunnel", NULL, 0, 0, 0},
    {"interval", WEFT_OPT_DURATION, offsetof(struct hello_conf, interval_ms),
     "10s", "how often to log it", NULL, 100, 3600000, 0},
    WEFT_OPTIONS_END,
};

struct hello {
  const struct weft_host *host;
  const struct hello_conf *conf;
};

struct hello_tunnel {
  struct hello *plugin;
  struct weft_timer *timer;
  char name[64];
};

static int hello_create(const struct weft_host *host, const void *config,
                        void **ctx)
{
  struct hello *h = host->calloc(1, sizeof *h);
  if (!h)
    return WEFT_ENOMEM;
  h->host = host;
  h->conf = config; /* owned by the core until destroy returns */
  *ctx = h;
  return 0;
}

static void hello_destroy(void *ctx)
{
  struct hello *h = ctx;
  h->host->free(h);
}

static void hello_tick(void *arg)
{
  struct hello_tunnel *t = arg;
  t->plugin->host->log(t->plugin->host, WEFT_LOG_INFO, "%s from tunnel %s",
                       t->plugin->conf->greeting, t->name);
}

static int hello_open(void *ctx, const struct weft_tunnel_info *info,
                      void **tunnel_ctx)
{
  struct hello *h = ctx;
  struct hello_tunnel *t = h->host->calloc(1, sizeof *t);
  if (!t)
    return WEFT_ENOMEM;
  t->plugin = h;
  const char *name = info->name ? info->name : "(unnamed)";
  size_t i = 0;
  for (; name[i] && i < sizeof t->name - 1; i++)
    t->name[i] = name[i];
  t->name[i] = '\0';
  int rc = h->host->timer_start(h->host, (uint64_t)h->conf->interval_ms,
                                (uint64_t)h->conf->interval_ms, hello_tick, t,
                                &t->timer);
  if (rc != 0) {
    h->host->free(t);
    return rc;
  }
  *tunnel_ctx = t;
  return 0;
}

static void hello_close(void *ctx, void *tunnel_ctx)
{
  struct hello *h = ctx;
  struct hello_tunnel *t = tunnel_ctx;
  h->host->timer_stop(t->timer);
  h->host->free(t);
}

static const struct weft_plugin hello_plugin = {
    WEFT_PLUGIN_HEADER,
    .name = "hello",
    .description = "example out-of-tree plugin: logs a greeting per tunnel",
    .version = "1.0.0",
    .caps = WEFT_CAP_CLIENT | WEFT_CAP_TCP,
    .options = hello_options,
    .config_size = sizeof(struct hello_conf),
    .create = hello_create,
    .destroy = hello_destroy,
    .client_tunnel_open = hello_open,
    .client_tunnel_close = hello_close,
};

WEFT_PLUGIN_EXPORT(hello_plugin)
