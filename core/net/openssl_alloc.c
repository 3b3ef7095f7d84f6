#include "net/openssl_alloc.h"

#include <malloc.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* A TLS connection takes blocks of 12-22 KiB for a moment, again and
 * again: record buffers for each read and write (SSL_MODE_RELEASE_BUFFERS
 * gives them back at once) and the handshake's message buffer. From the
 * heap each came from its top, what a new connection keeps was placed
 * after it, and its return left a hole that later allocations only partly
 * filled: some 10 KiB per idle wss session, for good. Blocks that large
 * get pages of their own instead, and the last few given back are kept
 * for the next ones (no system call per record).
 *
 * What a connection keeps is some thirty small blocks, which come from
 * malloc as they are: a head on each (to tell how to free it) cost 0.5 KiB
 * per idle wss session. A mapped block is page-aligned instead and listed
 * in a table by address; only a page-aligned block is looked up there. */
#define MAP_MIN (12 * 1024)
#define MAPS_KEPT 8
#define MAP_BUCKETS 1024

struct mapped {
  struct mapped *next;
  void *p;
  size_t len;
};

/* OpenSSL also runs on libuv's worker threads (ACME issuance). */
static pthread_mutex_t maps_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mapped *maps_live[MAP_BUCKETS]; /* in OpenSSL's hands */
static struct mapped *maps_kept[MAPS_KEPT];   /* given back, kept */
static size_t maps_kept_count;

static struct mapped **bucket(const void *p)
{
  uint64_t page = (uintptr_t)p >> 12;
  return &maps_live[(page * 0x9e3779b97f4a7c15ull) >> 54]; /* 10 bits */
}

/* The live mapped block at p, taken off the list if unlist; NULL if p is
 * not one. */
static struct mapped *find_mapped(const void *p, bool unlist)
{
  if ((uintptr_t)p & 4095)
    return NULL;
  pthread_mutex_lock(&maps_lock);
  struct mapped **pp = bucket(p);
  while (*pp && (*pp)->p != p)
    pp = &(*pp)->next;
  struct mapped *m = *pp;
  if (m && unlist)
    *pp = m->next;
  pthread_mutex_unlock(&maps_lock);
  return m;
}

static void *map_block(size_t n)
{
  size_t len = (n + 4095) & ~(size_t)4095;
  /* The smallest kept block that fits, and not much bigger than asked. */
  struct mapped *m = NULL;
  size_t best = MAPS_KEPT;
  pthread_mutex_lock(&maps_lock);
  for (size_t i = 0; i < maps_kept_count; i++)
    if (maps_kept[i]->len >= len && maps_kept[i]->len <= len + len / 4 &&
        (best == MAPS_KEPT || maps_kept[i]->len < maps_kept[best]->len))
      best = i;
  if (best < MAPS_KEPT) {
    m = maps_kept[best];
    maps_kept[best] = maps_kept[--maps_kept_count];
  }
  pthread_mutex_unlock(&maps_lock);
  if (!m) {
    if (!(m = malloc(sizeof *m)))
      return NULL;
    m->p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m->p == MAP_FAILED) {
      free(m);
      return NULL;
    }
    m->len = len;
  }
  pthread_mutex_lock(&maps_lock);
  struct mapped **b = bucket(m->p);
  m->next = *b;
  *b = m;
  pthread_mutex_unlock(&maps_lock);
  return m->p;
}

static void unmap_block(struct mapped *m)
{
  bool kept = false;
  pthread_mutex_lock(&maps_lock);
  if (maps_kept_count < MAPS_KEPT) {
    maps_kept[maps_kept_count++] = m;
    kept = true;
  }
  pthread_mutex_unlock(&maps_lock);
  if (!kept) {
    munmap(m->p, m->len);
    free(m);
  }
}

static void *ossl_malloc(size_t n, const char *file, int line)
{
  (void)file, (void)line;
  if (n > SIZE_MAX / 2)
    return NULL;
  return n >= MAP_MIN ? map_block(n) : malloc(n);
}

static void ossl_free(void *p, const char *file, int line)
{
  (void)file, (void)line;
  if (!p)
    return;
  struct mapped *m = find_mapped(p, true);
  if (m)
    unmap_block(m);
  else
    free(p);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
  if (!p)
    return ossl_malloc(n, file, line);
  if (n > SIZE_MAX / 2)
    return NULL;
  const struct mapped *m = find_mapped(p, false);
  size_t have;
  if (m) {
    if (n <= m->len)
      return p;
    have = m->len;
  } else {
    if (n < MAP_MIN)
      return realloc(p, n);
    have = malloc_usable_size(p);
  }
  void *q = ossl_malloc(n, file, line);
  if (q) {
    memcpy(q, p, have < n ? have : n);
    ossl_free(p, file, line);
  }
  return q;
}

void openssl_alloc_init(void)
{
  /* Fails (and changes nothing) once OpenSSL has allocated. */
  CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free);
}
