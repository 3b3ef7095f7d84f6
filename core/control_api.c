#include "control_api.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void reply_json(struct http_response *resp, int status, json_t *doc)
{
  resp->status = status;
  resp->content_type = "application/json";
  char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  if (text)
    strbuf_addf(&resp->body, "%s\n", text);
  else
    http_response_error(resp, 500, "internal", "out of memory");
  free(text);
  json_decref(doc);
}

/* The request target without its query string. */
static size_t path_len(const char *url)
{
  return strcspn(url, "?#");
}

static bool path_is(const char *url, const char *path)
{
  size_t n = path_len(url);
  return n == strlen(path) && !strncmp(url, path, n);
}

void control_api_handle(void *data, const struct http_request *req,
                        struct http_response *resp)
{
  struct control_api *api = data;
  if (path_is(req->url, "/healthz")) {
    if (strcmp(req->method, "GET")) {
      http_response_error(resp, 405, "method_not_allowed",
                          "use GET on /healthz");
      strbuf_addf(&resp->headers, "Allow: GET\r\n");
      return;
    }
    reply_json(resp, 200,
               json_pack("{s:s,s:s}", "status", "ok", "version",
                         api->version));
    return;
  }
  http_response_error(resp, 404, "not_found", "no such endpoint");
}
