#include "server/terminal_ssh.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/names.h"

bool terminal_ssh_user_ok(const char *user)
{
  return name_is_file_safe(user, TERMINAL_USER_MAX);
}

bool terminal_ssh_path_ok(const char *path)
{
  for (const char *p = path; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\' || *p == '%' ||
        *p == '\'')
      return false;
  return path[0] == '/';
}

static bool cloexec(int fd)
{
  int flags = fcntl(fd, F_GETFD);
  return flags >= 0 && fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0;
}

int terminal_ssh_spawn(uv_loop_t *loop, uv_process_t *proc,
                       const struct terminal_ssh_target *t, uint16_t cols,
                       uint16_t rows, uv_exit_cb exit_cb, int *master,
                       bool *spawned, char *err, size_t errlen)
{
  *spawned = false;
  assert(terminal_ssh_user_ok(t->user));
  assert(terminal_ssh_path_ok(t->known_hosts));
  char port[8], alias[160], known[4200], home[4200];
  snprintf(port, sizeof port, "%u", (unsigned)t->port);
  snprintf(alias, sizeof alias, "-oHostKeyAlias=weft-%s-%u", t->device_id,
           (unsigned)t->device_port);
  snprintf(known, sizeof known, "-oUserKnownHostsFile=\"%s\"", t->known_hosts);
  snprintf(home, sizeof home, "HOME=%s", t->home);
  /* setsid(1) --ctty makes the terminal ssh's controlling one (ssh reads
   * a password from /dev/tty), then execs it: the pid stays ssh's. */
  char *argv[] = {
      "setsid", "--ctty", "ssh", "-F", "/dev/null", known,
      "-oGlobalKnownHostsFile=/dev/null", "-oStrictHostKeyChecking=accept-new",
      "-oUpdateHostKeys=no", alias,
      "-oPreferredAuthentications=keyboard-interactive,password",
      "-oPubkeyAuthentication=no", "-oHostbasedAuthentication=no",
      "-oGSSAPIAuthentication=no", "-oIdentityAgent=none",
      "-oForwardAgent=no", "-oForwardX11=no", "-oClearAllForwardings=yes",
      "-oPermitLocalCommand=no", "-oControlMaster=no", "-oControlPath=none",
      "-oEscapeChar=none", "-oServerAliveInterval=15",
      "-oServerAliveCountMax=3", "-oConnectTimeout=15", "-oLogLevel=ERROR",
      "-l", (char *)t->user, "-p", port, "--", (char *)t->host, NULL};
  char *env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "TERM=xterm-256color",
                 "LANG=C.UTF-8", home, NULL};
  struct winsize ws = {.ws_row = rows, .ws_col = cols};
  int m = -1, s = -1;
  if (openpty(&m, &s, NULL, NULL, &ws) != 0 || !cloexec(m) || !cloexec(s)) {
    snprintf(err, errlen, "cannot open a pseudo-terminal: %s",
             strerror(errno));
    if (m >= 0)
      close(m), close(s);
    return UV_EIO;
  }
  uv_stdio_container_t stdio[3];
  for (int i = 0; i < 3; i++)
    stdio[i] = (uv_stdio_container_t){.flags = UV_INHERIT_FD,
                                      .data.fd = s};
  uv_process_options_t opts = {
      .exit_cb = exit_cb,
      .file = "setsid",
      .args = argv,
      .env = env,
      .stdio = stdio,
      .stdio_count = 3,
  };
  int rc = uv_spawn(loop, proc, &opts);
  *spawned = true; /* even when it failed, proc needs uv_close */
  close(s); /* ssh holds it now: its end closes when ssh ends */
  if (rc != 0) {
    snprintf(err, errlen, "cannot start ssh: %s", uv_strerror(rc));
    close(m);
    return rc;
  }
  *master = m;
  return 0;
}
