#include "telemetry/otlp_conf.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plugin/options.h"

#define TEXT_MAX 4096

/* An http(s) URL libcurl accepts, without a query or fragment. */
static int url_ok(const char *what, const char *url, char *err,
                  size_t errlen)
{
  CURLU *u = curl_url();
  char *scheme = NULL, *query = NULL, *fragment = NULL;
  /* the scheme as written, not only as libcurl would mend it */
  int ok = (!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8)) &&
           u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
           curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
           (!strcmp(scheme, "http") || !strcmp(scheme, "https")) &&
           curl_url_get(u, CURLUPART_QUERY, &query, 0) != CURLUE_OK &&
           curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0) != CURLUE_OK;
  curl_free(scheme);
  curl_free(query);
  curl_free(fragment);
  curl_url_cleanup(u);
  if (!ok)
    snprintf(err, errlen,
             "%s '%.200s' is not an http:// or https:// URL without a "
             "query (e.g. http://127.0.0.1:4318)",
             what, url);
  return ok ? 0 : -1;
}

/* base + "/v1/SIGNAL", without a doubled slash. */
static int signal_url(const char *base, const char *signal, char *out,
                      char *err, size_t errlen)
{
  size_t n = strlen(base);
  while (n > 0 && base[n - 1] == '/')
    n--;
  if (snprintf(out, OTLP_URL_MAX, "%.*s/v1/%s", (int)n, base, signal) >=
      OTLP_URL_MAX) {
    snprintf(err, errlen, "the OpenTelemetry endpoint is too long");
    return -1;
  }
  return 0;
}

static bool token_ok(const char *s)
{
  if (!*s)
    return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
      return false;
  return true;
}

/* "k=v,k=v" (W3C baggage: values percent-encoded) into pairs; what names
 * the source for errors; header: keys must be HTTP tokens. */
static int parse_pairs(const char *what, const char *text, bool header,
                       struct otlp_pair *pairs, size_t *count, char *err,
                       size_t errlen)
{
  char copy[TEXT_MAX];
  if (snprintf(copy, sizeof copy, "%s", text) >= (int)sizeof copy) {
    snprintf(err, errlen, "%s is longer than %d bytes", what, TEXT_MAX - 1);
    return -1;
  }
  char *save = NULL;
  for (char *item = strtok_r(copy, ",", &save); item;
       item = strtok_r(NULL, ",", &save)) {
    while (*item == ' ')
      item++;
    if (!*item)
      continue;
    char *eq = strchr(item, '=');
    if (!eq || eq == item) {
      snprintf(err, errlen, "%s: '%.100s' is not KEY=VALUE", what, item);
      return -1;
    }
    *eq = '\0';
    char *key = item, *value = eq + 1;
    size_t k = strlen(key);
    while (k > 0 && key[k - 1] == ' ')
      key[--k] = '\0';
    if (header ? !token_ok(key) : !*key) {
      snprintf(err, errlen, "%s: '%.100s' is not a valid name", what, key);
      return -1;
    }
    int len = 0;
    char *plain = curl_easy_unescape(NULL, value, 0, &len);
    bool bad = !plain || (size_t)len != strlen(plain) ||
               strpbrk(plain, "\r\n") != NULL;
    if (bad || strlen(key) >= sizeof pairs[0].key ||
        (size_t)len >= sizeof pairs[0].value) {
      snprintf(err, errlen, "%s: the value of %.100s is %s", what, key,
               bad ? "not a one-line text" : "too long");
      curl_free(plain);
      return -1;
    }
    /* a later pair of the same name replaces the earlier one */
    size_t i = 0;
    while (i < *count && strcmp(pairs[i].key, key))
      i++;
    if (i == OTLP_MAX_PAIRS) {
      snprintf(err, errlen, "%s: more than %d pairs", what, OTLP_MAX_PAIRS);
      curl_free(plain);
      return -1;
    }
    snprintf(pairs[i].key, sizeof pairs[i].key, "%s", key);
    snprintf(pairs[i].value, sizeof pairs[i].value, "%s", plain);
    curl_free(plain);
    if (i == *count)
      (*count)++;
  }
  return 0;
}

static int set_pair(struct otlp_pair *pairs, size_t *count, const char *key,
                    const char *value)
{
  size_t i = 0;
  while (i < *count && strcmp(pairs[i].key, key))
    i++;
  if (i == OTLP_MAX_PAIRS)
    return -1;
  snprintf(pairs[i].key, sizeof pairs[i].key, "%s", key);
  snprintf(pairs[i].value, sizeof pairs[i].value, "%s", value);
  if (i == *count)
    (*count)++;
  return 0;
}

/* A duration from the string ("10s") or a variable (milliseconds). */
static int duration(const char *what, const char *text, bool millis,
                    int64_t *out, char *err, size_t errlen)
{
  char why[256];
  int rc = millis ? parse_int(text, 1, INT64_C(86400000), out, why, sizeof why)
                  : parse_duration_ms(text, out, why, sizeof why);
  if (rc == 0 && (*out < 100 || *out > INT64_C(86400000))) {
    snprintf(why, sizeof why, "give 100 ms to 24 h");
    rc = -1;
  }
  if (rc != 0)
    snprintf(err, errlen, "%s '%.100s': %s", what, text, why);
  return rc;
}

struct parts {
  const char *endpoint, *headers, *interval, *timeout, *service;
};

/* The connection string's KEY=VALUE;... (or a URL alone) into parts,
 * pointing into buf. */
static int split(char *buf, struct parts *p, char *err, size_t errlen)
{
  memset(p, 0, sizeof *p);
  if (!strchr(buf, ';') && !strchr(buf, '=')) {
    p->endpoint = buf; /* a URL alone */
    return 0;
  }
  char *save = NULL;
  for (char *item = strtok_r(buf, ";", &save); item;
       item = strtok_r(NULL, ";", &save)) {
    while (*item == ' ')
      item++;
    if (!*item)
      continue;
    char *eq = strchr(item, '=');
    if (!eq) {
      if (!p->endpoint && (!strncmp(item, "http://", 7) ||
                           !strncmp(item, "https://", 8))) {
        p->endpoint = item;
        continue;
      }
      snprintf(err, errlen, "the OpenTelemetry connection string: '%.100s' "
                            "is not KEY=VALUE",
               item);
      return -1;
    }
    *eq = '\0';
    const char **slot = !strcasecmp(item, "endpoint")   ? &p->endpoint
                        : !strcasecmp(item, "headers")  ? &p->headers
                        : !strcasecmp(item, "interval") ? &p->interval
                        : !strcasecmp(item, "timeout")  ? &p->timeout
                        : !strcasecmp(item, "service")  ? &p->service
                                                        : NULL;
    if (!slot) {
      snprintf(err, errlen,
               "the OpenTelemetry connection string: unknown key '%.60s' "
               "(endpoint, headers, interval, timeout, service)",
               item);
      return -1;
    }
    *slot = eq + 1;
  }
  return 0;
}

static const char *process_env(const char *name) { return getenv(name); }

static const char *env_or_null(otlp_env_fn env, const char *name)
{
  const char *v = env(name);
  return v && *v ? v : NULL;
}

int otlp_conf_parse(const char *text, otlp_env_fn env,
                    const char *service_name, struct otlp_conf *out,
                    char *err, size_t errlen)
{
  memset(out, 0, sizeof *out);
  out->timeout_ms = 10000;
  out->interval_ms = 60000;
  if (!env)
    env = process_env;
  char buf[TEXT_MAX];
  struct parts p = {0};
  if (text) {
    if (snprintf(buf, sizeof buf, "%s", text) >= (int)sizeof buf) {
      snprintf(err, errlen, "the OpenTelemetry connection string is longer "
                            "than %d bytes",
               TEXT_MAX - 1);
      return -1;
    }
    if (split(buf, &p, err, errlen) != 0)
      return -1;
    if (!p.endpoint) {
      snprintf(err, errlen, "the OpenTelemetry connection string names no "
                            "endpoint (endpoint=http://HOST:4318)");
      return -1;
    }
  }
  const char *proto = env_or_null(env, "OTEL_EXPORTER_OTLP_PROTOCOL");
  const char *base = p.endpoint ? p.endpoint
                                : env_or_null(env, "OTEL_EXPORTER_OTLP_ENDPOINT");
  const char *logs = p.endpoint ? NULL
                                : env_or_null(env, "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT");
  const char *metrics =
      p.endpoint ? NULL : env_or_null(env, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT");
  if (!base && !logs && !metrics)
    return 0; /* nothing asks for it */
  if (proto && strcmp(proto, "http/json")) {
    snprintf(err, errlen,
             "OTEL_EXPORTER_OTLP_PROTOCOL=%.40s: weft sends OTLP over HTTP "
             "as JSON (http/json)",
             proto);
    return -1;
  }
  out->enabled = true;
  /* A signal's own variable is its full URL; the base gets /v1/SIGNAL. */
  if (logs) {
    if (url_ok("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", logs, err, errlen) != 0)
      return -1;
    snprintf(out->logs_url, sizeof out->logs_url, "%s", logs);
  }
  if (metrics) {
    if (url_ok("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", metrics, err,
               errlen) != 0)
      return -1;
    snprintf(out->metrics_url, sizeof out->metrics_url, "%s", metrics);
  }
  if (base) {
    if (url_ok(p.endpoint ? "the OpenTelemetry endpoint"
                          : "OTEL_EXPORTER_OTLP_ENDPOINT",
               base, err, errlen) != 0)
      return -1;
    if ((!logs && signal_url(base, "logs", out->logs_url, err, errlen)) ||
        (!metrics &&
         signal_url(base, "metrics", out->metrics_url, err, errlen)))
      return -1;
  }
  const char *headers =
      p.headers ? p.headers : env_or_null(env, "OTEL_EXPORTER_OTLP_HEADERS");
  if (headers &&
      parse_pairs(p.headers ? "headers" : "OTEL_EXPORTER_OTLP_HEADERS",
                  headers, true, out->headers, &out->header_count, err,
                  errlen) != 0)
    return -1;
  const char *timeout = p.timeout;
  if (timeout ? duration("timeout", timeout, false, &out->timeout_ms, err,
                         errlen)
              : (timeout = env_or_null(env, "OTEL_EXPORTER_OTLP_TIMEOUT")) &&
                    duration("OTEL_EXPORTER_OTLP_TIMEOUT", timeout, true,
                             &out->timeout_ms, err, errlen))
    return -1;
  const char *interval = p.interval;
  if (interval ? duration("interval", interval, false, &out->interval_ms,
                          err, errlen)
               : (interval = env_or_null(env, "OTEL_METRIC_EXPORT_INTERVAL")) &&
                     duration("OTEL_METRIC_EXPORT_INTERVAL", interval, true,
                              &out->interval_ms, err, errlen))
    return -1;
  /* service.name: the string's, OTEL_SERVICE_NAME, the attributes', ours */
  set_pair(out->resource, &out->resource_count, "service.name",
           service_name);
  const char *attrs = env_or_null(env, "OTEL_RESOURCE_ATTRIBUTES");
  if (attrs && parse_pairs("OTEL_RESOURCE_ATTRIBUTES", attrs, false,
                           out->resource, &out->resource_count, err,
                           errlen) != 0)
    return -1;
  const char *service = p.service ? p.service
                                  : env_or_null(env, "OTEL_SERVICE_NAME");
  if (service && set_pair(out->resource, &out->resource_count,
                          "service.name", service) != 0)
    return -1;
  return 0;
}
