/* The relay's device side: a control connection to the server for each
 * tunnel, redialled with backoff when it drops, and for each OPEN the
 * server sends, a connection to the local service joined to a data
 * connection to the server. */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "relay.h"
#include "splice.h"
#include "wire.h"

struct device_tunnel {
  struct relay *r;
  struct device_tunnel *prev, *next; /* r->devices */
  char id[64];
  char server_host[256];
  uint16_t server_port;
  const char *server_cert; /* the core's pin, read at each dial; NULL: plain */
  char token[4096];
  char local_host[256];
  uint16_t local_port;
  struct weft_reconnect again;
  struct weft_stream *control; /* started, until on_closed */
  const char *lost;            /* why we closed it, for the log */
  struct wire_head head;       /* the server's answer to it */
  bool up;                     /* that answer was 101 */
  struct wire_lines lines;
  struct opening *openings;
  bool dialing;                /* the control dial is in flight */
  bool closing;                /* client_tunnel_close was called */
};

/* One OPEN: the local service is dialled, then the server. */
struct opening {
  struct relay *r;
  struct device_tunnel *t;     /* NULL once the tunnel closed */
  struct opening *prev, *next; /* t->openings */
  char id[RELAY_ID_LEN + 1];
  struct weft_stream *local;
};

#define REPORT(t, phase, ...)                                                \
  weft_report_tunnel((t)->r->host, (t)->id, phase, (t)->again.attempts,       \
                     __VA_ARGS__)

/* Frees t once nothing of it can call back any more. */
static void maybe_free(struct device_tunnel *t)
{
  if (!t->closing || t->dialing || t->control)
    return;
  struct relay *r = t->r;
  if (t->prev)
    t->prev->next = t->next;
  else
    r->devices = t->next;
  if (t->next)
    t->next->prev = t->prev;
  r->host->free(t);
  relay_unref(r);
}

/* ---- data connections ---- */

static void opening_end(struct opening *op)
{
  if (op->t) {
    if (op->prev)
      op->prev->next = op->next;
    else
      op->t->openings = op->next;
    if (op->next)
      op->next->prev = op->prev;
  }
  struct relay *r = op->r;
  r->host->free(op);
  relay_unref(r);
}

/* Tells the server a public connection cannot be served. */
static void opening_failed(struct opening *op, const char *what, int err)
{
  const struct weft_host *h = op->r->host;
  struct device_tunnel *t = op->t;
  if (t) {
    h->log(h, WEFT_LOG_WARN, "tunnel %s: cannot reach %s: %s", t->id, what,
           weft_strerror(err));
    if (t->control && t->up) {
      char line[8 + RELAY_ID_LEN];
      int n = snprintf(line, sizeof line, "FAIL %s\n", op->id);
      h->stream_write(t->control, line, (size_t)n);
    }
  }
  opening_end(op);
}

static void server_connected(void *ctx, struct weft_stream *stream,
                             int status)
{
  struct opening *op = ctx;
  const struct weft_host *h = op->r->host;
  struct device_tunnel *t = op->t;
  char request[512]; /* a host name (< 256) and an id always fit */
  if (!t || status != 0 ||
      !wire_request(request, sizeof request, t->server_host, t->server_port,
                    NULL, op->id)) {
    h->stream_close(op->local);
    if (stream)
      h->stream_close(stream);
    opening_failed(op, "the server", status ? status : WEFT_ECANCELED);
    return;
  }
  relay_splice(op->r, t, op->local, stream, request, true);
  opening_end(op);
}

static void local_connected(void *ctx, struct weft_stream *stream, int status)
{
  struct opening *op = ctx;
  const struct weft_host *h = op->r->host;
  struct device_tunnel *t = op->t;
  if (!t || status != 0) {
    if (stream)
      h->stream_close(stream);
    opening_failed(op, "the local service", status ? status : WEFT_ECANCELED);
    return;
  }
  op->local = stream;
  int rc = h->stream_connect(h, t->server_host, t->server_port,
                             t->server_cert != NULL, t->server_cert,
                             server_connected, op);
  if (rc != 0) {
    h->stream_close(stream);
    opening_failed(op, "the server", rc);
  }
}

static void opening_start(struct device_tunnel *t, const char *id)
{
  const struct weft_host *h = t->r->host;
  struct opening *op = h->calloc(1, sizeof *op);
  if (!op)
    return; /* the server's open_timeout closes the public connection */
  op->r = t->r;
  op->t = t;
  snprintf(op->id, sizeof op->id, "%s", id);
  op->next = t->openings;
  if (op->next)
    op->next->prev = op;
  t->openings = op;
  relay_ref(t->r); /* until opening_end: the dials call back */
  int rc = h->stream_connect(h, t->local_host, t->local_port, false, NULL,
                             local_connected, op);
  if (rc != 0)
    opening_failed(op, "the local service", rc);
}

/* ---- the control connection ---- */

static bool control_line(void *arg, const char *text)
{
  struct device_tunnel *t = arg;
  if (strncmp(text, "OPEN ", 5) != 0 || strlen(text + 5) != RELAY_ID_LEN)
    return false;
  opening_start(t, text + 5);
  return true;
}

static void control_read(void *ctx, const void *data, size_t len)
{
  struct device_tunnel *t = ctx;
  const struct weft_host *h = t->r->host;
  if (!t->up) {
    size_t used = 0;
    int rc = wire_head_feed(&t->head, data, len, &used);
    if (rc == WIRE_MORE)
      return;
    if (rc == WIRE_REFUSED) {
      t->lost = "refused by the server";
      h->stream_close(t->control);
      return;
    }
    t->up = true;
    weft_reconnect_succeeded(&t->again);
    h->log(h, WEFT_LOG_INFO, "tunnel %s: connected to %s:%u (%s)", t->id,
           t->server_host, t->server_port, t->server_cert ? "TLS" : "no TLS");
    REPORT(t, WEFT_TUNNEL_UP, "connected to %s:%u", t->server_host,
           t->server_port);
    data = (const char *)data + used;
    len -= used;
  }
  if (!wire_lines_feed(&t->lines, data, len, control_line, t)) {
    t->lost = "garbage from the server";
    h->stream_close(t->control);
  }
}

static void control_eof(void *ctx)
{
  struct device_tunnel *t = ctx;
  t->lost = "closed by the server";
  t->r->host->stream_close(t->control);
}

static void control_closed(void *ctx, int err)
{
  struct device_tunnel *t = ctx;
  t->control = NULL;
  t->up = false;
  if (t->closing) {
    maybe_free(t);
    return;
  }
  const char *why = t->lost ? t->lost : weft_strerror(err);
  t->r->host->log(t->r->host, WEFT_LOG_WARN, "tunnel %s: disconnected (%s)",
                  t->id, why);
  REPORT(t, WEFT_TUNNEL_RETRYING, "disconnected (%s)", why);
  weft_reconnect_schedule(&t->again);
}

static const struct weft_stream_cbs control_cbs = {
    .on_read = control_read,
    .on_eof = control_eof,
    .on_closed = control_closed,
};

static void control_connected(void *ctx, struct weft_stream *stream,
                              int status)
{
  struct device_tunnel *t = ctx;
  const struct weft_host *h = t->r->host;
  t->dialing = false;
  if (t->closing) {
    if (stream)
      h->stream_close(stream);
    maybe_free(t);
    return;
  }
  if (status == 0) {
    char request[sizeof t->token + 512];
    size_t n = wire_request(request, sizeof request, t->server_host,
                            t->server_port, t->token, NULL);
    t->control = stream; /* before stream_start, which may call back */
    t->lost = NULL;
    memset(&t->head, 0, sizeof t->head);
    memset(&t->lines, 0, sizeof t->lines);
    if (n && h->stream_start(stream, &control_cbs, t) == 0) {
      h->stream_write(stream, request, n);
      return;
    }
    t->control = NULL;
    h->stream_close(stream); /* not started: no callback follows */
    status = WEFT_EINVAL;
  }
  h->log(h, WEFT_LOG_WARN, "tunnel %s: cannot reach %s:%u: %s", t->id,
         t->server_host, t->server_port, weft_strerror(status));
  REPORT(t, WEFT_TUNNEL_RETRYING, "cannot reach %s:%u: %s", t->server_host,
         t->server_port, weft_strerror(status));
  weft_reconnect_schedule(&t->again);
}

static void dial(struct device_tunnel *t)
{
  const struct weft_host *h = t->r->host;
  t->dialing = true;
  int rc = h->stream_connect(h, t->server_host, t->server_port,
                             t->server_cert != NULL, t->server_cert,
                             control_connected, t);
  if (rc != 0) { /* then control_connected is never called */
    t->dialing = false;
    h->log(h, WEFT_LOG_WARN, "tunnel %s: cannot dial %s: %s", t->id,
           t->server_host, weft_strerror(rc));
    weft_reconnect_schedule(&t->again);
  }
}

static void reconnect_dial(void *arg) { dial(arg); }

static void reconnect_gone(void *arg)
{
  struct device_tunnel *t = arg;
  REPORT(t, WEFT_TUNNEL_FAILED, "the server no longer has this tunnel");
}

/* ---- tunnels ---- */

int relay_client_tunnel_open(void *ctx, const struct weft_tunnel_info *info,
                             void **tunnel_ctx)
{
  struct relay *r = ctx;
  const struct weft_host *h = r->host;
  if (!WEFT_INFO_HAS(info, local_port)) {
    h->log(h, WEFT_LOG_ERROR, "this weft is too old (relay needs ABI 1.2)");
    return WEFT_ENOTSUP;
  }
  if (!info->token || !info->server_host) {
    h->log(h, WEFT_LOG_ERROR, "relay needs a weft server");
    return WEFT_EINVAL;
  }
  struct device_tunnel *t = h->calloc(1, sizeof *t);
  if (!t)
    return WEFT_ENOMEM;
  int fits = snprintf(t->token, sizeof t->token, "%s", info->token);
  if (fits < 0 || (size_t)fits >= sizeof t->token) {
    h->free(t);
    return WEFT_EINVAL;
  }
  t->r = r;
  snprintf(t->id, sizeof t->id, "%s", info->id);
  snprintf(t->server_host, sizeof t->server_host, "%s", info->server_host);
  t->server_port = info->server_port;
  t->server_cert = info->server_cert_sha256; /* 1.1, in every 1.2 core */
  snprintf(t->local_host, sizeof t->local_host, "%s", info->local_host);
  t->local_port = info->local_port;
  uint32_t seed = 0;
  if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed)
    seed = (uint32_t)h->now_ms(h);
  t->again = (struct weft_reconnect){
      .host = h,
      .tunnel_id = t->id,
      .token = t->token,
      .token_size = sizeof t->token,
      .min_ms = r->conf->reconnect_min_ms,
      .max_ms = r->conf->reconnect_max_ms,
      .seed = seed,
      .dial = reconnect_dial,
      .gone = reconnect_gone,
      .arg = t,
  };
  t->next = r->devices;
  if (t->next)
    t->next->prev = t;
  r->devices = t;
  relay_ref(r); /* until maybe_free */
  REPORT(t, WEFT_TUNNEL_CONNECTING, "dialling %s:%u", t->server_host,
         t->server_port);
  dial(t);
  *tunnel_ctx = t;
  return 0;
}

void relay_client_tunnel_close(void *ctx, void *tunnel_ctx)
{
  struct relay *r = ctx;
  struct device_tunnel *t = tunnel_ctx;
  assert(!t->closing); /* the core closes a tunnel once */
  t->closing = true;
  weft_reconnect_cancel(&t->again);
  /* Dials in flight finish on their own and then see op->t == NULL. */
  for (struct opening *op = t->openings; op; op = op->next)
    op->t = NULL;
  t->openings = NULL;
  relay_splice_close_all(r, t);
  if (t->control)
    r->host->stream_close(t->control); /* control_closed frees t */
  maybe_free(t);
}
