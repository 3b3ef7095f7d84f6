#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "telemetry/prom_text.h"

static json_t *read_text(const char *text, size_t *skipped)
{
  json_t *m = prom_text_to_otlp(text, strlen(text), 100, 200, skipped);
  cr_assert_not_null(m);
  return m;
}

static json_t *metric(json_t *m, const char *name)
{
  size_t i;
  json_t *x;
  json_array_foreach(m, i, x)
  {
    if (!strcmp(json_string_value(json_object_get(x, "name")), name))
      return x;
  }
  cr_assert_fail("no metric %s", name);
  return NULL;
}

Test(prom_text, counters_gauges_and_their_labels)
{
  size_t skipped;
  json_t *m = read_text(
      "# HELP weft_tunnels_total Tunnels, by how.\n"
      "# TYPE weft_tunnels_total counter\n"
      "weft_tunnels_total{outcome=\"created\"} 7\n"
      "weft_tunnels_total{outcome=\"a\\\"b\\\\c\\nd\"} 1\n"
      "# TYPE weft_tunnels_live gauge\n"
      "weft_tunnels_live 3\n",
      &skipped);
  cr_assert_eq(skipped, 0);
  cr_assert_eq(json_array_size(m), 2);
  json_t *sum = json_object_get(metric(m, "weft_tunnels_total"), "sum");
  cr_assert(json_is_true(json_object_get(sum, "isMonotonic")));
  cr_assert_eq(json_integer_value(json_object_get(sum, "aggregationTemporality")), 2);
  json_t *points = json_object_get(sum, "dataPoints");
  cr_assert_eq(json_array_size(points), 2);
  json_t *p1 = json_array_get(points, 1);
  const char *label = json_string_value(json_object_get(
      json_object_get(json_array_get(json_object_get(p1, "attributes"), 0),
                      "value"),
      "stringValue"));
  cr_assert_str_eq(label, "a\"b\\c\nd");
  cr_assert_str_eq(json_string_value(json_object_get(p1, "startTimeUnixNano")), "100");
  cr_assert_str_eq(json_string_value(json_object_get(p1, "timeUnixNano")), "200");
  cr_assert_str_eq(json_string_value(json_object_get(
                       metric(m, "weft_tunnels_total"), "description")),
                   "Tunnels, by how.");
  json_t *g = json_object_get(metric(m, "weft_tunnels_live"), "gauge");
  cr_assert_float_eq(json_real_value(json_object_get(
                         json_array_get(json_object_get(g, "dataPoints"), 0),
                         "asDouble")),
                     3.0, 1e-9);
  json_decref(m);
}

Test(prom_text, histogram_buckets_become_each_buckets_own)
{
  size_t skipped;
  json_t *m = read_text(
      "# TYPE lat_seconds histogram\n"
      "lat_seconds_bucket{t=\"a\",le=\"0.1\"} 1\n"
      "lat_seconds_bucket{t=\"a\",le=\"1\"} 3\n"
      "lat_seconds_bucket{t=\"a\",le=\"+Inf\"} 4\n"
      "lat_seconds_sum{t=\"a\"} 2.5\n"
      "lat_seconds_count{t=\"a\"} 4\n",
      &skipped);
  cr_assert_eq(skipped, 0);
  json_t *h = json_object_get(metric(m, "lat_seconds"), "histogram");
  json_t *p = json_array_get(json_object_get(h, "dataPoints"), 0);
  cr_assert_eq(json_array_size(json_object_get(h, "dataPoints")), 1);
  char *counts = json_dumps(json_object_get(p, "bucketCounts"), JSON_COMPACT);
  char *bounds = json_dumps(json_object_get(p, "explicitBounds"), JSON_COMPACT);
  cr_assert_str_eq(counts, "[\"1\",\"2\",\"1\"]");
  cr_assert_str_eq(bounds, "[0.10000000000000001,1.0]");
  free(counts);
  free(bounds);
  cr_assert_str_eq(json_string_value(json_object_get(p, "count")), "4");
  cr_assert_null(json_object_get(p, "cumulative"));
  json_decref(m);
}

Test(prom_text, bad_lines_are_skipped_and_counted)
{
  size_t skipped;
  json_t *m = read_text("ok 1\n"
                        "{no name} 1\n"
                        "x{a=\"unterminated} 1\n"
                        "y notanumber\n"
                        "z 1\n",
                        &skipped);
  cr_assert_eq(skipped, 3);
  cr_assert_eq(json_array_size(m), 2);
  json_decref(m);
}
