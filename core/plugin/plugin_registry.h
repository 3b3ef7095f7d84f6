/* The plugin loader: finds transport plugins, checks every one before it is
 * trusted, and keeps going when one is refused.
 *
 * Search order (the first plugin of a name wins; later ones are refused as
 * duplicates): --plugin-dir, then each directory of WEFT_PLUGIN_PATH
 * (colon-separated), then the built-in directory (the build tree's plugins/
 * for a freshly built weft, otherwise the installed plugin directory).
 *
 * Two stages, so that weft.conf can be validated against the plugins' option
 * tables before any plugin runs code of its own beyond its entry function:
 *   plugin_registry_scan_*   dlopen + descriptor checks (refusals recorded)
 *   plugin_registry_start    create() with the options its caller fills in
 */
#ifndef WEFT_CORE_PLUGIN_REGISTRY_H
#define WEFT_CORE_PLUGIN_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include <weft/plugin.h>

#include "plugin/host.h"
#include "base/strpool.h"

struct tokens;
struct uv_loop_s;

struct plugin {
  char *path;                   /* NULL for a plugin compiled into weft */
  void *dl;                     /* dlopen handle, NULL if compiled in */
  struct weft_plugin desc;      /* the descriptor, zero-extended to our size */
  struct host_binding binding;  /* the host table this plugin sees */
  void *config;                 /* its [transport.NAME] struct */
  struct strpool config_strings;
  void *ctx;                    /* from create() */
  bool initialized;
};

struct refused_plugin {
  char *path;
  char *reason;
};

struct plugin_registry {
  struct plugin **plugins;
  size_t count, cap;
  struct refused_plugin *refused;
  size_t refused_count, refused_cap;
  char **dirs; /* the directories searched, for `weft plugins` */
  size_t dir_count;
  char *state_root; /* plugins get STATE_ROOT/plugins/NAME, or none */
  char pool[48];    /* the server's address pool, "" in a client */
  char server_address[48];
};

void plugin_registry_init_empty(struct plugin_registry *reg);

/* The built-in plugin directory for this executable. */
const char *plugin_builtin_dir(void);

/* Scans --plugin-dir (may be NULL), WEFT_PLUGIN_PATH, and the built-in dir. */
void plugin_registry_scan_default(struct plugin_registry *reg,
                                  const char *plugin_dir);
/* Loads every *.so in dir, in name order. explicit: the user named it, so a
 * missing directory is reported as a refusal rather than skipped. */
void plugin_registry_scan_dir(struct plugin_registry *reg, const char *dir,
                              bool explicit_dir);
/* Loads one file; returns 0, or -1 after recording why it was refused. */
int plugin_registry_load_file(struct plugin_registry *reg, const char *path);
/* Adds a descriptor linked into the program (tests, fuzzers): the same
 * checks as for a file. */
int plugin_registry_add_static(struct plugin_registry *reg,
                               const struct weft_plugin *desc,
                               const char *origin);

struct plugin *plugin_registry_find(const struct plugin_registry *reg,
                                    const char *name);
/* "autossh, vhost, websocket, wireguard" */
void plugin_registry_names(const struct plugin_registry *reg, char *buf,
                           size_t len);

/* Fills a plugin's options struct (already holding its defaults) from the
 * caller's settings: 0, or -1 with err. The loader knows nothing of where
 * settings come from (weft.conf: conf_plugin_options). */
typedef int plugin_options_fn(const void *arg, const struct plugin *p,
                              void *options, struct strpool *pool, char *err,
                              size_t errlen);

/* Runs create() for every plugin with its options: the defaults its table
 * declares, then what fill sets (fill NULL: defaults only). A plugin whose
 * create() fails is moved to the refused list with its reason. */
void plugin_registry_start(struct plugin_registry *reg,
                           struct uv_loop_s *loop, plugin_options_fn *fill,
                           const void *fill_arg);

/* Gives every started plugin's host table the server's token service. */
void plugin_registry_set_tokens(struct plugin_registry *reg,
                                struct tokens *tokens);

/* Gives every started plugin's host table the server's public UDP ports
 * (host->datagram_send). */
struct weft_udp_peer;
void plugin_registry_set_datagram_sender(
    struct plugin_registry *reg,
    int (*send)(void *ctx, const char *plugin_name, const char *tunnel_id,
                const struct weft_udp_peer *peer, const void *data,
                size_t len),
    void *ctx);

/* Gives every started plugin's host table the client's token renewal. */
void plugin_registry_set_renewer(struct plugin_registry *reg,
                                 const struct host_renewer *renewer);

/* destroy() for every started plugin, stopping timers it left behind. Run
 * the loop afterwards so close callbacks complete, then free. */
/* Before plugin_registry_start: each plugin's host->state_dir becomes
 * root/plugins/NAME (created 0700). Without it plugins get none. */
int plugin_registry_set_state_root(struct plugin_registry *reg,
                                   const char *root);

/* Before plugin_registry_start, in a server: host->pool and
 * host->server_address. */
void plugin_registry_set_pool(struct plugin_registry *reg, const char *pool,
                              const char *server_address);

/* The server's idle-timer reset (host->lease_touch). */
void plugin_registry_set_toucher(struct plugin_registry *reg,
                                 void (*touch)(void *ctx,
                                               const char *plugin_name,
                                               const char *tunnel_id),
                                 void *ctx);

/* The server's audit trail (host->audit). */
void plugin_registry_set_auditor(
    struct plugin_registry *reg,
    void (*audit)(void *ctx, const char *plugin_name, const char *tunnel_id,
                  const char *event, const char *detail),
    void *ctx);

/* The client's recorder of tunnel states (host->tunnel_state). */
void plugin_registry_set_state_recorder(
    struct plugin_registry *reg,
    void (*record)(void *ctx, const char *tunnel_id,
                   const struct weft_tunnel_state *state),
    void *ctx);

void plugin_registry_stop(struct plugin_registry *reg);
void plugin_registry_free(struct plugin_registry *reg);

/* "server client tcp udp" into buf. */
void plugin_caps_text(unsigned caps, char *buf, size_t len);

#endif
