/* The autossh transport: a supervised OpenSSH client doing `ssh -R`,
 * restarted with backoff as autossh does (client.c), either to any sshd
 * bastion named in the tunnel's section (no weft server needed), or to the
 * weft server's host, which then issues and revokes a restricted key per
 * tunnel and relays its public port to the forward (bastion.c). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "autossh.h"

static const struct weft_option autossh_options[] = {
    {"ssh_path", WEFT_OPT_STRING, offsetof(struct autossh_conf, ssh_path),
     "/usr/bin/ssh", "the OpenSSH client to run", NULL, 0, 0, 0},
    {"ssh_keygen_path", WEFT_OPT_STRING,
     offsetof(struct autossh_conf, ssh_keygen_path), "/usr/bin/ssh-keygen",
     "ssh-keygen, for a tunnel's own key with a weft bastion", NULL, 0, 0, 0},
    {"ssh_config", WEFT_OPT_STRING, offsetof(struct autossh_conf, ssh_config),
     "none",
     "ssh_config file for ssh -F, or none (ignore ~/.ssh/config, so every "
     "setting comes from Weft)",
     NULL, 0, 0, 0},
    {"server_alive_interval", WEFT_OPT_DURATION,
     offsetof(struct autossh_conf, alive_interval_ms), "15s",
     "ssh ServerAliveInterval", NULL, 1000, 3600000, 0},
    {"server_alive_count_max", WEFT_OPT_INT,
     offsetof(struct autossh_conf, alive_count_max), "3",
     "ssh ServerAliveCountMax", NULL, 1, 100, 0},
    {"connect_timeout", WEFT_OPT_DURATION,
     offsetof(struct autossh_conf, connect_timeout_ms), "15s",
     "ssh ConnectTimeout", NULL, 1000, 600000, 0},
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
    {"authorized_keys", WEFT_OPT_STRING,
     offsetof(struct autossh_conf, authorized_keys), NULL,
     "server: the authorized_keys file of ssh_user that Weft manages (makes "
     "this server a bastion)",
     NULL, 0, 0, 0},
    {"ssh_user", WEFT_OPT_STRING, offsetof(struct autossh_conf, ssh_user),
     NULL, "server: the login name devices use on this host's sshd", NULL, 0,
     0, 0},
    {"ssh_host", WEFT_OPT_STRING, offsetof(struct autossh_conf, ssh_host),
     NULL, "server: the host devices dial for ssh (default: the weft server's)",
     NULL, 0, 0, 0},
    {"ssh_port", WEFT_OPT_INT, offsetof(struct autossh_conf, ssh_port), "22",
     "server: the port of this host's sshd", NULL, 1, 65535, 0},
    {"host_key", WEFT_OPT_STRING, offsetof(struct autossh_conf, host_key),
     "/etc/ssh/ssh_host_ed25519_key.pub",
     "server: sshd's public host key, which devices pin", NULL, 0, 0, 0},
    {"forward_ports", WEFT_OPT_STRING,
     offsetof(struct autossh_conf, forward_ports), "40000-40999",
     "server: loopback ports handed out for the devices' forwards", NULL, 0,
     0, 0},
    {"key_lifetime", WEFT_OPT_DURATION,
     offsetof(struct autossh_conf, key_lifetime_ms), "1h",
     "server: how far ahead a key's expiry-time is set (renewed while its "
     "lease lives)",
     NULL, 60000, 604800000, 0},
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
     "port to listen on at the bastion (or remote = tcp://:PORT)", NULL, 1,
     65535, 0},
    {"remote_bind", WEFT_OPT_STRING,
     offsetof(struct autossh_tunnel_conf, remote_bind), NULL,
     "address to listen on at the bastion (default: its loopback)", NULL, 0,
     0, 0},
    {"identity", WEFT_OPT_STRING,
     offsetof(struct autossh_tunnel_conf, identity), NULL,
     "private key file for the bastion", NULL, 0, 0, 0},
    {"known_hosts", WEFT_OPT_STRING,
     offsetof(struct autossh_tunnel_conf, known_hosts), NULL,
     "known_hosts file that pins the bastion's host key (default: ssh's "
     "own; unknown hosts are refused either way)",
     NULL, 0, 0, 0},
    WEFT_OPTIONS_END,
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
  struct autossh *as = calloc(1, sizeof *as);
  if (!as)
    return WEFT_ENOMEM;
  as->host = host;
  as->conf = conf;
  int rc = bastion_create(as);
  if (rc != 0) {
    free(as);
    return rc;
  }
  *ctx = as;
  return 0;
}

static void as_destroy(void *ctx)
{
  struct autossh *as = ctx;
  client_abandon_all(as);
  bastion_destroy(as);
  free(as);
}

static int as_server_tunnel_open(void *ctx, const struct weft_tunnel_info *t,
                                 void **tunnel_ctx)
{
  return bastion_tunnel_open(ctx, t, tunnel_ctx);
}

static int as_server_stream_open(void *ctx, void *tunnel_ctx,
                                 struct weft_stream *conn)
{
  return bastion_stream_open(ctx, tunnel_ctx, conn);
}

static void as_server_tunnel_close(void *ctx, void *tunnel_ctx, int reason)
{
  bastion_tunnel_close(ctx, tunnel_ctx, reason);
}

static int as_client_tunnel_prepare(void *ctx,
                                    const struct weft_tunnel_info *t,
                                    void **tunnel_ctx)
{
  return client_prepare(ctx, t, tunnel_ctx);
}

static int as_client_tunnel_open(void *ctx, const struct weft_tunnel_info *t,
                                 void **tunnel_ctx)
{
  return client_open(ctx, t, tunnel_ctx);
}

static void as_client_tunnel_close(void *ctx, void *tunnel_ctx)
{
  client_close(ctx, tunnel_ctx);
}

static const char *as_status(void *ctx)
{
  struct autossh *as = ctx;
  static char line[600];
  const char *bastion = bastion_status(as);
  snprintf(line, sizeof line, "supervises %s; %s", as->conf->ssh_path,
           bastion ? bastion
                   : "not a bastion (set authorized_keys to make this "
                     "server one)");
  return line;
}

static const struct weft_plugin autossh_plugin = {
    WEFT_PLUGIN_HEADER,
    .name = "autossh",
    .description = "supervised OpenSSH `ssh -R` to a bastion, restarted with "
                   "backoff",
    .version = "0.2.0",
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
    .client_tunnel_prepare = as_client_tunnel_prepare,
};

WEFT_PLUGIN_EXPORT(autossh_plugin)
