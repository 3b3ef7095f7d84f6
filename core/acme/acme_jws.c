#include "acme/acme_jws.h"

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "auth/crypto.h"
#include "base/errorf.h"

#define P256_COORD 32

static char *b64url_alloc(const void *bin, size_t len)
{
  size_t size = b64url_encoded_len(len) + 1;
  char *out = malloc(size);
  if (out && len == 0)
    out[0] = '\0';
  else if (out && b64url_encode(bin, len, out, size) == 0) {
    free(out);
    out = NULL;
  }
  return out;
}

EVP_PKEY *acme_key_new(void)
{
  return EVP_EC_gen("P-256");
}

int acme_key_is_p256(EVP_PKEY *key)
{
  char group[64];
  if (!key || !EVP_PKEY_is_a(key, "EC") ||
      EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                     sizeof group, NULL) != 1)
    return -1;
  return OBJ_sn2nid(group) == NID_X9_62_prime256v1 ? 0 : -1;
}

/* The public point's coordinates, each left-padded to 32 bytes as RFC 7518
 * 6.2.1.2 requires. */
static int ec_coords(EVP_PKEY *key, unsigned char x[P256_COORD],
                     unsigned char y[P256_COORD])
{
  BIGNUM *bx = NULL, *by = NULL;
  int ok = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &bx) == 1 &&
           EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &by) == 1 &&
           BN_bn2binpad(bx, x, P256_COORD) == P256_COORD &&
           BN_bn2binpad(by, y, P256_COORD) == P256_COORD;
  BN_free(bx);
  BN_free(by);
  return ok ? 0 : -1;
}

static json_t *jwk_of(EVP_PKEY *key)
{
  unsigned char x[P256_COORD], y[P256_COORD];
  if (ec_coords(key, x, y) != 0)
    return NULL;
  char *xs = b64url_alloc(x, sizeof x), *ys = b64url_alloc(y, sizeof y);
  json_t *jwk = xs && ys ? json_pack("{s:s, s:s, s:s, s:s}", "crv", "P-256",
                                     "kty", "EC", "x", xs, "y", ys)
                         : NULL;
  free(xs);
  free(ys);
  return jwk;
}

int acme_jwk_thumbprint(EVP_PKEY *key, char out[ACME_THUMBPRINT_LEN + 1])
{
  json_t *jwk = jwk_of(key);
  /* RFC 7638: required members only, sorted, no whitespace. */
  char *text = jwk ? json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(jwk);
  unsigned char md[32];
  int ok = text && EVP_Digest(text, strlen(text), md, NULL, EVP_sha256(),
                              NULL) == 1;
  free(text);
  return ok && b64url_encode(md, sizeof md, out, ACME_THUMBPRINT_LEN + 1) ==
                   ACME_THUMBPRINT_LEN
             ? 0
             : -1;
}

int acme_key_authorization(const char *token, const char *thumbprint,
                           char *out, size_t outlen)
{
  if (!acme_token_valid(token) || strlen(thumbprint) != ACME_THUMBPRINT_LEN)
    return -1;
  int n = snprintf(out, outlen, "%s.%s", token, thumbprint);
  return n > 0 && (size_t)n < outlen ? 0 : -1;
}

/* ES256 as JWS wants it (RFC 7518 3.4): r||s, 32 bytes each, where OpenSSL
 * gives a DER ECDSA-Sig-Value. */
static int es256_sign(EVP_PKEY *key, const char *data, size_t len,
                      unsigned char sig[2 * P256_COORD])
{
  unsigned char der[80];
  size_t der_len = sizeof der;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  int ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
           EVP_DigestSign(md, der, &der_len, (const unsigned char *)data,
                          len) == 1;
  EVP_MD_CTX_free(md);
  const unsigned char *p = der;
  ECDSA_SIG *es = ok ? d2i_ECDSA_SIG(NULL, &p, (long)der_len) : NULL;
  const BIGNUM *r = NULL, *s = NULL;
  if (es)
    ECDSA_SIG_get0(es, &r, &s);
  ok = es && BN_bn2binpad(r, sig, P256_COORD) == P256_COORD &&
       BN_bn2binpad(s, sig + P256_COORD, P256_COORD) == P256_COORD;
  ECDSA_SIG_free(es);
  return ok ? 0 : -1;
}

static char *protected_b64(EVP_PKEY *key, const char *kid, const char *nonce,
                           const char *url)
{
  json_t *h = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "nonce", nonce,
                        "url", url);
  if (h && kid)
    json_object_set_new(h, "kid", json_string(kid));
  else if (h)
    json_object_set_new(h, "jwk", jwk_of(key));
  char *text = h && json_object_size(h) == 4 ? json_dumps(h, JSON_COMPACT)
                                             : NULL;
  json_decref(h);
  char *b64 = text ? b64url_alloc(text, strlen(text)) : NULL;
  free(text);
  return b64;
}

/* "protected.payload", what the signature covers. */
static char *signing_input(const char *prot, const char *payload)
{
  size_t n = strlen(prot) + 1 + strlen(payload) + 1;
  char *in = malloc(n);
  if (in)
    snprintf(in, n, "%s.%s", prot, payload);
  return in;
}

char *acme_jws(EVP_PKEY *key, const char *kid, const char *nonce,
               const char *url, const char *payload)
{
  char *prot = protected_b64(key, kid, nonce, url);
  char *pay = b64url_alloc(payload ? payload : "", payload ? strlen(payload)
                                                           : 0);
  char *input = prot && pay ? signing_input(prot, pay) : NULL;
  unsigned char sig[2 * P256_COORD];
  char *sig_b64 = input && es256_sign(key, input, strlen(input), sig) == 0
                      ? b64url_alloc(sig, sizeof sig)
                      : NULL;
  json_t *jws = sig_b64 ? json_pack("{s:s, s:s, s:s}", "protected", prot,
                                    "payload", pay, "signature", sig_b64)
                        : NULL;
  char *text = jws ? json_dumps(jws, JSON_COMPACT) : NULL;
  json_decref(jws);
  free(sig_b64);
  free(input);
  free(pay);
  free(prot);
  return text;
}

static int add_san(X509_REQ *req, const char *name)
{
  GENERAL_NAMES *names = GENERAL_NAMES_new();
  GENERAL_NAME *dns = GENERAL_NAME_new();
  ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
  STACK_OF(X509_EXTENSION) *exts = NULL;
  int ok = names && dns && ia5 && ASN1_STRING_set(ia5, name, -1) == 1;
  if (ok) {
    GENERAL_NAME_set0_value(dns, GEN_DNS, ia5);
    ia5 = NULL;
    ok = sk_GENERAL_NAME_push(names, dns) > 0;
    if (ok)
      dns = NULL;
  }
  ok = ok &&
       X509V3_add1_i2d(&exts, NID_subject_alt_name, names, 0,
                       X509V3_ADD_DEFAULT) == 1 &&
       X509_REQ_add_extensions(req, exts) == 1;
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  ASN1_IA5STRING_free(ia5);
  GENERAL_NAME_free(dns);
  GENERAL_NAMES_free(names);
  return ok ? 0 : -1;
}

char *acme_csr(EVP_PKEY *key, const char *name)
{
  X509_REQ *req = X509_REQ_new();
  int ok = req && X509_REQ_set_version(req, 0) == 1 &&
           X509_REQ_set_pubkey(req, key) == 1 && add_san(req, name) == 0;
  /* A CN holds at most 64 characters (RFC 5280 ub-common-name); the SAN
   * is what CAs issue on, so a longer name simply goes without a CN. */
  if (ok && strlen(name) <= 64)
    ok = X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN",
                                    MBSTRING_ASC, (const unsigned char *)name,
                                    -1, -1, 0) == 1;
  ok = ok && X509_REQ_sign(req, key, EVP_sha256()) > 0;
  unsigned char *der = NULL;
  int len = ok ? i2d_X509_REQ(req, &der) : -1;
  char *b64 = len > 0 ? b64url_alloc(der, (size_t)len) : NULL;
  OPENSSL_free(der);
  X509_REQ_free(req);
  return b64;
}

static int leaf_check(X509 *leaf, EVP_PKEY *key, const char *name, char *err,
                      size_t errlen)
{
  if (X509_check_private_key(leaf, key) != 1)
    return errorf(err, errlen,
                  "the certificate is not for the key this client made");
  if (X509_check_host(leaf, name, strlen(name), 0, NULL) != 1)
    return errorf(err, errlen, "the certificate is not valid for %s", name);
  return 0;
}

/* Every certificate in `in`, appended to `out` as PEM; how many, or -1. */
static int copy_certs(BIO *in, BIO *out, X509 **leaf)
{
  int n = 0;
  X509 *cert;
  while ((cert = PEM_read_bio_X509(in, NULL, NULL, NULL))) {
    int ok = PEM_write_bio_X509(out, cert) == 1;
    if (ok && n == 0)
      *leaf = cert;
    else
      X509_free(cert);
    if (!ok || ++n > 16) /* no chain is this long */
      return -1;
  }
  unsigned long e = ERR_peek_last_error();
  /* The loop ends at the end of the text (no further BEGIN line) or at a
   * block that does not parse. */
  if (n > 0 && ERR_GET_LIB(e) == ERR_LIB_PEM &&
      ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
    return n;
  return -1;
}

int acme_chain_pem(const char *pem, size_t len, EVP_PKEY *key,
                   const char *name, char **out, size_t *outlen, char *err,
                   size_t errlen)
{
  *out = NULL;
  *outlen = 0;
  if (len > ACME_BODY_MAX)
    return errorf(err, errlen, "the chain is larger than %d bytes",
                  ACME_BODY_MAX);
  ERR_clear_error();
  BIO *in = BIO_new_mem_buf(pem, (int)len), *copy = BIO_new(BIO_s_mem());
  X509 *leaf = NULL;
  int rc = in && copy && copy_certs(in, copy, &leaf) > 0
               ? 0
               : errorf(err, errlen, "the answer is not a PEM certificate "
                                     "chain");
  if (rc == 0)
    rc = leaf_check(leaf, key, name, err, errlen);
  char *data = NULL;
  long n = rc == 0 ? BIO_get_mem_data(copy, &data) : 0;
  if (rc == 0 && (n <= 0 || !(*out = malloc((size_t)n))))
    rc = errorf(err, errlen, "out of memory");
  if (rc == 0) {
    memcpy(*out, data, (size_t)n);
    *outlen = (size_t)n;
  }
  X509_free(leaf);
  BIO_free(in);
  BIO_free(copy);
  ERR_clear_error();
  return rc;
}
