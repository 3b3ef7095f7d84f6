/* A bag of heap strings freed together: the config's values live here. */
#ifndef WEFT_CORE_STRPOOL_H
#define WEFT_CORE_STRPOOL_H

#include <stddef.h>

struct strpool {
  char **items;
  size_t count, cap;
};

/* A copy of s (n bytes, or up to the NUL with strpool_dup) owned by the pool;
 * NULL when out of memory. */
char *strpool_dup(struct strpool *pool, const char *s);
char *strpool_ndup(struct strpool *pool, const char *s, size_t n);
void strpool_free(struct strpool *pool);

#endif
