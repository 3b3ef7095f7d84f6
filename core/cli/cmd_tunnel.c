#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "agent/agent.h"
#include "agent/agent_metrics.h"
#include "agent/device_identity.h"
#include "auth/crypto.h"
#include "auth/enrollment.h"
#include "auth/secret.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/names.h"
#include "base/url.h"
#include "net/cert_pair.h"
#include "telemetry/otlp.h"
#include "cli/cli.h"
#include "cli/cli_env.h"

enum { OPT_PLUGIN_DIR = 256, OPT_DEVICE_ID, OPT_ONLY, OPT_CONNECT_FILE,
       OPT_RUN_DIR, OPT_STATE_DIR, OPT_AWAIT_APPROVAL, OPT_REPLACE,
       OPT_ENROLL, OPT_LOG_FORMAT, OPT_TLS_SECRET, OPT_OTEL,
       OPT_METRICS_LISTEN };

#define DEFAULT_TRANSPORT "websocket"

/* Checks the command line's tunnel; on success t->local (and t->remote)
 * point at local and remote, parsed. */
static int check_cli_tunnel(struct plugin_registry *reg,
                            struct agent_tunnel_spec *t, struct url *local,
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

/* --tls-secret or tls_secret =: the shape, and the file, checked before
 * the server is asked (the server checks again). */
static int check_tls_secret(const struct agent_tunnel_spec *t)
{
  if (!t->tls_secret_path)
    return EXIT_OK;
  char why[1024];
  if (tls_secret_check(t->local, t->remote, why, sizeof why) != 0) {
    fprintf(stderr, "weft tunnel: %s: --tls-secret: %s\n",
            t->name ? t->name : t->local_text, why);
    return EXIT_USAGE;
  }
  char *pem = cert_pair_read_file(t->tls_secret_path, t->remote->host,
                                  clock_wall_s(), why, sizeof why);
  if (!pem) {
    fprintf(stderr, "weft tunnel: %s: --tls-secret %s\n",
            t->name ? t->name : t->local_text, why);
    return EXIT_USAGE;
  }
  free(pem);
  return EXIT_OK;
}

/* The tunnels of a weft.conf belong to this machine's device (--device-id,
 * or the host name), which may hold several, unless a section names its
 * own with device_id =. An id that is not plain is refused, never cut.
 * Returns false then. */
static bool config_device_id(const struct agent *s,
                             const struct conf_tunnel *t, char *out,
                             size_t len)
{
  int n = snprintf(out, len, "%s", t->device_id ? t->device_id
                                                 : s->base_device);
  if (n >= 0 && (size_t)n < len && name_is_plain(out, 63))
    return true;
  fprintf(stderr,
          "weft tunnel: [tunnel \"%s\"]: its device id is longer than 63 "
          "characters or has others than letters, digits, '.', '_' and '-'; "
          "give the section a device_id = of its own\n",
          t->name);
  return false;
}

static int run(struct plugin_registry *reg, const struct conf *conf,
               struct agent *s, struct agent_tunnel_spec *cli,
               const char *only)
{
  /* Everything that can be checked here is, before the server is asked. */
  if (cli) {
    struct url local, remote;
    int code = check_cli_tunnel(reg, cli, &local, &remote);
    if (code == EXIT_OK)
      code = check_tls_secret(cli);
    if (code != EXIT_OK)
      return code;
    return agent_open(s, reg, 0, s->base_device, cli);
  }
  if (conf->tunnel_count == 0) {
    fprintf(stderr, "weft tunnel: %s has no [tunnel \"NAME\"] section\n",
            conf->path);
    return EXIT_CONFIG;
  }
  if (conf->tunnel_count > AGENT_MAX_TUNNELS) {
    fprintf(stderr, "weft tunnel: %s has more than %d tunnels\n", conf->path,
            AGENT_MAX_TUNNELS);
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
    if (!config_device_id(s, t, device, sizeof device)) {
      worst = EXIT_CONFIG;
      continue;
    }
    struct agent_tunnel_spec req = {
        .name = t->name,
        .transport = t->transport,
        .local_text = t->local_text,
        .remote_text = t->remote_text,
        .local = &t->local,
        .remote = t->has_remote ? &t->remote : NULL,
        .plugin_config = t->plugin_config,
        .tls_secret_path = t->tls_secret,
    };
    if (check_tls_secret(&req) != EXIT_OK) {
      worst = EXIT_CONFIG;
      continue;
    }
    /* The sections of one device share its session (one login). */
    size_t slot = i;
    for (size_t k = 0; k < s->count; k++)
      if (!strcmp(s->tunnels[k].device, device)) {
        slot = s->tunnels[k].slot;
        break;
      }
    int code = agent_open(s, reg, slot, device, &req);
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

/* --enroll STRING: binds this device's key (made now if it has none) to
 * the id the string names, once, and keeps where its server is, so that
 * this run and later ones need no connection string. An exit code. */
static int enroll_device(struct agent *agent, const char *text,
                         const char *device_id)
{
  struct enrollment e;
  char err[1024];
  if (enrollment_parse(text, strlen(text), &e, err, sizeof err) != 0) {
    fprintf(stderr, "weft tunnel: --enroll: %s\n", err);
    return EXIT_USAGE;
  }
  if (device_id && strcmp(device_id, e.device_id)) {
    fprintf(stderr, "weft tunnel: the enrollment string is for device %s, "
                    "not %s\n",
            e.device_id, device_id);
    crypto_wipe(&e, sizeof e);
    return EXIT_USAGE;
  }
  snprintf(agent->base_device, sizeof agent->base_device, "%s", e.device_id);
  struct client c;
  int code = EXIT_OK;
  if (client_init_keyed(&c, &e, err, sizeof err) != 0) {
    fprintf(stderr, "weft tunnel: --enroll: %s\n", err);
    crypto_wipe(&e, sizeof e);
    return EXIT_USAGE;
  }
  if (agent_device_key(agent->state_dir, e.device_id, &c.key, err,
                       sizeof err) != 0 ||
      (c.has_key = true,
       client_enroll(&c, e.token, sizeof e.token, err, sizeof err) != 0) ||
      agent_save_server(agent->state_dir, &e, err, sizeof err) != 0) {
    fprintf(stderr, "weft tunnel: device %s: %s\n", e.device_id, err);
    code = EXIT_CONFIG;
  } else {
    char fp[DEVICE_KEY_FINGERPRINT_LEN];
    device_key_fingerprint(c.key.public_key, fp);
    fprintf(stderr, "weft tunnel: device %s enrolled with %s (its key %s); "
                    "from now on: weft tunnel --device-id %s LOCAL [REMOTE]\n",
            e.device_id, c.base_url, fp, e.device_id);
  }
  client_free(&c);
  crypto_wipe(&e, sizeof e);
  return code;
}

static void stop_metrics(void *arg) { agent_metrics_stop(arg); }

static void otel_metrics(void *arg, struct strbuf *out)
{
  agent_metrics_write(arg, out);
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
      {"state-dir", required_argument, NULL, OPT_STATE_DIR},
      {"plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR},
      {"device-id", required_argument, NULL, OPT_DEVICE_ID},
      {"await-approval", no_argument, NULL, OPT_AWAIT_APPROVAL},
      {"replace", no_argument, NULL, OPT_REPLACE},
      {"enroll", required_argument, NULL, OPT_ENROLL},
      {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
      {"tls-secret", required_argument, NULL, OPT_TLS_SECRET},
      {"opentelemetry-connection-string", required_argument, NULL,
       OPT_OTEL},
      {"metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN},
      {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  enum log_format log_format = LOG_FORMAT_TEXT;
  const char *transport = NULL, *config_path = NULL, *plugin_dir = NULL;
  const char *device_id = NULL, *only = NULL, *connect_file = NULL;
  const char *run_dir = NULL, *state_dir = NULL, *enroll = NULL;
  const char *tls_secret = NULL, *otel_text = NULL;
  const char *metrics_listen = NULL;
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
    case OPT_STATE_DIR: state_dir = optarg; break;
    case OPT_PLUGIN_DIR: plugin_dir = optarg; break;
    case OPT_DEVICE_ID: device_id = optarg; break;
    case OPT_AWAIT_APPROVAL: await_approval = true; break;
    case OPT_REPLACE: replace = true; break;
    case OPT_ENROLL: enroll = optarg; break;
    case OPT_TLS_SECRET: tls_secret = optarg; break;
    case OPT_OTEL: otel_text = optarg; break;
    case OPT_LOG_FORMAT:
      if (log_format_parse(optarg, &log_format) != 0) {
        fprintf(stderr, "weft tunnel: --log-format '%s': give text or "
                        "json\n",
                optarg);
        return EXIT_USAGE;
      }
      break;
    case OPT_METRICS_LISTEN: metrics_listen = optarg; break;
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
  /* An enrolled device names no server: its state directory knows it. */
  bool conn_arg = positional > 0 && !strncmp(argv[optind], "weft://", 7);
  int server_args = connect_file || !conn_arg ? 0 : 1;
  bool shape_ok = config_path ? positional <= server_args
                              : positional >= server_args + 1 &&
                                    positional <= server_args + 2;
  if (!shape_ok) {
    fprintf(stderr,
            "weft tunnel: expected weft://SECRET@HOST LOCAL_URL [REMOTE_URL], "
            "or --config FILE [weft://SECRET@HOST]; see weft tunnel --help\n");
    return EXIT_USAGE;
  }
  if (enroll && (conn_arg || connect_file)) {
    fprintf(stderr, "weft tunnel: --enroll names the server itself; drop "
                    "the connection string\n");
    return EXIT_USAGE;
  }
  if (config_path && transport) {
    fprintf(stderr, "weft tunnel: with --config, each tunnel names its "
                    "transport in the file; drop --transport\n");
    return EXIT_USAGE;
  }
  struct otlp_conf otel;
  char otel_err[512];
  if (otlp_conf_parse(otel_text, NULL, "weft-agent", &otel, otel_err,
                      sizeof otel_err) != 0) {
    fprintf(stderr, "weft tunnel: OpenTelemetry: %s\n", otel_err);
    return EXIT_CONFIG;
  }
  if (tls_secret && config_path) {
    fprintf(stderr, "weft tunnel: with --config, give a tunnel its TLS "
                    "secret in the file (tls_secret = FILE); drop "
                    "--tls-secret\n");
    return EXIT_USAGE;
  }
  if (only && !config_path) {
    fprintf(stderr, "weft tunnel: --only picks a tunnel of --config FILE\n");
    return EXIT_USAGE;
  }
  struct agent *agent = calloc(1, sizeof *agent);
  if (!agent) {
    fprintf(stderr, "weft tunnel: out of memory\n");
    return EXIT_RUNTIME;
  }
  char connect_text[URL_MAX_TEXT + 1];
  const char *connect = NULL;
  if (connect_file) {
    if (read_connect_file(connect_file, connect_text, sizeof connect_text)) {
      free(agent);
      return EXIT_USAGE;
    }
    connect = connect_text;
  } else if (conn_arg) { /* without --connect-file: the URL */
    connect = argv[optind++];
  }
  char why[URL_MAX_TEXT + 256];
  if (connect) {
    if (conn_url_parse(connect, &agent->server, why, sizeof why) != 0) {
      fprintf(stderr, "weft tunnel: %s\n", why);
      free(agent);
      return EXIT_USAGE;
    }
    struct secret check;
    if (secret_from_text(agent->server.secret, &check) != 0) {
      fprintf(stderr, "weft tunnel: the secret in the connection string is "
                      "not the %d characters weft server printed\n",
              SECRET_TEXT_LEN);
      free(agent);
      return EXIT_USAGE;
    }
    crypto_wipe(&check, sizeof check);
    agent->has_server = true;
  }
  if (device_id && !name_is_plain(device_id, sizeof agent->base_device - 1)) {
    fprintf(stderr, "weft tunnel: --device-id must be 1 to %zu letters, "
                    "digits, '.', '_' or '-' (it is refused, never cut)\n",
            sizeof agent->base_device - 1);
    free(agent);
    return EXIT_USAGE;
  }
  if (device_id)
    snprintf(agent->base_device, sizeof agent->base_device, "%s",
             device_id);
  else
    client_default_device_id(agent->base_device,
                             sizeof agent->base_device);
  agent->run_dir = run_dir ? run_dir : run_dir_default();
  agent->state_dir = state_dir ? state_dir : agent_state_dir_default();
  if (enroll) {
    int rc = enroll_device(agent, enroll, device_id);
    if (rc != EXIT_OK) {
      free(agent);
      return rc;
    }
  }
  agent->await_approval = await_approval;
  agent->replace = replace;
  log_set_level(verbose ? WEFT_LOG_DEBUG : WEFT_LOG_INFO);
  log_set_timestamps(1); /* like the server's: a daemon's log */
  log_set_format(log_format);
  log_detect_journal();

  struct cli_env env;
  int code = cli_env_open(&env, plugin_dir, config_path, agent->run_dir);
  agent_bind(agent, &env.reg);
  struct agent_tunnel_spec cli = {
      .transport = transport ? transport : DEFAULT_TRANSPORT,
      .local_text = config_path ? NULL : argv[optind],
      .remote_text =
          (!config_path && optind + 1 < argc) ? argv[optind + 1] : NULL,
      .tls_secret_path = tls_secret,
  };
  struct agent_metrics metrics = {0};
  if (code == EXIT_OK && metrics_listen) {
    char err[512];
    if (agent_metrics_start(&metrics, agent, &env.loop, metrics_listen, err,
                            sizeof err) != 0) {
      fprintf(stderr, "weft tunnel: %s\n", err);
      code = EXIT_USAGE;
    }
    agent->on_stop = stop_metrics;
    agent->on_stop_arg = &metrics;
  }
  /* OpenTelemetry: the tunnels' events, and with --metrics-listen the
   * same metrics a scrape gets */
  if (code == EXIT_OK && otel.enabled &&
      !(agent->otlp = otlp_start(&env.loop, &otel, "agent",
                                 metrics.listening ? otel_metrics : NULL,
                                 &metrics)))
    log_warn("OpenTelemetry: the exporter could not start (libcurl); "
             "running without it");
  if (code == EXIT_OK) {
    code = run(&env.reg, env.conf, agent, config_path ? NULL : &cli, only);
    if (agent->count > 0) {
      agent_run(agent, &env.loop);
      agent_close_all(agent);
      if (agent->exit_code != EXIT_OK)
        code = agent->exit_code;
    }
  }
  otlp_stop(agent->otlp); /* unless the agent's stop did: it flushes */
  agent->otlp = NULL;
  agent_metrics_stop(&metrics); /* if the agent never ran */
  code = cli_env_close(&env, code);
  agent_free(agent);
  return code;
}
