/* The host-services table (sdk/weft/host.h) as the core implements it: one
 * binding per plugin, so log lines and left-over timers can be traced to it. */
#ifndef WEFT_CORE_HOST_H
#define WEFT_CORE_HOST_H

#include <weft/host.h>

struct weft_timer;
struct tokens;

/* A client's token renewal: blocking, and on the loop (host.h's
 * token_renew and token_renew_start). */
struct host_renewer {
  int (*renew)(void *ctx, const char *tunnel_id, char *out, size_t len);
  int (*start)(void *ctx, const char *tunnel_id, weft_token_cb cb,
               void *arg);
  void *ctx;
};

struct host_binding {
  struct weft_host host;     /* first: the plugin's pointer is this struct */
  struct weft_timer *timers; /* live timers, to stop any left at unload */
  char last_error[256];      /* last error the plugin logged, for refusals */
  struct tokens *tokens;     /* the server's tokens; NULL in a client */
  /* The client's way to a fresh orchestration token; NULLs in a server. */
  struct host_renewer renewer;
  /* The server's way to a tunnel's public UDP port; NULL in a client. */
  int (*send_datagram)(void *ctx, const char *plugin_name,
                       const char *tunnel_id, const struct weft_udp_peer *peer,
                       const void *data, size_t len);
  void *datagram_ctx;
  /* The client's record of its tunnels' states; NULL in a server. */
  void (*record_state)(void *ctx, const char *tunnel_id,
                       const struct weft_tunnel_state *state);
  void *state_ctx;
  char *state_dir; /* host.state_dir, owned here */
  /* The server's pool and own address (host.pool, host.server_address). */
  char pool[48];
  char server_address[48];
  /* The server's way to a tunnel's idle timer; NULL in a client. */
  void (*touch)(void *ctx, const char *plugin_name, const char *tunnel_id);
  void *touch_ctx;
  /* The server's audit trail; NULL in a client. */
  void (*audit)(void *ctx, const char *plugin_name, const char *tunnel_id,
                const char *event, const char *detail);
  void *audit_ctx;
};

/* Fills the table for a plugin called `name` running on `loop`. */
void host_binding_init(struct host_binding *binding, const char *name,
                       struct uv_loop_s *loop);
/* Stops the timers the plugin left behind, with a warning for each. */
void host_binding_release(struct host_binding *binding);

#endif
