/* weft service install|status|remove NAME: a systemd unit that keeps one
 * [tunnel "NAME"] of a weft.conf up (Restart=always), as scitex-tunnel
 * does for autossh. The unit runs `weft tunnel --config FILE --only NAME`
 * with its state in /run/weft-tunnel-NAME, where `weft tunnel status`
 * finds it. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/config.h"
#include "base/names.h"
#include "cli/cli.h"
#include "cli/cli_env.h"
#include "agent/tunnel_status.h"

extern char **environ;

#define DEFAULT_UNIT_DIR "/etc/systemd/system"

struct service_args {
  const char *action, *name, *config, *user, *connect_file, *unit_dir;
  bool dry_run;
};

static bool systemd_running(void)
{
  struct stat st;
  return stat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}

/* Runs systemctl ARGS... (no shell); its exit status, or -1. */
static int systemctl(const char *a, const char *b, const char *c)
{
  char *argv[] = {"systemctl", (char *)a, (char *)b, (char *)c, NULL};
  pid_t pid;
  if (posix_spawnp(&pid, "systemctl", NULL, NULL, argv, environ) != 0)
    return -1;
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void unit_path(const struct service_args *a, char *out, size_t len)
{
  snprintf(out, len, "%s/weft-tunnel-%s.service", a->unit_dir, a->name);
}

static void ignore_param(void *ctx, const char *key, const char *value)
{
  (void)ctx, (void)key, (void)value;
}

/* Checks that FILE holds [tunnel "NAME"] and whether it needs a server. */
static int check_tunnel(const struct service_args *a, bool *needs_server)
{
  struct cli_env env;
  int code = cli_env_open(&env, NULL, a->config, NULL);
  const struct conf_tunnel *found = NULL;
  for (size_t i = 0; code == EXIT_OK && i < env.conf->tunnel_count; i++)
    if (!strcmp(env.conf->tunnels[i].name, a->name))
      found = &env.conf->tunnels[i];
  if (code == EXIT_OK && !found) {
    fprintf(stderr, "weft service: %s has no [tunnel \"%s\"] section\n",
            a->config, a->name);
    code = EXIT_USAGE;
  }
  /* Whether it needs the connection string: its transport says so (a
   * tunnel it can run standalone, such as autossh to a bastion). */
  *needs_server = true;
  struct plugin *p = found ? plugin_registry_find(&env.reg, found->transport)
                           : NULL;
  if (p && p->initialized && p->desc.client_tunnel_prepare) {
    struct weft_tunnel_info probe = {
        .struct_size = sizeof probe,
        .name = found->name,
        .local_url = found->local_text,
        .remote_url = found->remote_text,
        .tunnel_config = found->plugin_config,
        .add_param = ignore_param,
        .local_host = found->local.host,
        .local_port = found->local.port,
        .remote_host = found->has_remote ? found->remote.host : "",
        .remote_port = found->has_remote ? found->remote.port : 0,
    };
    void *ctx = NULL;
    int rc = p->desc.client_tunnel_prepare(p->ctx, &probe, &ctx);
    if (rc == WEFT_ECONFIG) {
      fprintf(stderr, "weft service: tunnel \"%s\" would not start: %s\n",
              a->name, p->binding.last_error);
      code = EXIT_CONFIG;
    }
    *needs_server = rc != WEFT_STANDALONE;
    if (rc >= 0 && ctx)
      p->desc.client_tunnel_close(p->ctx, ctx);
  }
  return cli_env_close(&env, code);
}

static int write_unit(const struct service_args *a, const char *text)
{
  char path[PATH_MAX], tmp[PATH_MAX + 8];
  unit_path(a, path, sizeof path);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f || fputs(text, f) < 0 || fclose(f) != 0 || chmod(tmp, 0644) != 0 ||
      rename(tmp, path) != 0) {
    fprintf(stderr, "weft service: cannot write %s: %s\n", path,
            strerror(errno));
    unlink(tmp);
    return EXIT_RUNTIME;
  }
  printf("wrote %s\n", path);
  return EXIT_OK;
}

/* The unit runs with PrivateTmp=yes: the service sees a /tmp and a
 * /var/tmp of its own, empty, so a file the unit names there is not
 * there for it. */
static bool hidden_by_private_tmp(const char *path)
{
  return !strncmp(path, "/tmp/", 5) || !strncmp(path, "/var/tmp/", 9);
}

static int install(const struct service_args *a)
{
  if (!a->config) {
    fprintf(stderr, "weft service install: --config FILE is required (the "
                    "weft.conf that holds [tunnel \"%s\"])\n",
            a->name);
    return EXIT_USAGE;
  }
  char config[PATH_MAX], weft[PATH_MAX], connect[PATH_MAX] = "";
  if (!realpath(a->config, config)) {
    fprintf(stderr, "weft service: --config %s: %s\n", a->config,
            strerror(errno));
    return EXIT_USAGE;
  }
  if (a->connect_file && !realpath(a->connect_file, connect)) {
    fprintf(stderr, "weft service: --connect-file %s: %s\n", a->connect_file,
            strerror(errno));
    return EXIT_USAGE;
  }
  ssize_t n = readlink("/proc/self/exe", weft, sizeof weft - 1);
  if (n <= 0) {
    fprintf(stderr, "weft service: cannot tell where weft is installed\n");
    return EXIT_RUNTIME;
  }
  weft[n] = '\0';
  if (a->user && !getpwnam(a->user)) {
    fprintf(stderr, "weft service: --user %s: no such user (create it first, "
                    "e.g. useradd --system %s)\n",
            a->user, a->user);
    return EXIT_USAGE;
  }
  bool needs_server;
  int code = check_tunnel(a, &needs_server);
  if (code != EXIT_OK)
    return code;
  if (needs_server && !connect[0]) {
    fprintf(stderr, "weft service: tunnel \"%s\" needs a weft server: give "
                    "--connect-file FILE with its weft://SECRET@HOST (a "
                    "command line would show the secret to every user)\n",
            a->name);
    return EXIT_USAGE;
  }
  char unit[8192];
  int len = snprintf(
      unit, sizeof unit,
      "# Written by weft service install; remove with weft service remove %s\n"
      "[Unit]\n"
      "Description=Weft tunnel %s\n"
      "After=network-online.target\n"
      "Wants=network-online.target\n"
      "\n"
      "[Service]\n"
      "Type=simple\n"
      "ExecStart=%s tunnel --replace --config %s --only %s%s%s\n"
      "Environment=WEFT_RUN_DIR=/run/weft-tunnel-%s\n"
      "RuntimeDirectory=weft-tunnel-%s\n"
      "RuntimeDirectoryMode=0750\n"
      "%s%s%s"
      "Restart=always\n"
      "RestartSec=5\n"
      "KillMode=control-group\n"
      "NoNewPrivileges=yes\n"
      "PrivateTmp=yes\n"
      "ProtectSystem=full\n"
      "\n"
      "[Install]\n"
      "WantedBy=multi-user.target\n",
      a->name, a->name, weft, config, a->name,
      connect[0] ? " --connect-file " : "", connect, a->name, a->name,
      a->user ? "User=" : "", a->user ? a->user : "", a->user ? "\n" : "");
  if (len < 0 || (size_t)len >= sizeof unit) {
    fprintf(stderr, "weft service: paths too long for a unit file\n");
    return EXIT_USAGE;
  }
  const char *paths[] = {config, connect};
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
    if (hidden_by_private_tmp(paths[i])) {
      fprintf(stderr, "weft service: %s is under /tmp or /var/tmp, which "
                      "the unit's PrivateTmp=yes hides from the service; "
                      "move it (e.g. to /etc/weft)\n",
              paths[i]);
      return EXIT_USAGE;
    }
  /* (The weft binary is only warned about: a build tree under /tmp is
   * how tests and trials run it; systemd would not find it there.) */
  if (hidden_by_private_tmp(weft))
    fprintf(stderr, "weft service: warning: %s is under /tmp, which the "
                    "unit's PrivateTmp=yes hides: install weft first\n",
            weft);
  /* systemd splits ExecStart on spaces: paths with them would break it */
  if (strchr(config, ' ') || strchr(weft, ' ') || strchr(connect, ' ')) {
    fprintf(stderr, "weft service: a path holds a space; move it\n");
    return EXIT_USAGE;
  }
  char path[PATH_MAX];
  unit_path(a, path, sizeof path);
  if (a->dry_run) {
    printf("# %s\n%s", path, unit);
    printf("# then: systemctl daemon-reload && systemctl enable --now "
           "weft-tunnel-%s.service\n",
           a->name);
    return EXIT_OK;
  }
  code = write_unit(a, unit);
  if (code != EXIT_OK)
    return code;
  char service[128];
  snprintf(service, sizeof service, "weft-tunnel-%s.service", a->name);
  if (!systemd_running() || strcmp(a->unit_dir, DEFAULT_UNIT_DIR)) {
    printf("systemd is not managing %s here: start it with\n"
           "  systemctl daemon-reload && systemctl enable --now %s\n",
           a->unit_dir, service);
    return EXIT_OK;
  }
  if (systemctl("daemon-reload", NULL, NULL) != 0 ||
      systemctl("enable", "--now", service) != 0) {
    fprintf(stderr, "weft service: systemctl could not start %s; see "
                    "systemctl status %s\n",
            service, service);
    return EXIT_RUNTIME;
  }
  printf("%s enabled and started; weft service status %s shows it\n", service,
         a->name);
  return EXIT_OK;
}

static int status(const struct service_args *a)
{
  char path[PATH_MAX], service[128], run[PATH_MAX];
  unit_path(a, path, sizeof path);
  snprintf(service, sizeof service, "weft-tunnel-%s.service", a->name);
  struct stat st;
  if (stat(path, &st) != 0) {
    printf("%s: not installed (no %s)\n", service, path);
    return EXIT_RUNTIME;
  }
  printf("%s: installed (%s)\n", service, path);
  int code = EXIT_OK;
  if (systemd_running() && !strcmp(a->unit_dir, DEFAULT_UNIT_DIR)) {
    int enabled = systemctl("is-enabled", "--quiet", service);
    int active = systemctl("is-active", "--quiet", service);
    printf("  %s, %s\n", enabled == 0 ? "enabled" : "not enabled",
           active == 0 ? "active" : "not active");
    if (active != 0)
      code = EXIT_RUNTIME;
  } else {
    printf("  systemd is not managing %s here\n", a->unit_dir);
  }
  snprintf(run, sizeof run, "/run/weft-tunnel-%s", a->name);
  fflush(stdout);
  char *argv[] = {"status", (char *)a->name, "--run-dir", run, NULL};
  int tcode = cmd_tunnel_status(4, argv);
  return code != EXIT_OK ? code : tcode;
}

static int remove_unit(const struct service_args *a)
{
  char path[PATH_MAX], service[128];
  unit_path(a, path, sizeof path);
  snprintf(service, sizeof service, "weft-tunnel-%s.service", a->name);
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "weft service: %s is not installed (no %s)\n", service,
            path);
    return EXIT_RUNTIME;
  }
  bool managed = systemd_running() && !strcmp(a->unit_dir, DEFAULT_UNIT_DIR);
  if (a->dry_run) {
    printf("would %sremove %s%s\n",
           managed ? "stop and disable " : "", path,
           managed ? ", then systemctl daemon-reload" : "");
    return EXIT_OK;
  }
  if (managed)
    systemctl("disable", "--now", service);
  if (unlink(path) != 0) {
    fprintf(stderr, "weft service: cannot remove %s: %s\n", path,
            strerror(errno));
    return EXIT_RUNTIME;
  }
  if (managed)
    systemctl("daemon-reload", NULL, NULL);
  printf("removed %s\n", path);
  return EXIT_OK;
}

int cmd_service(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"config", required_argument, NULL, 'c'},
      {"user", required_argument, NULL, 'u'},
      {"connect-file", required_argument, NULL, 'f'},
      {"unit-dir", required_argument, NULL, 'd'},
      {"dry-run", no_argument, NULL, 'n'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct service_args a = {.unit_dir = DEFAULT_UNIT_DIR};
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
    switch (c) {
    case 'c': a.config = optarg; break;
    case 'u': a.user = optarg; break;
    case 'f': a.connect_file = optarg; break;
    case 'd': a.unit_dir = optarg; break;
    case 'n': a.dry_run = true; break;
    case 'h': cli_print_usage("service"); return EXIT_OK;
    case ':':
      fprintf(stderr, "weft service: %s needs a value\n", argv[optind - 1]);
      return EXIT_USAGE;
    default:
      fprintf(stderr, "weft service: unknown option '%s'; see weft service "
                      "--help\n",
              argv[optind - 1]);
      return EXIT_USAGE;
    }
  }
  if (argc - optind != 2) {
    fprintf(stderr, "weft service: expected install|status|remove NAME; see "
                    "weft service --help\n");
    return EXIT_USAGE;
  }
  a.action = argv[optind];
  a.name = argv[optind + 1];
  if (!name_is_file_safe(a.name, 63)) {
    fprintf(stderr, "weft service: '%s' is not a tunnel name (letters, "
                    "digits, '.', '_', '-')\n",
            a.name);
    return EXIT_USAGE;
  }
  if (!strcmp(a.action, "install"))
    return install(&a);
  if (!strcmp(a.action, "status"))
    return status(&a);
  if (!strcmp(a.action, "remove"))
    return remove_unit(&a);
  fprintf(stderr, "weft service: unknown action '%s' (install, status or "
                  "remove)\n",
          a.action);
  return EXIT_USAGE;
}
