/* JSON Web Tokens, HS256 only, pinned: the verifier never takes the
 * algorithm from the token. Written on OpenSSL HMAC with a constant-time
 * compare (core/auth/crypto.c); Debian's libjwt predates fixes for algorithm
 * confusion and timing leaks.
 *
 * Refused: any alg but HS256 (none included), header members other than alg
 * and typ, a missing, short or wrong signature, non-canonical base64url,
 * JSON with duplicate keys or trailing bytes, tokens over JWT_MAX_LEN,
 * expired or not-yet-valid tokens (leeway at most 60 s), and a wrong iss,
 * aud or typ claim. */
#ifndef WEFT_CORE_JWT_H
#define WEFT_CORE_JWT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define JWT_MAX_LEN 4096
#define JWT_MAX_LEEWAY_S 60

enum jwt_error {
  JWT_OK = 0,
  JWT_ETOOLONG = -1,
  JWT_EFORMAT = -2,    /* not three canonical base64url parts of JSON */
  JWT_EHEADER = -3,    /* alg not HS256, or an unexpected header member */
  JWT_ESIGNATURE = -4,
  JWT_ECLAIMS = -5,    /* missing or wrong iss/aud/typ/sub/jti/iat */
  JWT_EEXPIRED = -6,
  JWT_ENOTYET = -7,
};

struct jwt_expect {
  const char *iss;
  const char *aud;
  const char *typ;
  int64_t leeway_s;  /* clamped to JWT_MAX_LEEWAY_S */
};

/* Signs claims (a JSON object) with HS256; *out is malloc'd. 0 or -1. */
int jwt_sign(const uint8_t *key, size_t key_len, json_t *claims, char **out);

/* Checks structure, header and signature; on success *payload is the
 * decoded claims object (the caller json_decref()s it). */
int jwt_decode_verified(const uint8_t *key, size_t key_len, const char *token,
                        size_t len, json_t **payload);

/* Checks the registered claims against expect at time now (seconds). */
int jwt_check_claims(json_t *payload, const struct jwt_expect *expect,
                     int64_t now);

/* Both of the above. */
int jwt_verify(const uint8_t *key, size_t key_len, const char *token,
               size_t len, const struct jwt_expect *expect, int64_t now,
               json_t **payload);

const char *jwt_strerror(int err);

#endif
