/* A host table with in-memory streams and inert timers, so plugin code can
 * be fuzzed (and unit-tested) without sockets or a loop. */
#ifndef WEFT_FUZZ_FAKE_HOST_H
#define WEFT_FUZZ_FAKE_HOST_H

#include <weft/weft.h>

struct fake_stream {
  const struct weft_stream_cbs *cbs;
  void *ctx;
  size_t written;
  bool closed;
  /* Optional: what was written is kept here, up to cap bytes. */
  unsigned char *out;
  size_t out_cap;
};

const struct weft_host *fake_host(void);
/* Delivers what a stream's peer sent; then, if the plugin closed it, the
 * closed callback (as the loop would). */
void fake_stream_feed(struct fake_stream *s, const void *data, size_t len);
void fake_stream_finish(struct fake_stream *s);

#endif
