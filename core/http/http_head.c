#include "http/http_head.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static struct http_head *head_of(http_parser *p) { return p->data; }

static int count(struct http_head *h, size_t len)
{
  h->bytes += len;
  return h->bytes > HTTP_HEAD_MAX ? -1 : 0;
}

static int on_begin(http_parser *p)
{
  struct http_head *h = head_of(p);
  strbuf_reset(&h->url);
  strbuf_reset(&h->hdrs);
  h->count = 0;
  h->in_value = false;
  h->bytes = 0;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
  struct http_head *h = head_of(p);
  strbuf_add(&h->url, at, len);
  return count(h, len);
}

static int on_field(http_parser *p, const char *at, size_t len)
{
  struct http_head *h = head_of(p);
  if (count(h, len))
    return -1;
  if (h->in_value || h->count == 0) {
    if (h->count == HTTP_HEAD_LINES_MAX)
      return -1;
    struct http_head_line *l = &h->lines[h->count++];
    l->name_off = h->hdrs.len;
    l->name_len = 0;
    l->value_off = h->hdrs.len;
    l->value_len = 0;
    h->in_value = false;
  }
  h->lines[h->count - 1].name_len += len;
  strbuf_add(&h->hdrs, at, len);
  return 0;
}

static int on_value(http_parser *p, const char *at, size_t len)
{
  struct http_head *h = head_of(p);
  if (count(h, len) || h->count == 0)
    return -1;
  struct http_head_line *l = &h->lines[h->count - 1];
  if (!h->in_value) {
    l->value_off = h->hdrs.len;
    h->in_value = true;
  }
  l->value_len += len;
  strbuf_add(&h->hdrs, at, len);
  return 0;
}

static int pause_here(http_parser *p)
{
  http_parser_pause(p, 1);
  return 0;
}

const http_parser_settings http_head_settings = {
    .on_message_begin = on_begin,
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = pause_here,
    .on_message_complete = pause_here,
};

void http_head_free(struct http_head *h)
{
  strbuf_free(&h->url);
  strbuf_free(&h->hdrs);
}

bool http_head_too_large(const struct http_head *h)
{
  return h->bytes > HTTP_HEAD_MAX || h->count == HTTP_HEAD_LINES_MAX;
}

static bool line_is(const struct http_head *h, const struct http_head_line *l,
                    const char *name)
{
  return l->name_len == strlen(name) &&
         !strncasecmp(h->hdrs.data + l->name_off, name, l->name_len);
}

static const struct http_head_line *host_line(const struct http_head *h,
                                              size_t *seen)
{
  const struct http_head_line *found = NULL;
  *seen = 0;
  for (size_t i = 0; i < h->count; i++)
    if (line_is(h, &h->lines[i], "host") && (*seen)++ == 0)
      found = &h->lines[i];
  return found;
}

void http_head_raw_host(const struct http_head *h, char *out, size_t len)
{
  size_t seen;
  const struct http_head_line *l = host_line(h, &seen);
  out[0] = '\0';
  if (!l)
    return;
  snprintf(out, len, "%.*s", (int)l->value_len, h->hdrs.data + l->value_off);
  for (char *c = out; *c; c++)
    if (*c == '\r' || *c == '\n')
      *c = ' ';
}

/* Bytes a Host may hold: a DNS name, an IPv4 address, or a bracketed IPv6
 * one, and a port. */
static bool host_byte(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == ':' ||
         c == '[' || c == ']' || c == '_';
}

int http_head_host(const struct http_head *h, char *out, size_t len)
{
  size_t seen;
  const struct http_head_line *l = host_line(h, &seen);
  out[0] = '\0';
  if (!l)
    return 1;
  const char *v = h->hdrs.data + l->value_off;
  size_t n = l->value_len;
  if (seen > 1 || n == 0 || n >= len)
    return -1;
  for (size_t k = 0; k < n; k++)
    if (!host_byte(v[k]))
      return -1;
  if (v[0] != '[') {
    const char *colon = memchr(v, ':', n);
    if (colon)
      n = (size_t)(colon - v);
  }
  if (n && v[n - 1] == '.')
    n--;
  if (n == 0)
    return -1;
  for (size_t k = 0; k < n; k++)
    out[k] = (char)((v[k] >= 'A' && v[k] <= 'Z') ? v[k] - 'A' + 'a' : v[k]);
  out[n] = '\0';
  return 0;
}

bool http_head_path_tunnel(const char *target, char id[32], size_t *strip)
{
  if (target[0] != '/' || target[1] != 't')
    return false;
  size_t n = strcspn(target + 1, "/?#");
  if (n == 0 || n >= 32)
    return false;
  memcpy(id, target + 1, n);
  id[n] = '\0';
  *strip = 1 + n;
  return true;
}

bool http_head_websocket_upgrade(const struct http_head *h)
{
  for (size_t i = 0; i < h->count; i++) {
    const struct http_head_line *l = &h->lines[i];
    if (!line_is(h, l, "upgrade"))
      continue;
    /* A list of protocols: "websocket", or "websocket, other" */
    const char *v = h->hdrs.data + l->value_off;
    size_t n = l->value_len;
    for (size_t at = 0; at < n;) {
      while (at < n && (v[at] == ' ' || v[at] == '\t' || v[at] == ','))
        at++;
      size_t len = 0;
      while (at + len < n && v[at + len] != ',' && v[at + len] != ' ' &&
             v[at + len] != '\t' && v[at + len] != '/')
        len++;
      if (len == 9 && !strncasecmp(v + at, "websocket", 9))
        return true;
      at += len;
      while (at < n && v[at] != ',')
        at++;
    }
  }
  return false;
}

/* RFC 9110's tchar: the bytes a field name is made of. */
static bool tchar(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

const char *http_head_refusal(const struct http_head *h, const http_parser *p)
{
  bool te = false;
  for (size_t i = 0; i < h->count; i++) {
    const struct http_head_line *l = &h->lines[i];
    const unsigned char *name =
        (const unsigned char *)h->hdrs.data + l->name_off;
    if (l->name_len == 0)
      return "a header line without a name";
    for (size_t k = 0; k < l->name_len; k++)
      if (!tchar(name[k]))
        return "a header name with a space or a character it may not hold";
    const char *v = h->hdrs.data + l->value_off;
    for (size_t k = 0; k < l->value_len; k++)
      if (v[k] == '\r' || v[k] == '\n' || v[k] == '\0')
        return "a header value folded over lines, or with a NUL";
    te |= line_is(h, l, "transfer-encoding");
  }
  if (te && !(p->flags & F_CHUNKED))
    return "a Transfer-Encoding that does not end in chunked";
  return NULL;
}

/* Headers by which a client would say who it is or where it came from:
 * only the server says that. Compared with '_' as '-', as CGI-style
 * backends read them (X_Forwarded_For becomes HTTP_X_FORWARDED_FOR). */
static bool forwarding_header(const struct http_head *h,
                              const struct http_head_line *l)
{
  static const char *const exact[] = {
      "forwarded",        "x-real-ip",        "true-client-ip",
      "x-client-ip",      "client-ip",        "x-cluster-client-ip",
      "cf-connecting-ip", "fastly-client-ip", "x-original-forwarded-for",
      "x-originating-ip", "x-remote-ip",      "x-remote-addr",
      /* the HTTP inspector's mark on its replays: read before this */
      "x-weft-replay",
  };
  char name[64];
  if (l->name_len >= sizeof name)
    return false;
  for (size_t k = 0; k < l->name_len; k++) {
    char c = h->hdrs.data[l->name_off + k];
    name[k] = c == '_' ? '-' : (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
  }
  name[l->name_len] = '\0';
  if (!strncmp(name, "x-forwarded-", 12))
    return true;
  for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
    if (!strcmp(name, exact[i]))
      return true;
  return false;
}

void http_head_rewrite(const struct http_head *h, const http_parser *p,
                       size_t strip, const char *peer_ip, const char *proto,
                       struct strbuf *out)
{
  const char *target = strbuf_str(&h->url);
  const char *rest = target + (strip <= h->url.len ? strip : h->url.len);
  strbuf_addf(out, "%s %s%s HTTP/%u.%u\r\n",
              http_method_str((enum http_method)p->method),
              (*rest == '/') ? "" : "/", rest, p->http_major, p->http_minor);
  /* An upgrade to anything but WebSocket (h2c, say) is not passed on: the
   * server keeps reading the connection as HTTP/1.1, so the backend must
   * not switch either. */
  bool drop_upgrade = p->upgrade && !http_head_websocket_upgrade(h);
  for (size_t i = 0; i < h->count; i++) {
    const struct http_head_line *l = &h->lines[i];
    if (drop_upgrade &&
        (line_is(h, l, "upgrade") || line_is(h, l, "connection") ||
         line_is(h, l, "http2-settings")))
      continue;
    /* What the client says about forwarding is not believed, and the
     * length is the one parsed. */
    if (forwarding_header(h, l) || line_is(h, l, "content-length"))
      continue;
    strbuf_add(out, h->hdrs.data + l->name_off, l->name_len);
    strbuf_add(out, ": ", 2);
    strbuf_add(out, h->hdrs.data + l->value_off, l->value_len);
    strbuf_add(out, "\r\n", 2);
  }
  if ((p->flags & F_CONTENTLENGTH) && !(p->flags & F_CHUNKED))
    strbuf_addf(out, "Content-Length: %llu\r\n",
                (unsigned long long)p->content_length);
  char forwarded_host[256];
  http_head_raw_host(h, forwarded_host, sizeof forwarded_host);
  strbuf_addf(out, "X-Forwarded-For: %s\r\nX-Forwarded-Proto: %s\r\n",
              peer_ip, proto);
  if (forwarded_host[0])
    strbuf_addf(out, "X-Forwarded-Host: %s\r\n", forwarded_host);
  if (strip > 0 && strip <= h->url.len) /* the path prefix it removed */
    strbuf_addf(out, "X-Forwarded-Prefix: %.*s\r\n", (int)strip, target);
  strbuf_add(out, "\r\n", 2);
}
