#include "ingress/http_capture.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "http/http_head.h"
#include "tunnel/inspect.h"
#include "tunnel/tunnels.h"

/* Requests sent ahead of their answers (pipelining) that are followed;
 * beyond it the capture gives up on the connection. */
#define IN_FLIGHT_MAX 8

struct http_capture {
  struct tunnel_service *svc;
  char tunnel_id[32];
  struct inspect_entry *flight[IN_FLIGHT_MAX]; /* oldest at first */
  unsigned first, count;
  http_parser resp;
  bool in_value;  /* a header value is being read */
  bool interim;   /* a 1xx answer (not the final one) is being read */
  bool off;       /* given up: an upgrade, a parse error, too many */
};

static struct inspect_entry *oldest(struct http_capture *c)
{
  return c->count ? c->flight[c->first] : NULL;
}

static struct inspect_entry *latest(struct http_capture *c)
{
  return c->count ? c->flight[(c->first + c->count - 1) % IN_FLIGHT_MAX]
                  : NULL;
}

/* The oldest request in flight is done (answered or not): into its
 * tunnel's ring if the inspector is still on there. */
static void settle(struct http_capture *c)
{
  struct inspect_entry *e = oldest(c);
  assert(e);
  c->flight[c->first] = NULL;
  c->first = (c->first + 1) % IN_FLIGHT_MAX;
  c->count--;
  c->in_value = false;
  struct tunnel *t = tunnel_service_find(c->svc, c->tunnel_id);
  if (!t || !t->inspect) {
    inspect_entry_free(e);
    return;
  }
  e->duration_ms = clock_mono_ms() - e->started_ms;
  uint64_t seq = inspect_ring_add(t->inspect, e);
  if (c->svc->inspected)
    c->svc->inspected(c->svc->inspected_arg, t, seq);
}

static void give_up(struct http_capture *c)
{
  c->off = true;
  while (c->count)
    inspect_entry_free(oldest(c)), c->flight[c->first] = NULL,
        c->first = (c->first + 1) % IN_FLIGHT_MAX, c->count--;
}

/* ---- the answer, parsed ---- */

static struct http_capture *of(http_parser *p) { return p->data; }

static int on_field(http_parser *p, const char *at, size_t len)
{
  struct http_capture *c = of(p);
  struct inspect_entry *e = oldest(c);
  if (!e)
    return 1; /* an answer to no request: give up */
  if (c->in_value)
    strbuf_add(&e->resp_headers, "\n", 1);
  c->in_value = false;
  if (e->resp_headers.len + len <= HTTP_HEAD_MAX)
    strbuf_add(&e->resp_headers, at, len);
  return 0;
}

static int on_value(http_parser *p, const char *at, size_t len)
{
  struct http_capture *c = of(p);
  struct inspect_entry *e = oldest(c);
  if (!e)
    return 1;
  if (!c->in_value)
    strbuf_add(&e->resp_headers, ": ", 2);
  c->in_value = true;
  if (e->resp_headers.len + len <= HTTP_HEAD_MAX)
    strbuf_add(&e->resp_headers, at, len);
  return 0;
}

static int on_headers(http_parser *p)
{
  struct http_capture *c = of(p);
  struct inspect_entry *e = oldest(c);
  if (!e)
    return 1;
  if (c->in_value)
    strbuf_add(&e->resp_headers, "\n", 1);
  c->in_value = false;
  e->status = p->status_code;
  c->interim = p->status_code >= 100 && p->status_code < 200 &&
               p->status_code != 101;
  if (c->interim) {
    strbuf_reset(&e->resp_headers); /* only the final answer is kept */
    e->status = 0;
  }
  inspect_entry_charge(e, e->resp_headers.len);
  /* An answer to HEAD has no body whatever its headers say. */
  return !strcmp(e->method, "HEAD") ? 1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
  struct http_capture *c = of(p);
  struct inspect_entry *e = oldest(c);
  if (e)
    inspect_body_add(e, &e->resp_body, at, len);
  return 0;
}

static int on_complete(http_parser *p)
{
  struct http_capture *c = of(p);
  if (c->interim) {
    c->interim = false;
    return 0;
  }
  struct inspect_entry *e = oldest(c);
  if (!e)
    return 1;
  e->complete = true;
  settle(c);
  return 0;
}

static const http_parser_settings answer_settings = {
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers,
    .on_body = on_body,
    .on_message_complete = on_complete,
};

void http_capture_answer(struct http_capture *c, const char *data,
                         size_t len)
{
  if (!c || c->off)
    return;
  size_t n = http_parser_execute(&c->resp, &answer_settings, data, len);
  if (c->resp.upgrade) {
    /* 101: what follows is not HTTP; the upgrade request is kept. */
    if (oldest(c))
      settle(c);
    give_up(c);
  } else if (n != len || HTTP_PARSER_ERRNO(&c->resp) != HPE_OK) {
    give_up(c);
  }
}

/* ---- requests ---- */

void http_capture_request(struct http_capture **cap,
                          struct tunnel_service *svc, struct tunnel *t,
                          bool first, const struct http_head *h,
                          const http_parser *p, const char *host)
{
  struct http_capture *c = *cap;
  if (!c) {
    /* Only from a connection's first request: the answers then line up
     * with the requests. */
    if (!first || !t->inspect)
      return;
    c = calloc(1, sizeof *c);
    if (!c)
      return;
    c->svc = svc;
    snprintf(c->tunnel_id, sizeof c->tunnel_id, "%s", t->lease->tunnel_id);
    http_parser_init(&c->resp, HTTP_RESPONSE);
    c->resp.data = c;
    *cap = c;
  }
  if (c->off)
    return;
  if (c->count == IN_FLIGHT_MAX)
    return give_up(c);
  struct inspect_entry *e = inspect_entry_new();
  if (!e)
    return give_up(c);
  e->time_ms = clock_wall_s() * 1000;
  e->started_ms = clock_mono_ms();
  snprintf(e->method, sizeof e->method, "%s",
           http_method_str((enum http_method)p->method));
  snprintf(e->host, sizeof e->host, "%s", host);
  strbuf_add(&e->target, h->url.data ? h->url.data : "/", h->url.len);
  for (size_t i = 0; i < h->count; i++) {
    const struct http_head_line *l = &h->lines[i];
    const char *name = h->hdrs.data + l->name_off;
    const char *value = h->hdrs.data + l->value_off;
    if (l->name_len == strlen(INSPECT_REPLAY_HEADER) &&
        !strncasecmp(name, INSPECT_REPLAY_HEADER, l->name_len)) {
      if (t->inspect)
        e->replay_of = inspect_replay_claim(t->inspect, value, l->value_len);
      continue; /* the server's own mark, not the visitor's */
    }
    strbuf_addf(&e->req_headers, "%.*s: %.*s\n", (int)l->name_len, name,
                (int)l->value_len, value);
  }
  inspect_entry_charge(e, e->target.len + e->req_headers.len);
  c->flight[(c->first + c->count) % IN_FLIGHT_MAX] = e;
  c->count++;
}

void http_capture_body(struct http_capture *c, const char *data, size_t len)
{
  struct inspect_entry *e = c && !c->off ? latest(c) : NULL;
  if (e)
    inspect_body_add(e, &e->req_body, data, len);
}

void http_capture_free(struct http_capture *c)
{
  if (!c)
    return;
  if (!c->off) {
    /* An answer that ends with the connection ends here; what has no
     * answer is kept as such (a 502 or 504 of the server's own). */
    http_parser_execute(&c->resp, &answer_settings, NULL, 0);
    while (c->count)
      settle(c);
  }
  give_up(c);
  free(c);
}
