#include "base/prom.h"

#include <assert.h>
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

/* The bounds as label text, as %g writes them. */
static const char *const bound_text[PROM_BUCKETS] = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
    "0.01",   "0.025",   "0.05",   "0.1",   "0.25",   "0.5",
    "1",      "2.5",     "5",      "10"};

static void add_str(struct strbuf *b, const char *s)
{
  strbuf_add(b, s, strlen(s));
}

void prom_u64(struct strbuf *b, uint64_t v)
{
  char digits[24];
  size_t i = sizeof digits;
  do {
    digits[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  strbuf_add(b, digits + i, sizeof digits - i);
}

void prom_sample(struct strbuf *b, const char *name, const char *labels,
                 const char *more, uint64_t v)
{
  add_str(b, name);
  strbuf_add(b, "{", 1);
  add_str(b, labels);
  if (more[0] && labels[0])
    strbuf_add(b, ",", 1);
  add_str(b, more);
  strbuf_add(b, "} ", 2);
  prom_u64(b, v);
  strbuf_add(b, "\n", 1);
}

void prom_histogram_write(struct strbuf *b, const char *name,
                          const char *labels, const struct prom_histogram *h)
{
  /* A scrape writes one of these per tunnel: no printf per line. */
  const char *sep = labels[0] ? "," : "";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= PROM_BUCKETS; i++) {
    cumulative += h->counts[i];
    add_str(b, name);
    add_str(b, "_bucket{");
    add_str(b, labels);
    add_str(b, sep);
    add_str(b, "le=\"");
    add_str(b, i < PROM_BUCKETS ? bound_text[i] : "+Inf");
    add_str(b, "\"} ");
    prom_u64(b, cumulative);
    strbuf_add(b, "\n", 1);
  }
  assert(cumulative == h->count);
  const char *open = labels[0] ? "{" : "", *close = labels[0] ? "}" : "";
  strbuf_addf(b, "%s_sum%s%s%s %.9g\n%s_count%s%s%s %llu\n", name, open,
              labels, close, h->sum, name, open, labels, close,
              (unsigned long long)h->count);
}
