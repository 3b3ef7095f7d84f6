/* The OpenTelemetry exporter: OTLP over HTTP with JSON, posted with
 * libcurl's multi interface on the loop (never blocking it).
 *
 * - Events (the tunnel lifecycle: logins, creates, sessions up and down,
 *   ends with their reason; what the audit trail records) are OTLP log
 *   records, queued (at most OTLP_QUEUE_MAX; more are dropped and
 *   counted) and posted in batches every second, one post at a time.
 * - Metrics are the same set /metrics serves: every interval the owner's
 *   callback renders its Prometheus text, which prom_text.c turns into
 *   OTLP metrics.
 * - A collector that is down or slow loses what was in the failed post,
 *   counted, with a log line at most once a minute; the process runs on. */
#ifndef WEFT_TELEMETRY_OTLP_H
#define WEFT_TELEMETRY_OTLP_H

#include <stdint.h>
#include <uv.h>

#include "base/strbuf.h"
#include "telemetry/otlp_conf.h"

#define OTLP_QUEUE_MAX 1024
#define OTLP_BATCH_MAX 256

struct otlp;

/* Appends the Prometheus text of the metrics to out. */
typedef void (*otlp_metrics_fn)(void *arg, struct strbuf *out);

struct otlp_stats {
  uint64_t events_sent, events_dropped;
  uint64_t metric_posts, posts_failed;
};

/* Starts exporting per conf (conf->enabled). role: "server" or "agent",
 * a resource attribute (weft.role). metrics may be NULL. NULL when
 * libcurl cannot start. */
struct otlp *otlp_start(uv_loop_t *loop, const struct otlp_conf *conf,
                        const char *role, otlp_metrics_fn metrics,
                        void *arg);

/* Queues one event: name (the audit's event, e.g. "created"), severity
 * "INFO" or "WARN", and the attributes given (NULL or "" are left out). */
void otlp_event(struct otlp *o, const char *name, const char *severity,
                const char *device_id, const char *tunnel_id,
                const char *actor, const char *detail);

const struct otlp_stats *otlp_stats(const struct otlp *o);

/* Stops: what is queued, and the metrics as they stand, are posted once
 * more if the loop runs on (bounded by the timeout), then everything is
 * freed. */
void otlp_stop(struct otlp *o);

#endif
