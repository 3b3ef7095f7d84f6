/* libFuzzer target: the vhost transport's ClientHello reader. The first
 * byte chooses how the rest is cut into pieces; fed whole and fed in pieces
 * it must give the same result, and a name it accepts must pass the name
 * check again unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingress/clienthello.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct clienthello whole, pieces; /* 16 KiB each */

static void check_done(const struct clienthello *ch)
{
  const char *name = clienthello_name(ch);
  if (!name)
    abort();
  size_t n = strlen(name);
  char again[CLIENTHELLO_NAME_MAX + 1];
  if (n == 0 || n > CLIENTHELLO_NAME_MAX ||
      clienthello_check_name((const uint8_t *)name, n, again) != 0 ||
      strcmp(again, name) != 0)
    abort();
  for (size_t i = 0; i < n; i++)
    if (!((name[i] >= 'a' && name[i] <= 'z') ||
          (name[i] >= '0' && name[i] <= '9') || name[i] == '-' ||
          name[i] == '.'))
      abort();
  const char *alpn = clienthello_alpn_first(ch);
  if (alpn && (alpn[0] == '\0' || strlen(alpn) > CLIENTHELLO_ALPN_MAX))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  unsigned seed = data[0];
  data++;
  size--;

  clienthello_init(&whole);
  int a = clienthello_feed(&whole, data, size);

  clienthello_init(&pieces);
  int b = CH_NEED_MORE;
  size_t at = 0;
  unsigned x = seed * 2654435761u + 1;
  size_t last = 1;
  do { /* seeds 1-15: pieces of that size; others: random sizes up to the
        * seed, with an empty piece now and then (never two in a row) */
    x = x * 1103515245u + 12345u;
    size_t step = seed >= 1 && seed < 16 ? seed : (x >> 16) % (seed + 1);
    if (step == 0 && last == 0)
      step = 1;
    last = step;
    if (step > size - at)
      step = size - at;
    b = clienthello_feed(&pieces, data + at, step);
    at += step;
    if (b != CH_NEED_MORE && b != clienthello_feed(&pieces, data, size))
      abort(); /* sticky once decided */
  } while (b == CH_NEED_MORE && at < size);

  if (a != b)
    abort();
  if (clienthello_consumed(&whole) != clienthello_consumed(&pieces) ||
      clienthello_consumed(&whole) > size ||
      clienthello_consumed(&whole) > CLIENTHELLO_RAW_MAX)
    abort();
  if (a == CH_DONE || a == CH_ENOSNI) {
    /* A complete hello: its ALPN (also without a name) must not depend
     * on how the bytes were cut. */
    const char *pa = clienthello_alpn_first(&whole);
    const char *pb = clienthello_alpn_first(&pieces);
    if ((pa == NULL) != (pb == NULL) || (pa && strcmp(pa, pb) != 0))
      abort();
  } else if (clienthello_alpn_first(&whole)) {
    abort();
  }
  if (a == CH_DONE) {
    check_done(&whole);
    check_done(&pieces);
    if (strcmp(clienthello_name(&whole), clienthello_name(&pieces)) != 0)
      abort();
  } else if (clienthello_name(&whole)) {
    abort();
  }
  if (a > CH_DONE || a < CH_ETOOLARGE)
    abort();
  if (!clienthello_strerror(a))
    abort();
  return 0;
}
