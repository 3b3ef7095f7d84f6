/* The autossh transport's shared definitions: its options, and the two
 * halves (client.c supervises `ssh -R`; bastion.c makes the weft server a
 * bastion that issues and revokes restricted keys). */
#ifndef WEFT_AUTOSSH_H
#define WEFT_AUTOSSH_H

#include <stdbool.h>
#include <stdint.h>

#include <weft/weft.h>

struct autossh_conf {
  /* Device side. */
  const char *ssh_path;
  const char *ssh_keygen_path;
  const char *ssh_config;
  int64_t alive_interval_ms;
  int64_t alive_count_max;
  int64_t connect_timeout_ms;
  int64_t backoff_initial_ms;
  int64_t backoff_max_ms;
  int64_t gate_time_ms;
  /* Server side: the weft server as bastion. */
  const char *authorized_keys;
  const char *ssh_user;
  const char *ssh_host;
  int64_t ssh_port;
  const char *host_key;
  const char *forward_ports;
  int64_t key_lifetime_ms;
};

struct autossh_tunnel_conf {
  const char *bastion; /* user@host */
  int64_t bastion_port;
  int64_t remote_port;
  const char *remote_bind;
  const char *identity;
  const char *known_hosts;
};

struct bastion;
struct client_tunnel;

struct autossh {
  const struct weft_host *host;
  const struct autossh_conf *conf;
  struct bastion *bastion;       /* server side, or NULL when not set up */
  struct client_tunnel *tunnels; /* device side, live and closing */
};

/* Device side (client.c). */
int client_prepare(struct autossh *as, const struct weft_tunnel_info *t,
                   void **tunnel_ctx);
int client_open(struct autossh *as, const struct weft_tunnel_info *t,
                void **tunnel_ctx);
void client_close(struct autossh *as, void *tunnel_ctx);
/* At destroy: kills what still runs; the loop finishes the rest. */
void client_abandon_all(struct autossh *as);

/* Server side (bastion.c). */
int bastion_create(struct autossh *as);
void bastion_destroy(struct autossh *as);
int bastion_tunnel_open(struct autossh *as, const struct weft_tunnel_info *t,
                        void **tunnel_ctx);
int bastion_stream_open(struct autossh *as, void *tunnel_ctx,
                        struct weft_stream *conn);
void bastion_tunnel_close(struct autossh *as, void *tunnel_ctx, int reason);
const char *bastion_status(struct autossh *as);

#endif
