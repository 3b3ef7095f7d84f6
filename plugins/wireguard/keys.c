/* WireGuard keys with libsodium. See keys.h. */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define B64_CHARS (WG_KEY_B64_LEN - 1)

int wg_keys_init(void)
{
  /* 1 means already initialised, which is fine. */
  return sodium_init() < 0 ? -1 : 0;
}

void wg_key_generate(uint8_t priv[WG_KEY_LEN])
{
  randombytes_buf(priv, WG_KEY_LEN);
  priv[0] &= 248;
  priv[31] &= 127;
  priv[31] |= 64;
}

void wg_key_random(uint8_t out[WG_KEY_LEN])
{
  randombytes_buf(out, WG_KEY_LEN);
}

int wg_key_public(uint8_t pub[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN])
{
  return crypto_scalarmult_base(pub, priv) == 0 ? 0 : -1;
}

int wg_key_shared(uint8_t out[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN],
                  const uint8_t pub[WG_KEY_LEN])
{
  /* libsodium returns -1 for a low-order public key, i.e. whenever the
   * result would be all zero. */
  if (crypto_scalarmult(out, priv, pub) != 0) {
    sodium_memzero(out, WG_KEY_LEN);
    return -1;
  }
  return 0;
}

void wg_key_to_base64(const uint8_t key[WG_KEY_LEN], char out[WG_KEY_B64_LEN])
{
  sodium_bin2base64(out, WG_KEY_B64_LEN, key, WG_KEY_LEN,
                    sodium_base64_VARIANT_ORIGINAL);
}

int wg_key_from_base64(const char *text, uint8_t key[WG_KEY_LEN])
{
  if (!text || strnlen(text, B64_CHARS + 1) != B64_CHARS ||
      text[B64_CHARS - 1] != '=')
    return -1;
  uint8_t bin[WG_KEY_LEN];
  size_t len = 0;
  const char *end = NULL;
  char again[WG_KEY_B64_LEN];
  int rc = -1;
  /* The text must also be what encoding the key gives back: 43 characters
   * carry 258 bits, so spare bits set would give one key two texts, and
   * libsodium 1.0.18 decodes any byte from 0x80 up as if it were '/'. */
  if (sodium_base642bin(bin, sizeof bin, text, B64_CHARS, NULL, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) == 0 &&
      len == WG_KEY_LEN && end == text + B64_CHARS) {
    wg_key_to_base64(bin, again);
    if (strcmp(again, text) == 0) {
      memcpy(key, bin, WG_KEY_LEN);
      rc = 0;
    }
  }
  sodium_memzero(bin, sizeof bin);
  sodium_memzero(again, sizeof again);
  return rc;
}

/* ---- key files ---------------------------------------------------------- */

/* The file's text: one key, a newline after it allowed. */
static int parse_key_text(const char *buf, size_t len,
                          uint8_t priv[WG_KEY_LEN])
{
  char text[WG_KEY_B64_LEN];
  if (len == B64_CHARS + 1 && buf[B64_CHARS] == '\n')
    len--;
  if (len != B64_CHARS)
    return -1;
  memcpy(text, buf, B64_CHARS);
  text[B64_CHARS] = '\0';
  int rc = wg_key_from_base64(text, priv);
  sodium_memzero(text, sizeof text);
  return rc;
}

/* Reads at most one byte more than the longest valid file, so a bigger one
 * shows as too long. */
static ssize_t read_small(int fd, char *buf, size_t cap)
{
  size_t len = 0;
  while (len < cap) {
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    if (n == 0)
      break;
    len += (size_t)n;
  }
  return (ssize_t)len;
}

static int check_mode(int fd, const char *path, char *why, size_t whylen)
{
  struct stat st;
  if (fstat(fd, &st) < 0) {
    snprintf(why, whylen, "%s: %s", path, strerror(errno));
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(why, whylen, "%s: not a regular file", path);
    return -1;
  }
  /* Writable by others is as bad as readable: whoever can replace the key
   * can be the server. */
  if (st.st_mode & (S_IRGRP | S_IROTH | S_IWGRP | S_IWOTH)) {
    snprintf(why, whylen, "%s: mode %04o lets group or others at the "
             "private key (want 0600)", path, (unsigned)(st.st_mode & 07777));
    return -1;
  }
  return 0;
}

static int load_key(int fd, const char *path, uint8_t priv[WG_KEY_LEN],
                    char *why, size_t whylen)
{
  if (check_mode(fd, path, why, whylen) < 0)
    return -1;
  char buf[B64_CHARS + 2];
  ssize_t len = read_small(fd, buf, sizeof buf);
  int rc = 0;
  if (len < 0) {
    snprintf(why, whylen, "%s: %s", path, strerror(errno));
    rc = -1;
  } else if (parse_key_text(buf, (size_t)len, priv) < 0) {
    snprintf(why, whylen, "%s: not one base64 WireGuard key", path);
    rc = -1;
  }
  sodium_memzero(buf, sizeof buf);
  return rc;
}

static int write_all(int fd, const char *buf, size_t len)
{
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* So the rename itself survives a crash. Best effort. */
static void sync_dir_of(const char *path)
{
  char *copy = strdup(path);
  if (!copy)
    return;
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  free(copy);
}

#define TMP_SUFFIX ".tmp-XXXXXX"

/* A new file beside path, opened for writing: its fd and its malloc'd name
 * in *tmp, or -1 with why. */
static int open_temp(const char *path, char **tmp, char *why, size_t whylen)
{
  size_t plen = strlen(path);
  *tmp = malloc(plen + sizeof TMP_SUFFIX);
  if (!*tmp) {
    snprintf(why, whylen, "out of memory");
    return -1;
  }
  memcpy(*tmp, path, plen);
  memcpy(*tmp + plen, TMP_SUFFIX, sizeof TMP_SUFFIX);
  /* mkostemp opens with O_CREAT|O_EXCL and mode 0600. */
  int fd = mkostemp(*tmp, O_CLOEXEC);
  if (fd < 0) {
    snprintf(why, whylen, "%s: cannot create a file beside it: %s", path,
             strerror(errno));
    free(*tmp);
    *tmp = NULL;
  }
  return fd;
}

/* key's text into a new file beside path, then renamed onto it: a reader
 * sees no file or the whole key, never part of one. */
static int write_key_file(const char *path, const uint8_t key[WG_KEY_LEN],
                          char *why, size_t whylen)
{
  char *tmp;
  int fd = open_temp(path, &tmp, why, whylen);
  if (fd < 0)
    return -1;
  char line[WG_KEY_B64_LEN + 1];
  wg_key_to_base64(key, line);
  line[B64_CHARS] = '\n';
  int err = 0;
  if (write_all(fd, line, B64_CHARS + 1) < 0 || fsync(fd) < 0)
    err = errno;
  sodium_memzero(line, sizeof line);
  if (close(fd) < 0 && !err)
    err = errno;
  if (!err && rename(tmp, path) < 0)
    err = errno;
  if (err) {
    snprintf(why, whylen, "%s: cannot write the key: %s", path,
             strerror(err));
    unlink(tmp);
  } else {
    sync_dir_of(path);
  }
  free(tmp);
  return err ? -1 : 0;
}

static int create_key(const char *path, uint8_t priv[WG_KEY_LEN], char *why,
                      size_t whylen)
{
  uint8_t key[WG_KEY_LEN];
  wg_key_generate(key);
  int rc = write_key_file(path, key, why, whylen);
  if (rc == 0)
    memcpy(priv, key, WG_KEY_LEN);
  sodium_memzero(key, sizeof key);
  return rc;
}

int wg_key_load_or_create(const char *path, uint8_t priv[WG_KEY_LEN],
                          char *why, size_t whylen)
{
  if (!path || !*path) {
    snprintf(why, whylen, "no key file named");
    return -1;
  }
  /* O_NONBLOCK: a FIFO put there must not hang the plugin (it is then
   * refused as not a regular file). */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0 && errno == ENOENT)
    return create_key(path, priv, why, whylen);
  if (fd < 0) {
    snprintf(why, whylen, "%s: %s", path, strerror(errno));
    return -1;
  }
  int rc = load_key(fd, path, priv, why, whylen);
  close(fd);
  return rc;
}
