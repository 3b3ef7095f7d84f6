#include "stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/errors.h>

#include "log.h"

enum mode { MODE_NEW, MODE_RAW, MODE_PIPE };

struct weft_pipe {
  struct weft_stream *stream;
};

struct weft_stream {
  uv_tcp_t *tcp;            /* its own allocation: freed in its close cb */
  uv_loop_t *loop;
  enum mode mode;
  /* raw */
  const struct weft_stream_cbs *cbs;
  void *ctx;
  /* relayed */
  const struct weft_pipe_ops *ops;
  void *pctx;
  struct weft_pipe pipe;

  size_t backlog;           /* bytes queued to the socket, not yet written */
  bool paused_by_plugin;    /* stream_pause(true) */
  bool paused_by_backlog;   /* the far end's backlog is high */
  bool reading;
  bool read_eof;            /* the peer sent FIN */
  bool shutdown_sent;       /* we sent FIN */
  bool closing;
  bool close_when_flushed;  /* stream_end: close once FIN is sent */
  int close_err;
  char *leftover;           /* bytes read before the stream was handed on */
  size_t leftover_len;
  struct stream_account account;
  /* An optional filter between the socket and the reader (the HTTP
   * ingress rewrites request heads); it hands bytes on with stream_emit. */
  void (*filter)(void *fctx, const char *data, size_t len);
  void (*filter_free)(void *fctx);
  void *fctx;
  bool http;
  char *http_host;
  char peer_ip[46], local_ip[46];
  uint16_t peer_port, local_port;
};

struct write_req {
  uv_write_t req;
  struct weft_stream *s;
  size_t len;
  char data[];
};

static size_t live_streams;

size_t stream_count(void) { return live_streams; }

static void addr_text(const struct sockaddr_storage *ss, char *ip, size_t len,
                      uint16_t *port)
{
  ip[0] = '\0';
  *port = 0;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    uv_ip4_name(a, ip, len);
    *port = ntohs(a->sin_port);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    uv_ip6_name(a, ip, len);
    *port = ntohs(a->sin6_port);
  }
}

static void fill_addresses(struct weft_stream *s)
{
  struct sockaddr_storage ss;
  int len = sizeof ss;
  if (uv_tcp_getpeername(s->tcp, (struct sockaddr *)&ss, &len) == 0)
    addr_text(&ss, s->peer_ip, sizeof s->peer_ip, &s->peer_port);
  len = sizeof ss;
  if (uv_tcp_getsockname(s->tcp, (struct sockaddr *)&ss, &len) == 0)
    addr_text(&ss, s->local_ip, sizeof s->local_ip, &s->local_port);
}

static struct weft_stream *stream_new(uv_loop_t *loop)
{
  struct weft_stream *s = calloc(1, sizeof *s);
  uv_tcp_t *tcp = s ? calloc(1, sizeof *tcp) : NULL;
  if (!tcp) {
    free(s);
    return NULL;
  }
  s->loop = loop;
  s->pipe.stream = s;
  s->tcp = tcp;
  tcp->data = s;
  live_streams++;
  return s;
}

static void free_stream(struct weft_stream *s)
{
  free(s->leftover);
  free(s->http_host);
  free(s->tcp);
  free(s);
  live_streams--;
}

/* The last word: exactly one closed notification, from the loop. */
static void on_tcp_closed(uv_handle_t *h)
{
  struct weft_stream *s = h->data;
  if (s->account.on_close)
    s->account.on_close(s->account.arg);
  if (s->filter_free)
    s->filter_free(s->fctx);
  if (s->mode == MODE_RAW && s->cbs && s->cbs->on_closed)
    s->cbs->on_closed(s->ctx, s->close_err);
  else if (s->mode == MODE_PIPE && s->ops->closed)
    s->ops->closed(s->pctx, s->close_err);
  free_stream(s);
}

static void close_with(struct weft_stream *s, int err)
{
  if (s->closing)
    return;
  s->closing = true;
  s->close_err = err;
  uv_close((uv_handle_t *)s->tcp, on_tcp_closed);
}

static int uv_to_weft(int uverr)
{
  switch (uverr) {
  case 0: return 0;
  case UV_ECONNRESET: return WEFT_ECONNRESET;
  case UV_ECONNREFUSED: return WEFT_ECONNREFUSED;
  case UV_ETIMEDOUT: return WEFT_ETIMEDOUT;
  case UV_ECANCELED: return WEFT_ECANCELED;
  case UV_ENOMEM: return WEFT_ENOMEM;
  case UV_EADDRINUSE: return WEFT_EADDRINUSE;
  default: return WEFT_EIO;
  }
}

/* ---- reading ---- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  (void)h, (void)suggested;
  /* Consumers copy what they keep before returning, so one buffer serves
   * every stream on this (single-threaded) loop. */
  static char slab[64 * 1024];
  *buf = uv_buf_init(slab, sizeof slab);
}

static void update_reading(struct weft_stream *s);

static void deliver(struct weft_stream *s, const char *data, size_t len)
{
  if (s->account.on_traffic)
    s->account.on_traffic(s->account.arg, len, 0);
  if (s->mode == MODE_RAW) {
    s->cbs->on_read(s->ctx, data, len);
  } else if (s->mode == MODE_PIPE) {
    size_t backlog = s->ops->write(s->pctx, data, len);
    if (backlog > WEFT_PIPE_HIGH_WATER && !s->paused_by_backlog) {
      s->paused_by_backlog = true;
      update_reading(s);
    }
  }
}

static void maybe_finished(struct weft_stream *s)
{
  /* Both directions done and nothing left to write: a clean end. */
  if (s->read_eof && s->shutdown_sent && s->backlog == 0)
    close_with(s, 0);
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
  struct weft_stream *s = st->data;
  if (s->closing)
    return;
  if (n > 0) {
    if (s->filter)
      s->filter(s->fctx, buf->base, (size_t)n);
    else
      deliver(s, buf->base, (size_t)n);
    return;
  }
  if (n == UV_EOF) {
    s->read_eof = true;
    update_reading(s);
    if (s->mode == MODE_RAW && s->cbs->on_eof)
      s->cbs->on_eof(s->ctx);
    else if (s->mode == MODE_PIPE && s->ops->shutdown)
      s->ops->shutdown(s->pctx);
    if (!s->closing)
      maybe_finished(s);
    return;
  }
  if (n < 0)
    close_with(s, uv_to_weft((int)n));
}

static void update_reading(struct weft_stream *s)
{
  bool want = !s->closing && !s->read_eof && !s->paused_by_plugin &&
              !s->paused_by_backlog && s->mode != MODE_NEW;
  if (want && !s->reading) {
    if (uv_read_start((uv_stream_t *)s->tcp, alloc_cb, read_cb) == 0)
      s->reading = true;
  } else if (!want && s->reading) {
    uv_read_stop((uv_stream_t *)s->tcp);
    s->reading = false;
  }
}

/* Bytes read before the stream was handed on go first; then the socket. */
static void begin(struct weft_stream *s)
{
  if (s->leftover_len) {
    char *data = s->leftover;
    size_t len = s->leftover_len;
    s->leftover = NULL;
    s->leftover_len = 0;
    deliver(s, data, len);
    free(data);
  }
  update_reading(s);
}

/* ---- writing ---- */

static void write_cb(uv_write_t *w, int status)
{
  struct write_req *wr = (struct write_req *)w;
  struct weft_stream *s = wr->s;
  size_t before = s->backlog;
  s->backlog -= wr->len;
  free(wr);
  if (s->closing)
    return;
  if (status < 0) {
    close_with(s, uv_to_weft(status));
    return;
  }
  if (before >= WEFT_PIPE_LOW_WATER && s->backlog < WEFT_PIPE_LOW_WATER) {
    if (s->mode == MODE_RAW && s->cbs->on_drained)
      s->cbs->on_drained(s->ctx);
    else if (s->mode == MODE_PIPE && s->ops->drained)
      s->ops->drained(s->pctx);
  }
  if (!s->closing)
    maybe_finished(s);
}

size_t stream_write(struct weft_stream *s, const void *data, size_t len)
{
  if (s->closing || s->shutdown_sent || len == 0)
    return s->backlog;
  struct write_req *wr = malloc(sizeof *wr + len);
  if (!wr) {
    close_with(s, WEFT_ENOMEM);
    return s->backlog;
  }
  memcpy(wr->data, data, len);
  wr->s = s;
  wr->len = len;
  uv_buf_t buf = uv_buf_init(wr->data, (unsigned)len);
  int rc = uv_write(&wr->req, (uv_stream_t *)s->tcp, &buf, 1, write_cb);
  if (rc != 0) {
    free(wr);
    close_with(s, uv_to_weft(rc));
    return s->backlog;
  }
  s->backlog += len;
  if (s->account.on_traffic)
    s->account.on_traffic(s->account.arg, 0, len);
  return s->backlog;
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
  struct weft_stream *s = req->data;
  free(req);
  if (s->closing)
    return;
  if (status < 0 || s->close_when_flushed)
    close_with(s, status < 0 ? uv_to_weft(status) : 0);
  else
    maybe_finished(s);
}

void stream_shutdown(struct weft_stream *s)
{
  if (s->closing || s->shutdown_sent)
    return;
  uv_shutdown_t *req = malloc(sizeof *req);
  if (!req) {
    close_with(s, WEFT_ENOMEM);
    return;
  }
  req->data = s;
  s->shutdown_sent = true;
  if (uv_shutdown(req, (uv_stream_t *)s->tcp, shutdown_cb) != 0) {
    free(req);
    close_with(s, WEFT_EIO);
  }
}

/* ---- the public functions ---- */

int stream_start(struct weft_stream *s, const struct weft_stream_cbs *cbs,
                 void *ctx)
{
  if (!s || !cbs || !cbs->on_read || s->mode != MODE_NEW)
    return WEFT_EINVAL;
  s->mode = MODE_RAW;
  s->cbs = cbs;
  s->ctx = ctx;
  begin(s);
  return 0;
}

void stream_pause(struct weft_stream *s, bool paused)
{
  s->paused_by_plugin = paused;
  update_reading(s);
}

void stream_close(struct weft_stream *s)
{
  close_with(s, WEFT_ECANCELED);
}

void stream_end(struct weft_stream *s, const void *data, size_t len)
{
  s->mode = MODE_NEW; /* no callbacks; nothing more is read */
  update_reading(s);
  s->close_when_flushed = true;
  stream_write(s, data, len);
  stream_shutdown(s);
}

void stream_discard(struct weft_stream *s)
{
  s->mode = MODE_NEW; /* no callbacks */
  close_with(s, WEFT_ECANCELED);
}

void stream_set_account(struct weft_stream *s, const struct stream_account *a)
{
  if (a)
    s->account = *a;
  else
    memset(&s->account, 0, sizeof s->account);
}

void stream_set_filter(struct weft_stream *s,
                       void (*filter)(void *fctx, const char *data,
                                      size_t len),
                       void (*filter_free)(void *fctx), void *fctx)
{
  s->filter = filter;
  s->filter_free = filter_free;
  s->fctx = fctx;
}

void stream_emit(struct weft_stream *s, const char *data, size_t len)
{
  if (!s->closing && len)
    deliver(s, data, len);
}

void stream_set_http(struct weft_stream *s, const char *host)
{
  s->http = true;
  free(s->http_host);
  s->http_host = host ? strdup(host) : NULL;
}

int stream_info(struct weft_stream *s, struct weft_stream_info *out)
{
  if (!out || out->struct_size < sizeof *out)
    return WEFT_EINVAL;
  memset(out, 0, sizeof *out);
  out->struct_size = sizeof *out;
  memcpy(out->peer_ip, s->peer_ip, sizeof out->peer_ip);
  memcpy(out->local_ip, s->local_ip, sizeof out->local_ip);
  out->peer_port = s->peer_port;
  out->local_port = s->local_port;
  out->http = s->http;
  out->http_host = s->http_host;
  return 0;
}

int pipe_attach(const struct weft_host *host, struct weft_stream *s,
                const struct weft_pipe_ops *ops, void *pctx,
                struct weft_pipe **out)
{
  (void)host;
  if (!s || !ops || !ops->write || !ops->closed || s->mode != MODE_NEW)
    return WEFT_EINVAL;
  s->mode = MODE_PIPE;
  s->ops = ops;
  s->pctx = pctx;
  *out = &s->pipe;
  begin(s);
  return 0;
}

size_t pipe_send(struct weft_pipe *p, const void *data, size_t len)
{
  return stream_write(p->stream, data, len);
}

void pipe_resume(struct weft_pipe *p)
{
  struct weft_stream *s = p->stream;
  if (s->paused_by_backlog) {
    s->paused_by_backlog = false;
    update_reading(s);
  }
}

void pipe_shutdown(struct weft_pipe *p) { stream_shutdown(p->stream); }

void pipe_close(struct weft_pipe *p, int err)
{
  close_with(p->stream, err ? err : WEFT_ECANCELED);
}

/* ---- accepting and connecting ---- */

struct weft_stream *stream_accept(uv_loop_t *loop, uv_stream_t *server)
{
  struct weft_stream *s = stream_new(loop);
  if (!s)
    return NULL;
  uv_tcp_init(loop, s->tcp);
  if (uv_accept(server, (uv_stream_t *)s->tcp) != 0) {
    stream_discard(s);
    return NULL;
  }
  uv_tcp_nodelay(s->tcp, 1);
  fill_addresses(s);
  return s;
}

void stream_handover(struct weft_stream *s, const void *leftover, size_t len)
{
  s->mode = MODE_NEW;
  s->cbs = NULL;
  s->ctx = NULL;
  update_reading(s);
  if (len) {
    char *copy = malloc(s->leftover_len + len);
    if (!copy) {
      close_with(s, WEFT_ENOMEM);
      return;
    }
    if (s->leftover_len)
      memcpy(copy, s->leftover, s->leftover_len);
    memcpy(copy + s->leftover_len, leftover, len);
    free(s->leftover);
    s->leftover = copy;
    s->leftover_len += len;
  }
}

struct connect_req {
  uv_getaddrinfo_t gai;
  uv_connect_t conn;
  struct weft_stream *s;
  weft_connect_cb cb;
  void *ctx;
  char port[8];
};

static void connected(uv_connect_t *req, int status)
{
  struct connect_req *cr = req->data;
  struct weft_stream *s = cr->s;
  if (status < 0) {
    int err = uv_to_weft(status);
    cr->cb(cr->ctx, NULL, err);
    stream_discard(s);
  } else {
    uv_tcp_nodelay(s->tcp, 1);
    fill_addresses(s);
    cr->cb(cr->ctx, s, 0);
  }
  free(cr);
}

static void resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
  struct connect_req *cr = req->data;
  int rc = status;
  if (rc == 0) {
    uv_tcp_init(cr->s->loop, cr->s->tcp);
    cr->conn.data = cr;
    rc = uv_tcp_connect(&cr->conn, cr->s->tcp, res->ai_addr, connected);
    uv_freeaddrinfo(res);
    if (rc == 0)
      return;
    cr->cb(cr->ctx, NULL, uv_to_weft(rc));
    stream_discard(cr->s);
    free(cr);
    return;
  }
  if (res)
    uv_freeaddrinfo(res);
  cr->cb(cr->ctx, NULL, WEFT_ECONNREFUSED);
  /* The tcp handle was never initialised: free without uv_close. */
  free_stream(cr->s);
  free(cr);
}

int stream_connect(const struct weft_host *host, const char *hostname,
                   uint16_t port, bool tls, const char *pin_sha256,
                   weft_connect_cb cb, void *ctx)
{
  (void)pin_sha256;
  if (!hostname || !port || !cb)
    return WEFT_EINVAL;
  if (tls)
    return WEFT_ENOTSUP;
  struct connect_req *cr = calloc(1, sizeof *cr);
  struct weft_stream *s = cr ? stream_new(host->loop) : NULL;
  if (!s) {
    free(cr);
    return WEFT_ENOMEM;
  }
  cr->s = s;
  cr->cb = cb;
  cr->ctx = ctx;
  cr->gai.data = cr;
  snprintf(cr->port, sizeof cr->port, "%u", port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  int rc = uv_getaddrinfo(host->loop, &cr->gai, resolved, hostname, cr->port,
                          &hints);
  if (rc != 0) {
    free_stream(s);
    free(cr);
    return WEFT_EINVAL;
  }
  return 0;
}
