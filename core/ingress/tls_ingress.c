#include "ingress/tls_ingress.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <weft/errors.h>

#include "net/certs.h"
#include "ingress/clienthello.h"
#include "ingress/http_ingress.h"
#include "http/http_server.h"
#include "tunnel/tunnel_ports.h"
#include "net/listen.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "net/stream.h"
#include "net/tls_ctx.h"
#include "tunnel/tunnels.h"

/* Hellos awaited at once, in all and from one source (an IPv4 address or
 * an IPv6 /64): each holds up to about 33 KiB until it is routed, so a
 * flood of silent visitors costs a bounded amount of memory. */
#define PENDING_MAX 1024
#define PENDING_PER_IP 64

struct hello_conn {
  struct tls_ingress *ing;
  struct weft_stream *stream;
  struct hello_conn *prev, *next;
  uv_timer_t *timer;
  char peer_ip[46];
  uint8_t source[16];       /* addr_source_key of peer_ip */
  struct strbuf raw;        /* every byte read so far, forwarded as is */
  struct clienthello ch;
};

struct tls_ingress {
  struct tunnel_service *svc;
  uv_loop_t *loop;
  uv_tcp_t *listener;
  struct tls_ingress_conf conf;
  char default_host[256];
  struct hello_conn *pending;     /* newest first */
  size_t pending_count;
  uint64_t last_full_warning;
  struct tls_ingress_stats stats;
};

static void handle_closed(uv_handle_t *h) { free(h); }

static void unlink_pending(struct hello_conn *hc)
{
  struct tls_ingress *ing = hc->ing;
  if (!ing)
    return;
  assert(ing->pending_count > 0);
  assert(hc->prev ? hc->prev->next == hc : ing->pending == hc);
  if (hc->prev)
    hc->prev->next = hc->next;
  else
    ing->pending = hc->next;
  if (hc->next)
    hc->next->prev = hc->prev;
  ing->pending_count--;
  hc->ing = NULL;
}

/* The stream is no longer ours (routed or gone): forget the hello. */
static void hello_free(struct hello_conn *hc)
{
  unlink_pending(hc);
  if (hc->timer)
    uv_close((uv_handle_t *)hc->timer, handle_closed);
  strbuf_free(&hc->raw);
  free(hc);
}

static void refuse(struct hello_conn *hc, const char *why)
{
  uv_timer_stop(hc->timer);
  if (hc->ing)
    hc->ing->stats.refused++;
  log_debug("TLS port: closing a connection from %s: %s", hc->peer_ip, why);
  stream_close(hc->stream); /* on_closed frees hc */
}

/* Plain HTTP sent to the TLS port: say so, in HTTP. */
static void refuse_plain_http(struct hello_conn *hc)
{
  static const char resp[] =
      "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
      "Content-Length: 41\r\nConnection: close\r\n\r\n"
      "this port speaks TLS: use https:// here\n";
  struct weft_stream *s = hc->stream;
  hc->ing->stats.refused++;
  hello_free(hc);
  stream_end(s, resp, sizeof resp - 1);
}

/* The server itself: its own certificate, then the control API. */
static void to_control(struct hello_conn *hc)
{
  struct tls_ingress *ing = hc->ing;
  struct weft_stream *s = hc->stream;
  ing->stats.control++;
  stream_handover(s, NULL, 0);
  int rc = stream_begin_server_tls(s, ing->conf.server_ctx, hc->raw.data,
                                   hc->raw.len);
  hello_free(hc);
  if (rc == 0)
    http_server_adopt(ing->conf.control, s);
  else
    stream_close(s);
}

static void passthrough(struct hello_conn *hc, struct tunnel *t)
{
  struct weft_stream *s = hc->stream;
  hc->ing->stats.passthrough++;
  stream_handover(s, hc->raw.data, hc->raw.len);
  hello_free(hc);
  if (tunnel_ports_adopt(t, s) != 0)
    stream_close(s);
}

static void terminate(struct hello_conn *hc, const char *hello_name)
{
  struct tls_ingress *ing = hc->ing;
  char name[CLIENTHELLO_NAME_MAX + 1], why[600];
  snprintf(name, sizeof name, "%s", hello_name); /* it lives in hc */
  SSL_CTX *ctx = ing->svc->certs ? cert_store_get(ing->svc->certs, name, why,
                                                  sizeof why)
                                 : NULL;
  if (!ctx || !ing->svc->http) {
    /* the store said why, once */
    refuse(hc, ctx ? "no HTTP routing" : why);
    return;
  }
  struct weft_stream *s = hc->stream;
  ing->stats.terminated++;
  stream_handover(s, NULL, 0);
  int rc = stream_begin_server_tls(s, ctx, hc->raw.data, hc->raw.len);
  hello_free(hc);
  if (rc == 0)
    http_ingress_adopt_tls(ing->svc->http, s, name);
  else
    stream_close(s);
}

/* A device (or weft login) coming to the server itself. Its transports'
 * dials offer ALPN weft/1 (checked by the caller); its login goes through
 * libcurl, which offers the usual h2/http1.1, so the server's public name
 * counts too, and so does no name at all when no default host takes those
 * (a client that dialled the server's IP address). */
static bool for_the_server(const struct tls_ingress *ing, const char *name)
{
  if (!name)
    return !ing->default_host[0];
  return !strcasecmp(name, ing->svc->public_host) &&
         !tunnel_service_by_hostname(ing->svc, name);
}

/* The hello is complete (with or without a name): where does it go? */
static void route(struct hello_conn *hc)
{
  struct tls_ingress *ing = hc->ing;
  const char *name = clienthello_name(&hc->ch);
  const char *alpn = clienthello_alpn_first(&hc->ch);
  bool weft_alpn = alpn && !strcmp(alpn, TLS_ALPN_WEFT);
  if (ing->conf.control && ing->conf.server_ctx &&
      (weft_alpn || for_the_server(ing, name))) {
    to_control(hc);
    return;
  }
  struct tunnel *t = name ? tunnel_service_by_hostname(ing->svc, name) : NULL;
  if ((!t || t->tls_mode == TUNNEL_TLS_NONE) && ing->default_host[0]) {
    name = ing->default_host;
    t = tunnel_service_by_hostname(ing->svc, name);
  }
  enum tunnel_tls mode = t ? t->tls_mode : TUNNEL_TLS_NONE;
  if (mode == TUNNEL_TLS_NONE) {
    refuse(hc, name ? "no tunnel publishes this name over https"
                    : "no server name");
    return;
  }
  if (!t->plugin_ctx) {
    refuse(hc, "the tunnel's transport is not ready");
    return;
  }
  if (mode == TUNNEL_TLS_PASSTHROUGH)
    passthrough(hc, t);
  else
    terminate(hc, name);
}

static void hello_read(void *ctx, const void *data, size_t len)
{
  struct hello_conn *hc = ctx;
  /* Only a pending hello reads: eviction and tls_ingress_close close
   * the stream as they unlink it, and a routed hello is freed. */
  assert(hc->ing);
  strbuf_add(&hc->raw, data, len);
  if (hc->raw.oom) {
    refuse(hc, "out of memory");
    return;
  }
  int rc = clienthello_feed(&hc->ch, data, len);
  if (rc == CH_NEED_MORE)
    return;
  if (rc == CH_DONE || rc == CH_ENOSNI)
    route(hc);
  else if (rc == CH_EHTTP)
    refuse_plain_http(hc);
  else
    refuse(hc, clienthello_strerror(rc));
}

static void hello_eof(void *ctx)
{
  struct hello_conn *hc = ctx;
  refuse(hc, "closed before its ClientHello");
}

static void hello_closed(void *ctx, int err)
{
  (void)err;
  hello_free(ctx);
}

static const struct weft_stream_cbs hello_cbs = {
    .on_read = hello_read,
    .on_eof = hello_eof,
    .on_closed = hello_closed,
};

static void hello_late(uv_timer_t *t)
{
  struct hello_conn *hc = t->data;
  if (hc->ing)
    hc->ing->stats.timeouts++;
  refuse(hc, "no ClientHello in time");
}

static size_t pending_from(const struct tls_ingress *ing,
                           const uint8_t key[16])
{
  size_t n = 0;
  for (const struct hello_conn *hc = ing->pending; hc; hc = hc->next)
    n += !memcmp(hc->source, key, 16);
  return n;
}

/* All hello slots are taken: the one waiting longest goes (a real client
 * sends its hello within milliseconds, so the oldest are the silent ones),
 * rather than refusing every newcomer while someone holds them all. */
static void evict_oldest(struct tls_ingress *ing)
{
  struct hello_conn *oldest = ing->pending;
  while (oldest && oldest->next)
    oldest = oldest->next;
  if (!oldest)
    return;
  uint64_t now = uv_now(ing->loop);
  if (now - ing->last_full_warning >= 60000) {
    ing->last_full_warning = now;
    log_warn("TLS port: %d hellos awaited at once; closing the oldest "
             "(a flood of silent visitors?)",
             PENDING_MAX);
  }
  refuse(oldest, "evicted: too many hellos awaited");
  unlink_pending(oldest); /* its slot is free now; it closes later */
}

static void on_connection(uv_stream_t *server, int status)
{
  struct tls_ingress *ing = server->data;
  if (status < 0)
    return;
  struct weft_stream *s = stream_accept(ing->loop, server);
  if (!s)
    return;
  struct weft_stream_info info = {.struct_size = sizeof info};
  stream_info(s, &info);
  uint8_t source[16];
  addr_source_key(info.peer_ip, source);
  if (pending_from(ing, source) >= PENDING_PER_IP) {
    ing->stats.refused++;
    log_debug("TLS port: %s has %d hellos awaited; closing its new one",
              info.peer_ip, PENDING_PER_IP);
    stream_discard(s);
    return;
  }
  if (ing->pending_count >= PENDING_MAX)
    evict_oldest(ing);
  struct hello_conn *hc = calloc(1, sizeof *hc);
  uv_timer_t *timer = hc ? calloc(1, sizeof *timer) : NULL;
  if (!timer) {
    free(hc);
    stream_discard(s);
    return;
  }
  hc->ing = ing;
  hc->stream = s;
  hc->timer = timer;
  snprintf(hc->peer_ip, sizeof hc->peer_ip, "%s", info.peer_ip);
  memcpy(hc->source, source, sizeof hc->source);
  clienthello_init(&hc->ch);
  hc->next = ing->pending;
  if (hc->next)
    hc->next->prev = hc;
  ing->pending = hc;
  ing->pending_count++;
  uv_timer_init(ing->loop, timer);
  timer->data = hc;
  uv_timer_start(timer, hello_late, ing->conf.hello_timeout_ms, 0);
  stream_start(s, &hello_cbs, hc);
}

int tls_ingress_open(struct tunnel_service *svc, uv_loop_t *loop,
                     const char *host, uint16_t port,
                     const struct tls_ingress_conf *conf,
                     struct tls_ingress **out)
{
  struct tls_ingress *ing = calloc(1, sizeof *ing);
  if (!ing)
    return UV_ENOMEM;
  ing->svc = svc;
  ing->loop = loop;
  ing->conf = *conf;
  snprintf(ing->default_host, sizeof ing->default_host, "%s",
           conf->default_host ? conf->default_host : "");
  for (char *c = ing->default_host; *c; c++) /* as leases keep names */
    if (*c >= 'A' && *c <= 'Z')
      *c = (char)(*c - 'A' + 'a');
  ing->conf.default_host = NULL;
  int rc = listen_tcp_new(loop, host, port, on_connection, ing,
                          &ing->listener);
  if (rc != 0) {
    free(ing);
    return rc;
  }
  *out = ing;
  return 0;
}

const struct tls_ingress_stats *tls_ingress_stats(const struct tls_ingress *ing)
{
  return &ing->stats;
}

void tls_ingress_close(struct tls_ingress *ing)
{
  if (!ing)
    return;
  listen_tcp_free(ing->listener);
  while (ing->pending) {
    struct hello_conn *hc = ing->pending;
    unlink_pending(hc);
    stream_close(hc->stream); /* hello_closed frees it */
  }
  free(ing);
}
