/* `weft admin`: an administrator's side of the control API, for the
 * consent flow and for ending tunnels:
 *   weft admin approvals         requests waiting for a decision
 *   weft admin approve|deny ID   decide on one
 *   weft admin tunnels           what is open
 *   weft admin end TUNNEL_ID     end a tunnel now
 *   weft admin devices           devices bound to keys
 *   weft admin revoke ID         end a device's tunnels, refuse it
 *   weft admin forget-key ID     free a device id from its key
 * On the server's host it goes through the local administration socket
 * (cli/admin_conn.h); with a connection string first (weft://...), it logs
 * in as --device-id (default "admin"), which [server] admins must list. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/admin_conn.h"
#include "cli/cli.h"

enum { OPT_DEVICE_ID = 256, OPT_STATE_DIR, OPT_SOCKET };

static void print_approval(const json_t *ap)
{
  const json_t *req = json_object_get(ap, "request");
  const char *kind = json_string_value(json_object_get(ap, "kind"));
  if (kind && !strcmp(kind, "enrollment")) {
    const char *from = json_string_value(json_object_get(ap, "from"));
    printf("%-18s %-9s %-20s enrollment: bind its key %s\n",
           json_string_value(json_object_get(ap, "id")),
           json_string_value(json_object_get(ap, "state")),
           json_string_value(json_object_get(ap, "device_id")),
           json_string_value(json_object_get(ap, "key_fingerprint")));
    printf("%-18s code %s, from %s\n", "",
           json_string_value(json_object_get(ap, "code")), from ? from : "-");
    return;
  }
  const char *remote = json_string_value(json_object_get(req, "remote"));
  const char *code = json_string_value(json_object_get(ap, "code"));
  const char *from = json_string_value(json_object_get(ap, "from"));
  const char *fp = json_string_value(json_object_get(ap, "key_fingerprint"));
  printf("%-18s %-9s %-20s %-10s %s%s%s\n",
         json_string_value(json_object_get(ap, "id")),
         json_string_value(json_object_get(ap, "state")),
         json_string_value(json_object_get(ap, "device_id")),
         json_string_value(json_object_get(req, "transport"))
             ? json_string_value(json_object_get(req, "transport"))
             : "websocket",
         json_string_value(json_object_get(req, "local")),
         remote ? " -> " : "", remote ? remote : "");
  printf("%-18s code %s, from %s, %s%s\n", "", code ? code : "-",
         from ? from : "-", fp ? "device key " : "no device key",
         fp ? fp : "");
}

static int run(struct client *c, int argc, char **argv)
{
  const char *what = argv[0];
  char path[160];
  const char *method = "GET";
  bool one_arg = !strcmp(what, "approve") || !strcmp(what, "deny") ||
                 !strcmp(what, "end") || !strcmp(what, "forget-key") ||
                 !strcmp(what, "revoke");
  if (one_arg != (argc == 2) ||
      (!one_arg && strcmp(what, "approvals") && strcmp(what, "tunnels") &&
       strcmp(what, "devices"))) {
    fprintf(stderr, "weft admin: expected approvals, tunnels, devices, "
                    "approve ID, deny ID, end TUNNEL_ID, revoke DEVICE_ID "
                    "or forget-key DEVICE_ID\n");
    return EXIT_USAGE;
  }
  if (one_arg && (strlen(argv[1]) > 63 || strchr(argv[1], '/') ||
                  strchr(argv[1], '?'))) {
    fprintf(stderr, "weft admin: '%s' is not a request, tunnel or device "
                    "id\n",
            argv[1]);
    return EXIT_USAGE;
  }
  if (!strcmp(what, "approve") || !strcmp(what, "deny")) {
    snprintf(path, sizeof path, "/v1/approvals/%s/%s", argv[1], what);
    method = "POST";
  } else if (!strcmp(what, "end")) {
    snprintf(path, sizeof path, "/v1/tunnels/%s", argv[1]);
    method = "DELETE";
  } else if (!strcmp(what, "forget-key")) {
    snprintf(path, sizeof path, "/v1/devices/%s/key", argv[1]);
    method = "DELETE";
  } else if (!strcmp(what, "revoke")) {
    snprintf(path, sizeof path, "/v1/devices/%s/revoke", argv[1]);
    method = "POST";
  } else {
    snprintf(path, sizeof path, "/v1/%s", what);
  }
  json_t *reply = NULL;
  int status = admin_request("admin", c, method, path, NULL, &reply);
  if (status < 200 || status > 299) {
    json_decref(reply);
    /* The command line was fine; the server said no (403) or had no such
     * tunnel (404): a runtime outcome, not a usage error. */
    return EXIT_RUNTIME;
  }
  size_t i;
  json_t *item;
  if (!strcmp(what, "approvals")) {
    json_array_foreach(json_object_get(reply, "approvals"), i, item)
      print_approval(item);
  } else if (!strcmp(what, "tunnels")) {
    json_array_foreach(json_object_get(reply, "tunnels"), i, item)
      printf("%-18s %-20s %-10s %s\n",
             json_string_value(json_object_get(item, "id")),
             json_string_value(json_object_get(item, "device_id")),
             json_string_value(json_object_get(item, "transport")),
             json_string_value(json_object_get(item, "public_url")));
  } else if (!strcmp(what, "devices")) {
    json_array_foreach(json_object_get(reply, "devices"), i, item)
      printf("%-24s key %s\n",
             json_string_value(json_object_get(item, "id")),
             json_string_value(json_object_get(item, "key_fingerprint")));
  } else if (!strcmp(what, "end")) {
    printf("tunnel %s ended\n", argv[1]);
  } else if (!strcmp(what, "forget-key")) {
    printf("device %s is free: the next key to log in as it is bound\n",
           argv[1]);
  } else if (!strcmp(what, "revoke")) {
    printf("device %s revoked: %lld tunnel(s) ended; it cannot log in until "
           "its key is forgotten (forget-key)\n",
           argv[1],
           (long long)json_integer_value(
               json_object_get(reply, "tunnels_ended")));
  } else {
    const char *tid = json_string_value(json_object_get(reply, "tunnel_id"));
    printf("request %s %s%s%s\n", argv[1],
           !strcmp(what, "approve") ? "approved" : "denied",
           tid ? ": tunnel " : "", tid ? tid : "");
  }
  json_decref(reply);
  return EXIT_OK;
}

int cmd_admin(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"device-id", required_argument, NULL, OPT_DEVICE_ID},
      {"state-dir", required_argument, NULL, OPT_STATE_DIR},
      {"socket", required_argument, NULL, OPT_SOCKET},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct admin_conn how = {0};
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    switch (c) {
    case OPT_DEVICE_ID: how.device_id = optarg; break;
    case OPT_STATE_DIR: how.state_dir = optarg; break;
    case OPT_SOCKET: how.socket = optarg; break;
    case 'h': cli_print_usage("admin"); return EXIT_OK;
    case ':':
      fprintf(stderr, "weft admin: %s needs a value\n", argv[optind - 1]);
      return EXIT_USAGE;
    default:
      fprintf(stderr, "weft admin: unknown option '%s'\n", argv[optind - 1]);
      return EXIT_USAGE;
    }
  }
  int left = argc - optind;
  char **args = argv + optind;
  struct client client;
  int code = admin_connect("admin", &how, &left, &args, &client);
  if (code != EXIT_OK)
    return code;
  if (left < 1) {
    fprintf(stderr, "weft admin: expected a command; see weft admin "
                    "--help\n");
    code = EXIT_USAGE;
  } else {
    code = run(&client, left, args);
  }
  client_free(&client);
  return code;
}
