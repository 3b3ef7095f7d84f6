/* HTTP/1.1 messages as the core's HTTP code shares them: a parsed request,
 * the response a handler fills, the limits a server enforces, and small
 * helpers. No sockets here: http_reader.c makes requests from bytes and
 * http_server.c serves them on the loop. */
#ifndef WEFT_CORE_HTTP_MESSAGE_H
#define WEFT_CORE_HTTP_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/strbuf.h"

#define HTTP_MAX_HEADERS 64

struct http_header {
  char *name; /* lower-cased */
  char *value;
};

struct http_request {
  const char *method;            /* "GET", "POST"... */
  bool upgrade;                  /* asks to switch protocols */
  char *url;                     /* request target as sent */
  struct http_header headers[HTTP_MAX_HEADERS];
  size_t header_count;
  char *body;                    /* NUL-terminated, may hold NULs */
  size_t body_len;
  char peer_ip[46];
  char local_ip[46];             /* the address the client reached */
  uint16_t local_port;
  bool local;                    /* came over the server's Unix socket */
  bool tls;                      /* the connection speaks TLS */
  uint8_t binding[32];           /* its RFC 9266 channel binding */
  size_t binding_len;            /* 0 without TLS */
};

struct weft_stream;
struct http_pending;

struct http_response {
  int status;
  const char *content_type;  /* default application/json */
  struct strbuf headers;     /* extra "Name: value\r\n" lines */
  struct strbuf body;
  bool close;                /* close the connection after this response */
  /* Set by a handler that takes the request's connection (an upgrade, or
   * a response it streams itself, such as an event stream): instead of a
   * response, the connection (and any bytes after the request) goes to
   * take_over, which owns it from then on and writes the answer. */
  void (*take_over)(void *arg, const struct http_request *req,
                    struct weft_stream *conn);
  void *take_over_arg;
  /* Set by a handler whose answer comes later (work on the thread pool):
   * nothing is sent now, the connection reads no further request, and
   * later(later_arg, pending) is called once the handler has returned.
   * The handler answers exactly once with http_pending_answer(pending). */
  void (*later)(void *arg, struct http_pending *pending);
  void *later_arg;
};

/* The answer to a request a handler deferred (resp->later): sent if the
 * connection is still open (else dropped); pending and resp's body and
 * headers are freed. pending may be NULL (the server could not hold it). */
void http_pending_answer(struct http_pending *pending,
                         struct http_response *resp);

typedef void (*http_handler_fn)(void *data, const struct http_request *req,
                                struct http_response *resp);

struct http_limits {
  size_t max_header_bytes;
  size_t max_body_bytes;
  uint64_t header_timeout_ms;
  uint64_t idle_timeout_ms;
  unsigned max_conns_per_ip;
  unsigned max_conns;
};

void http_limits_default(struct http_limits *limits);

/* Header lookup, case-insensitive; NULL if absent. */
const char *http_request_header(const struct http_request *req,
                                const char *name);

/* Fills resp with a JSON error body {"error":{"code":...,"message":...}}. */
void http_response_error(struct http_response *resp, int status,
                         const char *code, const char *message);

const char *http_status_text(int status);

#endif
