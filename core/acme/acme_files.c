#include "acme/acme_files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acme/acme_jws.h"
#include "base/errorf.h"

static int write_all(int fd, const char *data, size_t len)
{
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

/* A new file beside path holding data with the given mode, synced; its name
 * goes to tmp. */
static int write_temp(const char *path, mode_t mode, const char *data,
                      size_t len, char tmp[PATH_MAX], char *err,
                      size_t errlen)
{
  if (snprintf(tmp, PATH_MAX, "%s.tmp-XXXXXX", path) >= PATH_MAX)
    return errorf(err, errlen, "%s: path too long", path);
  int fd = mkostemp(tmp, O_CLOEXEC); /* made 0600, before any byte */
  if (fd < 0)
    return errorf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
  int ok = fchmod(fd, mode) == 0 && write_all(fd, data, len) == 0 &&
           fsync(fd) == 0;
  int saved = errno;
  ok = close(fd) == 0 && ok;
  if (!ok) {
    unlink(tmp);
    return errorf(err, errlen, "cannot write %s: %s", tmp, strerror(saved));
  }
  return 0;
}

#define FILES_MAX 4

int acme_write_files(const struct acme_file *files, size_t n, char *err,
                     size_t errlen)
{
  char tmp[FILES_MAX][PATH_MAX];
  size_t made = 0;
  int rc = n <= FILES_MAX ? 0 : errorf(err, errlen, "too many files");
  for (; rc == 0 && made < n; made++)
    rc = write_temp(files[made].path, files[made].mode, files[made].data,
                    files[made].len, tmp[made], err, errlen);
  if (rc != 0)
    made = made ? made - 1 : 0; /* the failed one removed itself */
  for (size_t i = 0; rc == 0 && i < n; i++)
    if (rename(tmp[i], files[i].path) != 0)
      rc = errorf(err, errlen, "cannot write %s: %s", files[i].path,
                  strerror(errno));
  if (rc != 0)
    for (size_t i = 0; i < made; i++)
      unlink(tmp[i]); /* those already renamed are gone anyway */
  return rc;
}

char *acme_key_pem(EVP_PKEY *key, size_t *len)
{
  BIO *b = BIO_new(BIO_s_mem());
  char *data = NULL, *out = NULL;
  long n = b && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)
               ? BIO_get_mem_data(b, &data)
               : 0;
  if (n > 0 && (out = malloc((size_t)n + 1))) {
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    *len = (size_t)n;
  }
  BIO_free(b);
  return out;
}

/* The key in path; NULL with errno ENOENT when there is no file. */
static EVP_PKEY *load_key(const char *path, char *err, size_t errlen)
{
  FILE *f = fopen(path, "re");
  if (!f) {
    int saved = errno;
    errorf(err, errlen, "cannot read %s: %s", path, strerror(saved));
    errno = saved;
    return NULL;
  }
  EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
  fclose(f);
  ERR_clear_error();
  if (acme_key_is_p256(key) != 0) {
    EVP_PKEY_free(key);
    errorf(err, errlen, "%s is not a PEM P-256 private key", path);
    errno = EINVAL;
    return NULL;
  }
  return key;
}

/* link(2) instead of rename(2): of two processes making the key at once,
 * the second finds the first's and uses it. */
static EVP_PKEY *create_key(const char *path, char *err, size_t errlen)
{
  EVP_PKEY *key = acme_key_new();
  size_t len = 0;
  char *pem = key ? acme_key_pem(key, &len) : NULL;
  char tmp[PATH_MAX];
  int rc = pem ? write_temp(path, 0600, pem, len, tmp, err, errlen)
               : errorf(err, errlen, "cannot make a P-256 key");
  if (pem)
    OPENSSL_cleanse(pem, len);
  free(pem);
  if (rc == 0) {
    int linked = link(tmp, path), saved = errno;
    unlink(tmp);
    if (linked != 0) {
      EVP_PKEY_free(key);
      if (saved == EEXIST)
        return load_key(path, err, errlen);
      errorf(err, errlen, "cannot create %s: %s", path, strerror(saved));
      return NULL;
    }
  }
  if (rc != 0) {
    EVP_PKEY_free(key);
    key = NULL;
  }
  return key;
}

EVP_PKEY *acme_account_key(const char *path, char *err, size_t errlen)
{
  EVP_PKEY *key = load_key(path, err, errlen);
  if (!key && errno == ENOENT)
    key = create_key(path, err, errlen);
  return key;
}
