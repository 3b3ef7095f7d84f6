#include "base/strpool.h"

#include <stdlib.h>
#include <string.h>

char *strpool_ndup(struct strpool *pool, const char *s, size_t n)
{
  if (pool->count == pool->cap) {
    size_t cap = pool->cap ? pool->cap * 2 : 16;
    char **items = realloc(pool->items, cap * sizeof *items);
    if (!items)
      return NULL;
    pool->items = items;
    pool->cap = cap;
  }
  char *copy = malloc(n + 1);
  if (!copy)
    return NULL;
  memcpy(copy, s, n);
  copy[n] = '\0';
  pool->items[pool->count++] = copy;
  return copy;
}

char *strpool_dup(struct strpool *pool, const char *s)
{
  return strpool_ndup(pool, s, strlen(s));
}

void strpool_free(struct strpool *pool)
{
  for (size_t i = 0; i < pool->count; i++)
    free(pool->items[i]);
  free(pool->items);
  pool->items = NULL;
  pool->count = pool->cap = 0;
}
