/* The HTTP inspector's side of the public HTTP port: on a connection
 * whose tunnel has its inspector on (tunnel/inspect.h), each request's
 * head and body as the visitor sent them, and the device's answer to it,
 * read with a response parser of its own as the answer goes by, into an
 * entry of the tunnel's ring. Copies are capped (INSPECT_BODY_MAX); a
 * connection of a tunnel whose inspector is off has no capture at all. */
#ifndef WEFT_INGRESS_HTTP_CAPTURE_H
#define WEFT_INGRESS_HTTP_CAPTURE_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>

struct http_capture;
struct http_head;
struct tunnel;
struct tunnel_service;

/* The head of a request routed to t is complete (first: the connection's
 * first). A capture starts with a connection's first request when t's
 * inspector is on (*cap NULL before), and then takes its every request. */
void http_capture_request(struct http_capture **cap,
                          struct tunnel_service *svc, struct tunnel *t,
                          bool first, const struct http_head *h,
                          const http_parser *p, const char *host);
/* Bytes of the latest request's body, as the visitor sent them. */
void http_capture_body(struct http_capture *cap, const char *data,
                       size_t len);
/* Bytes of the device's answer, in order. */
void http_capture_answer(struct http_capture *cap, const char *data,
                         size_t len);
/* The connection ends: what was answered is kept, then cap is freed. */
void http_capture_free(struct http_capture *cap);

#endif
