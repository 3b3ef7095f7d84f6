/* A certificate chain and its private key handed over as one PEM text
 * (weft tunnel --tls-secret): parsed, checked against the host name it is
 * for, and written as the NAME.crt and NAME.key the certificate store
 * serves. The text is a peer's: every check names what is wrong. */
#ifndef WEFT_CORE_CERT_PAIR_H
#define WEFT_CORE_CERT_PAIR_H

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

/* More than a chain of a few certificates and a key has any need of. */
#define CERT_PAIR_MAX_PEM (64 * 1024)

struct cert_pair {
  X509 *leaf;            /* the first certificate */
  STACK_OF(X509) *chain; /* those after it, in order */
  EVP_PKEY *key;
};

/* pem: "-----BEGIN CERTIFICATE-----" blocks (the leaf first) and one
 * private key block, in any order. 0, or -1 with why. */
int cert_pair_parse(struct cert_pair *cp, const char *pem, size_t len,
                    char *why, size_t whylen);
/* 0 when the leaf names host (its subjectAltName, as browsers check it)
 * and is valid at now (wall-clock seconds), else -1 with why. */
int cert_pair_check(const struct cert_pair *cp, const char *host, int64_t now,
                    char *why, size_t whylen);
/* Writes crt (the chain, 0644) and key (0600), each through a temporary
 * file renamed into place. 0, or -1 with why. */
int cert_pair_write(const struct cert_pair *cp, const char *crt,
                    const char *key, char *why, size_t whylen);
void cert_pair_free(struct cert_pair *cp);

/* The device's side: reads a TLS secret file (at most CERT_PAIR_MAX_PEM)
 * into a malloc'd, NUL-terminated text and checks it is a pair for host.
 * The text, or NULL with why. */
char *cert_pair_read_file(const char *path, const char *host, int64_t now,
                          char *why, size_t whylen);

#endif
