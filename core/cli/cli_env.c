#include "cli/cli_env.h"

#include <stdio.h>

#include "net/stream.h"
#include "cli/cli.h"

int cli_env_open(struct cli_env *env, const char *plugin_dir,
                 const char *config_path, const char *state_root)
{
  plugin_registry_init_empty(&env->reg);
  plugin_registry_scan_default(&env->reg, plugin_dir);
  uv_loop_init(&env->loop);
  stream_rounds_start(&env->loop);
  env->conf = NULL;
  if (config_path) {
    struct strbuf errors = {0};
    env->conf = conf_load_file(config_path, &env->reg, &errors);
    if (!env->conf)
      fprintf(stderr, "weft: configuration refused:\n%s", strbuf_str(&errors));
    strbuf_free(&errors);
    if (!env->conf)
      return EXIT_CONFIG;
  }
  plugin_registry_set_state_root(&env->reg, state_root);
  plugin_registry_start(&env->reg, &env->loop, conf_plugin_options,
                        env->conf);
  return EXIT_OK;
}

int cli_env_close(struct cli_env *env, int code)
{
  plugin_registry_stop(&env->reg);
  stream_rounds_stop();
  uv_run(&env->loop, UV_RUN_DEFAULT);
  plugin_registry_free(&env->reg);
  conf_free(env->conf);
  if (uv_loop_close(&env->loop) != 0) {
    fprintf(stderr, "weft: a plugin left handles open at unload\n");
    if (code == EXIT_OK)
      code = EXIT_RUNTIME;
  }
  return code;
}
