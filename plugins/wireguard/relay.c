#include "relay.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define READ_CHUNK (64 * 1024)
#define STR(x) #x
#define XSTR(x) STR(x)
#define RELAY_MAX_CONNS_TEXT XSTR(RELAY_MAX_CONNS)

struct relay_conn;

/* One socket of a relayed connection. */
struct side {
  uv_tcp_t tcp;
  struct relay_conn *conn;
  struct side *peer;
  bool paused;   /* stopped reading: the peer's backlog is high */
  bool got_eof;  /* it finished sending */
  bool shut;     /* we finished sending to it */
};

struct relay_conn {
  struct relay_listener *l;
  struct relay_conn *prev, *next;
  struct side outer; /* from the server, through the tunnel */
  struct side inner; /* to the local service */
  uv_connect_t connect;
  int handles; /* open uv handles; the conn is freed at 0 */
  bool closing;
};

struct relay_listener {
  uv_tcp_t server;
  struct sockaddr_storage target;
  void (*log)(void *arg, const char *text);
  void *arg;
  struct relay_conn *conns;
  size_t count;
  bool server_open;
  bool closing;
};

struct write_req {
  uv_write_t req;
  struct side *to;
  char *buf;
};

static void say(struct relay_listener *l, const char *fmt, const char *detail)
{
  char text[256];
  snprintf(text, sizeof text, fmt, detail);
  if (l->log)
    l->log(l->arg, text);
}

static void maybe_free_listener(struct relay_listener *l)
{
  if (l->closing && !l->server_open && !l->conns)
    free(l);
}

static void conn_handle_closed(uv_handle_t *h)
{
  struct side *s = h->data;
  struct relay_conn *c = s->conn;
  assert(c->closing && c->handles > 0 && c->l->count > 0);
  if (--c->handles > 0)
    return;
  struct relay_listener *l = c->l;
  if (c->prev)
    c->prev->next = c->next;
  else
    l->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  l->count--;
  free(c);
  maybe_free_listener(l);
}

static void conn_close(struct relay_conn *c)
{
  if (c->closing)
    return;
  c->closing = true;
  struct side *sides[2] = {&c->outer, &c->inner};
  for (int i = 0; i < 2; i++) {
    uv_handle_t *h = (uv_handle_t *)&sides[i]->tcp;
    if (h->data && !uv_is_closing(h))
      uv_close(h, conn_handle_closed);
  }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
  (void)h, (void)hint;
  buf->base = malloc(READ_CHUNK);
  buf->len = buf->base ? READ_CHUNK : 0;
}

static void on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf);

static void resume_reading(struct side *s)
{
  if (s->paused && !s->got_eof && !s->conn->closing) {
    s->paused = false;
    uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
  }
}

/* Both directions finished: nothing more will move. */
static void maybe_done(struct relay_conn *c)
{
  if (c->outer.got_eof && c->inner.got_eof && c->outer.shut && c->inner.shut)
    conn_close(c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
  struct side *to = req->data;
  free(req);
  if (status == UV_ECANCELED)
    return;
  to->shut = true;
  if (status < 0)
    conn_close(to->conn);
  else
    maybe_done(to->conn);
}

static void shutdown_side(struct side *to)
{
  uv_shutdown_t *req = malloc(sizeof *req);
  if (!req) {
    conn_close(to->conn);
    return;
  }
  req->data = to;
  if (uv_shutdown(req, (uv_stream_t *)&to->tcp, on_shutdown) != 0) {
    free(req);
    conn_close(to->conn);
  }
}

static void on_written(uv_write_t *req, int status)
{
  struct write_req *w = (struct write_req *)req;
  struct side *to = w->to;
  free(w->buf);
  free(w);
  if (status == UV_ECANCELED)
    return;
  if (status < 0) {
    conn_close(to->conn);
    return;
  }
  if (to->tcp.write_queue_size < RELAY_HIGH_WATER / 4)
    resume_reading(to->peer);
}

static void on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
  struct side *from = stream->data;
  struct side *to = from->peer;
  struct relay_conn *c = from->conn;
  if (n == 0) {
    free(buf->base);
    return;
  }
  if (n < 0) {
    free(buf->base);
    if (n != UV_EOF) {
      conn_close(c);
      return;
    }
    from->got_eof = true;
    uv_read_stop(stream);
    shutdown_side(to); /* after the writes already queued */
    return;
  }
  struct write_req *w = malloc(sizeof *w);
  if (!w) {
    free(buf->base);
    conn_close(c);
    return;
  }
  w->to = to;
  w->buf = buf->base;
  uv_buf_t out = uv_buf_init(buf->base, (unsigned)n);
  if (uv_write(&w->req, (uv_stream_t *)&to->tcp, &out, 1, on_written) != 0) {
    free(w->buf);
    free(w);
    conn_close(c);
    return;
  }
  if (to->tcp.write_queue_size > RELAY_HIGH_WATER) {
    from->paused = true;
    uv_read_stop(stream);
  }
}

static void on_connected(uv_connect_t *req, int status)
{
  struct relay_conn *c = req->data;
  if (status == UV_ECANCELED)
    return;
  if (status < 0) {
    say(c->l, "cannot reach the local service: %s", uv_strerror(status));
    conn_close(c);
    return;
  }
  uv_read_start((uv_stream_t *)&c->outer.tcp, on_alloc, on_read);
  uv_read_start((uv_stream_t *)&c->inner.tcp, on_alloc, on_read);
}

static void init_side(struct side *s, struct relay_conn *c, struct side *peer)
{
  s->conn = c;
  s->peer = peer;
  s->tcp.data = s;
}

static void on_connection(uv_stream_t *server, int status)
{
  struct relay_listener *l = server->data;
  if (status < 0)
    return;
  struct relay_conn *c = calloc(1, sizeof *c);
  if (!c)
    return;
  c->l = l;
  uv_tcp_init(server->loop, &c->outer.tcp);
  init_side(&c->outer, c, &c->inner);
  c->handles = 1;
  c->next = l->conns;
  if (c->next)
    c->next->prev = c;
  l->conns = c;
  l->count++;
  if (uv_accept(server, (uv_stream_t *)&c->outer.tcp) != 0) {
    conn_close(c);
    return;
  }
  if (l->count > RELAY_MAX_CONNS) {
    say(l, "refused a connection: %s relayed connections are open",
        RELAY_MAX_CONNS_TEXT);
    conn_close(c);
    return;
  }
  uv_tcp_init(server->loop, &c->inner.tcp);
  init_side(&c->inner, c, &c->outer);
  c->handles = 2;
  uv_tcp_nodelay(&c->outer.tcp, 1);
  uv_tcp_nodelay(&c->inner.tcp, 1);
  c->connect.data = c;
  int rc = uv_tcp_connect(&c->connect, &c->inner.tcp,
                          (const struct sockaddr *)&l->target, on_connected);
  if (rc != 0) {
    say(l, "cannot reach the local service: %s", uv_strerror(rc));
    conn_close(c);
  }
}

int relay_listen(struct uv_loop_s *loop, const struct sockaddr *bind_addr,
                 const struct sockaddr *target,
                 void (*log)(void *arg, const char *text), void *arg,
                 struct relay_listener **out, uint16_t *port)
{
  struct relay_listener *l = calloc(1, sizeof *l);
  if (!l)
    return UV_ENOMEM;
  memcpy(&l->target, target,
         target->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                       : sizeof(struct sockaddr_in));
  l->log = log;
  l->arg = arg;
  uv_tcp_init(loop, &l->server);
  l->server.data = l;
  l->server_open = true;
  int rc = uv_tcp_bind(&l->server, bind_addr, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&l->server, 128, on_connection);
  struct sockaddr_storage bound;
  int len = sizeof bound;
  if (rc == 0)
    rc = uv_tcp_getsockname(&l->server, (struct sockaddr *)&bound, &len);
  if (rc != 0) {
    relay_close(l);
    return rc;
  }
  *port = ntohs(bound.ss_family == AF_INET6
                    ? ((struct sockaddr_in6 *)&bound)->sin6_port
                    : ((struct sockaddr_in *)&bound)->sin_port);
  *out = l;
  return 0;
}

size_t relay_conn_count(const struct relay_listener *l)
{
  return l ? l->count : 0;
}

static void server_closed(uv_handle_t *h)
{
  struct relay_listener *l = h->data;
  l->server_open = false;
  maybe_free_listener(l);
}

void relay_close(struct relay_listener *l)
{
  if (!l || l->closing)
    return;
  l->closing = true;
  for (struct relay_conn *c = l->conns; c; c = c->next)
    conn_close(c);
  uv_close((uv_handle_t *)&l->server, server_closed);
}
