/* libFuzzer target: Prometheus text read back into OTLP metrics
 * (telemetry/prom_text.h). Whatever the text, the result is a JSON array
 * that jansson can write, every metric has a name and one kind. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "telemetry/prom_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  size_t skipped;
  json_t *m = prom_text_to_otlp((const char *)data, size, 1, 2, &skipped);
  if (!m)
    return 0;
  size_t i;
  json_t *metric;
  json_array_foreach(m, i, metric)
  {
    int kinds = !!json_object_get(metric, "sum") +
                !!json_object_get(metric, "gauge") +
                !!json_object_get(metric, "histogram");
    if (!json_string_value(json_object_get(metric, "name")) || kinds != 1)
      abort();
  }
  char *text = json_dumps(m, JSON_COMPACT);
  if (!text)
    abort();
  free(text);
  json_decref(m);
  return 0;
}
