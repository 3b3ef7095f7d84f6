/* JWT: RFC 7515 Appendix A.1, and every attack the verifier must refuse. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/crypto.h"
#include "auth/jwt.h"

static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";
static const struct jwt_expect expect = {
    .iss = "weft", .aud = "weft-control", .typ = "session", .leeway_s = 60};
#define NOW 1700000000

static char *b64(const char *text)
{
  size_t len = strlen(text);
  char *out = malloc(b64url_encoded_len(len) + 1);
  b64url_encode((const uint8_t *)text, len, out, b64url_encoded_len(len) + 1);
  return out;
}

/* A token with exactly this header and payload JSON, signed with k. */
static char *forge(const char *header, const char *payload, const uint8_t *k,
                   size_t klen)
{
  char *h = b64(header), *p = b64(payload);
  char *tok = malloc(strlen(h) + strlen(p) + 64);
  sprintf(tok, "%s.%s", h, p);
  uint8_t mac[32];
  crypto_hmac_sha256(k, klen, (const uint8_t *)tok, strlen(tok), mac);
  char sig[64];
  b64url_encode(mac, 32, sig, sizeof sig);
  strcat(tok, ".");
  strcat(tok, sig);
  free(h);
  free(p);
  return tok;
}

static json_t *claims(int64_t iat, int64_t nbf, int64_t exp)
{
  return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "iss", "weft", "aud",
                   "weft-control", "typ", "session", "sub", "device-1", "jti",
                   "j1", "iat", (json_int_t)iat, "nbf", (json_int_t)nbf, "exp",
                   (json_int_t)exp);
}

static int verify(const char *tok)
{
  json_t *payload = NULL;
  int rc = jwt_verify(key, sizeof key, tok, strlen(tok), &expect, NOW,
                      &payload);
  json_decref(payload);
  return rc;
}

static const char good_payload[] =
    "{\"aud\":\"weft-control\",\"exp\":1700001800,\"iat\":1700000000,"
    "\"iss\":\"weft\",\"jti\":\"j1\",\"nbf\":1700000000,\"sub\":\"d\","
    "\"typ\":\"session\"}";

Test(jwt, rfc7515_appendix_a1)
{
  /* The JWS of RFC 7515 A.1: HS256 with the JWK's 64-byte key. */
  const char *jwk_k = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKt"
                      "MN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
  uint8_t k[64];
  size_t klen;
  cr_assert_eq(b64url_decode(jwk_k, strlen(jwk_k), k, sizeof k, &klen), 0);
  cr_assert_eq(klen, 64);
  const char *token =
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
      ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLm"
      "NvbS9pc19yb290Ijp0cnVlfQ"
      ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  json_t *payload;
  cr_assert_eq(jwt_decode_verified(k, klen, token, strlen(token), &payload),
               JWT_OK);
  cr_assert_str_eq(json_string_value(json_object_get(payload, "iss")), "joe");
  cr_assert_eq(json_integer_value(json_object_get(payload, "exp")),
               1300819380);
  cr_assert(json_is_true(json_object_get(payload, "http://example.com/is_root")));
  /* It verifies, but as a Weft token it has long expired and lacks claims. */
  cr_assert_eq(jwt_check_claims(payload, &expect, NOW), JWT_ECLAIMS);
  json_decref(payload);
  /* One byte changed in the signature: refused. */
  char *bad = strdup(token);
  bad[strlen(bad) - 2] = bad[strlen(bad) - 2] == 'X' ? 'Y' : 'X';
  cr_assert_eq(jwt_decode_verified(k, klen, bad, strlen(bad), &payload),
               JWT_ESIGNATURE);
  free(bad);
}

Test(jwt, sign_then_verify)
{
  json_t *c = claims(NOW, NOW, NOW + 1800);
  char *tok;
  cr_assert_eq(jwt_sign(key, sizeof key, c, &tok), 0);
  cr_assert(!strncmp(tok, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37));
  json_t *payload;
  cr_assert_eq(jwt_verify(key, sizeof key, tok, strlen(tok), &expect, NOW,
                          &payload),
               JWT_OK);
  cr_assert_str_eq(json_string_value(json_object_get(payload, "sub")),
                   "device-1");
  json_decref(payload);
  free(tok);
  json_decref(c);
}

Test(jwt, alg_none_and_other_algorithms)
{
  char *h = b64("{\"alg\":\"none\",\"typ\":\"JWT\"}"), *p = b64(good_payload);
  char tok[1024];
  snprintf(tok, sizeof tok, "%s.%s.", h, p);
  cr_assert_eq(verify(tok), JWT_EHEADER, "alg=none unsigned");
  free(h);
  const char *algs[] = {"none", "None", "HS512", "HS384", "RS256", "ES256",
                        "PS256", "hs256", "HS256 ", ""};
  for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
    char header[128];
    snprintf(header, sizeof header, "{\"alg\":\"%s\"}", algs[i]);
    /* Even correctly HMAC'd with our key: the alg is not ours to accept. */
    char *t = forge(header, good_payload, key, sizeof key);
    cr_assert_eq(verify(t), JWT_EHEADER, "alg %s", algs[i]);
    free(t);
  }
  char *t = forge("{\"typ\":\"JWT\"}", good_payload, key, sizeof key);
  cr_assert_eq(verify(t), JWT_EHEADER, "no alg");
  free(t);
  t = forge("{\"alg\":[\"HS256\"]}", good_payload, key, sizeof key);
  cr_assert_eq(verify(t), JWT_EHEADER, "alg not a string");
  free(t);
  free(p);
}

Test(jwt, header_members_we_do_not_honour)
{
  const char *headers[] = {
      "{\"alg\":\"HS256\",\"kid\":\"../../etc/passwd\"}",
      "{\"alg\":\"HS256\",\"jku\":\"http://evil.example/keys\"}",
      "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}",
      "{\"alg\":\"HS256\",\"typ\":\"JOSE\"}",
      "{\"alg\":\"HS256\",\"alg\":\"HS256\"}",
  };
  for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
    char *t = forge(headers[i], good_payload, key, sizeof key);
    int rc = verify(t);
    cr_assert(rc == JWT_EHEADER || rc == JWT_EFORMAT, "%s accepted (%d)",
              headers[i], rc);
    free(t);
  }
}

Test(jwt, signatures)
{
  char *t = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", good_payload, key,
                  sizeof key);
  cr_assert_eq(verify(t), JWT_OK);
  char *dot = strrchr(t, '.');
  char saved = dot[1];
  dot[1] = '\0';
  cr_assert_eq(verify(t), JWT_ESIGNATURE, "empty signature");
  dot[1] = saved;
  /* Flip every signature character in turn. */
  for (char *c = dot + 1; *c; c++) {
    char was = *c;
    *c = was == 'A' ? 'B' : 'A';
    int rc = verify(t);
    cr_assert(rc == JWT_ESIGNATURE || rc == JWT_EFORMAT, "flip at %ld: %d",
              (long)(c - dot), rc);
    *c = was;
  }
  /* Truncated signature */
  size_t len = strlen(t);
  t[len - 4] = '\0';
  cr_assert_neq(verify(t), JWT_OK);
  free(t);
  /* Signed with another key */
  uint8_t other[32] = {1};
  t = forge("{\"alg\":\"HS256\"}", good_payload, other, sizeof other);
  cr_assert_eq(verify(t), JWT_ESIGNATURE);
  free(t);
  /* A flipped bit in the payload */
  t = forge("{\"alg\":\"HS256\"}", good_payload, key, sizeof key);
  char *p = strchr(t, '.') + 5;
  *p = *p == 'x' ? 'y' : 'x';
  cr_assert_neq(verify(t), JWT_OK);
  free(t);
}

Test(jwt, time_claims_and_leeway)
{
  struct { int64_t iat, nbf, exp; int want; } cases[] = {
      {NOW, NOW, NOW + 1800, JWT_OK},
      {NOW - 3600, NOW - 3600, NOW - 1, JWT_OK},          /* within leeway */
      {NOW - 3600, NOW - 3600, NOW - 61, JWT_EEXPIRED},
      {NOW - 3600, NOW - 3600, NOW - 60, JWT_EEXPIRED},
      {NOW + 30, NOW + 30, NOW + 1800, JWT_OK},           /* clock skew */
      {NOW, NOW + 61, NOW + 1800, JWT_ENOTYET},
      {NOW + 3600, NOW, NOW + 7200, JWT_ENOTYET},         /* issued later */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *c = claims(cases[i].iat, cases[i].nbf, cases[i].exp);
    char *tok;
    jwt_sign(key, sizeof key, c, &tok);
    cr_assert_eq(verify(tok), cases[i].want, "case %zu", i);
    free(tok);
    json_decref(c);
  }
  /* A caller asking for more leeway than 60 s gets 60 s. */
  json_t *c = claims(NOW - 3600, NOW - 3600, NOW - 120);
  char *tok;
  jwt_sign(key, sizeof key, c, &tok);
  struct jwt_expect lax = expect;
  lax.leeway_s = 3600;
  json_t *payload;
  cr_assert_eq(jwt_verify(key, sizeof key, tok, strlen(tok), &lax, NOW,
                          &payload),
               JWT_EEXPIRED);
  free(tok);
  json_decref(c);
}

Test(jwt, registered_claims)
{
  const char *bad[] = {
      "{\"aud\":\"weft-control\",\"exp\":1700001800,\"iat\":1700000000,"
      "\"iss\":\"evil\",\"jti\":\"j\",\"nbf\":1700000000,\"sub\":\"d\","
      "\"typ\":\"session\"}",
      "{\"aud\":\"weft-transport\",\"exp\":1700001800,\"iat\":1700000000,"
      "\"iss\":\"weft\",\"jti\":\"j\",\"nbf\":1700000000,\"sub\":\"d\","
      "\"typ\":\"session\"}",
      "{\"aud\":\"weft-control\",\"exp\":1700001800,\"iat\":1700000000,"
      "\"iss\":\"weft\",\"jti\":\"j\",\"nbf\":1700000000,\"sub\":\"d\","
      "\"typ\":\"orchestration\"}",
      "{\"aud\":\"weft-control\",\"exp\":\"1700001800\",\"iat\":1700000000,"
      "\"iss\":\"weft\",\"jti\":\"j\",\"nbf\":1700000000,\"sub\":\"d\","
      "\"typ\":\"session\"}",
      "{\"aud\":\"weft-control\",\"exp\":1700001800,\"iat\":1700000000,"
      "\"iss\":\"weft\",\"nbf\":1700000000,\"sub\":\"d\",\"typ\":\"session\"}",
      "{\"aud\":\"weft-control\",\"exp\":1700001800,\"iat\":1700000000,"
      "\"iss\":\"weft\",\"jti\":\"j\",\"nbf\":1700000000,\"sub\":\"\","
      "\"typ\":\"session\"}",
      "{\"aud\":[\"weft-control\"],\"exp\":1700001800,\"iat\":1700000000,"
      "\"iss\":\"weft\",\"jti\":\"j\",\"nbf\":1700000000,\"sub\":\"d\","
      "\"typ\":\"session\"}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *t = forge("{\"alg\":\"HS256\"}", bad[i], key, sizeof key);
    cr_assert_eq(verify(t), JWT_ECLAIMS, "case %zu", i);
    free(t);
  }
}

Test(jwt, malformed_tokens)
{
  const char *bad[] = {"", ".", "..", "a.b", "a.b.c.d", "abc", "a..c",
                       "eyJhbGciOiJIUzI1NiJ9..sig"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    cr_assert_neq(verify(bad[i]), JWT_OK, "'%s'", bad[i]);

  /* Duplicate keys in a correctly signed payload */
  char *t = forge("{\"alg\":\"HS256\"}",
                  "{\"aud\":\"weft-control\",\"exp\":1700001800,"
                  "\"iat\":1700000000,\"iss\":\"weft\",\"jti\":\"j\","
                  "\"nbf\":1700000000,\"sub\":\"d\",\"typ\":\"session\","
                  "\"sub\":\"admin\"}",
                  key, sizeof key);
  cr_assert_eq(verify(t), JWT_EFORMAT, "duplicate keys");
  free(t);
  /* Trailing bytes after the JSON, and a non-object payload */
  t = forge("{\"alg\":\"HS256\"}", "{\"sub\":\"d\"} x", key, sizeof key);
  cr_assert_eq(verify(t), JWT_EFORMAT);
  free(t);
  t = forge("{\"alg\":\"HS256\"}", "[1,2]", key, sizeof key);
  cr_assert_eq(verify(t), JWT_EFORMAT);
  free(t);

  /* Non-canonical base64url: padding, standard alphabet, stray bits. */
  t = forge("{\"alg\":\"HS256\"}", good_payload, key, sizeof key);
  char copy[2048];
  char *dot = strchr(t, '.');
  snprintf(copy, sizeof copy, "%.*s=%s", (int)(dot - t), t, dot);
  cr_assert_eq(verify(copy), JWT_EFORMAT, "padding");
  snprintf(copy, sizeof copy, "%s", t);
  for (char *c = copy; *c; c++)
    if (*c == '-' || *c == '_') {
      *c = *c == '-' ? '+' : '/';
      cr_assert_eq(verify(copy), JWT_EFORMAT, "standard alphabet");
      break;
    }
  /* The header "{"alg":"HS256"}" is 15 bytes: base64url ends in a
   * character with two unused bits. Setting them changes nothing decoded
   * but makes the text non-canonical. */
  snprintf(copy, sizeof copy, "%s", t);
  dot = strchr(copy, '.');
  cr_assert_eq(dot[-1], '9');
  dot[-1] = '-'; /* '9' = 61 = 0b111101 -> '-' = 62 = 0b111110 */
  cr_assert_eq(verify(copy), JWT_EFORMAT, "stray bits");
  free(t);
  t = forge("{\"alg\":\"HS256\"}", good_payload, key, sizeof key);
  snprintf(copy, sizeof copy, " %s", t);
  cr_assert_eq(verify(copy), JWT_EFORMAT, "whitespace");
  free(t);
}

Test(jwt, over_long_tokens)
{
  char payload[8192];
  int n = snprintf(payload, sizeof payload,
                   "{\"aud\":\"weft-control\",\"exp\":1700001800,"
                   "\"iat\":1700000000,\"iss\":\"weft\",\"jti\":\"j\","
                   "\"nbf\":1700000000,\"sub\":\"d\",\"typ\":\"session\","
                   "\"pad\":\"");
  memset(payload + n, 'a', 4000);
  strcpy(payload + n + 4000, "\"}");
  char *t = forge("{\"alg\":\"HS256\"}", payload, key, sizeof key);
  cr_assert_gt(strlen(t), JWT_MAX_LEN);
  cr_assert_eq(verify(t), JWT_ETOOLONG);
  free(t);
}
