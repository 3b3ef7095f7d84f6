/* What the client-side commands share: the plugins, weft.conf if given, and
 * an event loop, set up and torn down the same way every time. */
#ifndef WEFT_CLI_ENV_H
#define WEFT_CLI_ENV_H

#include <uv.h>

#include "config/config.h"
#include "plugin/plugin_registry.h"

struct cli_env {
  struct plugin_registry reg;
  struct conf *conf; /* NULL without --config */
  uv_loop_t loop;
};

/* Loads the plugins and the config and starts the plugins (giving each a
 * directory under state_root, if not NULL). Returns EXIT_OK,
 * or EXIT_CONFIG after printing why the config was refused; either way
 * cli_env_close must follow. */
int cli_env_open(struct cli_env *env, const char *plugin_dir,
                 const char *config_path, const char *state_root);
/* Stops the plugins, lets their handles close, frees everything. Returns
 * code, or EXIT_RUNTIME if a handle was left open. */
int cli_env_close(struct cli_env *env, int code);

#endif
