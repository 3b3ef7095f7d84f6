#include "control_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/clock.h"
#include "config/config.h"
#include "base/log.h"
#include "plugin/plugin_registry.h"

static int tt_create(const struct weft_host *h, const void *c, void **x)
{
  (void)c;
  *x = (void *)h;
  return 0;
}
static void tt_destroy(void *x) { (void)x; }
static int tt_open(void *x, const struct weft_tunnel_info *t, void **tc)
{
  t->add_param(t->param_ctx, "endpoint", t->id);
  *tc = x;
  return 0;
}
static int tt_stream(void *x, void *tc, struct weft_stream *s)
{
  (void)x, (void)tc, (void)s;
  return WEFT_ENOTSUP;
}
static int tt_dgram(void *x, void *tc, const struct weft_udp_peer *p,
                    const void *d, size_t n)
{
  (void)x, (void)tc, (void)p, (void)d, (void)n;
  return WEFT_ENOTSUP;
}
static void tt_close(void *x, void *tc, int reason)
{
  (void)x, (void)tc, (void)reason;
}
static int tt_copen(void *x, const struct weft_tunnel_info *t, void **tc)
{
  (void)x, (void)t, (void)tc;
  return 0;
}
static void tt_cclose(void *x, void *tc) { (void)x, (void)tc; }

static const struct weft_plugin fuzz_transport = {
    WEFT_PLUGIN_HEADER,
    .name = "fz",
    .description = "fuzz transport",
    .caps = WEFT_CAP_SERVER | WEFT_CAP_CLIENT | WEFT_CAP_TCP | WEFT_CAP_UDP |
            WEFT_CAP_HTTP | WEFT_CAP_ADDRESS,
    .create = tt_create,
    .destroy = tt_destroy,
    .server_tunnel_open = tt_open,
    .server_stream_open = tt_stream,
    .server_datagram = tt_dgram,
    .server_tunnel_close = tt_close,
    .client_tunnel_open = tt_copen,
    .client_tunnel_close = tt_cclose,
};

static struct {
  bool ready;
  uv_loop_t loop;
  struct plugin_registry plugins;
  struct store *store;
  struct tokens tokens;
  struct acl_policy acl;
  struct login_server login;
  struct tunnel_service tunnels;
  struct control_api api;
  struct secret secret;
  char *session;
} h;

static char state_dir[64];

static void remove_state(void)
{
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", state_dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", state_dir);
}

static const struct secret *secret_for(void *ctx, const char *ip, int *id)
{
  (void)ctx, (void)ip;
  *id = 0;
  return &h.secret;
}

struct control_api *harness_api(void)
{
  if (h.ready)
    return &h.api;
  log_set_level(WEFT_LOG_ERROR + (getenv("WEFT_FUZZ_LOG") ? 3 : -1));
  uv_loop_init(&h.loop);
  plugin_registry_init_empty(&h.plugins);
  if (plugin_registry_add_static(&h.plugins, &fuzz_transport, "fuzz") != 0)
    abort();
  plugin_registry_start(&h.plugins, &h.loop, NULL, NULL);
  char path[96], err[256];
  snprintf(state_dir, sizeof state_dir, "/dev/shm/weft-fuzz-XXXXXX");
  if (!mkdtemp(state_dir))
    abort();
  atexit(remove_state);
  snprintf(path, sizeof path, "%s/store.db", state_dir);
  if (store_open_sqlite(path, &h.store, err, sizeof err) != 0)
    abort();
  uint8_t key[32] = {1, 2, 3};
  memset(h.secret.key, 7, sizeof h.secret.key);
  tokens_init(&h.tokens, key);
  conf_acl_policy(NULL, &h.acl);
  login_server_init(&h.login);
  struct lease_config lc;
  if (lease_config_from_text(&lc, "10.1.0.0/16", "20000-20100", 900000,
                             86400000, 300000, 1000, err, sizeof err) != 0 ||
      tunnel_service_open(&h.tunnels, &h.loop, h.store, &lc, &h.tokens, &h.acl,
                          &h.plugins, "fuzz.example",
                          "http://fuzz.example", 1000) != 0)
    abort();
  h.api = (struct control_api){
      .version = "fuzz",
      .login = &h.login,
      .tokens = &h.tokens,
      .tunnels = &h.tunnels,
      .store = h.store,
      .secret_for = secret_for,
  };
  prefix_list_parse("any", &h.api.metrics_allow, err, sizeof err);
  if (tokens_issue_session(&h.tokens, "fuzz-dev", NULL, clock_wall_s(),
                           &h.session) != 0)
    abort();
  h.ready = true;
  return &h.api;
}

const char *harness_session(void)
{
  harness_api();
  return h.session;
}

void harness_handle(struct http_request *req)
{
  struct control_api *api = harness_api();
  snprintf(req->peer_ip, sizeof req->peer_ip, "192.0.2.%d",
           (int)(api->stats.requests % 200) + 1);
  snprintf(req->local_ip, sizeof req->local_ip, "127.0.0.1");
  struct http_response resp = {.status = 200};
  control_api_handle(api, req, &resp);
  if (resp.status < 200 || resp.status > 599)
    abort();
  strbuf_free(&resp.body);
  strbuf_free(&resp.headers);
}
