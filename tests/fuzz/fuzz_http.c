/* libFuzzer target: raw bytes from a client through the HTTP reader into
 * the control API. "@TOK@" in the input becomes a valid session token, so
 * the fuzzer reaches the authenticated routes too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control_harness.h"
#include "http/http_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every other request pauses the reader, as the server does when it owes
 * a client too much; the caller feeds the rest again. */
static void on_request(void *arg, struct http_request *req, bool keep_alive)
{
  (void)keep_alive;
  struct http_reader *r = arg;
  harness_handle(req);
  static unsigned n;
  if (n++ % 2)
    http_reader_pause(r);
}

/* Feeds like the server: what a pause leaves is fed again, until done. */
static int feed_all(struct http_reader *r, const char *data, size_t len)
{
  for (;;) {
    size_t used;
    int status = http_reader_feed(r, data, len, &used);
    if (status || used >= len || r->upgraded)
      return status;
    data += used, len -= used;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *token = harness_session();
  size_t tlen = strlen(token);
  char *buf = malloc(size * (tlen + 1) / 5 + size + 1);
  if (!buf)
    return 0;
  size_t n = 0;
  for (size_t i = 0; i < size;) {
    if (i + 5 <= size && !memcmp(data + i, "@TOK@", 5)) {
      memcpy(buf + n, token, tlen);
      n += tlen;
      i += 5;
    } else {
      buf[n++] = (char)data[i++];
    }
  }
  struct http_limits limits;
  http_limits_default(&limits);
  limits.max_body_bytes = 64 * 1024;
  struct http_reader r;
  http_reader_init(&r, &limits, NULL, on_request, &r);
  /* Feed in two pieces split where the input says, as TCP would. */
  size_t cut = size ? data[0] % (n + 1) : 0;
  if (feed_all(&r, buf, cut) == 0)
    feed_all(&r, buf + cut, n - cut);
  http_reader_free(&r);
  free(buf);
  return 0;
}
