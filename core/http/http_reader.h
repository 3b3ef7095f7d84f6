/* Turns bytes from a client into complete HTTP/1.1 requests with
 * http-parser, within limits: header bytes and count, body size, no
 * connection upgrades handed back to the caller. Knows nothing of sockets,
 * so the server and the fuzzer share it. */
#ifndef WEFT_CORE_HTTP_READER_H
#define WEFT_CORE_HTTP_READER_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>

#include "http/http_message.h"
#include "base/strbuf.h"

struct http_reader {
  http_parser parser;
  const struct http_limits *limits;
  struct http_request req;
  struct strbuf url, field, value, body;
  bool last_was_value;
  size_t header_bytes;
  int reject_status;
  /* After an upgrade request the reader stops; bytes after it belong to
   * the new protocol and start at offset `upgrade_at` of the last feed. */
  bool upgraded;
  size_t upgrade_at;
  /* Asked by the owner from on_request (http_reader_pause): the feed
   * stops after this request, and says how much it used. */
  bool pause_wanted;
  /* Called when a request starts (e.g. to arm a deadline) and when one is
   * complete; keep_alive says whether the connection may carry another. */
  void (*on_begin)(void *arg);
  void (*on_request)(void *arg, struct http_request *req,
                     bool keep_alive);
  void *arg;
};

void http_reader_init(struct http_reader *r, const struct http_limits *limits,
                      void (*on_begin)(void *arg),
                      void (*on_request)(void *arg,
                                         struct http_request *req,
                                         bool keep_alive),
                      void *arg);
/* Feeds bytes; returns 0, or the HTTP status to refuse the connection with
 * (400 malformed, 413 body too large, 431 headers too large, 500 out of
 * memory); after an error, or an upgrade, the reader takes no more input.
 * *used says how many bytes it took: all of them, unless the owner paused
 * it from on_request, when the rest is the owner's to feed again later. */
int http_reader_feed(struct http_reader *r, const char *data, size_t len,
                     size_t *used);
/* From on_request: stop after this request (the owner owes the peer too
 * much already). The next feed goes on where this one stopped. */
void http_reader_pause(struct http_reader *r);
/* A short reason for the last refusal. */
const char *http_reader_error(const struct http_reader *r);
void http_reader_free(struct http_reader *r);

#endif
