#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "agent/api_client.h"
#include "base/log.h"
#include "auth/secret.h"
#include "auth/crypto.h"
#include "base/url.h"
#include "agent/approval_wait.h"
#include "cli.h"
#include "cli_env.h"
#include "agent/tunnel_status.h"

enum { OPT_PLUGIN_DIR = 256, OPT_DEVICE_ID, OPT_ONLY, OPT_CONNECT_FILE,
       OPT_RUN_DIR, OPT_AWAIT_APPROVAL, OPT_REPLACE };

#define DEFAULT_TRANSPORT "websocket"

struct tunnel_request {
  const char *name;
  const char *transport;
  const char *local_text;
  const char *remote_text;
  const struct url *local;  /* the texts as checked, for the transport */
  const struct url *remote; /* NULL without remote_text */
  const void *plugin_config;
};

#define MAX_TUNNELS 64

/* A tunnel the server created for us (or a standalone one) and the
 * transport carrying it. */
struct open_tunnel {
  char id[64];
  char public_url[URL_MAX_TEXT + 300];
  struct plugin *plugin;
  void *plugin_ctx;
  struct client *client; /* the device it belongs to; NULL: standalone */
  struct tunnel_status status;
};

/* One client (one logged-in device) per tunnel from weft.conf, since a
 * device holds one live tunnel; the command line uses clients[0]. Clients
 * are set up on first use: standalone tunnels need none. */
struct session {
  struct conn_url server;
  bool has_server;
  char base_device[64];
  struct client clients[MAX_TUNNELS];
  bool client_ready[MAX_TUNNELS];
  struct open_tunnel tunnels[MAX_TUNNELS];
  size_t count;
  struct open_tunnel *opening; /* reports may come during client_tunnel_open */
  const char *run_dir;
  bool await_approval;   /* ask, and open only once an admin approves */
  bool replace;          /* end this device's live tunnel first */
  bool status_warned;
  uv_signal_t sigint, sigterm;
  uv_timer_t refresh;
  bool stopping;
};

static void save_status(struct session *s, struct open_tunnel *ot)
{
  if (tunnel_status_write(s->run_dir, &ot->status) != 0 && !s->status_warned) {
    s->status_warned = true;
    log_warn("cannot write tunnel status under %s/tunnels: weft tunnel "
             "status will not show it",
             s->run_dir);
  }
}

/* host->tunnel_state: a transport's report on one of its tunnels. */
static void record_state(void *ctx, const char *tunnel_id,
                         const struct weft_tunnel_state *state)
{
  struct session *s = ctx;
  struct open_tunnel *ot = NULL;
  for (size_t i = 0; i < s->count; i++)
    if (!strcmp(s->tunnels[i].id, tunnel_id))
      ot = &s->tunnels[i];
  if (!ot && s->opening && !strcmp(s->opening->id, tunnel_id))
    ot = s->opening;
  if (!ot)
    return;
  tunnel_status_apply(&ot->status, state);
  save_status(s, ot);
}

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

static void add_device_param(void *ctx, const char *key, const char *value)
{
  if (key && value)
    json_object_set_new(ctx, key, json_string(value));
}

/* The device's session with the server for tunnel slot i, logged in on
 * first use. NULL with err if there is no server or it would not have us. */
static struct client *device_client(struct session *s, size_t i,
                                    const char *device, char *err, size_t len)
{
  if (!s->has_server) {
    snprintf(err, len, "it needs a weft server: give weft://SECRET@HOST or "
                       "--connect-file FILE");
    return NULL;
  }
  struct client *c = &s->clients[i];
  if (!s->client_ready[i]) {
    if (client_init(c, &s->server, device, err, len) != 0)
      return NULL;
    s->client_ready[i] = true;
  }
  return client_ensure_session(c, err, len) == 0 ? c : NULL;
}

/* Asks the server for the tunnel (unless its transport needs none), then
 * the transport to carry it. Returns an exit code. */
static int open_tunnel(struct plugin_registry *reg, struct session *s,
                       size_t slot, const char *device,
                       const struct tunnel_request *t)
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
  struct open_tunnel *ot = &s->tunnels[s->count];
  memset(ot, 0, sizeof *ot);
  ot->plugin = p;

  /* The transport's say first: parameters for its server side, or that the
   * tunnel needs no server at all. */
  json_t *device_params = json_object();
  void *plugin_ctx = NULL;
  int prc = 0;
  if (p->desc.client_tunnel_prepare) {
    struct weft_tunnel_info pre = {
        .struct_size = sizeof pre,
        .name = t->name,
        .device_id = device,
        .local_url = t->local_text,
        .remote_url = t->remote_text,
        .tunnel_config = t->plugin_config,
        .add_param = add_device_param,
        .param_ctx = device_params,
        .local_host = t->local->host,
        .local_port = t->local->port,
        .remote_host = t->remote ? t->remote->host : "",
        .remote_port = t->remote ? t->remote->port : 0,
    };
    prc = p->desc.client_tunnel_prepare(p->ctx, &pre, &plugin_ctx);
    if (prc < 0) {
      fprintf(stderr, "weft tunnel: %s: the %s transport cannot open it: %s\n",
              label, t->transport,
              p->binding.last_error[0] ? p->binding.last_error
                                       : weft_strerror(prc));
      json_decref(device_params);
      return prc == WEFT_ECONFIG ? EXIT_CONFIG : EXIT_RUNTIME;
    }
  }
  json_t *reply = NULL;
  char err[1024];
  if (prc == WEFT_STANDALONE) {
    snprintf(ot->id, sizeof ot->id, "%s", t->name ? t->name : "tunnel");
    snprintf(ot->public_url, sizeof ot->public_url, "%s",
             t->remote_text ? t->remote_text : "(on the bastion)");
  } else {
    struct client *c = device_client(s, slot, device, err, sizeof err);
    if (!c) {
      fprintf(stderr, "weft tunnel: %s: %s\n", label, err);
      if (plugin_ctx)
        p->desc.client_tunnel_close(p->ctx, plugin_ctx);
      json_decref(device_params);
      return s->has_server ? EXIT_RUNTIME : EXIT_USAGE;
    }
    ot->client = c;
    json_t *body = json_pack("{s:s,s:s}", "transport", t->transport, "local",
                             t->local_text);
    if (t->remote_text)
      json_object_set_new(body, "remote", json_string(t->remote_text));
    if (t->name)
      json_object_set_new(body, "name", json_string(t->name));
    if (json_object_size(device_params))
      json_object_set(body, "device_params", device_params);
    if (s->await_approval)
      json_object_set_new(body, "await_approval", json_true());
    if (s->replace)
      json_object_set_new(body, "replace", json_true());
    int status = client_request(c, "POST", "/v1/tunnels", body, &reply, err,
                                sizeof err);
    json_decref(body);
    if (status == 202) { /* the consent flow: an administrator decides */
      json_t *tunnel = approval_wait(c, reply, label, err, sizeof err);
      json_decref(reply);
      reply = tunnel;
      status = tunnel ? 201 : 403;
      if (!tunnel)
        reply = json_pack("{s:{s:s,s:s}}", "error", "code", "not_approved",
                          "message", err);
    }
    if (status != 201) {
      if (status)
        client_error_text(reply, status, err, sizeof err);
      const char *code = json_string_value(
          json_object_get(json_object_get(reply, "error"), "code"));
      bool transport = code && (!strcmp(code, "transport_not_built") ||
                                !strcmp(code, "unknown_transport"));
      fprintf(stderr,
              "weft tunnel: %s: the server did not open the tunnel: %s\n",
              label, err);
      json_decref(reply);
      json_decref(device_params);
      if (plugin_ctx)
        p->desc.client_tunnel_close(p->ctx, plugin_ctx);
      return transport ? EXIT_TRANSPORT : EXIT_RUNTIME;
    }
    snprintf(ot->id, sizeof ot->id, "%s",
             json_string_value(json_object_get(reply, "id")));
    snprintf(ot->public_url, sizeof ot->public_url, "%s",
             json_string_value(json_object_get(reply, "public_url")));
  }
  json_decref(device_params);

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
  struct client *c = ot->client;
  struct weft_tunnel_info info = {
      .struct_size = sizeof info,
      .id = ot->id,
      .name = t->name,
      .device_id = device,
      .local_url = t->local_text,
      .remote_url = t->remote_text,
      .tunnel_config = t->plugin_config,
      .params = params,
      .param_count = nparams,
      .server_host = c ? c->server.host : NULL,
      .server_port = c ? c->server.port : 0,
      .token = json_string_value(json_object_get(reply, "token")),
      .server_cert_sha256 = c && c->cert_sha256[0] ? c->cert_sha256 : NULL,
      .local_host = t->local->host,
      .local_port = t->local->port,
      .remote_host = t->remote ? t->remote->host : "",
      .remote_port = t->remote ? t->remote->port : 0,
  };
  struct tunnel_status *st = &ot->status;
  memcpy(st->label, t->name ? t->name : ot->id,
         strnlen(t->name ? t->name : ot->id, sizeof st->label - 1));
  memcpy(st->id, ot->id, sizeof st->id);
  snprintf(st->transport, sizeof st->transport, "%s", t->transport);
  snprintf(st->local, sizeof st->local, "%s", t->local_text);
  memcpy(st->public_url, ot->public_url,
         strnlen(ot->public_url, sizeof st->public_url - 1));
  tunnel_status_apply(st, &(struct weft_tunnel_state){
                              .struct_size = sizeof(struct weft_tunnel_state),
                              .phase = WEFT_TUNNEL_CONNECTING});
  s->opening = ot;
  ot->plugin_ctx = plugin_ctx;
  int rc = p->desc.client_tunnel_open(p->ctx, &info, &ot->plugin_ctx);
  s->opening = NULL;
  json_decref(reply);
  if (rc != 0) {
    fprintf(stderr, "weft tunnel: %s: the %s transport could not carry it: "
                    "%s\n",
            label, t->transport, weft_strerror(rc));
    if (c)
      delete_on_server(c, ot->id);
    return rc == WEFT_ENOTBUILT ? EXIT_TRANSPORT : EXIT_RUNTIME;
  }
  s->count++;
  save_status(s, ot);
  if (c)
    printf("%s: %s is reachable at %s\n", label, t->local_text,
           ot->public_url);
  else
    printf("%s: %s is carried by the %s transport, without a weft server\n",
           label, t->local_text, t->transport);
  fflush(stdout);
  return EXIT_OK;
}

static void close_all(struct session *s)
{
  for (size_t i = s->count; i-- > 0;) {
    struct open_tunnel *ot = &s->tunnels[i];
    ot->plugin->desc.client_tunnel_close(ot->plugin->ctx, ot->plugin_ctx);
    tunnel_status_remove(s->run_dir, ot->status.label);
    if (ot->client) {
      delete_on_server(ot->client, ot->id);
      printf("tunnel %s deleted\n", ot->id);
    } else {
      printf("tunnel %s closed\n", ot->id);
    }
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
  for (size_t i = 0; i < MAX_TUNNELS; i++)
    if (s->client_ready[i] &&
        client_ensure_session(&s->clients[i], err, sizeof err) != 0)
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

/* Checks the command line's tunnel; on success t->local (and t->remote)
 * point at local and remote, parsed. */
static int check_cli_tunnel(struct plugin_registry *reg,
                            struct tunnel_request *t, struct url *local,
                            struct url *remote)
{
  char why[URL_MAX_TEXT + 256];
  if (url_parse(t->local_text, local, why, sizeof why) != 0) {
    fprintf(stderr, "weft tunnel: LOCAL_URL: %s\n", why);
    return EXIT_USAGE;
  }
  if (t->remote_text && url_parse(t->remote_text, remote, why, sizeof why)) {
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
  if (tunnel_spec_check(local, t->remote_text ? remote : NULL, p, why,
                        sizeof why) != 0) {
    fprintf(stderr, "weft tunnel: %s\n", why);
    return EXIT_USAGE;
  }
  t->local = local;
  t->remote = t->remote_text ? remote : NULL;
  return EXIT_OK;
}

/* Each tunnel of a weft.conf is its own device (device_id =, or
 * BASE.NAME): a device holds one live tunnel. */
static void config_device_id(const struct session *s,
                             const struct conf_tunnel *t, char *out,
                             size_t len)
{
  if (t->device_id) {
    snprintf(out, len, "%s", t->device_id);
    return;
  }
  int room = 62 - (int)strlen(t->name); /* the id is at most 63 */
  snprintf(out, len, "%.*s.%s", room > 1 ? room : 1, s->base_device,
           t->name);
}

static int run(struct plugin_registry *reg, const struct conf *conf,
               struct session *s, struct tunnel_request *cli,
               const char *only)
{
  /* Everything that can be checked here is, before the server is asked. */
  if (cli) {
    struct url local, remote;
    int code = check_cli_tunnel(reg, cli, &local, &remote);
    if (code != EXIT_OK)
      return code;
    return open_tunnel(reg, s, 0, s->base_device, cli);
  }
  if (conf->tunnel_count == 0) {
    fprintf(stderr, "weft tunnel: %s has no [tunnel \"NAME\"] section\n",
            conf->path);
    return EXIT_CONFIG;
  }
  if (conf->tunnel_count > MAX_TUNNELS) {
    fprintf(stderr, "weft tunnel: %s has more than %d tunnels\n", conf->path,
            MAX_TUNNELS);
    return EXIT_CONFIG;
  }
  bool found = false;
  int worst = EXIT_OK;
  for (size_t i = 0; i < conf->tunnel_count; i++) {
    const struct conf_tunnel *t = &conf->tunnels[i];
    if (only && strcmp(only, t->name))
      continue;
    found = true;
    char device[64];
    config_device_id(s, t, device, sizeof device);
    struct tunnel_request req = {
        .name = t->name,
        .transport = t->transport,
        .local_text = t->local_text,
        .remote_text = t->remote_text,
        .local = &t->local,
        .remote = t->has_remote ? &t->remote : NULL,
        .plugin_config = t->plugin_config,
    };
    int code = open_tunnel(reg, s, i, device, &req);
    if (code != EXIT_OK)
      worst = code;
  }
  if (!found) {
    fprintf(stderr, "weft tunnel: %s has no [tunnel \"%s\"] section\n",
            conf->path, only);
    return EXIT_USAGE;
  }
  return worst;
}

/* The connection string from a file (as weft server --secret-file writes
 * it), so that it appears in no process list. */
static int read_connect_file(const char *path, char *out, size_t len)
{
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "weft tunnel: --connect-file %s: %s\n", path,
            strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0077))
    fprintf(stderr, "weft tunnel: warning: %s is readable by other users; "
                    "chmod 600 it\n",
            path);
  bool ok = fgets(out, (int)len, f) != NULL;
  fclose(f);
  out[ok ? strcspn(out, " \t\r\n") : 0] = '\0';
  if (!*out) {
    fprintf(stderr, "weft tunnel: --connect-file %s: no weft://SECRET@HOST "
                    "on its first line\n",
            path);
    return -1;
  }
  return 0;
}

int cmd_tunnel(int argc, char **argv)
{
  if (argc > 1 && !strcmp(argv[1], "status"))
    return cmd_tunnel_status(argc - 1, argv + 1);
  static const struct option longopts[] = {
      {"transport", required_argument, NULL, 't'},
      {"config", required_argument, NULL, 'c'},
      {"only", required_argument, NULL, OPT_ONLY},
      {"connect-file", required_argument, NULL, OPT_CONNECT_FILE},
      {"run-dir", required_argument, NULL, OPT_RUN_DIR},
      {"plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR},
      {"device-id", required_argument, NULL, OPT_DEVICE_ID},
      {"await-approval", no_argument, NULL, OPT_AWAIT_APPROVAL},
      {"replace", no_argument, NULL, OPT_REPLACE},
      {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *transport = NULL, *config_path = NULL, *plugin_dir = NULL;
  const char *device_id = NULL, *only = NULL, *connect_file = NULL;
  const char *run_dir = NULL;
  bool verbose = false, await_approval = false, replace = false;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":t:c:vh", longopts, NULL)) != -1) {
    switch (c) {
    case 't': transport = optarg; break;
    case 'c': config_path = optarg; break;
    case OPT_ONLY: only = optarg; break;
    case OPT_CONNECT_FILE: connect_file = optarg; break;
    case OPT_RUN_DIR: run_dir = optarg; break;
    case OPT_PLUGIN_DIR: plugin_dir = optarg; break;
    case OPT_DEVICE_ID: device_id = optarg; break;
    case OPT_AWAIT_APPROVAL: await_approval = true; break;
    case OPT_REPLACE: replace = true; break;
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
  /* The connection string: first positional, or --connect-file; with
   * --config it may be absent when every tunnel is standalone. */
  int positional = argc - optind;
  int server_args = connect_file ? 0 : 1;
  bool shape_ok = config_path ? positional <= server_args
                              : positional >= server_args + 1 &&
                                    positional <= server_args + 2;
  if (!shape_ok) {
    fprintf(stderr,
            "weft tunnel: expected weft://SECRET@HOST LOCAL_URL [REMOTE_URL], "
            "or --config FILE [weft://SECRET@HOST]; see weft tunnel --help\n");
    return EXIT_USAGE;
  }
  if (config_path && transport) {
    fprintf(stderr, "weft tunnel: with --config, each tunnel names its "
                    "transport in the file; drop --transport\n");
    return EXIT_USAGE;
  }
  if (only && !config_path) {
    fprintf(stderr, "weft tunnel: --only picks a tunnel of --config FILE\n");
    return EXIT_USAGE;
  }
  struct session *session = calloc(1, sizeof *session);
  if (!session) {
    fprintf(stderr, "weft tunnel: out of memory\n");
    return EXIT_RUNTIME;
  }
  char connect_text[URL_MAX_TEXT + 1];
  const char *connect = NULL;
  if (connect_file) {
    if (read_connect_file(connect_file, connect_text, sizeof connect_text)) {
      free(session);
      return EXIT_USAGE;
    }
    connect = connect_text;
  } else if (positional > 0) { /* without --connect-file: the URL */
    connect = argv[optind++];
  }
  char why[URL_MAX_TEXT + 256];
  if (connect) {
    if (conn_url_parse(connect, &session->server, why, sizeof why) != 0) {
      fprintf(stderr, "weft tunnel: %s\n", why);
      free(session);
      return EXIT_USAGE;
    }
    struct secret check;
    if (secret_from_text(session->server.secret, &check) != 0) {
      fprintf(stderr, "weft tunnel: the secret in the connection string is "
                      "not the %d characters weft server printed\n",
              SECRET_TEXT_LEN);
      free(session);
      return EXIT_USAGE;
    }
    crypto_wipe(&check, sizeof check);
    session->has_server = true;
  }
  if (device_id)
    snprintf(session->base_device, sizeof session->base_device, "%s",
             device_id);
  else
    client_default_device_id(session->base_device,
                             sizeof session->base_device);
  session->run_dir = run_dir ? run_dir : run_dir_default();
  session->await_approval = await_approval;
  session->replace = replace;
  log_set_level(verbose ? WEFT_LOG_DEBUG : WEFT_LOG_INFO);

  struct cli_env env;
  int code = cli_env_open(&env, plugin_dir, config_path, session->run_dir);
  plugin_registry_set_renewer(&env.reg, renew_token, session);
  plugin_registry_set_state_recorder(&env.reg, record_state, session);
  struct tunnel_request cli = {
      .transport = transport ? transport : DEFAULT_TRANSPORT,
      .local_text = config_path ? NULL : argv[optind],
      .remote_text =
          (!config_path && optind + 1 < argc) ? argv[optind + 1] : NULL,
  };
  if (code == EXIT_OK) {
    code = run(&env.reg, env.conf, session, config_path ? NULL : &cli, only);
    if (session->count > 0) {
      run_until_stopped(session, &env.loop);
      close_all(session);
    }
  }
  code = cli_env_close(&env, code);
  for (size_t i = 0; i < MAX_TUNNELS; i++)
    if (session->client_ready[i])
      client_free(&session->clients[i]);
  free(session);
  return code;
}
