#include "auth/api_key.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "auth/crypto.h"

static bool is_hex(char c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void hash_secret(const uint8_t *secret, uint8_t out[API_KEY_HASH_LEN])
{
  SHA256(secret, API_KEY_SECRET_LEN, out);
}

int api_key_make(char *out, size_t outlen, struct api_key *kept)
{
  uint8_t id[API_KEY_ID_LEN / 2], secret[API_KEY_SECRET_LEN];
  char b64[64];
  if (outlen < API_KEY_TEXT_LEN + 1)
    return -1;
  crypto_random(id, sizeof id);
  crypto_random(secret, sizeof secret);
  for (size_t i = 0; i < sizeof id; i++)
    snprintf(kept->id + 2 * i, 3, "%02x", id[i]);
  if (b64url_encode(secret, sizeof secret, b64, sizeof b64) != 43)
    return -1;
  snprintf(out, outlen, "%s%s.%s", API_KEY_PREFIX, kept->id, b64);
  hash_secret(secret, kept->hash);
  crypto_wipe(secret, sizeof secret);
  return 0;
}

int api_key_parse(const char *text, size_t len, struct api_key *out)
{
  const size_t pre = sizeof API_KEY_PREFIX - 1;
  if (len != API_KEY_TEXT_LEN || memcmp(text, API_KEY_PREFIX, pre) != 0 ||
      text[pre + API_KEY_ID_LEN] != '.')
    return -1;
  for (size_t i = 0; i < API_KEY_ID_LEN; i++)
    if (!is_hex(text[pre + i]))
      return -1;
  uint8_t secret[API_KEY_SECRET_LEN];
  size_t n = 0;
  const char *b64 = text + pre + API_KEY_ID_LEN + 1;
  if (b64url_decode(b64, 43, secret, sizeof secret, &n) != 0 ||
      n != sizeof secret)
    return -1;
  memcpy(out->id, text + pre, API_KEY_ID_LEN);
  out->id[API_KEY_ID_LEN] = '\0';
  hash_secret(secret, out->hash);
  crypto_wipe(secret, sizeof secret);
  return 0;
}

bool api_key_matches(const struct api_key *presented,
                     const struct api_key *kept)
{
  /* The id is public (it found the user); the hash decides. */
  return !strcmp(presented->id, kept->id) &&
         crypto_equal(presented->hash, kept->hash, API_KEY_HASH_LEN);
}
