#include "base/prom.h"

#include <string.h>

const double prom_bucket_bounds[PROM_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10};

void prom_observe(struct prom_histogram *h, double seconds)
{
  size_t i = 0;
  while (i < PROM_BUCKETS && seconds > prom_bucket_bounds[i])
    i++;
  h->counts[i]++;
  h->count++;
  h->sum += seconds;
}

void prom_histogram_add(struct prom_histogram *a,
                        const struct prom_histogram *b)
{
  for (size_t i = 0; i <= PROM_BUCKETS; i++)
    a->counts[i] += b->counts[i];
  a->count += b->count;
  a->sum += b->sum;
}

void prom_header(struct strbuf *b, const char *name, const char *type,
                 const char *help)
{
  strbuf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void prom_escape(struct strbuf *b, const char *value)
{
  for (const char *p = value; *p; p++) {
    size_t n = strcspn(p, "\\\"\n");
    strbuf_add(b, p, n);
    p += n;
    if (!*p)
      break;
    strbuf_add(b, *p == '\n' ? "\\n" : *p == '"' ? "\\\"" : "\\\\", 2);
  }
}

void prom_histogram_write(struct strbuf *b, const char *name,
                          const char *labels, const struct prom_histogram *h)
{
  const char *sep = labels[0] ? "," : "";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < PROM_BUCKETS; i++) {
    cumulative += h->counts[i];
    strbuf_addf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
                prom_bucket_bounds[i], (unsigned long long)cumulative);
  }
  strbuf_addf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
              (unsigned long long)h->count);
  const char *open = labels[0] ? "{" : "", *close = labels[0] ? "}" : "";
  strbuf_addf(b, "%s_sum%s%s%s %.9g\n%s_count%s%s%s %llu\n", name, open,
              labels, close, h->sum, name, open, labels, close,
              (unsigned long long)h->count);
}
