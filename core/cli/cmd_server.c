#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "plugin/options.h"
#include "server/server.h"
#include "cli/cli.h"

enum {
  OPT_SECRET_PER_IP = 256,
  OPT_SECRET_FILE,
  OPT_EMAIL,
  OPT_STATE_DIR,
  OPT_PLUGIN_DIR,
  OPT_HTTP_LISTEN,
  OPT_TLS_LISTEN,
  OPT_LOG_FORMAT,
  OPT_OTEL,
};

int cmd_server(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"config", required_argument, NULL, 'c'},
      {"bind-ips", required_argument, NULL, 'b'},
      {"port", required_argument, NULL, 'p'},
      {"use-secret-per-ip", no_argument, NULL, OPT_SECRET_PER_IP},
      {"secret-file", required_argument, NULL, OPT_SECRET_FILE},
      {"email", required_argument, NULL, OPT_EMAIL},
      {"state-dir", required_argument, NULL, OPT_STATE_DIR},
      {"plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR},
      {"http-listen", required_argument, NULL, OPT_HTTP_LISTEN},
      {"tls-listen", required_argument, NULL, OPT_TLS_LISTEN},
      {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
      {"opentelemetry-connection-string", required_argument, NULL,
       OPT_OTEL},
      {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct server_options opts = {0};
  int c;
  char why[256];
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":c:b:p:vh", longopts, NULL)) != -1) {
    switch (c) {
    case 'c': opts.config_path = optarg; break;
    case 'b': opts.bind_ips = optarg; break;
    case 'p': {
      int64_t port;
      if (parse_int(optarg, 1, 65535, &port, why, sizeof why) != 0) {
        fprintf(stderr, "weft server: --port: %s\n", why);
        return EXIT_USAGE;
      }
      opts.port = (uint16_t)port;
      break;
    }
    case OPT_SECRET_PER_IP: opts.use_secret_per_ip = true; break;
    case OPT_SECRET_FILE: opts.secret_file = optarg; break;
    case OPT_EMAIL: opts.email = optarg; break;
    case OPT_STATE_DIR: opts.state_dir = optarg; break;
    case OPT_PLUGIN_DIR: opts.plugin_dir = optarg; break;
    case OPT_HTTP_LISTEN: opts.http_listen = optarg; break;
    case OPT_TLS_LISTEN: opts.tls_listen = optarg; break;
    case OPT_OTEL: opts.otel = optarg; break;
    case OPT_LOG_FORMAT:
      if (log_format_parse(optarg, &(enum log_format){0}) != 0) {
        fprintf(stderr, "weft server: --log-format '%s': give text or "
                        "json\n",
                optarg);
        return EXIT_USAGE;
      }
      opts.log_format = optarg;
      break;
    case 'v': opts.verbose = true; break;
    case 'h': cli_print_usage("server"); return EXIT_OK;
    case ':':
      fprintf(stderr, "weft server: %s needs a value\n", argv[optind - 1]);
      return EXIT_USAGE;
    default:
      fprintf(stderr, "weft server: unknown option '%s'; see weft server "
                      "--help\n",
              argv[optind - 1]);
      return EXIT_USAGE;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "weft server: unexpected argument '%s'\n", argv[optind]);
    return EXIT_USAGE;
  }
  if (opts.email && !strchr(opts.email, '@')) {
    fprintf(stderr, "weft server: --email '%s' is not an email address\n",
            opts.email);
    return EXIT_USAGE;
  }
  return server_main(&opts);
}
