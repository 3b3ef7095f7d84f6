#include "fake_host.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void fh_log(const struct weft_host *h, enum weft_log_level l,
                   const char *fmt, ...)
{
  (void)h, (void)l, (void)fmt;
}
static void *fh_alloc(size_t n) { return malloc(n); }
static void *fh_calloc(size_t n, size_t m) { return calloc(n, m); }
static void *fh_realloc(void *p, size_t n) { return realloc(p, n); }
static void fh_free(void *p) { free(p); }

struct weft_timer {
  int unused;
};
static int fh_timer_start(const struct weft_host *h, uint64_t t, uint64_t r,
                          weft_timer_cb cb, void *arg, struct weft_timer **out)
{
  (void)h, (void)t, (void)r, (void)cb, (void)arg;
  *out = calloc(1, sizeof **out);
  return *out ? 0 : WEFT_ENOMEM;
}
static void fh_timer_stop(struct weft_timer *t) { free(t); }
static uint64_t fh_now(const struct weft_host *h)
{
  (void)h;
  return 1000;
}

static int fh_stream_start(struct weft_stream *s,
                           const struct weft_stream_cbs *cbs, void *ctx)
{
  struct fake_stream *f = (struct fake_stream *)s;
  f->cbs = cbs;
  f->ctx = ctx;
  return 0;
}
static size_t fh_stream_write(struct weft_stream *s, const void *d, size_t n)
{
  struct fake_stream *f = (struct fake_stream *)s;
  if (f->out && f->written + n <= f->out_cap)
    memcpy(f->out + f->written, d, n);
  f->written += n;
  return 0; /* an instantly draining socket */
}
static void fh_stream_pause(struct weft_stream *s, bool p) { (void)s, (void)p; }
static void fh_stream_shutdown(struct weft_stream *s) { (void)s; }
static void fh_stream_close(struct weft_stream *s)
{
  ((struct fake_stream *)s)->closed = true;
}
static int fh_stream_info(struct weft_stream *s, struct weft_stream_info *o)
{
  (void)s;
  memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  strcpy(o->peer_ip, "192.0.2.1");
  return 0;
}

void fake_stream_feed(struct fake_stream *s, const void *data, size_t len)
{
  if (!s->closed && s->cbs)
    s->cbs->on_read(s->ctx, data, len);
}

void fake_stream_finish(struct fake_stream *s)
{
  if (s->cbs && s->cbs->on_closed)
    s->cbs->on_closed(s->ctx, s->closed ? WEFT_ECANCELED : 0);
}

const struct weft_host *fake_host(void)
{
  static struct weft_host h;
  h.abi_major = WEFT_ABI_MAJOR;
  h.abi_minor = WEFT_ABI_MINOR;
  h.struct_size = sizeof h;
  h.plugin_name = "fuzz";
  h.log = fh_log;
  h.alloc = fh_alloc;
  h.calloc = fh_calloc;
  h.realloc = fh_realloc;
  h.free = fh_free;
  h.timer_start = fh_timer_start;
  h.timer_stop = fh_timer_stop;
  h.now_ms = fh_now;
  h.stream_start = fh_stream_start;
  h.stream_write = fh_stream_write;
  h.stream_pause = fh_stream_pause;
  h.stream_shutdown = fh_stream_shutdown;
  h.stream_close = fh_stream_close;
  h.stream_info = fh_stream_info;
  return &h;
}
