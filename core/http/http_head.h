/* One HTTP/1.1 request head as the public HTTP port reads it (with
 * http-parser) and routes it: its target and header lines kept as sent,
 * the Host it routes by, the path form /{tunnel_id}/..., and the head
 * rewritten for the device (X-Forwarded-* set by the server, any the client
 * sent dropped). No I/O: http_ingress.c feeds it, and so does the fuzzer. */
#ifndef WEFT_CORE_HTTP_HEAD_H
#define WEFT_CORE_HTTP_HEAD_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/strbuf.h"

#define HTTP_HEAD_MAX (16 * 1024)
#define HTTP_HEAD_LINES_MAX 64

struct http_head_line {
  size_t name_off, name_len, value_off, value_len; /* into hdrs */
};

struct http_head {
  struct strbuf url;
  struct strbuf hdrs;  /* names and values, back to back */
  struct http_head_line lines[HTTP_HEAD_LINES_MAX];
  size_t count;
  bool in_value;
  size_t bytes;        /* head bytes so far, against HTTP_HEAD_MAX */
};

/* http-parser settings that fill the http_head at parser->data and pause
 * the parser at the end of each head and each message. */
extern const http_parser_settings http_head_settings;

void http_head_free(struct http_head *h);
/* The head was too large (bytes or lines) rather than malformed. */
bool http_head_too_large(const struct http_head *h);

/* The Host it routes by: lower case, without port or trailing dot, into
 * out. 0; 1 when there is no Host; -1 when there are two, or the one there
 * is empty or holds bytes no host name has (answer 400). */
int http_head_host(const struct http_head *h, char *out, size_t len);
/* The Host as sent (for X-Forwarded-Host), or "". */
void http_head_raw_host(const struct http_head *h, char *out, size_t len);

/* "/t0123456789abcdef/rest": the tunnel id (into id) and how many bytes of
 * the target to strip; false when the target has no such prefix. */
bool http_head_path_tunnel(const char *target, char id[32], size_t *strip);

/* The head asks to upgrade to WebSocket (the one upgrade the public HTTP
 * port passes through). */
bool http_head_websocket_upgrade(const struct http_head *h);

/* What RFC 9112 forbids that http-parser lets through, in a complete head:
 * a field name that is not a token ("Content-Length :"), a CR, LF or NUL
 * in a value (obs-fold), or Transfer-Encoding on a body it does not frame
 * as chunked. NULL when the head may be forwarded, else why not (400). */
const char *http_head_refusal(const struct http_head *h, const http_parser *p);

/* The head for the device, re-serialized from what was parsed so that the
 * device reads what the server read: the request line with `strip` target
 * bytes removed; every header line as "Name: value" but the client's
 * forwarding ones (X-Forwarded-*, Forwarded, X-Real-IP, True-Client-IP and
 * the like, '_' read as '-') and Content-Length, which is written from the
 * parsed length; then the server's X-Forwarded-For (peer_ip), -Proto
 * (proto) and -Host, and X-Forwarded-Prefix with the bytes stripped, if
 * any. Upgrade, Connection and HTTP2-Settings are dropped from an upgrade
 * that is not WebSocket. */
void http_head_rewrite(const struct http_head *h, const http_parser *p,
                       size_t strip, const char *peer_ip, const char *proto,
                       struct strbuf *out);

#endif
