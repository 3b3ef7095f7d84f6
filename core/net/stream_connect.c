/* Dialling: host:port resolved on libuv's thread pool, connected, and if
 * asked wrapped in TLS verified by a pin or by the system's CAs; the whole
 * dial (connect and handshake) has a deadline. */
#include <arpa/inet.h>
#include <assert.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/errors.h>

#include "net/stream_internal.h"

static uint64_t connect_timeout_ms = STREAM_CONNECT_TIMEOUT_MS;

void stream_set_connect_timeout(uint64_t ms) { connect_timeout_ms = ms; }

static void deadline_closed(uv_handle_t *h) { free(h); }

void stream__deadline_stop(struct weft_stream *s)
{
  if (s->deadline) {
    uv_close((uv_handle_t *)s->deadline, deadline_closed);
    s->deadline = NULL;
  }
}

/* A dial that takes too long (a black-holed SYN, a peer that never
 * finishes the TLS handshake) fails with WEFT_ETIMEDOUT. */
static void deadline_hit(uv_timer_t *timer)
{
  /* Closing stops it, and so does the end of the dial. */
  assert(!((struct weft_stream *)timer->data)->closing);
  /* In the TLS handshake the dialer hears at once; during the TCP connect,
   * connected() sees ECANCELED and reports the close_err set here. */
  stream__close_with(timer->data, WEFT_ETIMEDOUT);
}

static void deadline_start(struct weft_stream *s)
{
  assert(!s->deadline);
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

void stream__connect_done(struct weft_stream *s, int status)
{
  /* Only for a TLS dial still in its handshake, and only once: each
   * caller finds the callback set (a later close sees it cleared). */
  struct tls_state *t = s->tls;
  assert(t && t->client && t->cb && !s->closing);
  assert(status != 0 || t->established);
  weft_connect_cb cb = t->cb;
  void *ctx = t->cb_ctx;
  t->cb = NULL;
  stream__deadline_stop(s);
  if (status != 0) {
    cb(ctx, NULL, status);
    stream_discard(s);
  } else {
    stream__update_reading(s); /* nobody reads until the new owner says so */
    cb(ctx, s, 0);
  }
}

/* The TCP connection is up: the handshake, verified by the pin or else by
 * the system's CAs and the host name. */
static void start_tls(struct connect_req *cr)
{
  struct weft_stream *s = cr->s;
  assert(!s->tls);
  struct in6_addr a;
  bool ip = inet_pton(AF_INET, cr->sni, &a) == 1 ||
            inet_pton(AF_INET6, cr->sni, &a) == 1;
  if (stream__tls_start(s, tls_client_ctx(), true, ip ? NULL : cr->sni) != 0) {
    cr->cb(cr->ctx, NULL, WEFT_ENOMEM);
    stream_discard(s);
    return;
  }
  struct tls_state *t = s->tls;
  t->cb = cr->cb;
  t->cb_ctx = cr->ctx;
  if (cr->pin[0]) {
    snprintf(t->pin, sizeof t->pin, "%s", cr->pin);
  } else {
    SSL_set_verify(t->ssl, SSL_VERIFY_PEER, NULL);
    if (!ip)
      SSL_set1_host(t->ssl, cr->sni);
    else
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), cr->sni);
  }
  stream__tls_begin_handshake(s);
  if (!s->closing)
    stream__update_reading(s);
}

static void connected(uv_connect_t *req, int status)
{
  struct connect_req *cr = req->data;
  struct weft_stream *s = cr->s;
  if (status < 0) {
    /* Cancelled by the deadline: say so, not "cancelled". */
    int err = status == UV_ECANCELED && s->close_err ? s->close_err
                                                     : stream__uv_error(status);
    cr->cb(cr->ctx, NULL, err);
    stream_discard(s);
  } else {
    /* A close (the deadline's) cancels the connect: success means open. */
    assert(!s->closing);
    uv_tcp_nodelay(s->tcp, 1);
    stream__fill_addresses(s);
    stream__batch_begin();
    if (cr->tls) {
      start_tls(cr);
    } else {
      stream__deadline_stop(s);
      cr->cb(cr->ctx, s, 0);
    }
    stream__batch_end();
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
    cr->cb(cr->ctx, NULL, stream__uv_error(rc));
    stream_discard(cr->s);
    free(cr);
    return;
  }
  if (res)
    uv_freeaddrinfo(res);
  cr->cb(cr->ctx, NULL, WEFT_ECONNREFUSED);
  /* The tcp handle was never initialised: free without uv_close. */
  stream__free(cr->s);
  free(cr);
}

static void (*dial_hook)(void *, const char *, uint16_t,
                          struct stream_account *);
static void *dial_arg;

void stream_set_dial_account(void (*hook)(void *arg, const char *hostname,
                                          uint16_t port,
                                          struct stream_account *out),
                             void *arg)
{
  dial_hook = hook;
  dial_arg = arg;
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
  struct weft_stream *s = cr ? stream__new(host->loop) : NULL;
  if (!s) {
    free(cr);
    return WEFT_ENOMEM;
  }
  if (dial_hook) {
    struct stream_account acct = {0};
    dial_hook(dial_arg, hostname, port, &acct);
    if (acct.on_traffic)
      stream_set_account(s, &acct);
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
    stream__free(s);
    free(cr);
    return WEFT_EINVAL;
  }
  return 0;
}
