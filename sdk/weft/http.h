/* Weft SDK: the HTTP request a plugin's server_upgrade gets, and helpers
 * to read it (a header's value, the orchestration token of an
 * "Authorization: Bearer" header, whether a Connection or Upgrade list
 * holds a token). Inline: nothing here is part of the ABI but the two
 * structs. <weft/plugin.h> includes this header.
 */
#ifndef WEFT_HTTP_H
#define WEFT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An HTTP request as the core parsed it (header names in lower case).
 * Valid during the call it is passed to. The request may grow (check
 * struct_size); a header may not: headers is an array the plugin steps
 * through by the size of this struct as it was built, so in ABI 1 a
 * header is a name and a value, and what a later minor adds comes as a
 * new request field. */
struct weft_http_header {
  const char *name;
  const char *value;
};
struct weft_http_request {
  uint32_t struct_size;
  const char *method;
  const char *target;   /* path and query */
  const struct weft_http_header *headers;
  size_t header_count;
  const char *peer_ip;
};

/* The value of header `name` (lower case: the core lower-cases the names)
 * in req, or NULL. */
static inline const char *weft_http_header(const struct weft_http_request *req,
                                           const char *name)
{
  for (size_t i = 0; i < req->header_count; i++)
    if (strcmp(req->headers[i].name, name) == 0)
      return req->headers[i].value;
  return NULL;
}

/* The token of an "Authorization: Bearer TOKEN" header (the scheme's case
 * does not matter), or NULL when there is none. */
static inline const char *weft_http_bearer(const struct weft_http_request *req)
{
  const char *auth = weft_http_header(req, "authorization");
  static const char scheme[] = "bearer ";
  if (!auth)
    return NULL;
  for (size_t i = 0; i < sizeof scheme - 1; i++) {
    char c = auth[i];
    if (c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    if (c != scheme[i])
      return NULL;
  }
  return auth[sizeof scheme - 1] ? auth + sizeof scheme - 1 : NULL;
}

/* True when a comma-separated header value (Connection, Upgrade) lists
 * token, compared without regard to ASCII case. */
static inline bool weft_http_has_token(const char *value, const char *token)
{
  size_t tlen = strlen(token);
  for (const char *p = value; p && *p;) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    size_t n = strcspn(p, ",");
    size_t m = n;
    while (m && (p[m - 1] == ' ' || p[m - 1] == '\t'))
      m--;
    bool same = m == tlen;
    for (size_t i = 0; same && i < m; i++) {
      char a = p[i], b = token[i];
      if (a >= 'A' && a <= 'Z')
        a = (char)(a - 'A' + 'a');
      if (b >= 'A' && b <= 'Z')
        b = (char)(b - 'A' + 'a');
      same = a == b;
    }
    if (same)
      return true;
    p += n;
  }
  return false;
}

#ifdef __cplusplus
}
#endif

#endif /* WEFT_HTTP_H */
