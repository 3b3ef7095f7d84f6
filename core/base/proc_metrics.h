/* The process's own metrics, for the server's and the agent's /metrics:
 * the standard process_* families (open and maximum fds, resident memory,
 * start time, the names Prometheus's client libraries use, so existing
 * dashboards read them) and the event loop's lag, measured by a timer
 * that notes how late it fires. */
#ifndef WEFT_CORE_PROC_METRICS_H
#define WEFT_CORE_PROC_METRICS_H

#include <uv.h>

#include "base/prom.h"
#include "base/strbuf.h"

/* How often the loop's lag is measured. */
#define PROC_LAG_INTERVAL_MS 500

struct proc_metrics {
  uv_timer_t *timer; /* NULL: stopped */
  uint64_t due_ns;   /* when the next tick should come (uv_hrtime) */
  struct prom_histogram lag;
  double start_time; /* seconds since the epoch */
};

/* Starts the lag timer on loop (unreferenced: it keeps no loop alive). */
void proc_metrics_start(struct proc_metrics *pm, uv_loop_t *loop);
/* Closes the timer (its memory is freed by the loop). */
void proc_metrics_stop(struct proc_metrics *pm);
/* process_* and <prefix>_event_loop_lag_seconds. */
void proc_metrics_write(const struct proc_metrics *pm, const char *prefix,
                        struct strbuf *b);

#endif
