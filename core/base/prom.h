/* Prometheus text exposition (format 0.0.4): the pieces /metrics is
 * written from, and a fixed-bucket histogram cheap enough to observe on
 * the data path (no allocation, no formatting until a scrape). */
#ifndef WEFT_CORE_PROM_H
#define WEFT_CORE_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "base/strbuf.h"

/* The label value that stands for everything beyond a cap ("(other)"
 * cannot be a device id or tunnel id: those are plain names). */
#define PROM_OTHER "(other)"

/* Upper bounds in seconds, 100 us to 10 s; +Inf is implied. */
#define PROM_BUCKETS 16
extern const double prom_bucket_bounds[PROM_BUCKETS];

struct prom_histogram {
  uint64_t counts[PROM_BUCKETS + 1]; /* per bucket, not cumulative; last: +Inf */
  uint64_t count;
  double sum; /* seconds */
};

void prom_observe(struct prom_histogram *h, double seconds);
/* Adds b's observations to a's. */
void prom_histogram_add(struct prom_histogram *a,
                        const struct prom_histogram *b);

/* v in decimal, without printf (a scrape writes tens of thousands). */
void prom_u64(struct strbuf *b, uint64_t v);
/* name{labels,more} v: labels and more are escaped label text, or "". */
void prom_sample(struct strbuf *b, const char *name, const char *labels,
                 const char *more, uint64_t v);
/* "# HELP name help\n# TYPE name type\n". */
void prom_header(struct strbuf *b, const char *name, const char *type,
                 const char *help);
/* value, escaped for a label ('\\', '"' and newlines). */
void prom_escape(struct strbuf *b, const char *value);
/* name_bucket{labels,le=...}, name_sum{labels}, name_count{labels}: labels
 * is `k="v",...` already escaped, or "". */
void prom_histogram_write(struct strbuf *b, const char *name,
                          const char *labels, const struct prom_histogram *h);

#endif
