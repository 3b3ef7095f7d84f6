/* The websocket plugin's carrier (plugins/common/carrier.h): a WebSocket
 * whose binary messages each start with a type byte:
 *   0x00  HTTP/2 session bytes
 *   0x01  a UDP datagram of one flow (plugins/common/udp.h)
 * A message of another type closes the session (1003). */
#include <assert.h>
#include <string.h>

#include "carrier.h"
#include "udp.h"
#include "ws_carrier.h"
#include "ws_conn.h"

#define MSG_H2 0x00

struct carrier_conn {
  const struct weft_host *host;
  struct ws_conn *ws;
  const struct carrier_cbs *cbs;
  void *arg;
};

static void on_open(void *arg)
{
  struct carrier_conn *c = arg;
  c->cbs->on_open(c->arg);
}

static void on_message(void *arg, const uint8_t *data, size_t len)
{
  struct carrier_conn *c = arg;
  if (len == 0)
    return;
  if (data[0] == MSG_H2) {
    c->cbs->on_h2(c->arg, data + 1, len - 1);
  } else if (data[0] == MSG_UDP && len <= UDP_HEADER_MAX + UDP_MAX_PAYLOAD) {
    c->cbs->on_datagram(c->arg, data, len);
  } else if (data[0] == MSG_UDP) {
    c->host->log(c->host, WEFT_LOG_WARN,
                 "a datagram message of %zu bytes; closing the session", len);
    ws_conn_close(c->ws, 1009, "datagram message too big");
  } else {
    c->host->log(c->host, WEFT_LOG_WARN,
                 "unknown message type %u; closing the session", data[0]);
    ws_conn_close(c->ws, 1003, "unknown message type");
  }
}

static void on_drained(void *arg)
{
  struct carrier_conn *c = arg;
  c->cbs->on_drained(c->arg);
}

static bool idle(void *arg)
{
  struct carrier_conn *c = arg;
  return c->cbs->idle && c->cbs->idle(c->arg);
}

static void on_closed(void *arg, uint16_t code, const char *why)
{
  struct carrier_conn *c = arg;
  const struct weft_host *host = c->host;
  c->cbs->on_closed(c->arg, code, why);
  host->free(c);
}

static const struct ws_conn_cbs ws_cbs = {
    .on_open = on_open,
    .on_message = on_message,
    .on_drained = on_drained,
    .idle = idle,
    .on_closed = on_closed,
};

static struct carrier_conn *conn_new(const struct weft_host *host,
                                     const struct carrier_cbs *cbs, void *arg)
{
  struct carrier_conn *c = host->calloc(1, sizeof *c);
  if (c) {
    c->host = host;
    c->cbs = cbs;
    c->arg = arg;
  }
  return c;
}

static int check_upgrade(const struct weft_http_request *req,
                         struct carrier_upgrade *out, const char **why)
{
  struct ws_upgrade up;
  int status = ws_check_upgrade(req, &up, why);
  if (status == 0 && !up.token)
    return *why = "the upgrade carries no orchestration token", 401;
  if (status == 0) {
    memcpy(out->key, up.key, sizeof out->key);
    out->token = up.token;
  }
  return status;
}

static int accept_upgrade(const struct weft_host *host, struct weft_stream *s,
                          const struct carrier_upgrade *cup,
                          const struct carrier_cbs *cbs, void *arg,
                          struct carrier_conn **out)
{
  struct carrier_conn *c = conn_new(host, cbs, arg);
  if (!c) {
    ws_refuse(host, s, 503, "out of memory");
    return WEFT_ENOMEM;
  }
  struct ws_upgrade up;
  memcpy(up.key, cup->key, sizeof up.key);
  up.token = cup->token;
  int rc = ws_conn_accept(host, s, &up, &ws_cbs, c, &c->ws);
  if (rc != 0) {
    host->free(c);
    return rc;
  }
  *out = c;
  return 0;
}

static int dial(const struct weft_host *host, struct weft_stream *s,
                const char *host_header, const char *path, const char *token,
                const struct carrier_cbs *cbs, void *arg,
                struct carrier_conn **out)
{
  struct carrier_conn *c = conn_new(host, cbs, arg);
  if (!c) {
    host->stream_close(s);
    return WEFT_ENOMEM;
  }
  int rc = ws_conn_dial(host, s, host_header, path, token, &ws_cbs, c, &c->ws);
  if (rc != 0) {
    host->free(c);
    return rc;
  }
  *out = c;
  return 0;
}

/* The type byte, then the mux's pieces. */
static size_t send_h2(struct carrier_conn *c, const struct iovec *pieces,
                      size_t count)
{
  static uint8_t type = MSG_H2;
  struct iovec p[1 + MUX_MAX_PIECES] = {{&type, 1}};
  assert(count <= MUX_MAX_PIECES); /* the mux sends no more */
  if (count > MUX_MAX_PIECES) { /* a build without asserts: fail safe */
    ws_conn_close(c->ws, 1011, "internal error");
    return ws_conn_backlog(c->ws);
  }
  memcpy(p + 1, pieces, count * sizeof *pieces);
  return ws_conn_sendv(c->ws, p, 1 + count);
}

static size_t send_datagram(struct carrier_conn *c, const uint8_t *msg,
                            size_t len)
{
  struct iovec p = {(void *)msg, len};
  return ws_conn_sendv(c->ws, &p, 1);
}

static size_t backlog(const struct carrier_conn *c)
{
  return ws_conn_backlog(c->ws);
}

static void close_conn(struct carrier_conn *c, uint16_t code,
                       const char *reason)
{
  ws_conn_close(c->ws, code, reason);
}

static void abort_conn(struct carrier_conn *c) { ws_conn_abort(c->ws); }

const struct carrier_ops ws_carrier = {
    .name = "ws",
    .check_upgrade = check_upgrade,
    .accept = accept_upgrade,
    .refuse = ws_refuse,
    .dial = dial,
    .send_h2 = send_h2,
    .send_datagram = send_datagram,
    .backlog = backlog,
    .close = close_conn,
    .abort = abort_conn,
};
