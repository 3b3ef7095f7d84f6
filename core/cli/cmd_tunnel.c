#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "../config.h"
#include "../log.h"
#include "../plugin_registry.h"
#include "../url.h"
#include "cli.h"

enum { OPT_PLUGIN_DIR = 256 };

#define DEFAULT_TRANSPORT "websocket"

struct tunnel_request {
  const char *name;
  const char *transport;
  const char *local_text;
  const char *remote_text;
  const void *plugin_config;
};

/* Asks the tunnel's transport to open it. Returns an exit code. */
static int open_tunnel(struct plugin_registry *reg, const struct conn_url *srv,
                       const struct tunnel_request *t)
{
  struct plugin *p = plugin_registry_find(reg, t->transport);
  if (!p || !p->initialized) {
    fprintf(stderr, "weft tunnel: transport '%s' is not available\n",
            t->transport);
    return EXIT_TRANSPORT;
  }
  struct weft_tunnel_info info = {
      .struct_size = sizeof info,
      .name = t->name,
      .local_url = t->local_text,
      .remote_url = t->remote_text,
      .tunnel_config = t->plugin_config,
      .server_host = srv ? srv->host : NULL,
      .server_port = srv ? srv->port : 0,
  };
  void *tunnel_ctx = NULL;
  int rc = p->desc.client_tunnel_open(p->ctx, &info, &tunnel_ctx);
  if (rc == WEFT_ENOTBUILT) {
    fprintf(stderr,
            "weft tunnel: %s%s%sthe %s transport cannot open tunnels in this "
            "version of weft (%s)\n",
            t->name ? "tunnel \"" : "", t->name ? t->name : "",
            t->name ? "\": " : "", t->transport, weft_strerror(rc));
    return EXIT_TRANSPORT;
  }
  if (rc != 0) {
    fprintf(stderr, "weft tunnel: %s transport failed to open the tunnel: %s\n",
            t->transport, weft_strerror(rc));
    return EXIT_TRANSPORT;
  }
  p->desc.client_tunnel_close(p->ctx, tunnel_ctx);
  return EXIT_OK;
}

static int check_cli_tunnel(struct plugin_registry *reg,
                            const struct tunnel_request *t)
{
  char why[URL_MAX_TEXT + 256];
  struct url local, remote;
  if (url_parse(t->local_text, &local, why, sizeof why) != 0) {
    fprintf(stderr, "weft tunnel: LOCAL_URL: %s\n", why);
    return EXIT_USAGE;
  }
  if (t->remote_text && url_parse(t->remote_text, &remote, why, sizeof why)) {
    fprintf(stderr, "weft tunnel: REMOTE_URL: %s\n", why);
    return EXIT_USAGE;
  }
  struct plugin *p = plugin_registry_find(reg, t->transport);
  if (!p) {
    char names[512];
    plugin_registry_names(reg, names, sizeof names);
    fprintf(stderr,
            "weft tunnel: no loaded plugin provides transport '%s' (loaded: "
            "%s; see weft plugins)\n",
            t->transport, names);
    return EXIT_TRANSPORT;
  }
  if (!(p->desc.caps & WEFT_CAP_CLIENT)) {
    fprintf(stderr, "weft tunnel: transport '%s' has no client side\n",
            t->transport);
    return EXIT_TRANSPORT;
  }
  if (tunnel_spec_check(&local, t->remote_text ? &remote : NULL, p, why,
                        sizeof why) != 0) {
    fprintf(stderr, "weft tunnel: %s\n", why);
    return EXIT_USAGE;
  }
  return EXIT_OK;
}

static int run(struct plugin_registry *reg, const struct conf *conf,
               const struct conn_url *srv, const struct tunnel_request *cli)
{
  if (cli) {
    int code = check_cli_tunnel(reg, cli);
    return code != EXIT_OK ? code : open_tunnel(reg, srv, cli);
  }
  if (conf->tunnel_count == 0) {
    fprintf(stderr, "weft tunnel: %s has no [tunnel \"NAME\"] section\n",
            conf->path);
    return EXIT_CONFIG;
  }
  int worst = EXIT_OK;
  for (size_t i = 0; i < conf->tunnel_count; i++) {
    const struct conf_tunnel *t = &conf->tunnels[i];
    struct tunnel_request req = {
        .name = t->name,
        .transport = t->transport,
        .local_text = t->local_text,
        .remote_text = t->remote_text,
        .plugin_config = t->plugin_config,
    };
    int code = open_tunnel(reg, srv, &req);
    if (code != EXIT_OK)
      worst = code;
  }
  return worst;
}

int cmd_tunnel(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"transport", required_argument, NULL, 't'},
      {"config", required_argument, NULL, 'c'},
      {"plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR},
      {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *transport = NULL, *config_path = NULL, *plugin_dir = NULL;
  bool verbose = false;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":t:c:vh", longopts, NULL)) != -1) {
    switch (c) {
    case 't': transport = optarg; break;
    case 'c': config_path = optarg; break;
    case OPT_PLUGIN_DIR: plugin_dir = optarg; break;
    case 'v': verbose = true; break;
    case 'h': cli_print_usage("tunnel"); return EXIT_OK;
    case ':':
      fprintf(stderr, "weft tunnel: %s needs a value\n", argv[optind - 1]);
      return EXIT_USAGE;
    default:
      fprintf(stderr, "weft tunnel: unknown option '%s'; see weft tunnel "
                      "--help\n",
              argv[optind - 1]);
      return EXIT_USAGE;
    }
  }
  int positional = argc - optind;
  if (config_path ? positional > 1 : (positional < 2 || positional > 3)) {
    fprintf(stderr,
            "weft tunnel: expected weft://SECRET@HOST LOCAL_URL [REMOTE_URL], "
            "or --config FILE; see weft tunnel --help\n");
    return EXIT_USAGE;
  }
  if (config_path && transport) {
    fprintf(stderr, "weft tunnel: with --config, each tunnel names its "
                    "transport in the file; drop --transport\n");
    return EXIT_USAGE;
  }
  struct conn_url srv;
  bool have_srv = positional >= 1;
  char why[URL_MAX_TEXT + 256];
  if (have_srv && conn_url_parse(argv[optind], &srv, why, sizeof why) != 0) {
    fprintf(stderr, "weft tunnel: %s\n", why);
    return EXIT_USAGE;
  }
  log_set_level(verbose ? WEFT_LOG_DEBUG : WEFT_LOG_INFO);

  struct plugin_registry reg;
  plugin_registry_init_empty(&reg);
  plugin_registry_scan_default(&reg, plugin_dir);
  struct conf *conf = NULL;
  int code = EXIT_OK;
  if (config_path) {
    struct strbuf errors = {0};
    conf = conf_load_file(config_path, &reg, &errors);
    if (!conf) {
      fprintf(stderr, "weft: configuration refused:\n%s", strbuf_str(&errors));
      code = EXIT_CONFIG;
    }
    strbuf_free(&errors);
  }
  struct tunnel_request cli = {
      .transport = transport ? transport : DEFAULT_TRANSPORT,
      .local_text = config_path ? NULL : argv[optind + 1],
      .remote_text = (!config_path && positional == 3) ? argv[optind + 2] : NULL,
  };
  uv_loop_t loop;
  uv_loop_init(&loop);
  if (code == EXIT_OK) {
    plugin_registry_start(&reg, &loop, conf);
    code = run(&reg, conf, have_srv ? &srv : NULL, config_path ? NULL : &cli);
    plugin_registry_stop(&reg);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  plugin_registry_free(&reg);
  conf_free(conf);
  if (uv_loop_close(&loop) != 0 && code == EXIT_OK)
    code = EXIT_RUNTIME;
  return code;
}
