/* Prometheus' text exposition (what /metrics serves) read back into
 * OTLP's JSON metrics, so an OpenTelemetry collector gets the same set
 * as a scrape without a second list of metrics to keep in step.
 *
 * counter -> a cumulative monotonic sum, gauge and untyped -> a gauge,
 * histogram (NAME_bucket{le=...}, NAME_sum, NAME_count) -> a histogram
 * with explicit bounds. A line that does not parse is skipped and
 * counted; the text is weft's own, but the reader never trusts it. */
#ifndef WEFT_TELEMETRY_PROM_TEXT_H
#define WEFT_TELEMETRY_PROM_TEXT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The "metrics" array of one OTLP ScopeMetrics for text, time_ns its
 * data points' time and start_ns their start (the process's). *skipped:
 * lines that did not parse. NULL only when out of memory. */
json_t *prom_text_to_otlp(const char *text, size_t len, uint64_t start_ns,
                          uint64_t time_ns, size_t *skipped);

#endif
