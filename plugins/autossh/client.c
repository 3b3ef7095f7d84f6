/* The device side: one supervised `ssh -N -R` per tunnel, run with uv_spawn
 * (never a shell) and restarted after any exit, as autossh does:
 *
 *   - an ssh that exits within gate_time of starting, or before its forward
 *     came up, is a failed start: the next delay doubles (backoff_initial up
 *     to backoff_max);
 *   - one that was up for longer is a dropped session: it restarts after
 *     backoff_initial;
 *   - every delay gets jitter (half to all of it), so a fleet does not
 *     return at once.
 *
 * ssh runs with -v so that its debug1 line "remote forward success" says
 * when the tunnel is up; debug lines go to Weft's debug log, the rest to
 * the log at info, tagged with the tunnel's name. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <uv.h>

#include "autossh.h"
#include "keys.h"
#include "ssh_args.h"

#define LINE_MAX_BYTES 1024
#define STOP_GRACE_MS 3000
#define EOF_WAIT_MS 500

extern char **environ;

struct client_tunnel {
  struct autossh *as;      /* NULL once the plugin is gone */
  struct client_tunnel *next;
  char id[64];             /* as the core knows it */
  char label[64];          /* for the log: the tunnel's name, or id */
  char where[700];         /* "user@host:port listens on bind:port" */
  bool weft_bastion;       /* mode (b): keys from the weft server */
  char key_dir[4096];      /* mode (b): this tunnel's key pair, or "" */
  char argbuf[8192];
  char *argv[SSH_ARGV_MAX];

  uv_process_t proc;
  uv_pipe_t err;
  uv_timer_t timer;        /* restart delay, stop grace, EOF wait */
  int handles;             /* open libuv handles */
  bool running, exited, err_eof;
  int64_t exit_status;
  int term_signal;

  uint64_t started_ms;
  bool up;
  uint32_t restarts;
  uint32_t failed_starts;  /* in a row */
  bool closing, gone;
  char line[LINE_MAX_BYTES];
  size_t line_len;
  char last_error[LINE_MAX_BYTES];
  char why[LINE_MAX_BYTES + 96]; /* why ssh ended, while the server is asked */
  char readbuf[4096];
};

static const struct weft_host *host_of(struct client_tunnel *ct)
{
  return ct->as ? ct->as->host : NULL;
}

#define LOG(ct, level, ...)                                                  \
  do {                                                                       \
    const struct weft_host *h_ = host_of(ct);                                \
    if (h_)                                                                  \
      h_->log(h_, level, __VA_ARGS__);                                       \
  } while (0)

static void report(struct client_tunnel *ct, enum weft_tunnel_phase phase,
                   const char *detail)
{
  const struct weft_host *h = host_of(ct);
  if (!h || !WEFT_HOST_HAS(h, tunnel_state) || !h->tunnel_state)
    return;
  struct weft_tunnel_state st = {.struct_size = sizeof st,
                                 .phase = phase,
                                 .restarts = ct->restarts,
                                 .detail = detail};
  h->tunnel_state(h, ct->id, &st);
}

/* ---- teardown ---- */

static void unlink_tunnel(struct client_tunnel *ct)
{
  if (!ct->as)
    return;
  struct client_tunnel **pp = &ct->as->tunnels;
  while (*pp && *pp != ct)
    pp = &(*pp)->next;
  if (*pp)
    *pp = ct->next;
}

static void free_tunnel(struct client_tunnel *ct)
{
  unlink_tunnel(ct);
  if (ct->key_dir[0])
    keys_remove_dir(ct->key_dir);
  free(ct);
}

static void handle_closed(uv_handle_t *h)
{
  struct client_tunnel *ct = h->data;
  assert(ct->handles > 0);
  if (--ct->handles == 0)
    free_tunnel(ct);
}

/* Closes the timer (the last handle once no child runs). */
static void finish_close(struct client_tunnel *ct)
{
  if (!uv_is_closing((uv_handle_t *)&ct->timer))
    uv_close((uv_handle_t *)&ct->timer, handle_closed);
}

/* ---- one ssh run ---- */

static void spawn_ssh(struct client_tunnel *ct);

static uint64_t jittered(uint64_t delay)
{
  uint32_t r = 0;
  RAND_bytes((unsigned char *)&r, sizeof r);
  return delay / 2 + r % (delay / 2 + 1);
}

static void on_restart_timer(uv_timer_t *t)
{
  struct client_tunnel *ct = t->data;
  if (ct->closing || ct->gone)
    return;
  ct->restarts++;
  spawn_ssh(ct);
}

static void schedule_restart(struct client_tunnel *ct, const char *why)
{
  /* child_done restarts only a tunnel still open, of a plugin alive. */
  assert(ct->as && !ct->closing && !ct->running);
  const struct autossh_conf *conf = ct->as->conf;
  uint64_t ran = uv_now(ct->as->host->loop) - ct->started_ms;
  bool dropped = ct->up && ran >= (uint64_t)conf->gate_time_ms;
  uint64_t delay = (uint64_t)conf->backoff_initial_ms;
  if (dropped) {
    ct->failed_starts = 0;
  } else {
    ct->failed_starts++;
    for (uint32_t i = 1; i < ct->failed_starts && delay < (uint64_t)conf->backoff_max_ms; i++)
      delay *= 2;
  }
  if (delay > (uint64_t)conf->backoff_max_ms)
    delay = (uint64_t)conf->backoff_max_ms;
  delay = jittered(delay);
  char detail[LINE_MAX_BYTES + 128];
  snprintf(detail, sizeof detail, "%s%s", why,
           dropped ? "" : " (failed start)");
  LOG(ct, WEFT_LOG_WARN, "%s: %s; restarting in %.1f s", ct->label, detail,
      (double)delay / 1000);
  report(ct, WEFT_TUNNEL_RETRYING, detail);
  uv_timer_start(&ct->timer, on_restart_timer, delay, 0);
}

static void stop_for_good(struct client_tunnel *ct)
{
  ct->gone = true;
  LOG(ct, WEFT_LOG_ERROR, "%s: the weft server no longer has this tunnel "
                          "(deleted or expired); not restarting ssh",
      ct->label);
  report(ct, WEFT_TUNNEL_FAILED, "the weft server no longer has this tunnel");
}

/* The server's word on a tunnel whose ssh never came up (below). Never
 * called once the tunnel is closed: the core drops the renewal then. */
static void server_answered(void *arg, int rc, const char *token)
{
  struct client_tunnel *ct = arg;
  (void)token;
  if (rc == WEFT_ENOENT)
    stop_for_good(ct);
  else
    schedule_restart(ct, ct->why);
}

/* In mode (b) a refused login may mean the server ended the tunnel: ask
 * (on the loop where the core can), and stop for good if it did. */
static void restart_unless_gone(struct client_tunnel *ct)
{
  const struct weft_host *h = host_of(ct);
  if (ct->up || !ct->weft_bastion || !h) {
    schedule_restart(ct, ct->why);
    return;
  }
  int rc = WEFT_ENOTSUP;
  if (WEFT_HOST_HAS(h, token_renew_start) && h->token_renew_start) {
    rc = h->token_renew_start(h, ct->id, server_answered, ct);
    if (rc == 0)
      return;
  }
  if (rc == WEFT_ENOTSUP) {
    char token[4096];
    rc = h->token_renew(h, ct->id, token, sizeof token);
  }
  server_answered(ct, rc, NULL);
}

/* The child has exited and its stderr is read (or given up on). */
static void child_done(struct client_tunnel *ct)
{
  /* Once per run: the handles it closes call nothing more. */
  assert(ct->running && ct->exited);
  ct->running = false;
  uv_timer_stop(&ct->timer);
  if (!uv_is_closing((uv_handle_t *)&ct->proc))
    uv_close((uv_handle_t *)&ct->proc, handle_closed);
  if (!uv_is_closing((uv_handle_t *)&ct->err))
    uv_close((uv_handle_t *)&ct->err, handle_closed);
  if (ct->closing || !ct->as) {
    finish_close(ct);
    return;
  }
  char *why = ct->why;
  size_t size = sizeof ct->why;
  if (ct->term_signal)
    snprintf(why, size, "ssh killed by signal %d", ct->term_signal);
  else
    snprintf(why, size, "ssh exited with status %lld",
             (long long)ct->exit_status);
  if (ct->last_error[0]) {
    size_t n = strlen(why);
    snprintf(why + n, size - n, ": %s", ct->last_error);
  }
  restart_unless_gone(ct);
}

static void on_eof_wait(uv_timer_t *t)
{
  child_done(t->data);
}

static void on_exit_cb(uv_process_t *proc, int64_t status, int signal)
{
  struct client_tunnel *ct = proc->data;
  ct->exited = true;
  ct->exit_status = status;
  ct->term_signal = signal;
  if (ct->err_eof)
    child_done(ct);
  else /* ssh's own children may hold stderr open: do not wait forever */
    uv_timer_start(&ct->timer, on_eof_wait, EOF_WAIT_MS, 0);
}

static void on_line(struct client_tunnel *ct, char *line)
{
  if (!strncmp(line, "debug", 5)) {
    LOG(ct, WEFT_LOG_DEBUG, "%s: ssh: %s", ct->label, line);
    if (strstr(line, "remote forward success") && !ct->up) {
      ct->up = true;
      ct->last_error[0] = '\0';
      LOG(ct, WEFT_LOG_INFO, "%s: up: %s", ct->label, ct->where);
      report(ct, WEFT_TUNNEL_UP, ct->where);
    }
    return;
  }
  if (!*line)
    return;
  LOG(ct, WEFT_LOG_INFO, "%s: ssh: %s", ct->label, line);
  /* ssh -v also says what it is doing at this level; keep errors only. */
  if (strncmp(line, "Authenticated to", 16) && strncmp(line, "OpenSSH_", 8) &&
      strncmp(line, "Transferred:", 12) && strncmp(line, "Bytes per", 9))
    snprintf(ct->last_error, sizeof ct->last_error, "%s", line);
}

static void on_err_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  (void)suggested;
  struct client_tunnel *ct = h->data;
  *buf = uv_buf_init(ct->readbuf, sizeof ct->readbuf);
}

static void on_err_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  struct client_tunnel *ct = s->data;
  if (n < 0) {
    uv_read_stop(s);
    ct->err_eof = true;
    if (ct->exited) {
      uv_timer_stop(&ct->timer);
      child_done(ct);
    }
    return;
  }
  for (ssize_t i = 0; i < n; i++) {
    char c = buf->base[i];
    if (c == '\n' || ct->line_len == sizeof ct->line - 1) {
      ct->line[ct->line_len] = '\0';
      on_line(ct, ct->line);
      ct->line_len = 0;
      if (c == '\n')
        continue;
    }
    if (c == '\r')
      continue;
    assert(ct->line_len < sizeof ct->line - 1); /* flushed when full */
    /* control characters from the far side never reach the log */
    ct->line[ct->line_len++] = (c >= 0x20 && c != 0x7f) || c == '\t' ? c : '?';
  }
}

static void spawn_ssh(struct client_tunnel *ct)
{
  /* One ssh at a time, none once closing (the restart timer checks). */
  assert(ct->as && !ct->running && !ct->closing);
  const struct weft_host *h = ct->as->host;
  ct->up = ct->exited = ct->err_eof = false;
  ct->exit_status = 0;
  ct->term_signal = 0;
  ct->line_len = 0;
  ct->last_error[0] = '\0';
  ct->started_ms = uv_now(h->loop);
  uv_pipe_init(h->loop, &ct->err, 0);
  ct->err.data = ct;
  ct->handles++;
  uv_stdio_container_t stdio[3] = {
      {.flags = UV_IGNORE},
      {.flags = UV_IGNORE},
      {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE,
       .data.stream = (uv_stream_t *)&ct->err},
  };
  uv_process_options_t opts = {
      .exit_cb = on_exit_cb,
      .file = ct->argv[0],
      .args = ct->argv,
      .stdio_count = 3,
      .stdio = stdio,
  };
  ct->proc.data = ct;
  int rc = uv_spawn(h->loop, &ct->proc, &opts);
  if (rc != 0) {
    /* uv_spawn leaves the process handle to be closed all the same */
    ct->handles++;
    ct->exited = ct->err_eof = true;
    snprintf(ct->last_error, sizeof ct->last_error, "cannot run %s: %s",
             ct->argv[0], uv_strerror(rc));
    ct->running = true;
    child_done(ct);
    return;
  }
  ct->handles++;
  ct->running = true;
  uv_read_start((uv_stream_t *)&ct->err, on_err_alloc, on_err_read);
  LOG(ct, WEFT_LOG_DEBUG, "%s: started ssh (pid %d)", ct->label, ct->proc.pid);
  if (!ct->restarts) /* a restart was reported with its reason */
    report(ct, WEFT_TUNNEL_CONNECTING, "ssh started");
}

/* ---- the tunnel's ssh command ---- */

/* Only tcp:// services suit ssh -R. */
static int local_is_tcp(const struct weft_tunnel_info *t, char *why,
                        size_t whylen)
{
  if (strncmp(t->local_url, "tcp://", 6)) {
    snprintf(why, whylen, "the autossh transport carries tcp:// services "
                          "only, not %.80s",
             t->local_url);
    return -1;
  }
  return 0;
}

static struct client_tunnel *tunnel_new(struct autossh *as,
                                        const struct weft_tunnel_info *t)
{
  struct client_tunnel *ct = calloc(1, sizeof *ct);
  if (!ct)
    return NULL;
  ct->as = as;
  snprintf(ct->label, sizeof ct->label, "%s",
           t->name ? t->name : t->id ? t->id : "tunnel");
  return ct;
}

/* What every tunnel's ssh shares: the plugin's settings. */
static struct ssh_target target_from_conf(const struct autossh_conf *conf)
{
  return (struct ssh_target){
      .ssh_path = conf->ssh_path,
      .ssh_config = conf->ssh_config,
      .alive_interval_s = (int)(conf->alive_interval_ms / 1000),
      .alive_count_max = (int)conf->alive_count_max,
      .connect_timeout_s = (int)(conf->connect_timeout_ms / 1000),
  };
}

/* Mode (a): everything from the tunnel's own section. */
static int build_plain(struct client_tunnel *ct,
                       const struct weft_tunnel_info *t, char *why,
                       size_t whylen)
{
  const struct autossh_conf *conf = ct->as->conf;
  const struct autossh_tunnel_conf *tc = t->tunnel_config;
  char user[64], host[256];
  if (ssh_split_destination(tc->bastion, user, sizeof user, host, sizeof host,
                            why, whylen) != 0 ||
      local_is_tcp(t, why, whylen) != 0)
    return -1;
  /* remote = tcp://[BIND]:PORT stands for remote_bind/remote_port */
  const char *bind = tc->remote_bind;
  long remote_port = tc->remote_port;
  if (!remote_port && t->remote_port) {
    remote_port = t->remote_port;
    if (!bind && t->remote_host[0])
      bind = t->remote_host;
  }
  if (remote_port < 1 || remote_port > 65535) {
    snprintf(why, whylen, "set remote_port (or remote = tcp://:PORT): the "
                          "port to listen on at the bastion");
    return -1;
  }
  const char *files[2] = {tc->identity, tc->known_hosts};
  const char *keys[2] = {"identity", "known_hosts"};
  for (int i = 0; i < 2; i++)
    if (files[i] && access(files[i], R_OK) != 0) {
      snprintf(why, whylen, "%s %.200s: %s", keys[i], files[i],
               strerror(errno));
      return -1;
    }
  struct ssh_target target = target_from_conf(conf);
  target.user = user;
  target.host = host;
  target.port = (uint16_t)tc->bastion_port;
  target.remote_bind = bind;
  target.remote_port = (uint16_t)remote_port;
  target.local_host = t->local_host;
  target.local_port = t->local_port;
  target.identity = tc->identity;
  target.known_hosts = tc->known_hosts;
  snprintf(ct->where, sizeof ct->where, "%s@%s:%u listens on %s:%ld", user,
           host, target.port, bind ? bind : "localhost", remote_port);
  return ssh_build_argv(&target, ct->argbuf, sizeof ct->argbuf, ct->argv, why,
                        whylen);
}

/* Mode (b): the weft server's answer says where to go and whom to trust. */
static int build_weft(struct client_tunnel *ct,
                      const struct weft_tunnel_info *t, char *why,
                      size_t whylen)
{
  const struct autossh_conf *conf = ct->as->conf;
  const char *user = weft_tunnel_param(t, "ssh_user"), *host = weft_tunnel_param(t, "ssh_host");
  const char *port = weft_tunnel_param(t, "ssh_port"), *fwd = weft_tunnel_param(t, "forward_port");
  const char *host_key = weft_tunnel_param(t, "ssh_host_key");
  if (!host || !*host)
    host = t->server_host;
  long p = port ? strtol(port, NULL, 10) : 0, f = fwd ? strtol(fwd, NULL, 10) : 0;
  if (!user || !host || !host_key || p < 1 || p > 65535 || f < 1 ||
      f > 65535) {
    snprintf(why, whylen, "the server's answer lacks the ssh parameters "
                          "(ssh_user, ssh_port, ssh_host_key, forward_port)");
    return -1;
  }
  char identity[4200], known[4200];
  if (local_is_tcp(t, why, whylen) != 0)
    return -1;
  if (!ssh_host_ok(host)) {
    snprintf(why, whylen, "the server named a bad ssh host");
    return -1;
  }
  snprintf(identity, sizeof identity, "%s/id_ed25519", ct->key_dir);
  snprintf(known, sizeof known, "%s/known_hosts", ct->key_dir);
  if (keys_write_known_hosts(known, host, (uint16_t)p, host_key, why,
                             whylen) != 0)
    return -1;
  struct ssh_target target = target_from_conf(conf);
  target.user = user;
  target.host = host;
  target.port = (uint16_t)p;
  target.remote_bind = "127.0.0.1";
  target.remote_port = (uint16_t)f;
  target.local_host = t->local_host;
  target.local_port = t->local_port;
  target.identity = identity;
  target.known_hosts = known;
  snprintf(ct->where, sizeof ct->where,
           "%s@%s:%ld forwards to the weft server's public port", user, host,
           p);
  return ssh_build_argv(&target, ct->argbuf, sizeof ct->argbuf, ct->argv, why,
                        whylen);
}

/* ---- the plugin ops ---- */

int client_prepare(struct autossh *as, const struct weft_tunnel_info *t,
                   void **tunnel_ctx)
{
  const struct weft_host *h = as->host;
  const struct autossh_tunnel_conf *tc = t->tunnel_config;
  struct client_tunnel *ct = tunnel_new(as, t);
  if (!ct)
    return WEFT_ENOMEM;
  char why[512];
  if (tc && tc->bastion) {
    /* Mode (a): check it all now, before anything runs. */
    struct weft_tunnel_info probe = *t;
    probe.id = ct->label;
    if (build_plain(ct, &probe, why, sizeof why) != 0) {
      h->log(h, WEFT_LOG_ERROR, "tunnel %s: %s", ct->label, why);
      free(ct);
      return WEFT_ECONFIG;
    }
    *tunnel_ctx = ct;
    return WEFT_STANDALONE;
  }
  /* Mode (b): a key pair of the tunnel's own; the server gets the public
   * half and authorises it for this tunnel's port only. */
  if (!h->state_dir) {
    h->log(h, WEFT_LOG_ERROR, "tunnel %s: no state directory for its key",
           ct->label);
    free(ct);
    return WEFT_ENOTSUP;
  }
  char pub[1024];
  if (keys_generate(as->conf->ssh_keygen_path, h->state_dir, ct->key_dir,
                    sizeof ct->key_dir, pub, sizeof pub, why,
                    sizeof why) != 0) {
    h->log(h, WEFT_LOG_ERROR, "tunnel %s: %s", ct->label, why);
    free(ct);
    return WEFT_EIO;
  }
  ct->weft_bastion = true;
  t->add_param(t->param_ctx, "ssh_public_key", pub);
  *tunnel_ctx = ct;
  return 0;
}

int client_open(struct autossh *as, const struct weft_tunnel_info *t,
                void **tunnel_ctx)
{
  const struct weft_host *h = as->host;
  struct client_tunnel *ct = *tunnel_ctx;
  if (!ct) { /* a core without client_tunnel_prepare (ABI < 1.2) */
    h->log(h, WEFT_LOG_ERROR, "this weft is too old for the autossh "
                              "transport (needs plugin ABI 1.2)");
    return WEFT_ENOTSUP;
  }
  snprintf(ct->id, sizeof ct->id, "%s", t->id);
  if (!t->name)
    snprintf(ct->label, sizeof ct->label, "%s", t->id);
  char why[512];
  int rc = ct->weft_bastion ? build_weft(ct, t, why, sizeof why)
                            : build_plain(ct, t, why, sizeof why);
  if (rc != 0) {
    h->log(h, WEFT_LOG_ERROR, "tunnel %s: %s", ct->label, why);
    free_tunnel(ct);
    *tunnel_ctx = NULL;
    return WEFT_ECONFIG;
  }
  uv_timer_init(h->loop, &ct->timer);
  ct->timer.data = ct;
  ct->handles = 1;
  ct->next = as->tunnels;
  as->tunnels = ct;
  h->log(h, WEFT_LOG_INFO, "tunnel %s: ssh %s", ct->label, ct->where);
  spawn_ssh(ct);
  return 0;
}

static void on_stop_grace(uv_timer_t *t)
{
  struct client_tunnel *ct = t->data;
  if (ct->running && !ct->exited)
    uv_process_kill(&ct->proc, SIGKILL);
}

void client_close(struct autossh *as, void *tunnel_ctx)
{
  (void)as;
  struct client_tunnel *ct = tunnel_ctx;
  if (!ct)
    return;
  if (!ct->handles) { /* prepared, never opened */
    free_tunnel(ct);
    return;
  }
  ct->closing = true;
  uv_timer_stop(&ct->timer);
  if (!ct->running) {
    finish_close(ct);
  } else if (ct->exited) {
    child_done(ct); /* was waiting for the end of its stderr */
  } else {
    uv_process_kill(&ct->proc, SIGTERM);
    uv_timer_start(&ct->timer, on_stop_grace, STOP_GRACE_MS, 0);
  }
}

void client_abandon_all(struct autossh *as)
{
  while (as->tunnels) {
    struct client_tunnel *ct = as->tunnels;
    as->tunnels = ct->next;
    ct->as = NULL; /* the host table goes with the plugin */
    ct->closing = true;
    uv_timer_stop(&ct->timer);
    if (!ct->running)
      finish_close(ct);
    else if (ct->exited)
      child_done(ct);
    else
      uv_process_kill(&ct->proc, SIGKILL);
  }
}
