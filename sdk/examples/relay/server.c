/* The relay's server side: a device's control connection per tunnel, and
 * public connections that wait for the device's data connection. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "relay.h"
#include "splice.h"
#include "wire.h"

struct server_tunnel {
  struct relay *r;
  struct server_tunnel *next; /* r->tunnels */
  char id[32];
  struct control *control;    /* the device's, or NULL */
};

/* A device's control connection, raw: we write OPEN and read FAIL. */
struct control {
  struct relay *r;
  struct server_tunnel *t;    /* NULL once the tunnel no longer uses it */
  struct weft_stream *stream;
  struct wire_lines lines;
  const char *lost;           /* why we closed it, for the log */
};

/* A public connection the device was asked to fetch. We own the stream
 * and have not attached it: nothing is read from it yet. */
struct waiting {
  struct relay *r;
  struct server_tunnel *t;
  struct waiting *next;       /* r->waiting */
  char id[RELAY_ID_LEN + 1];
  struct weft_stream *public_conn;
  struct weft_timer *timer;
};

/* ---- public connections waiting for the device ---- */

/* Unlinks w and frees it; closes its stream unless it is handed on. */
static void waiting_end(struct waiting *w, bool close_stream)
{
  const struct weft_host *h = w->r->host;
  for (struct waiting **pp = &w->r->waiting; *pp; pp = &(*pp)->next)
    if (*pp == w) {
      *pp = w->next;
      break;
    }
  h->timer_stop(w->timer);
  if (close_stream)
    h->stream_close(w->public_conn); /* unattached: no callback follows */
  h->free(w);
}

static void waiting_expired(void *arg)
{
  struct waiting *w = arg;
  w->r->host->log(w->r->host, WEFT_LOG_WARN,
                  "tunnel %s: the device did not fetch a connection in %lld "
                  "ms; closing it",
                  w->t->id, (long long)w->r->conf->open_timeout_ms);
  waiting_end(w, true);
}

int relay_server_stream_open(void *ctx, void *tunnel_ctx,
                             struct weft_stream *public_conn)
{
  struct relay *r = ctx;
  struct server_tunnel *t = tunnel_ctx;
  const struct weft_host *h = r->host;
  if (!t->control)
    return WEFT_ECONNREFUSED; /* no device: the core closes public_conn */
  struct waiting *w = h->calloc(1, sizeof *w);
  if (!w)
    return WEFT_ENOMEM;
  if (!wire_new_id(w->id) ||
      h->timer_start(h, (uint64_t)r->conf->open_timeout_ms, 0,
                     waiting_expired, w, &w->timer) != 0) {
    h->free(w);
    return WEFT_EIO;
  }
  /* From here on public_conn is ours: we return 0. */
  w->r = r;
  w->t = t;
  w->public_conn = public_conn;
  w->next = r->waiting;
  r->waiting = w;
  char line[8 + RELAY_ID_LEN];
  int n = snprintf(line, sizeof line, "OPEN %s\n", w->id);
  h->stream_write(t->control->stream, line, (size_t)n);
  return 0;
}

/* A data connection with a stream id: join it to its public connection. */
static int accept_data(struct relay *r, const char *id,
                       struct weft_stream *conn)
{
  struct waiting *w = r->waiting;
  while (w && !wire_id_is(id, w->id))
    w = w->next;
  if (!w)
    return WEFT_ENOENT; /* unknown or expired: the core answers 503 */
  struct weft_stream *public_conn = w->public_conn;
  waiting_end(w, false);
  relay_splice(r, NULL, public_conn, conn, WIRE_SWITCHING, false);
  return 0; /* the splice owns conn now, even if it failed */
}

/* ---- the device's control connection ---- */

static bool control_line(void *arg, const char *text)
{
  struct control *c = arg;
  if (strncmp(text, "FAIL ", 5) != 0)
    return false;
  for (struct waiting *w = c->r->waiting; w; w = w->next)
    if (w->t == c->t && wire_id_is(text + 5, w->id)) {
      c->r->host->log(c->r->host, WEFT_LOG_INFO,
                      "tunnel %s: the device cannot reach its local "
                      "service; closing a public connection",
                      c->t->id);
      waiting_end(w, true);
      break;
    }
  return true;
}

static void control_read(void *ctx, const void *data, size_t len)
{
  struct control *c = ctx;
  if (c->t && !wire_lines_feed(&c->lines, data, len, control_line, c)) {
    c->lost = "garbage from the device";
    c->r->host->stream_close(c->stream);
  }
}

static void control_eof(void *ctx)
{
  struct control *c = ctx;
  c->lost = "closed by the device";
  c->r->host->stream_close(c->stream);
}

static void control_closed(void *ctx, int err)
{
  struct control *c = ctx;
  struct relay *r = c->r;
  if (c->t) {
    r->host->log(r->host, WEFT_LOG_INFO, "tunnel %s: device session ended (%s)",
                 c->t->id, c->lost ? c->lost : weft_strerror(err));
    assert(c->t->control == c);
    c->t->control = NULL;
  }
  r->host->free(c);
  relay_unref(r);
}

static const struct weft_stream_cbs control_cbs = {
    .on_read = control_read,
    .on_eof = control_eof,
    .on_closed = control_closed,
};

/* Ends a tunnel's control connection; control_closed frees it later. */
static void control_drop(struct server_tunnel *t)
{
  if (!t->control)
    return;
  t->control->t = NULL;
  t->r->host->stream_close(t->control->stream);
  t->control = NULL;
}

/* A control connection: admitted only with a valid orchestration token. */
static int accept_control(struct relay *r, const struct weft_http_request *req,
                          struct weft_stream *conn)
{
  const struct weft_host *h = r->host;
  const char *token = weft_http_bearer(req);
  struct weft_token_claims claims;
  memset(&claims, 0, sizeof claims);
  claims.struct_size = sizeof claims;
  if (!token || h->token_verify(h, token, strlen(token), &claims) != 0) {
    h->log(h, WEFT_LOG_INFO, "session from %s refused: bad token",
           req->peer_ip);
    return WEFT_ETOKEN;
  }
  struct server_tunnel *t = r->tunnels;
  while (t && strcmp(t->id, claims.tunnel_id) != 0)
    t = t->next;
  if (!t)
    return WEFT_ENOENT;
  struct control *c = h->calloc(1, sizeof *c);
  if (!c)
    return WEFT_ENOMEM;
  c->r = r;
  c->stream = conn;
  control_drop(t); /* a device that came back replaces its old session */
  c->t = t;
  t->control = c;
  if (h->stream_start(conn, &control_cbs, c) != 0) {
    t->control = NULL;
    h->free(c);
    return WEFT_EIO;
  }
  relay_ref(r); /* until control_closed */
  h->stream_write(conn, WIRE_SWITCHING, strlen(WIRE_SWITCHING));
  h->log(h, WEFT_LOG_INFO, "tunnel %s: device %s connected from %s", t->id,
         claims.device_id, req->peer_ip);
  return 0;
}

int relay_server_upgrade(void *ctx, const struct weft_http_request *req,
                         struct weft_stream *conn)
{
  struct relay *r = ctx;
  if (!weft_http_has_token(weft_http_header(req, "upgrade"), RELAY_PROTOCOL))
    return WEFT_EPROTO;
  const char *id = weft_http_header(req, RELAY_STREAM_HEADER);
  return id ? accept_data(r, id, conn) : accept_control(r, req, conn);
}

/* ---- tunnels ---- */

int relay_server_tunnel_open(void *ctx, const struct weft_tunnel_info *info,
                             void **tunnel_ctx)
{
  struct relay *r = ctx;
  struct server_tunnel *t = r->host->calloc(1, sizeof *t);
  if (!t)
    return WEFT_ENOMEM;
  t->r = r;
  snprintf(t->id, sizeof t->id, "%s", info->id);
  t->next = r->tunnels;
  r->tunnels = t;
  *tunnel_ctx = t;
  return 0;
}

void relay_server_tunnel_close(void *ctx, void *tunnel_ctx, int reason)
{
  struct relay *r = ctx;
  struct server_tunnel *t = tunnel_ctx;
  (void)reason; /* nothing is kept for a restored tunnel: devices redial */
  for (struct server_tunnel **pp = &r->tunnels; *pp; pp = &(*pp)->next)
    if (*pp == t) {
      *pp = t->next;
      break;
    }
  /* Public connections we hold unattached are ours to close, now; the
   * core closes the joined ones when we return (and their splices end). */
  for (struct waiting *w = r->waiting, *next; w; w = next) {
    next = w->next;
    if (w->t == t)
      waiting_end(w, true);
  }
  control_drop(t);
  r->host->free(t);
}

size_t relay_server_sessions(const struct relay *r)
{
  size_t n = 0;
  for (const struct server_tunnel *t = r->tunnels; t; t = t->next)
    n += t->control != NULL;
  return n;
}
