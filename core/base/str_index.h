/* A hash index from strings to objects, for lookups that run per request
 * or per datagram (a tunnel by its id or its host name). Keys are not
 * copied: each lives in its object, as long as the entry. SipHash with a
 * random key per index, so names chosen by clients cannot be made to
 * collide. */
#ifndef WEFT_CORE_STR_INDEX_H
#define WEFT_CORE_STR_INDEX_H

#include <stddef.h>

struct str_index_entry;

struct str_index {
  struct str_index_entry **slots;
  size_t mask; /* slot count - 1, a power of two less one; 0 before use */
  size_t count;
  unsigned char key[16];
};

/* An empty index (no allocation until the first add). */
void str_index_init(struct str_index *ix);
void str_index_free(struct str_index *ix);

/* 0, or -1 when out of memory. The same key may be added more than once:
 * get then finds the latest. */
int str_index_add(struct str_index *ix, const char *key, void *value);
/* The value added last under key, or NULL. */
void *str_index_get(const struct str_index *ix, const char *key);
/* Removes the entry holding this value under key (no-op if none). */
void str_index_remove(struct str_index *ix, const char *key, const void *value);

#endif
