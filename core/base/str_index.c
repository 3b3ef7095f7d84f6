#include "base/str_index.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct str_index_entry {
  struct str_index_entry *next;
  const char *key;
  void *value;
};

#define FIRST_SLOTS 64

void str_index_init(struct str_index *ix)
{
  memset(ix, 0, sizeof *ix);
  /* sodium_init is idempotent; without randomness (it fails only then)
   * the key stays zero: lookups still work, only guessable. */
  if (sodium_init() >= 0)
    randombytes_buf(ix->key, sizeof ix->key);
}

void str_index_free(struct str_index *ix)
{
  for (size_t i = 0; ix->slots && i <= ix->mask; i++) {
    struct str_index_entry *e = ix->slots[i];
    while (e) {
      struct str_index_entry *next = e->next;
      free(e);
      e = next;
    }
  }
  free(ix->slots);
  ix->slots = NULL;
  ix->mask = ix->count = 0;
}

static size_t slot_of(const struct str_index *ix, const char *key)
{
  uint64_t h;
  crypto_shorthash((unsigned char *)&h, (const unsigned char *)key,
                   strlen(key), ix->key);
  return (size_t)h & ix->mask;
}

/* Twice the slots (or the first ones); entries keep their order within a
 * slot, so the latest of equal keys stays first. Fails without harm. */
static int grow(struct str_index *ix)
{
  size_t n = ix->slots ? (ix->mask + 1) * 2 : FIRST_SLOTS;
  struct str_index_entry **slots = calloc(n, sizeof *slots);
  if (!slots)
    return -1;
  struct str_index old = *ix;
  ix->slots = slots;
  ix->mask = n - 1;
  for (size_t i = 0; old.slots && i <= old.mask; i++) {
    /* Walk each old chain into a new tail position to keep order. */
    for (struct str_index_entry *e = old.slots[i], *next; e; e = next) {
      next = e->next;
      struct str_index_entry **tail = &slots[slot_of(ix, e->key)];
      while (*tail)
        tail = &(*tail)->next;
      e->next = NULL;
      *tail = e;
    }
  }
  free(old.slots);
  return 0;
}

int str_index_add(struct str_index *ix, const char *key, void *value)
{
  if ((!ix->slots || ix->count > ix->mask) && grow(ix) != 0 && !ix->slots)
    return -1; /* a full table still works, only slower */
  struct str_index_entry *e = malloc(sizeof *e);
  if (!e)
    return -1;
  e->key = key;
  e->value = value;
  struct str_index_entry **slot = &ix->slots[slot_of(ix, key)];
  e->next = *slot;
  *slot = e;
  ix->count++;
  return 0;
}

void *str_index_get(const struct str_index *ix, const char *key)
{
  if (!ix->slots)
    return NULL;
  for (struct str_index_entry *e = ix->slots[slot_of(ix, key)]; e; e = e->next)
    if (!strcmp(e->key, key))
      return e->value;
  return NULL;
}

void str_index_remove(struct str_index *ix, const char *key, const void *value)
{
  if (!ix->slots)
    return;
  struct str_index_entry **pp = &ix->slots[slot_of(ix, key)];
  while (*pp && !((*pp)->value == value && !strcmp((*pp)->key, key)))
    pp = &(*pp)->next;
  if (!*pp)
    return;
  struct str_index_entry *e = *pp;
  *pp = e->next;
  free(e);
  ix->count--;
}
