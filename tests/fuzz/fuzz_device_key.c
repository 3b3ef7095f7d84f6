/* libFuzzer target: a device key file's text (auth/device_key.h). A text
 * that parses must give a key whose signatures verify; one that does not
 * must say why. */
#include <stdint.h>
#include <stdlib.h>

#include "auth/device_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct device_key k;
  const char *why = NULL;
  if (device_key_parse((const char *)data, size, &k, &why) != 0) {
    if (!why)
      abort();
    return 0;
  }
  static const uint8_t msg[] = "weft";
  uint8_t sig[DEVICE_KEY_SIG_LEN];
  if (device_key_sign(&k, msg, sizeof msg, sig) != 0 ||
      device_key_verify(k.public_key, msg, sizeof msg, sig) != 0)
    abort();
  return 0;
}
