#include "auth/jwt.h"

#include <stdlib.h>
#include <string.h>

#include "auth/crypto.h"

static const char header_b64[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";
/* = base64url({"alg":"HS256","typ":"JWT"}) */

const char *jwt_strerror(int err)
{
  switch (err) {
  case JWT_OK: return "valid";
  case JWT_ETOOLONG: return "token too long";
  case JWT_EFORMAT: return "malformed token";
  case JWT_EHEADER: return "algorithm or header not accepted";
  case JWT_ESIGNATURE: return "bad signature";
  case JWT_ECLAIMS: return "wrong or missing claims";
  case JWT_EEXPIRED: return "token expired";
  case JWT_ENOTYET: return "token not yet valid";
  default: return "invalid token";
  }
}

int jwt_sign(const uint8_t *key, size_t key_len, json_t *claims, char **out)
{
  char *payload = json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
  if (!payload)
    return -1;
  size_t plen = strlen(payload);
  size_t hlen = sizeof header_b64 - 1;
  size_t total = hlen + 1 + b64url_encoded_len(plen) + 1 +
                 b64url_encoded_len(HMAC_SHA256_LEN) + 1;
  char *tok = malloc(total);
  if (!tok) {
    free(payload);
    return -1;
  }
  memcpy(tok, header_b64, hlen);
  tok[hlen] = '.';
  size_t n = hlen + 1;
  n += b64url_encode((const uint8_t *)payload, plen, tok + n, total - n);
  free(payload);
  uint8_t mac[HMAC_SHA256_LEN];
  if (crypto_hmac_sha256(key, key_len, (const uint8_t *)tok, n, mac) != 0) {
    free(tok);
    return -1;
  }
  tok[n++] = '.';
  n += b64url_encode(mac, sizeof mac, tok + n, total - n);
  tok[n] = '\0';
  *out = tok;
  return 0;
}

/* Decodes one base64url part holding a JSON object. */
static json_t *decode_json_part(const char *text, size_t len)
{
  uint8_t *bin = malloc(len ? len : 1);
  size_t n;
  json_t *doc = NULL;
  if (bin && b64url_decode(text, len, bin, len ? len : 1, &n) == 0) {
    json_error_t error;
    doc = json_loadb((const char *)bin, n, JSON_REJECT_DUPLICATES, &error);
    if (doc && !json_is_object(doc)) {
      json_decref(doc);
      doc = NULL;
    }
  }
  free(bin);
  return doc;
}

static int check_header(json_t *header)
{
  const char *alg = json_string_value(json_object_get(header, "alg"));
  if (!alg || strcmp(alg, "HS256") != 0)
    return JWT_EHEADER;
  const char *key;
  json_t *value;
  json_object_foreach(header, key, value)
  {
    if (!strcmp(key, "alg"))
      continue;
    if (!strcmp(key, "typ") && json_is_string(value) &&
        !strcmp(json_string_value(value), "JWT"))
      continue;
    return JWT_EHEADER; /* kid, jku, crit, x5u...: nothing we honour */
  }
  return JWT_OK;
}

int jwt_decode_verified(const uint8_t *key, size_t key_len, const char *token,
                        size_t len, json_t **payload)
{
  *payload = NULL;
  if (len > JWT_MAX_LEN)
    return JWT_ETOOLONG;
  if (memchr(token, '\0', len))
    return JWT_EFORMAT;
  const char *dot1 = memchr(token, '.', len);
  const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
  if (!dot1 || !dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
    return JWT_EFORMAT;
  size_t sig_len = len - (size_t)(dot2 + 1 - token);

  json_t *header = decode_json_part(token, (size_t)(dot1 - token));
  if (!header)
    return JWT_EFORMAT;
  int rc = check_header(header);
  json_decref(header);
  if (rc != JWT_OK)
    return rc;

  uint8_t sig[HMAC_SHA256_LEN + 3];
  size_t n;
  if (sig_len == 0)
    return JWT_ESIGNATURE;
  if (b64url_decode(dot2 + 1, sig_len, sig, sizeof sig, &n) != 0)
    return sig_len > b64url_encoded_len(HMAC_SHA256_LEN) ? JWT_ESIGNATURE
                                                         : JWT_EFORMAT;
  if (n != HMAC_SHA256_LEN ||
      crypto_hmac_sha256_verify(key, key_len, (const uint8_t *)token,
                                (size_t)(dot2 - token), sig, n) != 0)
    return JWT_ESIGNATURE;

  *payload = decode_json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
  return *payload ? JWT_OK : JWT_EFORMAT;
}

static int string_claim_is(json_t *payload, const char *name,
                           const char *want)
{
  const char *have = json_string_value(json_object_get(payload, name));
  return want && have && !strcmp(have, want);
}

int jwt_check_claims(json_t *payload, const struct jwt_expect *expect,
                     int64_t now)
{
  int64_t leeway = expect->leeway_s;
  if (leeway < 0)
    leeway = 0;
  if (leeway > JWT_MAX_LEEWAY_S)
    leeway = JWT_MAX_LEEWAY_S;
  if (!string_claim_is(payload, "iss", expect->iss) ||
      !string_claim_is(payload, "aud", expect->aud) ||
      !string_claim_is(payload, "typ", expect->typ))
    return JWT_ECLAIMS;
  const char *sub = json_string_value(json_object_get(payload, "sub"));
  const char *jti = json_string_value(json_object_get(payload, "jti"));
  json_t *iat = json_object_get(payload, "iat");
  json_t *nbf = json_object_get(payload, "nbf");
  json_t *exp = json_object_get(payload, "exp");
  if (!sub || !*sub || !jti || !*jti || !json_is_integer(iat) ||
      !json_is_integer(nbf) || !json_is_integer(exp))
    return JWT_ECLAIMS;
  if (now + leeway < json_integer_value(nbf) ||
      now + leeway < json_integer_value(iat))
    return JWT_ENOTYET;
  if (now - leeway >= json_integer_value(exp))
    return JWT_EEXPIRED;
  return JWT_OK;
}

int jwt_verify(const uint8_t *key, size_t key_len, const char *token,
               size_t len, const struct jwt_expect *expect, int64_t now,
               json_t **payload)
{
  int rc = jwt_decode_verified(key, key_len, token, len, payload);
  if (rc == JWT_OK)
    rc = jwt_check_claims(*payload, expect, now);
  if (rc != JWT_OK) {
    json_decref(*payload);
    *payload = NULL;
  }
  return rc;
}
