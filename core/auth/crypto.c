#include "auth/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <sodium.h>
#include <string.h>

int crypto_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt,
                       size_t salt_len, const uint8_t *info, size_t info_len,
                       uint8_t *out, size_t out_len)
{
  if (out_len == 0 || out_len > HKDF_SHA256_MAX_OUT)
    return -1;
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
  EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
  EVP_KDF_free(kdf);
  if (!ctx)
    return -1;
  static const uint8_t empty[1];
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256",
                                       0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                        (void *)(ikm_len ? ikm : empty),
                                        ikm_len),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                        (void *)(salt_len ? salt : empty),
                                        salt_len),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                        (void *)(info_len ? info : empty),
                                        info_len),
      OSSL_PARAM_construct_end(),
  };
  int ok = EVP_KDF_derive(ctx, out, out_len, params) == 1;
  EVP_KDF_CTX_free(ctx);
  return ok ? 0 : -1;
}

int crypto_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data,
                       size_t len, uint8_t out[HMAC_SHA256_LEN])
{
  static const uint8_t empty[1];
  unsigned int out_len = 0;
  if (key_len > INT32_MAX)
    return -1;
  if (!HMAC(EVP_sha256(), key_len ? key : empty, (int)key_len,
            len ? data : empty, len, out, &out_len) ||
      out_len != HMAC_SHA256_LEN)
    return -1;
  return 0;
}

int crypto_hmac_sha256_verify(const uint8_t *key, size_t key_len,
                              const uint8_t *data, size_t len,
                              const uint8_t *tag, size_t tag_len)
{
  uint8_t mac[HMAC_SHA256_LEN];
  if (tag_len < 16 || tag_len > HMAC_SHA256_LEN ||
      crypto_hmac_sha256(key, key_len, data, len, mac) != 0)
    return -1;
  int ok = crypto_equal(mac, tag, tag_len);
  crypto_wipe(mac, sizeof mac);
  return ok ? 0 : -1;
}

static const EVP_CIPHER *gcm_for(size_t key_len)
{
  switch (key_len) {
  case 16: return EVP_aes_128_gcm();
  case 24: return EVP_aes_192_gcm();
  case 32: return EVP_aes_256_gcm();
  default: return NULL;
  }
}

static EVP_CIPHER_CTX *gcm_start(const uint8_t *key, size_t key_len,
                                 const uint8_t *iv, size_t iv_len, int enc)
{
  const EVP_CIPHER *cipher = gcm_for(key_len);
  if (!cipher || iv_len == 0 || iv_len > GCM_IV_MAX)
    return NULL;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!ctx)
    return NULL;
  if (EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, enc) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)iv_len, NULL) !=
          1 ||
      EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, enc) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

static int gcm_update(EVP_CIPHER_CTX *ctx, const uint8_t *aad, size_t aad_len,
                      const uint8_t *in, size_t len, uint8_t *out)
{
  int n;
  if (len > INT32_MAX || aad_len > INT32_MAX)
    return -1;
  if (aad_len && EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
    return -1;
  if (len && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
    return -1;
  return 0;
}

int crypto_gcm_seal(const uint8_t *key, size_t key_len, const uint8_t *iv,
                    size_t iv_len, const uint8_t *aad, size_t aad_len,
                    const uint8_t *pt, size_t len, uint8_t *ct,
                    uint8_t tag[GCM_TAG_LEN])
{
  EVP_CIPHER_CTX *ctx = gcm_start(key, key_len, iv, iv_len, 1);
  int n, rc = -1;
  if (ctx && gcm_update(ctx, aad, aad_len, pt, len, ct) == 0 &&
      EVP_CipherFinal_ex(ctx, ct + len, &n) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, tag) == 1)
    rc = 0;
  EVP_CIPHER_CTX_free(ctx);
  return rc;
}

int crypto_gcm_open(const uint8_t *key, size_t key_len, const uint8_t *iv,
                    size_t iv_len, const uint8_t *aad, size_t aad_len,
                    const uint8_t *ct, size_t len, const uint8_t *tag,
                    size_t tag_len, uint8_t *pt)
{
  if (tag_len != GCM_TAG_LEN)
    return -1;
  EVP_CIPHER_CTX *ctx = gcm_start(key, key_len, iv, iv_len, 0);
  int n, rc = -1;
  uint8_t tag_copy[GCM_TAG_LEN];
  memcpy(tag_copy, tag, GCM_TAG_LEN);
  if (ctx && gcm_update(ctx, aad, aad_len, ct, len, pt) == 0 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN, tag_copy) ==
          1 &&
      EVP_CipherFinal_ex(ctx, pt + len, &n) == 1)
    rc = 0;
  EVP_CIPHER_CTX_free(ctx);
  if (rc != 0 && len)
    crypto_wipe(pt, len); /* never hand out unauthenticated plaintext */
  return rc;
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
  return CRYPTO_memcmp(a, b, len) == 0;
}

void crypto_random(void *buf, size_t len)
{
  randombytes_buf(buf, len);
}

void crypto_wipe(void *buf, size_t len)
{
  OPENSSL_cleanse(buf, len);
}

size_t b64url_encoded_len(size_t bin_len)
{
  return (bin_len / 3) * 4 + ((bin_len % 3) ? (bin_len % 3) + 1 : 0);
}

size_t b64url_encode(const uint8_t *bin, size_t bin_len, char *out,
                     size_t out_size)
{
  size_t need = b64url_encoded_len(bin_len);
  if (out_size < need + 1)
    return 0;
  sodium_bin2base64(out, out_size, bin, bin_len,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return need;
}

int b64url_decode(const char *text, size_t text_len, uint8_t *out,
                  size_t out_size, size_t *out_len)
{
  if (text_len % 4 == 1)
    return -1;
  for (size_t i = 0; i < text_len; i++) {
    char c = text[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return -1;
  }
  size_t n = 0;
  const char *end = NULL;
  if (sodium_base642bin(out, out_size, text, text_len, NULL, &n, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text + text_len)
    return -1;
  /* Canonical: re-encoding gives the same text (no stray trailing bits). */
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  if (text_len % 4) {
    char last = text[text_len - 1];
    size_t v = (size_t)(strchr(alphabet, last) - alphabet);
    unsigned unused_bits = text_len % 4 == 2 ? 4 : 2;
    if (v & ((1u << unused_bits) - 1))
      return -1;
  }
  *out_len = n;
  return 0;
}
