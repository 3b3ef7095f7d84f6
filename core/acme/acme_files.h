/* The ACME client's files: the account key (made once, mode 0600, then
 * reused; two issuances starting at once agree on one key) and the
 * certificate's key and chain, each replaced atomically (temporary file in
 * the same directory, fsync, rename), so a reader never sees half a file. */
#ifndef WEFT_CORE_ACME_FILES_H
#define WEFT_CORE_ACME_FILES_H

#include <openssl/evp.h>
#include <stddef.h>
#include <sys/types.h>

/* The P-256 key in path, or a new one written there 0600 if there is no
 * file. NULL with err (unreadable, not a P-256 key, cannot write). */
EVP_PKEY *acme_account_key(const char *path, char *err, size_t errlen);

struct acme_file {
  const char *path;
  mode_t mode;
  const char *data;
  size_t len;
};

/* Writes every file to a temporary name first, then renames them in
 * order, so that a full disk or a bad directory changes none of them.
 * 0, or -1 with err. */
int acme_write_files(const struct acme_file *files, size_t n, char *err,
                     size_t errlen);

/* key as PEM (PKCS#8), malloc'd, *len set; NULL on failure. */
char *acme_key_pem(EVP_PKEY *key, size_t *len);

#endif
