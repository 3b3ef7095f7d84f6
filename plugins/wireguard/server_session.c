/* A device's session with the server: an HTTP upgrade on the control port
 * that carries its orchestration token and its relay port. The peer is
 * added only once the token is verified, and removed the moment the
 * session ends (closed, lost, or three pings missed). */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_internal.h"

/* ---- sessions ---- */

static void session_free(struct srv_session *s)
{
  struct wg_server *srv = s->srv;
  if (srv) { /* else the server stopped and forgot its sessions */
    struct srv_session **pp = &srv->sessions;
    while (*pp && *pp != s)
      pp = &(*pp)->next;
    assert(*pp == s);
    *pp = s->next;
  }
  s->host->free(s);
}

void srv_session_close(struct srv_session *s)
{
  if (!s->closing) {
    s->closing = true;
    s->host->stream_close(s->stream);
  }
}

static void session_read(void *ctx, const void *data, size_t len)
{
  struct srv_session *s = ctx;
  const struct weft_host *h = s->host;
  const char *p = data;
  for (size_t i = 0; i < len && !s->closing; i++) {
    if (p[i] != '\n') {
      if (s->used + 1 >= sizeof s->line) {
        srv_session_close(s); /* not our protocol */
        return;
      }
      s->line[s->used++] = p[i];
      continue;
    }
    assert(s->used < sizeof s->line); /* kept room for the NUL */
    s->line[s->used] = '\0';
    s->used = 0;
    if (strcmp(s->line, "ping") != 0) {
      srv_session_close(s);
      return;
    }
    s->last_heard_ms = h->now_ms(h);
    h->stream_write(s->stream, "pong\n", 5);
  }
}

static void session_eof(void *ctx)
{
  srv_session_close(ctx);
}

static void session_closed(void *ctx, int err)
{
  struct srv_session *s = ctx;
  struct srv_tunnel *st = s->st;
  (void)err;
  /* Whoever takes a tunnel's session away (a new session, the tunnel's
   * close, a failed upgrade, the server's stop) clears s->st first. */
  assert(!st || st->session == s);
  if (st) {
    const struct weft_host *h = s->srv->wg->host;
    st->session = NULL;
    srv_remove_peer(s->srv, st, "the device's session ended");
    if (WEFT_HOST_HAS(h, audit) && h->audit)
      h->audit(h, st->id, "session-down", "its peer removed");
  }
  session_free(s);
}

static const struct weft_stream_cbs session_cbs = {
    .on_read = session_read,
    .on_eof = session_eof,
    .on_closed = session_closed,
};

static void refuse_closed(void *ctx, int err)
{
  (void)ctx, (void)err;
}
static void refuse_eof(void *ctx)
{
  (void)ctx;
}
static void refuse_read(void *ctx, const void *data, size_t len)
{
  (void)ctx, (void)data, (void)len;
}
static const struct weft_stream_cbs refuse_cbs = {
    .on_read = refuse_read, .on_eof = refuse_eof, .on_closed = refuse_closed};

static int refuse(struct wg_server *srv, struct weft_stream *conn, int status,
                  const char *reason)
{
  const struct weft_host *h = host_of(srv);
  srv->refused++;
  char resp[512];
  int n = snprintf(resp, sizeof resp,
                   "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
                   status, status == 401 ? "Unauthorized" : "Refused",
                   strlen(reason) + 1, reason);
  if (h->stream_start(conn, &refuse_cbs, NULL) != 0)
    return WEFT_EIO;
  h->stream_write(conn, resp, (size_t)n);
  h->stream_shutdown(conn);
  h->stream_close(conn); /* no lingering: the control port's limits are off */
  return 0;
}



static int relay_port_of(const struct weft_http_request *req)
{
  const char *v = weft_http_header(req, RELAY_PORT_HEADER);
  if (!v || !*v || strlen(v) > 5 || strspn(v, "0123456789") != strlen(v))
    return -1;
  long port = strtol(v, NULL, 10);
  return port >= 1 && port <= 65535 ? (int)port : -1;
}

int wg_server_upgrade(void *ctx, const struct weft_http_request *req,
                      struct weft_stream *conn)
{
  struct wireguard *wg = ctx;
  struct wg_server *srv = wg->server;
  const struct weft_host *h = wg->host;
  if (!srv)
    return WEFT_ENOTSUP;
  const char *token = weft_http_bearer(req);
  const char *upgrade = weft_http_header(req, "upgrade");
  if (!upgrade || strcmp(upgrade, SESSION_PROTOCOL))
    return refuse(srv, conn, 400, "expected Upgrade: " SESSION_PROTOCOL);
  /* Nothing is added before the token is verified. */
  struct weft_token_claims claims = {.struct_size = sizeof claims};
  if (!token || h->token_verify(h, token, strlen(token), &claims) != 0) {
    h->log(h, WEFT_LOG_INFO, "session from %s refused: bad token",
           req->peer_ip);
    return refuse(srv, conn, 401,
                  "invalid, expired or spent orchestration token");
  }
  struct srv_tunnel *st = srv_find_tunnel(srv, claims.tunnel_id);
  if (!st)
    return refuse(srv, conn, 404, "this server has no such tunnel now");
  int relay = relay_port_of(req);
  if (relay < 0)
    return refuse(srv, conn, 400, "missing or bad " RELAY_PORT_HEADER);
  struct srv_session *s = h->calloc(1, sizeof *s);
  if (!s)
    return refuse(srv, conn, 503, "out of memory");
  s->host = h;
  s->srv = srv;
  s->stream = conn;
  s->last_heard_ms = h->now_ms(h);
  if (h->stream_start(conn, &session_cbs, s) != 0) {
    h->free(s);
    return WEFT_EIO;
  }
  s->next = srv->sessions;
  srv->sessions = s;
  if (st->session) { /* the device came back before its old one timed out */
    assert(st->session->st == st);
    st->session->st = NULL;
    srv_session_close(st->session);
  }
  st->session = s;
  s->st = st;
  st->relay_port = (uint16_t)relay;
  if (st->udp)
    udp_flows_target(st->udp, st->addr, st->relay_port);
  /* The firewall first: no peer without its rules (fail closed). The
   * kernel path to a new peer opens after it (srv_sync_firewall). */
  char why[512] = "the firewall table could not be written";
  bool new_peer = !st->peer_added;
  if (srv_sync_firewall(srv) != 0 ||
      (new_peer && srv_set_peer(srv, st, false, why, sizeof why))) {
    h->log(h, WEFT_LOG_ERROR, "tunnel %s: peer not added: %s", st->id, why);
    st->session = NULL;
    s->st = NULL;
    static const char busy[] = "HTTP/1.1 503 Refused\r\nContent-Length: "
                               "0\r\nConnection: close\r\n\r\n";
    h->stream_write(conn, busy, sizeof busy - 1);
    h->stream_shutdown(conn);
    srv_session_close(s);
    /* A peer left by a session this one replaced goes too: no session, no
     * peer. (It rewrites the table once more.) */
    srv_remove_peer(srv, st, "no firewall rules for its new session");
    return 0;
  }
  st->peer_added = true;
  if (new_peer)
    srv_sync_firewall(srv);
  /* The ping interval travels with every session, so a device follows the
   * server's current figure even for a tunnel made under another. */
  char ok[256];
  int n = snprintf(ok, sizeof ok,
                   "HTTP/1.1 101 Switching Protocols\r\n"
                   "Upgrade: " SESSION_PROTOCOL "\r\n"
                   "Connection: Upgrade\r\n" SESSION_PING_HEADER
                   ": %lld\r\n\r\n",
                   (long long)srv->wg->conf->session_ping_ms);
  h->stream_write(conn, ok, (size_t)n);
  srv->sessions_total++;
  h->log(h, WEFT_LOG_INFO,
         "tunnel %s: device %s connected from %s; peer %s added (relay port "
         "%d)",
         st->id, claims.device_id, req->peer_ip, st->addr_text, relay);
  if (WEFT_HOST_HAS(h, audit) && h->audit) {
    char detail[160];
    snprintf(detail, sizeof detail, "from %s, peer %s", req->peer_ip,
             st->addr_text);
    h->audit(h, st->id, "session-up", detail);
  }
  return 0;
}
