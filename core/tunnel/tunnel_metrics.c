#include "tunnel/tunnel_metrics.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

void tunnel_metrics_init(struct tunnel_metrics *m, size_t cap)
{
  memset(m, 0, sizeof *m);
  m->cap = cap;
  str_index_init(&m->by_device);
  m->other_device.id = PROM_OTHER;
}

void tunnel_metrics_free(struct tunnel_metrics *m)
{
  for (size_t i = 0; i < m->device_count; i++) {
    free(m->devices[i]->id);
    free(m->devices[i]);
  }
  free(m->devices);
  str_index_free(&m->by_device);
  m->devices = NULL;
  m->device_count = m->device_alloc = 0;
}

/* The device's series, made on its first tunnel while under the cap. */
static struct device_metrics *device_of(struct tunnel_metrics *m,
                                        const char *id)
{
  struct device_metrics *d = str_index_get(&m->by_device, id);
  if (d)
    return d;
  if (m->device_count >= m->cap)
    return &m->other_device;
  if (m->device_count == m->device_alloc) {
    size_t n = m->device_alloc ? m->device_alloc * 2 : 16;
    struct device_metrics **grown = realloc(m->devices, n * sizeof *grown);
    if (!grown)
      return &m->other_device;
    m->devices = grown;
    m->device_alloc = n;
  }
  d = calloc(1, sizeof *d);
  if (d)
    d->id = strdup(id);
  if (!d || !d->id || str_index_add(&m->by_device, d->id, d) != 0) {
    if (d)
      free(d->id);
    free(d);
    return &m->other_device;
  }
  d->index = m->device_count;
  m->devices[m->device_count++] = d;
  return d;
}

void tunnel_metrics_attach(struct tunnel_metrics *m, struct tunnel *t)
{
  t->dev = device_of(m, t->lease->device_id);
  t->own_series = m->own < m->cap;
  m->own += t->own_series;
  m->other_tunnels_used |= !t->own_series;
  m->other_devices_used |= t->dev == &m->other_device;
}

static void totals_add_tunnel(struct tunnel_totals *a, const struct tunnel *t)
{
  a->bytes_in += t->bytes_in;
  a->bytes_out += t->bytes_out;
  a->conns_total += t->conns_total;
  a->sessions += t->sessions;
  a->reconnects += t->reconnects;
  for (size_t i = 0; i < TUNNEL_HTTP_CLASSES; i++)
    a->http[i] += t->http[i];
  prom_histogram_add(&a->http_latency, &t->http_latency);
}

void tunnel_metrics_detach(struct tunnel_metrics *m, struct tunnel *t)
{
  if (!t->dev)
    return; /* never attached */
  totals_add_tunnel(&t->dev->retired, t);
  if (t->own_series) {
    assert(m->own > 0);
    m->own--;
  } else {
    totals_add_tunnel(&m->other_retired, t);
  }
  t->dev = NULL;
}

enum tunnel_end tunnel_end_of(const char *event)
{
  static const char *const names[] = {"deleted", "revoked", "replaced",
                                      "expired", "idle-timeout",
                                      "max-lifetime"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (!strcmp(event, names[i]))
      return (enum tunnel_end)i;
  return TUNNEL_END_OTHER;
}

void tunnel_metrics_session(struct tunnel *t, const char *event)
{
  if (!strcmp(event, "session-up")) {
    t->sessions++;
    t->sessions_open++;
    if (t->sessions > 1)
      t->reconnects++; /* the device came back on the same tunnel */
  } else if ((!strcmp(event, "session-down") ||
              !strcmp(event, "session-cut-off")) &&
             t->sessions_open > 0) {
    t->sessions_open--;
  }
}

/* ---- the scrape ---- */

/* One series' values, tunnel or device. */
struct view {
  const char *tunnel, *device; /* tunnel NULL: a device's view */
  const struct device_metrics *dev;
  uint64_t conns_open, sessions_open;
  struct tunnel_totals sum;
};

static void view_add_live(struct view *v, const struct tunnel *t)
{
  v->conns_open += t->conns_open;
  v->sessions_open += t->sessions_open;
  totals_add_tunnel(&v->sum, t);
}

static void labels(struct strbuf *b, const struct view *v)
{
  if (v->tunnel) {
    strbuf_add(b, "tunnel=\"", 8);
    prom_escape(b, v->tunnel);
    strbuf_add(b, "\",", 2);
  }
  strbuf_add(b, "device=\"", 8);
  prom_escape(b, v->device);
  strbuf_add(b, "\"", 1);
}

struct family {
  const char *suffix, *type, *help;
  size_t offset; /* of a uint64_t in struct view */
};

#define IN_VIEW(f) offsetof(struct view, f)
#define IN_SUM(f) (offsetof(struct view, sum) + offsetof(struct tunnel_totals, f))

static const struct family families[] = {
    {"received_bytes_total", "counter", "Bytes received from public visitors",
     IN_SUM(bytes_in)},
    {"sent_bytes_total", "counter", "Bytes sent to public visitors",
     IN_SUM(bytes_out)},
    {"connections_open", "gauge", "Public connections open now",
     IN_VIEW(conns_open)},
    {"connections_total", "counter", "Public connections accepted",
     IN_SUM(conns_total)},
    {"sessions_open", "gauge", "Device transport sessions up now",
     IN_VIEW(sessions_open)},
    {"sessions_total", "counter", "Device transport sessions that came up",
     IN_SUM(sessions)},
    {"reconnects_total", "counter",
     "Sessions after a tunnel's first (the device came back)",
     IN_SUM(reconnects)},
};

static uint64_t field(const struct view *v, size_t offset)
{
  uint64_t x;
  memcpy(&x, (const char *)v + offset, sizeof x);
  return x;
}

static void write_views(struct strbuf *b, const char *prefix,
                        const char *whose, const struct view *views, size_t n)
{
  char name[96], help[160];
  struct strbuf lb = {0};
  for (size_t f = 0; f < sizeof families / sizeof *families; f++) {
    snprintf(name, sizeof name, "%s_%s", prefix, families[f].suffix);
    snprintf(help, sizeof help, "%s, %s.", families[f].help, whose);
    prom_header(b, name, families[f].type, help);
    for (size_t i = 0; i < n; i++) {
      strbuf_reset(&lb);
      labels(&lb, &views[i]);
      prom_sample(b, name, strbuf_str(&lb), "",
                  field(&views[i], families[f].offset));
    }
  }
  snprintf(name, sizeof name, "%s_http_responses_total", prefix);
  snprintf(help, sizeof help,
           "Answers to public HTTP requests by status class, %s", whose);
  prom_header(b, name, "counter", help);
  for (size_t i = 0; i < n; i++) {
    strbuf_reset(&lb);
    labels(&lb, &views[i]);
    static const char *const classes[TUNNEL_HTTP_CLASSES] = {
        "class=\"1xx\"", "class=\"2xx\"", "class=\"3xx\"", "class=\"4xx\"",
        "class=\"5xx\""};
    for (size_t c = 0; c < TUNNEL_HTTP_CLASSES; c++)
      prom_sample(b, name, strbuf_str(&lb), classes[c], views[i].sum.http[c]);
  }
  strbuf_free(&lb);
}

static void write_tunnels(const struct tunnel_service *svc, struct strbuf *b)
{
  const struct tunnel_metrics *m = &svc->metrics;
  size_t n = 0;
  struct view *views = calloc(m->own + 1, sizeof *views);
  if (!views) {
    b->oom = 1;
    return;
  }
  struct view *other = &views[m->own];
  other->tunnel = other->device = PROM_OTHER;
  other->sum = m->other_retired;
  bool other_used = m->other_tunnels_used;
  for (const struct tunnel *t = svc->live; t; t = t->next) {
    if (!t->dev)
      continue;
    if (!t->own_series) {
      view_add_live(other, t);
      continue;
    }
    assert(n < m->own);
    views[n].tunnel = t->lease->tunnel_id;
    views[n].device = t->lease->device_id;
    view_add_live(&views[n++], t);
  }
  if (other_used)
    views[n++] = *other;
  write_views(b, "weft_tunnel", "per tunnel", views, n);
  prom_header(b, "weft_tunnel_http_response_duration_seconds", "histogram",
              "Time from a public HTTP request's head to its answer's head, "
              "per tunnel.");
  struct strbuf lb = {0};
  for (size_t i = 0; i < n; i++) {
    strbuf_reset(&lb);
    labels(&lb, &views[i]);
    prom_histogram_write(b, "weft_tunnel_http_response_duration_seconds",
                         strbuf_str(&lb), &views[i].sum.http_latency);
  }
  strbuf_free(&lb);
  free(views);
}

static void write_devices(const struct tunnel_service *svc, struct strbuf *b)
{
  const struct tunnel_metrics *m = &svc->metrics;
  size_t n = m->device_count;
  struct view *views = calloc(n + 1, sizeof *views);
  if (!views) {
    b->oom = 1;
    return;
  }
  for (size_t i = 0; i <= n; i++) {
    const struct device_metrics *d = i < n ? m->devices[i] : &m->other_device;
    views[i].device = d->id;
    views[i].dev = d;
    views[i].sum = d->retired;
  }
  for (const struct tunnel *t = svc->live; t; t = t->next)
    if (t->dev)
      view_add_live(&views[t->dev == &m->other_device ? n : t->dev->index], t);
  if (m->other_devices_used)
    n++;
  write_views(b, "weft_device", "per device", views, n);
  prom_header(b, "weft_device_tunnels_created_total", "counter",
              "Tunnels created, per device.");
  for (size_t i = 0; i < n; i++) {
    struct strbuf lb = {0};
    labels(&lb, &views[i]);
    strbuf_addf(b, "weft_device_tunnels_created_total{%s} %llu\n",
                strbuf_str(&lb), (unsigned long long)views[i].dev->created);
    strbuf_free(&lb);
  }
  static const char *const reasons[TUNNEL_END_COUNT] = {
      "deleted",      "revoked",      "replaced", "expired",
      "idle_timeout", "max_lifetime", "other"};
  prom_header(b, "weft_device_tunnels_ended_total", "counter",
              "Tunnels ended, per device and reason.");
  for (size_t i = 0; i < n; i++) {
    struct strbuf lb = {0};
    labels(&lb, &views[i]);
    for (size_t r = 0; r < TUNNEL_END_COUNT; r++)
      strbuf_addf(b, "weft_device_tunnels_ended_total{%s,reason=\"%s\"} %llu\n",
                  strbuf_str(&lb), reasons[r],
                  (unsigned long long)views[i].dev->ended[r]);
    strbuf_free(&lb);
  }
  free(views);
}

void tunnel_metrics_write(const struct tunnel_service *svc, struct strbuf *b)
{
  prom_header(b, "weft_metrics_series_cap", "gauge",
              "Tunnels and devices with their own series at most; the rest "
              "are summed under the label value (other).");
  strbuf_addf(b, "weft_metrics_series_cap %zu\n", svc->metrics.cap);
  write_tunnels(svc, b);
  write_devices(svc, b);
}
