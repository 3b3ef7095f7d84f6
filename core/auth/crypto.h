/* Thin wrappers over OpenSSL for the primitives the login, JWT and tokens
 * use, so every caller goes through code the Wycheproof vectors test. All
 * return 0 on success and -1 on failure (bad sizes, failed authentication). */
#ifndef WEFT_CORE_CRYPTO_H
#define WEFT_CORE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HKDF_SHA256_MAX_OUT (255 * 32)
#define HMAC_SHA256_LEN 32
#define GCM_TAG_LEN 16
#define GCM_IV_LEN 12
#define GCM_IV_MAX 128 /* OpenSSL's limit for GCM IVs */

int crypto_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt,
                       size_t salt_len, const uint8_t *info, size_t info_len,
                       uint8_t *out, size_t out_len);

int crypto_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data,
                       size_t len, uint8_t out[HMAC_SHA256_LEN]);
/* Constant-time check of a (possibly truncated, >= 16 bytes) tag. */
int crypto_hmac_sha256_verify(const uint8_t *key, size_t key_len,
                              const uint8_t *data, size_t len,
                              const uint8_t *tag, size_t tag_len);

/* AES-GCM with a 16-, 24- or 32-byte key (Weft itself uses 32), any IV of
 * 1..GCM_IV_MAX bytes, and a 16-byte tag. ct and pt may be the same buffer. */
int crypto_gcm_seal(const uint8_t *key, size_t key_len, const uint8_t *iv,
                    size_t iv_len, const uint8_t *aad, size_t aad_len,
                    const uint8_t *pt, size_t len, uint8_t *ct,
                    uint8_t tag[GCM_TAG_LEN]);
int crypto_gcm_open(const uint8_t *key, size_t key_len, const uint8_t *iv,
                    size_t iv_len, const uint8_t *aad, size_t aad_len,
                    const uint8_t *ct, size_t len, const uint8_t *tag,
                    size_t tag_len, uint8_t *pt);

/* Constant-time comparison. */
bool crypto_equal(const void *a, const void *b, size_t len);
void crypto_random(void *buf, size_t len);
void crypto_wipe(void *buf, size_t len);

/* base64url without padding, canonical only: decoding refuses padding,
 * other alphabets, whitespace and non-zero trailing bits. encode returns the
 * text length; decode returns 0 and sets *out_len, or -1. */
size_t b64url_encoded_len(size_t bin_len);
size_t b64url_encode(const uint8_t *bin, size_t bin_len, char *out,
                     size_t out_size);
int b64url_decode(const char *text, size_t text_len, uint8_t *out,
                  size_t out_size, size_t *out_len);

#endif
