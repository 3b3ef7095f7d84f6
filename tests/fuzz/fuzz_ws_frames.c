/* libFuzzer target: everything the websocket transport reads from a
 * device after the upgrade: WebSocket frames (wslay), its message types,
 * and the HTTP/2 session inside (nghttp2), as the server side sees them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/common/mux.h"
#include "../../plugins/websocket/ws_conn.h"
#include "fake_host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct session {
  struct ws_conn *conn;
  struct mux *mux;
  bool closed;
};

static size_t s_send(void *arg, const struct iovec *p, size_t count)
{
  struct session *s = arg;
  static uint8_t h2 = 0; /* the carrier's type byte first */
  struct iovec wp[1 + MUX_MAX_PIECES] = {{&h2, 1}};
  memcpy(wp + 1, p, count * sizeof *p);
  return s->conn ? ws_conn_sendv(s->conn, wp, 1 + count) : 0;
}
static size_t s_backlog(void *arg)
{
  struct session *s = arg;
  return s->conn ? ws_conn_backlog(s->conn) : 0;
}
static void s_failure(void *arg, const char *why)
{
  struct session *s = arg;
  (void)why;
  if (s->conn)
    ws_conn_close(s->conn, 1002, "h2 error");
}
static const struct mux_cbs mux_cbs = {
    .send = s_send, .backlog = s_backlog, .on_failure = s_failure};

static void on_message(void *arg, const uint8_t *d, size_t n)
{
  struct session *s = arg;
  if (n && d[0] == 0 && s->mux)
    mux_input(s->mux, d + 1, n - 1);
}
static void on_closed(void *arg, uint16_t code, const char *why)
{
  struct session *s = arg;
  (void)code, (void)why;
  s->closed = true;
}
/* Idle whenever no stream is open: wslay's context is released between
 * frames and made again, as on a real idle session. */
static bool idle(void *arg)
{
  struct session *s = arg;
  return s->mux && mux_stream_count(s->mux) == 0;
}
static const struct ws_conn_cbs ws_cbs = {
    .on_message = on_message, .idle = idle, .on_closed = on_closed};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const struct weft_host *h = fake_host();
  struct fake_stream fs = {0};
  struct session s = {0};
  struct ws_upgrade up = {.key = "dGhlIHNhbXBsZSBub25jZQ==", .token = "t"};
  if (ws_conn_accept(h, (struct weft_stream *)&fs, &up, &ws_cbs, &s,
                     &s.conn) != 0)
    return 0;
  s.mux = mux_new(h, true, 100, &mux_cbs, &s);
  /* Feed in pieces, cut where the input says, as TCP would. */
  size_t off = 0;
  while (off < size && !fs.closed) {
    size_t n = 1 + (data[off] % 97);
    if (n > size - off)
      n = size - off;
    fake_stream_feed(&fs, data + off, n);
    off += n;
  }
  mux_free(s.mux);
  s.mux = NULL;
  fake_stream_finish(&fs); /* frees the connection */
  return 0;
}
