/* The vhost plugin's carrier (plugins/common/carrier.h): after an HTTP/1.1
 * Upgrade to "weft-h2" that carries the orchestration token, the HTTP/2
 * session bytes go straight on the (TLS) stream, with no framing between:
 * HTTP/2 delimits its own frames, so nothing else is needed. No datagrams:
 * the vhost transport carries TCP, HTTP and TLS, not UDP.
 *
 * The device reads the server's answer with http-parser: 101 opens the
 * session (bytes after the head are HTTP/2 already); anything else, or a
 * head over H2_HEAD_MAX, closes it with the status in the log. A graceful
 * close sends FIN and waits H2_CLOSE_WAIT_MS for the peer's. */
#include <assert.h>
#include <http_parser.h>
#include <stdio.h>
#include <string.h>

#include "carrier.h"
#include "h2_carrier.h"

#define H2_UPGRADE_TOKEN "weft-h2"
#define H2_HEAD_MAX 8192
#define H2_CLOSE_WAIT_MS 5000

struct carrier_conn {
  const struct weft_host *host;
  struct weft_stream *stream;
  const struct carrier_cbs *cbs;
  void *arg;
  bool open;            /* past the upgrade */
  bool closing;         /* our FIN is sent: waiting for the peer's */
  http_parser parser;   /* device side: the server's answer */
  size_t head_bytes;
  struct weft_timer *close_timer;
  uint16_t code;
  char why[256];
};

/* ---- the upgrade request (server side) ---- */



static int check_upgrade(const struct weft_http_request *req,
                         struct carrier_upgrade *out, const char **why)
{
  memset(out, 0, sizeof *out);
  const char *upgrade = weft_http_header(req, "upgrade");
  const char *connection = weft_http_header(req, "connection");
  const char *token = weft_http_bearer(req);
  if (strcmp(req->method, "GET"))
    return *why = "a session upgrade must be a GET", 400;
  if (!upgrade || !weft_http_has_token(upgrade, H2_UPGRADE_TOKEN) ||
      !connection || !weft_http_has_token(connection, "upgrade"))
    return *why = "not an upgrade to " H2_UPGRADE_TOKEN, 400;
  if (!token)
    return *why = "the upgrade carries no orchestration token", 401;
  out->token = token;
  return 0;
}

static void refuse(const struct weft_host *host, struct weft_stream *s,
                   int status, const char *why)
{
  char resp[512];
  const char *text = status == 401   ? "Unauthorized"
                     : status == 503 ? "Service Unavailable"
                     : status == 404 ? "Not Found"
                                     : "Bad Request";
  int n = snprintf(resp, sizeof resp,
                   "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
                   status, text, strlen(why) + 1, why);
  if (n > 0 && (size_t)n < sizeof resp)
    host->stream_write(s, resp, (size_t)n);
  host->stream_shutdown(s);
  host->stream_close(s);
}

/* ---- the connection ---- */

static void set_reason(struct carrier_conn *c, uint16_t code, const char *why)
{
  if (!c->code) {
    c->code = code;
    snprintf(c->why, sizeof c->why, "%s", why);
  }
}

static void fail(struct carrier_conn *c, const char *why)
{
  set_reason(c, 1002, why);
  c->host->stream_close(c->stream);
}

static int head_done(http_parser *p)
{
  http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings response_settings = {
    .on_headers_complete = head_done,
};

/* Device side, before the 101: the server's answer, then HTTP/2. */
static void read_answer(struct carrier_conn *c, const char *data, size_t len)
{
  assert(!c->open); /* the dialling side, until its 101 */
  size_t n = http_parser_execute(&c->parser, &response_settings, data, len);
  enum http_errno err = HTTP_PARSER_ERRNO(&c->parser);
  c->head_bytes += n;
  if (err == HPE_OK && n == len && c->head_bytes <= H2_HEAD_MAX)
    return; /* the head goes on */
  if (err != HPE_PAUSED) {
    fail(c, c->head_bytes > H2_HEAD_MAX ? "the server's answer is too long"
                                        : "the server's answer is not HTTP");
    return;
  }
  if (c->parser.status_code != 101) {
    /* The server's refusal says why in its body (one short line), when
     * that arrived with the head. */
    n += n < len && data[n] == '\n';
    size_t body = 0; /* the bytes are not NUL-terminated */
    while (n + body < len && body < 120 && data[n + body] != '\r' &&
           data[n + body] != '\n')
      body++;
    char why[96 + 128];
    snprintf(why, sizeof why, "the server answered HTTP %u%s%.*s",
             c->parser.status_code, body ? ": " : "", (int)body, data + n);
    for (char *p = why; *p; p++) /* it goes to the log */
      if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
        *p = '?';
    fail(c, why);
    return;
  }
  /* Paused before the head's last LF: it is not HTTP/2 yet. */
  n += n < len && data[n] == '\n';
  c->open = true;
  c->cbs->on_open(c->arg);
  if (n < len && c->open)
    c->cbs->on_h2(c->arg, (const uint8_t *)data + n, len - n);
}

static void on_read(void *ctx, const void *data, size_t len)
{
  struct carrier_conn *c = ctx;
  if (c->open)
    c->cbs->on_h2(c->arg, data, len);
  else
    read_answer(c, data, len);
}

static void on_eof(void *ctx)
{
  struct carrier_conn *c = ctx;
  set_reason(c, c->closing ? 1000 : 1006, c->closing
                                              ? "closed"
                                              : "the peer closed the session");
  c->host->stream_close(c->stream);
}

static void on_drained(void *ctx)
{
  struct carrier_conn *c = ctx;
  if (c->open)
    c->cbs->on_drained(c->arg);
}

static void on_closed(void *ctx, int err)
{
  struct carrier_conn *c = ctx;
  const struct weft_host *host = c->host;
  if (c->close_timer)
    host->timer_stop(c->close_timer);
  set_reason(c, 1006, err ? weft_strerror(err) : "connection closed");
  c->cbs->on_closed(c->arg, c->code, c->why);
  host->free(c);
}

static const struct weft_stream_cbs stream_cbs = {
    .on_read = on_read,
    .on_eof = on_eof,
    .on_drained = on_drained,
    .on_closed = on_closed,
};

static struct carrier_conn *conn_new(const struct weft_host *host,
                                     struct weft_stream *s,
                                     const struct carrier_cbs *cbs, void *arg)
{
  struct carrier_conn *c = host->calloc(1, sizeof *c);
  if (c) {
    c->host = host;
    c->stream = s;
    c->cbs = cbs;
    c->arg = arg;
  }
  return c;
}

static int accept_upgrade(const struct weft_host *host, struct weft_stream *s,
                          const struct carrier_upgrade *up,
                          const struct carrier_cbs *cbs, void *arg,
                          struct carrier_conn **out)
{
  (void)up;
  struct carrier_conn *c = conn_new(host, s, cbs, arg);
  if (!c) {
    refuse(host, s, 503, "out of memory");
    return WEFT_ENOMEM;
  }
  static const char resp[] = "HTTP/1.1 101 Switching Protocols\r\n"
                             "Upgrade: " H2_UPGRADE_TOKEN "\r\n"
                             "Connection: Upgrade\r\n\r\n";
  c->open = true;
  *out = c; /* before any callback can need it */
  int rc = host->stream_start(s, &stream_cbs, c);
  if (rc != 0) {
    *out = NULL;
    host->free(c);
    host->stream_close(s);
    return rc;
  }
  host->stream_write(s, resp, sizeof resp - 1);
  return 0;
}

static int dial(const struct weft_host *host, struct weft_stream *s,
                const char *host_header, const char *path, const char *token,
                const struct carrier_cbs *cbs, void *arg,
                struct carrier_conn **out)
{
  struct carrier_conn *c = conn_new(host, s, cbs, arg);
  if (!c) {
    host->stream_close(s);
    return WEFT_ENOMEM;
  }
  http_parser_init(&c->parser, HTTP_RESPONSE);
  c->parser.data = c;
  *out = c; /* before any callback can need it */
  int rc = host->stream_start(s, &stream_cbs, c);
  if (rc != 0) {
    *out = NULL;
    host->free(c);
    host->stream_close(s);
    return rc;
  }
  char head[5120];
  int n = snprintf(head, sizeof head,
                   "GET %s HTTP/1.1\r\nHost: %s\r\n"
                   "Upgrade: " H2_UPGRADE_TOKEN "\r\nConnection: Upgrade\r\n"
                   "Authorization: Bearer %s\r\n\r\n",
                   path, host_header, token);
  if (n <= 0 || (size_t)n >= sizeof head) {
    fail(c, "the token is too long");
    return 0; /* on_closed follows */
  }
  host->stream_write(s, head, (size_t)n);
  return 0;
}

static size_t send_h2(struct carrier_conn *c, const struct iovec *pieces,
                      size_t count)
{
  size_t backlog = 0;
  for (size_t i = 0; i < count; i++)
    backlog = c->host->stream_write(c->stream, pieces[i].iov_base,
                                    pieces[i].iov_len);
  return backlog;
}

static size_t backlog(const struct carrier_conn *c)
{
  return c->host->stream_write(c->stream, NULL, 0);
}

static void close_late(void *arg)
{
  struct carrier_conn *c = arg;
  assert(c->closing && c->close_timer); /* close_conn started it */
  c->host->timer_stop(c->close_timer);
  c->close_timer = NULL;
  c->host->stream_close(c->stream);
}

static void close_conn(struct carrier_conn *c, uint16_t code,
                       const char *reason)
{
  if (c->closing)
    return;
  c->closing = true;
  set_reason(c, code, reason);
  c->host->stream_shutdown(c->stream);
  if (c->host->timer_start(c->host, H2_CLOSE_WAIT_MS, 0, close_late, c,
                           &c->close_timer) != 0)
    c->host->stream_close(c->stream);
}

static void abort_conn(struct carrier_conn *c)
{
  /* The plugin may be going away: its timers must be gone with it. */
  if (c->close_timer) {
    c->host->timer_stop(c->close_timer);
    c->close_timer = NULL;
  }
  set_reason(c, 1006, "aborted");
  c->host->stream_close(c->stream);
}

const struct carrier_ops h2_carrier = {
    .name = "h2",
    .check_upgrade = check_upgrade,
    .accept = accept_upgrade,
    .refuse = refuse,
    .dial = dial,
    .send_h2 = send_h2,
    .send_datagram = NULL,
    .backlog = backlog,
    .close = close_conn,
    .abort = abort_conn,
};
