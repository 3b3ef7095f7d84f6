/* libFuzzer target: the public HTTP port's Host routing. Arbitrary bytes
 * go through http-parser into the request head reader (core/http/http_head.c)
 * as the ingress feeds it; at each complete head the Host is normalised,
 * the /{tunnel_id}/ path read, and the head rewritten for the device. The
 * rewritten head must end exactly once (no header smuggled in by the
 * client), a head the ingress forwards (http_head_refusal says nothing)
 * must carry exactly one X-Forwarded-For line, the server's, and a
 * routed Host must be plain lower-case host bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_head.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_host(const char *host)
{
  size_t n = strlen(host);
  if (n == 0 || n >= 256)
    abort();
  for (size_t i = 0; i < n; i++) {
    char c = host[i];
    if ((c >= 'A' && c <= 'Z') || c == '\r' || c == '\n' || c == ' ')
      abort();
  }
}

static void check_rewrite(const struct strbuf *out)
{
  const char *end = NULL;
  for (size_t i = 0; i + 4 <= out->len; i++)
    if (!memcmp(out->data + i, "\r\n\r\n", 4)) {
      if (end)
        abort(); /* a second end of head: the client injected lines */
      end = out->data + i;
    }
  if (out->oom)
    return;
  if (!end || end + 4 != out->data + out->len)
    abort();
}

static void on_head(struct http_head *head, http_parser *p)
{
  char host[256], raw[256], id[32];
  int rc = http_head_host(head, host, sizeof host);
  if (rc == 0)
    check_host(host);
  http_head_raw_host(head, raw, sizeof raw);
  size_t strip = 0;
  const char *target = strbuf_str(&head->url);
  if (http_head_path_tunnel(target, id, &strip) &&
      (strip > strlen(target) || strlen(id) >= sizeof id))
    abort();
  struct strbuf out = {0};
  http_head_rewrite(head, p, strip, "192.0.2.1", "https", &out);
  check_rewrite(&out);
  if (!http_head_refusal(head, p) && !out.oom) {
    size_t xff = 0;
    for (size_t i = 0; i + 18 <= out.len; i++)
      if (!strncasecmp(out.data + i, "\r\nx-forwarded-for:", 18))
        xff++;
    if (xff != 1)
      abort(); /* a client's X-Forwarded-For went through */
  }
  strbuf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct http_head head = {0};
  http_parser parser;
  http_parser_init(&parser, HTTP_REQUEST);
  parser.data = &head;
  const char *in = (const char *)data;
  size_t left = size;
  bool in_head = true;
  while (left > 0) {
    size_t n = http_parser_execute(&parser, &http_head_settings, in, left);
    enum http_errno err = HTTP_PARSER_ERRNO(&parser);
    if (err != HPE_PAUSED)
      break;
    http_parser_pause(&parser, 0);
    if (in_head && !head.url.oom && !head.hdrs.oom)
      on_head(&head, &parser);
    in_head = !in_head; /* heads and message ends alternate */
    if (n == 0 && left > 0) {
      /* paused before consuming: step one byte so the loop ends */
      in++;
      left--;
      continue;
    }
    in += n;
    left -= n;
  }
  http_head_free(&head);
  return 0;
}
