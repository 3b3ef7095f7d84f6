/* /metrics' pieces: label escaping, histogram buckets (edges go to the
 * bucket whose bound they equal, as Prometheus's le means), the text of
 * a histogram, and the tunnels' cap: beyond it tunnels and devices are
 * summed under "(other)", and an ended tunnel's counts stay with its
 * device. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/prom.h"
#include "tunnel/tunnel_metrics.h"

Test(prom, escape)
{
  struct strbuf b = {0};
  prom_escape(&b, "plain");
  prom_escape(&b, "|a\"b\\c\nd|");
  cr_assert_str_eq(strbuf_str(&b), "plain|a\\\"b\\\\c\\nd|");
  strbuf_free(&b);
}

Test(prom, buckets_and_text)
{
  struct prom_histogram h = {0};
  prom_observe(&h, 0.001);  /* le="0.001" */
  prom_observe(&h, 0.0011); /* le="0.0025" */
  prom_observe(&h, 99);     /* +Inf only */
  cr_assert_eq(h.count, 3);
  struct strbuf b = {0};
  prom_histogram_write(&b, "x_seconds", "k=\"v\"", &h);
  const char *t = strbuf_str(&b);
  cr_assert(strstr(t, "x_seconds_bucket{k=\"v\",le=\"0.0005\"} 0\n"));
  cr_assert(strstr(t, "x_seconds_bucket{k=\"v\",le=\"0.001\"} 1\n"));
  cr_assert(strstr(t, "x_seconds_bucket{k=\"v\",le=\"0.0025\"} 2\n"));
  cr_assert(strstr(t, "x_seconds_bucket{k=\"v\",le=\"10\"} 2\n"));
  cr_assert(strstr(t, "x_seconds_bucket{k=\"v\",le=\"+Inf\"} 3\n"));
  cr_assert(strstr(t, "x_seconds_count{k=\"v\"} 3\n"));
  strbuf_reset(&b);
  prom_histogram_write(&b, "y", "", &h);
  cr_assert(strstr(strbuf_str(&b), "y_bucket{le=\"+Inf\"} 3\ny_sum 99.0021\ny_count 3\n"),
            "%s", strbuf_str(&b));
  strbuf_reset(&b);
  prom_sample(&b, "n", "a=\"1\"", "class=\"2xx\"", 18446744073709551615ULL);
  prom_sample(&b, "m", "", "", 0);
  cr_assert_str_eq(strbuf_str(&b),
                   "n{a=\"1\",class=\"2xx\"} 18446744073709551615\nm{} 0\n");
  strbuf_free(&b);
}

static struct lease leases[3];
static struct tunnel tunnels[3];

static void live(struct tunnel_service *svc, size_t n)
{
  static char *devices[] = {"dev-a", "dev-b", "dev-c"};
  static char *ids[] = {"t1", "t2", "t3"};
  svc->live = NULL;
  for (size_t i = 0; i < n; i++) {
    leases[i] = (struct lease){.tunnel_id = ids[i], .device_id = devices[i]};
    tunnels[i] = (struct tunnel){.lease = &leases[i]};
    tunnel_metrics_attach(&svc->metrics, &tunnels[i]);
    tunnels[i].next = svc->live;
    svc->live = &tunnels[i];
  }
}

Test(prom, cap_sums_the_rest_under_other)
{
  struct tunnel_service svc;
  memset(&svc, 0, sizeof svc);
  tunnel_metrics_init(&svc.metrics, 2);
  live(&svc, 3);
  cr_assert(tunnels[0].own_series && tunnels[1].own_series);
  cr_assert(!tunnels[2].own_series);
  cr_assert_str_eq(tunnels[2].dev->id, PROM_OTHER);
  tunnels[2].bytes_in = 7;
  tunnel_metrics_http(&tunnels[2], 404, 0.01);
  tunnel_metrics_http(&tunnels[0], 200, 0.01);
  tunnel_metrics_session(&tunnels[0], "session-up");
  tunnel_metrics_session(&tunnels[0], "session-down");
  tunnel_metrics_session(&tunnels[0], "session-up");
  cr_assert_eq(tunnels[0].reconnects, 1);
  cr_assert_eq(tunnels[0].sessions_open, 1);

  struct strbuf b = {0};
  tunnel_metrics_write(&svc, &b);
  const char *t = strbuf_str(&b);
  cr_assert(strstr(t, "weft_tunnel_received_bytes_total{tunnel=\"(other)\","
                      "device=\"(other)\"} 7\n"), "%s", t);
  cr_assert(strstr(t, "weft_tunnel_http_responses_total{tunnel=\"t1\","
                      "device=\"dev-a\",class=\"2xx\"} 1\n"));
  cr_assert(strstr(t, "weft_device_http_responses_total{device=\"(other)\","
                      "class=\"4xx\"} 1\n"));
  cr_assert(strstr(t, "weft_tunnel_reconnects_total{tunnel=\"t1\","
                      "device=\"dev-a\"} 1\n"));
  cr_assert_null(strstr(t, "dev-c"), "beyond the cap: no label of its own");

  /* t1 ends: its series go, its device keeps what it carried, and its
   * place under the cap is free again. */
  tunnels[0].dev->ended[tunnel_end_of("idle-timeout")]++;
  tunnel_metrics_detach(&svc.metrics, &tunnels[0]);
  tunnels[1].next = NULL;
  svc.live = &tunnels[2];
  tunnels[2].next = &tunnels[1];
  strbuf_reset(&b);
  tunnel_metrics_write(&svc, &b);
  t = strbuf_str(&b);
  cr_assert_null(strstr(t, "tunnel=\"t1\""));
  cr_assert(strstr(t, "weft_device_http_responses_total{device=\"dev-a\","
                      "class=\"2xx\"} 1\n"));
  cr_assert(strstr(t, "weft_device_tunnels_ended_total{device=\"dev-a\","
                      "reason=\"idle_timeout\"} 1\n"));
  cr_assert_eq(svc.metrics.own, 1);
  strbuf_free(&b);
  tunnel_metrics_detach(&svc.metrics, &tunnels[1]);
  tunnel_metrics_detach(&svc.metrics, &tunnels[2]);
  tunnel_metrics_free(&svc.metrics);
}
