/* `weft tunnel --metrics-listen`: the agent's own /metrics (Prometheus
 * text) on the agent's loop, with the project's HTTP server: each
 * tunnel's state, reconnects, bytes to and from its local service, token
 * renewals and the time of its last error, and the process's fds,
 * memory and loop lag. */
#ifndef WEFT_AGENT_METRICS_H
#define WEFT_AGENT_METRICS_H

#include <stddef.h>
#include <uv.h>

#include "agent/agent.h"
#include "base/proc_metrics.h"
#include "http/http_server.h"

struct agent_metrics {
  struct agent *agent;
  struct http_server http;
  struct proc_metrics proc;
  bool listening;
};

/* Listens on `where`: PORT or HOST:PORT, HOST an IP address or
 * "localhost"; without a host, 127.0.0.1. A host that is not loopback is
 * taken as asked, with a warning (anyone who reaches it reads tunnel
 * ids, URLs and errors). Also hooks the agent's dials so that bytes to
 * each tunnel's local service are counted. 0, or -1 with err. */
int agent_metrics_start(struct agent_metrics *m, struct agent *a,
                        uv_loop_t *loop, const char *where, char *err,
                        size_t errlen);
/* Closes the listener and its connections (the loop frees them). */
void agent_metrics_stop(struct agent_metrics *m);

/* The text a scrape gets (exposed for tests). */
void agent_metrics_write(const struct agent_metrics *m, struct strbuf *b);

#endif
