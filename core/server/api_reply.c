/* Replies and request checks every control API handler shares. */
#include "server/control_api_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/errors.h>

void api_reply_json(struct http_response *resp, int status, json_t *doc)
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

void api_reply_error(struct http_response *resp, int status, const char *code,
                     const char *message)
{
  http_response_error(resp, status, code, message);
}

void api_retry_after(struct http_response *resp, uint64_t ms)
{
  strbuf_addf(&resp->headers, "Retry-After: %llu\r\n",
              (unsigned long long)((ms + 999) / 1000));
}

/* The request target's path, without the query string. */
size_t api_path_len(const char *url) { return strcspn(url, "?#"); }

bool api_path_is(const char *url, const char *path)
{
  size_t n = api_path_len(url);
  return n == strlen(path) && !strncmp(url, path, n);
}

bool api_method_is(const struct http_request *req, const char *m)
{
  return !strcmp(req->method, m);
}

void api_method_not_allowed(struct http_response *resp, const char *allow)
{
  api_reply_error(resp, 405, "method_not_allowed", "method not allowed here");
  strbuf_addf(&resp->headers, "Allow: %s\r\n", allow);
}

/* Parses the body as one JSON object; replies 400 and returns NULL if not. */
json_t *api_body_object(const struct http_request *req,
                        struct http_response *resp)
{
  json_error_t error;
  json_t *doc = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES,
                           &error);
  if (!doc || !json_is_object(doc)) {
    char msg[300];
    if (doc)
      snprintf(msg, sizeof msg, "the body must be a JSON object");
    else
      snprintf(msg, sizeof msg, "the body is not JSON: %s (line %d, column %d)",
               error.text, error.line, error.column);
    json_decref(doc);
    api_reply_error(resp, 400, "bad_request", msg);
    return NULL;
  }
  return doc;
}

/* Refuses members outside `allowed`, so a typo is an error, not ignored. */
bool api_only_fields(json_t *doc, const char *const *allowed,
                     struct http_response *resp)
{
  const char *key;
  json_t *value;
  json_object_foreach(doc, key, value)
  {
    bool ok = false;
    for (size_t i = 0; allowed[i]; i++)
      ok |= !strcmp(allowed[i], key);
    if (!ok) {
      char msg[200];
      snprintf(msg, sizeof msg, "unknown field '%.64s'", key);
      api_reply_error(resp, 400, "bad_request", msg);
      return false;
    }
  }
  return true;
}

/* A string member, or NULL; replies 400 if present but not a string. */
bool api_string_field(json_t *doc, const char *name, const char **out,
                      struct http_response *resp)
{
  json_t *v = json_object_get(doc, name);
  *out = NULL;
  if (!v || json_is_null(v))
    return true;
  if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
    char msg[128];
    snprintf(msg, sizeof msg, "'%s' must be a string", name);
    api_reply_error(resp, 400, "bad_request", msg);
    return false;
  }
  *out = json_string_value(v);
  return true;
}

bool api_fixed_b64(json_t *doc, const char *name, uint8_t *out, size_t len)
{
  const char *text = json_string_value(json_object_get(doc, name));
  size_t n;
  return text && b64url_decode(text, strlen(text), out, len, &n) == 0 &&
         n == len;
}

char *api_b64_text(const uint8_t *bin, size_t len, char *buf, size_t size)
{
  b64url_encode(bin, len, buf, size);
  return buf;
}

void api_request_view(const struct http_request *req,
                      struct weft_http_header *headers,
                      struct weft_http_request *view)
{
  for (size_t i = 0; i < req->header_count; i++)
    headers[i] = (struct weft_http_header){req->headers[i].name,
                                           req->headers[i].value};
  *view = (struct weft_http_request){
      .struct_size = sizeof *view,
      .method = req->method,
      .target = req->url,
      .headers = headers,
      .header_count = req->header_count,
      .peer_ip = req->peer_ip,
  };
}

int api_query_value(const char *url, const char *key, char *out, size_t len)
{
  out[0] = '\0';
  const char *q = strchr(url, '?');
  size_t klen = strlen(key);
  for (const char *p = q ? q + 1 : NULL; p && *p;) {
    size_t n = strcspn(p, "&#");
    if (n > klen && p[klen] == '=' && !strncmp(p, key, klen)) {
      size_t vlen = n - klen - 1;
      if (vlen == 0 || vlen >= len)
        return -1;
      memcpy(out, p + klen + 1, vlen);
      out[vlen] = '\0';
      return 1;
    }
    if (p[n] != '&')
      break; /* the end, or the fragment */
    p += n + 1;
  }
  return 0;
}
