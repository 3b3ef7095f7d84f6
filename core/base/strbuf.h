/* A growable string for messages built in pieces. */
#ifndef WEFT_CORE_STRBUF_H
#define WEFT_CORE_STRBUF_H

#include <stddef.h>

struct strbuf {
  char *data; /* always NUL-terminated once anything was added; may be NULL */
  size_t len, cap;
  int oom;    /* set when an append failed for lack of memory */
};

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void strbuf_add(struct strbuf *sb, const char *data, size_t len);
/* The text so far, "" when empty; valid until the next append or free. */
const char *strbuf_str(const struct strbuf *sb);
void strbuf_reset(struct strbuf *sb);
void strbuf_free(struct strbuf *sb);

#endif
