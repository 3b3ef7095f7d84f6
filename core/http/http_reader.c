#include "http/http_reader.h"

#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static struct http_reader *reader_of(http_parser *p) { return p->data; }

static void request_reset(struct http_reader *r)
{
  for (size_t i = 0; i < r->req.header_count; i++) {
    free(r->req.headers[i].name);
    free(r->req.headers[i].value);
  }
  r->req.header_count = 0;
  r->req.url = NULL;
  r->req.body = NULL;
  r->req.body_len = 0;
  strbuf_reset(&r->url);
  strbuf_reset(&r->field);
  strbuf_reset(&r->value);
  strbuf_reset(&r->body);
  r->last_was_value = false;
  r->header_bytes = 0;
}

static int count_header_bytes(struct http_reader *r, size_t len)
{
  r->header_bytes += len;
  if (r->header_bytes > r->limits->max_header_bytes) {
    r->reject_status = 431;
    return -1;
  }
  return 0;
}

static int on_message_begin(http_parser *p)
{
  struct http_reader *r = reader_of(p);
  request_reset(r);
  if (r->on_begin)
    r->on_begin(r->arg);
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
  struct http_reader *r = reader_of(p);
  if (count_header_bytes(r, len))
    return -1;
  strbuf_add(&r->url, at, len);
  return 0;
}

static int finish_header(struct http_reader *r)
{
  if (!r->field.len)
    return 0;
  if (r->req.header_count == HTTP_MAX_HEADERS) {
    r->reject_status = 431;
    return -1;
  }
  struct http_header *h = &r->req.headers[r->req.header_count];
  h->name = strdup(strbuf_str(&r->field));
  h->value = strdup(strbuf_str(&r->value));
  if (!h->name || !h->value) {
    free(h->name);
    free(h->value);
    r->reject_status = 500;
    return -1;
  }
  for (char *n = h->name; *n; n++)
    if (*n >= 'A' && *n <= 'Z')
      *n = (char)(*n - 'A' + 'a');
  r->req.header_count++;
  strbuf_reset(&r->field);
  strbuf_reset(&r->value);
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
  struct http_reader *r = reader_of(p);
  if (count_header_bytes(r, len))
    return -1;
  if (r->last_was_value && finish_header(r))
    return -1;
  r->last_was_value = false;
  strbuf_add(&r->field, at, len);
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
  struct http_reader *r = reader_of(p);
  if (count_header_bytes(r, len))
    return -1;
  r->last_was_value = true;
  strbuf_add(&r->value, at, len);
  return 0;
}

static int on_headers_complete(http_parser *p)
{
  struct http_reader *r = reader_of(p);
  if (finish_header(r))
    return -1;
  if (p->content_length != ULLONG_MAX &&
      p->content_length > r->limits->max_body_bytes) {
    r->reject_status = 413;
    return -1;
  }
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
  struct http_reader *r = reader_of(p);
  if (r->body.len + len > r->limits->max_body_bytes) {
    r->reject_status = 413;
    return -1;
  }
  strbuf_add(&r->body, at, len);
  return 0;
}

static int on_message_complete(http_parser *p)
{
  struct http_reader *r = reader_of(p);
  if (r->url.oom || r->body.oom || r->field.oom || r->value.oom) {
    r->reject_status = 500;
    return -1;
  }
  r->req.method = http_method_str((enum http_method)p->method);
  r->req.upgrade = p->upgrade != 0;
  r->req.url = r->url.data ? r->url.data : (char *)"";
  r->req.body = r->body.data ? r->body.data : (char *)"";
  r->req.body_len = r->body.len;
  r->on_request(r->arg, &r->req, http_should_keep_alive(p) != 0);
  if (r->pause_wanted)
    http_parser_pause(p, 1); /* execute returns right after this message */
  return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void http_reader_init(struct http_reader *r, const struct http_limits *limits,
                      void (*on_begin)(void *arg),
                      void (*on_request)(void *arg,
                                         struct http_request *req,
                                         bool keep_alive),
                      void *arg)
{
  memset(r, 0, sizeof *r);
  http_parser_init(&r->parser, HTTP_REQUEST);
  r->parser.data = r;
  r->limits = limits;
  r->on_begin = on_begin;
  r->on_request = on_request;
  r->arg = arg;
}

void http_reader_pause(struct http_reader *r) { r->pause_wanted = true; }

int http_reader_feed(struct http_reader *r, const char *data, size_t len,
                     size_t *used_out)
{
  *used_out = len;
  if (r->reject_status)
    return r->reject_status;
  if (r->upgraded)
    return 0;
  if (r->pause_wanted) { /* the owner feeds again: go on */
    r->pause_wanted = false;
    http_parser_pause(&r->parser, 0);
  }
  size_t used = http_parser_execute(&r->parser, &settings, data, len);
  if (r->parser.http_errno == HPE_OK && r->parser.upgrade) {
    r->upgraded = true;
    r->upgrade_at = used;
    return 0;
  }
  if (r->parser.http_errno == HPE_PAUSED && r->pause_wanted) {
    assert(used <= len);
    *used_out = used;
    return 0;
  }
  if (r->parser.http_errno != HPE_OK || used != len) {
    if (!r->reject_status)
      r->reject_status = 400;
    return r->reject_status;
  }
  return 0;
}

const char *http_reader_error(const struct http_reader *r)
{
  switch (r->reject_status) {
  case 413: return "request body too large";
  case 431: return "request headers too large";
  case 500: return "out of memory";
  default: return http_errno_description(HTTP_PARSER_ERRNO(&r->parser));
  }
}

void http_reader_free(struct http_reader *r)
{
  request_reset(r);
  strbuf_free(&r->url);
  strbuf_free(&r->field);
  strbuf_free(&r->value);
  strbuf_free(&r->body);
}
