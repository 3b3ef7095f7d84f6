#include "auth/password.h"

#include <assert.h>
#include <sodium.h>
#include <string.h>

_Static_assert(PASSWORD_HASH_MAX == crypto_pwhash_STRBYTES,
               "PASSWORD_HASH_MAX is libsodium's string size");

const struct password_limits password_limits_default = {
    crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
const struct password_limits password_limits_min = {
    crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};

const char *password_policy_refusal(const char *pw)
{
  size_t chars = 0, bytes = 0;
  for (const unsigned char *p = (const unsigned char *)pw; *p; p++, bytes++) {
    if (*p < 0x20 || *p == 0x7f)
      return "a password may not hold control characters (a tab, a line "
             "break...)";
    if ((*p & 0xc0) != 0x80) /* not a UTF-8 continuation byte */
      chars++;
  }
  if (bytes == 0)
    return "the password is empty";
  if (bytes > PASSWORD_MAX_BYTES)
    return "a password may be at most 1024 bytes long";
  if (chars < PASSWORD_MIN_CHARS)
    return "a password needs at least 12 characters (a few words make a "
           "good one)";
  return NULL;
}

int password_hash(const char *pw, const struct password_limits *limits,
                  char out[PASSWORD_HASH_MAX])
{
  if (sodium_init() < 0)
    return -1;
  return crypto_pwhash_str(out, pw, strlen(pw), limits->ops, limits->mem);
}

bool password_verify(const char *hash, const char *pw)
{
  if (sodium_init() < 0 || !hash[0])
    return false;
  return crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
}

bool password_needs_rehash(const char *hash,
                           const struct password_limits *limits)
{
  if (sodium_init() < 0)
    return false;
  /* 1: other limits; -1: not an Argon2id string at all. */
  return crypto_pwhash_str_needs_rehash(hash, limits->ops, limits->mem) != 0;
}
