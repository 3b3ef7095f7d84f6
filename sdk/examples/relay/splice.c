/* Two pipes, each the other's far end (see splice.h). */
#include "splice.h"

#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "wire.h"

struct side {
  struct splice *sp;
  struct weft_stream *stream; /* until attached */
  struct weft_pipe *pipe;     /* once attached, until closed() */
  bool closed;                /* closed() came, or closed unattached */
};

struct splice {
  struct relay *r;
  const void *owner;
  struct splice *prev, *next; /* r->splices */
  struct side near, far;
  bool expect_101;            /* far's answer has not come yet */
  struct wire_head head;
};

static struct side *other(struct side *s)
{
  return s == &s->sp->near ? &s->sp->far : &s->sp->near;
}

static void maybe_free(struct splice *sp)
{
  if (!sp->near.closed || !sp->far.closed)
    return;
  struct relay *r = sp->r;
  if (sp->prev)
    sp->prev->next = sp->next;
  else
    r->splices = sp->next;
  if (sp->next)
    sp->next->prev = sp->prev;
  r->host->free(sp);
  relay_unref(r);
}

/* Ends one side now. A pipe says closed() later, from the loop; a stream
 * never attached has no callbacks, so it is over at once. */
static void end_side(struct side *s, int err)
{
  const struct weft_host *h = s->sp->r->host;
  if (s->closed)
    return;
  if (s->pipe) {
    h->pipe_close(s->pipe, err);
  } else {
    h->stream_close(s->stream);
    s->closed = true;
  }
}

static void end_both(struct splice *sp, int err)
{
  end_side(&sp->near, err);
  end_side(&sp->far, err);
  maybe_free(sp);
}

static const struct weft_pipe_ops side_ops;

static int attach(struct side *s)
{
  const struct weft_host *h = s->sp->r->host;
  int rc = h->pipe_attach(h, s->stream, &side_ops, s, &s->pipe);
  if (rc == 0)
    s->stream = NULL; /* the pipe owns it now */
  return rc;
}

/* far's first bytes, while near waits: the server's answer. Returns how
 * many bytes the answer took, or -1 once the splice is ending. */
static ptrdiff_t take_answer(struct splice *sp, const void *data, size_t len)
{
  size_t used = 0;
  int rc = wire_head_feed(&sp->head, data, len, &used);
  if (rc == WIRE_MORE)
    return (ptrdiff_t)used;
  sp->expect_101 = false;
  if (rc == WIRE_REFUSED || attach(&sp->near) != 0) {
    sp->r->host->log(sp->r->host, WEFT_LOG_WARN,
                     "the server refused a data connection");
    end_both(sp, WEFT_EPROTO);
    return -1;
  }
  return (ptrdiff_t)used;
}

/* Bytes one side's socket read: the other side's socket writes them. The
 * other side's write backlog is ours to report: above WEFT_PIPE_HIGH_WATER
 * the core stops reading this side until drained() resumes it. */
static size_t side_write(void *pctx, const void *data, size_t len)
{
  struct side *s = pctx;
  struct splice *sp = s->sp;
  const struct weft_host *h = sp->r->host;
  if (s == &sp->far && sp->expect_101) {
    ptrdiff_t used = take_answer(sp, data, len);
    if (used < 0)
      return 0;
    data = (const char *)data + used;
    len -= (size_t)used;
    if (len == 0)
      return 0;
  }
  struct side *peer = other(s);
  if (peer->closed)
    return 0; /* it ended with an error: this side is closing too */
  assert(s == &sp->far || peer->pipe); /* near is attached after far */
  if (!peer->pipe) {
    /* Only far reads before near is attached, and the protocol has the
     * device wait for the 101: a peer that did not is broken. */
    end_both(sp, WEFT_EPROTO);
    return 0;
  }
  return h->pipe_send(peer->pipe, data, len);
}

static void side_shutdown(void *pctx)
{
  struct side *s = pctx;
  struct side *peer = other(s);
  if (peer->closed)
    return;
  if (!peer->pipe) {
    end_both(s->sp, WEFT_EPROTO); /* far ended before it answered */
    return;
  }
  s->sp->r->host->pipe_shutdown(peer->pipe);
}

/* This side's socket took its backlog down: read the other side again. */
static void side_drained(void *pctx)
{
  struct side *s = pctx;
  struct side *peer = other(s);
  if (peer->pipe && !peer->closed)
    s->sp->r->host->pipe_resume(peer->pipe);
}

static void side_closed(void *pctx, int err)
{
  struct side *s = pctx;
  struct splice *sp = s->sp;
  s->closed = true;
  s->pipe = NULL;
  /* A clean end (err 0) means both directions finished, so the other side
   * has its FIN and ends once its last bytes are written: closing it now
   * would drop them. Anything else ends it now. */
  struct side *peer = other(s);
  if (err != 0 || !peer->pipe)
    end_side(peer, err ? err : WEFT_EPROTO);
  maybe_free(sp);
}

static const struct weft_pipe_ops side_ops = {
    .write = side_write,
    .shutdown = side_shutdown,
    .drained = side_drained,
    .closed = side_closed,
};

int relay_splice(struct relay *r, const void *owner, struct weft_stream *near,
                 struct weft_stream *far, const char *hello, bool expect_101)
{
  const struct weft_host *h = r->host;
  struct splice *sp = h->calloc(1, sizeof *sp);
  if (!sp) {
    h->stream_close(near);
    h->stream_close(far);
    return WEFT_ENOMEM;
  }
  relay_ref(r);
  sp->r = r;
  sp->owner = owner;
  sp->next = r->splices;
  if (sp->next)
    sp->next->prev = sp;
  r->splices = sp;
  sp->near = (struct side){.sp = sp, .stream = near};
  sp->far = (struct side){.sp = sp, .stream = far};
  sp->expect_101 = expect_101;
  int rc = attach(&sp->far);
  if (rc != 0) {
    end_both(sp, rc);
    return rc;
  }
  h->pipe_send(sp->far.pipe, hello, strlen(hello));
  /* near may have ended already: attaching far handed on what the peer
   * had sent early, and that ends the splice (side_write). */
  if (!expect_101 && !sp->near.closed) {
    rc = attach(&sp->near);
    if (rc != 0)
      end_both(sp, rc);
  }
  return rc;
}

size_t relay_splice_count(const struct relay *r)
{
  size_t n = 0;
  for (const struct splice *sp = r->splices; sp; sp = sp->next)
    n++;
  return n;
}

void relay_splice_close_all(struct relay *r, const void *owner)
{
  for (struct splice *sp = r->splices, *next; sp; sp = next) {
    next = sp->next; /* end_both may free sp (never another splice) */
    if (sp->owner == owner)
      end_both(sp, WEFT_ECANCELED);
  }
}
