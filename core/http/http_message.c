#include "http/http_message.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void http_limits_default(struct http_limits *l)
{
  l->max_header_bytes = 16 * 1024;
  l->max_body_bytes = 1024 * 1024;
  l->header_timeout_ms = 10 * 1000;
  l->idle_timeout_ms = 60 * 1000;
  l->max_conns_per_ip = 256;
  l->max_conns = 4096;
}

const char *http_status_text(int status)
{
  switch (status) {
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 204: return "No Content";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 421: return "Misdirected Request";
  case 413: return "Content Too Large";
  case 426: return "Upgrade Required";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  default: return "Unknown";
  }
}

void http_response_error(struct http_response *resp, int status,
                         const char *code, const char *message)
{
  resp->status = status;
  resp->content_type = "application/json";
  strbuf_reset(&resp->body);
  json_t *doc = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message",
                          message);
  char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  if (text)
    strbuf_addf(&resp->body, "%s\n", text);
  free(text);
  json_decref(doc);
}

const char *http_request_header(const struct http_request *req,
                                const char *name)
{
  for (size_t i = 0; i < req->header_count; i++)
    if (!strcasecmp(req->headers[i].name, name))
      return req->headers[i].value;
  return NULL;
}
