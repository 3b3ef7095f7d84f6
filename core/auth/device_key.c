/* A device's key pair and its file (see device_key.h). */
#include "auth/device_key.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER "weft-device-key 1\n"
#define SEED_TEXT_LEN 43 /* 32 bytes in base64url, unpadded */

int device_key_parse(const char *text, size_t len, struct device_key *out,
                     const char **why)
{
  if (sodium_init() < 0) {
    *why = "libsodium did not start";
    return -1;
  }
  const size_t header = sizeof HEADER - 1;
  if (len < header || memcmp(text, HEADER, header)) {
    *why = "it does not begin with \"weft-device-key 1\"";
    return -1;
  }
  text += header;
  len -= header;
  if (len != SEED_TEXT_LEN + 1 || text[SEED_TEXT_LEN] != '\n') {
    *why = "its key is not one line of 43 base64url characters";
    return -1;
  }
  uint8_t seed[crypto_sign_SEEDBYTES];
  size_t n = 0;
  if (sodium_base642bin(seed, sizeof seed, text, SEED_TEXT_LEN, NULL, &n,
                        NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      n != sizeof seed) {
    *why = "its key is not valid base64url";
    return -1;
  }
  crypto_sign_seed_keypair(out->public_key, out->secret_key, seed);
  sodium_memzero(seed, sizeof seed);
  return 0;
}

/* A new key, written where none was: O_EXCL, so two agents starting at
 * once cannot both write one (the loser reads the winner's). */
static int create_key(const char *path, struct device_key *out, char *err,
                      size_t errlen)
{
  uint8_t seed[crypto_sign_SEEDBYTES];
  randombytes_buf(seed, sizeof seed);
  char text[sizeof HEADER + SEED_TEXT_LEN + 2];
  char b64[SEED_TEXT_LEN + 1];
  sodium_bin2base64(b64, sizeof b64, seed, sizeof seed,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  int n = snprintf(text, sizeof text, "%s%s\n", HEADER, b64);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    snprintf(err, errlen, "cannot create the device key %s: %s", path,
             strerror(errno));
    sodium_memzero(seed, sizeof seed);
    return -1;
  }
  bool ok = write(fd, text, (size_t)n) == n && fsync(fd) == 0;
  ok &= close(fd) == 0;
  sodium_memzero(text, sizeof text);
  sodium_memzero(b64, sizeof b64);
  if (!ok) {
    snprintf(err, errlen, "cannot write the device key %s: %s", path,
             strerror(errno));
    unlink(path);
    sodium_memzero(seed, sizeof seed);
    return -1;
  }
  crypto_sign_seed_keypair(out->public_key, out->secret_key, seed);
  sodium_memzero(seed, sizeof seed);
  return 0;
}

/* Makes the key's directory (0700) if it is missing. */
static int make_dir_of(const char *path, char *err, size_t errlen)
{
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir)
    return 0;
  *slash = '\0';
  for (char *p = dir + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
      break;
    *p = '/';
  }
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "cannot make the directory %s for the device key: "
             "%s", dir, strerror(errno));
    return -1;
  }
  return 0;
}

/* Reads the key file fd opened (path for messages), and closes fd. */
static int read_key(int fd, const char *path, struct device_key *out,
                    char *err, size_t errlen)
{
  struct stat st;
  const char *bad = NULL;
  if (fstat(fd, &st) != 0)
    bad = "not readable";
  else if (!S_ISREG(st.st_mode))
    bad = "not a regular file";
  else if (st.st_mode & 077)
    bad = "readable by others";
  char text[DEVICE_KEY_FILE_MAX + 1];
  ssize_t n = bad ? -1 : read(fd, text, sizeof text);
  close(fd);
  if (bad) {
    snprintf(err, errlen,
             "the device key %s is %s; it must be a file only its owner "
             "reads (chmod 600 %s)",
             path, bad, path);
    return -1;
  }
  if (n < 0) {
    snprintf(err, errlen, "cannot read the device key %s: %s", path,
             strerror(errno));
    return -1;
  }
  const char *why = "it is too long";
  int rc = (size_t)n <= DEVICE_KEY_FILE_MAX
               ? device_key_parse(text, (size_t)n, out, &why)
               : -1;
  sodium_memzero(text, sizeof text);
  if (rc != 0)
    snprintf(err, errlen, "the device key %s is not usable: %s", path, why);
  return rc;
}

int device_key_load(const char *path, struct device_key *out, char *err,
                    size_t errlen)
{
  if (sodium_init() < 0) {
    snprintf(err, errlen, "libsodium did not start");
    return -1;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT)
    return 0;
  if (fd < 0) {
    snprintf(err, errlen, "cannot read the device key %s: %s", path,
             strerror(errno));
    return -1;
  }
  return read_key(fd, path, out, err, errlen) == 0 ? 1 : -1;
}

int device_key_load_or_create(const char *path, struct device_key *out,
                              bool *created, char *err, size_t errlen)
{
  *created = false;
  int rc = device_key_load(path, out, err, errlen);
  if (rc != 0)
    return rc > 0 ? 0 : -1;
  if (make_dir_of(path, err, errlen) != 0)
    return -1;
  if (create_key(path, out, err, errlen) == 0) {
    *created = true;
    return 0;
  }
  /* Another agent made it meanwhile (O_EXCL): that one is the key. If
   * there is still none, create_key's message says why. */
  return device_key_load(path, out, err, errlen) > 0 ? 0 : -1;
}

static void put(uint8_t **p, const uint8_t *end, const void *data, size_t len,
                bool *fits)
{
  if (!*fits || (size_t)(end - *p) < len + 2 || len > 0xffff) {
    *fits = false;
    return;
  }
  (*p)[0] = (uint8_t)(len >> 8);
  (*p)[1] = (uint8_t)len;
  memcpy(*p + 2, data, len);
  *p += len + 2;
}

size_t device_key_login_message(const uint8_t *client_nonce,
                                const uint8_t *server_nonce, size_t nonce_len,
                                const uint8_t *binding, size_t binding_len,
                                const char *device_id, uint8_t *out,
                                size_t outlen)
{
  static const char label[] = "weft/1|login|device-key";
  uint8_t *p = out;
  const uint8_t *end = out + outlen;
  bool fits = true;
  put(&p, end, label, sizeof label - 1, &fits);
  put(&p, end, client_nonce, nonce_len, &fits);
  put(&p, end, server_nonce, nonce_len, &fits);
  put(&p, end, binding, binding_len, &fits);
  put(&p, end, device_id, strlen(device_id), &fits);
  return fits ? (size_t)(p - out) : 0;
}

size_t device_key_enroll_message(const uint8_t *token, size_t token_len,
                                 const uint8_t *binding, size_t binding_len,
                                 const char *device_id, uint8_t *out,
                                 size_t outlen)
{
  static const char label[] = "weft/1|enroll|device-key";
  uint8_t *p = out;
  const uint8_t *end = out + outlen;
  bool fits = true;
  put(&p, end, label, sizeof label - 1, &fits);
  put(&p, end, token, token_len, &fits);
  put(&p, end, binding, binding_len, &fits);
  put(&p, end, device_id, strlen(device_id), &fits);
  return fits ? (size_t)(p - out) : 0;
}

size_t device_key_rotate_message(const uint8_t old_key[DEVICE_KEY_PUBLIC_LEN],
                                 const uint8_t *binding, size_t binding_len,
                                 const char *device_id, uint8_t *out,
                                 size_t outlen)
{
  static const char label[] = "weft/1|rotate|device-key";
  uint8_t *p = out;
  const uint8_t *end = out + outlen;
  bool fits = true;
  put(&p, end, label, sizeof label - 1, &fits);
  put(&p, end, old_key, DEVICE_KEY_PUBLIC_LEN, &fits);
  put(&p, end, binding, binding_len, &fits);
  put(&p, end, device_id, strlen(device_id), &fits);
  return fits ? (size_t)(p - out) : 0;
}

int device_key_sign(const struct device_key *k, const uint8_t *msg,
                    size_t len, uint8_t sig[DEVICE_KEY_SIG_LEN])
{
  return crypto_sign_detached(sig, NULL, msg, len, k->secret_key) == 0 ? 0
                                                                      : -1;
}

int device_key_verify(const uint8_t public_key[DEVICE_KEY_PUBLIC_LEN],
                      const uint8_t *msg, size_t len,
                      const uint8_t sig[DEVICE_KEY_SIG_LEN])
{
  if (sodium_init() < 0)
    return -1;
  return crypto_sign_verify_detached(sig, msg, len, public_key) == 0 ? 0 : -1;
}

void device_key_fingerprint(const uint8_t public_key[DEVICE_KEY_PUBLIC_LEN],
                            char out[DEVICE_KEY_FINGERPRINT_LEN])
{
  uint8_t h[16];
  crypto_generichash(h, sizeof h, public_key, DEVICE_KEY_PUBLIC_LEN, NULL, 0);
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  for (size_t i = 0; i < sizeof h; i++) {
    if (i && i % 2 == 0)
      out[o++] = '-';
    out[o++] = hex[h[i] >> 4];
    out[o++] = hex[h[i] & 15];
  }
  out[o] = '\0';
}
