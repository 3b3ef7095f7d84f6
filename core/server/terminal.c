#include "server/terminal.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>

/* The websocket transport's RFC 6455 layer: written against the SDK's
 * host table alone, so the server uses it as it is (plugins/websocket). */
#include <ws_conn.h>

#include <weft/errors.h>

#include "base/log.h"
#include "net/peer_process.h"
#include "net/stream.h"
#include "tunnel/tunnel_ports.h"
#include "tunnel/tunnels.h"

/* Output the browser has not read yet before the terminal stops reading
 * ssh, and keystrokes ssh has not read before the terminal is cut off
 * (typing never comes near it; a paste of a megabyte might). */
#define OUTPUT_HIGH (256 * 1024)
#define INPUT_MAX (1024 * 1024)
#define KILL_AFTER_MS 2000      /* SIGTERM, then SIGKILL */
#define RELAY_WAIT_MS 20000     /* for ssh to connect to its relay */
#define RELAY_STRANGERS_MAX 8   /* connections from others it turns away */
#define EXIT_GRACE_MS 1000      /* between ssh's exit and its terminal's end */
#define TOUCH_EVERY_MS 10000    /* console session activity, at most */

enum phase { WAITING, RUNNING, ENDING };

struct terminal {
  struct terminals *ts;
  struct terminal *prev, *next;
  struct terminal_request rq;
  enum phase phase;
  struct ws_conn *ws;         /* NULL once closed */
  struct weft_stream *pty;    /* ssh's terminal; NULL until, and once over */
  int pty_fd;                 /* its descriptor, for window sizes */
  uv_process_t proc;
  bool proc_started, proc_exited, proc_closed;
  int64_t exit_status;
  int exit_signal;
  uv_tcp_t *relay;            /* listening for ssh; NULL when not */
  uint16_t relay_port;
  unsigned strangers;         /* relay connections refused */
  uv_timer_t tick;
  bool tick_closed;
  uint64_t opened_ms, last_ms, touched_ms, exited_ms, kill_at_ms;
  uint64_t pty_closed_ms;     /* 0 while ssh's terminal is open */
  uint64_t typed, shown;      /* bytes: keystrokes, output */
  bool audited_open;
  char why[200];
};

static const char *const stop_sentence = "the server is stopping";

/* ---- freeing: once every handle and stream is gone ---- */

static void maybe_free(struct terminal *t)
{
  if (t->ws || t->pty || t->relay || !t->tick_closed ||
      (t->proc_started && !t->proc_closed))
    return;
  struct terminals *ts = t->ts;
  if (t->prev)
    t->prev->next = t->next;
  else
    ts->live = t->next;
  if (t->next)
    t->next->prev = t->prev;
  assert(ts->count > 0);
  ts->count--;
  free(t);
}

static void tick_closed(uv_handle_t *h)
{
  struct terminal *t = h->data;
  t->tick_closed = true;
  maybe_free(t);
}

static void proc_closed(uv_handle_t *h)
{
  struct terminal *t = h->data;
  t->proc_closed = true;
  maybe_free(t);
}

static void relay_closed(uv_handle_t *h)
{
  struct terminal *t = h->data;
  free(h);
  t->relay = NULL;
  maybe_free(t);
}

static void relay_stop(struct terminal *t)
{
  if (t->relay && !uv_is_closing((uv_handle_t *)t->relay))
    uv_close((uv_handle_t *)t->relay, relay_closed);
}

/* The tick's last round: nothing left to watch. */
static void maybe_stop_ticking(struct terminal *t)
{
  if (t->phase == ENDING && !t->ws && !t->pty &&
      (!t->proc_started || t->proc_exited) &&
      !uv_is_closing((uv_handle_t *)&t->tick))
    uv_close((uv_handle_t *)&t->tick, tick_closed);
}

/* ---- the end ---- */

static void human_bytes(uint64_t n, char *out, size_t len)
{
  if (n < 10 * 1024)
    snprintf(out, len, "%llu bytes", (unsigned long long)n);
  else
    snprintf(out, len, "%.1f KiB", (double)n / 1024);
}

static void audit_closed(struct terminal *t)
{
  if (!t->audited_open)
    return;
  char typed[32], shown[32], detail[400];
  human_bytes(t->typed, typed, sizeof typed);
  human_bytes(t->shown, shown, sizeof shown);
  uint64_t secs = (uv_now(t->ts->loop) - t->opened_ms) / 1000;
  snprintf(detail, sizeof detail, "after %llu s, %s typed, %s shown: %s",
           (unsigned long long)secs, typed, shown, t->why);
  t->ts->hooks.audit(t->ts->hooks.arg, "terminal-closed", t->rq.device_id,
                     t->rq.tunnel_id, t->rq.actor, detail);
}

/* Ends the terminal: says why to the browser and closes everything; ssh
 * gets SIGHUP (its terminal goes), SIGTERM, then SIGKILL. */
static void term_end(struct terminal *t, const char *why)
{
  if (t->phase == ENDING)
    return;
  t->phase = ENDING;
  snprintf(t->why, sizeof t->why, "%s", why);
  log_info("terminal of %s to %s port %u: %s", t->rq.actor, t->rq.device_id,
           (unsigned)t->rq.port, why);
  audit_closed(t);
  if (t->ws) {
    uint8_t msg[sizeof t->why + 1];
    size_t n = strlen(t->why);
    msg[0] = TERMINAL_MSG_END;
    memcpy(msg + 1, t->why, n);
    struct iovec piece = {msg, n + 1};
    ws_conn_sendv(t->ws, &piece, 1);
    ws_conn_close(t->ws, 1000, "");
  }
  if (t->pty)
    stream_close(t->pty);
  relay_stop(t);
  if (t->proc_started && !t->proc_exited) {
    uv_process_kill(&t->proc, SIGTERM);
    t->kill_at_ms = uv_now(t->ts->loop) + KILL_AFTER_MS;
  }
  maybe_stop_ticking(t);
}

static void exit_sentence(const struct terminal *t, char *out, size_t len)
{
  if (t->exit_signal)
    snprintf(out, len, "ssh was ended by signal %d", t->exit_signal);
  else if (t->exit_status == 0)
    snprintf(out, len, "the session ended");
  else if (t->exit_status == 255)
    snprintf(out, len, "ssh could not connect or log in, or the connection "
                       "broke (status 255)");
  else
    snprintf(out, len, "the session ended with status %lld",
             (long long)t->exit_status);
}

/* ssh exited and its output is all read (or had its grace). */
static void finish_if_over(struct terminal *t)
{
  if (!t->proc_exited || t->phase == ENDING)
    return;
  if (t->pty && uv_now(t->ts->loop) - t->exited_ms < EXIT_GRACE_MS)
    return;
  char why[160];
  exit_sentence(t, why, sizeof why);
  term_end(t, why);
}

/* ---- ssh and its terminal ---- */

static void ssh_exited(uv_process_t *p, int64_t status, int signal)
{
  struct terminal *t = p->data;
  t->proc_exited = true;
  t->exit_status = status;
  t->exit_signal = signal;
  t->exited_ms = uv_now(t->ts->loop);
  uv_close((uv_handle_t *)p, proc_closed);
  finish_if_over(t);
  maybe_stop_ticking(t);
}

static void pty_read(void *ctx, const void *data, size_t len)
{
  struct terminal *t = ctx;
  t->shown += len;
  t->last_ms = uv_now(t->ts->loop);
  if (!t->ws)
    return;
  uint8_t type = TERMINAL_MSG_DATA;
  struct iovec pieces[2] = {{&type, 1}, {(void *)data, len}};
  if (ws_conn_sendv(t->ws, pieces, 2) > OUTPUT_HIGH)
    stream_pause(t->pty, true); /* until the browser reads (on_drained) */
}

static void pty_eof(void *ctx)
{
  struct terminal *t = ctx;
  stream_close(t->pty); /* a terminal has no half-close */
}

static void pty_closed(void *ctx, int err)
{
  struct terminal *t = ctx;
  (void)err; /* EIO: ssh's side closed, the usual end */
  t->pty = NULL;
  /* ssh's exit comes next (or came): that ends the terminal. */
  t->pty_closed_ms = uv_now(t->ts->loop);
  finish_if_over(t);
  maybe_stop_ticking(t);
  maybe_free(t);
}

static const struct weft_stream_cbs pty_cbs = {
    .on_read = pty_read,
    .on_eof = pty_eof,
    .on_closed = pty_closed,
};

/* ---- the relay: ssh's one connection, into the device's tunnel ---- */

static void relay_connection(uv_stream_t *server, int status)
{
  struct terminal *t = server->data;
  if (status < 0 || t->phase != RUNNING)
    return;
  struct weft_stream *s = stream_accept(t->ts->loop, server);
  if (!s)
    return;
  struct weft_stream_info info = {.struct_size = sizeof info};
  stream_info(s, &info);
  if (!peer_is_process(t->proc.pid, info.peer_port, t->relay_port)) {
    log_warn("terminal relay on 127.0.0.1:%u: a connection from port %u "
             "that is not the terminal's ssh; refused",
             (unsigned)t->relay_port, (unsigned)info.peer_port);
    stream_discard(s);
    if (++t->strangers >= RELAY_STRANGERS_MAX)
      term_end(t, "other programs of the server kept connecting to the "
                  "terminal's relay");
    return;
  }
  relay_stop(t); /* one connection: ssh's */
  struct tunnel *tun = tunnel_service_find(t->ts->tunnels, t->rq.tunnel_id);
  int rc = tun ? tunnel_ports_relay(tun, s) : WEFT_ENOENT;
  if (rc != 0) {
    stream_discard(s); /* ssh hears the close and says so */
    log_info("terminal to %s: the tunnel %s did not carry it: %s",
             t->rq.device_id, t->rq.tunnel_id,
             tun ? weft_strerror(rc) : "it ended");
  }
}

/* Listens on 127.0.0.1 (a free port) for ssh: 0, or a libuv code. */
static int relay_listen(struct terminal *t)
{
  uv_tcp_t *l = calloc(1, sizeof *l);
  if (!l)
    return UV_ENOMEM;
  uv_tcp_init(t->ts->loop, l);
  l->data = t;
  t->relay = l;
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", 0, &sa);
  struct sockaddr_storage bound;
  int blen = sizeof bound;
  int rc = uv_tcp_bind(l, (const struct sockaddr *)&sa, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)l, 4, relay_connection);
  if (rc == 0)
    rc = uv_tcp_getsockname(l, (struct sockaddr *)&bound, &blen);
  if (rc != 0)
    return rc;
  t->relay_port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
  return 0;
}

static void start_ssh(struct terminal *t, uint16_t cols, uint16_t rows)
{
  struct terminals *ts = t->ts;
  bool relayed = !t->rq.address[0];
  char err[256];
  int rc = relayed ? relay_listen(t) : 0;
  if (rc != 0) {
    snprintf(err, sizeof err, "cannot listen for ssh on 127.0.0.1: %s",
             uv_strerror(rc));
    return term_end(t, err);
  }
  struct terminal_ssh_target target = {
      .host = relayed ? "127.0.0.1" : t->rq.address,
      .port = relayed ? t->relay_port : t->rq.port,
      .user = t->rq.ssh_user,
      .device_id = t->rq.device_id,
      .device_port = t->rq.port,
      .known_hosts = ts->known_hosts,
      .home = ts->home,
  };
  int master = -1;
  bool spawned;
  t->proc.data = t;
  rc = terminal_ssh_spawn(ts->loop, &t->proc, &target, cols, rows, ssh_exited,
                          &master, &spawned, err, sizeof err);
  if (rc != 0) {
    if (spawned) { /* no exit to wait for, a handle to close */
      t->proc_started = true;
      t->proc_exited = true;
      uv_close((uv_handle_t *)&t->proc, proc_closed);
    }
    return term_end(t, err);
  }
  t->proc_started = true;
  t->pty_fd = master;
  t->pty = stream_open_fd(ts->loop, master, "terminal");
  if (!t->pty || stream_start(t->pty, &pty_cbs, t) != 0) {
    if (t->pty)
      stream_discard(t->pty);
    t->pty = NULL;
    return term_end(t, "out of memory");
  }
  t->phase = RUNNING;
  t->opened_ms = t->last_ms = uv_now(ts->loop);
  t->audited_open = true;
  char detail[300];
  snprintf(detail, sizeof detail, "ssh %s@ port %u%s%s, from %s",
           t->rq.ssh_user, (unsigned)t->rq.port,
           relayed ? " through tunnel " : " at ",
           relayed ? t->rq.tunnel_id : t->rq.address, t->rq.peer_ip);
  ts->hooks.audit(ts->hooks.arg, "terminal-opened", t->rq.device_id,
                  t->rq.tunnel_id, t->rq.actor, detail);
}

/* ---- the browser ---- */

static void on_start(struct terminal *t, const struct terminal_msg *m)
{
  char csrf[TERMINAL_CSRF_MAX + 1];
  memcpy(csrf, m->bytes, m->len);
  csrf[m->len] = '\0';
  if (t->rq.session[0] &&
      !t->ts->hooks.session_ok(t->ts->hooks.arg, t->rq.session, csrf, true))
    return term_end(t, "this terminal did not come from the console's page "
                       "(no valid CSRF token)");
  start_ssh(t, m->cols, m->rows);
}

static void on_message(void *arg, const uint8_t *data, size_t len)
{
  struct terminal *t = arg;
  if (t->phase == ENDING)
    return;
  struct terminal_msg m;
  const char *why = terminal_msg_decode(data, len, &m);
  if (why)
    return term_end(t, why);
  if (t->phase == WAITING)
    return m.type == TERMINAL_MSG_START
               ? on_start(t, &m)
               : term_end(t, "the terminal must start with a start message");
  uint64_t now = uv_now(t->ts->loop);
  switch (m.type) {
  case TERMINAL_MSG_DATA:
    t->typed += m.len;
    t->last_ms = now;
    if (t->rq.session[0] && now - t->touched_ms >= TOUCH_EVERY_MS) {
      t->touched_ms = now;
      t->ts->hooks.session_ok(t->ts->hooks.arg, t->rq.session, NULL, true);
    }
    if (t->pty && stream_write(t->pty, m.bytes, m.len) > INPUT_MAX)
      term_end(t, "more was typed than the device takes");
    return;
  case TERMINAL_MSG_SIZE:
    if (t->pty) {
      struct winsize ws = {.ws_col = m.cols, .ws_row = m.rows};
      ioctl(t->pty_fd, TIOCSWINSZ, &ws); /* the kernel tells ssh (SIGWINCH) */
    }
    return;
  default:
    return term_end(t, "the terminal was already started");
  }
}

static void on_drained(void *arg)
{
  struct terminal *t = arg;
  if (t->pty)
    stream_pause(t->pty, false);
}

static void on_ws_closed(void *arg, uint16_t code, const char *why)
{
  struct terminal *t = arg;
  (void)code, (void)why;
  t->ws = NULL;
  term_end(t, "the browser closed the terminal");
  maybe_stop_ticking(t);
  maybe_free(t);
}

static const struct ws_conn_cbs ws_cbs = {
    .on_message = on_message,
    .on_drained = on_drained,
    .on_closed = on_ws_closed,
};

/* ---- time: the start's wait, idleness, the session, the kill ---- */

static void on_tick(uv_timer_t *h)
{
  struct terminal *t = h->data;
  uint64_t now = uv_now(t->ts->loop);
  char why[200];
  switch (t->phase) {
  case WAITING:
    if (now - t->opened_ms >= TERMINAL_START_MS)
      term_end(t, "no start message came");
    break;
  case RUNNING:
    if (t->relay && now - t->opened_ms >= RELAY_WAIT_MS)
      relay_stop(t);
    if (t->rq.idle_s > 0 && now - t->last_ms >= (uint64_t)t->rq.idle_s * 1000) {
      snprintf(why, sizeof why,
               "nothing was typed or shown for %lld s (the device's idle "
               "timeout)",
               (long long)t->rq.idle_s);
      term_end(t, why);
    } else if (t->rq.session[0] &&
               !t->ts->hooks.session_ok(t->ts->hooks.arg, t->rq.session,
                                        NULL, false)) {
      term_end(t, "your console session ended");
    } else if (t->pty_closed_ms && !t->proc_exited &&
               now - t->pty_closed_ms >= EXIT_GRACE_MS) {
      term_end(t, "ssh's terminal closed");
    } else {
      finish_if_over(t);
    }
    break;
  case ENDING:
    if (t->proc_started && !t->proc_exited && t->kill_at_ms &&
        now >= t->kill_at_ms) {
      uv_process_kill(&t->proc, SIGKILL);
      t->kill_at_ms = 0;
    }
    break;
  }
}

void terminal_start(struct terminals *ts, const struct terminal_request *rq,
                    const struct ws_upgrade *up, struct weft_stream *conn)
{
  struct terminal *t = calloc(1, sizeof *t);
  if (!t) {
    ws_refuse(&ts->host.host, conn, 503, "out of memory");
    return;
  }
  t->ts = ts;
  t->rq = *rq;
  t->pty_fd = -1;
  if (ws_conn_accept(&ts->host.host, conn, up, &ws_cbs, t, &t->ws) != 0) {
    free(t); /* ws_conn_accept closed conn */
    return;
  }
  t->opened_ms = t->last_ms = uv_now(ts->loop);
  uv_timer_init(ts->loop, &t->tick);
  t->tick.data = t;
  uv_timer_start(&t->tick, on_tick, 1000, 1000);
  t->next = ts->live;
  if (t->next)
    t->next->prev = t;
  ts->live = t;
  ts->count++;
}

unsigned terminals_of(const struct terminals *ts, const char *user)
{
  unsigned n = 0;
  for (const struct terminal *t = ts->live; t; t = t->next)
    n += t->phase != ENDING && !strcmp(t->rq.user, user);
  return n;
}

bool terminals_init(struct terminals *ts, uv_loop_t *loop,
                    struct tunnel_service *tunnels, const char *state_dir,
                    char *why, size_t len)
{
  memset(ts, 0, sizeof *ts);
  ts->loop = loop;
  ts->tunnels = tunnels;
  host_binding_init(&ts->host, "terminal", loop);
  char dir[PATH_MAX];
  if (!realpath(state_dir, dir)) {
    snprintf(why, len, "cannot find %s: %s", state_dir, strerror(errno));
    return false;
  }
  if (strlen(dir) > sizeof ts->home - sizeof "/terminal") {
    snprintf(why, len, "the state directory's path is too long");
    return false;
  }
  snprintf(ts->home, sizeof ts->home, "%.4000s/terminal", dir);
  snprintf(ts->known_hosts, sizeof ts->known_hosts, "%s/known_hosts",
           ts->home);
  if (!terminal_ssh_path_ok(ts->known_hosts)) {
    snprintf(why, len, "the state directory's path has a character ssh "
                       "would read (a quote, backslash or %%) or is not "
                       "absolute");
    return false;
  }
  if (mkdir(ts->home, 0700) != 0 && errno != EEXIST) {
    snprintf(why, len, "cannot make %s: %s", ts->home, strerror(errno));
    return false;
  }
  ts->usable = true;
  return true;
}

void terminals_close(struct terminals *ts)
{
  for (struct terminal *t = ts->live, *next; t; t = next) {
    next = t->next; /* (frees come from the loop, later; still) */
    term_end(t, stop_sentence);
    if (t->ws)
      ws_conn_abort(t->ws);
    if (t->proc_started && !t->proc_exited) {
      uv_process_kill(&t->proc, SIGKILL);
      t->proc_exited = true; /* no waiting for it: the loop is ending */
      uv_close((uv_handle_t *)&t->proc, proc_closed);
    }
    if (!uv_is_closing((uv_handle_t *)&t->tick))
      uv_close((uv_handle_t *)&t->tick, tick_closed);
  }
}
