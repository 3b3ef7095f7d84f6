/* `weft user`: people who call the control API with a key.
 *   weft user add NAME --role admin|operator|viewer   prints the key once
 *   weft user list
 *   weft user remove NAME
 *   weft user rotate NAME                             a new key, printed
 *                                                     once; the old one stops
 * Like weft admin, through the local administration socket on the server's
 * host, or a connection string first (cli/admin_conn.h). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/admin_conn.h"
#include "cli/cli.h"

enum { OPT_ROLE = 256, OPT_STATE_DIR, OPT_SOCKET, OPT_DEVICE_ID };

static void print_key(const json_t *reply, const char *what)
{
  printf("%s %s: API key (shown this once; the server keeps only its hash)\n"
         "%s\n",
         what, json_string_value(json_object_get(reply, "name")),
         json_string_value(json_object_get(reply, "api_key")));
}

static int run(struct client *c, const char *role, int argc, char **argv)
{
  const char *what = argc ? argv[0] : "";
  bool named = !strcmp(what, "add") || !strcmp(what, "remove") ||
               !strcmp(what, "rotate");
  if ((named && argc != 2) || (!named && (strcmp(what, "list") || argc != 1))) {
    fprintf(stderr, "weft user: expected add NAME --role ROLE, list, remove "
                    "NAME or rotate NAME\n");
    return EXIT_USAGE;
  }
  if (named && (strlen(argv[1]) > 63 || strpbrk(argv[1], "/?#%"))) {
    fprintf(stderr, "weft user: '%s' is not a user name\n", argv[1]);
    return EXIT_USAGE;
  }
  if (!strcmp(what, "add") && !role) {
    fprintf(stderr, "weft user add: give --role admin, operator or viewer\n");
    return EXIT_USAGE;
  }
  char path[128];
  json_t *body = NULL, *reply = NULL;
  const char *method = "GET";
  snprintf(path, sizeof path, "/v1/users");
  if (!strcmp(what, "add")) {
    method = "POST";
    body = json_pack("{s:s,s:s}", "name", argv[1], "role", role);
  } else if (!strcmp(what, "remove")) {
    method = "DELETE";
    snprintf(path, sizeof path, "/v1/users/%s", argv[1]);
  } else if (!strcmp(what, "rotate")) {
    method = "POST";
    snprintf(path, sizeof path, "/v1/users/%s/key", argv[1]);
  }
  int status = admin_request("user", c, method, path, body, &reply);
  json_decref(body);
  if (status < 200 || status > 299) {
    json_decref(reply);
    return status == 400 ? EXIT_USAGE : EXIT_RUNTIME;
  }
  if (!strcmp(what, "add")) {
    print_key(reply, "user");
  } else if (!strcmp(what, "rotate")) {
    print_key(reply, "new key for");
  } else if (!strcmp(what, "remove")) {
    printf("user %s removed; their key no longer works\n", argv[1]);
  } else {
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(reply, "users"), i, u)
    {
      time_t made = (time_t)json_integer_value(json_object_get(u, "key_made_at"));
      char when[32];
      strftime(when, sizeof when, "%Y-%m-%d %H:%M", gmtime(&made));
      printf("%-24s %-9s key %s (made %s UTC)\n",
             json_string_value(json_object_get(u, "name")),
             json_string_value(json_object_get(u, "role")),
             json_string_value(json_object_get(u, "key_id")), when);
    }
  }
  json_decref(reply);
  return EXIT_OK;
}

int cmd_user(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"role", required_argument, NULL, OPT_ROLE},
      {"state-dir", required_argument, NULL, OPT_STATE_DIR},
      {"socket", required_argument, NULL, OPT_SOCKET},
      {"device-id", required_argument, NULL, OPT_DEVICE_ID},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct admin_conn how = {0};
  const char *role = NULL;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    switch (c) {
    case OPT_ROLE: role = optarg; break;
    case OPT_STATE_DIR: how.state_dir = optarg; break;
    case OPT_SOCKET: how.socket = optarg; break;
    case OPT_DEVICE_ID: how.device_id = optarg; break;
    case 'h': cli_print_usage("user"); return EXIT_OK;
    case ':':
      fprintf(stderr, "weft user: %s needs a value\n", argv[optind - 1]);
      return EXIT_USAGE;
    default:
      fprintf(stderr, "weft user: unknown option '%s'\n", argv[optind - 1]);
      return EXIT_USAGE;
    }
  }
  int left = argc - optind;
  char **args = argv + optind;
  struct client client;
  int code = admin_connect("user", &how, &left, &args, &client);
  if (code != EXIT_OK)
    return code;
  code = run(&client, role, left, args);
  client_free(&client);
  return code;
}
