/* `weft tunnel status [NAME]`: reads what running `weft tunnel` processes
 * wrote under RUN_DIR/tunnels/ (agent/tunnel_status.h) and shows it. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/tunnel_status.h"
#include "base/clock.h"
#include "cli/cli.h"

static bool process_alive(long pid)
{
  if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno != EPERM))
    return false;
  char path[64], comm[32] = "";
  snprintf(path, sizeof path, "/proc/%ld/comm", pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return true;
  bool weft = fgets(comm, sizeof comm, f) && !strncmp(comm, "weft", 4);
  fclose(f);
  return weft;
}

static void duration(int64_t s, char *out, size_t len)
{
  if (s < 60)
    snprintf(out, len, "%llds", (long long)s);
  else if (s < 3600)
    snprintf(out, len, "%lldm %llds", (long long)(s / 60), (long long)(s % 60));
  else if (s < 86400)
    snprintf(out, len, "%lldh %lldm", (long long)(s / 3600),
             (long long)(s / 60 % 60));
  else
    snprintf(out, len, "%lldd %lldh", (long long)(s / 86400),
             (long long)(s / 3600 % 24));
}

static const char *str(json_t *doc, const char *key)
{
  const char *s = json_string_value(json_object_get(doc, key));
  return s ? s : "";
}

/* Prints one tunnel; true if it is up. */
static bool show_one(const char *path)
{
  json_error_t jerr;
  json_t *doc = json_load_file(path, 0, &jerr);
  if (!doc) {
    printf("%s: unreadable (%s)\n", path, jerr.text);
    return false;
  }
  long pid = (long)json_integer_value(json_object_get(doc, "pid"));
  printf("%s (%s, pid %ld): ", str(doc, "name"), str(doc, "transport"), pid);
  if (!process_alive(pid)) {
    printf("not running (its process is gone)\n");
    unlink(path);
    json_decref(doc);
    return false;
  }
  int64_t now = clock_wall_s();
  const char *state = str(doc, "state");
  bool up = !strcmp(state, "up");
  char ago[32];
  if (up) {
    int64_t since = json_integer_value(json_object_get(doc, "up_since"));
    time_t t = (time_t)since;
    struct tm tm;
    char when[32];
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    duration(now - since, ago, sizeof ago);
    printf("up since %s (%s)", when, ago);
  } else {
    duration(now - json_integer_value(json_object_get(doc, "changed")), ago,
             sizeof ago);
    printf("%s (for %s)", state, ago);
  }
  json_int_t restarts = json_integer_value(json_object_get(doc, "restarts"));
  printf(", %lld restart%s\n", (long long)restarts, restarts == 1 ? "" : "s");
  printf("  %s -> %s\n", str(doc, "local"), str(doc, "public_url"));
  const char *detail = str(doc, "detail"), *last = str(doc, "last_error");
  if (*detail)
    printf("  %s\n", detail);
  if (*last && strcmp(last, detail))
    printf("  last error: %s\n", last);
  json_decref(doc);
  return up;
}

static void show_dir(const char *dir, const char *name, size_t *shown,
                     size_t *up)
{
  struct dirent **entries = NULL;
  int n = scandir(dir, &entries, NULL, alphasort);
  for (int i = 0; i < n; i++) {
    const char *f = entries[i]->d_name;
    size_t len = strlen(f);
    bool json = f[0] != '.' && len > 5 && !strcmp(f + len - 5, ".json");
    if (json && (!name || (len - 5 == strlen(name) &&
                           !strncmp(f, name, len - 5)))) {
      char path[PATH_MAX + 300];
      snprintf(path, sizeof path, "%s/%s", dir, f);
      *up += show_one(path);
      (*shown)++;
    }
    free(entries[i]);
  }
  free(entries);
}

int cmd_tunnel_status(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"run-dir", required_argument, NULL, 'r'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *run_dir = NULL;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    switch (c) {
    case 'r': run_dir = optarg; break;
    case 'h': cli_print_usage("tunnel status"); return EXIT_OK;
    case ':':
      fprintf(stderr, "weft tunnel status: %s needs a value\n",
              argv[optind - 1]);
      return EXIT_USAGE;
    default:
      fprintf(stderr, "weft tunnel status: unknown option '%s'\n",
              argv[optind - 1]);
      return EXIT_USAGE;
    }
  }
  if (argc - optind > 1) {
    fprintf(stderr, "weft tunnel status: expected at most one NAME\n");
    return EXIT_USAGE;
  }
  const char *name = optind < argc ? argv[optind] : NULL;
  if (name && !tunnel_status_label_ok(name)) {
    fprintf(stderr, "weft tunnel status: '%s' is not a tunnel name\n", name);
    return EXIT_USAGE;
  }
  /* Where tunnels report: the run directory, and for the default one also
   * the services weft service installed (each with a run dir of its own). */
  char dir[PATH_MAX + 16];
  snprintf(dir, sizeof dir, "%s/tunnels", run_dir ? run_dir : run_dir_default());
  glob_t dirs = {0};
  glob(dir, GLOB_NOCHECK, NULL, &dirs);
  if (!run_dir && !getenv("WEFT_RUN_DIR"))
    glob("/run/weft-tunnel-*/tunnels", GLOB_APPEND, NULL, &dirs);
  size_t shown = 0, up = 0;
  for (size_t d = 0; d < dirs.gl_pathc; d++)
    show_dir(dirs.gl_pathv[d], name, &shown, &up);
  globfree(&dirs);
  if (!shown) {
    if (name)
      printf("no tunnel named '%s' is open on this machine (%s)\n", name, dir);
    else
      printf("no tunnels are open on this machine (%s)\n", dir);
    return name ? EXIT_RUNTIME : EXIT_OK;
  }
  /* For scripts: success only when every tunnel shown is up. */
  return up == shown ? EXIT_OK : EXIT_RUNTIME;
}
