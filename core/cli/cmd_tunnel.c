#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "../client.h"
#include "../log.h"
#include "../url.h"
#include "cli.h"
#include "cli_env.h"

enum { OPT_PLUGIN_DIR = 256, OPT_DEVICE_ID };

#define DEFAULT_TRANSPORT "websocket"

struct tunnel_request {
  const char *name;
  const char *transport;
  const char *local_text;
  const char *remote_text;
  const void *plugin_config;
};

#define MAX_TUNNELS 64

/* A tunnel the server created for us and the transport carrying it. */
struct open_tunnel {
  char id[64];
  char public_url[URL_MAX_TEXT + 300];
  struct plugin *plugin;
  void *plugin_ctx;
  struct client *client; /* the device it belongs to */
};

/* One client (one logged-in device) per tunnel from weft.conf, since a
 * device holds one live tunnel; the command line uses clients[0]. */
struct session {
  struct client clients[MAX_TUNNELS];
  size_t client_count;
  struct open_tunnel tunnels[MAX_TUNNELS];
  size_t count;
  uv_signal_t sigint, sigterm;
  uv_timer_t refresh;
  bool stopping;
};

/* For transports that reconnect: a fresh orchestration token (host table's
 * token_renew). */
static int renew_token(void *ctx, const char *tunnel_id, char *out,
                       size_t len)
{
  struct session *s = ctx;
  struct client *c = NULL;
  for (size_t i = 0; i < s->count; i++)
    if (!strcmp(s->tunnels[i].id, tunnel_id))
      c = s->tunnels[i].client;
  if (!c)
    return WEFT_ENOENT;
  char path[128], err[512];
  json_t *reply;
  snprintf(path, sizeof path, "/v1/tunnels/%s/token", tunnel_id);
  int status = client_request(c, "POST", path, NULL, &reply, err,
                              sizeof err);
  const char *token = json_string_value(json_object_get(reply, "token"));
  int rc = WEFT_EIO;
  if (status == 200 && token && strlen(token) < len) {
    snprintf(out, len, "%s", token);
    rc = 0;
  } else if (status == 404) {
    rc = WEFT_ENOENT;
  } else if (!status) {
    log_warn("token renewal: %s", err);
  }
  json_decref(reply);
  return rc;
}

static void delete_on_server(struct client *c, const char *id)
{
  char path[128], err[512];
  json_t *reply;
  snprintf(path, sizeof path, "/v1/tunnels/%s", id);
  int status = client_request(c, "DELETE", path, NULL, &reply, err,
                              sizeof err);
  if (status != 204 && status != 404)
    fprintf(stderr, "weft tunnel: could not delete tunnel %s on the server: "
                    "%s\n",
            id, status ? "unexpected answer" : err);
  json_decref(reply);
}

/* Asks the server for the tunnel, then its transport to carry it. Returns
 * an exit code. */
static int open_tunnel(struct plugin_registry *reg, struct session *s,
                       struct client *c, const struct tunnel_request *t)
{
  struct plugin *p = plugin_registry_find(reg, t->transport);
  if (!p || !p->initialized) {
    fprintf(stderr, "weft tunnel: transport '%s' is not available\n",
            t->transport);
    return EXIT_TRANSPORT;
  }
  if (s->count == sizeof s->tunnels / sizeof s->tunnels[0]) {
    fprintf(stderr, "weft tunnel: too many tunnels in one process\n");
    return EXIT_USAGE;
  }
  const char *label = t->name ? t->name : t->local_text;
  json_t *body = json_pack("{s:s,s:s}", "transport", t->transport, "local",
                           t->local_text);
  if (t->remote_text)
    json_object_set_new(body, "remote", json_string(t->remote_text));
  if (t->name)
    json_object_set_new(body, "name", json_string(t->name));
  json_t *reply;
  char err[1024];
  int status = client_request(c, "POST", "/v1/tunnels", body, &reply,
                              err, sizeof err);
  json_decref(body);
  if (status != 201) {
    if (status)
      client_error_text(reply, status, err, sizeof err);
    const char *code = json_string_value(
        json_object_get(json_object_get(reply, "error"), "code"));
    bool transport = code && (!strcmp(code, "transport_not_built") ||
                              !strcmp(code, "unknown_transport"));
    fprintf(stderr, "weft tunnel: %s: the server did not open the tunnel: %s\n",
            label, err);
    json_decref(reply);
    return transport ? EXIT_TRANSPORT : EXIT_RUNTIME;
  }
  struct open_tunnel *ot = &s->tunnels[s->count];
  memset(ot, 0, sizeof *ot);
  snprintf(ot->id, sizeof ot->id, "%s",
           json_string_value(json_object_get(reply, "id")));
  snprintf(ot->public_url, sizeof ot->public_url, "%s",
           json_string_value(json_object_get(reply, "public_url")));
  ot->plugin = p;
  ot->client = c;

  /* The transport's parameters, as the server's side of it handed them. */
  struct weft_kv params[32];
  size_t nparams = 0;
  const char *key;
  json_t *value;
  json_object_foreach(json_object_get(reply, "params"), key, value)
  {
    if (nparams < 32 && json_is_string(value))
      params[nparams++] = (struct weft_kv){key, json_string_value(value)};
  }
  struct weft_tunnel_info info = {
      .struct_size = sizeof info,
      .id = ot->id,
      .name = t->name,
      .device_id = c->device_id,
      .local_url = t->local_text,
      .remote_url = t->remote_text,
      .tunnel_config = t->plugin_config,
      .params = params,
      .param_count = nparams,
      .server_host = c->server.host,
      .server_port = c->server.port,
      .token = json_string_value(json_object_get(reply, "token")),
      .server_cert_sha256 = c->cert_sha256[0] ? c->cert_sha256 : NULL,
  };
  int rc = p->desc.client_tunnel_open(p->ctx, &info, &ot->plugin_ctx);
  json_decref(reply);
  if (rc != 0) {
    fprintf(stderr, "weft tunnel: %s: the %s transport could not carry it: "
                    "%s\n",
            label, t->transport, weft_strerror(rc));
    delete_on_server(c, ot->id);
    return rc == WEFT_ENOTBUILT ? EXIT_TRANSPORT : EXIT_RUNTIME;
  }
  s->count++;
  printf("%s: %s is reachable at %s\n", label, t->local_text, ot->public_url);
  fflush(stdout);
  return EXIT_OK;
}

static void close_all(struct session *s)
{
  for (size_t i = s->count; i-- > 0;) {
    struct open_tunnel *ot = &s->tunnels[i];
    ot->plugin->desc.client_tunnel_close(ot->plugin->ctx, ot->plugin_ctx);
    delete_on_server(ot->client, ot->id);
    printf("tunnel %s deleted\n", ot->id);
  }
  s->count = 0;
}

static void on_stop_signal(uv_signal_t *sig, int signum)
{
  (void)signum;
  struct session *s = sig->data;
  if (s->stopping)
    return;
  s->stopping = true;
  close_all(s);
  uv_close((uv_handle_t *)&s->sigint, NULL);
  uv_close((uv_handle_t *)&s->sigterm, NULL);
  uv_close((uv_handle_t *)&s->refresh, NULL);
}

/* Keeps the session JWT fresh so later requests (and Ctrl-C's deletes)
 * never meet an expired one. */
static void refresh_session(uv_timer_t *timer)
{
  struct session *s = timer->data;
  char err[512];
  for (size_t i = 0; i < s->client_count; i++)
    if (client_ensure_session(&s->clients[i], err, sizeof err) != 0)
      log_warn("session refresh (%s): %s", s->clients[i].device_id, err);
}

static void run_until_stopped(struct session *s, uv_loop_t *loop)
{
  uv_signal_init(loop, &s->sigint);
  uv_signal_init(loop, &s->sigterm);
  uv_timer_init(loop, &s->refresh);
  s->sigint.data = s->sigterm.data = s->refresh.data = s;
  uv_signal_start(&s->sigint, on_stop_signal, SIGINT);
  uv_signal_start(&s->sigterm, on_stop_signal, SIGTERM);
  uv_timer_start(&s->refresh, refresh_session, 60000, 60000);
  printf("Press Ctrl-C to close the tunnel%s.\n", s->count > 1 ? "s" : "");
  fflush(stdout);
  uv_run(loop, UV_RUN_DEFAULT);
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
               struct session *s, const struct tunnel_request *cli)
{
  /* Everything that can be checked here is, before the server is asked. */
  if (cli) {
    int code = check_cli_tunnel(reg, cli);
    if (code != EXIT_OK)
      return code;
  } else if (conf->tunnel_count == 0) {
    fprintf(stderr, "weft tunnel: %s has no [tunnel \"NAME\"] section\n",
            conf->path);
    return EXIT_CONFIG;
  }
  char err[1024];
  if (cli) {
    if (client_ensure_session(&s->clients[0], err, sizeof err) != 0) {
      fprintf(stderr, "weft tunnel: %s\n", err);
      return EXIT_RUNTIME;
    }
    return open_tunnel(reg, s, &s->clients[0], cli);
  }
  if (conf->tunnel_count > MAX_TUNNELS) {
    fprintf(stderr, "weft tunnel: %s has more than %d tunnels\n", conf->path,
            MAX_TUNNELS);
    return EXIT_CONFIG;
  }
  /* Each tunnel is its own device (device_id =, or BASE.NAME): a device
   * holds one live tunnel. */
  const struct client *base = &s->clients[0];
  int worst = EXIT_OK;
  for (size_t i = 0; i < conf->tunnel_count; i++) {
    const struct conf_tunnel *t = &conf->tunnels[i];
    char device[64];
    if (t->device_id)
      snprintf(device, sizeof device, "%s", t->device_id);
    else {
      int room = 62 - (int)strlen(t->name); /* the id is at most 63 */
      snprintf(device, sizeof device, "%.*s.%s", room > 1 ? room : 1,
               base->device_id, t->name);
    }
    struct client *c = &s->clients[i];
    if (i > 0 && client_init(c, &base->server, device, err, sizeof err) != 0) {
      fprintf(stderr, "weft tunnel: %s\n", err);
      return EXIT_USAGE;
    }
    if (i == 0)
      snprintf(c->device_id, sizeof c->device_id, "%s", device);
    s->client_count = i + 1;
    if (client_ensure_session(c, err, sizeof err) != 0) {
      fprintf(stderr, "weft tunnel: tunnel \"%s\": %s\n", t->name, err);
      worst = EXIT_RUNTIME;
      continue;
    }
    struct tunnel_request req = {
        .name = t->name,
        .transport = t->transport,
        .local_text = t->local_text,
        .remote_text = t->remote_text,
        .plugin_config = t->plugin_config,
    };
    int code = open_tunnel(reg, s, c, &req);
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
      {"device-id", required_argument, NULL, OPT_DEVICE_ID},
      {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *transport = NULL, *config_path = NULL, *plugin_dir = NULL;
  const char *device_id = NULL;
  bool verbose = false;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":t:c:vh", longopts, NULL)) != -1) {
    switch (c) {
    case 't': transport = optarg; break;
    case 'c': config_path = optarg; break;
    case OPT_PLUGIN_DIR: plugin_dir = optarg; break;
    case OPT_DEVICE_ID: device_id = optarg; break;
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
  if (config_path ? positional != 1 : (positional < 2 || positional > 3)) {
    fprintf(stderr,
            "weft tunnel: expected weft://SECRET@HOST LOCAL_URL [REMOTE_URL], "
            "or --config FILE weft://SECRET@HOST; see weft tunnel --help\n");
    return EXIT_USAGE;
  }
  if (config_path && transport) {
    fprintf(stderr, "weft tunnel: with --config, each tunnel names its "
                    "transport in the file; drop --transport\n");
    return EXIT_USAGE;
  }
  struct conn_url srv;
  char why[URL_MAX_TEXT + 256];
  if (conn_url_parse(argv[optind], &srv, why, sizeof why) != 0) {
    fprintf(stderr, "weft tunnel: %s\n", why);
    return EXIT_USAGE;
  }
  char default_id[64];
  client_default_device_id(default_id, sizeof default_id);
  struct session *session = calloc(1, sizeof *session);
  if (session)
    session->client_count = 1;
  if (!session || client_init(&session->clients[0], &srv,
                              device_id ? device_id : default_id, why,
                              sizeof why) != 0) {
    fprintf(stderr, "weft tunnel: %s\n", session ? why : "out of memory");
    free(session);
    return EXIT_USAGE;
  }
  log_set_level(verbose ? WEFT_LOG_DEBUG : WEFT_LOG_INFO);

  struct cli_env env;
  int code = cli_env_open(&env, plugin_dir, config_path);
  plugin_registry_set_renewer(&env.reg, renew_token, session);
  struct tunnel_request cli = {
      .transport = transport ? transport : DEFAULT_TRANSPORT,
      .local_text = config_path ? NULL : argv[optind + 1],
      .remote_text = (!config_path && positional == 3) ? argv[optind + 2] : NULL,
  };
  if (code == EXIT_OK) {
    code = run(&env.reg, env.conf, session, config_path ? NULL : &cli);
    if (session->count > 0) {
      run_until_stopped(session, &env.loop);
      close_all(session);
    }
  }
  code = cli_env_close(&env, code);
  for (size_t i = 0; i < session->client_count; i++)
    client_free(&session->clients[i]);
  free(session);
  return code;
}
