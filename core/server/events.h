/* The server's event stream (GET /v1/events, text/event-stream): who
 * subscribed, and what each is sent. Publishers hand it one event (a kind
 * and a small JSON object); every subscriber gets it. What makes an event
 * (the audit trail's tap) and who may subscribe is the control API's
 * (api_events.c); this file keeps the subscribers within their bounds:
 *
 *  - a subscriber that does not read is cut off (closed) once what it is
 *    owed passes EVENTS_QUEUE_MAX bytes, so memory stays bounded;
 *  - at most EVENTS_SUBSCRIBERS_MAX in all, EVENTS_PER_USER_MAX per user;
 *  - a comment line every EVENTS_KEEPALIVE_MS keeps proxies from closing
 *    a quiet stream, and then the owner is asked which subscribers may
 *    stay (a console session that ended, a user removed or rekeyed);
 *  - events_close ends them all at once, at the server's stop.
 *
 * No replay: a client that reconnects reloads what it shows. */
#ifndef WEFT_SERVER_EVENTS_H
#define WEFT_SERVER_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define EVENTS_SUBSCRIBERS_MAX 64
#define EVENTS_PER_USER_MAX 8
#define EVENTS_QUEUE_MAX (256 * 1024)
#define EVENTS_KEEPALIVE_MS 15000
#define EVENTS_TICK_MS 1000 /* the owner's on_tick, while anyone follows */

struct weft_stream;

/* What a subscriber showed to get in: stays while its owner says so. */
struct events_who {
  char user[64];     /* the user's name ("root" over the local socket) */
  char key_id[17];   /* the API key it used, or its console session's */
  char session[48];  /* its console session's id, or "" */
  bool local;        /* over the server's own socket: never ends */
};

struct event_sub;

struct events {
  uv_loop_t *loop;
  uv_timer_t tick;
  bool ticking, closed;
  struct event_sub *subs;
  unsigned live; /* subscribers not yet closing */
  /* Every tick (and on events_recheck): may this subscriber stay? */
  bool (*may_stay)(void *arg, const struct events_who *who);
  /* Every EVENTS_TICK_MS while anyone follows: the owner's chance to
   * send what changes with time alone (traffic, approvals that expire). */
  void (*on_tick)(void *arg);
  unsigned ticks;
  void *arg;
  uint64_t sent, cut_off, refused;
};

void events_init(struct events *ev, uv_loop_t *loop,
                 bool (*may_stay)(void *arg, const struct events_who *who),
                 void (*on_tick)(void *arg), void *arg);

/* May one more subscriber of user come in? 0, or the HTTP status to
 * refuse it with: 429 (that user has EVENTS_PER_USER_MAX), 503 (the
 * server has EVENTS_SUBSCRIBERS_MAX, or is stopping). */
int events_admit(const struct events *ev, const char *user);

/* Takes a connection whose request was admitted: answers 200 with the
 * stream's head and a first "ready" event, and owns it from then on. */
void events_subscribe(struct events *ev, struct weft_stream *conn,
                      const struct events_who *who);

/* Sends "event: kind" with data (one line of JSON) to every subscriber. */
void events_publish(struct events *ev, const char *kind, const char *data);

/* Ends the subscribers the owner no longer lets stay (may_stay), now:
 * after a sign-out, a user's removal or new key. */
void events_recheck(struct events *ev);

/* Subscribers now (not closing). */
unsigned events_count(const struct events *ev);

/* Ends every subscriber and the tick, at once; nothing is sent after.
 * The memory goes as the streams close (the loop's last run). */
void events_close(struct events *ev);

#endif
