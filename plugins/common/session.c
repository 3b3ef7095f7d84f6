/* A device's session, shared by the websocket and vhost transports: each
 * tunnel is one connection from the device to the server (a carrier,
 * carrier.h: a WebSocket, or HTTP/2 straight over TLS), opened by an HTTP
 * Upgrade that presents the orchestration token, which the server verifies
 * (host->token_verify) before it answers 101. Every public connection
 * travels inside it as an HTTP/2 stream (nghttp2, see mux.h); UDP
 * datagrams travel as messages where the carrier has them (udp.h). When
 * the connection drops, the device reconnects with exponential backoff and
 * jitter, under the same tunnel while its lease lasts. */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netdb.h>
#include <openssl/rand.h>
#include <weft/weft.h>

#include "carrier.h"
#include "mux.h"
#include "session.h"
#include "udp.h"

/* One loaded instance of a session transport: websocket or vhost, each with
 * its own carrier. */
struct transport {
  const struct weft_host *host;
  const struct session_conf *conf;
  const struct carrier_ops *carrier;
  const char *endpoint;  /* the upgrade path on the server */
  bool tls_required;     /* devices always dial with TLS */
  struct server_tunnel *server_tunnels;
  struct session *sessions;        /* live WebSockets, both sides */
  struct client_tunnel *client_tunnels;
  /* Sessions and connects in flight still call back into us: after
   * destroy, the plugin's state is freed when the last one is done. */
  unsigned refs;
  bool destroyed;
  char status[160];
  uint64_t sessions_total;
};

/* One WebSocket session, on either side. */
struct session {
  struct transport *tp;
  struct session *prev, *next;
  struct carrier_conn *conn;
  struct mux *mux;
  struct server_tunnel *st;   /* server side: its tunnel, or NULL */
  struct client_tunnel *ct;   /* device side: its tunnel, or NULL */
  struct weft_timer *ping;
  uint64_t last_pong_ms;
  bool open;
  const char *abuse;          /* why we cut the peer off, or NULL */
};

struct server_tunnel {
  struct transport *tp;
  char id[32];
  struct session *session;
  struct udp_server *udp;  /* a udp tunnel's flows, or NULL */
  uint64_t udp_dropped;
  struct server_tunnel *next;
};

struct client_tunnel {
  struct transport *tp;
  struct client_tunnel *prev, *next;
  char id[32];
  char server_host[256];
  uint16_t server_port;
  const char *server_cert; /* the core's live pin (NULL: plain ws://) */
  char path[SESSION_PATH_MAX];
  char token[4096];
  char local_host[256];
  uint16_t local_port;
  uint32_t max_streams;  /* as the server asked */
  struct udp_client *udp; /* a udp tunnel's local sockets, or NULL */
  struct session *session;
  struct weft_reconnect again; /* after a lost session */
  bool connecting;
  bool closing;    /* client_tunnel_close was called */
  bool gone;       /* the server no longer has the tunnel */
};

/* ---- bookkeeping ---- */

static void unref(struct transport *tp)
{
  assert(tp->refs > 0);
  if (--tp->refs == 0 && tp->destroyed)
    tp->host->free(tp);
}

static struct session *session_new(struct transport *tp)
{
  /* Nothing new starts after destroy: the core calls in no more, and
   * every client tunnel is closing. */
  assert(!tp->destroyed);
  struct session *s = tp->host->calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->tp = tp;
  s->next = tp->sessions;
  if (s->next)
    s->next->prev = s;
  tp->sessions = s;
  tp->refs++;
  return s;
}

static void session_free(struct session *s)
{
  struct transport *tp = s->tp;
  assert(s->prev ? s->prev->next == s : tp->sessions == s);
  if (s->prev)
    s->prev->next = s->next;
  else
    tp->sessions = s->next;
  if (s->next)
    s->next->prev = s->prev;
  tp->host->free(s);
  unref(tp);
}

static void client_unlink(struct client_tunnel *ct)
{
  struct transport *tp = ct->tp;
  if (ct->prev)
    ct->prev->next = ct->next;
  else if (tp->client_tunnels == ct)
    tp->client_tunnels = ct->next;
  if (ct->next)
    ct->next->prev = ct->prev;
  ct->prev = ct->next = NULL;
}

static void client_free(struct client_tunnel *ct)
{
  /* Last: no session and no dial of its own still calls back. */
  assert(!ct->session && !ct->connecting);
  client_unlink(ct);
  udp_client_free(ct->udp);
  ct->tp->host->free(ct);
}

/* ---- sessions, both sides ---- */

static size_t session_send(void *arg, const struct iovec *pieces,
                           size_t count)
{
  struct session *s = arg;
  return s->tp->carrier->send_h2(s->conn, pieces, count);
}

static size_t session_backlog(void *arg)
{
  struct session *s = arg;
  return s->tp->carrier->backlog(s->conn);
}

static void session_failure(void *arg, const char *why)
{
  struct session *s = arg;
  if (s->mux && mux_flooded(s->mux)) {
    /* Abuse, not a fault: no closing handshake with a peer that floods
     * (the GOAWAY went out if the carrier took it). session_closed logs
     * and audits it. */
    s->abuse = why;
    s->tp->carrier->abort(s->conn);
    return;
  }
  s->tp->host->log(s->tp->host, WEFT_LOG_WARN,
                   "session broken (%s); closing it", why);
  s->tp->carrier->close(s->conn, 1002, "HTTP/2 session error");
}

static void session_pong(void *arg)
{
  struct session *s = arg;
  s->last_pong_ms = s->tp->host->now_ms(s->tp->host);
}

static void client_stream(void *arg, struct mux_stream *ms);

static const struct mux_cbs server_mux_cbs = {
    .send = session_send,
    .backlog = session_backlog,
    .on_failure = session_failure,
    .on_pong = session_pong,
};

static const struct mux_cbs client_mux_cbs = {
    .send = session_send,
    .backlog = session_backlog,
    .on_stream = client_stream,
    .on_failure = session_failure,
    .on_pong = session_pong,
};

static void ping_tick(void *arg)
{
  struct session *s = arg;
  const struct weft_host *h = s->tp->host;
  uint64_t now = h->now_ms(h);
  if (now - s->last_pong_ms > 3 * (uint64_t)s->tp->conf->ping_interval_ms) {
    h->log(h, WEFT_LOG_WARN, "no PING answer for %llu ms: the session is dead",
           (unsigned long long)(now - s->last_pong_ms));
    s->tp->carrier->abort(s->conn);
    return;
  }
  if (s->mux)
    mux_ping(s->mux);
}

/* A datagram message: on the server, a device's answer for a public peer;
 * on the device, a public peer's datagram for the local service. */
static void session_datagram(void *arg, const uint8_t *data, size_t len)
{
  struct session *s = arg;
  const struct weft_host *h = s->tp->host;
  if (s->st && s->st->udp) {
    const uint8_t *payload;
    size_t n;
    const struct weft_udp_peer *peer =
        udp_server_decode(s->st->udp, data, len, &payload, &n);
    if (!peer || h->datagram_send(h, s->st->id, peer, payload, n) != 0)
      s->st->udp_dropped++;
  } else if (s->ct && s->ct->udp) {
    udp_client_input(s->ct->udp, data, len);
  }
  /* Anywhere else (a TCP tunnel) a datagram has nowhere to go. */
}

static void session_h2(void *arg, const uint8_t *data, size_t len)
{
  struct session *s = arg;
  if (s->mux)
    mux_input(s->mux, data, len);
}

static void session_drained(void *arg)
{
  struct session *s = arg;
  if (s->mux)
    mux_flush(s->mux);
}

/* No streams and no UDP flows: the carrier may drop its buffers (they
 * would be made again for each datagram of a UDP tunnel). */
static bool session_idle(void *arg)
{
  struct session *s = arg;
  return s->mux && mux_stream_count(s->mux) == 0 && !(s->st && s->st->udp) &&
         !(s->ct && s->ct->udp);
}

static void start_session(struct session *s, bool opener)
{
  const struct weft_host *h = s->tp->host;
  assert(!s->mux && !s->open && !s->ping);
  assert(opener ? s->st && !s->ct : s->ct && !s->st);
  uint32_t max_streams = (uint32_t)s->tp->conf->max_streams;
  if (s->ct && s->ct->max_streams)
    max_streams = s->ct->max_streams;
  s->mux = mux_new(h, opener, max_streams,
                   opener ? &server_mux_cbs : &client_mux_cbs, s);
  if (!s->mux) {
    s->tp->carrier->abort(s->conn);
    return;
  }
  s->open = true;
  s->last_pong_ms = h->now_ms(h);
  uint64_t every = (uint64_t)s->tp->conf->ping_interval_ms;
  h->timer_start(h, every, every, ping_tick, s, &s->ping);
  mux_flush(s->mux);
}

static void schedule_reconnect(struct client_tunnel *ct);

/* Tells `weft tunnel status` where the tunnel stands (ABI 1.2 cores). */
/* Where the tunnel stands, for weft tunnel status. */
#define REPORT(ct, phase, ...)                                               \
  weft_report_tunnel((ct)->tp->host, (ct)->id, phase,                          \
                     (ct)->again.attempts, __VA_ARGS__)

static void dial_done(struct client_tunnel *ct, struct weft_stream *stream,
                      int status);

static void session_closed(void *arg, uint16_t code, const char *why)
{
  struct session *s = arg;
  const struct weft_host *h = s->tp->host;
  if (s->ping)
    h->timer_stop(s->ping);
  mux_free(s->mux);
  if (s->st && (s->abuse || code == 1008)) {
    /* A device cut off for abusing its session (a flood, or not reading
     * what it asked for): an operator's business, so it is audited. */
    const char *reason = s->abuse ? s->abuse : why;
    h->log(h, WEFT_LOG_WARN, "tunnel %s: device session cut off (%s)",
           s->st->id, reason);
    if (WEFT_HOST_HAS(h, audit) && h->audit)
      h->audit(h, s->st->id, "session-cut-off", reason);
  } else if (s->st) {
    h->log(h, WEFT_LOG_INFO, "tunnel %s: device session ended (%u %s)",
           s->st->id, code, why);
    if (WEFT_HOST_HAS(h, audit) && h->audit) {
      char detail[160];
      snprintf(detail, sizeof detail, "ended: %u %.120s", code, why);
      h->audit(h, s->st->id, "session-down", detail);
    }
  }
  if (s->st) {
    if (s->st->session == s)
      s->st->session = NULL;
  }
  if (s->ct) {
    struct client_tunnel *ct = s->ct;
    /* A client tunnel has one session at a time: it dials again only
     * once this one is gone. */
    assert(ct->session == s);
    ct->session = NULL;
    if (ct->udp)
      udp_client_reset(ct->udp);
    ct->connecting = false;
    if (ct->closing) {
      client_free(ct);
    } else {
      h->log(h, WEFT_LOG_WARN, "tunnel %s: disconnected (%u %s)", ct->id,
             code, why);
      REPORT(ct, WEFT_TUNNEL_RETRYING, "disconnected (%u %s)", code, why);
      schedule_reconnect(ct);
    }
  }
  session_free(s);
}

static void session_open(void *arg)
{
  struct session *s = arg;
  struct client_tunnel *ct = s->ct;
  const struct weft_host *h = s->tp->host;
  assert(ct && ct->session == s && ct->connecting); /* a dial's session */
  ct->connecting = false;
  weft_reconnect_succeeded(&ct->again);
  const char *carrier = s->tp->carrier->name;
  h->log(h, WEFT_LOG_INFO, "tunnel %s: connected to %s:%u (%s, %s)", ct->id,
         ct->server_host, ct->server_port, carrier,
         ct->server_cert ? "TLS, certificate pinned" : "no TLS");
  REPORT(ct, WEFT_TUNNEL_UP, "connected to %s:%u (%s%s)", ct->server_host,
         ct->server_port, carrier, ct->server_cert ? " over TLS" : "");
  start_session(s, false);
}

static const struct carrier_cbs conn_cbs = {
    .on_open = session_open,
    .on_h2 = session_h2,
    .on_datagram = session_datagram,
    .on_drained = session_drained,
    .idle = session_idle,
    .on_closed = session_closed,
};

/* ---- lifecycle ---- */

int session_plugin_create(const struct weft_host *host,
                          const struct session_conf *conf,
                          const struct carrier_ops *carrier,
                          const char *endpoint, bool tls_required, void **ctx)
{
  int rc = weft_reconnect_check(host, conf->reconnect_min_ms,
                                conf->reconnect_max_ms);
  if (rc != 0)
    return rc;
  struct transport *tp = host->calloc(1, sizeof *tp);
  if (!tp)
    return WEFT_ENOMEM;
  tp->host = host;
  tp->conf = conf;
  tp->carrier = carrier;
  tp->endpoint = endpoint;
  tp->tls_required = tls_required;
  *ctx = tp;
  return 0;
}

/* Everything still alive ends now (nothing may run after destroy but the
 * close callbacks of what we close here, which the core lets finish before
 * it unloads us). Timers are stopped here, while they are still ours. */
void session_plugin_destroy(void *ctx)
{
  struct transport *tp = ctx;
  const struct weft_host *h = tp->host;
  assert(!tp->destroyed);
  tp->destroyed = true;
  for (struct client_tunnel *ct = tp->client_tunnels; ct; ct = ct->next) {
    ct->closing = true;
    weft_reconnect_cancel(&ct->again);
  }
  for (struct session *s = tp->sessions; s; s = s->next) {
    if (s->ping) {
      h->timer_stop(s->ping);
      s->ping = NULL;
    }
    tp->carrier->abort(s->conn);
  }
  /* Client tunnels with no session and no dial in flight go now. */
  for (struct client_tunnel *ct = tp->client_tunnels, *next; ct; ct = next) {
    next = ct->next;
    if (!ct->session && !ct->connecting)
      client_free(ct);
  }
  tp->refs++;
  unref(tp);
}

/* ---- server side ---- */

int session_server_tunnel_open(void *ctx, const struct weft_tunnel_info *t,
                               void **tunnel_ctx)
{
  struct transport *tp = ctx;
  struct server_tunnel *st = tp->host->calloc(1, sizeof *st);
  if (!st)
    return WEFT_ENOMEM;
  st->tp = tp;
  snprintf(st->id, sizeof st->id, "%s", t->id);
  st->next = tp->server_tunnels;
  tp->server_tunnels = st;
  t->add_param(t->param_ctx, "path", tp->endpoint);
  /* The server decides how many streams a tunnel may carry at once; the
   * device, which enforces it, learns the figure from here. */
  char max[16];
  snprintf(max, sizeof max, "%lld", (long long)tp->conf->max_streams);
  t->add_param(t->param_ctx, "max_streams", max);
  if (t->public_proto && !strcmp(t->public_proto, "udp")) {
    st->udp = udp_server_new(tp->host, (uint32_t)tp->conf->udp_max_flows,
                             (uint64_t)tp->conf->udp_flow_idle_ms);
    if (!st->udp) {
      tp->server_tunnels = st->next;
      tp->host->free(st);
      return WEFT_ENOMEM;
    }
    /* The device keeps its flows as long as the server does. */
    char n[24];
    snprintf(n, sizeof n, "%lld", (long long)tp->conf->udp_flow_idle_ms);
    t->add_param(t->param_ctx, "udp_flow_idle_ms", n);
    snprintf(n, sizeof n, "%lld", (long long)tp->conf->udp_max_flows);
    t->add_param(t->param_ctx, "udp_max_flows", n);
  }
  *tunnel_ctx = st;
  return 0;
}

void session_server_tunnel_close(void *ctx, void *tunnel_ctx, int reason)
{
  struct transport *tp = ctx;
  struct server_tunnel *st = tunnel_ctx;
  (void)reason;
  struct server_tunnel **pp = &tp->server_tunnels;
  while (*pp && *pp != st)
    pp = &(*pp)->next;
  assert(*pp == st); /* open put it there; each is closed once */
  *pp = st->next;
  if (st->session) {
    assert(st->session->st == st);
    st->session->st = NULL;
    if (st->session->mux)
      mux_goaway(st->session->mux);
    tp->carrier->close(st->session->conn, 1001, "tunnel closed");
  }
  udp_server_free(st->udp);
  tp->host->free(st);
}

static struct server_tunnel *find_tunnel(struct transport *tp, const char *id)
{
  for (struct server_tunnel *st = tp->server_tunnels; st; st = st->next)
    if (!strcmp(st->id, id))
      return st;
  return NULL;
}

int session_server_upgrade(void *ctx, const struct weft_http_request *req,
                           struct weft_stream *conn)
{
  struct transport *tp = ctx;
  const struct weft_host *h = tp->host;
  const struct carrier_ops *carrier = tp->carrier;
  struct carrier_upgrade up;
  const char *why = NULL;
  int status = carrier->check_upgrade(req, &up, &why);
  if (status) {
    h->log(h, WEFT_LOG_INFO, "upgrade from %s refused: %s", req->peer_ip, why);
    carrier->refuse(h, conn, status, why);
    return 0;
  }
  /* Nothing is accepted before the token is. */
  struct weft_token_claims claims = {.struct_size = sizeof claims};
  if (h->token_verify(h, up.token, strlen(up.token), &claims) != 0) {
    h->log(h, WEFT_LOG_INFO, "session from %s refused: bad token",
           req->peer_ip);
    carrier->refuse(h, conn, 401,
                    "invalid, expired or spent orchestration token");
    return 0;
  }
  struct server_tunnel *st = find_tunnel(tp, claims.tunnel_id);
  if (!st) {
    carrier->refuse(h, conn, 404, "this server has no such tunnel now");
    return 0;
  }
  struct weft_stream_info info = {.struct_size = sizeof info};
  h->stream_info(conn, &info);
  struct session *s = session_new(tp);
  if (!s) {
    carrier->refuse(h, conn, 503, "out of memory");
    return 0;
  }
  if (carrier->accept(h, conn, &up, &conn_cbs, s, &s->conn) != 0) {
    session_free(s);
    return 0;
  }
  if (st->session) {
    /* The device came back before its old session timed out. */
    assert(st->session->st == st);
    st->session->st = NULL;
    carrier->close(st->session->conn, 1001, "replaced by a new session");
  }
  s->st = st;
  st->session = s;
  tp->sessions_total++;
  h->log(h, WEFT_LOG_INFO, "tunnel %s: device %s connected from %s (%s, %s)",
         st->id, claims.device_id, req->peer_ip, carrier->name,
         info.tls ? "TLS" : "no TLS");
  if (WEFT_HOST_HAS(h, audit) && h->audit) {
    char detail[128];
    snprintf(detail, sizeof detail, "from %s (%s, %s)", req->peer_ip,
             carrier->name, info.tls ? "TLS" : "no TLS");
    h->audit(h, st->id, "session-up", detail);
  }
  start_session(s, true);
  return 0;
}

int session_server_stream_open(void *ctx, void *tunnel_ctx,
                               struct weft_stream *conn)
{
  (void)ctx;
  struct server_tunnel *st = tunnel_ctx;
  if (!st->session || !st->session->open || !st->session->mux)
    return WEFT_ECONNREFUSED; /* the device is not connected */
  return mux_open(st->session->mux, conn);
}

/* A public datagram for the device, framed with its flow. Dropped (as UDP
 * may be) when the device is away or its WebSocket is backed up. */
int session_server_datagram(void *ctx, void *tunnel_ctx,
                            const struct weft_udp_peer *peer,
                            const void *data, size_t len)
{
  struct transport *tp = ctx;
  static uint8_t msg[UDP_HEADER_MAX + UDP_MAX_PAYLOAD];
  struct server_tunnel *st = tunnel_ctx;
  struct session *s = st->session;
  size_t n;
  if (!st->udp || !s || !s->open || !tp->carrier->send_datagram ||
      tp->carrier->backlog(s->conn) > UDP_BACKLOG_LIMIT ||
      !(n = udp_server_encode(st->udp, peer, data, len, msg))) {
    st->udp_dropped++;
    return WEFT_ECONNREFUSED;
  }
  tp->carrier->send_datagram(s->conn, msg, n);
  return 0;
}

/* ---- client (device) side ---- */

struct local_connect {
  struct mux_stream *ms;
  struct transport *tp;
};

static void local_connected(void *arg, struct weft_stream *stream, int status)
{
  struct local_connect *lc = arg;
  const struct weft_host *h = lc->tp->host;
  if (status != 0) {
    h->log(h, WEFT_LOG_WARN, "cannot reach the local service for %s: %s",
           mux_stream_peer(lc->ms), weft_strerror(status));
    mux_refuse(lc->ms);
  } else {
    mux_accept(lc->ms, stream);
  }
  struct transport *tp = lc->tp;
  h->free(lc);
  unref(tp);
}

static void client_stream(void *arg, struct mux_stream *ms)
{
  struct session *s = arg;
  const struct weft_host *h = s->tp->host;
  struct client_tunnel *ct = s->ct;
  /* Destroy aborted every carrier: no message, no stream after it. */
  assert(!s->tp->destroyed);
  struct local_connect *lc = h->alloc(sizeof *lc);
  if (!lc || !ct) {
    h->free(lc);
    mux_refuse(ms);
    return;
  }
  lc->ms = ms;
  lc->tp = s->tp;
  s->tp->refs++;
  if (h->stream_connect(h, ct->local_host, ct->local_port, false, NULL,
                        local_connected, lc) != 0) {
    h->free(lc);
    mux_refuse(ms);
    unref(s->tp);
  }
}

static void server_connected(void *arg, struct weft_stream *stream, int status)
{
  struct client_tunnel *ct = arg;
  struct transport *tp = ct->tp;
  dial_done(ct, stream, status); /* may free ct; tp holds the dial's ref */
  unref(tp);
}

static void dial_done(struct client_tunnel *ct, struct weft_stream *stream,
                      int status)
{
  const struct weft_host *h = ct->tp->host;
  assert(ct->connecting && !ct->session);
  if (ct->closing) {
    ct->connecting = false;
    if (stream)
      h->stream_close(stream);
    client_free(ct);
    return;
  }
  if (status != 0) {
    ct->connecting = false;
    h->log(h, WEFT_LOG_WARN, "tunnel %s: cannot reach %s:%u: %s", ct->id,
           ct->server_host, ct->server_port, weft_strerror(status));
    REPORT(ct, WEFT_TUNNEL_RETRYING, "cannot reach %s:%u: %s",
           ct->server_host, ct->server_port, weft_strerror(status));
    schedule_reconnect(ct);
    return;
  }
  struct session *s = session_new(ct->tp);
  if (!s) {
    h->stream_close(stream);
    ct->connecting = false;
    schedule_reconnect(ct);
    return;
  }
  s->ct = ct;
  ct->session = s;
  char host_header[300];
  snprintf(host_header, sizeof host_header, "%s%s%s:%u",
           strchr(ct->server_host, ':') ? "[" : "", ct->server_host,
           strchr(ct->server_host, ':') ? "]" : "", ct->server_port);
  if (ct->tp->carrier->dial(h, stream, host_header, ct->path, ct->token,
                            &conn_cbs, s, &s->conn) != 0) {
    ct->session = NULL;
    session_free(s);
    ct->connecting = false;
    schedule_reconnect(ct);
  }
}

static void dial(struct client_tunnel *ct)
{
  const struct weft_host *h = ct->tp->host;
  /* One dial at a time, and none once the tunnel is closing (its
   * reconnect timer is cancelled then) or its session is up. */
  assert(!ct->connecting && !ct->session && !ct->closing);
  assert(!ct->tp->destroyed);
  ct->connecting = true;
  ct->tp->refs++;
  /* wss://, pinned to the certificate the device logged in over. */
  int rc = h->stream_connect(h, ct->server_host, ct->server_port,
                             ct->server_cert != NULL, ct->server_cert,
                             server_connected, ct);
  if (rc != 0) {
    unref(ct->tp);
    ct->connecting = false;
    h->log(h, WEFT_LOG_WARN, "tunnel %s: cannot dial %s: %s", ct->id,
           ct->server_host, weft_strerror(rc));
    schedule_reconnect(ct);
  }
}

static void reconnect_gone(void *arg)
{
  struct client_tunnel *ct = arg;
  ct->gone = true;
  REPORT(ct, WEFT_TUNNEL_FAILED, "the server no longer has this tunnel");
}

static void reconnect_dial(void *arg)
{
  dial(arg);
}

static void schedule_reconnect(struct client_tunnel *ct)
{
  if (!ct->closing && !ct->gone)
    weft_reconnect_schedule(&ct->again);
}

static bool send_to_server(void *arg, const uint8_t *msg, size_t len)
{
  struct client_tunnel *ct = arg;
  struct session *s = ct->session;
  const struct carrier_ops *carrier = ct->tp->carrier;
  if (!s || !s->open || !carrier->send_datagram ||
      carrier->backlog(s->conn) > UDP_BACKLOG_LIMIT)
    return false;
  carrier->send_datagram(s->conn, msg, len);
  return true;
}

/* A udp tunnel: the local service's address, and the flow table sized as
 * the server asked. */
static int open_local_udp(struct client_tunnel *ct,
                          const struct weft_tunnel_info *t)
{
  const struct weft_host *h = ct->tp->host;
  char port[8];
  snprintf(port, sizeof port, "%u", ct->local_port);
  struct addrinfo hints = {.ai_socktype = SOCK_DGRAM,
                           .ai_flags = AI_NUMERICSERV};
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(ct->local_host, port, &hints, &res);
  if (rc != 0 || !res) {
    h->log(h, WEFT_LOG_ERROR, "cannot resolve the local service %s: %s",
           ct->local_host, gai_strerror(rc));
    return -1;
  }
  const char *idle = weft_tunnel_param(t, "udp_flow_idle_ms");
  const char *max = weft_tunnel_param(t, "udp_max_flows");
  long long idle_ms = idle ? strtoll(idle, NULL, 10) : 0;
  long max_flows = max ? strtol(max, NULL, 10) : 0;
  ct->udp = udp_client_new(
      h, res->ai_addr,
      max_flows > 0 && max_flows <= 65535 ? (uint32_t)max_flows : 0,
      idle_ms > 0 ? (uint64_t)idle_ms : 0, send_to_server, ct);
  freeaddrinfo(res);
  return ct->udp ? 0 : -1;
}

int session_client_tunnel_open(void *ctx, const struct weft_tunnel_info *t,
                               void **tunnel_ctx)
{
  struct transport *tp = ctx;
  const struct weft_host *h = tp->host;
  const char *path = weft_tunnel_param(t, "path");
  if (!path || path[0] != '/' || strlen(path) >= SESSION_PATH_MAX || !t->token ||
      strlen(t->token) >= sizeof((struct client_tunnel *)0)->token ||
      !t->server_host) {
    h->log(h, WEFT_LOG_ERROR,
           "the server's answer lacks the session path or the token");
    return WEFT_EPROTO;
  }
  struct client_tunnel *ct = h->calloc(1, sizeof *ct);
  if (!ct)
    return WEFT_ENOMEM;
  ct->tp = tp;
  snprintf(ct->id, sizeof ct->id, "%s", t->id);
  snprintf(ct->server_host, sizeof ct->server_host, "%s", t->server_host);
  ct->server_port = t->server_port;
  if ((tp->conf->wss || tp->tls_required) &&
      t->struct_size > offsetof(struct weft_tunnel_info, server_cert_sha256))
    ct->server_cert = t->server_cert_sha256;
  if (tp->tls_required && !ct->server_cert) {
    h->log(h, WEFT_LOG_ERROR,
           "this transport needs TLS to the server, pinned from the login, "
           "but this device logged in over plain HTTP: use the server's TLS "
           "port or its control port with TLS");
    h->free(ct);
    return WEFT_EPROTO;
  }
  snprintf(ct->path, sizeof ct->path, "%s", path);
  snprintf(ct->token, sizeof ct->token, "%s", t->token);
  uint32_t seed = 0;
  RAND_bytes((unsigned char *)&seed, sizeof seed);
  ct->again = (struct weft_reconnect){
      .host = h,
      .tunnel_id = ct->id,
      .token = ct->token,
      .token_size = sizeof ct->token,
      .min_ms = tp->conf->reconnect_min_ms,
      .max_ms = tp->conf->reconnect_max_ms,
      .seed = seed,
      .dial = reconnect_dial,
      .gone = reconnect_gone,
      .arg = ct,
  };
  const char *max = weft_tunnel_param(t, "max_streams");
  long m = max ? strtol(max, NULL, 10) : 0;
  ct->max_streams = m > 0 && m <= 65535 ? (uint32_t)m : 0;
  if (!WEFT_INFO_HAS(t, local_port)) {
    h->log(h, WEFT_LOG_ERROR, "this weft is too old for this plugin (needs "
                              "plugin ABI 1.2)");
    h->free(ct);
    return WEFT_ENOTSUP;
  }
  snprintf(ct->local_host, sizeof ct->local_host, "%s", t->local_host);
  ct->local_port = t->local_port;
  if (!strncmp(t->local_url, "udp://", 6) && open_local_udp(ct, t) != 0) {
    h->free(ct);
    return WEFT_EINVAL;
  }
  ct->next = tp->client_tunnels;
  if (ct->next)
    ct->next->prev = ct;
  tp->client_tunnels = ct;
  dial(ct);
  *tunnel_ctx = ct;
  return 0;
}

void session_client_tunnel_close(void *ctx, void *tunnel_ctx)
{
  struct transport *tp = ctx;
  struct client_tunnel *ct = tunnel_ctx;
  ct->closing = true;
  weft_reconnect_cancel(&ct->again);
  if (ct->session) {
    if (ct->session->mux)
      mux_goaway(ct->session->mux);
    tp->carrier->close(ct->session->conn, 1000, "tunnel closed"); /* frees ct */
  } else if (!ct->connecting) {
    client_free(ct);
  }
}

const char *session_plugin_status(void *ctx)
{
  struct transport *tp = ctx;
  size_t tunnels = 0, sessions = 0;
  for (struct server_tunnel *st = tp->server_tunnels; st; st = st->next) {
    tunnels++;
    sessions += st->session != NULL;
  }
  snprintf(tp->status, sizeof tp->status,
           "endpoint %s; %zu tunnel(s), %zu device session(s) connected",
           tp->endpoint, tunnels, sessions);
  return tp->status;
}
