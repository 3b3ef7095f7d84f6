#include "agent/agent_metrics.h"

#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/prom.h"
#include "base/url.h"
#include "net/stream.h"
#include "version.h"

/* ---- bytes to and from each tunnel's local service ---- */

static void local_traffic(void *arg, size_t in, size_t out)
{
  struct open_tunnel *ot = arg;
  ot->local_in += in;
  ot->local_out += out;
}

/* A transport dials hostname:port: the first tunnel whose local service
 * that is gets the stream's bytes. */
static void dial_account(void *arg, const char *hostname, uint16_t port,
                         struct stream_account *out)
{
  struct agent *a = arg;
  for (size_t i = 0; i < a->count; i++) {
    struct open_tunnel *ot = &a->tunnels[i];
    if (ot->local.port == port && !strcmp(ot->local.host, hostname)) {
      *out = (struct stream_account){local_traffic, NULL, ot};
      return;
    }
  }
}

/* ---- the scrape ---- */

static const char *phase_name(enum weft_tunnel_phase p)
{
  switch (p) {
  case WEFT_TUNNEL_CONNECTING: return "connecting";
  case WEFT_TUNNEL_UP: return "up";
  case WEFT_TUNNEL_RETRYING: return "retrying";
  case WEFT_TUNNEL_FAILED: return "failed";
  }
  return "unknown";
}

static void labels(struct strbuf *b, const struct open_tunnel *ot)
{
  strbuf_reset(b);
  strbuf_add(b, "tunnel=\"", 8);
  prom_escape(b, ot->status.label);
  strbuf_add(b, "\"", 1);
}

static bool is_up(const struct open_tunnel *ot)
{
  return ot->carried && ot->status.phase == WEFT_TUNNEL_UP;
}

static uint64_t up(const struct open_tunnel *ot) { return is_up(ot); }
static uint64_t restarts(const struct open_tunnel *ot)
{
  return ot->status.restarts;
}
static uint64_t local_in(const struct open_tunnel *ot) { return ot->local_in; }
static uint64_t local_out(const struct open_tunnel *ot)
{
  return ot->local_out;
}
static uint64_t last_error(const struct open_tunnel *ot)
{
  return ot->status.last_error_at > 0 ? (uint64_t)ot->status.last_error_at
                                      : 0;
}

/* The families with one sample per tunnel. */
static const struct {
  const char *name, *type, *help;
  uint64_t (*get)(const struct open_tunnel *ot);
} simple[] = {
    {"weft_agent_tunnel_up", "gauge",
     "1 while the tunnel's transport carries traffic.", up},
    {"weft_agent_tunnel_reconnects_total", "counter",
     "Attempts to bring the tunnel back after its first.", restarts},
    {"weft_agent_tunnel_local_received_bytes_total", "counter",
     "Bytes read from the tunnel's local service.", local_in},
    {"weft_agent_tunnel_local_sent_bytes_total", "counter",
     "Bytes written to the tunnel's local service.", local_out},
    {"weft_agent_tunnel_last_error_timestamp_seconds", "gauge",
     "When the tunnel last reported an error (Unix time; 0: never).",
     last_error},
};

void agent_metrics_write(const struct agent_metrics *m, struct strbuf *b)
{
  const struct agent *a = m->agent;
  struct strbuf lb = {0};
  prom_header(b, "weft_build_info", "gauge", "Weft version.");
  strbuf_addf(b, "weft_build_info{version=\"%s\"} 1\n", WEFT_VERSION);
  prom_header(b, "weft_agent_tunnel_info", "gauge",
              "A tunnel of this agent: its id on the server and transport.");
  for (size_t i = 0; i < a->count; i++) {
    const struct open_tunnel *ot = &a->tunnels[i];
    labels(&lb, ot);
    strbuf_addf(b, "weft_agent_tunnel_info{%s,id=\"", strbuf_str(&lb));
    prom_escape(b, ot->id);
    strbuf_add(b, "\",transport=\"", 13);
    prom_escape(b, ot->status.transport);
    strbuf_add(b, "\"} 1\n", 5);
  }
  static const enum weft_tunnel_phase phases[] = {
      WEFT_TUNNEL_CONNECTING, WEFT_TUNNEL_UP, WEFT_TUNNEL_RETRYING,
      WEFT_TUNNEL_FAILED};
  prom_header(b, "weft_agent_tunnel_state", "gauge",
              "1 for the state each tunnel is in: connecting, up, retrying "
              "or failed.");
  for (size_t i = 0; i < a->count; i++) {
    const struct open_tunnel *ot = &a->tunnels[i];
    labels(&lb, ot);
    for (size_t p = 0; p < sizeof phases / sizeof *phases; p++)
      strbuf_addf(b, "weft_agent_tunnel_state{%s,state=\"%s\"} %d\n",
                  strbuf_str(&lb), phase_name(phases[p]),
                  ot->carried && ot->status.phase == phases[p]);
  }
  for (size_t f = 0; f < sizeof simple / sizeof *simple; f++) {
    prom_header(b, simple[f].name, simple[f].type, simple[f].help);
    for (size_t i = 0; i < a->count; i++) {
      labels(&lb, &a->tunnels[i]);
      strbuf_addf(b, "%s{%s} %llu\n", simple[f].name, strbuf_str(&lb),
                  (unsigned long long)simple[f].get(&a->tunnels[i]));
    }
  }
  prom_header(b, "weft_agent_tunnel_token_renewals_total", "counter",
              "Orchestration token renewals, by result.");
  for (size_t i = 0; i < a->count; i++) {
    const struct open_tunnel *ot = &a->tunnels[i];
    labels(&lb, ot);
    strbuf_addf(b,
                "weft_agent_tunnel_token_renewals_total{%s,result=\"ok\"} "
                "%llu\n"
                "weft_agent_tunnel_token_renewals_total{%s,result=\"failed\"} "
                "%llu\n",
                strbuf_str(&lb), (unsigned long long)ot->renewals_ok,
                strbuf_str(&lb), (unsigned long long)ot->renewals_failed);
  }
  strbuf_free(&lb);
  proc_metrics_write(&m->proc, "weft_agent", b);
}

static void handle(void *data, const struct http_request *req,
                   struct http_response *resp)
{
  struct agent_metrics *m = data;
  size_t n = strcspn(req->url, "?#");
  if (n != 8 || strncmp(req->url, "/metrics", 8)) {
    resp->status = 404;
    resp->content_type = "text/plain";
    strbuf_addf(&resp->body, "only /metrics is served here\n");
    return;
  }
  if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
    resp->status = 405;
    resp->content_type = "text/plain";
    strbuf_addf(&resp->headers, "Allow: GET, HEAD\r\n");
    strbuf_addf(&resp->body, "GET /metrics\n");
    return;
  }
  resp->status = 200;
  resp->content_type = "text/plain; version=0.0.4";
  agent_metrics_write(m, &resp->body);
}

static bool loopback(enum url_host_kind kind, const char *host)
{
  return (kind == URL_HOST_IPV4 && !strncmp(host, "127.", 4)) ||
         (kind == URL_HOST_IPV6 && !strcmp(host, "::1"));
}

int agent_metrics_start(struct agent_metrics *m, struct agent *a,
                        uv_loop_t *loop, const char *where, char *err,
                        size_t errlen)
{
  memset(m, 0, sizeof *m);
  m->agent = a;
  char text[URL_MAX_HOST + 16];
  if (where[0] && strspn(where, "0123456789") == strlen(where))
    snprintf(text, sizeof text, "127.0.0.1:%s", where); /* PORT alone */
  else if (!strncmp(where, "localhost:", 10))
    snprintf(text, sizeof text, "127.0.0.1:%s", where + 10);
  else
    snprintf(text, sizeof text, "%s", where);
  enum url_host_kind kind;
  char host[URL_MAX_HOST + 1];
  uint16_t port;
  char why[256];
  if (hostport_parse(text, &kind, host, sizeof host, &port, why,
                     sizeof why) != 0) {
    snprintf(err, errlen, "--metrics-listen %s: %s (PORT or HOST:PORT)",
             where, why);
    return -1;
  }
  if (kind == URL_HOST_NAME) {
    snprintf(err, errlen, "--metrics-listen %s: give an IP address or "
                          "localhost, not a name", where);
    return -1;
  }
  if (kind == URL_HOST_ANY) {
    snprintf(err, errlen, "--metrics-listen %s: say which address "
                          "(0.0.0.0:%u for every one)", where, port);
    return -1;
  }
  http_server_init(&m->http, loop, handle, m);
  int rc = http_server_listen(&m->http, host, port);
  if (rc != 0) {
    snprintf(err, errlen, "--metrics-listen %s: %s", where, uv_strerror(rc));
    http_server_close(&m->http, NULL);
    return -1;
  }
  m->listening = true;
  if (!loopback(kind, host))
    log_warn("metrics on %s, which is not loopback: whoever reaches it "
             "reads this agent's tunnel ids, URLs and errors",
             where);
  else
    log_info("metrics at http://%s/metrics", text);
  proc_metrics_start(&m->proc, loop);
  stream_set_dial_account(dial_account, a);
  return 0;
}

void agent_metrics_stop(struct agent_metrics *m)
{
  if (!m->listening)
    return;
  m->listening = false;
  stream_set_dial_account(NULL, NULL);
  proc_metrics_stop(&m->proc);
  http_server_close(&m->http, NULL);
}
