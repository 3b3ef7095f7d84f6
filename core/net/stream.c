/* Core byte streams over libuv TCP: reading with backpressure, writing in
 * batches, half-close, the relay (pipes) and handing a stream on. TLS
 * under a stream is stream_tls.c; dialling is stream_connect.c. */
#include <assert.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/errors.h>

#include "base/log.h"
#include "net/stream_internal.h"

/* A first write request holds this much; it grows for bigger batches. */
#define WRITE_CHUNK (16 * 1024)
/* A batch that grew this big goes out without waiting for its end. */
#define BATCH_MAX (256 * 1024)
/* A write under TLS this large fills records of its own. */
#define TLS_ENCRYPT_AT_ONCE (16 * 1024)

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

void stream__fill_addresses(struct weft_stream *s)
{
  struct sockaddr_storage ss;
  int len = sizeof ss;
  if (uv_tcp_getpeername(s->tcp, (struct sockaddr *)&ss, &len) == 0)
    addr_text(&ss, s->peer_ip, sizeof s->peer_ip, &s->peer_port);
  len = sizeof ss;
  if (uv_tcp_getsockname(s->tcp, (struct sockaddr *)&ss, &len) == 0)
    addr_text(&ss, s->local_ip, sizeof s->local_ip, &s->local_port);
}

struct weft_stream *stream__new(uv_loop_t *loop)
{
  struct weft_stream *s = calloc(1, sizeof *s);
  /* Room for either handle: a stream may be a Unix socket's (accepted
   * with stream_accept_local), which libuv calls a pipe. */
  union socket_handle {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  };
  uv_tcp_t *tcp = s ? calloc(1, sizeof(union socket_handle)) : NULL;
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

/* ---- batches ----
 * Writes made while the core handles one event (bytes read, a write done)
 * are gathered per stream and go out together when the event is over: one
 * system call, and with TLS one SSL_write, instead of one per piece (a
 * WebSocket frame header and its payload, several HTTP/2 frames...). */

static unsigned batch_depth;
static struct weft_stream *flush_list;

static void unlist(struct weft_stream *s)
{
  if (!s->flush_listed)
    return;
  struct weft_stream **pp = &flush_list;
  while (*pp && *pp != s)
    pp = &(*pp)->flush_next;
  if (*pp)
    *pp = s->flush_next;
  s->flush_listed = false;
}

void stream__free(struct weft_stream *s)
{
  /* Its deadline's timer points at it: stopped first (close_with). */
  assert(!s->deadline && live_streams > 0);
  unlist(s);
  free(s->pending);
  stream__tls_free(s->tls);
  strbuf_free(&s->held);
  strbuf_free(&s->final_words);
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
  assert(s->closing && s->tcp == (uv_tcp_t *)h);
  if (s->account.on_close)
    s->account.on_close(s->account.arg);
  if (s->filter_free)
    s->filter_free(s->fctx);
  if (s->mode == MODE_RAW && s->cbs && s->cbs->on_closed)
    s->cbs->on_closed(s->ctx, s->close_err);
  else if (s->mode == MODE_PIPE && s->ops->closed)
    s->ops->closed(s->pctx, s->close_err);
  stream__free(s);
}

void stream__close_with(struct weft_stream *s, int err)
{
  if (s->closing)
    return;
  if (s->tls && s->tls->cb) {
    /* A dial still in its handshake: the dialer hears of it. */
    stream__connect_done(s, err ? err : WEFT_ECONNRESET);
    assert(s->closing); /* connect_done discarded it */
    return;
  }
  stream__deadline_stop(s);
  s->closing = true;
  s->close_err = err;
  free(s->pending); /* unsent: the stream ends now */
  s->pending = NULL;
  uv_close((uv_handle_t *)s->tcp, on_tcp_closed);
}

int stream__uv_error(int uverr)
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

/* ---- writing ---- */

struct write_req *stream__write_req_new(struct weft_stream *s, size_t cap)
{
  struct write_req *wr = malloc(sizeof *wr + cap);
  if (wr) {
    wr->s = s;
    wr->len = 0;
    wr->cap = cap;
  }
  return wr;
}

bool stream__write_req_reserve(struct weft_stream *s, struct write_req **wrp,
                       size_t room)
{
  struct write_req *wr = *wrp;
  if (!wr) {
    wr = stream__write_req_new(s, room > WRITE_CHUNK ? room : WRITE_CHUNK);
    if (!wr)
      return false;
    *wrp = wr;
  } else if (wr->cap - wr->len < room) {
    size_t cap = wr->cap * 2 > wr->len + room ? wr->cap * 2 : wr->len + room;
    struct write_req *grown = realloc(wr, sizeof *wr + cap);
    if (!grown)
      return false;
    wr = *wrp = grown;
    wr->cap = cap;
  }
  assert(wr->s == s && wr->len <= wr->cap && wr->cap - wr->len >= room);
  return true;
}

bool stream__write_req_append(struct weft_stream *s, struct write_req **wrp,
                      const void *data, size_t len)
{
  if (!stream__write_req_reserve(s, wrp, len))
    return false;
  memcpy((*wrp)->data + (*wrp)->len, data, len);
  (*wrp)->len += len;
  return true;
}

static void write_cb(uv_write_t *w, int status);

/* Writes what the socket takes now, queueing nothing: the bytes written
 * (0 when it takes none), or -1 when the stream closed on an error. */
static ptrdiff_t write_what_fits(struct weft_stream *s, const void *data,
                                 size_t len)
{
  if (len > INT_MAX)
    len = INT_MAX;
  uv_buf_t now = uv_buf_init((char *)data, (unsigned)len);
  int n = uv_try_write((uv_stream_t *)s->tcp, &now, 1);
  if (n < 0 && n != UV_EAGAIN) {
    stream__close_with(s, stream__uv_error(n));
    return -1;
  }
  return n > 0 ? n : 0;
}

void stream__submit(struct weft_stream *s, struct write_req *wr)
{
  assert(wr->s == s && wr->len <= wr->cap);
  if (s->closing || wr->len == 0) {
    free(wr);
    return;
  }
  if (s->backlog == 0 && wr->len < WEFT_PIPE_LOW_WATER) {
    /* Nothing in flight: write now. That spares libuv's request and the
     * epoll_ctl it makes for every write it queues. Small writes only: a
     * writer that paused on a bigger one waits for drained(), which only
     * a queued write's completion calls. */
    ptrdiff_t n = write_what_fits(s, wr->data, wr->len);
    if (n < 0 || (size_t)n == wr->len) {
      free(wr);
      return;
    }
    if (n > 0) { /* the rest is queued */
      memmove(wr->data, wr->data + n, wr->len - (size_t)n);
      wr->len -= (size_t)n;
    }
  }
  if (wr->cap > wr->len + 4096) { /* in flight maybe for long: no slack */
    struct write_req *fit = realloc(wr, sizeof *wr + wr->len);
    if (fit) {
      wr = fit;
      wr->cap = wr->len;
    }
  }
  size_t len = wr->len;
  uv_buf_t buf = uv_buf_init(wr->data, (unsigned)len);
  int rc = uv_write(&wr->req, (uv_stream_t *)s->tcp, &buf, 1, write_cb);
  if (rc != 0) {
    free(wr);
    stream__close_with(s, stream__uv_error(rc));
    return;
  }
  if (s->backlog == 0)
    s->stalled_since = uv_now(s->loop);
  s->backlog += len;
}

static size_t queued(const struct weft_stream *s)
{
  return s->backlog + s->held.len + (s->pending ? s->pending->len : 0) +
         stream__tls_unsent(s);
}

/* Bytes for the peer, now: encrypted first with TLS. */
static void write_now(struct weft_stream *s, const void *data, size_t len)
{
  if (s->tls) {
    if (!stream__tls_write(s, data, len))
      stream__close_with(s, WEFT_EPROTO);
    return;
  }
  struct write_req *wr = NULL;
  if (!stream__write_req_append(s, &wr, data, len)) {
    stream__close_with(s, WEFT_ENOMEM);
    return;
  }
  stream__submit(s, wr);
}

/* Under TLS: encrypts data behind the records this batch made already,
 * leaving them all for stream__tls_send_records. False once the stream closed. */
static bool encrypt(struct weft_stream *s, const void *data, size_t len)
{
  if (stream__tls_encrypt(s, data, len))
    return true;
  stream__close_with(s, WEFT_EPROTO);
  return false;
}

/* Under TLS: encrypts what was gathered (see encrypt). */
static bool encrypt_gathered(struct weft_stream *s)
{
  struct write_req *wr = s->pending;
  s->pending = NULL;
  bool ok = !wr || encrypt(s, wr->data, wr->len);
  free(wr);
  return ok;
}

static void flush(struct weft_stream *s)
{
  if (s->tls) {
    if (encrypt_gathered(s))
      stream__tls_send_records(s);
  } else if (s->pending) {
    struct write_req *wr = s->pending;
    s->pending = NULL;
    stream__submit(s, wr); /* the gathered buffer goes as it is */
  }
}

/* Lists the stream for the end of the batch. */
static void flush_later(struct weft_stream *s)
{
  assert(batch_depth > 0); /* stream__batch_end empties the list */
  if (!s->flush_listed) {
    s->flush_listed = true;
    s->flush_next = flush_list;
    flush_list = s;
  }
}

/* Plaintext on its way: held until TLS can carry it, gathered during a
 * batch, else sent at once. */
static void queue_bytes(struct weft_stream *s, const void *data, size_t len)
{
  if (stream__tls_waiting(s)) {
    strbuf_add(&s->held, data, len);
    return;
  }
  if (len >= BATCH_MAX && !s->tls && !s->pending && s->backlog == 0) {
    /* Bulk data with nothing before it: straight from the caller's
     * buffer; only what the socket does not take now is copied. */
    ptrdiff_t n = write_what_fits(s, data, len);
    if (n < 0 || (size_t)n == len)
      return;
    data = (const char *)data + n;
    len -= (size_t)n;
  }
  if (!batch_depth) {
    write_now(s, data, len);
    return;
  }
  if (s->tls && len >= TLS_ENCRYPT_AT_ONCE) {
    /* Whole records' worth: encrypted now from the caller's buffer (what
     * was gathered before it first), not copied to be gathered; the
     * records leave with the batch, or before the next such write's. */
    if (!encrypt_gathered(s) || !encrypt(s, data, len))
      return;
  } else if (!stream__write_req_append(s, &s->pending, data, len)) {
    stream__close_with(s, WEFT_ENOMEM);
    return;
  }
  if (queued(s) - s->backlog >= BATCH_MAX) {
    /* Bulk data: gathering more saves no system call, and would only copy
     * it again and hold it back. */
    flush(s);
    return;
  }
  flush_later(s);
}

void stream__batch_begin(void)
{
  /* Outside every batch nothing waits for one's end. */
  assert(batch_depth > 0 || !flush_list);
  batch_depth++;
}

/* The loop's rounds: what all the I/O callbacks of one poll write is one
 * batch, sent when the poll's callbacks are done (uv_check). The streams
 * of a busy tunnel then share one write on its connection, not one each. */
static uv_prepare_t round_start;
static uv_check_t round_end;
static bool rounds_on, in_round;

static void on_round_start(uv_prepare_t *h)
{
  (void)h;
  if (!in_round) {
    in_round = true;
    stream__batch_begin();
  }
}

static void on_round_end(uv_check_t *h)
{
  (void)h;
  if (in_round) {
    in_round = false;
    stream__batch_end();
  }
}

void stream_rounds_start(uv_loop_t *loop)
{
  if (rounds_on)
    return;
  uv_prepare_init(loop, &round_start);
  uv_check_init(loop, &round_end);
  uv_prepare_start(&round_start, on_round_start);
  uv_check_start(&round_end, on_round_end);
  /* They never keep the loop running. */
  uv_unref((uv_handle_t *)&round_start);
  uv_unref((uv_handle_t *)&round_end);
  rounds_on = true;
}

void stream_rounds_stop(void)
{
  if (!rounds_on)
    return;
  on_round_end(&round_end);
  uv_close((uv_handle_t *)&round_start, NULL);
  uv_close((uv_handle_t *)&round_end, NULL);
  rounds_on = false;
}

void stream__batch_end(void)
{
  assert(batch_depth > 0); /* every end has its begin */
  if (--batch_depth)
    return;
  while (flush_list) {
    struct weft_stream *s = flush_list;
    flush_list = s->flush_next;
    s->flush_listed = false;
    flush(s);
  }
}

size_t stream_write(struct weft_stream *s, const void *data, size_t len)
{
  if (s->closing || s->shutdown_sent || len == 0)
    return queued(s);
  if (s->account.on_traffic)
    s->account.on_traffic(s->account.arg, 0, len);
  queue_bytes(s, data, len);
  return queued(s);
}

static void maybe_finished(struct weft_stream *s)
{
  /* Both directions done and nothing left to write: a clean end. */
  if (s->read_eof && s->shutdown_sent && s->backlog == 0 && !s->pending)
    stream__close_with(s, 0);
}

static void write_cb(uv_write_t *w, int status)
{
  struct write_req *wr = (struct write_req *)w;
  struct weft_stream *s = wr->s;
  size_t before = s->backlog;
  assert(s->backlog >= wr->len); /* submit counted it in */
  s->backlog -= wr->len;
  s->stalled_since = uv_now(s->loop); /* the peer took a whole write */
  free(wr);
  if (s->closing)
    return;
  if (status < 0) {
    stream__close_with(s, stream__uv_error(status));
    return;
  }
  stream__batch_begin();
  if (before >= WEFT_PIPE_LOW_WATER && s->backlog < WEFT_PIPE_LOW_WATER) {
    if (s->mode == MODE_RAW && s->cbs->on_drained)
      s->cbs->on_drained(s->ctx);
    else if (s->mode == MODE_PIPE && s->ops->drained)
      s->ops->drained(s->pctx);
  }
  if (!s->closing)
    maybe_finished(s);
  stream__batch_end();
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
  struct weft_stream *s = req->data;
  free(req);
  if (s->closing)
    return;
  if (status < 0 || s->close_when_flushed)
    stream__close_with(s, status < 0 ? stream__uv_error(status) : 0);
  else
    maybe_finished(s);
}

static void send_shutdown(struct weft_stream *s)
{
  assert(s->shutdown_sent);
  uv_shutdown_t *req = malloc(sizeof *req);
  if (!req) {
    stream__close_with(s, WEFT_ENOMEM);
    return;
  }
  req->data = s;
  stream__tls_close_notify(s); /* close_notify, then FIN */
  if (uv_shutdown(req, (uv_stream_t *)s->tcp, shutdown_cb) != 0) {
    free(req);
    stream__close_with(s, WEFT_EIO);
  }
}

void stream_shutdown(struct weft_stream *s)
{
  if (s->closing || s->shutdown_sent)
    return;
  s->shutdown_sent = true;
  flush(s); /* what this batch gathered goes before the FIN */
  if (stream__tls_waiting(s))
    s->shutdown_held = true; /* after what is held */
  else
    send_shutdown(s);
}

void stream__release_held(struct weft_stream *s)
{
  /* Called once TLS is decided and, if any, established. */
  assert(!stream__tls_waiting(s));
  assert(!s->shutdown_held || s->shutdown_sent);
  if (s->held.len) {
    struct strbuf held = s->held;
    memset(&s->held, 0, sizeof s->held);
    queue_bytes(s, held.data, held.len);
    strbuf_free(&held);
  }
  if (s->shutdown_held && !s->closing) {
    s->shutdown_held = false;
    flush(s);
    send_shutdown(s);
  }
}

/* ---- reading ---- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  (void)h, (void)suggested;
  /* Consumers copy what they keep before returning, so one buffer serves
   * every stream on this (single-threaded) loop. */
  static char slab[256 * 1024];
  *buf = uv_buf_init(slab, sizeof slab);
}

static void deliver(struct weft_stream *s, const char *data, size_t len)
{
  if (s->account.on_traffic)
    s->account.on_traffic(s->account.arg, len, 0);
  assert(s->mode != MODE_RAW || s->cbs);
  assert(s->mode != MODE_PIPE || s->ops);
  if (s->mode == MODE_RAW) {
    s->cbs->on_read(s->ctx, data, len);
  } else if (s->mode == MODE_PIPE) {
    size_t backlog = s->ops->write(s->pctx, data, len);
    if (backlog > WEFT_PIPE_HIGH_WATER && !s->paused_by_backlog) {
      s->paused_by_backlog = true;
      stream__update_reading(s);
    }
  }
}

void stream__plaintext_in(struct weft_stream *s, const char *data, size_t len)
{
  assert(!s->closing); /* a closing stream reads nothing more */
  if (s->filter)
    s->filter(s->fctx, data, len);
  else
    deliver(s, data, len);
}

void stream__on_eof(struct weft_stream *s)
{
  /* Once: reading stops with the first end (stream__update_reading). */
  assert(!s->closing && !s->read_eof);
  if (stream__tls_eof_in_handshake(s))
    return;
  s->read_eof = true;
  stream__update_reading(s);
  if (s->mode == MODE_RAW && s->cbs->on_eof)
    s->cbs->on_eof(s->ctx);
  else if (s->mode == MODE_PIPE && s->ops->shutdown)
    s->ops->shutdown(s->pctx);
  if (!s->closing)
    maybe_finished(s);
}

static void read_some(struct weft_stream *s, ssize_t n, const uv_buf_t *buf)
{
  if (n > 0 && s->sniff_ctx) {
    /* A TLS record starts with 0x16 (handshake): HTTPS on this port. */
    SSL_CTX *ctx = s->sniff_ctx;
    s->sniff_ctx = NULL;
    if ((unsigned char)buf->base[0] != 0x16) {
      stream__release_held(s); /* plain: what waited goes now */
    } else if (stream__tls_start(s, ctx, false, NULL) != 0) {
      stream__close_with(s, WEFT_ENOMEM);
      return;
    }
    if (s->closing)
      return;
  }
  if (n > 0) {
    if (s->tls)
      stream__tls_in(s, buf->base, (size_t)n);
    else
      stream__plaintext_in(s, buf->base, (size_t)n);
  } else if (n == UV_EOF) {
    stream__on_eof(s);
  } else if (n < 0) {
    stream__close_with(s, stream__uv_error((int)n));
  }
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
  struct weft_stream *s = st->data;
  assert(s->reading); /* read_stop is called whenever reading goes false */
  if (s->closing)
    return;
  stream__batch_begin();
  read_some(s, n, buf);
  stream__batch_end();
}

void stream__update_reading(struct weft_stream *s)
{
  /* A TLS handshake reads on its own, before anyone has the stream. */
  bool want = !s->closing && !s->read_eof && !s->input_ended &&
              !s->paused_by_plugin &&
              !s->paused_by_backlog && (s->mode != MODE_NEW || stream__tls_waiting(s));
  if (want && !s->reading) {
    if (uv_read_start((uv_stream_t *)s->tcp, alloc_cb, read_cb) == 0)
      s->reading = true;
  } else if (!want && s->reading) {
    uv_read_stop((uv_stream_t *)s->tcp);
    s->reading = false;
  }
}

/* The far end of a pipe hears that nothing more comes (stream_end_input),
 * as it would hear the peer's FIN. */
static void input_end(struct weft_stream *s)
{
  assert(s->input_ended && s->mode == MODE_PIPE);
  if (s->closing || s->read_eof)
    return;
  s->read_eof = true;
  stream__update_reading(s);
  if (s->ops->shutdown)
    s->ops->shutdown(s->pctx);
  if (!s->closing)
    maybe_finished(s);
}

/* Bytes read before the stream was handed on go first; then the socket. */
static void begin(struct weft_stream *s)
{
  assert(s->mode == MODE_RAW || s->mode == MODE_PIPE);
  if (s->leftover_len) {
    char *data = s->leftover;
    size_t len = s->leftover_len;
    s->leftover = NULL;
    s->leftover_len = 0;
    deliver(s, data, len);
    free(data);
  }
  if (s->input_ended && s->mode == MODE_PIPE) {
    input_end(s);
    return;
  }
  stream__tls_drain(s);
  stream__update_reading(s);
}

void stream_end_input(struct weft_stream *s, const void *final, size_t len)
{
  if (s->closing || s->input_ended)
    return;
  s->input_ended = true;
  if (len)
    strbuf_add(&s->final_words, final, len);
  stream__update_reading(s);
  if (s->mode == MODE_PIPE)
    input_end(s);
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
  if (!paused)
    stream__tls_drain(s);
  stream__update_reading(s);
}

void stream_close(struct weft_stream *s)
{
  stream__close_with(s, WEFT_ECANCELED);
}

void stream_end(struct weft_stream *s, const void *data, size_t len)
{
  s->mode = MODE_NEW; /* no callbacks; nothing more is read */
  stream__update_reading(s);
  s->close_when_flushed = true;
  stream_write(s, data, len);
  stream_shutdown(s);
}

void stream_discard(struct weft_stream *s)
{
  s->mode = MODE_NEW; /* no callbacks */
  stream__close_with(s, WEFT_ECANCELED);
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

void stream_set_fail_answer(struct weft_stream *s,
                            void (*fail_answer)(void *fctx, int err))
{
  s->fail_answer = fail_answer;
}

void stream_set_answer_peek(struct weft_stream *s,
                            void (*peek)(void *fctx, const char *data,
                                         size_t len))
{
  s->answer_peek = peek;
}

bool stream_answered(const struct weft_stream *s) { return s->pipe_wrote; }

uint64_t stream_send_stalled_ms(const struct weft_stream *s)
{
  if (s->backlog == 0 || s->closing)
    return 0;
  uint64_t now = uv_now(s->loop);
  return now > s->stalled_since ? now - s->stalled_since : 0;
}

void stream_answer(struct weft_stream *s, const void *data, size_t len)
{
  s->paused_by_plugin = true; /* nothing more is read */
  stream__update_reading(s);
  s->close_when_flushed = true;
  stream_write(s, data, len);
  stream_shutdown(s);
}

void stream_set_send_buffer(struct weft_stream *s, int bytes)
{
  if (!s->closing)
    uv_send_buffer_size((uv_handle_t *)s->tcp, &bytes);
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
  out->tls = s->tls != NULL;
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

/* A pipe is its stream's own member, and the stream stays a pipe until
 * it is freed (pipe_attach is the only way into MODE_PIPE, and nothing
 * leads out of it). */
static struct weft_stream *pipe_stream(struct weft_pipe *p)
{
  struct weft_stream *s = p->stream;
  assert(&s->pipe == p && s->mode == MODE_PIPE);
  return s;
}

size_t pipe_send(struct weft_pipe *p, const void *data, size_t len)
{
  struct weft_stream *s = pipe_stream(p);
  if (len)
    s->pipe_wrote = true;
  if (len && s->answer_peek && !s->closing)
    s->answer_peek(s->fctx, data, len);
  return stream_write(s, data, len);
}

void pipe_resume(struct weft_pipe *p)
{
  struct weft_stream *s = pipe_stream(p);
  if (s->paused_by_backlog) {
    s->paused_by_backlog = false;
    stream__tls_drain(s);
    stream__update_reading(s);
  }
}

void pipe_shutdown(struct weft_pipe *p)
{
  struct weft_stream *s = pipe_stream(p);
  if (s->fail_answer && !s->pipe_wrote && !s->closing && !s->shutdown_sent) {
    /* The far end finished without a byte of answer (a service that
     * closed the connection on the request): it failed, as far as the
     * peer is concerned, which gets the page rather than an empty reply. */
    void (*answer)(void *, int) = s->fail_answer;
    s->fail_answer = NULL; /* once */
    answer(s->fctx, WEFT_ECONNRESET);
    return;
  }
  if (s->final_words.len && !s->closing && !s->shutdown_sent) {
    /* The last answer is ours (stream_end_input). */
    struct strbuf words = s->final_words;
    memset(&s->final_words, 0, sizeof s->final_words);
    stream_write(s, words.data, words.oom ? 0 : words.len);
    strbuf_free(&words);
  }
  stream_shutdown(s);
}

void pipe_close(struct weft_pipe *p, int err)
{
  struct weft_stream *s = pipe_stream(p);
  if (err && s->fail_answer && !s->pipe_wrote && !s->closing &&
      !s->shutdown_sent) {
    void (*answer)(void *, int) = s->fail_answer;
    s->fail_answer = NULL; /* once */
    answer(s->fctx, err);
    return;
  }
  stream__close_with(s, err ? err : WEFT_ECANCELED);
}

/* ---- accepting and handing on ---- */

struct weft_stream *stream_accept(uv_loop_t *loop, uv_stream_t *server)
{
  struct weft_stream *s = stream__new(loop);
  if (!s)
    return NULL;
  uv_tcp_init(loop, s->tcp);
  if (uv_accept(server, (uv_stream_t *)s->tcp) != 0) {
    stream_discard(s);
    return NULL;
  }
  uv_tcp_nodelay(s->tcp, 1);
  stream__fill_addresses(s);
  return s;
}

/* A stream over what libuv calls a pipe (a Unix socket, a terminal); its
 * addresses read `label`. */
static struct weft_stream *pipe_stream_new(uv_loop_t *loop, const char *label)
{
  struct weft_stream *s = stream__new(loop);
  if (!s)
    return NULL;
  uv_pipe_t *pipe = (uv_pipe_t *)s->tcp;
  uv_pipe_init(loop, pipe, 0);
  pipe->data = s;
  snprintf(s->peer_ip, sizeof s->peer_ip, "%s", label);
  snprintf(s->local_ip, sizeof s->local_ip, "%s", label);
  return s;
}

struct weft_stream *stream_open_fd(uv_loop_t *loop, int fd, const char *label)
{
  struct weft_stream *s = pipe_stream_new(loop, label);
  if (!s || uv_pipe_open((uv_pipe_t *)s->tcp, fd) != 0) {
    close(fd); /* not the pipe's: its close would leave it open */
    if (s)
      stream_discard(s);
    return NULL;
  }
  return s;
}

struct weft_stream *stream_accept_local(uv_loop_t *loop, uv_stream_t *server)
{
  /* No address: the peer is a process of this machine. */
  struct weft_stream *s = pipe_stream_new(loop, "local");
  if (s && uv_accept(server, (uv_stream_t *)s->tcp) != 0) {
    stream_discard(s);
    return NULL;
  }
  return s;
}

void stream_handover(struct weft_stream *s, const void *leftover, size_t len)
{
  /* Only a raw stream is handed on: its reader stops being called. */
  assert(s->mode == MODE_RAW);
  s->mode = MODE_NEW;
  s->cbs = NULL;
  s->ctx = NULL;
  stream__update_reading(s);
  if (len) {
    char *copy = malloc(s->leftover_len + len);
    if (!copy) {
      stream__close_with(s, WEFT_ENOMEM);
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
