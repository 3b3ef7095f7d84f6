/* The autossh transport: a supervised OpenSSH client doing `ssh -R` to a
 * bastion (any sshd, or the weft server itself), restarted with backoff as
 * autossh does. This file declares the plugin and its options; the
 * supervision itself is not built yet, and every tunnel op says so. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/weft.h>

struct autossh_conf {
  const char *ssh_path;
  int64_t alive_interval_ms;
  int64_t alive_count_max;
  int64_t backoff_initial_ms;
  int64_t backoff_max_ms;
  int64_t gate_time_ms;
};

struct autossh_tunnel_conf {
  const char *bastion;     /* user@host */
  int64_t bastion_port;
  int64_t remote_port;
  const char *remote_bind;
  const char *identity;
  const char *known_hosts;
};

static const struct weft_option autossh_options[] = {
    {"ssh_path", WEFT_OPT_STRING, offsetof(struct autossh_conf, ssh_path),
     "/usr/bin/ssh", "the OpenSSH client to run", NULL, 0, 0, 0},
    {"server_alive_interval", WEFT_OPT_DURATION,
     offsetof(struct autossh_conf, alive_interval_ms), "15s",
     "ssh ServerAliveInterval", NULL, 1000, 3600000, 0},
    {"server_alive_count_max", WEFT_OPT_INT,
     offsetof(struct autossh_conf, alive_count_max), "3",
     "ssh ServerAliveCountMax", NULL, 1, 100, 0},
    {"backoff_initial", WEFT_OPT_DURATION,
     offsetof(struct autossh_conf, backoff_initial_ms), "1s",
     "first restart delay after ssh exits (doubles, with jitter)", NULL, 100,
     3600000, 0},
    {"backoff_max", WEFT_OPT_DURATION,
     offsetof(struct autossh_conf, backoff_max_ms), "5m",
     "longest restart delay", NULL, 1000, 86400000, 0},
    {"gate_time", WEFT_OPT_DURATION,
     offsetof(struct autossh_conf, gate_time_ms), "30s",
     "an ssh that exits sooner than this after starting counts as a failed "
     "start",
     NULL, 0, 3600000, 0},
    WEFT_OPTIONS_END,
};

static const struct weft_option autossh_tunnel_options[] = {
    {"bastion", WEFT_OPT_STRING, offsetof(struct autossh_tunnel_conf, bastion),
     NULL, "user@host of a plain sshd bastion (omit to use the weft server)",
     NULL, 0, 0, 0},
    {"bastion_port", WEFT_OPT_INT,
     offsetof(struct autossh_tunnel_conf, bastion_port), "22",
     "the bastion's ssh port", NULL, 1, 65535, 0},
    {"remote_port", WEFT_OPT_INT,
     offsetof(struct autossh_tunnel_conf, remote_port), NULL,
     "port to listen on at the bastion", NULL, 1, 65535, 0},
    {"remote_bind", WEFT_OPT_STRING,
     offsetof(struct autossh_tunnel_conf, remote_bind), NULL,
     "address to listen on at the bastion (default: its loopback)", NULL, 0,
     0, 0},
    {"identity", WEFT_OPT_STRING,
     offsetof(struct autossh_tunnel_conf, identity), NULL,
     "private key file for the bastion", NULL, 0, 0, 0},
    {"known_hosts", WEFT_OPT_STRING,
     offsetof(struct autossh_tunnel_conf, known_hosts), NULL,
     "known_hosts file that pins the bastion's host key", NULL, 0, 0, 0},
    WEFT_OPTIONS_END,
};

struct autossh {
  const struct weft_host *host;
};

static int as_create(const struct weft_host *host, const void *config,
                     void **ctx)
{
  const struct autossh_conf *conf = config;
  if (conf->backoff_initial_ms > conf->backoff_max_ms) {
    host->log(host, WEFT_LOG_ERROR,
              "backoff_initial is longer than backoff_max");
    return WEFT_ECONFIG;
  }
  struct autossh *as = host->calloc(1, sizeof *as);
  if (!as)
    return WEFT_ENOMEM;
  as->host = host;
  *ctx = as;
  return 0;
}

static void as_destroy(void *ctx)
{
  struct autossh *as = ctx;
  as->host->free(as);
}

static int not_built(struct autossh *as, const char *side)
{
  as->host->log(as->host, WEFT_LOG_ERROR,
                "the autossh transport's %s side is not built in this "
                "version of weft; no tunnel was opened",
                side);
  return WEFT_ENOTBUILT;
}

static int as_server_tunnel_open(void *ctx, const struct weft_tunnel_info *t,
                                 void **tunnel_ctx)
{
  (void)t, (void)tunnel_ctx;
  return not_built(ctx, "server");
}

static int as_server_stream_open(void *ctx, void *tunnel_ctx,
                                 struct weft_stream *conn)
{
  (void)tunnel_ctx, (void)conn;
  return not_built(ctx, "server");
}

static void as_server_tunnel_close(void *ctx, void *tunnel_ctx, int reason)
{
  (void)ctx, (void)tunnel_ctx, (void)reason;
}

static int as_client_tunnel_open(void *ctx, const struct weft_tunnel_info *t,
                                 void **tunnel_ctx)
{
  (void)t, (void)tunnel_ctx;
  return not_built(ctx, "client");
}

static void as_client_tunnel_close(void *ctx, void *tunnel_ctx)
{
  (void)ctx, (void)tunnel_ctx;
}

static const char *as_status(void *ctx)
{
  (void)ctx;
  return "not built yet: tunnels asking for it are refused";
}

static const struct weft_plugin autossh_plugin = {
    WEFT_PLUGIN_HEADER,
    .name = "autossh",
    .description = "supervised OpenSSH `ssh -R` to a bastion, restarted with "
                   "backoff",
    .version = "0.1.0",
    .caps = WEFT_CAP_SERVER | WEFT_CAP_CLIENT | WEFT_CAP_TCP,
    .options = autossh_options,
    .config_size = sizeof(struct autossh_conf),
    .tunnel_options = autossh_tunnel_options,
    .tunnel_config_size = sizeof(struct autossh_tunnel_conf),
    .create = as_create,
    .destroy = as_destroy,
    .server_tunnel_open = as_server_tunnel_open,
    .server_stream_open = as_server_stream_open,
    .server_tunnel_close = as_server_tunnel_close,
    .client_tunnel_open = as_client_tunnel_open,
    .client_tunnel_close = as_client_tunnel_close,
    .status = as_status,
};

WEFT_PLUGIN_EXPORT(autossh_plugin)
