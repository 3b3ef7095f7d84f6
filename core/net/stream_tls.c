/* TLS under a core stream, invisible to whoever reads and writes it. The
 * server side starts it when a connection's first byte opens a TLS record
 * (stream_set_tls_sniff); the dialling side when asked (stream_connect).
 *
 * OpenSSL talks to the stream through a BIO of our own: it reads
 * ciphertext straight from the buffer the socket filled (what it leaves
 * when the reader pauses is kept), and its records go straight into one
 * write request per SSL call. */
#include <assert.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

#include <weft/errors.h>

#include "base/log.h"
#include "net/stream_internal.h"

/* ---- the BIO ---- */

static int bio_create(BIO *b)
{
  BIO_set_init(b, 1);
  return 1;
}

static int bio_read(BIO *b, char *out, size_t outl, size_t *readbytes)
{
  struct tls_state *t = ((struct weft_stream *)BIO_get_data(b))->tls;
  assert(t && (t->in || t->in_len == 0));
  BIO_clear_retry_flags(b);
  if (t->in_len == 0) {
    BIO_set_retry_read(b); /* wait for the socket */
    return 0;
  }
  size_t n = outl < t->in_len ? outl : t->in_len;
  memcpy(out, t->in, n);
  t->in += n;
  t->in_len -= n;
  *readbytes = n;
  return 1;
}

static int bio_write(BIO *b, const char *data, size_t len, size_t *written)
{
  struct weft_stream *s = BIO_get_data(b);
  assert(s->tls);
  BIO_clear_retry_flags(b);
  if (!stream__write_req_append(s, &s->tls->out, data, len))
    return 0;
  *written = len;
  return 1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
  (void)b, (void)num, (void)ptr;
  return cmd == BIO_CTRL_FLUSH ? 1 : 0; /* records go out after each call */
}

static BIO_METHOD *stream_bio(void)
{
  static BIO_METHOD *m;
  if (!m) {
    m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                     "weft stream");
    if (m) {
      BIO_meth_set_create(m, bio_create);
      BIO_meth_set_read_ex(m, bio_read);
      BIO_meth_set_write_ex(m, bio_write);
      BIO_meth_set_ctrl(m, bio_ctrl);
    }
  }
  return m;
}

/* Sends the records the SSL calls made since the last send. */
void stream__tls_send_records(struct weft_stream *s)
{
  assert(s->tls);
  struct write_req *wr = s->tls->out;
  s->tls->out = NULL;
  if (wr)
    stream__submit(s, wr);
}

/* Whatever OpenSSL did not read stays in t->saved until it does. */
static void keep_unread(struct tls_state *t)
{
  assert(!t->draining); /* t->in is OpenSSL's while it reads */
  if (t->in_len == 0) {
    free(t->saved);
    t->saved = NULL;
    t->saved_len = 0;
    t->in = NULL;
    return;
  }
  if (t->saved && t->in >= t->saved && t->in < t->saved + t->saved_len) {
    memmove(t->saved, t->in, t->in_len);
  } else {
    char *copy = malloc(t->in_len);
    if (!copy) { /* lost: the next record fails its check and ends it */
      t->in = NULL;
      t->in_len = 0;
      return;
    }
    memcpy(copy, t->in, t->in_len);
    free(t->saved);
    t->saved = copy;
  }
  t->saved_len = t->in_len;
  t->in = t->saved;
}

/* ---- set-up ---- */

int stream__tls_start(struct weft_stream *s, SSL_CTX *ctx, bool client,
              const char *sni)
{
  /* Once per stream: its callers check that none was started. */
  assert(!s->tls);
  struct tls_state *t = calloc(1, sizeof *t);
  BIO *bio = stream_bio() ? BIO_new(stream_bio()) : NULL;
  if (t)
    t->ssl = SSL_new(ctx);
  if (!t || !t->ssl || !bio) {
    if (t)
      SSL_free(t->ssl);
    BIO_free(bio);
    free(t);
    return -1;
  }
  BIO_set_data(bio, s);
  SSL_set_bio(t->ssl, bio, bio);
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

void stream__tls_free(struct tls_state *t)
{
  if (!t)
    return;
  SSL_free(t->ssl); /* and its BIO */
  free(t->saved);
  free(t->out);
  free(t);
}

bool stream__tls_waiting(const struct weft_stream *s)
{
  return s->sniff_ctx || (s->tls && !s->tls->established);
}

void stream_set_tls_sniff(struct weft_stream *s, SSL_CTX *ctx)
{
  s->sniff_ctx = ctx;
}

int stream_begin_server_tls(struct weft_stream *s, SSL_CTX *ctx,
                            const void *first, size_t len)
{
  if (s->tls || s->mode != MODE_NEW || stream__tls_start(s, ctx, false, NULL) != 0)
    return WEFT_ENOMEM;
  s->sniff_ctx = NULL;
  stream__update_reading(s);
  if (len)
    stream__tls_in(s, first, len);
  return s->closing ? WEFT_EPROTO : 0;
}

int stream_tls_binding(struct weft_stream *s, unsigned char *out, size_t len)
{
  if (!s->tls || !s->tls->established || len < TLS_BINDING_LEN)
    return -1;
  return tls_binding(s->tls->ssl, out) == 0 ? TLS_BINDING_LEN : -1;
}

/* ---- the handshake ---- */

/* The handshake is over: check the pin (client), send what waited. */
static void established(struct weft_stream *s)
{
  struct tls_state *t = s->tls;
  /* A dial's dialer is still waiting to hear (connect_done clears cb). */
  assert(!t->established && (!t->client || t->cb));
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
      stream__connect_done(s, WEFT_EAUTH);
      return;
    }
  }
  stream__release_held(s);
  if (t->client)
    stream__connect_done(s, 0);
}

/* One step of the handshake; true once it is done and the stream lives. */
static bool handshake(struct weft_stream *s)
{
  struct tls_state *t = s->tls;
  assert(t && !t->established && !s->closing);
  int rc = SSL_do_handshake(t->ssl);
  stream__tls_send_records(s);
  if (rc == 1) {
    established(s);
    return !s->closing && s->tls->established;
  }
  int e = SSL_get_error(t->ssl, rc);
  if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
    ERR_clear_error();
    if (t->client)
      stream__connect_done(s, WEFT_EPROTO);
    else
      stream__close_with(s, WEFT_EPROTO);
  }
  return false;
}

void stream__tls_begin_handshake(struct weft_stream *s)
{
  assert(s->tls && s->tls->client); /* the server's waits for the hello */
  handshake(s);
}

bool stream__tls_eof_in_handshake(struct weft_stream *s)
{
  if (!s->tls || s->tls->established)
    return false;
  /* The peer hung up in the middle of the handshake. */
  if (s->tls->client)
    stream__connect_done(s, WEFT_ECONNRESET);
  else
    stream__close_with(s, WEFT_EPROTO);
  return true;
}

/* ---- data ---- */

void stream__tls_in(struct weft_stream *s, const char *data, size_t len)
{
  struct tls_state *t = s->tls;
  /* Never while OpenSSL reads t->in (stream__tls_drain), and the saved
   * bytes are the only ones it has not read. */
  assert(t && !t->draining && !s->closing);
  assert(!t->saved_len || (t->in == t->saved && t->in_len == t->saved_len));
  if (t->saved_len) { /* behind what is kept: append */
    char *more = realloc(t->saved, t->saved_len + len);
    if (!more) {
      stream__close_with(s, WEFT_ENOMEM);
      return;
    }
    memcpy(more + t->saved_len, data, len);
    t->saved = more;
    t->saved_len += len;
    t->in = more;
    t->in_len = t->saved_len;
  } else {
    t->in = data;
    t->in_len = len;
  }
  if (!t->established && !handshake(s)) {
    keep_unread(t);
    return;
  }
  stream__tls_drain(s);
}

void stream__tls_drain(struct weft_stream *s)
{
  struct tls_state *t = s->tls;
  if (!t || !t->established || t->draining)
    return;
  t->draining = true;
  /* Several records' plaintext is handed on at once: the layers above
   * (WebSocket, HTTP/2) then run once per 64 KiB rather than per record.
   * On the stack: handing it on may drain another stream. */
  char buf[64 * 1024];
  size_t have = 0;
  int e = SSL_ERROR_NONE; /* why reading stopped, if SSL_read said */
  while (!s->closing && s->mode != MODE_NEW && !s->paused_by_plugin &&
         !s->paused_by_backlog && !s->read_eof) {
    int n = SSL_read(t->ssl, buf + have, (int)(sizeof buf - have));
    if (n <= 0) {
      e = SSL_get_error(t->ssl, n);
      stream__tls_send_records(s); /* post-handshake messages, alerts */
      if (e != SSL_ERROR_ZERO_RETURN && e != SSL_ERROR_WANT_READ &&
          e != SSL_ERROR_WANT_WRITE)
        ERR_clear_error(); /* the queue is the thread's: leave it empty */
      break;
    }
    have += (size_t)n;
    if (sizeof buf - have < 16384) {
      stream__plaintext_in(s, buf, have);
      have = 0;
    }
  }
  /* What came before the end (or the error) goes first. */
  if (have && !s->closing)
    stream__plaintext_in(s, buf, have);
  t->draining = false;
  keep_unread(t);
  if (s->closing)
    return;
  if (e == SSL_ERROR_ZERO_RETURN)
    stream__on_eof(s); /* close_notify: the peer finished sending */
  else if (e != SSL_ERROR_NONE && e != SSL_ERROR_WANT_READ &&
           e != SSL_ERROR_WANT_WRITE)
    stream__close_with(s, WEFT_EPROTO);
}

/* Room in t->out for the records of len bytes (each 16 KiB of plaintext
 * gains a header, a tag and its content type), so that bio_write appends
 * without growing the request: each growth copies what it holds. What is
 * there already goes out first if it is large. */
#define RECORD_PLAINTEXT 16384
#define RECORD_OVERHEAD 32
static bool reserve_records(struct weft_stream *s, size_t len)
{
  struct write_req *wr = s->tls->out;
  size_t need = len + (len / RECORD_PLAINTEXT + 1) * RECORD_OVERHEAD;
  if (wr && wr->cap - wr->len < need && wr->len >= RECORD_PLAINTEXT)
    stream__tls_send_records(s);
  return stream__write_req_reserve(s, &s->tls->out, need);
}

bool stream__tls_encrypt(struct weft_stream *s, const void *data, size_t len)
{
  struct tls_state *t = s->tls;
  /* Plaintext waits in s->held until the handshake is done. */
  assert(t && t->established);
  size_t written = 0;
  if (!reserve_records(s, len) || s->closing)
    return false;
  if (SSL_write_ex(t->ssl, data, len, &written) != 1 || written != len) {
    ERR_clear_error();
    return false;
  }
  return true;
}

size_t stream__tls_unsent(const struct weft_stream *s)
{
  return s->tls && s->tls->out ? s->tls->out->len : 0;
}

bool stream__tls_write(struct weft_stream *s, const void *data, size_t len)
{
  bool ok = stream__tls_encrypt(s, data, len);
  stream__tls_send_records(s); /* with any alert a failure made */
  return ok;
}

void stream__tls_close_notify(struct weft_stream *s)
{
  if (s->tls && s->tls->established) {
    SSL_shutdown(s->tls->ssl);
    stream__tls_send_records(s);
  }
}
