/* libFuzzer target: the HTTP inspector reading a device's answers
 * (core/ingress/http_capture.c). The first byte picks up to eight
 * pipelined requests (GET, HEAD or POST with a body); the rest is what
 * the device answers, fed in pieces whose sizes the input also picks.
 * Whatever the device sends: no entry keeps more than INSPECT_BODY_MAX of
 * a body, the ring stays within INSPECT_KEEP, and every byte counted
 * against the inspectors' total is given back once all is freed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/str_index.h"
#include "http/http_head.h"
#include "ingress/http_capture.h"
#include "tunnel/inspect.h"
#include "tunnel/lease_types.h"
#include "tunnel/tunnels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const heads[] = {
    "GET /a?x=1 HTTP/1.1\r\nHost: app.test\r\n\r\n",
    "HEAD / HTTP/1.1\r\nHost: app.test\r\n\r\n",
    "POST /b HTTP/1.1\r\nHost: app.test\r\nContent-Length: 4\r\n\r\n",
    ("GET /ws HTTP/1.1\r\nHost: app.test\r\nUpgrade: websocket\r\n"
     "Connection: Upgrade\r\n\r\n"),
};

static void request(struct http_capture **cap, struct tunnel_service *svc,
                    struct tunnel *t, bool first, unsigned which)
{
  const char *text = heads[which % 4];
  struct http_head h = {0};
  http_parser p;
  http_parser_init(&p, HTTP_REQUEST);
  p.data = &h;
  http_parser_execute(&p, &http_head_settings, text, strlen(text));
  http_capture_request(cap, svc, t, first, &h, &p, "app.test");
  if (which % 4 == 2 && *cap)
    http_capture_body(*cap, "body", 4);
  http_head_free(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  struct tunnel_service svc = {0};
  struct lease lease = {.tunnel_id = "t0123456789abcdef"};
  struct tunnel t = {.lease = &lease};
  str_index_init(&svc.by_id);
  str_index_add(&svc.by_id, lease.tunnel_id, &t);
  t.inspect = inspect_ring_new();
  struct http_capture *cap = NULL;
  unsigned n = 1 + (data[0] & 7);
  for (unsigned i = 0; i < n; i++)
    request(&cap, &svc, &t, i == 0, (unsigned)(data[0] >> 3) + i);
  const char *in = (const char *)data + 1;
  size_t left = size - 1;
  while (left > 0) {
    size_t piece = 1 + (size_t)(unsigned char)in[0] % 64;
    if (piece > left)
      piece = left;
    http_capture_answer(cap, in, piece);
    in += piece;
    left -= piece;
  }
  http_capture_free(cap);
  if (t.inspect->count > INSPECT_KEEP)
    abort();
  for (unsigned i = 0; i < t.inspect->count; i++) {
    const struct inspect_entry *e = inspect_ring_at(t.inspect, i);
    if (e->resp_body.kept.len > INSPECT_BODY_MAX ||
        e->resp_body.kept.len > e->resp_body.size)
      abort();
  }
  inspect_ring_free(t.inspect);
  str_index_free(&svc.by_id);
  if (inspect_total() != 0)
    abort(); /* a byte counted and never given back */
  return 0;
}
