/* Where and how to send OpenTelemetry (OTLP over HTTP, JSON), from the
 * connection string (--opentelemetry-connection-string, [server]
 * opentelemetry) and the standard OTEL_* environment variables:
 *
 *   http://collector:4318
 *   endpoint=https://otel.example.com:4318;headers=x-api-key=abc;interval=10s
 *
 * keys: endpoint (the OTLP/HTTP base URL; /v1/logs and /v1/metrics are
 * added), headers (k=v,k=v, values percent-encoded as in
 * OTEL_EXPORTER_OTLP_HEADERS), interval (metrics), timeout (each post),
 * service (service.name). What the string leaves out comes from
 * OTEL_EXPORTER_OTLP_ENDPOINT, _LOGS_ENDPOINT, _METRICS_ENDPOINT,
 * _HEADERS, _TIMEOUT, _PROTOCOL (only http/json), OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES and OTEL_METRIC_EXPORT_INTERVAL. */
#ifndef WEFT_TELEMETRY_OTLP_CONF_H
#define WEFT_TELEMETRY_OTLP_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OTLP_MAX_PAIRS 16
#define OTLP_URL_MAX 1024

struct otlp_pair {
  char key[128];
  char value[512];
};

struct otlp_conf {
  bool enabled; /* a string or an endpoint variable was given */
  char logs_url[OTLP_URL_MAX];
  char metrics_url[OTLP_URL_MAX];
  struct otlp_pair headers[OTLP_MAX_PAIRS];
  size_t header_count;
  struct otlp_pair resource[OTLP_MAX_PAIRS]; /* service.name first */
  size_t resource_count;
  int64_t timeout_ms;  /* default 10 s */
  int64_t interval_ms; /* metrics; default 60 s */
};

typedef const char *(*otlp_env_fn)(const char *name);

/* text: the connection string, or NULL; env: getenv, or a test's. 0 (with
 * enabled false when nothing asks for export), or -1 with err naming
 * what is wrong. service_name: the default service.name. */
int otlp_conf_parse(const char *text, otlp_env_fn env,
                    const char *service_name, struct otlp_conf *out,
                    char *err, size_t errlen);

#endif
