#include "telemetry/otlp.h"

#include <assert.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "net/curl_loop.h"
#include "telemetry/prom_text.h"
#include "version.h"

#define FLUSH_MS 1000
#define FAIL_LOG_MS 60000

/* One signal's post: its handle, body and answer, one at a time. */
struct post {
  struct otlp *o;
  CURL *easy;
  const char *url;
  char *body;
  size_t batch; /* events in it (logs) */
  bool busy;
  char error[CURL_ERROR_SIZE];
};

struct otlp {
  struct otlp_conf conf;
  struct curl_loop *cl;
  struct curl_slist *headers;
  json_t *resource; /* {"attributes": [...]} */
  uv_timer_t flush, metrics_timer;
  int open_timers;
  otlp_metrics_fn metrics;
  void *arg;
  json_t *queue; /* log records waiting */
  struct post logs, metric;
  struct otlp_stats stats;
  struct log_limit fail_log;
  uint64_t start_ns;
  bool stopping;
};

static uint64_t now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static json_t *u64_text(uint64_t v)
{
  char t[24];
  snprintf(t, sizeof t, "%llu", (unsigned long long)v);
  return json_string(t);
}

static void free_if_done(struct otlp *o);

static void failed(struct otlp *o, const char *what, const char *why)
{
  o->stats.posts_failed++;
  unsigned missed;
  if (log_limited(&o->fail_log, uv_now(curl_loop_uv(o->cl)), &missed))
    log_warn("OpenTelemetry: %s could not be sent: %s (%llu posts failed "
             "so far; %llu events dropped; the next such line in a minute)",
             what, why, (unsigned long long)o->stats.posts_failed,
             (unsigned long long)o->stats.events_dropped);
}

static void start_logs(struct otlp *o);

static void post_done(void *arg, CURL *easy, CURLcode rc)
{
  struct post *p = arg;
  struct otlp *o = p->o;
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  bool ok = rc == CURLE_OK && status >= 200 && status < 300;
  bool logs = p == &o->logs;
  if (ok && logs)
    o->stats.events_sent += p->batch;
  else if (ok)
    o->stats.metric_posts++;
  else {
    char why[CURL_ERROR_SIZE + 64];
    if (rc != CURLE_OK)
      snprintf(why, sizeof why, "%s", p->error[0] ? p->error
                                                  : curl_easy_strerror(rc));
    else
      snprintf(why, sizeof why, "the collector answered %ld", status);
    if (logs)
      o->stats.events_dropped += p->batch;
    failed(o, logs ? "events" : "metrics", why);
  }
  free(p->body);
  p->body = NULL;
  p->batch = 0;
  p->busy = false;
  if (logs && json_array_size(o->queue) >= OTLP_BATCH_MAX)
    start_logs(o); /* a full batch waits: no need to wait for the timer */
  free_if_done(o);
}

static size_t discard(char *data, size_t size, size_t n, void *arg)
{
  (void)data, (void)arg;
  return size * n;
}

/* Posts body (taken) to p's URL. */
static void post(struct otlp *o, struct post *p, char *body, size_t batch)
{
  assert(!p->busy);
  p->body = body;
  p->batch = batch;
  p->error[0] = '\0';
  curl_easy_setopt(p->easy, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(p->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
  if (curl_loop_add(o->cl, p->easy, post_done, p) != 0) {
    free(body);
    p->body = NULL;
    if (p == &o->logs)
      o->stats.events_dropped += batch;
    failed(o, p == &o->logs ? "events" : "metrics", "libcurl refused it");
    return;
  }
  p->busy = true;
}

static char *request(struct otlp *o, const char *outer, const char *inner,
                     const char *list_key, json_t *list)
{
  json_t *doc = json_pack("{s:[{s:O,s:[{s:{s:s,s:s},s:o}]}]}", outer,
                          "resource", o->resource, inner, "scope", "name",
                          "weft", "version", WEFT_VERSION, list_key, list);
  char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  json_decref(doc);
  return text;
}

/* Up to OTLP_BATCH_MAX queued records in one ExportLogsServiceRequest. */
static void start_logs(struct otlp *o)
{
  size_t n = json_array_size(o->queue);
  if (o->logs.busy || n == 0 || !o->conf.logs_url[0])
    return;
  size_t take = n < OTLP_BATCH_MAX ? n : OTLP_BATCH_MAX;
  /* The whole queue goes when it fits; else the rest stays, moved once
   * (removing from the front one by one moves it take times). */
  json_t *batch = o->queue;
  o->queue = json_array();
  if (take < n) {
    for (size_t i = take; i < n; i++)
      json_array_append(o->queue, json_array_get(batch, i));
    for (size_t i = n; i-- > take;)
      json_array_remove(batch, i); /* from the end: nothing moves */
  }
  char *body = request(o, "resourceLogs", "scopeLogs", "logRecords", batch);
  if (!body) {
    o->stats.events_dropped += take;
    return;
  }
  post(o, &o->logs, body, take);
}

static void on_flush(uv_timer_t *t)
{
  start_logs(t->data);
}

static void on_metrics(uv_timer_t *t)
{
  struct otlp *o = t->data;
  if (o->metric.busy || !o->metrics || !o->conf.metrics_url[0])
    return; /* the last one is still on its way: skip this one */
  struct strbuf text = {0};
  o->metrics(o->arg, &text);
  size_t skipped = 0;
  json_t *metrics = prom_text_to_otlp(strbuf_str(&text), text.len,
                                      o->start_ns, now_ns(), &skipped);
  strbuf_free(&text);
  if (skipped) /* our own text: a line it cannot read is a bug to see */
    log_debug("OpenTelemetry: %zu line(s) of the metrics did not read",
              skipped);
  char *body = metrics ? request(o, "resourceMetrics", "scopeMetrics",
                                 "metrics", metrics)
                       : NULL;
  if (body)
    post(o, &o->metric, body, 0);
}

void otlp_event(struct otlp *o, const char *name, const char *severity,
                const char *device_id, const char *tunnel_id,
                const char *actor, const char *detail)
{
  if (!o || o->stopping)
    return;
  if (json_array_size(o->queue) >= OTLP_QUEUE_MAX) {
    o->stats.events_dropped++;
    return;
  }
  json_t *attrs = json_array();
  const char *keys[] = {"weft.event", "weft.device_id", "weft.tunnel_id",
                        "weft.actor"};
  const char *values[] = {name, device_id, tunnel_id, actor};
  for (size_t i = 0; i < 4; i++)
    if (values[i] && values[i][0])
      json_array_append_new(attrs,
                            json_pack("{s:s,s:{s:s}}", "key", keys[i],
                                      "value", "stringValue", values[i]));
  uint64_t t = now_ns();
  bool warn = !strcmp(severity, "WARN");
  char body[1200];
  snprintf(body, sizeof body, "%s%s%s", name, detail && *detail ? ": " : "",
           detail ? detail : "");
  json_t *rec = json_pack(
      "{s:o,s:o,s:i,s:s,s:{s:s%},s:o}", "timeUnixNano", u64_text(t),
      "observedTimeUnixNano", u64_text(t), "severityNumber", warn ? 13 : 9,
      "severityText", severity, "body", "stringValue", body, strlen(body),
      "attributes", attrs);
  if (!rec) { /* a detail that is not UTF-8 */
    o->stats.events_dropped++;
    return;
  }
  json_array_append_new(o->queue, rec);
  if (json_array_size(o->queue) >= OTLP_BATCH_MAX)
    start_logs(o);
}

static int setup_post(struct otlp *o, struct post *p, const char *url)
{
  p->o = o;
  p->url = url;
  p->easy = curl_easy_init();
  if (!p->easy)
    return -1;
  curl_easy_setopt(p->easy, CURLOPT_URL, url);
  curl_easy_setopt(p->easy, CURLOPT_HTTPHEADER, o->headers);
  curl_easy_setopt(p->easy, CURLOPT_TIMEOUT_MS, (long)o->conf.timeout_ms);
  curl_easy_setopt(p->easy, CURLOPT_CONNECTTIMEOUT_MS,
                   (long)o->conf.timeout_ms);
  curl_easy_setopt(p->easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(p->easy, CURLOPT_ERRORBUFFER, p->error);
  curl_easy_setopt(p->easy, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(p->easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(p->easy, CURLOPT_MAXFILESIZE, 1L << 20);
  return 0;
}

struct otlp *otlp_start(uv_loop_t *loop, const struct otlp_conf *conf,
                        const char *role, otlp_metrics_fn metrics, void *arg)
{
  assert(conf->enabled);
  struct otlp *o = calloc(1, sizeof *o);
  if (!o)
    return NULL;
  o->conf = *conf;
  o->metrics = metrics;
  o->arg = arg;
  o->start_ns = now_ns();
  o->fail_log.window_ms = FAIL_LOG_MS;
  o->queue = json_array();
  o->headers = curl_slist_append(NULL, "Content-Type: application/json");
  for (size_t i = 0; i < conf->header_count; i++) {
    char line[700];
    snprintf(line, sizeof line, "%s: %s", conf->headers[i].key,
             conf->headers[i].value);
    o->headers = curl_slist_append(o->headers, line);
  }
  json_t *attrs = json_array();
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  for (size_t i = 0; i < conf->resource_count; i++)
    json_array_append_new(
        attrs, json_pack("{s:s,s:{s:s}}", "key", conf->resource[i].key,
                         "value", "stringValue", conf->resource[i].value));
  json_array_append_new(attrs, json_pack("{s:s,s:{s:s}}", "key",
                                         "service.version", "value",
                                         "stringValue", WEFT_VERSION));
  json_array_append_new(attrs, json_pack("{s:s,s:{s:s}}", "key",
                                         "weft.role", "value", "stringValue",
                                         role));
  if (host[0])
    json_array_append_new(attrs, json_pack("{s:s,s:{s:s}}", "key",
                                           "host.name", "value",
                                           "stringValue", host));
  o->resource = json_pack("{s:o}", "attributes", attrs);
  o->cl = curl_loop_new(loop);
  if (!o->cl || !o->queue || !o->headers || !o->resource ||
      setup_post(o, &o->logs, o->conf.logs_url) != 0 ||
      setup_post(o, &o->metric, o->conf.metrics_url) != 0) {
    if (o->cl)
      curl_loop_close(o->cl);
    curl_easy_cleanup(o->logs.easy);
    curl_easy_cleanup(o->metric.easy);
    curl_slist_free_all(o->headers);
    json_decref(o->queue);
    json_decref(o->resource);
    free(o);
    return NULL;
  }
  uv_timer_init(loop, &o->flush);
  uv_timer_init(loop, &o->metrics_timer);
  o->flush.data = o->metrics_timer.data = o;
  o->open_timers = 2;
  uv_timer_start(&o->flush, on_flush, FLUSH_MS, FLUSH_MS);
  if (metrics)
    uv_timer_start(&o->metrics_timer, on_metrics,
                   (uint64_t)o->conf.interval_ms,
                   (uint64_t)o->conf.interval_ms);
  log_info("OpenTelemetry: events to %s, metrics every %lld ms to %s",
           o->conf.logs_url[0] ? o->conf.logs_url : "(none)",
           (long long)o->conf.interval_ms,
           o->conf.metrics_url[0] ? o->conf.metrics_url : "(none)");
  return o;
}

const struct otlp_stats *otlp_stats(const struct otlp *o)
{
  return &o->stats;
}

static void timer_closed(uv_handle_t *h)
{
  struct otlp *o = h->data;
  o->open_timers--;
  free_if_done(o);
}

/* Once stopping and no post is on its way: everything goes. */
static void free_if_done(struct otlp *o)
{
  if (!o->stopping || o->logs.busy || o->metric.busy)
    return;
  if (!uv_is_closing((uv_handle_t *)&o->flush)) {
    uv_close((uv_handle_t *)&o->flush, timer_closed);
    uv_close((uv_handle_t *)&o->metrics_timer, timer_closed);
  }
  if (o->open_timers > 0)
    return;
  if (o->cl) {
    curl_loop_close(o->cl);
    o->cl = NULL;
  }
  curl_easy_cleanup(o->logs.easy);
  curl_easy_cleanup(o->metric.easy);
  curl_slist_free_all(o->headers);
  o->stats.events_dropped += json_array_size(o->queue);
  json_decref(o->queue);
  json_decref(o->resource);
  free(o);
}

void otlp_stop(struct otlp *o)
{
  if (!o || o->stopping)
    return;
  uv_timer_stop(&o->flush);
  uv_timer_stop(&o->metrics_timer);
  start_logs(o); /* the last events (server-stopped), if none is on its way */
  on_metrics(&o->metrics_timer); /* and the last figures: a short run's too */
  o->stopping = true;
  free_if_done(o);
}
