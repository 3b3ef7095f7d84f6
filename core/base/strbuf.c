#include "base/strbuf.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(struct strbuf *sb, size_t extra)
{
  if (sb->oom)
    return -1;
  if (sb->len + extra + 1 <= sb->cap)
    return 0;
  size_t cap = sb->cap ? sb->cap : 64;
  while (cap < sb->len + extra + 1)
    cap *= 2;
  char *data = realloc(sb->data, cap);
  if (!data) {
    sb->oom = 1;
    return -1;
  }
  sb->data = data;
  sb->cap = cap;
  assert(sb->len + extra < sb->cap); /* and a byte for the NUL */
  return 0;
}

void strbuf_add(struct strbuf *sb, const char *data, size_t len)
{
  if (reserve(sb, len) != 0)
    return;
  memcpy(sb->data + sb->len, data, len);
  sb->len += len;
  sb->data[sb->len] = '\0';
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || reserve(sb, (size_t)n) != 0)
    return;
  va_start(ap, fmt);
  vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  sb->len += (size_t)n;
}

const char *strbuf_str(const struct strbuf *sb)
{
  return sb->data ? sb->data : "";
}

void strbuf_reset(struct strbuf *sb)
{
  sb->len = 0;
  if (sb->data)
    sb->data[0] = '\0';
}

void strbuf_free(struct strbuf *sb)
{
  free(sb->data);
  sb->data = NULL;
  sb->len = sb->cap = 0;
  sb->oom = 0;
}
