/* GET /metrics: Prometheus text, for [server] metrics_allow. */
#include "server/control_api_internal.h"

#include <string.h>

#include "base/proc_metrics.h"
#include "ingress/tls_ingress.h"
#include "telemetry/otlp.h"
#include "tunnel/store.h"
#include "tunnel/tunnel_metrics.h"

void api_metrics(struct control_api *api, const struct http_request *req,
                 struct http_response *resp)
{
  uint8_t addr[16];
  if (addr_parse(req->peer_ip, addr) != 0 ||
      !prefix_list_has(&api->metrics_allow, addr))
    return api_reply_error(resp, 403, "forbidden",
                           "metrics are not open to your address");
  resp->status = 200;
  resp->content_type = "text/plain; version=0.0.4";
  control_api_metrics_text(api, &resp->body);
  if (resp->body.oom) {
    strbuf_free(&resp->body);
    api_reply_error(resp, 500, "internal", "out of memory");
  }
}

void control_api_metrics_text(struct control_api *api, struct strbuf *b)
{
  const struct tunnel_stats *t = &api->tunnels->stats;
  strbuf_addf(b, "# HELP weft_build_info Weft version.\n"
                 "# TYPE weft_build_info gauge\n"
                 "weft_build_info{version=\"%s\"} 1\n",
              api->version);
  strbuf_addf(b, "# HELP weft_tunnels_live Tunnels holding a lease.\n"
                 "# TYPE weft_tunnels_live gauge\n"
                 "weft_tunnels_live %zu\n",
              api->tunnels->leases.count);
  strbuf_addf(b,
              "# HELP weft_tunnels_total Tunnels ended or refused, by how.\n"
              "# TYPE weft_tunnels_total counter\n"
              "weft_tunnels_total{outcome=\"created\"} %llu\n"
              "weft_tunnels_total{outcome=\"deleted\"} %llu\n"
              "weft_tunnels_total{outcome=\"expired\"} %llu\n"
              "weft_tunnels_total{outcome=\"idle_timeout\"} %llu\n"
              "weft_tunnels_total{outcome=\"refused\"} %llu\n",
              (unsigned long long)t->created, (unsigned long long)t->deleted,
              (unsigned long long)t->expired,
              (unsigned long long)t->idle_timeouts,
              (unsigned long long)t->refused);
  const struct control_stats *c = &api->stats;
  strbuf_addf(b,
              "# HELP weft_logins_total Login attempts, by result.\n"
              "# TYPE weft_logins_total counter\n"
              "weft_logins_total{result=\"ok\"} %llu\n"
              "weft_logins_total{result=\"denied\"} %llu\n"
              "weft_logins_total{result=\"rate_limited\"} %llu\n"
              "# HELP weft_control_requests_total Control API requests.\n"
              "# TYPE weft_control_requests_total counter\n"
              "weft_control_requests_total %llu\n"
              "# HELP weft_control_unauthorized_total Requests without a "
              "valid session.\n"
              "# TYPE weft_control_unauthorized_total counter\n"
              "weft_control_unauthorized_total %llu\n"
              "# HELP weft_control_rate_limited_total Control API requests "
              "refused with 429 (logins, enrollments, console sign-ins).\n"
              "# TYPE weft_control_rate_limited_total counter\n"
              "weft_control_rate_limited_total %llu\n",
              (unsigned long long)c->logins_ok,
              (unsigned long long)c->logins_denied,
              (unsigned long long)c->logins_limited,
              (unsigned long long)c->requests,
              (unsigned long long)c->unauthorized,
              (unsigned long long)c->rate_limited);
  strbuf_addf(b,
              "# HELP weft_store_memory_bytes Memory the store holds (its "
              "page cache, at most 2 MiB).\n"
              "# TYPE weft_store_memory_bytes gauge\n"
              "weft_store_memory_bytes %lld\n",
              (long long)api->store->ops->memory_bytes(api->store));
  strbuf_addf(b,
              "# HELP weft_events_subscribers Open event streams "
              "(GET /v1/events).\n"
              "# TYPE weft_events_subscribers gauge\n"
              "weft_events_subscribers %u\n"
              "# HELP weft_events_cut_off_total Event streams closed for "
              "reading nothing while events waited.\n"
              "# TYPE weft_events_cut_off_total counter\n"
              "weft_events_cut_off_total %llu\n",
              events_count(&api->events),
              (unsigned long long)api->events.cut_off);
  prom_header(b, "weft_store_statement_duration_seconds", "histogram",
              "How long each statement of the store (SQLite) took.");
  prom_histogram_write(b, "weft_store_statement_duration_seconds", "",
                       &api->store->latency);
  if (api->tunnels->tls) {
    const struct tls_ingress_stats *x = tls_ingress_stats(api->tunnels->tls);
    strbuf_addf(b,
                "# HELP weft_tls_connections_total Connections to the public "
                "TLS port, by where they went.\n"
                "# TYPE weft_tls_connections_total counter\n"
                "weft_tls_connections_total{route=\"passthrough\"} %llu\n"
                "weft_tls_connections_total{route=\"terminated\"} %llu\n"
                "weft_tls_connections_total{route=\"control\"} %llu\n"
                "weft_tls_connections_total{route=\"refused\"} %llu\n"
                "weft_tls_connections_total{route=\"timed_out\"} %llu\n",
                (unsigned long long)x->passthrough,
                (unsigned long long)x->terminated,
                (unsigned long long)x->control,
                (unsigned long long)x->refused,
                (unsigned long long)x->timeouts);
  }
  if (api->otlp) {
    const struct otlp_stats *o = otlp_stats(api->otlp);
    strbuf_addf(b,
                "# HELP weft_otel_events_total OpenTelemetry events, by "
                "what became of them.\n"
                "# TYPE weft_otel_events_total counter\n"
                "weft_otel_events_total{result=\"sent\"} %llu\n"
                "weft_otel_events_total{result=\"dropped\"} %llu\n"
                "# HELP weft_otel_posts_failed_total OpenTelemetry posts the "
                "collector did not take.\n"
                "# TYPE weft_otel_posts_failed_total counter\n"
                "weft_otel_posts_failed_total %llu\n",
                (unsigned long long)o->events_sent,
                (unsigned long long)o->events_dropped,
                (unsigned long long)o->posts_failed);
  }
  if (api->proc)
    proc_metrics_write(api->proc, "weft", b);
  tunnel_metrics_write(api->tunnels, b);
}
