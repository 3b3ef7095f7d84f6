#include "net/cert_pair.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

void cert_pair_free(struct cert_pair *cp)
{
  X509_free(cp->leaf);
  sk_X509_pop_free(cp->chain, X509_free);
  EVP_PKEY_free(cp->key);
  memset(cp, 0, sizeof *cp);
}

static int fail(struct cert_pair *cp, char *why, size_t whylen,
                const char *what)
{
  unsigned long e = ERR_peek_last_error();
  char reason[160] = "";
  if (e)
    snprintf(reason, sizeof reason, " (%s)", ERR_reason_error_string(e));
  ERR_clear_error();
  snprintf(why, whylen, "%s%s", what, reason);
  cert_pair_free(cp);
  return -1;
}

int cert_pair_parse(struct cert_pair *cp, const char *pem, size_t len,
                    char *why, size_t whylen)
{
  memset(cp, 0, sizeof *cp);
  if (len > CERT_PAIR_MAX_PEM)
    return fail(cp, why, whylen, "the TLS secret is larger than 64 KiB");
  cp->chain = sk_X509_new_null();
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  if (!cp->chain || !bio) {
    BIO_free(bio);
    return fail(cp, why, whylen, "out of memory");
  }
  /* One pass over the blocks: certificates in order, one key. */
  char *name = NULL, *header = NULL;
  unsigned char *data = NULL;
  long n;
  int blocks = 0;
  const char *bad = NULL;
  while (!bad && PEM_read_bio(bio, &name, &header, &data, &n) == 1) {
    const unsigned char *p = data;
    blocks++;
    if (!strcmp(name, "CERTIFICATE")) {
      X509 *x = d2i_X509(NULL, &p, n);
      if (!x)
        bad = "a CERTIFICATE block does not hold a certificate";
      else if (!cp->leaf)
        cp->leaf = x;
      else if (!sk_X509_push(cp->chain, x))
        X509_free(x), bad = "out of memory";
    } else if (!strcmp(name, "PRIVATE KEY") ||
               !strcmp(name, "RSA PRIVATE KEY") ||
               !strcmp(name, "EC PRIVATE KEY")) {
      if (cp->key)
        bad = "the TLS secret holds more than one private key";
      else if (!strcmp(name, "PRIVATE KEY"))
        cp->key = d2i_AutoPrivateKey(NULL, &p, n);
      else
        cp->key = d2i_PrivateKey(strcmp(name, "RSA PRIVATE KEY")
                                     ? EVP_PKEY_EC
                                     : EVP_PKEY_RSA,
                                 NULL, &p, n);
      if (!bad && !cp->key)
        bad = "its private key block does not hold a key";
    } else if (!strcmp(name, "ENCRYPTED PRIVATE KEY")) {
      bad = "its private key is encrypted: give it unencrypted (the "
            "file stays 0600 on both sides)";
    } else {
      bad = "it holds a PEM block that is neither a certificate nor a "
            "private key";
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    name = header = NULL;
    data = NULL;
  }
  BIO_free(bio);
  ERR_clear_error(); /* the end of the blocks reads as an error */
  if (bad)
    return fail(cp, why, whylen, bad);
  if (!blocks)
    return fail(cp, why, whylen,
                "the TLS secret is not PEM (no -----BEGIN block)");
  if (!cp->leaf)
    return fail(cp, why, whylen, "the TLS secret holds no certificate");
  if (!cp->key)
    return fail(cp, why, whylen, "the TLS secret holds no private key");
  if (X509_check_private_key(cp->leaf, cp->key) != 1)
    return fail(cp, why, whylen,
                "its private key is not the first certificate's key");
  return 0;
}

int cert_pair_check(const struct cert_pair *cp, const char *host, int64_t now,
                    char *why, size_t whylen)
{
  if (X509_check_host(cp->leaf, host, 0, 0, NULL) != 1) {
    snprintf(why, whylen, "its certificate is not for %s", host);
    return -1;
  }
  time_t t = (time_t)now;
  if (X509_cmp_time(X509_get0_notBefore(cp->leaf), &t) > 0) {
    snprintf(why, whylen, "its certificate is not valid yet");
    return -1;
  }
  if (X509_cmp_time(X509_get0_notAfter(cp->leaf), &t) < 0) {
    snprintf(why, whylen, "its certificate has expired");
    return -1;
  }
  return 0;
}

/* Writes path through path.tmp, mode given; what writes into a BIO. */
static int write_file(const char *path, mode_t mode,
                      int (*what)(BIO *, const struct cert_pair *),
                      const struct cert_pair *cp, char *why, size_t whylen)
{
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    snprintf(why, whylen, "cannot write %s: %s", tmp, strerror(errno));
    return -1;
  }
  BIO *bio = BIO_new_fd(fd, BIO_CLOSE);
  int ok = bio && what(bio, cp) == 1 && BIO_flush(bio) == 1;
  if (bio)
    BIO_free(bio);
  else
    close(fd);
  ERR_clear_error();
  if (!ok || rename(tmp, path) != 0) {
    snprintf(why, whylen, "cannot write %s", path);
    unlink(tmp);
    return -1;
  }
  return 0;
}

static int put_chain(BIO *bio, const struct cert_pair *cp)
{
  if (PEM_write_bio_X509(bio, cp->leaf) != 1)
    return 0;
  for (int i = 0; i < sk_X509_num(cp->chain); i++)
    if (PEM_write_bio_X509(bio, sk_X509_value(cp->chain, i)) != 1)
      return 0;
  return 1;
}

static int put_key(BIO *bio, const struct cert_pair *cp)
{
  return PEM_write_bio_PrivateKey(bio, cp->key, NULL, NULL, 0, NULL, NULL);
}

int cert_pair_write(const struct cert_pair *cp, const char *crt,
                    const char *key, char *why, size_t whylen)
{
  /* the key first: the store serves a name once both files are there */
  return write_file(key, 0600, put_key, cp, why, whylen) ||
                 write_file(crt, 0644, put_chain, cp, why, whylen)
             ? -1
             : 0;
}

char *cert_pair_read_file(const char *path, const char *host, int64_t now,
                          char *why, size_t whylen)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
    if (fd >= 0)
      close(fd);
    return NULL;
  }
  if (!S_ISREG(st.st_mode) || st.st_size > CERT_PAIR_MAX_PEM) {
    snprintf(why, whylen, "%s: not a file of at most 64 KiB", path);
    close(fd);
    return NULL;
  }
  char *text = malloc((size_t)st.st_size + 1);
  ssize_t n = text ? read(fd, text, (size_t)st.st_size) : -1;
  close(fd);
  if (n < 0) {
    snprintf(why, whylen, "cannot read %s", path);
    free(text);
    return NULL;
  }
  text[n] = '\0';
  struct cert_pair cp;
  char what[256];
  int rc = cert_pair_parse(&cp, text, (size_t)n, what, sizeof what);
  if (rc == 0) {
    rc = cert_pair_check(&cp, host, now, what, sizeof what);
    cert_pair_free(&cp);
  }
  if (rc != 0) {
    snprintf(why, whylen, "%s: %s", path, what);
    free(text);
    return NULL;
  }
  return text;
}
