#include "splice.h"

#include <assert.h>

struct splice;

struct end {
  struct splice *sp;
  struct end *other;
  struct weft_pipe *pipe; /* NULL once closed() was called */
};

struct splice {
  const struct weft_host *host;
  struct end a, b;
  int open_ends;
};

static size_t end_write(void *pctx, const void *data, size_t len)
{
  struct end *e = pctx;
  if (!e->other->pipe)
    return 0;
  return e->sp->host->pipe_send(e->other->pipe, data, len);
}

static void end_shutdown(void *pctx)
{
  struct end *e = pctx;
  if (e->other->pipe)
    e->sp->host->pipe_shutdown(e->other->pipe);
}

static void end_drained(void *pctx)
{
  struct end *e = pctx;
  if (e->other->pipe)
    e->sp->host->pipe_resume(e->other->pipe);
}

static void end_closed(void *pctx, int err)
{
  struct end *e = pctx;
  struct splice *sp = e->sp;
  /* Each end reports its close once, and the splice lives until both
   * have. */
  assert(e->pipe && sp->open_ends > 0);
  e->pipe = NULL;
  if (e->other->pipe)
    sp->host->pipe_close(e->other->pipe, err);
  if (--sp->open_ends == 0)
    sp->host->free(sp);
}

static const struct weft_pipe_ops end_ops = {
    .write = end_write,
    .shutdown = end_shutdown,
    .drained = end_drained,
    .closed = end_closed,
};

int splice_streams(const struct weft_host *host, struct weft_stream *a,
                   struct weft_stream *b)
{
  struct splice *sp = host->calloc(1, sizeof *sp);
  if (!sp) {
    host->stream_close(a);
    host->stream_close(b);
    return WEFT_ENOMEM;
  }
  sp->host = host;
  sp->a = (struct end){sp, &sp->b, NULL};
  sp->b = (struct end){sp, &sp->a, NULL};
  int rc = host->pipe_attach(host, a, &end_ops, &sp->a, &sp->a.pipe);
  if (rc != 0) {
    host->stream_close(a);
    host->stream_close(b);
    host->free(sp);
    return rc;
  }
  sp->open_ends = 1;
  rc = host->pipe_attach(host, b, &end_ops, &sp->b, &sp->b.pipe);
  if (rc != 0) {
    host->stream_close(b);
    host->pipe_close(sp->a.pipe, rc); /* end_closed frees sp, later */
    return rc;
  }
  sp->open_ends = 2;
  return 0;
}
