/* The project's crypto wrappers against every Wycheproof vector, valid and
 * invalid, plus base64url canonicality. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/crypto.h"

#ifndef TEST_DATA_DIR
#error "TEST_DATA_DIR must be defined by the build"
#endif

static json_t *load_vectors(const char *name)
{
  char path[512];
  snprintf(path, sizeof path, "%s/wycheproof/%s", TEST_DATA_DIR, name);
  json_error_t error;
  json_t *doc = json_load_file(path, 0, &error);
  cr_assert_not_null(doc, "%s: %s", path, error.text);
  return doc;
}

/* Hex to bytes; returns a malloc'd buffer (never NULL) and its length. */
static uint8_t *unhex(const char *hex, size_t *len)
{
  size_t n = strlen(hex) / 2;
  uint8_t *out = malloc(n ? n : 1);
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    cr_assert_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
    out[i] = (uint8_t)v;
  }
  *len = n;
  return out;
}

static const char *field(json_t *test, const char *key)
{
  const char *s = json_string_value(json_object_get(test, key));
  cr_assert_not_null(s, "vector lacks %s", key);
  return s;
}

#define FOR_EACH_TEST(doc, group, test)                                       \
  json_t *group##s_ = json_object_get(doc, "testGroups");                     \
  size_t group##i_, test##i_;                                                 \
  json_t *group, *test;                                                       \
  json_array_foreach(group##s_, group##i_, group)                             \
      json_array_foreach(json_object_get(group, "tests"), test##i_, test)

Test(wycheproof, aes_gcm)
{
  json_t *doc = load_vectors("aes_gcm_test.json");
  int checked = 0, long_ivs = 0;
  FOR_EACH_TEST(doc, group, test)
  {
    size_t key_len, iv_len, aad_len, msg_len, ct_len, tag_len;
    uint8_t *key = unhex(field(test, "key"), &key_len);
    uint8_t *iv = unhex(field(test, "iv"), &iv_len);
    uint8_t *aad = unhex(field(test, "aad"), &aad_len);
    uint8_t *msg = unhex(field(test, "msg"), &msg_len);
    uint8_t *ct = unhex(field(test, "ct"), &ct_len);
    uint8_t *tag = unhex(field(test, "tag"), &tag_len);
    bool valid = strcmp(field(test, "result"), "invalid") != 0;
    int id = (int)json_integer_value(json_object_get(test, "tcId"));
    uint8_t *out = malloc(ct_len + 16);

    int rc = crypto_gcm_open(key, key_len, iv, iv_len, aad, aad_len, ct,
                             ct_len, tag, tag_len, out);
    if (valid && iv_len > GCM_IV_MAX) {
      /* OpenSSL takes GCM IVs up to 128 bytes; longer ones are refused
       * cleanly (Weft itself uses 12-byte IVs). */
      cr_assert_neq(rc, 0, "tcId %d: %zu-byte IV accepted", id, iv_len);
      long_ivs++;
    } else if (valid) {
      cr_assert_eq(rc, 0, "tcId %d: valid vector refused", id);
      cr_assert_eq(memcmp(out, msg, msg_len), 0, "tcId %d: plaintext", id);
      uint8_t sealed_tag[GCM_TAG_LEN];
      cr_assert_eq(crypto_gcm_seal(key, key_len, iv, iv_len, aad, aad_len,
                                   msg, msg_len, out, sealed_tag),
                   0, "tcId %d: seal", id);
      cr_assert_eq(memcmp(out, ct, ct_len), 0, "tcId %d: ciphertext", id);
      cr_assert_eq(memcmp(sealed_tag, tag, GCM_TAG_LEN), 0, "tcId %d: tag",
                   id);
    } else {
      cr_assert_neq(rc, 0, "tcId %d: invalid vector accepted", id);
    }
    checked++;
    free(key), free(iv), free(aad), free(msg), free(ct), free(tag), free(out);
  }
  cr_assert_eq(checked, 316);
  cr_assert_eq(long_ivs, 3);
  json_decref(doc);
}

Test(wycheproof, hkdf_sha256)
{
  json_t *doc = load_vectors("hkdf_sha256_test.json");
  int checked = 0;
  FOR_EACH_TEST(doc, group, test)
  {
    size_t ikm_len, salt_len, info_len, okm_len;
    uint8_t *ikm = unhex(field(test, "ikm"), &ikm_len);
    uint8_t *salt = unhex(field(test, "salt"), &salt_len);
    uint8_t *info = unhex(field(test, "info"), &info_len);
    uint8_t *okm = unhex(field(test, "okm"), &okm_len);
    size_t size = (size_t)json_integer_value(json_object_get(test, "size"));
    bool valid = strcmp(field(test, "result"), "invalid") != 0;
    int id = (int)json_integer_value(json_object_get(test, "tcId"));
    uint8_t *out = malloc(size ? size : 1);
    int rc = crypto_hkdf_sha256(ikm, ikm_len, salt, salt_len, info, info_len,
                                out, size);
    if (valid) {
      cr_assert_eq(rc, 0, "tcId %d refused", id);
      cr_assert_eq(memcmp(out, okm, size), 0, "tcId %d: output", id);
    } else {
      cr_assert_neq(rc, 0, "tcId %d: invalid size %zu accepted", id, size);
    }
    checked++;
    free(ikm), free(salt), free(info), free(okm), free(out);
  }
  cr_assert_eq(checked, 86);
  json_decref(doc);
}

Test(wycheproof, hmac_sha256)
{
  json_t *doc = load_vectors("hmac_sha256_test.json");
  int checked = 0;
  FOR_EACH_TEST(doc, group, test)
  {
    size_t key_len, msg_len, tag_len;
    uint8_t *key = unhex(field(test, "key"), &key_len);
    uint8_t *msg = unhex(field(test, "msg"), &msg_len);
    uint8_t *tag = unhex(field(test, "tag"), &tag_len);
    bool valid = strcmp(field(test, "result"), "invalid") != 0;
    int id = (int)json_integer_value(json_object_get(test, "tcId"));
    int rc = crypto_hmac_sha256_verify(key, key_len, msg, msg_len, tag,
                                       tag_len);
    if (valid)
      cr_assert_eq(rc, 0, "tcId %d refused", id);
    else
      cr_assert_neq(rc, 0, "tcId %d: modified tag accepted", id);
    checked++;
    free(key), free(msg), free(tag);
  }
  cr_assert_eq(checked, 174);
  json_decref(doc);
}

Test(crypto, gcm_refuses_bad_sizes)
{
  uint8_t key[32] = {0}, iv[12] = {0}, tag[16], buf[16] = {0};
  cr_assert_eq(crypto_gcm_seal(key, 31, iv, 12, NULL, 0, buf, 16, buf, tag),
               -1);
  cr_assert_eq(crypto_gcm_seal(key, 32, iv, 0, NULL, 0, buf, 16, buf, tag),
               -1);
  cr_assert_eq(crypto_gcm_seal(key, 32, iv, 12, NULL, 0, buf, 16, buf, tag), 0);
  cr_assert_eq(crypto_gcm_open(key, 32, iv, 12, NULL, 0, buf, 16, tag, 12,
                               buf),
               -1, "truncated tags are refused");
}

Test(crypto, base64url_is_canonical)
{
  uint8_t bin[64];
  size_t n;
  char text[128];
  const uint8_t data[] = {0xfb, 0xff, 0x01};
  cr_assert_eq(b64url_encode(data, 3, text, sizeof text), 4);
  cr_assert_str_eq(text, "-_8B");
  cr_assert_eq(b64url_decode("-_8B", 4, bin, sizeof bin, &n), 0);
  cr_assert_eq(n, 3);
  cr_assert_eq(b64url_decode("AQ", 2, bin, sizeof bin, &n), 0);
  cr_assert_eq(n, 1);
  cr_assert_eq(bin[0], 1);
  cr_assert_eq(b64url_decode("AR", 2, bin, sizeof bin, &n), -1,
               "stray trailing bits");
  cr_assert_eq(b64url_decode("AQ==", 4, bin, sizeof bin, &n), -1, "padding");
  cr_assert_eq(b64url_decode("+/8B", 4, bin, sizeof bin, &n), -1,
               "standard alphabet");
  cr_assert_eq(b64url_decode("A Q", 3, bin, sizeof bin, &n), -1);
  cr_assert_eq(b64url_decode("A", 1, bin, sizeof bin, &n), -1);
  cr_assert_eq(b64url_decode("", 0, bin, sizeof bin, &n), 0);
  cr_assert_eq(n, 0);
}

Test(crypto, constant_time_equal)
{
  cr_assert(crypto_equal("abc", "abc", 3));
  cr_assert_not(crypto_equal("abc", "abd", 3));
}
