/* libFuzzer target: an API key as a Bearer header carries it
 * (auth/api_key.h). A text that parses is exactly the key's form, and it
 * matches the key read from itself, never one with another id. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/api_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct api_key k, again;
  if (api_key_parse((const char *)data, size, &k) != 0)
    return 0;
  if (size != API_KEY_TEXT_LEN || strlen(k.id) != API_KEY_ID_LEN ||
      memcmp(data, API_KEY_PREFIX, sizeof API_KEY_PREFIX - 1) != 0)
    abort();
  if (api_key_parse((const char *)data, size, &again) != 0 ||
      !api_key_matches(&k, &again))
    abort();
  again.id[0] = again.id[0] == 'a' ? 'b' : 'a';
  if (api_key_matches(&k, &again))
    abort();
  return 0;
}
