#include "mux.h"

#include <assert.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* A queued chunk of bytes a socket sent, waiting for the HTTP/2 stream. */
struct chunk {
  struct chunk *next;
  size_t len, off;
  uint8_t data[];
};

struct mux_stream {
  const struct weft_host *host;
  struct mux *mux;          /* NULL once the session is gone */
  int32_t id;
  struct weft_pipe *pipe;   /* NULL before accept and after the socket went */
  bool h2_open;             /* nghttp2 still knows the stream */
  bool pipe_open;           /* the pipe has not reported closed() */
  bool deferred;            /* the data source said DEFERRED */
  bool local_eof;           /* the socket sent FIN: END_STREAM after out */
  bool peer_eof;            /* the peer sent END_STREAM */
  bool answered;            /* device side: 200 or 502 submitted */
  bool connecting;          /* device side: waiting for mux_accept/refuse */
  bool socket_paused;       /* we returned a backlog above high water */
  struct chunk *out_head, *out_tail;
  size_t out_len;           /* bytes from the socket not yet in frames */
  struct chunk *early_head, *early_tail; /* data that came while connecting */
  size_t unconsumed;        /* received but window not yet given back */
  char peer[64];
  struct mux_stream *prev, *next;
};

/* nghttp2's few large blocks (see big_alloc) live in their own pages. */
#define BIG_BLOCK 4096
#define BIG_SLOTS 8

struct mux {
  const struct weft_host *host;
  nghttp2_session *session;
  struct {
    void *p;
    size_t len;
  } big[BIG_SLOTS];
  int framebuf;             /* the slot frames come out of, or -1 */
  bool opener;
  const struct mux_cbs *cbs;
  void *arg;
  struct mux_stream *streams;
  size_t stream_count;
  uint64_t total_streams, bytes_in, bytes_out;
  bool failed;
  bool flushing;
  bool peer_done;           /* the peer said GOAWAY without an error */
  bool flooded;             /* see mux_flooded */
  uint64_t control_since;   /* when this second of control frames began */
  unsigned control_count;   /* control frames in it */
};

/* Frames other than DATA are packed into messages here and handed on at
 * once; the loop is single-threaded and mux_flush does not nest, so one
 * buffer serves every session (and an idle session costs nothing for
 * it). */
static uint8_t sendbuf[MUX_MAX_MESSAGE];
static size_t packed; /* bytes in sendbuf */

/* A DATA frame's payload may be copied into sendbuf whole (send_data). */
_Static_assert(MUX_MAX_FRAME <= MUX_MAX_MESSAGE, "a frame fits sendbuf");

static void send_packed(struct mux *m)
{
  assert(packed <= MUX_MAX_MESSAGE && m->flushing);
  if (packed) {
    struct iovec p = {sendbuf, packed};
    packed = 0;
    m->cbs->send(m->arg, &p, 1);
  }
}

/* ---- stream bookkeeping ---- */

static struct chunk *chunk_new(const struct weft_host *host,
                               const void *data, size_t len)
{
  struct chunk *c = host->alloc(sizeof *c + len);
  if (c) {
    c->next = NULL;
    c->len = len;
    c->off = 0;
    memcpy(c->data, data, len);
  }
  return c;
}

static void chunks_free(const struct weft_host *host, struct chunk *c)
{
  while (c) {
    struct chunk *n = c->next;
    host->free(c);
    c = n;
  }
}

static struct mux_stream *stream_new(struct mux *m)
{
  struct mux_stream *ms = m->host->calloc(1, sizeof *ms);
  if (!ms)
    return NULL;
  ms->host = m->host;
  ms->mux = m;
  ms->next = m->streams;
  if (ms->next)
    ms->next->prev = ms;
  m->streams = ms;
  m->stream_count++;
  m->total_streams++;
  return ms;
}

static void unlink_stream(struct mux_stream *ms)
{
  struct mux *m = ms->mux;
  if (!m)
    return;
  assert(m->stream_count > 0);
  assert(ms->prev ? ms->prev->next == ms : m->streams == ms);
  if (ms->prev)
    ms->prev->next = ms->next;
  else
    m->streams = ms->next;
  if (ms->next)
    ms->next->prev = ms->prev;
  m->stream_count--;
  ms->mux = NULL;
}

/* Frees the stream once neither nghttp2 nor the pipe refers to it. */
static void maybe_free(struct mux_stream *ms)
{
  if (ms->h2_open || ms->pipe_open || ms->connecting)
    return;
  assert(!ms->pipe); /* closed() cleared it */
  unlink_stream(ms);
  chunks_free(ms->host, ms->out_head);
  chunks_free(ms->host, ms->early_head);
  ms->host->free(ms);
}

/* ---- the pipe: the socket side of a stream ---- */

static size_t pipe_write(void *pctx, const void *data, size_t len)
{
  struct mux_stream *ms = pctx;
  struct mux *m = ms->mux;
  if (!m || !ms->h2_open)
    return 0; /* the stream is going away: drop */
  struct chunk *c = chunk_new(m->host, data, len);
  if (!c) {
    m->host->pipe_close(ms->pipe, WEFT_ENOMEM);
    return 0;
  }
  if (ms->out_tail)
    ms->out_tail->next = c;
  else
    ms->out_head = c;
  ms->out_tail = c;
  ms->out_len += len;
  m->bytes_in += len;
  if (ms->deferred) {
    ms->deferred = false;
    nghttp2_session_resume_data(m->session, ms->id);
  }
  mux_flush(m);
  if (ms->out_len > WEFT_PIPE_HIGH_WATER)
    ms->socket_paused = true;
  return ms->out_len;
}

static void pipe_shutdown_cb(void *pctx)
{
  struct mux_stream *ms = pctx;
  struct mux *m = ms->mux;
  ms->local_eof = true;
  if (!m || !ms->h2_open)
    return;
  if (ms->deferred) {
    ms->deferred = false;
    nghttp2_session_resume_data(m->session, ms->id);
  }
  mux_flush(m);
}

static void give_back_window(struct mux_stream *ms)
{
  struct mux *m = ms->mux;
  if (m && ms->unconsumed && ms->h2_open) {
    nghttp2_session_consume(m->session, ms->id, ms->unconsumed);
    ms->unconsumed = 0;
    mux_flush(m);
  }
}

static void pipe_drained(void *pctx) { give_back_window(pctx); }

static void pipe_closed(void *pctx, int err)
{
  struct mux_stream *ms = pctx;
  struct mux *m = ms->mux;
  /* The pipe reports its end once; until then the stream stays. */
  assert(ms->pipe_open && ms->pipe);
  ms->pipe = NULL;
  ms->pipe_open = false;
  if (m && ms->h2_open) {
    /* The socket is gone before the stream ended: reset it. A clean end
     * (both sides sent FIN) leaves nothing to reset. Sending may end the
     * stream, and on_stream_close then frees ms: do not touch it after. */
    if (!(ms->local_eof && ms->peer_eof && err == 0))
      nghttp2_submit_rst_stream(m->session, NGHTTP2_FLAG_NONE, ms->id,
                                err ? NGHTTP2_CANCEL : NGHTTP2_NO_ERROR);
    mux_flush(m);
    return;
  }
  maybe_free(ms);
}

static const struct weft_pipe_ops pipe_ops = {
    .write = pipe_write,
    .shutdown = pipe_shutdown_cb,
    .drained = pipe_drained,
    .closed = pipe_closed,
};

/* ---- nghttp2 callbacks ---- */

/* Drops n bytes from the front of the stream's queue, and lets its socket
 * read again once the queue is low. */
static void take_bytes(struct mux_stream *ms, size_t n)
{
  /* read_source offered at most out_len bytes. */
  assert(n <= ms->out_len);
  ms->out_len -= n;
  while (n) {
    struct chunk *c = ms->out_head;
    assert(c); /* n <= out_len, which the chunks hold */
    size_t take = c->len - c->off < n ? c->len - c->off : n;
    c->off += take;
    n -= take;
    if (c->off == c->len) {
      ms->out_head = c->next;
      if (!ms->out_head)
        ms->out_tail = NULL;
      ms->host->free(c);
    }
  }
  if (ms->socket_paused && ms->out_len < WEFT_PIPE_LOW_WATER && ms->pipe) {
    ms->socket_paused = false;
    ms->host->pipe_resume(ms->pipe);
  }
}

/* How much the next DATA frame carries; send_data writes it. */
static ssize_t read_source(nghttp2_session *session, int32_t id, uint8_t *buf,
                           size_t length, uint32_t *flags,
                           nghttp2_data_source *source, void *user)
{
  (void)session, (void)id, (void)buf, (void)user;
  struct mux_stream *ms = source->ptr;
  assert(ms->h2_open && ms->mux);
  size_t n = ms->out_len < length ? ms->out_len : length;
  if (n == ms->out_len && ms->local_eof) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  } else if (n == 0) {
    ms->deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  return (ssize_t)n;
}

/* Points pieces at the stream's first len queued bytes where they lie:
 * how many it took, or 0 when they lie in more than max chunks. */
static size_t queued_pieces(const struct mux_stream *ms, size_t len,
                            struct iovec *pieces, size_t max)
{
  size_t count = 0;
  for (const struct chunk *c = ms->out_head; len; c = c->next) {
    assert(c); /* len <= out_len, which the chunks hold */
    if (count == max)
      return 0;
    size_t take = c->len - c->off < len ? c->len - c->off : len;
    pieces[count++] = (struct iovec){(void *)(c->data + c->off), take};
    len -= take;
  }
  return count;
}

/* Copies the stream's first len queued bytes to out. */
static void copy_queued(const struct mux_stream *ms, size_t len, uint8_t *out)
{
  for (const struct chunk *c = ms->out_head; len; c = c->next) {
    assert(c);
    size_t take = c->len - c->off < len ? c->len - c->off : len;
    memcpy(out, c->data + c->off, take);
    out += take;
    len -= take;
  }
}

/* A DATA frame: its header, then the stream's queued bytes where they
 * lie (copied together when in many small chunks). Waits while the
 * carrier holds more than the high-water mark, which bounds what a
 * session buffers whatever its streams do. */
static int send_data(nghttp2_session *session, nghttp2_frame *frame,
                     const uint8_t *framehd, size_t length,
                     nghttp2_data_source *source, void *user)
{
  (void)session, (void)frame; /* no padding is ever chosen */
  struct mux *m = user;
  struct mux_stream *ms = source->ptr;
  if (m->cbs->backlog(m->arg) > WEFT_PIPE_HIGH_WATER)
    return NGHTTP2_ERR_WOULDBLOCK;
  send_packed(m); /* what came before goes first */
  /* read_length caps a frame at MUX_MAX_FRAME: it fits sendbuf. */
  assert(length <= ms->out_len && length <= MUX_MAX_FRAME && packed == 0);
  struct iovec p[MUX_MAX_PIECES] = {{(void *)framehd, 9}};
  size_t count = 1 + queued_pieces(ms, length, p + 1, MUX_MAX_PIECES - 1);
  if (count == 1 && length) {
    copy_queued(ms, length, sendbuf);
    p[count++] = (struct iovec){sendbuf, length};
  }
  m->cbs->send(m->arg, p, count);
  take_bytes(ms, length);
  return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t id,
                         const uint8_t *data, size_t len, void *user)
{
  (void)flags;
  struct mux *m = user;
  struct mux_stream *ms = nghttp2_session_get_stream_user_data(session, id);
  m->bytes_out += len;
  if (ms && ms->connecting) {
    /* The local connection is not up yet: keep the bytes (the window we
     * withhold bounds them) until mux_accept. */
    assert(!ms->pipe);
    struct chunk *c = chunk_new(m->host, data, len);
    if (!c)
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    if (ms->early_tail)
      ms->early_tail->next = c;
    else
      ms->early_head = c;
    ms->early_tail = c;
    ms->unconsumed += len;
    return 0;
  }
  if (!ms || !ms->pipe) {
    nghttp2_session_consume(session, id, len); /* nobody to take it */
    return 0;
  }
  size_t backlog = m->host->pipe_send(ms->pipe, data, len);
  if (backlog <= WEFT_PIPE_HIGH_WATER && !ms->unconsumed)
    nghttp2_session_consume(session, id, len);
  else
    ms->unconsumed += len; /* given back when the socket drains */
  return 0;
}

static int on_begin_headers(nghttp2_session *session,
                            const nghttp2_frame *frame, void *user)
{
  struct mux *m = user;
  if (m->opener || frame->hd.type != NGHTTP2_HEADERS ||
      frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  struct mux_stream *ms = stream_new(m);
  if (!ms)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  ms->id = frame->hd.stream_id;
  ms->h2_open = true;
  nghttp2_session_set_stream_user_data(session, ms->id, ms);
  return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame,
                     const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
  (void)flags, (void)user;
  struct mux_stream *ms =
      nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
  if (!ms)
    return 0;
  if (namelen == 9 && !memcmp(name, "weft-peer", 9))
    snprintf(ms->peer, sizeof ms->peer, "%.*s",
             (int)(valuelen < 63 ? valuelen : 63), value);
  else if (namelen == 7 && !memcmp(name, ":status", 7) &&
           !(valuelen == 3 && !memcmp(value, "200", 3)) && ms->pipe)
    /* The device could not reach its service: end the public side. */
    ms->mux->host->pipe_close(ms->pipe, WEFT_ECONNREFUSED);
  return 0;
}

/* PING and SETTINGS asking for an answer, and PRIORITY. */
static bool control_frame(const nghttp2_frame *frame)
{
  switch (frame->hd.type) {
  case NGHTTP2_PING:
  case NGHTTP2_SETTINGS:
    return !(frame->hd.flags & NGHTTP2_FLAG_ACK);
  case NGHTTP2_PRIORITY:
    return true;
  default:
    return false;
  }
}

/* Counts a control frame; false once the peer sent too many this second. */
static bool control_allowed(struct mux *m)
{
  uint64_t now = m->host->now_ms(m->host);
  if (now - m->control_since >= 1000) {
    m->control_since = now;
    m->control_count = 0;
  }
  return ++m->control_count <= MUX_CONTROL_PER_S;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame,
                         void *user)
{
  struct mux *m = user;
  m->host->log(m->host, WEFT_LOG_DEBUG, "h2 %s: frame type %u stream %d flags 0x%x",
               m->opener ? "server" : "device", frame->hd.type,
               frame->hd.stream_id, frame->hd.flags);
  if (control_frame(frame) && !control_allowed(m)) {
    /* Stop here: the rest of what came is not parsed, let alone answered
     * (mux_input sends the GOAWAY and reports the failure). */
    m->flooded = true;
    nghttp2_session_terminate_session(session, NGHTTP2_ENHANCE_YOUR_CALM);
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  if (frame->hd.type == NGHTTP2_GOAWAY &&
      frame->goaway.error_code == NGHTTP2_NO_ERROR)
    m->peer_done = true;
  if (frame->hd.type == NGHTTP2_PING && (frame->hd.flags & NGHTTP2_FLAG_ACK)) {
    if (m->cbs->on_pong)
      m->cbs->on_pong(m->arg);
    return 0;
  }
  struct mux_stream *ms =
      frame->hd.stream_id
          ? nghttp2_session_get_stream_user_data(session, frame->hd.stream_id)
          : NULL;
  if (!ms)
    return 0;
  if (frame->hd.type == NGHTTP2_HEADERS &&
      frame->headers.cat == NGHTTP2_HCAT_REQUEST && !m->opener &&
      m->cbs->on_stream) {
    ms->connecting = true;
    m->cbs->on_stream(m->arg, ms);
  }
  if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    ms->peer_eof = true;
    if (ms->pipe && !ms->connecting)
      m->host->pipe_shutdown(ms->pipe);
  }
  return 0;
}

/* DATA frames as large as the peer allows (up to MUX_MAX_FRAME), not
 * nghttp2's 16 KiB default: fewer frames, less overhead per byte. */
static ssize_t read_length(nghttp2_session *session, uint8_t frame_type,
                           int32_t id, int32_t session_window,
                           int32_t stream_window, uint32_t max_frame,
                           void *user)
{
  (void)session, (void)frame_type, (void)id, (void)user;
  ssize_t n = MUX_MAX_FRAME;
  if ((ssize_t)max_frame < n)
    n = (ssize_t)max_frame;
  if (session_window < n)
    n = session_window;
  if (stream_window < n)
    n = stream_window;
  return n > 0 ? n : 1;
}

static int on_stream_close(nghttp2_session *session, int32_t id,
                           uint32_t error_code, void *user)
{
  struct mux *m = user;
  struct mux_stream *ms = nghttp2_session_get_stream_user_data(session, id);
  if (!ms)
    return 0;
  /* nghttp2 closes a stream once, and calls nothing after mux_free. */
  assert(ms->h2_open && ms->mux == m && ms->id == id);
  ms->h2_open = false;
  if (ms->pipe && error_code != NGHTTP2_NO_ERROR)
    m->host->pipe_close(ms->pipe, WEFT_ECONNRESET);
  else if (ms->pipe && !ms->peer_eof)
    m->host->pipe_close(ms->pipe, WEFT_ECONNRESET);
  maybe_free(ms);
  return 0;
}

/* ---- nghttp2's memory ----
 * A session allocates a 16 KiB frame buffer and a 4 KiB stream table when
 * it is created; an idle session writes a few dozen bytes of the first and
 * none of the second. From the heap, whose pages earlier allocations have
 * already touched, both would be resident in full: from their own
 * anonymous mappings, the kernel backs only the pages written. Blocks this
 * large are few and long-lived (those two, and when they grow), so the
 * mmap per block costs nothing that matters; they are remembered per
 * session (a handful of slots; when those are taken, the heap).
 *
 * The page of the frame buffer a ping or a window update writes would
 * still stay resident for good. It holds nothing between frames: the bytes
 * nghttp2_session_mem_send hands out are valid only until the next call,
 * and a call that returns 0 leaves no frame in progress. So while a
 * session carries no stream, each flush that ends that way gives the
 * buffer's pages back (MADV_DONTNEED: the next frame finds them zeroed);
 * with streams, where flushes are many, it keeps them. The frame buffer is
 * the block that holds the bytes handed out. */

static void *big_alloc(struct mux *m, size_t size, bool zero)
{
  for (size_t i = 0; i < BIG_SLOTS; i++) {
    if (m->big[i].p)
      continue;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
      break;
    m->big[i].p = p; /* zeroed by the kernel */
    m->big[i].len = size;
    return p;
  }
  return zero ? calloc(1, size) : malloc(size);
}

/* The slot whose block holds [p, p + len), or -1. */
static int big_slot_holding(const struct mux *m, const uint8_t *p, size_t len)
{
  for (int i = 0; i < BIG_SLOTS; i++) {
    const uint8_t *b = m->big[i].p;
    if (b && p >= b && len <= m->big[i].len &&
        (size_t)(p - b) <= m->big[i].len - len)
      return i;
  }
  return -1;
}

/* The slot holding p, or -1 when p came from the heap. */
static int big_slot(const struct mux *m, const void *p)
{
  for (int i = 0; p && i < BIG_SLOTS; i++)
    if (m->big[i].p == p)
      return i;
  return -1;
}

static void *mem_malloc(size_t size, void *user)
{
  return size >= BIG_BLOCK ? big_alloc(user, size, false) : malloc(size);
}

static void mem_free(void *p, void *user)
{
  struct mux *m = user;
  int i = big_slot(m, p);
  if (i < 0) {
    free(p);
    return;
  }
  munmap(m->big[i].p, m->big[i].len);
  m->big[i].p = NULL;
  if (m->framebuf == i)
    m->framebuf = -1;
}

static void *mem_calloc(size_t n, size_t size, void *user)
{
  if (size && n > SIZE_MAX / size)
    return NULL;
  return n * size >= BIG_BLOCK ? big_alloc(user, n * size, true)
                               : calloc(n, size);
}

static void *mem_realloc(void *p, size_t size, void *user)
{
  struct mux *m = user;
  int i = big_slot(m, p);
  if (i < 0)
    return p ? realloc(p, size) : mem_malloc(size, m);
  void *q = mem_malloc(size, m);
  if (!q)
    return NULL;
  memcpy(q, p, m->big[i].len < size ? m->big[i].len : size);
  mem_free(p, m);
  return q;
}

/* ---- the session ---- */

struct mux *mux_new(const struct weft_host *host, bool opener,
                    uint32_t max_streams, const struct mux_cbs *cbs,
                    void *arg)
{
  struct mux *m = host->calloc(1, sizeof *m);
  if (!m)
    return NULL;
  m->host = host;
  m->opener = opener;
  m->cbs = cbs;
  m->arg = arg;
  m->framebuf = -1;
  nghttp2_session_callbacks *cb;
  nghttp2_option *opt;
  if (nghttp2_session_callbacks_new(&cb) != 0) {
    host->free(m);
    return NULL;
  }
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  nghttp2_session_callbacks_set_data_source_read_length_callback(cb,
                                                                 read_length);
  nghttp2_session_callbacks_set_send_data_callback(cb, send_data);
  nghttp2_option_new(&opt);
  /* Window updates only once the bytes have left through the socket. */
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_peer_max_concurrent_streams(opt, max_streams);
  /* Our headers are a handful of bytes: no HPACK dynamic table, which
   * keeps an idle session small. */
  nghttp2_option_set_max_deflate_dynamic_table_size(opt, 0);
  /* The accepting side (the device) trusts its server, which resets a
   * stream for every public connection that ends in an error: nghttp2's
   * "rapid reset" limit (1000 at once, 33 a second) would let any visitor
   * who resets many connections end the whole session for everyone. */
  if (!opener)
    nghttp2_option_set_stream_reset_rate_limit(opt, UINT64_MAX / 2,
                                               UINT64_MAX / 2);
  nghttp2_mem mem = {m, mem_malloc, mem_free, mem_calloc, mem_realloc};
  int rc = opener
               ? nghttp2_session_client_new3(&m->session, cb, m, opt, &mem)
               : nghttp2_session_server_new3(&m->session, cb, m, opt, &mem);
  nghttp2_session_callbacks_del(cb);
  nghttp2_option_del(opt);
  if (rc != 0) {
    host->free(m);
    return NULL;
  }
  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, max_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
       opener ? MUX_STREAM_WINDOW : MUX_DEVICE_STREAM_WINDOW},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, MUX_MAX_FRAME},
      {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, 0},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0}, /* a client's setting only */
  };
  nghttp2_submit_settings(m->session, NGHTTP2_FLAG_NONE, settings,
                          opener ? 5 : 4);
  nghttp2_session_set_local_window_size(m->session, NGHTTP2_FLAG_NONE, 0,
                                        MUX_SESSION_WINDOW);
  return m;
}

void mux_free(struct mux *m)
{
  if (!m)
    return;
  /* nghttp2 calls nothing more after this; the pipes close and report
   * back to streams that no longer have a session. */
  nghttp2_session_del(m->session);
  m->session = NULL;
  while (m->streams) {
    struct mux_stream *ms = m->streams;
    unlink_stream(ms);
    ms->h2_open = false;
    chunks_free(m->host, ms->out_head);
    ms->out_head = ms->out_tail = NULL;
    if (ms->pipe)
      m->host->pipe_close(ms->pipe, WEFT_ECONNRESET);
    else
      maybe_free(ms); /* a connecting stream waits for accept/refuse */
  }
  m->host->free(m);
}

int mux_input(struct mux *m, const uint8_t *data, size_t len)
{
  m->host->log(m->host, WEFT_LOG_DEBUG, "h2 %s: %zu bytes in",
               m->opener ? "server" : "device", len);
  if (m->failed)
    return -1;
  ssize_t rc = nghttp2_session_mem_recv(m->session, data, len);
  if (rc == NGHTTP2_ERR_FLOODED)
    m->flooded = true; /* it owes more acknowledgements than it queues */
  if (rc < 0 || (size_t)rc != len) {
    if (m->flooded)
      mux_flush(m); /* the GOAWAY, if the carrier takes it */
    m->failed = true;
    if (m->cbs->on_failure)
      m->cbs->on_failure(m->arg,
                         m->flooded ? "the peer flooded it with control frames"
                         : rc < 0   ? nghttp2_strerror((int)rc)
                                    : "short read");
    return -1;
  }
  mux_flush(m);
  /* nghttp2 answers a protocol error with GOAWAY and then wants nothing
   * more: the session is over. (After the peer's own clean GOAWAY it wants
   * nothing either: that is a goodbye, and the WebSocket close follows.) */
  if (!m->failed && !m->peer_done &&
      !nghttp2_session_want_read(m->session) &&
      !nghttp2_session_want_write(m->session)) {
    m->failed = true;
    if (m->cbs->on_failure)
      m->cbs->on_failure(m->arg, "the peer broke the HTTP/2 session");
    return -1;
  }
  return 0;
}

bool mux_flooded(const struct mux *m) { return m->flooded; }

void mux_flush(struct mux *m)
{
  if (m->flushing || m->failed)
    return; /* a callback below us will be picked up by the outer loop */
  /* sendbuf is shared: no other session's flush is under way (they do
   * not nest), so nothing is packed in it. */
  assert(packed == 0);
  m->flushing = true;
  bool sent = false, drained;
  for (;;) {
    drained = false;
    while (packed < MUX_MAX_MESSAGE) {
      const uint8_t *data;
      ssize_t n = nghttp2_session_mem_send(m->session, &data);
      if (n < 0) {
        packed = 0;
        m->failed = true;
        if (m->cbs->on_failure)
          m->cbs->on_failure(m->arg, nghttp2_strerror((int)n));
        m->flushing = false;
        return;
      }
      if (n == 0) {
        drained = true;
        break;
      }
      if (m->framebuf < 0)
        m->framebuf = big_slot_holding(m, data, (size_t)n);
      sent = true;
      /* nghttp2 hands out one frame at a time; pack them into messages
       * of up to MUX_MAX_MESSAGE. (DATA frames go on their own from
       * send_data, which sends what is packed first.) */
      if (packed + (size_t)n > MUX_MAX_MESSAGE)
        send_packed(m);
      /* Frames other than DATA are ours and small (SETTINGS, PING,
       * WINDOW_UPDATE, RST_STREAM, GOAWAY, a few headers). */
      assert(packed + (size_t)n <= MUX_MAX_MESSAGE);
      memcpy(sendbuf + packed, data, (size_t)n);
      packed += (size_t)n;
      if (m->cbs->backlog(m->arg) > WEFT_PIPE_HIGH_WATER)
        break;
    }
    send_packed(m);
    assert(packed == 0);
    if (drained || m->cbs->backlog(m->arg) > WEFT_PIPE_HIGH_WATER ||
        !nghttp2_session_want_write(m->session))
      break;
  }
  if (sent && drained && m->stream_count == 0 && m->framebuf >= 0)
    madvise(m->big[m->framebuf].p, m->big[m->framebuf].len, MADV_DONTNEED);
  m->flushing = false;
}

int mux_open(struct mux *m, struct weft_stream *conn)
{
  struct weft_stream_info info = {.struct_size = sizeof info};
  m->host->stream_info(conn, &info);
  struct mux_stream *ms = stream_new(m);
  if (!ms)
    return WEFT_ENOMEM;
  snprintf(ms->peer, sizeof ms->peer, "%s:%u", info.peer_ip, info.peer_port);
  nghttp2_nv nva[] = {
      {(uint8_t *)":method", (uint8_t *)"CONNECT", 7, 7, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)":authority", (uint8_t *)"local", 10, 5,
       NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)"weft-peer", (uint8_t *)ms->peer, 9, strlen(ms->peer),
       NGHTTP2_NV_FLAG_NONE},
  };
  nghttp2_data_provider prd = {.source.ptr = ms, .read_callback = read_source};
  int32_t id = nghttp2_submit_request(m->session, NULL, nva, 3, &prd, ms);
  if (id < 0) {
    unlink_stream(ms);
    m->host->free(ms);
    return WEFT_ELIMIT;
  }
  ms->id = id;
  ms->h2_open = true;
  ms->pipe_open = true;
  int rc = m->host->pipe_attach(m->host, conn, &pipe_ops, ms, &ms->pipe);
  if (rc != 0) {
    ms->pipe_open = false;
    nghttp2_submit_rst_stream(m->session, NGHTTP2_FLAG_NONE, id,
                              NGHTTP2_CANCEL);
    mux_flush(m);
    return rc;
  }
  mux_flush(m);
  return 0;
}

void mux_accept(struct mux_stream *ms, struct weft_stream *local)
{
  struct mux *m = ms->mux;
  /* The answer to on_stream, given once; the pipe comes only here. */
  assert(ms->connecting && !ms->pipe && !ms->pipe_open && !ms->answered);
  ms->connecting = false;
  if (!m || !ms->h2_open) {
    /* The stream or the session ended while we were connecting. */
    ms->host->stream_close(local);
    maybe_free(ms);
    return;
  }
  ms->pipe_open = true;
  if (m->host->pipe_attach(m->host, local, &pipe_ops, ms, &ms->pipe) != 0) {
    ms->pipe_open = false;
    m->host->stream_close(local);
    mux_refuse(ms);
    return;
  }
  nghttp2_nv nva[] = {
      {(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE}};
  nghttp2_data_provider prd = {.source.ptr = ms, .read_callback = read_source};
  ms->answered = true;
  nghttp2_submit_response(m->session, ms->id, nva, 1, &prd);
  /* What arrived while we connected goes first. */
  size_t backlog = 0;
  for (struct chunk *c = ms->early_head; c && ms->pipe; c = c->next)
    backlog = m->host->pipe_send(ms->pipe, c->data, c->len);
  chunks_free(m->host, ms->early_head);
  ms->early_head = ms->early_tail = NULL;
  if (ms->pipe && ms->peer_eof)
    m->host->pipe_shutdown(ms->pipe);
  if (backlog <= WEFT_PIPE_HIGH_WATER)
    give_back_window(ms);
  mux_flush(m);
}

void mux_refuse(struct mux_stream *ms)
{
  struct mux *m = ms->mux;
  assert(!ms->pipe); /* never attached, or its attach failed */
  ms->connecting = false;
  if (!m || !ms->h2_open || ms->answered) {
    maybe_free(ms);
    return;
  }
  ms->answered = true;
  nghttp2_nv nva[] = {
      {(uint8_t *)":status", (uint8_t *)"502", 7, 3, NGHTTP2_NV_FLAG_NONE}};
  nghttp2_submit_response(m->session, ms->id, nva, 1, NULL);
  mux_flush(m);
}

const char *mux_stream_peer(const struct mux_stream *ms) { return ms->peer; }

void mux_ping(struct mux *m)
{
  nghttp2_submit_ping(m->session, NGHTTP2_FLAG_NONE, NULL);
  mux_flush(m);
}

void mux_goaway(struct mux *m)
{
  nghttp2_submit_goaway(m->session, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(m->session),
                        NGHTTP2_NO_ERROR, NULL, 0);
  mux_flush(m);
}

size_t mux_stream_count(const struct mux *m) { return m->stream_count; }

void mux_totals(const struct mux *m, uint64_t *streams, uint64_t *bytes_in,
                uint64_t *bytes_out)
{
  *streams = m->total_streams;
  *bytes_in = m->bytes_in;
  *bytes_out = m->bytes_out;
}
