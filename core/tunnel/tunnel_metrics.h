/* The tunnels' part of /metrics: per tunnel and per device series, with
 * bounded label sets. Counting happens where the events are (the public
 * ports add bytes to their tunnel, the HTTP port its answers); the labels
 * are written only when scraped.
 *
 * The cap ([server] metrics_max_series): at most that many live tunnels
 * have their own series, and at most that many devices (since the server
 * started); the rest are summed into tunnel="(other)" and
 * device="(other)". A tunnel's own series go when it ends; what it carried
 * stays in its device's counters, which never go down. */
#ifndef WEFT_CORE_TUNNEL_METRICS_H
#define WEFT_CORE_TUNNEL_METRICS_H

#include <stddef.h>

#include "base/strbuf.h"
#include "tunnel/tunnel_types.h"

void tunnel_metrics_init(struct tunnel_metrics *m, size_t cap);
void tunnel_metrics_free(struct tunnel_metrics *m);

/* A tunnel goes live: it gets its series (or the shared ones). */
void tunnel_metrics_attach(struct tunnel_metrics *m, struct tunnel *t);
/* A live tunnel goes: what it carried moves to its device's totals. */
void tunnel_metrics_detach(struct tunnel_metrics *m, struct tunnel *t);

/* What ended a tunnel, from its audit event ("deleted", "expired"...). */
enum tunnel_end tunnel_end_of(const char *event);

/* A transport's session event for a tunnel: "session-up", "session-down"
 * or "session-cut-off" (others are ignored). */
void tunnel_metrics_session(struct tunnel *t, const char *event);

/* A visitor got an answer with this status, `seconds` after its request
 * head was complete (< 0: not known). */
static inline void tunnel_metrics_http(struct tunnel *t, int status,
                                       double seconds)
{
  if (status >= 100 && status < 600)
    t->http[status / 100 - 1]++;
  if (seconds >= 0)
    prom_observe(&t->http_latency, seconds);
}

/* Every tunnel and device family, as Prometheus text. */
void tunnel_metrics_write(const struct tunnel_service *svc, struct strbuf *b);

#endif
