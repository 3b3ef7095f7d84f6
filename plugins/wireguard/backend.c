#include "backend.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "genl.h"
#include "rtnl.h"
#include "uapi.h"

#define SOCKET_WAIT_MS 5000
#define RESTART_DELAY_MS 1000

/* The wireguard-go child. Apart from the backend, because libuv calls back
 * when it exits, which may be after the backend is gone. */
struct wg_proc {
  uv_process_t handle;
  uv_pipe_t out;        /* its stdout and stderr, relayed as log records */
  int handles;          /* open of the two: freed when none is */
  struct wg_backend *b; /* NULL once the backend let go of it */
  char chunk[4096];     /* what one read gives */
  char line[512];       /* the line being read */
  size_t len;
};

static bool socket_answers(const char *path)
{
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  bool ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
  close(fd);
  return ok;
}

static void proc_closed(uv_handle_t *h)
{
  struct wg_proc *p = h->data;
  assert(p->handles > 0);
  if (--p->handles == 0)
    free(p);
}

/* One line of wireguard-go ("DEBUG: (wg0) 2026/12/07 12:00:00 Device
 * started", "ERROR: ..."; a Go panic's trace has no prefix) as a record
 * of this plugin's log, at the level it says. */
static void relay_line(struct wg_proc *p)
{
  p->line[p->len] = '\0';
  const struct weft_host *h = p->b ? p->b->host : NULL;
  if (!h || p->len == 0) /* the backend let go: nobody to log for */
    return;
  enum weft_log_level level = WEFT_LOG_WARN;
  char *text = p->line;
  if (!strncmp(text, "DEBUG: ", 7))
    level = WEFT_LOG_DEBUG, text += 7;
  else if (!strncmp(text, "ERROR: ", 7))
    level = WEFT_LOG_ERROR, text += 7;
  h->log(h, level, "wireguard-go: %s", text);
}

static void out_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  (void)suggested;
  struct wg_proc *p = h->data;
  *buf = uv_buf_init(p->chunk, sizeof p->chunk);
}

static void out_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  struct wg_proc *p = s->data;
  if (n < 0) { /* EOF: the child and its copies of the pipe are gone */
    relay_line(p);
    uv_close((uv_handle_t *)s, proc_closed);
    return;
  }
  for (ssize_t i = 0; i < n; i++) {
    char c = buf->base[i];
    if (c == '\n' || p->len == sizeof p->line - 1) {
      relay_line(p); /* a longer line goes on in the next record */
      p->len = 0;
      if (c == '\n')
        continue;
    }
    p->line[p->len++] = c;
  }
}

static int spawn_wireguard_go(struct wg_backend *b, char *why, size_t whylen);

static void restart_now(void *arg)
{
  struct wg_backend *b = arg;
  const struct weft_host *h = b->host;
  h->timer_stop(b->restart);
  b->restart = NULL;
  char why[512];
  char err[256];
  rtnl_link_delete(b->ifname, err, sizeof err); /* what is left of it */
  if (spawn_wireguard_go(b, why, sizeof why) != 0) {
    h->log(h, WEFT_LOG_ERROR, "%s; trying again in %d ms", why,
           RESTART_DELAY_MS);
    h->timer_start(h, RESTART_DELAY_MS, 0, restart_now, b, &b->restart);
    return;
  }
  h->log(h, WEFT_LOG_WARN, "wireguard-go for %s is back; configuring it again",
         b->ifname);
  if (b->restarted)
    b->restarted(b->arg);
}

static void proc_exited(uv_process_t *handle, int64_t status, int signal)
{
  struct wg_proc *p = handle->data;
  struct wg_backend *b = p->b;
  uv_close((uv_handle_t *)handle, proc_closed);
  if (!b)
    return;
  b->proc = NULL;
  if (b->closing)
    return;
  const struct weft_host *h = b->host;
  h->log(h, WEFT_LOG_ERROR,
         "wireguard-go for %s exited (status %lld, signal %d); starting it "
         "again in %d ms",
         b->ifname, (long long)status, signal, RESTART_DELAY_MS);
  if (!b->restart)
    h->timer_start(h, RESTART_DELAY_MS, 0, restart_now, b, &b->restart);
}

/* Starts wireguard-go in the foreground (so it stays our child and libuv
 * reaps it) and waits for its UAPI socket. */
static int spawn_wireguard_go(struct wg_backend *b, char *why, size_t whylen)
{
  unlink(b->socket_path); /* a stale one would look alive to us */
  struct wg_proc *p = calloc(1, sizeof *p);
  if (!p)
    return snprintf(why, whylen, "out of memory"), -1;
  char *args[] = {b->program, "-f", b->ifname, NULL};
  const char *path = getenv("PATH");
  char path_env[1024];
  snprintf(path_env, sizeof path_env, "PATH=%s",
           path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
  char log_env[32];
  snprintf(log_env, sizeof log_env, "LOG_LEVEL=%s", b->program_log);
  char *env[] = {"WG_PROCESS_FOREGROUND=1", log_env, path_env, NULL};
  /* One pipe for its stdout and stderr, so lines keep their order. */
  uv_file fds[2];
  int rc = uv_pipe(fds, 0, 0);
  if (rc != 0) {
    free(p);
    return snprintf(why, whylen, "a pipe for wireguard-go: %s",
                    uv_strerror(rc)),
           -1;
  }
  uv_stdio_container_t stdio[3] = {
      {.flags = UV_IGNORE},
      {.flags = UV_INHERIT_FD, .data.fd = fds[1]},
      {.flags = UV_INHERIT_FD, .data.fd = fds[1]},
  };
  uv_process_options_t opts = {
      .exit_cb = proc_exited,
      .file = b->program,
      .args = args,
      .env = env,
      .stdio_count = 3,
      .stdio = stdio,
  };
  p->handle.data = p;
  p->out.data = p;
  p->b = b;
  p->handles = 1;
  uv_pipe_init(b->host->loop, &p->out, 0);
  rc = uv_pipe_open(&p->out, fds[0]);
  if (rc != 0)
    close(fds[0]); /* not the handle's */
  if (rc == 0)
    rc = uv_read_start((uv_stream_t *)&p->out, out_alloc, out_read);
  if (rc == 0) {
    p->handles = 2;
    rc = uv_spawn(b->host->loop, &p->handle, &opts);
    if (rc != 0) /* uv_spawn made the handle before it failed */
      uv_close((uv_handle_t *)&p->handle, proc_closed);
  }
  close(fds[1]); /* the child's now: EOF once it and its copies are gone */
  if (rc != 0) {
    uv_close((uv_handle_t *)&p->out, proc_closed);
    return snprintf(why, whylen, "cannot run %s: %s (install wireguard-go, "
                    "or set wireguard_go in [transport.wireguard])",
                    b->program, uv_strerror(rc)),
           -1;
  }
  b->proc = p;
  for (int waited = 0; waited < SOCKET_WAIT_MS; waited += 20) {
    if (socket_answers(b->socket_path))
      return 0;
    nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
  }
  uv_process_kill(&p->handle, SIGKILL);
  p->b = NULL;
  b->proc = NULL;
  return snprintf(why, whylen, "%s did not open %s within %d ms", b->program,
                  b->socket_path, SOCKET_WAIT_MS),
         -1;
}

int wg_backend_open(struct wg_backend *b, const struct weft_host *host,
                    const char *mode, const char *ifname,
                    const char *program, const char *program_log, char *why,
                    size_t whylen)
{
  memset(b, 0, sizeof *b);
  b->host = host;
  if (!rtnl_name_ok(ifname))
    return snprintf(why, whylen, "interface name \"%s\" is not usable (1 to "
                    "15 of A-Z a-z 0-9 _ . -)", ifname),
           -1;
  snprintf(b->ifname, sizeof b->ifname, "%s", ifname);
  snprintf(b->program, sizeof b->program, "%s", program);
  snprintf(b->program_log, sizeof b->program_log, "%s",
           program_log ? program_log : "error");
  snprintf(b->socket_path, sizeof b->socket_path, "%s/%s.sock",
           UAPI_SOCKET_DIR, ifname);
  char err[512];
  if (rtnl_link_exists(ifname)) {
    /* Left by a run that did not stop cleanly: start from nothing, so no
     * peer, address or route of it survives. */
    host->log(host, WEFT_LOG_WARN, "removing a stale interface %s", ifname);
    rtnl_link_delete(ifname, err, sizeof err);
  }
  if (strcmp(mode, "uapi") != 0) {
    int rc = rtnl_link_create(ifname, "wireguard", err, sizeof err);
    if (rc == 0) {
      b->kernel = true;
      return 0;
    }
    if (rc != -EOPNOTSUPP || !strcmp(mode, "kernel"))
      return snprintf(why, whylen, "%s%s", err,
                      rc == -EOPNOTSUPP ? " (backend = kernel, but this "
                                          "kernel has no WireGuard)"
                                        : ""),
             -1;
  }
  return spawn_wireguard_go(b, why, whylen);
}

/* The program as execvp would find it, or false. */
static bool find_program(const char *program, char *out, size_t len)
{
  if (strchr(program, '/')) {
    snprintf(out, len, "%s", program);
    return access(program, X_OK) == 0;
  }
  const char *path = getenv("PATH");
  char dirs[4096];
  snprintf(dirs, sizeof dirs, "%s", path ? path : "/usr/sbin:/usr/bin");
  for (char *save = NULL, *dir = strtok_r(dirs, ":", &save); dir;
       dir = strtok_r(NULL, ":", &save)) {
    snprintf(out, len, "%s/%s", dir, program);
    if (access(out, X_OK) == 0)
      return true;
  }
  return false;
}

void wg_backend_probe(const char *mode, const char *program, char *buf,
                      size_t len)
{
  /* The module is loaded once any WireGuard link exists; "auto" tries the
   * kernel first in any case, and falls back when it has none. */
  bool kernel = access("/sys/module/wireguard", F_OK) == 0;
  char where[512];
  bool userspace = find_program(program, where, sizeof where);
  if (!strcmp(mode, "kernel"))
    snprintf(buf, len, "kernel (generic netlink)%s",
             kernel ? "" : "; the kernel module is not loaded now");
  else if (!strcmp(mode, "uapi") || !kernel)
    snprintf(buf, len, "%s: userspace (wireguard-go%s%s%s)", mode,
             userspace ? " at " : "", userspace ? where : "",
             userspace ? ", UAPI" : " NOT FOUND: install wireguard-go");
  else
    snprintf(buf, len, "auto: kernel (generic netlink)");
}

const char *wg_backend_name(const struct wg_backend *b)
{
  return b->kernel ? "kernel (generic netlink)"
                   : "userspace (wireguard-go, UAPI)";
}

int wg_backend_set(struct wg_backend *b, const struct wg_device_set *dev,
                   const struct wg_peer_set *peers, size_t count, char *why,
                   size_t whylen)
{
  if (b->kernel)
    return genl_set(b->ifname, dev, peers, count, why, whylen) ? -1 : 0;
  return uapi_set(b->socket_path, dev, peers, count, why, whylen);
}

int wg_backend_get(struct wg_backend *b, struct wg_device_state *out,
                   char *why, size_t whylen)
{
  if (b->kernel)
    return genl_get(b->ifname, out, why, whylen) ? -1 : 0;
  return uapi_get(b->socket_path, out, why, whylen);
}

void wg_backend_close(struct wg_backend *b)
{
  if (!b->host || b->closing)
    return;
  b->closing = true;
  if (b->restart) {
    b->host->timer_stop(b->restart);
    b->restart = NULL;
  }
  struct wg_proc *p = b->proc;
  if (p) {
    /* wireguard-go removes its interface and socket when it exits (and
     * complains if the interface vanished under it first); the core waits
     * for the child before the process ends. */
    uv_process_kill(&p->handle, SIGTERM);
    p->b = NULL;
    b->proc = NULL;
  } else {
    char err[256];
    rtnl_link_delete(b->ifname, err, sizeof err);
  }
}
