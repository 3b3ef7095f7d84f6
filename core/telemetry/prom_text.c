#include "telemetry/prom_text.h"

#include <assert.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 200
#define LABELS_MAX 16
#define VALUE_MAX_LEN 1024 /* a label's value: ids, URLs */

struct label {
  char name[NAME_MAX_LEN + 1];
  char value[VALUE_MAX_LEN + 1];
};

struct sample {
  char name[NAME_MAX_LEN + 1];
  struct label labels[LABELS_MAX];
  size_t count;
  double value;
};

static bool name_char(char c, bool first)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         c == ':' || (!first && c >= '0' && c <= '9');
}

/* A metric or label name at *p into out; false if there is none. */
static bool read_name(const char **p, const char *end, char *out)
{
  size_t n = 0;
  while (*p < end && name_char(**p, n == 0)) {
    if (n == NAME_MAX_LEN)
      return false;
    out[n++] = *(*p)++;
  }
  out[n] = '\0';
  return n > 0;
}

/* "value" with \\, \" and \n escapes. */
static bool read_quoted(const char **p, const char *end, char *out)
{
  if (*p >= end || **p != '"')
    return false;
  (*p)++;
  size_t n = 0;
  while (*p < end && **p != '"') {
    char c = *(*p)++;
    if (c == '\\') {
      if (*p >= end)
        return false;
      c = *(*p)++;
      if (c == 'n')
        c = '\n';
      else if (c != '\\' && c != '"')
        return false;
    }
    if (n == VALUE_MAX_LEN)
      return false;
    out[n++] = c;
  }
  if (*p >= end)
    return false;
  (*p)++;
  out[n] = '\0';
  return true;
}

/* NAME[{l="v",...}] VALUE [TIMESTAMP] */
static bool parse_sample(const char *p, const char *end, struct sample *s)
{
  s->count = 0;
  if (!read_name(&p, end, s->name))
    return false;
  if (p < end && *p == '{') {
    p++;
    while (p < end && *p != '}') {
      if (s->count == LABELS_MAX)
        return false;
      struct label *l = &s->labels[s->count];
      if (!read_name(&p, end, l->name) || p >= end || *p++ != '=' ||
          !read_quoted(&p, end, l->value))
        return false;
      s->count++;
      if (p < end && *p == ',')
        p++;
    }
    if (p >= end)
      return false;
    p++;
  }
  if (p >= end || *p != ' ')
    return false;
  while (p < end && *p == ' ')
    p++;
  char num[64];
  size_t n = 0;
  while (p < end && *p != ' ' && n < sizeof num - 1)
    num[n++] = *p++;
  num[n] = '\0';
  if (!n)
    return false;
  char *stop;
  if (!strcmp(num, "+Inf"))
    s->value = INFINITY;
  else if (!strcmp(num, "-Inf"))
    s->value = -INFINITY;
  else if (!strcmp(num, "NaN"))
    s->value = NAN;
  else {
    s->value = strtod(num, &stop);
    if (*stop)
      return false;
  }
  return true; /* a timestamp after it is ignored: the export's time rules */
}

/* One metric family being built. */
struct family {
  char name[NAME_MAX_LEN + 1];
  char type[16]; /* counter, gauge, histogram, summary, untyped */
  json_t *metric;  /* the OTLP metric, in the output array */
  json_t *points;  /* its dataPoints */
};

static json_t *attributes(const struct sample *s, const char *skip)
{
  json_t *a = json_array();
  for (size_t i = 0; i < s->count; i++) {
    if (skip && !strcmp(s->labels[i].name, skip))
      continue;
    json_array_append_new(
        a, json_pack("{s:s,s:{s:s}}", "key", s->labels[i].name, "value",
                     "stringValue", s->labels[i].value));
  }
  return a;
}

static json_t *u64_text(uint64_t v)
{
  char t[24];
  snprintf(t, sizeof t, "%llu", (unsigned long long)v);
  return json_string(t);
}

/* A count from a sample's value: what is not a count (negative, NaN, past
 * 2^64: a bad text, or buckets that shrink) counts 0. */
static uint64_t to_count(double v)
{
  return v >= 0 && v < 18446744073709551615.0 ? (uint64_t)v : 0;
}

/* JSON has no infinities or NaN: OTLP's JSON writes them as text. */
static json_t *number(double v)
{
  if (isnan(v))
    return json_string("NaN");
  if (isinf(v))
    return json_string(v > 0 ? "Infinity" : "-Infinity");
  return json_real(v);
}

/* Starts a family's OTLP metric in out. */
static void family_start(struct family *f, json_t *out, const char *help)
{
  const char *kind = !strcmp(f->type, "counter")     ? "sum"
                     : !strcmp(f->type, "histogram") ? "histogram"
                                                     : "gauge";
  f->points = json_array();
  json_t *data = json_pack("{s:o}", "dataPoints", f->points);
  if (!strcmp(kind, "sum")) {
    json_object_set_new(data, "aggregationTemporality", json_integer(2));
    json_object_set_new(data, "isMonotonic", json_true());
  } else if (!strcmp(kind, "histogram")) {
    json_object_set_new(data, "aggregationTemporality", json_integer(2));
  }
  f->metric = json_pack("{s:s,s:s,s:o}", "name", f->name, "description",
                        help ? help : "", kind, data);
  json_array_append_new(out, f->metric);
}

/* The histogram point whose labels (but le) are the sample's. */
static json_t *histogram_point(struct family *f, const struct sample *s,
                               uint64_t start_ns, uint64_t time_ns)
{
  json_t *attrs = attributes(s, "le");
  size_t i;
  json_t *pt;
  json_array_foreach(f->points, i, pt)
  {
    if (json_equal(json_object_get(pt, "attributes"), attrs)) {
      json_decref(attrs);
      return pt;
    }
  }
  pt = json_pack("{s:o,s:o,s:o,s:[],s:[],s:[]}", "attributes", attrs,
                 "startTimeUnixNano", u64_text(start_ns), "timeUnixNano",
                 u64_text(time_ns), "bucketCounts", "explicitBounds",
                 "cumulative");
  json_array_append_new(f->points, pt);
  return pt;
}

/* A histogram's buckets come cumulative; OTLP wants each bucket's own. */
static void histogram_finish(struct family *f)
{
  size_t i;
  json_t *pt;
  json_array_foreach(f->points, i, pt)
  {
    json_t *cum = json_object_get(pt, "cumulative");
    json_t *counts = json_object_get(pt, "bucketCounts");
    double before = 0;
    size_t j;
    json_t *c;
    json_array_foreach(cum, j, c)
    {
      double v = json_real_value(c);
      json_array_append_new(counts, u64_text(to_count(v - before)));
      before = v;
    }
    json_object_del(pt, "cumulative");
  }
}

/* Does the line [p, end) begin with prefix? (It has no NUL to stop at.) */
static bool line_starts(const char *p, const char *end, const char *prefix)
{
  size_t n = strlen(prefix);
  return (size_t)(end - p) >= n && !memcmp(p, prefix, n);
}

static bool ends_with(const char *s, const char *suffix)
{
  size_t n = strlen(s), k = strlen(suffix);
  return n > k && !strcmp(s + n - k, suffix);
}

static void add_sample(struct family *f, const struct sample *s,
                       uint64_t start_ns, uint64_t time_ns, size_t *skipped)
{
  if (!strcmp(f->type, "histogram")) {
    json_t *pt = histogram_point(f, s, start_ns, time_ns);
    if (ends_with(s->name, "_bucket")) {
      const char *le = NULL;
      for (size_t i = 0; i < s->count; i++)
        if (!strcmp(s->labels[i].name, "le"))
          le = s->labels[i].value;
      char *stop;
      double bound = le ? strtod(le, &stop) : 0;
      if (!le || (*stop && strcmp(le, "+Inf"))) {
        (*skipped)++;
        return;
      }
      json_array_append_new(json_object_get(pt, "cumulative"),
                            json_real(s->value));
      if (strcmp(le, "+Inf"))
        json_array_append_new(json_object_get(pt, "explicitBounds"),
                              json_real(bound));
    } else if (ends_with(s->name, "_sum")) {
      json_object_set_new(pt, "sum", number(s->value));
    } else if (ends_with(s->name, "_count")) {
      json_object_set_new(pt, "count", u64_text(to_count(s->value)));
    }
    return;
  }
  json_array_append_new(
      f->points,
      json_pack("{s:o,s:o,s:o,s:o}", "attributes", attributes(s, NULL),
                "startTimeUnixNano", u64_text(start_ns), "timeUnixNano",
                u64_text(time_ns), "asDouble", number(s->value)));
}

/* Does the sample belong to family f (NAME, or NAME_bucket/_sum/_count
 * of a histogram)? */
static bool of_family(const struct family *f, const char *name)
{
  size_t n = strlen(f->name);
  if (strncmp(name, f->name, n))
    return false;
  if (!name[n])
    return true;
  return !strcmp(f->type, "histogram") &&
         (!strcmp(name + n, "_bucket") || !strcmp(name + n, "_sum") ||
          !strcmp(name + n, "_count"));
}

json_t *prom_text_to_otlp(const char *text, size_t len, uint64_t start_ns,
                          uint64_t time_ns, size_t *skipped)
{
  json_t *out = json_array();
  if (!out)
    return NULL;
  *skipped = 0;
  struct family f = {0};
  char help_name[NAME_MAX_LEN + 1] = "";
  char help[512] = "";
  struct sample *s = malloc(sizeof *s);
  if (!s) {
    json_decref(out);
    return NULL;
  }
  const char *p = text, *end = text + len;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *line_end = eol ? eol : end;
    const char *q = p;
    if (line_end == p) {
      /* blank */
    } else if (line_starts(p, line_end, "# HELP ")) {
      q = p + 7;
      if (read_name(&q, line_end, help_name) && q < line_end && *q == ' ')
        snprintf(help, sizeof help, "%.*s", (int)(line_end - q - 1), q + 1);
      else
        (*skipped)++;
    } else if (line_starts(p, line_end, "# TYPE ")) {
      q = p + 7;
      char name[NAME_MAX_LEN + 1];
      if (f.metric && !strcmp(f.type, "histogram"))
        histogram_finish(&f);
      memset(&f, 0, sizeof f);
      if (read_name(&q, line_end, name) && q < line_end && *q == ' ' &&
          line_end - q - 1 < (long)sizeof f.type) {
        snprintf(f.name, sizeof f.name, "%s", name);
        snprintf(f.type, sizeof f.type, "%.*s", (int)(line_end - q - 1),
                 q + 1);
        if (!strcmp(f.type, "summary")) /* weft serves none: not carried */
          f.name[0] = '\0';
        else
          family_start(&f, out, strcmp(help_name, name) ? NULL : help);
      } else {
        (*skipped)++;
      }
    } else if (*p == '#') {
      /* a comment */
    } else if (parse_sample(p, line_end, s)) {
      if (!f.metric || !of_family(&f, s->name)) {
        /* a sample without a TYPE line: an untyped gauge of its own */
        if (f.metric && !strcmp(f.type, "histogram"))
          histogram_finish(&f);
        memset(&f, 0, sizeof f);
        snprintf(f.name, sizeof f.name, "%s", s->name);
        snprintf(f.type, sizeof f.type, "untyped");
        family_start(&f, out, NULL);
      }
      add_sample(&f, s, start_ns, time_ns, skipped);
    } else {
      (*skipped)++;
    }
    p = eol ? eol + 1 : end;
  }
  if (f.metric && !strcmp(f.type, "histogram"))
    histogram_finish(&f);
  free(s);
  return out;
}
