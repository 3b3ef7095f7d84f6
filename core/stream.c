#include "stream.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/errors.h>

#include "log.h"
#include "strbuf.h"
#include "tls.h"

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
  struct tls_state *tls;   /* NULL: plain TCP */
  SSL_CTX *sniff_ctx;      /* server: TLS if the first byte says so */
  uv_timer_t *deadline;    /* a dial's: TCP connect and TLS handshake */
  /* What was written before the stream could carry it (TLS not yet
   * decided or not yet established); a shutdown asked for meanwhile. */
  struct strbuf held;
  bool shutdown_held;
};

/* TLS over the socket with memory BIOs: ciphertext in from the socket,
 * plaintext to the reader; plaintext from the writer, ciphertext out. */
struct tls_state {
  SSL *ssl;
  BIO *in, *out;
  bool established;
  bool client;
  bool draining;           /* in tls_drain: no re-entry */
  char pin[TLS_FINGERPRINT_HEX + 1]; /* client: the server cert required */
  weft_connect_cb cb;      /* client: told once the handshake is done */
  void *cb_ctx;
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

static void tls_free(struct tls_state *t)
{
  if (!t)
    return;
  SSL_free(t->ssl); /* frees the BIOs too */
  free(t);
}

static void free_stream(struct weft_stream *s)
{
  tls_free(s->tls);
  strbuf_free(&s->held);
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

static void deadline_closed(uv_handle_t *h) { free(h); }

static void deadline_stop(struct weft_stream *s)
{
  if (s->deadline) {
    uv_close((uv_handle_t *)s->deadline, deadline_closed);
    s->deadline = NULL;
  }
}

static void connect_done(struct weft_stream *s, int status);

static void close_with(struct weft_stream *s, int err)
{
  if (s->closing)
    return;
  if (s->tls && s->tls->cb) {
    /* A dial still in its handshake: the dialer hears of it. */
    connect_done(s, err ? err : WEFT_ECONNRESET);
    return;
  }
  deadline_stop(s);
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

static void plaintext_in(struct weft_stream *s, const char *data, size_t len)
{
  if (s->filter)
    s->filter(s->fctx, data, len);
  else
    deliver(s, data, len);
}

static int tls_start(struct weft_stream *s, SSL_CTX *ctx, bool client,
                     const char *sni);
static void tls_in(struct weft_stream *s, const char *data, size_t len);
static void tls_drain(struct weft_stream *s);
static void tls_flush(struct weft_stream *s);
static size_t plain_write(struct weft_stream *s, const void *data, size_t len);
static void on_eof(struct weft_stream *s);
static void release_held(struct weft_stream *s);

/* Until TLS is decided (server) and established, writes are held and the
 * handshake reads whoever owns the stream. */
static bool waiting_for_tls(const struct weft_stream *s)
{
  return s->sniff_ctx || (s->tls && !s->tls->established);
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
  struct weft_stream *s = st->data;
  if (s->closing)
    return;
  if (n > 0 && s->sniff_ctx) {
    /* A TLS record starts with 0x16 (handshake): HTTPS on this port. */
    SSL_CTX *ctx = s->sniff_ctx;
    s->sniff_ctx = NULL;
    if ((unsigned char)buf->base[0] != 0x16) {
      release_held(s); /* plain: what waited goes now */
    } else if (tls_start(s, ctx, false, NULL) != 0) {
      close_with(s, WEFT_ENOMEM);
      return;
    }
    if (s->closing)
      return;
  }
  if (n > 0) {
    if (s->tls)
      tls_in(s, buf->base, (size_t)n);
    else
      plaintext_in(s, buf->base, (size_t)n);
    return;
  }
  if (n == UV_EOF) {
    on_eof(s);
    return;
  }
  if (n < 0)
    close_with(s, uv_to_weft((int)n));
}

static void on_eof(struct weft_stream *s)
{
  if (s->tls && !s->tls->established) {
    /* The peer hung up in the middle of the handshake. */
    if (s->tls->client)
      connect_done(s, WEFT_ECONNRESET);
    else
      close_with(s, WEFT_EPROTO);
    return;
  }
  s->read_eof = true;
  update_reading(s);
  if (s->mode == MODE_RAW && s->cbs->on_eof)
    s->cbs->on_eof(s->ctx);
  else if (s->mode == MODE_PIPE && s->ops->shutdown)
    s->ops->shutdown(s->pctx);
  if (!s->closing)
    maybe_finished(s);
}

/* ---- TLS ---- */

static int tls_start(struct weft_stream *s, SSL_CTX *ctx, bool client,
                     const char *sni)
{
  struct tls_state *t = calloc(1, sizeof *t);
  if (!t)
    return -1;
  t->ssl = SSL_new(ctx);
  t->in = BIO_new(BIO_s_mem());
  t->out = BIO_new(BIO_s_mem());
  if (!t->ssl || !t->in || !t->out) {
    SSL_free(t->ssl);
    BIO_free(t->in);
    BIO_free(t->out);
    free(t);
    return -1;
  }
  BIO_set_mem_eof_return(t->in, -1); /* empty means "wait", not EOF */
  SSL_set_bio(t->ssl, t->in, t->out);
  t->client = client;
  if (client) {
    SSL_set_connect_state(t->ssl);
    if (sni)
      SSL_set_tlsext_host_name(t->ssl, sni);
  } else {
    SSL_set_accept_state(t->ssl);
  }
  s->tls = t;
  return 0;
}

/* The handshake is over: check the pin (client), send what waited. */
static void tls_established(struct weft_stream *s)
{
  struct tls_state *t = s->tls;
  t->established = true;
  if (t->client && t->pin[0]) {
    char got[TLS_FINGERPRINT_HEX + 1] = "";
    X509 *cert = SSL_get1_peer_certificate(t->ssl);
    tls_cert_fingerprint(cert, got);
    X509_free(cert);
    if (strcmp(got, t->pin)) {
      log_warn("TLS: the server at %s:%u shows certificate %s, not the "
               "pinned %s",
               s->peer_ip, s->peer_port, got, t->pin);
      connect_done(s, WEFT_EAUTH);
      return;
    }
  }
  release_held(s);
  if (t->client)
    connect_done(s, 0);
}

static void tls_in(struct weft_stream *s, const char *data, size_t len)
{
  struct tls_state *t = s->tls;
  if (BIO_write(t->in, data, (int)len) != (int)len) {
    close_with(s, WEFT_ENOMEM);
    return;
  }
  if (!t->established) {
    int rc = SSL_do_handshake(t->ssl);
    tls_flush(s);
    if (rc == 1) {
      tls_established(s);
      if (s->closing || !s->tls || !s->tls->established)
        return;
    } else {
      int e = SSL_get_error(t->ssl, rc);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        if (t->client)
          connect_done(s, WEFT_EPROTO);
        else
          close_with(s, WEFT_EPROTO);
      }
      return;
    }
  }
  tls_drain(s);
}

/* Hands on the plaintext TLS holds, while someone wants it: what is left
 * waits in OpenSSL until the stream is started or resumed. */
static void tls_drain(struct weft_stream *s)
{
  struct tls_state *t = s->tls;
  if (!t || !t->established || t->draining)
    return;
  t->draining = true;
  char buf[16384];
  while (!s->closing && s->mode != MODE_NEW && !s->paused_by_plugin &&
         !s->paused_by_backlog && !s->read_eof) {
    int n = SSL_read(t->ssl, buf, sizeof buf);
    if (n > 0) {
      plaintext_in(s, buf, (size_t)n);
      continue;
    }
    int e = SSL_get_error(t->ssl, n);
    tls_flush(s); /* post-handshake messages, alerts */
    if (e == SSL_ERROR_ZERO_RETURN) {
      t->draining = false;
      on_eof(s); /* close_notify: the peer finished sending */
      return;
    }
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      ERR_clear_error();
      close_with(s, WEFT_EPROTO);
    }
    break;
  }
  t->draining = false;
}

void stream_set_tls_sniff(struct weft_stream *s, SSL_CTX *ctx)
{
  s->sniff_ctx = ctx;
}

int stream_tls_binding(struct weft_stream *s, unsigned char *out, size_t len)
{
  if (!s->tls || !s->tls->established || len < TLS_BINDING_LEN)
    return -1;
  return tls_binding(s->tls->ssl, out) == 0 ? TLS_BINDING_LEN : -1;
}

static void update_reading(struct weft_stream *s)
{
  /* A TLS handshake reads on its own, before anyone has the stream. */
  bool want = !s->closing && !s->read_eof && !s->paused_by_plugin &&
              !s->paused_by_backlog &&
              (s->mode != MODE_NEW || waiting_for_tls(s));
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
  tls_drain(s);
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

/* Bytes as they go on the wire (ciphertext when TLS). */
static size_t socket_write(struct weft_stream *s, const void *data, size_t len)
{
  if (s->closing || len == 0)
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
  return s->backlog;
}

/* Sends whatever TLS produced. */
static void tls_flush(struct weft_stream *s)
{
  char buf[16384];
  int n;
  while ((n = BIO_read(s->tls->out, buf, sizeof buf)) > 0)
    socket_write(s, buf, (size_t)n);
}

static size_t plain_write(struct weft_stream *s, const void *data, size_t len)
{
  struct tls_state *t = s->tls;
  if (s->sniff_ctx) { /* TLS or not: the peer's first byte will say */
    strbuf_add(&s->held, data, len);
    return s->backlog + s->held.len;
  }
  if (!t)
    return socket_write(s, data, len);
  if (!t->established) {
    strbuf_add(&s->held, data, len);
    return s->backlog + s->held.len;
  }
  if (SSL_write(t->ssl, data, (int)len) <= 0) {
    close_with(s, WEFT_EPROTO);
    return s->backlog;
  }
  tls_flush(s);
  return s->backlog;
}

size_t stream_write(struct weft_stream *s, const void *data, size_t len)
{
  if (s->closing || s->shutdown_sent || len == 0)
    return s->backlog + s->held.len;
  if (s->account.on_traffic)
    s->account.on_traffic(s->account.arg, 0, len);
  return plain_write(s, data, len);
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

static void send_shutdown(struct weft_stream *s)
{
  uv_shutdown_t *req = malloc(sizeof *req);
  if (!req) {
    close_with(s, WEFT_ENOMEM);
    return;
  }
  req->data = s;
  if (s->tls && s->tls->established) {
    SSL_shutdown(s->tls->ssl); /* close_notify, then FIN */
    tls_flush(s);
  }
  if (uv_shutdown(req, (uv_stream_t *)s->tcp, shutdown_cb) != 0) {
    free(req);
    close_with(s, WEFT_EIO);
  }
}

void stream_shutdown(struct weft_stream *s)
{
  if (s->closing || s->shutdown_sent)
    return;
  s->shutdown_sent = true;
  if (waiting_for_tls(s))
    s->shutdown_held = true; /* after what is held */
  else
    send_shutdown(s);
}

/* The stream can carry bytes now: send what waited, then any shutdown. */
static void release_held(struct weft_stream *s)
{
  if (s->held.len) {
    struct strbuf held = s->held;
    memset(&s->held, 0, sizeof s->held);
    plain_write(s, held.data, held.len);
    strbuf_free(&held);
  }
  if (s->shutdown_held && !s->closing) {
    s->shutdown_held = false;
    send_shutdown(s);
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
  if (!paused)
    tls_drain(s);
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

size_t pipe_send(struct weft_pipe *p, const void *data, size_t len)
{
  return stream_write(p->stream, data, len);
}

void pipe_resume(struct weft_pipe *p)
{
  struct weft_stream *s = p->stream;
  if (s->paused_by_backlog) {
    s->paused_by_backlog = false;
    tls_drain(s);
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

static uint64_t connect_timeout_ms = STREAM_CONNECT_TIMEOUT_MS;

void stream_set_connect_timeout(uint64_t ms) { connect_timeout_ms = ms; }

/* A dial that takes too long (a black-holed SYN, a peer that never
 * finishes the TLS handshake) fails with WEFT_ETIMEDOUT. */
static void deadline_hit(uv_timer_t *timer)
{
  /* In the TLS handshake the dialer hears at once; during the TCP connect,
   * connected() sees ECANCELED and reports the close_err set here. */
  close_with(timer->data, WEFT_ETIMEDOUT);
}

static void deadline_start(struct weft_stream *s)
{
  s->deadline = malloc(sizeof *s->deadline);
  if (!s->deadline)
    return; /* no deadline: the kernel's own timeouts still apply */
  uv_timer_init(s->loop, s->deadline);
  s->deadline->data = s;
  uv_timer_start(s->deadline, deadline_hit, connect_timeout_ms, 0);
}

struct connect_req {
  uv_getaddrinfo_t gai;
  uv_connect_t conn;
  struct weft_stream *s;
  weft_connect_cb cb;
  void *ctx;
  char port[8];
  bool tls;
  char sni[256];
  char pin[TLS_FINGERPRINT_HEX + 1];
};

/* Tells whoever dialled how it went: once, with the stream or without. */
static void connect_done(struct weft_stream *s, int status)
{
  struct tls_state *t = s->tls;
  weft_connect_cb cb = t ? t->cb : NULL;
  void *ctx = t ? t->cb_ctx : NULL;
  if (t)
    t->cb = NULL;
  if (!cb)
    return;
  deadline_stop(s);
  if (status != 0) {
    cb(ctx, NULL, status);
    stream_discard(s);
  } else {
    update_reading(s); /* nobody reads until the new owner says so */
    cb(ctx, s, 0);
  }
}

static void connected(uv_connect_t *req, int status)
{
  struct connect_req *cr = req->data;
  struct weft_stream *s = cr->s;
  if (status < 0) {
    /* Cancelled by the deadline: say so, not "cancelled". */
    int err = status == UV_ECANCELED && s->close_err ? s->close_err
                                                     : uv_to_weft(status);
    cr->cb(cr->ctx, NULL, err);
    stream_discard(s);
  } else if (!cr->tls) {
    deadline_stop(s);
    uv_tcp_nodelay(s->tcp, 1);
    fill_addresses(s);
    cr->cb(cr->ctx, s, 0);
  } else {
    uv_tcp_nodelay(s->tcp, 1);
    fill_addresses(s);
    struct in6_addr a;
    bool ip = inet_pton(AF_INET, cr->sni, &a) == 1 ||
              inet_pton(AF_INET6, cr->sni, &a) == 1;
    if (tls_start(s, tls_client_ctx(), true, ip ? NULL : cr->sni) != 0) {
      cr->cb(cr->ctx, NULL, WEFT_ENOMEM);
      stream_discard(s);
    } else {
      struct tls_state *t = s->tls;
      t->cb = cr->cb;
      t->cb_ctx = cr->ctx;
      if (cr->pin[0]) {
        snprintf(t->pin, sizeof t->pin, "%s", cr->pin);
      } else {
        /* No pin: the system's CAs and the host name decide. */
        SSL_set_verify(t->ssl, SSL_VERIFY_PEER, NULL);
        if (!ip)
          SSL_set1_host(t->ssl, cr->sni);
        else
          X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), cr->sni);
      }
      SSL_do_handshake(t->ssl);
      tls_flush(s);
      update_reading(s);
    }
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
    if (rc == 0) {
      deadline_start(cr->s);
      return;
    }
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
  if (!hostname || !port || !cb)
    return WEFT_EINVAL;
  if (pin_sha256 && strlen(pin_sha256) != TLS_FINGERPRINT_HEX)
    return WEFT_EINVAL;
  if (tls && !tls_client_ctx())
    return WEFT_ENOMEM;
  struct connect_req *cr = calloc(1, sizeof *cr);
  struct weft_stream *s = cr ? stream_new(host->loop) : NULL;
  if (!s) {
    free(cr);
    return WEFT_ENOMEM;
  }
  cr->s = s;
  cr->cb = cb;
  cr->ctx = ctx;
  cr->tls = tls;
  snprintf(cr->sni, sizeof cr->sni, "%s", hostname);
  if (pin_sha256)
    snprintf(cr->pin, sizeof cr->pin, "%s", pin_sha256);
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
