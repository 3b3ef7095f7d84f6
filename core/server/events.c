#include "server/events.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/crypto.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "net/stream.h"

struct event_sub {
  struct events *ev;
  struct weft_stream *conn; /* NULL once closing */
  struct events_who who;
  struct event_sub *prev, *next;
};

/* No Content-Length: the stream ends when the connection does. */
static const char head[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/event-stream\r\n"
    "Cache-Control: no-store\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "X-Accel-Buffering: no\r\n"
    "Connection: close\r\n"
    "\r\n"
    "retry: 2000\n"
    "event: ready\n"
    "data: {}\n\n";

static const char keepalive[] = ": keepalive\n\n";

static void tick(uv_timer_t *t);

static void sub_close(struct event_sub *sub)
{
  if (!sub->conn)
    return;
  struct weft_stream *conn = sub->conn;
  sub->conn = NULL;
  assert(sub->ev->live > 0);
  sub->ev->live--;
  if (sub->ev->live == 0 && sub->ev->ticking) {
    uv_timer_stop(&sub->ev->tick);
    sub->ev->ticking = false;
  }
  stream_close(conn); /* on_closed frees sub */
}

/* What it is owed is bounded: past EVENTS_QUEUE_MAX it is cut off. */
static void sub_send(struct event_sub *sub, const char *data, size_t len)
{
  if (!sub->conn)
    return;
  size_t owed = stream_write(sub->conn, data, len);
  if (owed > EVENTS_QUEUE_MAX) {
    static struct log_limit limit = {.window_ms = 10000};
    unsigned missed;
    if (log_limited(&limit, uv_now(sub->ev->loop), &missed))
      log_warn("event stream of %s cut off: it read nothing while %zu "
               "bytes waited (and %u more cut off in the last 10 s)",
               sub->who.user, owed, missed);
    sub->ev->cut_off++;
    sub_close(sub);
  }
}

static void sub_read(void *ctx, const void *data, size_t len)
{
  (void)ctx, (void)data, (void)len; /* a subscriber has nothing to say */
}

static void sub_eof(void *ctx) { sub_close(ctx); }

static void sub_closed(void *ctx, int err)
{
  (void)err;
  struct event_sub *sub = ctx;
  struct events *ev = sub->ev;
  if (sub->conn) { /* closed by the peer or the network, not by us */
    sub->conn = NULL;
    assert(ev->live > 0);
    ev->live--;
    if (ev->live == 0 && ev->ticking) {
      uv_timer_stop(&ev->tick);
      ev->ticking = false;
    }
  }
  if (sub->prev)
    sub->prev->next = sub->next;
  else
    ev->subs = sub->next;
  if (sub->next)
    sub->next->prev = sub->prev;
  crypto_wipe(sub, sizeof *sub); /* a session id is a secret */
  free(sub);
}

static const struct weft_stream_cbs sub_cbs = {
    .on_read = sub_read,
    .on_eof = sub_eof,
    .on_closed = sub_closed,
};

void events_init(struct events *ev, uv_loop_t *loop,
                 bool (*may_stay)(void *arg, const struct events_who *who),
                 void (*on_tick)(void *arg), void *arg)
{
  memset(ev, 0, sizeof *ev);
  ev->loop = loop;
  ev->may_stay = may_stay;
  ev->on_tick = on_tick;
  ev->arg = arg;
  uv_timer_init(loop, &ev->tick);
  ev->tick.data = ev;
}

int events_admit(const struct events *ev, const char *user)
{
  if (!ev->loop || ev->closed || ev->live >= EVENTS_SUBSCRIBERS_MAX)
    return 503;
  unsigned mine = 0;
  for (const struct event_sub *s = ev->subs; s; s = s->next)
    mine += s->conn && !strcmp(s->who.user, user);
  return mine >= EVENTS_PER_USER_MAX ? 429 : 0;
}

void events_subscribe(struct events *ev, struct weft_stream *conn,
                      const struct events_who *who)
{
  struct event_sub *sub = calloc(1, sizeof *sub);
  /* (admitted just before, on the same turn of the loop) */
  assert(events_admit(ev, who->user) == 0);
  if (!sub) {
    static const char refusal[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n";
    stream_end(conn, refusal, sizeof refusal - 1);
    return;
  }
  sub->ev = ev;
  sub->conn = conn;
  sub->who = *who;
  sub->next = ev->subs;
  if (sub->next)
    sub->next->prev = sub;
  ev->subs = sub;
  ev->live++;
  /* The kernel's share of what a stalled reader holds is bounded too:
   * (Linux doubles it) 64 KiB beside EVENTS_QUEUE_MAX of ours. */
  stream_set_send_buffer(conn, 32 * 1024);
  stream_start(conn, &sub_cbs, sub);
  if (!ev->ticking) {
    uv_timer_start(&ev->tick, tick, EVENTS_TICK_MS, EVENTS_TICK_MS);
    ev->ticking = true;
  }
  sub_send(sub, head, sizeof head - 1);
}

void events_publish(struct events *ev, const char *kind, const char *data)
{
  if (!ev->live)
    return;
  /* One line of JSON: a newline would end the event's data early. */
  assert(!strchr(data, '\n') && !strchr(kind, '\n'));
  struct strbuf msg = {0};
  strbuf_addf(&msg, "event: %s\ndata: %s\n\n", kind, data);
  if (msg.oom) {
    strbuf_free(&msg);
    return;
  }
  ev->sent++;
  for (struct event_sub *s = ev->subs, *next; s; s = next) {
    next = s->next; /* (a cut-off stays listed until its stream closes) */
    sub_send(s, msg.data, msg.len);
  }
  strbuf_free(&msg);
}

void events_recheck(struct events *ev)
{
  for (struct event_sub *s = ev->subs; s; s = s->next)
    if (s->conn && !s->who.local && ev->may_stay &&
        !ev->may_stay(ev->arg, &s->who)) {
      log_info("event stream of %s ended: its session ended", s->who.user);
      sub_close(s);
    }
}

static void tick(uv_timer_t *t)
{
  struct events *ev = t->data;
  if (ev->on_tick)
    ev->on_tick(ev->arg);
  if (++ev->ticks % (EVENTS_KEEPALIVE_MS / EVENTS_TICK_MS))
    return;
  events_recheck(ev);
  for (struct event_sub *s = ev->subs; s; s = s->next)
    sub_send(s, keepalive, sizeof keepalive - 1);
}

unsigned events_count(const struct events *ev) { return ev->live; }

void events_close(struct events *ev)
{
  if (!ev->loop || ev->closed)
    return;
  ev->closed = true;
  for (struct event_sub *s = ev->subs; s; s = s->next)
    sub_close(s);
  if (!uv_is_closing((uv_handle_t *)&ev->tick))
    uv_close((uv_handle_t *)&ev->tick, NULL);
}
