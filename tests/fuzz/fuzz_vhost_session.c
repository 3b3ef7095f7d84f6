/* libFuzzer target: everything the vhost transport's device side reads
 * from the server: the answer to its upgrade (http-parser), then the HTTP/2
 * session straight on the stream (nghttp2), cut into pieces where the
 * input says, as TCP would. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/common/carrier.h"
#include "../../plugins/common/mux.h"
#include "../../plugins/vhost/h2_carrier.h"
#include "fake_host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct session {
  struct carrier_conn *conn;
  struct mux *mux;
  bool closed;
};

static size_t s_send(void *arg, const struct iovec *p, size_t count)
{
  struct session *s = arg;
  return s->conn ? h2_carrier.send_h2(s->conn, p, count) : 0;
}
static size_t s_backlog(void *arg)
{
  struct session *s = arg;
  return s->conn ? h2_carrier.backlog(s->conn) : 0;
}
static void s_failure(void *arg, const char *why)
{
  struct session *s = arg;
  (void)why;
  if (s->conn)
    h2_carrier.close(s->conn, 1002, "h2 error");
}
static void s_stream(void *arg, struct mux_stream *ms)
{
  (void)arg;
  mux_refuse(ms);
}
static const struct mux_cbs mux_cbs = {.send = s_send,
                                       .backlog = s_backlog,
                                       .on_stream = s_stream,
                                       .on_failure = s_failure};

static void on_open(void *arg)
{
  struct session *s = arg;
  s->mux = mux_new(fake_host(), false, 100, &mux_cbs, s);
}
static void on_h2(void *arg, const uint8_t *d, size_t n)
{
  struct session *s = arg;
  if (s->mux)
    mux_input(s->mux, d, n);
}
static void on_drained(void *arg) { (void)arg; }
static void on_closed(void *arg, uint16_t code, const char *why)
{
  struct session *s = arg;
  (void)code, (void)why;
  s->closed = true;
  s->conn = NULL;
}
static const struct carrier_cbs cbs = {.on_open = on_open,
                                       .on_h2 = on_h2,
                                       .on_drained = on_drained,
                                       .on_closed = on_closed};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const struct weft_host *h = fake_host();
  struct fake_stream fs = {0};
  struct session s = {0};
  if (h2_carrier.dial(h, (struct weft_stream *)&fs, "server:443", "/v1/vhost",
                      "token", &cbs, &s, &s.conn) != 0)
    return 0;
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
