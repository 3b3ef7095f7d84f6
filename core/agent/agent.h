/* The device agent, which `weft tunnel` runs: for each tunnel it asks
 * the server (one logged-in device per tunnel, since a device holds one
 * live tunnel), hands the tunnel to its transport, records its state for
 * `weft tunnel status`, keeps the sessions fresh, and on SIGINT or SIGTERM
 * closes every tunnel and deletes it on the server. Standalone tunnels
 * (a transport that needs no weft server) need no session. */
#ifndef WEFT_AGENT_AGENT_H
#define WEFT_AGENT_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <uv.h>
#include <weft/host.h>

#include "agent/api_client.h"
#include "agent/tunnel_status.h"
#include "base/url.h"

struct curl_loop;
struct plugin;
struct plugin_registry;

#define AGENT_MAX_TUNNELS 64

/* What to open: from the command line or a [tunnel "NAME"] of weft.conf. */
struct agent_tunnel_spec {
  const char *name;
  const char *transport;
  const char *local_text;
  const char *remote_text;
  const struct url *local;  /* the texts as checked, for the transport */
  const struct url *remote; /* NULL without remote_text */
  const void *plugin_config;
  /* --tls-secret: a PEM file with the certificate chain and key the server
   * terminates an https remote with; read at each open; NULL: none. */
  const char *tls_secret_path;
};

/* A tunnel the server created for us (or a standalone one) and the
 * transport carrying it. When the server ends it, it is opened again
 * (agent.c says when), in the same place, from the same spec. */
struct open_tunnel {
  char id[64];
  char public_url[URL_MAX_TEXT + 300];
  struct plugin *plugin;
  void *plugin_ctx;
  struct client *client; /* the device it belongs to; NULL: standalone */
  struct tunnel_status status;
  /* What it was opened from, kept to open it again. */
  struct agent_tunnel_spec spec;
  struct url local, remote; /* spec.local and spec.remote point here */
  char device[64];
  size_t slot;               /* its device session: clients[slot] */
  bool carried;              /* its transport holds it (plugin_ctx valid) */
  char ended[32];            /* how the server said it ended, or "" */
  char ended_why[256];       /* and its words (who, from where) */
  struct agent *agent;       /* the agent it belongs to */
  uv_timer_t reopen;         /* armed while it waits to be opened again */
  bool reopen_ready;         /* reopen initialised (closed at the stop) */
  /* "is reachable at" is said once the transport reports it is up, not
   * before (a visitor coming sooner would be refused); or after a grace
   * when the transport says nothing of its state at all. */
  bool announce_pending;
  bool reported;             /* the transport said something */
  uv_timer_t announce;
  bool announce_ready;       /* announce initialised (closed at the stop) */
  unsigned reopen_tries;     /* failed attempts since it was last up */
  /* While it is opened again on the loop (reopen_due): the transport's
   * parameters for the server, the id it had, and an approval awaited. */
  bool reopening;
  json_t *device_params;
  char old_id[64];
  char approval[128];        /* "/v1/approvals/ID" while waiting, or "" */
  time_t approval_deadline;
  /* A renewal the transport awaits (host->token_renew_start). */
  weft_token_cb renew_cb;
  void *renew_arg;
  /* For --metrics-listen (agent_metrics.c). */
  uint64_t renewals_ok, renewals_failed;
  uint64_t local_in, local_out; /* bytes from and to its local service */
};

/* One client (one logged-in device) per tunnel from weft.conf, since a
 * device holds one live tunnel; the command line uses clients[0]. Clients
 * are set up on first use: standalone tunnels need none. */
struct agent {
  struct conn_url server;
  bool has_server;
  char base_device[64];
  struct client clients[AGENT_MAX_TUNNELS];
  bool client_ready[AGENT_MAX_TUNNELS];
  struct open_tunnel tunnels[AGENT_MAX_TUNNELS];
  size_t count;
  struct open_tunnel *opening; /* reports may come during client_tunnel_open */
  const char *run_dir;
  const char *state_dir; /* device keys (agent/device_identity.h) */
  bool await_approval;   /* ask, and open only once an admin approves */
  bool replace;          /* end this device's live tunnel first */
  bool status_warned;
  uv_signal_t sigint, sigterm;
  uv_timer_t refresh;
  bool stopping;
  struct plugin_registry *reg; /* from agent_bind */
  uv_loop_t *loop;             /* from agent_run */
  /* The control API on the loop, while it runs (api_on): a libcurl
   * multi per device session, clients[i]'s in api[i], made on first use. */
  bool api_on;
  struct curl_loop *api[AGENT_MAX_TUNNELS];
  int exit_code;               /* set when the agent stops by itself */
  /* The OpenTelemetry exporter (--opentelemetry-connection-string): the
   * tunnels' lifecycle as events; NULL: none. */
  struct otlp *otlp;
  /* Runs once when the agent stops (--metrics-listen closes there). */
  void (*on_stop)(void *arg);
  void *on_stop_arg;
};

/* Hands the agent's token renewal and state recorder to every plugin's
 * host table (before any tunnel opens). */
void agent_bind(struct agent *a, struct plugin_registry *reg);

/* Asks the server for the tunnel (unless its transport needs none), then
 * the transport to carry it, in tunnel slot `slot` as device `device`.
 * Says what happened on stdout or stderr; returns an exit code. */
int agent_open(struct agent *a, struct plugin_registry *reg, size_t slot,
               const char *device, const struct agent_tunnel_spec *t);

/* Runs the loop until SIGINT or SIGTERM has closed every tunnel, or the
 * server ended the last of them for good (a->exit_code says so). A tunnel
 * the server ended because its lease ran out (expired, idle-timeout,
 * max-lifetime) or forgot is opened again, with backoff; one an
 * administrator deleted, or another agent replaced, is not. */
void agent_run(struct agent *a, uv_loop_t *loop);

/* Closes every open tunnel, deleting those the server made. */
void agent_close_all(struct agent *a);

/* Frees a (calloc'd) agent and its device sessions. */
void agent_free(struct agent *a);

#endif
