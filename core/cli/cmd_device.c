/* `weft device`: devices and the ACL operators set for them.
 *   weft device list                  devices bound to keys, with classes
 *   weft device show ID               its class, the rules in force, what
 *                                     the API set, its live tunnels
 *   weft device set ID KEY=VALUE...   reach_ports=22,3389 (operators);
 *                                     class, publish_ports, publish_hosts,
 *                                     allow_ips (administrators); KEY= goes
 *                                     back to weft.conf's
 *   weft device revoke ID             as weft admin revoke
 *   weft device rotate ID [weft://SECRET@HOST]   on the device: a new key
 *                                     replaces its old one (agent/
 *                                     key_rotation.h)
 *   weft device add ID [--class C] [--expires 1h]
 *                                     a one-time enrollment string for a new
 *                                     device (weft tunnel --enroll STRING)
 * Reaches the server as weft admin does (cli/admin_conn.h). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/admin_conn.h"
#include "cli/cli.h"
#include "agent/device_identity.h"
#include "agent/key_rotation.h"
#include "base/names.h"
#include "plugin/options.h"

enum { OPT_STATE_DIR = 256, OPT_SOCKET, OPT_DEVICE_ID, OPT_CLASS,
       OPT_EXPIRES };

struct add_opts {
  const char *class_name;
  int64_t expires_s; /* 0: the server's default */
};

static void show(const json_t *d)
{
  const json_t *acl = json_object_get(d, "acl");
  const char *fp = json_string_value(json_object_get(d, "key_fingerprint"));
  printf("device %s\n", json_string_value(json_object_get(d, "id")));
  printf("  class          %s\n",
         json_string_value(json_object_get(d, "class")));
  printf("  key            %s%s\n", fp ? fp : "none bound yet",
         json_is_true(json_object_get(d, "revoked")) ? " (revoked)" : "");
  static const char *const keys[] = {"reach_ports", "publish_ports",
                                     "publish_hosts", "allow_ips"};
  const json_t *set = json_object_get(d, "set");
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    printf("  %-14s %s%s\n", keys[i],
           json_string_value(json_object_get(acl, keys[i])),
           json_object_get(set, keys[i]) ? "  (set through the API)" : "");
  size_t i;
  json_t *t;
  printf("  tunnels       ");
  json_array_foreach(json_object_get(d, "tunnels"), i, t)
    printf(" %s", json_string_value(t));
  printf("%s\n", json_array_size(json_object_get(d, "tunnels")) ? "" : " none");
}

static int run(struct client *c, const struct add_opts *add, int argc,
               char **argv)
{
  const char *what = argc ? argv[0] : "";
  bool list = !strcmp(what, "list") && argc == 1;
  bool one = (!strcmp(what, "show") || !strcmp(what, "revoke") ||
              !strcmp(what, "add")) &&
             argc == 2;
  bool set = !strcmp(what, "set") && argc >= 3;
  if (!list && !one && !set) {
    fprintf(stderr, "weft device: expected list, show ID, add ID, set ID "
                    "KEY=VALUE... or revoke ID\n");
    return EXIT_USAGE;
  }
  if (!list && (strlen(argv[1]) > 63 || strpbrk(argv[1], "/?#%"))) {
    fprintf(stderr, "weft device: '%s' is not a device id\n", argv[1]);
    return EXIT_USAGE;
  }
  char path[128];
  json_t *body = NULL, *reply = NULL;
  const char *method = "GET";
  if (list) {
    snprintf(path, sizeof path, "/v1/devices");
  } else if (!strcmp(what, "add")) {
    method = "POST";
    snprintf(path, sizeof path, "/v1/devices");
    body = json_pack("{s:s}", "id", argv[1]);
    if (add->class_name)
      json_object_set_new(body, "class", json_string(add->class_name));
    if (add->expires_s)
      json_object_set_new(body, "expires_in", json_integer(add->expires_s));
  } else if (!strcmp(what, "revoke")) {
    method = "POST";
    snprintf(path, sizeof path, "/v1/devices/%s/revoke", argv[1]);
  } else {
    snprintf(path, sizeof path, "/v1/devices/%s", argv[1]);
  }
  if (set) {
    method = "PATCH";
    body = json_object();
    for (int i = 2; i < argc; i++) {
      const char *eq = strchr(argv[i], '=');
      if (!eq || eq == argv[i]) {
        fprintf(stderr, "weft device set: '%s' is not KEY=VALUE\n", argv[i]);
        json_decref(body);
        return EXIT_USAGE;
      }
      char key[64];
      snprintf(key, sizeof key, "%.*s", (int)(eq - argv[i]), argv[i]);
      json_object_set_new(body, key, eq[1] ? json_string(eq + 1) : json_null());
    }
  }
  int status = admin_request("device", c, method, path, body, &reply);
  json_decref(body);
  if (status < 200 || status > 299) {
    json_decref(reply);
    return status == 400 ? EXIT_USAGE : EXIT_RUNTIME;
  }
  if (list) {
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(reply, "devices"), i, d)
      printf("%-24s %-12s key %s\n", json_string_value(json_object_get(d, "id")),
             json_string_value(json_object_get(d, "class")),
             json_string_value(json_object_get(d, "key_fingerprint")));
  } else if (!strcmp(what, "add")) {
    printf("enrollment string for device %s (one use, shown this once; on "
           "the device: weft tunnel --enroll STRING LOCAL [REMOTE]):\n%s\n",
           argv[1],
           json_string_value(json_object_get(reply, "enrollment")));
  } else if (!strcmp(what, "revoke")) {
    printf("device %s revoked: %lld tunnel(s) ended\n", argv[1],
           (long long)json_integer_value(
               json_object_get(reply, "tunnels_ended")));
  } else {
    show(reply);
  }
  json_decref(reply);
  return EXIT_OK;
}

/* weft device rotate ID [CONN]: on the device, not through the admin
 * socket. An exit code. */
static int rotate(const char *state_dir, int argc, char **argv)
{
  struct conn_url srv;
  char err[1024], fp[DEVICE_KEY_FINGERPRINT_LEN];
  if (argc < 2 || argc > 3 || !name_is_plain(argv[1], 63)) {
    fprintf(stderr, "weft device: expected rotate ID [weft://SECRET@HOST]\n");
    return EXIT_USAGE;
  }
  if (argc == 3 && conn_url_parse(argv[2], &srv, err, sizeof err) != 0) {
    fprintf(stderr, "weft device: %s\n", err);
    return EXIT_USAGE;
  }
  if (agent_rotate_key(state_dir ? state_dir : agent_state_dir_default(),
                       argc == 3 ? &srv : NULL, argv[1], fp, err,
                       sizeof err) != 0) {
    fprintf(stderr, "weft device: %s: %s\n", argv[1], err);
    return EXIT_RUNTIME;
  }
  printf("device %s: its new key %s replaces the old one, which no longer "
         "logs in\n",
         argv[1], fp);
  return EXIT_OK;
}

int cmd_device(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"state-dir", required_argument, NULL, OPT_STATE_DIR},
      {"socket", required_argument, NULL, OPT_SOCKET},
      {"device-id", required_argument, NULL, OPT_DEVICE_ID},
      {"class", required_argument, NULL, OPT_CLASS},
      {"expires", required_argument, NULL, OPT_EXPIRES},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct admin_conn how = {0};
  struct add_opts add = {0};
  int64_t ms;
  char why[160];
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    switch (c) {
    case OPT_STATE_DIR: how.state_dir = optarg; break;
    case OPT_SOCKET: how.socket = optarg; break;
    case OPT_DEVICE_ID: how.device_id = optarg; break;
    case OPT_CLASS: add.class_name = optarg; break;
    case OPT_EXPIRES:
      if (parse_duration_ms(optarg, &ms, why, sizeof why) != 0 || ms < 1000) {
        fprintf(stderr, "weft device: --expires: %s\n",
                ms < 1000 ? "give a duration such as 1h" : why);
        return EXIT_USAGE;
      }
      add.expires_s = ms / 1000;
      break;
    case 'h': cli_print_usage("device"); return EXIT_OK;
    case ':':
      fprintf(stderr, "weft device: %s needs a value\n", argv[optind - 1]);
      return EXIT_USAGE;
    default:
      fprintf(stderr, "weft device: unknown option '%s'\n", argv[optind - 1]);
      return EXIT_USAGE;
    }
  }
  int left = argc - optind;
  char **args = argv + optind;
  if (left > 0 && !strcmp(args[0], "rotate"))
    return rotate(how.state_dir, left, args);
  struct client client;
  int code = admin_connect("device", &how, &left, &args, &client);
  if (code != EXIT_OK)
    return code;
  code = run(&client, &add, left, args);
  client_free(&client);
  return code;
}
