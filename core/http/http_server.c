#include "http/http_server.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_reader.h"
#include "net/listen.h"
#include "base/log.h"
#include "net/stream.h"

/* How long a connection that was answered "Connection: close" may linger
 * before it is cut, if the client does not close it itself. */
#define CLOSE_LINGER_MS 2000

struct http_listener {
  union {
    uv_tcp_t handle;
    uv_pipe_t local; /* a Unix socket: listen_local */
  };
  bool is_local;     /* which of the two */
  struct http_server *srv;
  struct http_listener *next;
};

struct http_conn {
  struct weft_stream *stream; /* NULL once closed or handed over */
  uv_timer_t timer;
  struct http_server *srv;
  struct http_conn *prev, *next;
  struct http_reader reader;
  char peer_ip[46];
  char local_ip[46];
  uint16_t local_port;
  bool local;                 /* over the Unix socket, from this machine */
  bool closing;               /* no more requests are read */
  /* An upgrade a handler accepted, done once the reader stops. */
  void (*take_over)(void *arg, const struct http_request *req,
                    struct weft_stream *conn);
  void *take_over_arg;
  /* Requests read but not yet parsed while the client does not read our
   * answers (backpressure); the socket is paused meanwhile. */
  char *held;
  size_t held_len;
  /* For shedding at the global cap: idle ones go first, oldest first,
   * and those that never completed a request before those that did. */
  uint64_t last_active_ms;
  unsigned requests;          /* completed */
  bool in_request;            /* a request has begun and is not complete */
  /* A request whose handler answers later: reading waits for it. */
  struct http_pending *pending;
};

struct http_pending {
  struct http_conn *conn;     /* NULL once the connection is gone */
  bool keep_alive;
};

void http_server_init(struct http_server *srv, uv_loop_t *loop,
                      http_handler_fn handler, void *handler_data)
{
  memset(srv, 0, sizeof *srv);
  srv->loop = loop;
  srv->handler = handler;
  srv->handler_data = handler_data;
  http_limits_default(&srv->limits);
}

/* ---- connection lifetime ---- */

static void maybe_server_closed(struct http_server *srv)
{
  if (srv->closing && !srv->listeners && !srv->conns && srv->on_closed) {
    void (*cb)(struct http_server *) = srv->on_closed;
    srv->on_closed = NULL;
    cb(srv);
  }
}

static void timer_closed(uv_handle_t *h)
{
  struct http_conn *c = h->data;
  struct http_server *srv = c->srv;
  /* The timer closes only once the stream is gone (conn_release). */
  assert(!c->stream && c->closing && srv->conn_count > 0);
  assert(c->prev ? c->prev->next == c : srv->conns == c);
  if (c->prev)
    c->prev->next = c->next;
  else
    srv->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  srv->conn_count--;
  if (c->pending)
    c->pending->conn = NULL; /* its answer will find nobody */
  http_reader_free(&c->reader);
  free(c->held);
  free(c);
  maybe_server_closed(srv);
}

/* The stream is gone (closed, or handed to someone else): the connection
 * follows once its timer has closed. */
static void conn_release(struct http_conn *c)
{
  c->stream = NULL;
  c->closing = true;
  if (!uv_is_closing((uv_handle_t *)&c->timer))
    uv_close((uv_handle_t *)&c->timer, timer_closed);
}

static void conn_close(struct http_conn *c)
{
  c->closing = true;
  if (c->stream)
    stream_close(c->stream); /* on_closed releases the connection */
  else
    conn_release(c);
}

static void conn_timed_out(uv_timer_t *t)
{
  struct http_conn *c = t->data;
  log_debug("closing control connection from %s: timed out", c->peer_ip);
  conn_close(c);
}

static void arm_timer(struct http_conn *c, uint64_t ms)
{
  uv_timer_start(&c->timer, conn_timed_out, ms, 0);
}

/* Writes the answer; returns what the connection now owes its client
 * (bytes queued, not yet taken by the socket). */
static size_t send_response(struct http_conn *c, struct http_response *resp)
{
  assert(c->stream); /* answers go only on a connection still ours */
  struct strbuf out = {0};
  bool body = resp->status != 204 && resp->status != 101;
  strbuf_addf(&out, "HTTP/1.1 %d %s\r\n", resp->status,
              http_status_text(resp->status));
  if (body)
    strbuf_addf(&out,
                "Content-Type: %s\r\n"
                "Content-Length: %zu\r\n",
                resp->content_type ? resp->content_type : "application/json",
                resp->body.len);
  strbuf_addf(&out,
              "Cache-Control: no-store\r\n"
              "X-Content-Type-Options: nosniff\r\n"
              "%s%s\r\n",
              strbuf_str(&resp->headers),
              resp->close ? "Connection: close\r\n" : "");
  if (body)
    strbuf_add(&out, strbuf_str(&resp->body), resp->body.len);
  if (out.oom) {
    strbuf_free(&out);
    conn_close(c);
    return 0;
  }
  size_t owed = stream_write(c->stream, out.data, out.len);
  strbuf_free(&out);
  if (resp->close) {
    /* No more requests: FIN after the answer, and a short wait for the
     * client to close its side. */
    c->closing = true;
    stream_shutdown(c->stream);
    arm_timer(c, CLOSE_LINGER_MS);
  }
  return owed;
}

static void reject(struct http_conn *c, int status, const char *code,
                   const char *message)
{
  struct http_response resp = {0};
  http_response_error(&resp, status, code, message);
  resp.close = true;
  send_response(c, &resp);
  strbuf_free(&resp.body);
  strbuf_free(&resp.headers);
}

/* ---- requests ---- */

static void request_begins(void *arg)
{
  struct http_conn *c = arg;
  c->in_request = true;
  arm_timer(c, c->srv->limits.header_timeout_ms);
}

/* The handler answers later: no request after this one is read (answers
 * go out in order), and no deadline runs meanwhile (the work is bounded
 * by the handler). */
static void defer(struct http_conn *c, struct http_response *resp,
                  bool keep_alive)
{
  assert(!c->pending);
  struct http_pending *p = calloc(1, sizeof *p);
  if (p) {
    p->conn = c;
    p->keep_alive = keep_alive;
    c->pending = p;
    http_reader_pause(&c->reader);
    stream_pause(c->stream, true);
    uv_timer_stop(&c->timer);
  } else {
    conn_close(c);
  }
  resp->later(resp->later_arg, p);
}

static void conn_drained(void *ctx);

void http_pending_answer(struct http_pending *p, struct http_response *resp)
{
  struct http_conn *c = p ? p->conn : NULL;
  bool keep_alive = p && p->keep_alive;
  free(p);
  if (c) {
    c->pending = NULL;
    if (c->stream && !c->closing) {
      if (!keep_alive)
        resp->close = true;
      size_t owed = send_response(c, resp);
      if (!c->closing) {
        arm_timer(c, c->srv->limits.idle_timeout_ms);
        if (!c->held)
          stream_pause(c->stream, false);
        else if (owed <= WEFT_PIPE_HIGH_WATER)
          conn_drained(c); /* what came after the request goes on */
      }
    }
  }
  strbuf_free(&resp->body);
  strbuf_free(&resp->headers);
}

static void request_complete(void *arg, struct http_request *req,
                             bool keep_alive)
{
  struct http_conn *c = arg;
  c->in_request = false;
  c->requests++;
  if (c->closing)
    return;
  assert(c->stream && !c->take_over); /* the reader stops at an upgrade */
  /* The reader knows nothing of sockets: say where the request came from. */
  memcpy(req->peer_ip, c->peer_ip, sizeof req->peer_ip);
  memcpy(req->local_ip, c->local_ip, sizeof req->local_ip);
  req->local_port = c->local_port;
  req->local = c->local;
  int n = stream_tls_binding(c->stream, req->binding, sizeof req->binding);
  req->tls = n > 0;
  req->binding_len = n > 0 ? (size_t)n : 0;
  struct http_response resp = {.status = 200};
  c->srv->handler(c->srv->handler_data, req, &resp);
  if (resp.take_over) {
    c->take_over = resp.take_over; /* once the reader has stopped */
    c->take_over_arg = resp.take_over_arg;
    if (!req->upgrade) /* (an upgrade stops the reader by itself) */
      http_reader_pause(&c->reader);
  } else if (resp.later) {
    defer(c, &resp, keep_alive && !req->upgrade);
  } else {
    if (!keep_alive || req->upgrade)
      resp.close = true;
    /* A client that pipelines requests and reads no answers is read no
     * further until it has taken them: what we owe it stays bounded. */
    if (send_response(c, &resp) > WEFT_PIPE_HIGH_WATER)
      http_reader_pause(&c->reader);
    if (!c->closing)
      arm_timer(c, c->srv->limits.idle_timeout_ms);
  }
  strbuf_free(&resp.body);
  strbuf_free(&resp.headers);
}

/* The request's connection goes to take_over with the bytes after the
 * request, which begin at `at` of the last feed. */
static void hand_over(struct http_conn *c, const char *data, size_t len,
                      size_t at)
{
  struct http_reader *r = &c->reader;
  struct weft_stream *s = c->stream;
  assert(s && c->take_over && !c->closing);
  if (at > len)
    at = len;
  stream_handover(s, data + at, len - at);
  /* A pause for backpressure was ours: the new owner reads as it likes.
   * (Handed over, the stream reads nothing until the owner starts it.) */
  stream_pause(s, false);
  conn_release(c);
  /* The request is valid during the call; the new owner copies what it
   * keeps. */
  c->take_over(c->take_over_arg, &r->req, s);
}

static void conn_feed(struct http_conn *c, const char *data, size_t len)
{
  size_t used;
  int status = http_reader_feed(&c->reader, data, len, &used);
  if (status) {
    static const struct {
      int status;
      const char *code;
    } codes[] = {{413, "too_large"}, {431, "headers_too_large"},
                 {500, "internal"}};
    const char *code = "bad_request";
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
      if (codes[i].status == status)
        code = codes[i].code;
    reject(c, status, code, http_reader_error(&c->reader));
    return;
  }
  if (c->take_over) { /* an upgrade, or a response the handler streams */
    hand_over(c, data, len,
              c->reader.upgraded ? c->reader.upgrade_at : used);
    return;
  }
  if (used < len && !c->closing) {
    /* Paused: keep the rest (at most one read) until the client reads. */
    char *rest = malloc(len - used);
    if (!rest) {
      conn_close(c);
      return;
    }
    memcpy(rest, data + used, len - used);
    assert(!c->held);
    c->held = rest;
    c->held_len = len - used;
    stream_pause(c->stream, true);
  }
}

static void conn_read(void *ctx, const void *data, size_t len)
{
  struct http_conn *c = ctx;
  if (c->closing)
    return;
  assert(c->stream); /* the stream reads for us only while we have it */
  assert(!c->held);  /* reading is paused while requests are held */
  c->last_active_ms = uv_now(c->srv->loop);
  conn_feed(c, data, len);
}

/* The client took what we owed it: the held requests go on. */
static void conn_drained(void *ctx)
{
  struct http_conn *c = ctx;
  if (!c->held || c->closing || !c->stream || c->pending)
    return;
  char *held = c->held;
  size_t len = c->held_len;
  c->held = NULL;
  c->held_len = 0;
  conn_feed(c, held, len);
  free(held);
  if (!c->held && c->stream && !c->closing && !c->pending)
    stream_pause(c->stream, false);
}

/* The client finished sending: answer what it asked, then FIN. */
static void conn_eof(void *ctx)
{
  struct http_conn *c = ctx;
  c->closing = true;
  if (c->stream) {
    stream_shutdown(c->stream);
    arm_timer(c, CLOSE_LINGER_MS);
  }
}

static void conn_closed(void *ctx, int err)
{
  (void)err;
  conn_release(ctx);
}

static const struct weft_stream_cbs conn_cbs = {
    .on_read = conn_read,
    .on_eof = conn_eof,
    .on_closed = conn_closed,
    .on_drained = conn_drained,
};

/* Live (not closing) connections in all, and from ip: one walk per
 * accepted connection. */
static unsigned live_conns(const struct http_server *srv, const char *ip,
                           unsigned *from_ip)
{
  unsigned n = 0;
  *from_ip = 0;
  for (const struct http_conn *c = srv->conns; c; c = c->next)
    if (!c->closing) {
      n++;
      *from_ip += !strcmp(c->peer_ip, ip);
    }
  return n;
}

/* At the global cap, room for a newcomer: the idle connection (no
 * request under way) that never completed a request and has been quiet
 * longest goes first, then the quietest idle one. false if every other
 * connection is in the middle of a request. */
static bool shed_idle(struct http_server *srv, const struct http_conn *keep)
{
  struct http_conn *pick = NULL;
  for (struct http_conn *c = srv->conns; c; c = c->next) {
    if (c == keep || c->closing || c->in_request || !c->stream)
      continue;
    if (!pick || (c->requests == 0) > (pick->requests == 0) ||
        ((c->requests == 0) == (pick->requests == 0) &&
         c->last_active_ms < pick->last_active_ms))
      pick = c;
  }
  if (!pick)
    return false;
  log_debug("control port at its cap: closing an idle connection from %s",
            pick->peer_ip);
  conn_close(pick);
  return true;
}

/* Refuses a connection: 429 and close, with one warning per 10 s. */
static void refuse_conn(struct http_conn *c, const char *why)
{
  static struct log_limit limit = {.window_ms = 10000};
  unsigned missed;
  if (log_limited(&limit, uv_now(c->srv->loop), &missed))
    log_warn("refusing control connection from %s: %s (and %u more refused "
             "in the last 10 s)",
             c->peer_ip, why, missed);
  struct http_response resp = {0};
  http_response_error(&resp, 429, "too_many_connections", why);
  strbuf_addf(&resp.headers, "Retry-After: 1\r\n");
  resp.close = true;
  send_response(c, &resp);
  strbuf_free(&resp.body);
  strbuf_free(&resp.headers);
}

/* Takes a connection, plain or with TLS already begun. */
static void adopt(struct http_server *srv, struct weft_stream *s, bool sniff,
                  bool local)
{
  struct http_conn *c = calloc(1, sizeof *c);
  if (!c) {
    stream_discard(s);
    return;
  }
  c->srv = srv;
  c->stream = s;
  http_reader_init(&c->reader, &srv->limits, request_begins, request_complete,
                   c);
  uv_timer_init(srv->loop, &c->timer);
  c->timer.data = c;
  c->next = srv->conns;
  if (c->next)
    c->next->prev = c;
  srv->conns = c;
  srv->conn_count++;
  struct weft_stream_info info = {.struct_size = sizeof info};
  stream_info(s, &info);
  memcpy(c->peer_ip, info.peer_ip, sizeof c->peer_ip);
  memcpy(c->local_ip, info.local_ip, sizeof c->local_ip);
  c->local_port = info.local_port;
  c->local = local;
  if (sniff && srv->tls_ctx)
    stream_set_tls_sniff(s, srv->tls_ctx);
  c->last_active_ms = uv_now(srv->loop);
  stream_start(s, &conn_cbs, c);
  unsigned from_ip, live = live_conns(srv, c->peer_ip, &from_ip);
  if (from_ip > srv->limits.max_conns_per_ip) {
    refuse_conn(c, "too many connections from your address "
                   "(max_conns_per_ip)");
    return;
  }
  if (live > srv->limits.max_conns && !shed_idle(srv, c)) {
    refuse_conn(c, "the server is at its connection limit (max_conns), "
                   "every connection busy");
    return;
  }
  arm_timer(c, srv->limits.header_timeout_ms);
}

/* A TCP listener's connection may speak TLS (sniffed); a Unix socket's
 * is plain and local. */
static void on_connection(uv_stream_t *server, int status)
{
  struct http_listener *l = server->data;
  struct http_server *srv = l->srv;
  if (status < 0 || srv->closing)
    return;
  struct weft_stream *s = l->is_local ? stream_accept_local(srv->loop, server)
                                      : stream_accept(srv->loop, server);
  if (s)
    adopt(srv, s, !l->is_local, l->is_local);
}

void http_server_adopt(struct http_server *srv, struct weft_stream *s)
{
  if (srv->closing) {
    stream_discard(s);
    return;
  }
  adopt(srv, s, false, false);
}

int http_server_listen(struct http_server *srv, const char *host,
                       uint16_t port)
{
  struct http_listener *l = calloc(1, sizeof *l);
  if (!l)
    return UV_ENOMEM;
  l->srv = srv;
  l->next = srv->listeners;
  srv->listeners = l;
  /* on failure the listener is closed with the server */
  return listen_tcp(srv->loop, &l->handle, host, port, on_connection, l);
}

int http_server_listen_local(struct http_server *srv, const char *path)
{
  struct http_listener *l = calloc(1, sizeof *l);
  if (!l)
    return UV_ENOMEM;
  l->srv = srv;
  l->next = srv->listeners;
  srv->listeners = l;
  l->is_local = true;
  return listen_local(srv->loop, &l->local, path, on_connection, l);
}

static void listener_closed(uv_handle_t *h)
{
  struct http_listener *l = h->data;
  struct http_server *srv = l->srv;
  struct http_listener **pp = &srv->listeners;
  while (*pp && *pp != l)
    pp = &(*pp)->next;
  if (*pp)
    *pp = l->next;
  free(l);
  maybe_server_closed(srv);
}

void http_server_close(struct http_server *srv,
                       void (*on_closed)(struct http_server *srv))
{
  srv->closing = true;
  srv->on_closed = on_closed;
  for (struct http_listener *l = srv->listeners; l; l = l->next)
    if (!uv_is_closing((uv_handle_t *)&l->handle))
      uv_close((uv_handle_t *)&l->handle, listener_closed);
  for (struct http_conn *c = srv->conns; c; c = c->next)
    conn_close(c);
  maybe_server_closed(srv);
}
