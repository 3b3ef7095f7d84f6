/* libFuzzer target: every URL form Weft parses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > URL_MAX_TEXT + 16)
    return 0;
  char *text = malloc(size + 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  char err[256], buf[URL_MAX_TEXT + 512];
  struct url u;
  if (url_parse(text, &u, err, sizeof err) == 0) {
    /* What parses must format, and the formatted text must parse the same. */
    if (url_format(&u, buf, sizeof buf) < 0)
      abort();
    struct url again;
    if (url_parse(buf, &again, err, sizeof err) != 0 ||
        again.port != u.port || again.scheme != u.scheme ||
        strcmp(again.host, u.host) != 0)
      abort();
  }
  struct conn_url c;
  conn_url_parse(text, &c, err, sizeof err);
  enum url_host_kind kind;
  char host[URL_MAX_HOST + 1];
  uint16_t port;
  hostport_parse(text, &kind, host, sizeof host, &port, err, sizeof err);
  free(text);
  return 0;
}
