/* The HTTP inspector: the ring keeps the newest 50 and frees the rest,
 * bodies are cut at 64 KiB, everything held is counted and given back,
 * a replay's nonce is spent once; and the capture lines answers up with
 * pipelined requests, skips 100 Continue, reads HEAD's answer without a
 * body, ends an answer read to the close, and stops at an upgrade. */
#include <criterion/criterion.h>
#include <http_parser.h>
#include <string.h>

#include "base/str_index.h"
#include "http/http_head.h"
#include "ingress/http_capture.h"
#include "tunnel/inspect.h"
#include "tunnel/lease_types.h"
#include "tunnel/tunnels.h"

Test(inspect, ring_keeps_the_newest)
{
  struct inspect_ring *r = inspect_ring_new();
  for (int i = 0; i < INSPECT_KEEP + 7; i++) {
    struct inspect_entry *e = inspect_entry_new();
    cr_assert_not_null(e);
    cr_assert_eq(inspect_ring_add(r, e), (uint64_t)i + 1);
  }
  cr_assert_eq(r->count, INSPECT_KEEP);
  cr_assert_eq(inspect_ring_at(r, 0)->seq, 8);
  cr_assert_null(inspect_ring_get(r, 7), "the oldest went");
  cr_assert_not_null(inspect_ring_get(r, INSPECT_KEEP + 7));
  inspect_ring_free(r);
  cr_assert_eq(inspect_total(), 0, "all given back");
}

Test(inspect, bodies_are_cut)
{
  static char big[100000];
  memset(big, 'x', sizeof big);
  struct inspect_entry *e = inspect_entry_new();
  inspect_body_add(e, &e->req_body, big, 1000);
  cr_assert_not(e->req_body.cut);
  inspect_body_add(e, &e->req_body, big, sizeof big);
  cr_assert(e->req_body.cut);
  cr_assert_eq(e->req_body.kept.len, INSPECT_BODY_MAX);
  cr_assert_eq(e->req_body.size, 101000);
  cr_assert_geq(inspect_total(), INSPECT_BODY_MAX);
  inspect_entry_free(e);
  cr_assert_eq(inspect_total(), 0);
}

Test(inspect, a_replay_nonce_is_spent_once)
{
  struct inspect_ring *r = inspect_ring_new();
  char nonce[33];
  cr_assert(inspect_replay_expect(r, 5, nonce));
  cr_assert_eq(strlen(nonce), 32);
  cr_assert_eq(inspect_replay_claim(r, "0123456789abcdef0123456789abcdef", 32), 0);
  cr_assert_eq(inspect_replay_claim(r, nonce, 31), 0);
  cr_assert_eq(inspect_replay_claim(r, nonce, 32), 5);
  cr_assert_eq(inspect_replay_claim(r, nonce, 32), 0, "spent");
  for (int i = 0; i < 4; i++)
    cr_assert(inspect_replay_expect(r, 1, nonce));
  cr_assert_not(inspect_replay_expect(r, 1, nonce), "bounded");
  inspect_ring_free(r);
}

/* ---- the capture, on a tunnel of its own ---- */

static struct tunnel_service svc;
static struct lease lease = {.tunnel_id = "t0123456789abcdef"};
static struct tunnel tunnel = {.lease = &lease};
static unsigned told;

static void inspected(void *arg, const struct tunnel *t, uint64_t seq)
{
  (void)arg;
  (void)t;
  told = (unsigned)seq;
}

static void setup(void)
{
  str_index_init(&svc.by_id);
  str_index_add(&svc.by_id, lease.tunnel_id, &tunnel);
  tunnel.inspect = inspect_ring_new();
  svc.inspected = inspected;
  told = 0;
}

static void teardown(void)
{
  inspect_ring_free(tunnel.inspect);
  tunnel.inspect = NULL;
  str_index_free(&svc.by_id);
  cr_assert_eq(inspect_total(), 0);
}

/* Parses one request head as the public HTTP port does and captures it. */
static void request(struct http_capture **cap, bool first, const char *text)
{
  struct http_head h = {0};
  http_parser p;
  http_parser_init(&p, HTTP_REQUEST);
  p.data = &h;
  http_parser_execute(&p, &http_head_settings, text, strlen(text));
  cr_assert_eq(HTTP_PARSER_ERRNO(&p), HPE_PAUSED);
  http_capture_request(cap, &svc, &tunnel, first, &h, &p, "app.test");
  http_head_free(&h);
}

static void answer(struct http_capture *cap, const char *text)
{
  http_capture_answer(cap, text, strlen(text));
}

static const struct inspect_entry *kept(unsigned i)
{
  cr_assert_lt(i, tunnel.inspect->count);
  return inspect_ring_at(tunnel.inspect, i);
}

TestSuite(capture, .init = setup, .fini = teardown);

Test(capture, pipelined_answers_line_up)
{
  struct http_capture *cap = NULL;
  request(&cap, true, "GET /a?x=1 HTTP/1.1\r\nHost: app.test\r\nX-Test: 1\r\n\r\n");
  cr_assert_not_null(cap);
  request(&cap, false, "POST /b HTTP/1.1\r\nHost: app.test\r\nContent-Length: 3\r\n\r\n");
  http_capture_body(cap, "abc", 3);
  answer(cap, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-App: a\r\n\r\nok"
              "HTTP/1.1 100 Continue\r\n\r\n"
              "HTTP/1.1 201 Created\r\nContent-Len");
  cr_assert_eq(tunnel.inspect->count, 1);
  answer(cap, "gth: 4\r\n\r\nmade");
  cr_assert_eq(tunnel.inspect->count, 2);
  cr_assert_eq(told, 2);
  cr_assert_str_eq(kept(0)->method, "GET");
  cr_assert_str_eq(kept(0)->target.data, "/a?x=1");
  cr_assert_eq(kept(0)->status, 200);
  cr_assert_str_eq(kept(0)->resp_body.kept.data, "ok");
  cr_assert(strstr(kept(0)->req_headers.data, "X-Test: 1\n"));
  cr_assert(strstr(kept(0)->resp_headers.data, "X-App: a\n"));
  cr_assert_str_eq(kept(1)->method, "POST");
  cr_assert_str_eq(kept(1)->req_body.kept.data, "abc");
  cr_assert_eq(kept(1)->status, 201, "the 100 Continue is not the answer");
  cr_assert_str_eq(kept(1)->resp_body.kept.data, "made");
  cr_assert(kept(1)->complete);
  http_capture_free(cap);
}

Test(capture, head_and_an_answer_to_the_close)
{
  struct http_capture *cap = NULL;
  request(&cap, true, "HEAD / HTTP/1.1\r\nHost: app.test\r\n\r\n");
  request(&cap, false, "GET /stream HTTP/1.1\r\nHost: app.test\r\n\r\n");
  answer(cap, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"
              "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end");
  cr_assert_eq(tunnel.inspect->count, 1, "HEAD's answer has no body");
  http_capture_free(cap);
  cr_assert_eq(tunnel.inspect->count, 2, "the close ends the second");
  cr_assert_str_eq(kept(1)->resp_body.kept.data, "until the end");
}

Test(capture, unanswered_and_upgraded)
{
  struct http_capture *cap = NULL;
  request(&cap, true, "GET /ws HTTP/1.1\r\nHost: app.test\r\nX-Weft-Replay: nope\r\n\r\n");
  answer(cap, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello");
  cr_assert_eq(tunnel.inspect->count, 1);
  cr_assert_eq(kept(0)->status, 101);
  cr_assert_null(strstr(kept(0)->req_headers.data, "X-Weft-Replay"),
                 "the server's mark is not listed");
  request(&cap, false, "GET /more HTTP/1.1\r\nHost: app.test\r\n\r\n");
  http_capture_free(cap);
  cr_assert_eq(tunnel.inspect->count, 1, "nothing after the upgrade");
  cap = NULL;
  request(&cap, true, "GET /slow HTTP/1.1\r\nHost: app.test\r\n\r\n");
  http_capture_free(cap);
  cr_assert_eq(tunnel.inspect->count, 2);
  cr_assert_eq(kept(1)->status, 0, "kept with no answer");
  cr_assert_not(kept(1)->complete);
}

Test(capture, none_when_off_or_not_first)
{
  struct http_capture *cap = NULL;
  request(&cap, false, "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n");
  cr_assert_null(cap, "a connection's later request does not start one");
  inspect_ring_free(tunnel.inspect);
  tunnel.inspect = NULL;
  request(&cap, true, "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n");
  cr_assert_null(cap, "off: nothing at all");
}
