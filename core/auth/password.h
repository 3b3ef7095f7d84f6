/* Console passwords: kept as Argon2id hashes made by libsodium's
 * crypto_pwhash_str at its "interactive" limits, which libsodium gives
 * for online logins (2 passes over 64 MiB, about 0.1 s on one core: see
 * docs/security.md). Hashing and checking never run on the event loop:
 * server/password_work.h runs them on libuv's thread pool. These
 * functions are safe from any thread. */
#ifndef WEFT_AUTH_PASSWORD_H
#define WEFT_AUTH_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define PASSWORD_MIN_CHARS 12   /* characters, not bytes */
#define PASSWORD_MAX_BYTES 1024 /* bounds the work one request asks for */
#define PASSWORD_HASH_MAX 128   /* crypto_pwhash_STRBYTES, with its NUL */

/* How hard a hash is to compute: passes and memory in bytes. */
struct password_limits {
  unsigned long long ops;
  size_t mem;
};

/* What new hashes use (libsodium's interactive), and the cheapest libsodium
 * allows (for tests that hash many times). */
extern const struct password_limits password_limits_default;
extern const struct password_limits password_limits_min;

/* NULL when pw may be a password, else why not, as a sentence: empty,
 * fewer than PASSWORD_MIN_CHARS characters, longer than
 * PASSWORD_MAX_BYTES, or a control character in it. */
const char *password_policy_refusal(const char *pw);

/* An Argon2id hash of pw at limits ("$argon2id$v=19$m=...", NUL-ended)
 * into out: 0, or -1 (out of memory). */
int password_hash(const char *pw, const struct password_limits *limits,
                  char out[PASSWORD_HASH_MAX]);

/* Whether pw matches hash (in time that does not depend on where they
 * differ); false for a hash that is not one. */
bool password_verify(const char *hash, const char *pw);

/* Whether hash was made with other limits than `limits` (or is none):
 * a sign-in that proved the password then hashes it again. */
bool password_needs_rehash(const char *hash,
                           const struct password_limits *limits);

#endif
