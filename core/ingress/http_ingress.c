#include "ingress/http_ingress.h"

#include <assert.h>
#include <http_parser.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <weft/errors.h>

#include "acme/acme_challenges.h"
#include "http/http_head.h"
#include "ingress/http_capture.h"
#include "http/http_server.h"
#include "tunnel/tunnel_ports.h"
#include "net/listen.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "net/stream.h"
#include "tunnel/tunnel_metrics.h"
#include "tunnel/tunnels.h"

/* A client gets this long to send its first request head, and each later
 * one from its first byte. */
#define FIRST_HEAD_TIMEOUT_MS 10000
/* A routed connection is looked at this often (guard_tick). Bytes that
 * wait send_timeout for a visitor who reads none of them (or a byte now
 * and then) mean it is gone or stalling, holding one of the tunnel's
 * streams for nothing (nginx's send_timeout); a request body must come at
 * BODY_MIN_RATE once body_timeout is over (Apache's mod_reqtimeout). */
#define GUARD_MS 1000
#define BODY_MIN_RATE 500 /* bytes a second */

/* R_END: the device answers what was forwarded, then our last word
 * (end_after_answers); nothing more is read. */
enum rstate { R_HEAD, R_BODY, R_RAW, R_END, R_DEAD };

/* Requests forwarded and not yet answered, for the metrics: when each
 * head was complete (uv_hrtime) and whether it was a HEAD. Deeper
 * pipelining than this is counted without latency. */
#define ASKED_MAX 8

struct route_conn {
  struct http_ingress *ing;
  struct weft_stream *stream;
  struct route_conn *prev, *next; /* while not yet handed over */
  uv_timer_t *timer;              /* first-head, then response deadline */
  uv_timer_t *guard;              /* slow visitors, once routed */
  /* The tunnels and their timeouts: they outlive ing, which closes (and
   * is freed) before the tunnels that hold handed-over connections. */
  const struct tunnel_service *svc;
  uint64_t head_since;            /* loop ms: a later head's first byte */
  uint64_t body_since, body_bytes; /* the request body coming now */
  http_parser parser;
  enum rstate state;
  struct http_head head;          /* the request head being read */
  size_t skip;                    /* head bytes at the start of a body feed */
  /* Where its requests go. */
  char tunnel_id[32];
  bool routed, by_path, handed_over;
  /* A WebSocket upgrade was asked for: the device's status line says
   * whether the connection switches to raw bytes (101) or stays HTTP. */
  bool awaiting_101, switched;
  bool chunked;                   /* this request's body is chunked */
  char status[12];                /* "HTTP/1.1 101" as it comes */
  size_t status_len;
  /* The device's answers, read as they pass (answer_peek) to count them
   * by class and time them; off after a 101 or what does not parse. */
  bool counting;
  http_parser answers;
  uint64_t asked_ns[ASKED_MAX];
  bool asked_head[ASKED_MAX];
  unsigned asked_first, asked_n, asked_untimed;
  char host[256];
  char peer_ip[46];
  /* Set when the public TLS port terminated TLS for this host name: only
   * requests for it are routed (no fronting another name behind its
   * certificate), and they are marked https. */
  char tls_name[256];
  struct strbuf pending;          /* output before the hand-over */
  struct strbuf last_word;        /* R_END before the hand-over */
  struct http_capture *cap;       /* its tunnel's inspector is on, or NULL */
};

struct http_ingress {
  struct tunnel_service *svc;
  uv_loop_t *loop;
  uv_tcp_t *listener;
  struct route_conn *waiting;     /* connections not yet routed */
};

static void emit(struct route_conn *rc, const char *data, size_t len)
{
  if (!len)
    return;
  if (rc->handed_over)
    stream_emit(rc->stream, data, len);
  else
    strbuf_add(&rc->pending, data, len);
}

/* ---- routing ---- */

static struct tunnel *by_path(struct tunnel_service *svc, const char *target,
                              size_t *strip)
{
  char id[32];
  struct tunnel *t = http_head_path_tunnel(target, id, strip)
                         ? tunnel_service_find(svc, id)
                         : NULL;
  /* A tunnel published as https:// is reached by its name, never in
   * plain text by path. */
  return t && t->tls_mode == TUNNEL_TLS_NONE ? t : NULL;
}

static void rc_free(void *arg);
static void answered_here(struct route_conn *rc, int status);
static void unlink_waiting(struct route_conn *rc);
static void stop_timer(struct route_conn *rc);
static void stop_guard(struct route_conn *rc);

/* A request after others that went to the device is not forwarded: the
 * device answers those (it hears the end of input), then the visitor gets
 * resp, in order, and the connection ends. */
static void end_after_answers(struct route_conn *rc, struct strbuf *resp)
{
  assert(rc->routed);
  rc->state = R_END;
  if (rc->handed_over) {
    stream_end_input(rc->stream, resp->data, resp->oom ? 0 : resp->len);
    strbuf_free(resp);
  } else {
    rc->last_word = *resp; /* hand_over passes it on */
    memset(resp, 0, sizeof *resp);
  }
}

/* Answers a request the server cannot route (or answers itself) and ends
 * the connection, after the answers to earlier requests on it. extra:
 * more header lines, or "". */
static void answer(struct route_conn *rc, int status, const char *extra,
                   const char *text)
{
  struct strbuf resp = {0};
  strbuf_addf(&resp,
              "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n%s"
              "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
              status, http_status_text(status), extra, strlen(text) + 1, text);
  if (rc->routed) {
    end_after_answers(rc, &resp);
    return;
  }
  rc->state = R_DEAD;
  if (rc->handed_over) {
    strbuf_free(&resp);
    stream_close(rc->stream); /* its answers come from the device */
    return;
  }
  unlink_waiting(rc);
  stop_timer(rc);
  stream_set_filter(rc->stream, NULL, rc_free, rc); /* freed at close */
  stream_end(rc->stream, resp.data, resp.oom ? 0 : resp.len);
  strbuf_free(&resp);
}

static void refuse(struct route_conn *rc, int status, const char *text)
{
  answer(rc, status, "", text);
}

/* What a visitor reads when the tunnel cannot answer: the status and one
 * plain sentence, nothing internal. */
static void error_page(struct strbuf *out, int status, const char *extra,
                       const char *text)
{
  const char *title = http_status_text(status);
  struct strbuf body = {0};
  strbuf_addf(&body,
              "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
              "<title>%d %s</title></head>\n<body><h1>%d %s</h1>\n<p>%s</p>"
              "</body></html>\n",
              status, title, status, title, text);
  strbuf_addf(out,
              "HTTP/1.1 %d %s\r\nContent-Type: text/html; charset=utf-8\r\n"
              "Cache-Control: no-store\r\n%sContent-Length: %zu\r\n"
              "Connection: close\r\n\r\n%s",
              status, title, extra, body.len, strbuf_str(&body));
  strbuf_free(&body);
}

/* Answers with an error page instead of the device (see answer()). */
static void answer_page(struct route_conn *rc, int status, const char *extra,
                        const char *text)
{
  struct strbuf resp = {0};
  error_page(&resp, status, extra, text);
  rc->state = R_DEAD;
  unlink_waiting(rc);
  stop_timer(rc);
  stream_set_filter(rc->stream, NULL, rc_free, rc); /* freed at close */
  stream_end(rc->stream, resp.data, resp.oom ? 0 : resp.len);
  strbuf_free(&resp);
}

#define STOPPING_TEXT                                                        \
  "The server is restarting or stopping. Try again in a moment."

#define OFFLINE_TEXT                                                         \
  "The device that serves this address is offline or reconnecting. Try "    \
  "again in a moment."

/* The tunnel's transport would not take the request (adopt failed): the
 * stream is still ours, so the visitor gets a page instead of nothing. */
static void not_carried(struct route_conn *rc, int err)
{
  rc->handed_over = false; /* it was not: the answer is ours to give */
  answered_here(rc, err == WEFT_EDENIED ? 403 : err == WEFT_ELIMIT ? 429 : 503);
  if (err == WEFT_EDENIED)
    answer_page(rc, 403, "", "Your address may not reach this service.");
  else if (err == WEFT_ELIMIT)
    answer_page(rc, 429, "Retry-After: 5\r\n",
                "Too many connections from your address to this service.");
  else
    answer_page(rc, 503, "Retry-After: 5\r\n", OFFLINE_TEXT);
}

/* The device's service said nothing for response_timeout after the
 * visitor's last byte: 504. Once it has said something, the deadline is
 * over (a slow body is the service's business). */
static void no_answer(uv_timer_t *timer)
{
  struct route_conn *rc = timer->data;
  stop_timer(rc);
  if (stream_answered(rc->stream) || rc->state == R_DEAD)
    return;
  answered_here(rc, 504);
  struct strbuf resp = {0};
  error_page(&resp, 504, "",
             "The service behind this address did not answer in time.");
  rc->state = R_DEAD;
  stream_answer(rc->stream, resp.data, resp.oom ? 0 : resp.len);
  strbuf_free(&resp);
}

/* (Re)starts the response deadline while the service has not answered. */
static void await_answer(struct route_conn *rc)
{
  uint64_t ms = rc->svc->response_timeout_ms;
  if (!ms || rc->state == R_DEAD || stream_answered(rc->stream))
    return;
  if (!rc->timer) {
    rc->timer = malloc(sizeof *rc->timer);
    if (!rc->timer)
      return;
    uv_timer_init(rc->svc->loop, rc->timer);
    rc->timer->data = rc;
  }
  uv_timer_start(rc->timer, no_answer, ms, 0);
}

/* The device's side failed before its service said a byte (it refused or
 * reset the connection, or the device went away): 502. */
static void bad_gateway(void *arg, int err)
{
  struct route_conn *rc = arg;
  (void)err;
  answered_here(rc, 502);
  struct strbuf resp = {0};
  error_page(&resp, 502, "",
             "The service behind this address refused or dropped the "
             "connection.");
  rc->state = R_DEAD;
  stream_answer(rc->stream, resp.data, resp.oom ? 0 : resp.len);
  strbuf_free(&resp);
}

/* An ACME server checking a challenge for a certificate this server is
 * getting (HTTP-01 asks on port 80, before any routing). The table is
 * empty unless an order is under way. */
static bool acme_answer(struct route_conn *rc, const char *target)
{
  char keyauth[512];
  if (acme_challenges_answer(target, keyauth, sizeof keyauth) != 0)
    return false;
  answer(rc, 200, "", keyauth);
  return true;
}

/* Plain HTTP for a name published as https: a redirect when the server
 * is set to give one; else a terminated tunnel is served plainly too, and
 * a passthrough one (its device speaks only TLS) is refused. true when
 * the request was answered here. */
static bool https_only(struct route_conn *rc, const struct tunnel *t,
                       const char *host, const char *target)
{
  enum tunnel_tls mode = t->tls_mode;
  struct tunnel_service *svc = rc->ing->svc;
  if (rc->tls_name[0] || mode == TUNNEL_TLS_NONE)
    return false;
  if (svc->https_redirect && svc->tls_port) {
    struct strbuf where = {0};
    if (svc->tls_port == 443)
      strbuf_addf(&where, "Location: https://%s%s\r\n", host, target);
    else
      strbuf_addf(&where, "Location: https://%s:%u%s\r\n", host,
                  svc->tls_port, target);
    answer(rc, 308, where.oom ? "" : strbuf_str(&where),
           "this host is served over https");
    strbuf_free(&where);
    return true;
  }
  if (mode == TUNNEL_TLS_PASSTHROUGH) {
    refuse(rc, 404, "this host is served over https only");
    return true;
  }
  return false;
}

/* ---- counting answers for the metrics ---- */

static void asked(struct route_conn *rc, bool head)
{
  if (rc->asked_n == ASKED_MAX) {
    rc->asked_untimed++;
    return;
  }
  unsigned i = (rc->asked_first + rc->asked_n++) % ASKED_MAX;
  rc->asked_ns[i] = uv_hrtime();
  rc->asked_head[i] = head;
}

/* The oldest request got an answer with this status: counted for the
 * tunnel. Its HEAD flag, or false when none was waiting. */
static bool answered(struct route_conn *rc, int status)
{
  double seconds = -1;
  bool head = false;
  if (rc->asked_n) {
    seconds = (double)(uv_hrtime() - rc->asked_ns[rc->asked_first]) / 1e9;
    head = rc->asked_head[rc->asked_first];
    rc->asked_first = (rc->asked_first + 1) % ASKED_MAX;
    rc->asked_n--;
  } else if (rc->asked_untimed) {
    rc->asked_untimed--;
  }
  struct tunnel *t = tunnel_service_find(rc->svc, rc->tunnel_id);
  if (t)
    tunnel_metrics_http(t, status, seconds);
  return head;
}

static int answer_head_done(http_parser *p)
{
  struct route_conn *rc = p->data;
  int status = p->status_code;
  if (status / 100 == 1 && status != 101)
    return 0; /* interim (100 Continue): the answer is still to come */
  bool head = answered(rc, status);
  if (status == 101)
    rc->counting = false; /* the bytes that follow are not HTTP */
  return head ? 1 : 0; /* 1: an answer to HEAD has no body */
}

static const http_parser_settings answer_settings = {
    .on_headers_complete = answer_head_done,
};

static void count_answers(struct route_conn *rc, const char *data, size_t len)
{
  size_t n = http_parser_execute(&rc->answers, &answer_settings, data, len);
  if (HTTP_PARSER_ERRNO(&rc->answers) != HPE_OK || n != len)
    rc->counting = false; /* not HTTP/1.1 as we know it: stop counting */
}

/* The server answered in the device's place (502, 504...). */
static void answered_here(struct route_conn *rc, int status)
{
  if (rc->routed)
    answered(rc, status);
  rc->counting = false;
}

/* The device's answer to a WebSocket upgrade, as it comes: only its 101
 * switches the connection to raw bytes. Any other answer leaves it HTTP,
 * every later request parsed and rewritten, so an upgrade the backend
 * refuses cannot carry requests past Weft's rewriting. (An earlier
 * pipelined request's answer would be read as the refusal: the upgrade
 * then fails, never the rewriting.) */
static void status_peek(void *arg, const char *data, size_t len)
{
  struct route_conn *rc = arg;
  assert(rc->awaiting_101 && rc->status_len < sizeof rc->status);
  size_t n = sizeof rc->status - rc->status_len;
  if (n > len)
    n = len;
  memcpy(rc->status + rc->status_len, data, n);
  rc->status_len += n;
  if (rc->status_len < sizeof rc->status)
    return;
  rc->awaiting_101 = false;
  if (memcmp(rc->status, "HTTP/1.1 101", 12) &&
      memcmp(rc->status, "HTTP/1.0 101", 12))
    return;
  rc->switched = true;
  if (rc->state == R_HEAD)
    rc->state = R_RAW; /* the upgrade request is complete */
}

/* What the device answers, as it goes by: counted by class, to the
 * inspector, and the status line of an upgrade's answer. */
static void answer_peek(void *arg, const char *data, size_t len)
{
  struct route_conn *rc = arg;
  if (rc->cap)
    http_capture_answer(rc->cap, data, len);
  if (rc->counting)
    count_answers(rc, data, len);
  if (rc->awaiting_101)
    status_peek(rc, data, len);
  if (!rc->counting && !rc->awaiting_101 && !rc->cap)
    stream_set_answer_peek(rc->stream, NULL);
}

/* Routes the request whose head is complete and emits it rewritten.
 * false when the connection must end. */
static bool head_complete(struct route_conn *rc)
{
  struct tunnel_service *svc = rc->ing->svc;
  if (rc->head.url.oom || rc->head.hdrs.oom) {
    refuse(rc, 400, "out of memory");
    return false;
  }
  const char *target = strbuf_str(&rc->head.url);
  const char *bad = http_head_refusal(&rc->head, &rc->parser);
  if (bad) {
    refuse(rc, 400, bad);
    return false;
  }
  rc->chunked = rc->parser.flags & F_CHUNKED;
  char host[256];
  if (http_head_host(&rc->head, host, sizeof host) < 0) {
    refuse(rc, 400, "the request needs exactly one valid Host");
    return false;
  }
  if (!host[0] && rc->tls_name[0])
    snprintf(host, sizeof host, "%s", rc->tls_name);
  if (rc->tls_name[0] && strcmp(host, rc->tls_name)) {
    refuse(rc, 421, "this connection serves only the host name it was "
                    "opened for");
    return false;
  }
  if (!rc->tls_name[0] && acme_answer(rc, target))
    return false;
  if (rc->parser.method == HTTP_CONNECT) {
    answer(rc, 405, "Allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n",
           "CONNECT is not served here");
    return false;
  }
  if (rc->parser.upgrade && http_head_websocket_upgrade(&rc->head) &&
      !rc->awaiting_101 && !rc->switched) {
    rc->awaiting_101 = true;
    rc->status_len = 0;
    stream_set_answer_peek(rc->stream, answer_peek);
  }
  size_t strip = 0;
  struct tunnel *t = host[0] ? tunnel_service_by_hostname(svc, host) : NULL;
  if (t && !rc->routed && https_only(rc, t, host, target))
    return false;
  bool path = false;
  if (!t && !rc->tls_name[0]) {
    t = by_path(svc, target, &strip);
    path = t != NULL;
    if (path && target[strip] != '/') {
      /* "/tID" or "/tID?q": the app's relative links need the slash. */
      struct strbuf where = {0};
      strbuf_addf(&where, "Location: %.*s/%s\r\n", (int)strip, target,
                  target + strip);
      answer(rc, 308, where.oom ? "" : strbuf_str(&where),
             "the tunnel's root is its path with a slash");
      strbuf_free(&where);
      return false;
    }
  }
  bool first = !rc->routed;
  if (rc->routed) {
    /* A keep-alive connection stays with the tunnel it began with. */
    if (!t || strcmp(t->lease->tunnel_id, rc->tunnel_id) || path != rc->by_path) {
      refuse(rc, 421, "this connection serves another tunnel; send the "
                      "request on a new connection");
      return false;
    }
  } else {
    if (!t) {
      refuse(rc, 404, "no tunnel serves this host or path");
      return false;
    }
    if (!t->plugin_ctx) {
      answer_page(rc, 503, "Retry-After: 5\r\n", OFFLINE_TEXT);
      return false;
    }
    rc->routed = true;
    rc->by_path = path;
    snprintf(rc->tunnel_id, sizeof rc->tunnel_id, "%s", t->lease->tunnel_id);
    snprintf(rc->host, sizeof rc->host, "%s", host);
  }
  if (t->inspect || rc->cap) {
    http_capture_request(&rc->cap, svc, t, first, &rc->head, &rc->parser,
                         host);
    if (rc->cap)
      stream_set_answer_peek(rc->stream, answer_peek);
  }
  struct strbuf out = {0};
  http_head_rewrite(&rc->head, &rc->parser, strip, rc->peer_ip,
                    rc->tls_name[0] ? "https" : "http", &out);
  emit(rc, out.data, out.len);
  strbuf_free(&out);
  if (!rc->answers.data) { /* the first request: the answers are read */
    http_parser_init(&rc->answers, HTTP_RESPONSE);
    rc->answers.data = rc;
    rc->counting = true;
    stream_set_answer_peek(rc->stream, answer_peek);
  }
  if (rc->counting)
    asked(rc, rc->parser.method == HTTP_HEAD);
  return true;
}

/* ---- the filter: bytes from the public client ---- */

/* A chunked body is framed again from what the parser read, so that the
 * device reads exactly that (no chunk-extension, odd spacing or missing
 * CRLF of the visitor's to be read another way), and its trailers, which
 * could carry forwarding headers, are dropped. */
static struct route_conn *rc_of_parser(http_parser *p)
{
  /* http_head_settings needs p->data to be the head: the connection's. */
  return (struct route_conn *)((char *)p->data -
                               offsetof(struct route_conn, head));
}

static int chunk_out(http_parser *p, const char *at, size_t len)
{
  struct route_conn *rc = rc_of_parser(p);
  char size[24];
  int n = snprintf(size, sizeof size, "%zx\r\n", len);
  emit(rc, size, (size_t)n);
  emit(rc, at, len);
  if (rc->cap)
    http_capture_body(rc->cap, at, len);
  emit(rc, "\r\n", 2);
  return 0;
}

static int chunks_end(http_parser *p)
{
  emit(rc_of_parser(p), "0\r\n\r\n", 5);
  http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings chunked_body = {
    .on_body = chunk_out,
    .on_message_complete = chunks_end,
};

static void feed(void *arg, const char *data, size_t len)
{
  struct route_conn *rc = arg;
  if (rc->handed_over && rc->timer)
    await_answer(rc); /* the visitor is still sending: the wait restarts */
  while (len > 0 && rc->state != R_DEAD && rc->state != R_END) {
    if (rc->state == R_RAW) {
      emit(rc, data, len);
      return;
    }
    const http_parser_settings *how =
        rc->state == R_BODY && rc->chunked ? &chunked_body : &http_head_settings;
    if (rc->state == R_HEAD && !rc->head_since)
      rc->head_since = uv_now(rc->svc->loop);
    size_t n = http_parser_execute(&rc->parser, how, data, len);
    enum http_errno err = HTTP_PARSER_ERRNO(&rc->parser);
    if (rc->state == R_BODY)
      rc->body_bytes += n;
    if (rc->state == R_HEAD) {
      if (err == HPE_OK && n == len)
        return; /* the head goes on in the next read */
      if (err != HPE_PAUSED) {
        if (http_head_too_large(&rc->head))
          refuse(rc, 431, "request head too large");
        else
          refuse(rc, 400, http_errno_description(err));
        return;
      }
      /* Paused at the end of the head, before its final LF. */
      http_parser_pause(&rc->parser, 0);
      if (!head_complete(rc))
        return;
      rc->state = R_BODY;
      rc->skip = 1;
      rc->head_since = 0;
      rc->body_since = uv_now(rc->svc->loop);
      rc->body_bytes = 0;
      data += n;
      len -= n;
      continue;
    }
    /* R_BODY: a Content-Length body goes on as it came; a chunked one
     * was framed again by chunk_out. */
    if (n > rc->skip && !rc->chunked) {
      emit(rc, data + rc->skip, n - rc->skip);
      if (rc->cap)
        http_capture_body(rc->cap, data + rc->skip, n - rc->skip);
    }
    rc->skip = n >= rc->skip ? 0 : rc->skip - n;
    if (err == HPE_PAUSED) { /* the message is complete */
      http_parser_pause(&rc->parser, 0);
      rc->state = R_HEAD;
      if (rc->switched) {
        rc->state = R_RAW; /* WebSocket: the device's app speaks it */
      } else if (rc->parser.upgrade) {
        /* An upgrade not (yet) accepted, or another kind (h2c...), its
         * headers dropped: the next bytes are the next request, read as
         * HTTP/1.1 like any other, until a 101 comes (status_peek). */
        http_parser_init(&rc->parser, HTTP_REQUEST);
        rc->parser.data = &rc->head;
      }
    } else if (err != HPE_OK) {
      /* Framing the device would read otherwise: what came before it is
       * answered, then 400. */
      refuse(rc, 400, http_errno_description(err));
      return;
    }
    data += n;
    len -= n;
  }
}

/* ---- connections before they are routed ---- */

static void rc_free(void *arg)
{
  struct route_conn *rc = arg;
  stop_timer(rc); /* the response deadline, if one runs */
  stop_guard(rc);
  http_capture_free(rc->cap);
  http_head_free(&rc->head);
  strbuf_free(&rc->pending);
  strbuf_free(&rc->last_word);
  free(rc);
}

static void unlink_waiting(struct route_conn *rc)
{
  if (rc->prev)
    rc->prev->next = rc->next;
  else if (rc->ing && rc->ing->waiting == rc)
    rc->ing->waiting = rc->next;
  if (rc->next)
    rc->next->prev = rc->prev;
  rc->prev = rc->next = NULL;
}

static void timer_closed(uv_handle_t *h) { free(h); }

static void stop_timer(struct route_conn *rc)
{
  if (rc->timer) {
    uv_close((uv_handle_t *)rc->timer, timer_closed);
    rc->timer = NULL;
  }
}

static void stop_guard(struct route_conn *rc)
{
  if (rc->guard) {
    uv_close((uv_handle_t *)rc->guard, timer_closed);
    rc->guard = NULL;
  }
}

/* Visitors can be slow at will: one line per 10 s says so. */
static void log_slow(struct route_conn *rc, const char *what)
{
  static struct log_limit limit = {.window_ms = 10000};
  unsigned missed;
  if (log_limited(&limit, uv_now(rc->svc->loop), &missed))
    log_info("public HTTP: closed a connection from %s: %s (and %u more "
             "slow ones in the last 10 s)",
             rc->peer_ip, what, missed);
}

/* Ends a connection whose visitor is too slow: a 408 page while the
 * device has not answered, else the close. */
static void too_slow(struct route_conn *rc, const char *what)
{
  log_slow(rc, what);
  if (stream_answered(rc->stream)) {
    rc->state = R_DEAD;
    stream_close(rc->stream);
    return;
  }
  answered_here(rc, 408);
  struct strbuf resp = {0};
  error_page(&resp, 408, "", "The request came too slowly.");
  rc->state = R_DEAD;
  stream_answer(rc->stream, resp.data, resp.oom ? 0 : resp.len);
  strbuf_free(&resp);
}

static void guard_tick(uv_timer_t *t)
{
  struct route_conn *rc = t->data;
  if (rc->state == R_DEAD)
    return;
  uint64_t now = uv_now(rc->svc->loop);
  if (rc->svc->send_timeout_ms &&
      stream_send_stalled_ms(rc->stream) > rc->svc->send_timeout_ms) {
    log_slow(rc, "it read nothing of the answer waiting for it");
    rc->state = R_DEAD;
    stream_close(rc->stream);
  } else if (rc->state == R_BODY && rc->svc->body_timeout_ms &&
             now - rc->body_since >
                 rc->svc->body_timeout_ms + rc->body_bytes * 1000 / BODY_MIN_RATE) {
    too_slow(rc, "its request body came slower than 500 bytes a second");
  } else if (rc->state == R_HEAD && rc->head_since &&
             now - rc->head_since > FIRST_HEAD_TIMEOUT_MS) {
    too_slow(rc, "its request head took over 10 s");
  }
}

static void first_head_late(uv_timer_t *t)
{
  struct route_conn *rc = t->data;
  stream_close(rc->stream);
}

static void hand_over(struct route_conn *rc)
{
  /* Once, for a routed request still alive, while the ingress is open
   * (closing it closes every waiting connection first). */
  assert(rc->ing && rc->routed && !rc->handed_over && rc->state != R_DEAD);
  struct tunnel *t = tunnel_service_find(rc->ing->svc, rc->tunnel_id);
  unlink_waiting(rc);
  stop_timer(rc);
  struct weft_stream *s = rc->stream;
  /* From here on the socket's bytes go through the filter, and the rewritten
   * first bytes go first. */
  stream_set_filter(s, feed, rc_free, rc);
  stream_set_http(s, rc->host[0] ? rc->host : NULL);
  stream_handover(s, rc->pending.data, rc->pending.len);
  strbuf_free(&rc->pending);
  rc->handed_over = true;
  stream_set_fail_answer(s, bad_gateway);
  int err = t ? tunnel_ports_adopt(t, s) : WEFT_ECONNREFUSED;
  if (err != 0) {
    not_carried(rc, err);
    return;
  }
  await_answer(rc);
  rc->guard = malloc(sizeof *rc->guard);
  if (rc->guard) {
    uv_timer_init(rc->svc->loop, rc->guard);
    rc->guard->data = rc;
    uv_timer_start(rc->guard, guard_tick, GUARD_MS, GUARD_MS);
  }
  if (rc->state == R_END) {
    stream_end_input(s, rc->last_word.data,
                     rc->last_word.oom ? 0 : rc->last_word.len);
    strbuf_free(&rc->last_word);
  }
}

static void waiting_read(void *ctx, const void *data, size_t len)
{
  struct route_conn *rc = ctx;
  /* After the hand-over (or an answer) the stream calls us no more. */
  assert(!rc->handed_over && rc->state != R_DEAD && rc->state != R_END &&
         rc->ing);
  feed(rc, data, len);
  if (rc->state != R_DEAD && rc->routed && !rc->handed_over)
    hand_over(rc);
}

static void waiting_eof(void *ctx)
{
  struct route_conn *rc = ctx;
  stream_close(rc->stream);
}

static void waiting_closed(void *ctx, int err)
{
  (void)err;
  struct route_conn *rc = ctx;
  assert(!rc->handed_over);
  unlink_waiting(rc);
  stop_timer(rc);
  rc_free(rc);
}

static const struct weft_stream_cbs waiting_cbs = {
    .on_read = waiting_read,
    .on_eof = waiting_eof,
    .on_closed = waiting_closed,
};

static void adopt(struct http_ingress *ing, struct weft_stream *s,
                  const char *tls_name)
{
  struct route_conn *rc = calloc(1, sizeof *rc);
  uv_timer_t *timer = rc ? calloc(1, sizeof *timer) : NULL;
  if (!timer) {
    free(rc);
    stream_discard(s);
    return;
  }
  rc->ing = ing;
  rc->svc = ing->svc;
  rc->stream = s;
  rc->timer = timer;
  snprintf(rc->tls_name, sizeof rc->tls_name, "%s", tls_name ? tls_name : "");
  http_parser_init(&rc->parser, HTTP_REQUEST);
  rc->parser.data = &rc->head;
  struct weft_stream_info info = {.struct_size = sizeof info};
  stream_info(s, &info);
  snprintf(rc->peer_ip, sizeof rc->peer_ip, "%s", info.peer_ip);
  rc->next = ing->waiting;
  if (rc->next)
    rc->next->prev = rc;
  ing->waiting = rc;
  uv_timer_init(ing->loop, timer);
  timer->data = rc;
  uv_timer_start(timer, first_head_late, FIRST_HEAD_TIMEOUT_MS, 0);
  stream_start(s, &waiting_cbs, rc);
}

static void on_connection(uv_stream_t *server, int status)
{
  struct http_ingress *ing = server->data;
  if (status < 0)
    return;
  struct weft_stream *s = stream_accept(ing->loop, server);
  if (s)
    adopt(ing, s, NULL);
}

void http_ingress_adopt_tls(struct http_ingress *ing, struct weft_stream *s,
                            const char *name)
{
  adopt(ing, s, name);
}

int http_ingress_open(struct tunnel_service *svc, uv_loop_t *loop,
                      const char *host, uint16_t port,
                      struct http_ingress **out)
{
  struct http_ingress *ing = calloc(1, sizeof *ing);
  if (!ing)
    return UV_ENOMEM;
  ing->svc = svc;
  ing->loop = loop;
  /* host NULL: only connections the public TLS port terminated */
  int rc = listen_tcp_new(loop, host, port, on_connection, ing,
                          &ing->listener);
  if (rc != 0) {
    free(ing);
    return rc;
  }
  *out = ing;
  return 0;
}

void http_ingress_close(struct http_ingress *ing)
{
  if (!ing)
    return;
  listen_tcp_free(ing->listener);
  while (ing->waiting) {
    /* A visitor whose request was coming as the server stops gets an
     * answer (then the close), not a connection closed on it. */
    struct route_conn *rc = ing->waiting;
    answer_page(rc, 503, "Retry-After: 2\r\n", STOPPING_TEXT);
    rc->ing = NULL;
  }
  free(ing);
}

int http_ingress_local(const struct http_ingress *ing, char *addr,
                       size_t len, uint16_t *port)
{
  struct sockaddr_storage ss;
  int n = sizeof ss;
  if (!ing->listener)
    return UV_ENOTCONN; /* only what the TLS port terminates */
  int rc = uv_tcp_getsockname(ing->listener, (struct sockaddr *)&ss, &n);
  if (rc != 0)
    return rc;
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    static const struct in6_addr any = IN6ADDR_ANY_INIT;
    if (!memcmp(&a->sin6_addr, &any, sizeof any))
      a->sin6_addr = in6addr_loopback;
    *port = ntohs(a->sin6_port);
    return uv_ip6_name(a, addr, len);
  }
  struct sockaddr_in *a = (struct sockaddr_in *)&ss;
  if (a->sin_addr.s_addr == htonl(INADDR_ANY))
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  *port = ntohs(a->sin_port);
  return uv_ip4_name(a, addr, len);
}
