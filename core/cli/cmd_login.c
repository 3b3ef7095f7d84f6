#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agent/api_client.h"
#include "agent/device_identity.h"
#include "cli/cli.h"

enum { OPT_DEVICE_ID = 256, OPT_STATE_DIR };

/* Logs in and prints the session token, for scripts and curl:
 *   curl -H "Authorization: Bearer $(weft login weft://S@host)" ... */
int cmd_login(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"device-id", required_argument, NULL, OPT_DEVICE_ID},
      {"state-dir", required_argument, NULL, OPT_STATE_DIR},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *device_id = NULL, *state_dir = NULL;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    switch (c) {
    case OPT_DEVICE_ID: device_id = optarg; break;
    case OPT_STATE_DIR: state_dir = optarg; break;
    case 'h': cli_print_usage("login"); return EXIT_OK;
    case ':':
      fprintf(stderr, "weft login: %s needs a value\n", argv[optind - 1]);
      return EXIT_USAGE;
    default:
      fprintf(stderr, "weft login: unknown option '%s'\n", argv[optind - 1]);
      return EXIT_USAGE;
    }
  }
  if (argc - optind != 1) {
    fprintf(stderr, "weft login: expected weft://SECRET@HOST[:PORT]\n");
    return EXIT_USAGE;
  }
  struct conn_url srv;
  char err[1024], default_id[64];
  if (conn_url_parse(argv[optind], &srv, err, sizeof err) != 0) {
    fprintf(stderr, "weft login: %s\n", err);
    return EXIT_USAGE;
  }
  client_default_device_id(default_id, sizeof default_id);
  struct client client;
  if (client_init(&client, &srv, device_id ? device_id : default_id, err,
                  sizeof err) != 0) {
    fprintf(stderr, "weft login: %s\n", err);
    return EXIT_USAGE;
  }
  /* A device that has its key here signs with it, as its agent does. */
  int keyed = agent_device_key_if_any(
      state_dir ? state_dir : agent_state_dir_default(), client.device_id,
      &client.key, err, sizeof err);
  if (keyed < 0) {
    fprintf(stderr, "weft login: %s\n", err);
    client_free(&client);
    return EXIT_CONFIG;
  }
  client.has_key = keyed == 1;
  int code = EXIT_OK;
  if (client_ensure_session(&client, err, sizeof err) != 0) {
    fprintf(stderr, "weft login: %s\n", err);
    code = EXIT_RUNTIME;
  } else {
    printf("%s\n", client.session);
  }
  client_free(&client);
  return code;
}
