/* libFuzzer target: an OpenTelemetry connection string, and the OTEL_*
 * variables (telemetry/otlp_conf.h). The input is split at NUL bytes:
 * the string, then the values of the variables in order. A string that
 * is accepted gives http(s) URLs and headers without line breaks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry/otlp_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *names[] = {
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_RESOURCE_ATTRIBUTES",    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_METRIC_EXPORT_INTERVAL", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "OTEL_SERVICE_NAME",
};
static char *values[7];

static const char *env(const char *name)
{
  for (size_t i = 0; i < 7; i++)
    if (!strcmp(name, names[i]))
      return values[i];
  return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *copy = malloc(size + 1);
  if (!copy)
    return 0;
  memcpy(copy, data, size);
  copy[size] = '\0';
  char *text = copy, *p = copy + strlen(copy);
  for (size_t i = 0; i < 7; i++) {
    values[i] = p < copy + size ? p + 1 : NULL;
    if (values[i])
      p = values[i] + strlen(values[i]);
  }
  struct otlp_conf c;
  char err[512];
  if (otlp_conf_parse(*text ? text : NULL, env, "weft-fuzz", &c, err,
                      sizeof err) == 0 &&
      c.enabled) {
    const char *urls[] = {c.logs_url, c.metrics_url};
    for (size_t i = 0; i < 2; i++)
      if (urls[i][0] && strncmp(urls[i], "http://", 7) &&
          strncmp(urls[i], "https://", 8))
        abort();
    for (size_t i = 0; i < c.header_count; i++)
      if (strpbrk(c.headers[i].key, "\r\n:") ||
          strpbrk(c.headers[i].value, "\r\n"))
        abort();
    if (c.resource_count == 0 || strcmp(c.resource[0].key, "service.name"))
      abort();
  }
  free(copy);
  return 0;
}
