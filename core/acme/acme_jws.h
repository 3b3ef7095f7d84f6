/* The ACME client's cryptography: P-256 keys, the account key's JWK and
 * RFC 7638 thumbprint, ES256 JWS request bodies (RFC 7515, 8555 6.2), the
 * certificate signing request, and the check that a downloaded chain is
 * for our key and name. OpenSSL only; nothing global, so it can run on any
 * thread. Returned strings are malloc'd and the caller frees them. */
#ifndef WEFT_CORE_ACME_JWS_H
#define WEFT_CORE_ACME_JWS_H

#include <openssl/evp.h>
#include <stddef.h>

#include "acme/acme_parse.h"

/* A new P-256 key, or NULL. */
EVP_PKEY *acme_key_new(void);
/* 0 when key is an EC key on P-256, else -1. */
int acme_key_is_p256(EVP_PKEY *key);

/* base64url(SHA-256 of the JWK {"crv","kty","x","y"} in that order, no
 * spaces): the account's identity in every key authorization. 0 or -1. */
int acme_jwk_thumbprint(EVP_PKEY *key, char out[ACME_THUMBPRINT_LEN + 1]);

/* token "." thumbprint; 0, or -1 if the token is invalid or out is short. */
int acme_key_authorization(const char *token, const char *thumbprint,
                           char *out, size_t outlen);

/* The flattened JWS JSON for one request: protected header {alg ES256,
 * nonce, url, and kid, or jwk when kid is NULL}, payload the JSON text
 * (NULL for POST-as-GET: an empty payload). NULL on failure. */
char *acme_jws(EVP_PKEY *key, const char *kid, const char *nonce,
               const char *url, const char *payload);

/* base64url of a DER CSR for `name` (CN and one subjectAltName DNS entry)
 * signed by key. NULL on failure. */
char *acme_csr(EVP_PKEY *key, const char *name);

/* Reads the CA's PEM chain (len bytes): one or more certificates, the
 * first for `key` and valid for `name`. Sets *out to the same chain written
 * anew (certificates only, whatever else the answer held) and *outlen; the
 * caller frees *out. 0, or -1 with err. */
int acme_chain_pem(const char *pem, size_t len, EVP_PKEY *key,
                   const char *name, char **out, size_t *outlen, char *err,
                   size_t errlen);

#endif
