/* `weft user`: people who call the control API with a key.
 *   weft user add NAME --role admin|operator|viewer   prints the key once
 *   weft user list
 *   weft user remove NAME
 *   weft user rotate NAME                             a new key, printed
 *                                                     once; the old one stops
 *   weft user passwd NAME [--stdin]                   a console password
 *   weft user totp NAME [--off]                       TOTP for that password
 * Like weft admin, through the local administration socket on the server's
 * host, or a connection string first (cli/admin_conn.h). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth/crypto.h"
#include "auth/password.h"
#include "cli/admin_conn.h"
#include "cli/cli.h"
#include "cli/password_prompt.h"

enum {
  OPT_ROLE = 256,
  OPT_STATE_DIR,
  OPT_SOCKET,
  OPT_DEVICE_ID,
  OPT_STDIN,
  OPT_OFF
};

/* What the command line asked besides the server to reach. */
struct user_opts {
  const char *role;
  bool from_stdin; /* passwd: the password on standard input */
  bool off;        /* totp: turn it off */
};

/* The password body for PUT /v1/users/NAME/password, or NULL after saying
 * why there is none. Checked here too, so a short one is refused before
 * the server is asked. */
static json_t *password_body(const char *name, bool from_stdin)
{
  char pw[PASSWORD_MAX_BYTES + 2], err[160];
  if (password_prompt(name, from_stdin, pw, sizeof pw, err, sizeof err)) {
    fprintf(stderr, "weft user passwd: %s\n", err);
    return NULL;
  }
  const char *why = password_policy_refusal(pw);
  json_t *body = why ? NULL : json_pack("{s:s}", "password", pw);
  if (why)
    fprintf(stderr, "weft user passwd: %s; nothing was changed\n", why);
  crypto_wipe(pw, sizeof pw);
  return body;
}

static void print_key(const json_t *reply, const char *what)
{
  printf("%s %s: API key (shown this once; the server keeps only its hash)\n"
         "%s\n",
         what, json_string_value(json_object_get(reply, "name")),
         json_string_value(json_object_get(reply, "api_key")));
}

static int run(struct client *c, const struct user_opts *o, int argc,
               char **argv)
{
  const char *what = argc ? argv[0] : "";
  const char *role = o->role;
  bool named = !strcmp(what, "add") || !strcmp(what, "remove") ||
               !strcmp(what, "rotate") || !strcmp(what, "passwd") ||
               !strcmp(what, "totp");
  if ((named && argc != 2) || (!named && (strcmp(what, "list") || argc != 1))) {
    fprintf(stderr, "weft user: expected add NAME --role ROLE, list, remove "
                    "NAME, rotate NAME, passwd NAME or totp NAME\n");
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
  } else if (!strcmp(what, "passwd")) {
    method = "PUT";
    snprintf(path, sizeof path, "/v1/users/%s/password", argv[1]);
    if (!(body = password_body(argv[1], o->from_stdin)))
      return EXIT_USAGE;
  } else if (!strcmp(what, "totp")) {
    method = o->off ? "DELETE" : "POST";
    snprintf(path, sizeof path, "/v1/users/%s/totp", argv[1]);
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
  } else if (!strcmp(what, "passwd")) {
    printf("user %s: password set; their console sessions ended\n",
           argv[1]);
  } else if (!strcmp(what, "totp") && o->off) {
    printf("user %s: TOTP off; the password alone signs in\n", argv[1]);
  } else if (!strcmp(what, "totp") &&
             json_is_true(json_object_get(reply, "pending"))) {
    /* (a user's own, with their key: it waits for a code) */
    printf("user %s: a new TOTP secret, off until a code from the app "
           "confirms it (within 10 minutes: the Account page, or POST "
           "/v1/users/%s/totp/confirm). Add this to the app (shown this "
           "once):\n%s\n",
           argv[1], argv[1],
           json_string_value(json_object_get(reply, "otpauth_uri")));
  } else if (!strcmp(what, "totp")) {
    printf("user %s: TOTP on. Add this to an authenticator app (shown this "
           "once):\n%s\n",
           argv[1], json_string_value(json_object_get(reply, "otpauth_uri")));
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
      {"stdin", no_argument, NULL, OPT_STDIN},
      {"off", no_argument, NULL, OPT_OFF},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct admin_conn how = {0};
  struct user_opts o = {0};
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    switch (c) {
    case OPT_ROLE: o.role = optarg; break;
    case OPT_STDIN: o.from_stdin = true; break;
    case OPT_OFF: o.off = true; break;
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
  code = run(&client, &o, left, args);
  client_free(&client);
  return code;
}
