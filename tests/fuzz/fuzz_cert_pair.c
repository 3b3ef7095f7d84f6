/* libFuzzer target: a TLS secret as a device hands it over (net/cert_pair.h).
 * Whatever the text, parsing either fails with a reason or gives a leaf
 * whose key is its own; checking it against a name never crashes. */
#include <stdint.h>
#include <stdlib.h>

#include "net/cert_pair.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct cert_pair cp;
  char why[256];
  why[0] = '\0';
  if (cert_pair_parse(&cp, (const char *)data, size, why, sizeof why) != 0) {
    if (!why[0] || cp.leaf || cp.key || cp.chain)
      abort(); /* a refusal says why and holds nothing */
    return 0;
  }
  if (!cp.leaf || !cp.key || X509_check_private_key(cp.leaf, cp.key) != 1)
    abort();
  cert_pair_check(&cp, "app.example.test", 1796000000, why, sizeof why);
  cert_pair_free(&cp);
  return 0;
}
