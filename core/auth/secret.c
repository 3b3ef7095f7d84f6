#include "auth/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int state_dir_prepare(const char *dir, char *err, size_t errlen)
{
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path || !*dir) {
    snprintf(err, errlen, "state directory path is empty or too long");
    return -1;
  }
  for (char *p = path + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
      snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
      return -1;
    }
    *p = '/';
  }
  if (mkdir(path, 0700) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "cannot create state directory %s: %s", path,
             strerror(errno));
    return -1;
  }
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "state directory %s is not a directory", path);
    return -1;
  }
  return 0;
}

const char *state_dir_default(void)
{
  static char dir[PATH_MAX];
  if (geteuid() == 0)
    return "/var/lib/weft";
  const char *xdg = getenv("XDG_STATE_HOME");
  const char *home = getenv("HOME");
  if (xdg && *xdg == '/')
    snprintf(dir, sizeof dir, "%s/weft", xdg);
  else if (home && *home == '/')
    snprintf(dir, sizeof dir, "%s/.local/state/weft", home);
  else
    snprintf(dir, sizeof dir, "/tmp/weft-%u", (unsigned)geteuid());
  return dir;
}

int secret_from_text(const char *text, struct secret *out)
{
  size_t len = strlen(text), bin_len = 0;
  if (len != SECRET_TEXT_LEN)
    return -1;
  if (sodium_base642bin(out->key, sizeof out->key, text, len, NULL, &bin_len,
                        NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      bin_len != SECRET_BYTES)
    return -1;
  memcpy(out->text, text, len + 1);
  return 0;
}

int write_private_file(const char *path, const char *text, char *err,
                       size_t errlen)
{
  char tmp[PATH_MAX];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >=
      (int)sizeof tmp) {
    snprintf(err, errlen, "path too long: %s", path);
    return -1;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
    return -1;
  }
  size_t len = strlen(text), off = 0;
  while (off < len) {
    ssize_t n = write(fd, text + off, len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    off += (size_t)n;
  }
  int ok = off == len && fsync(fd) == 0;
  close(fd);
  if (!ok || rename(tmp, path) != 0) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}

static int create_secret(const char *path, struct secret *out, char *err,
                         size_t errlen)
{
  randombytes_buf(out->key, sizeof out->key);
  sodium_bin2base64(out->text, sizeof out->text, out->key, sizeof out->key,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  char line[SECRET_TEXT_LEN + 2];
  snprintf(line, sizeof line, "%s\n", out->text);
  return write_private_file(path, line, err, errlen);
}

int secret_load_or_create(const char *dir, const char *name,
                          struct secret *out, char *err, size_t errlen)
{
  if (sodium_init() < 0) {
    snprintf(err, errlen, "libsodium failed to initialise");
    return -1;
  }
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
    snprintf(err, errlen, "secret path too long");
    return -1;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT)
    return create_secret(path, out, err, errlen);
  if (fd < 0) {
    snprintf(err, errlen, "cannot read the secret %s: %s", path,
             strerror(errno));
    return -1;
  }
  struct stat st;
  char buf[256];
  ssize_t n = -1;
  if (fstat(fd, &st) == 0)
    n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n < 0) {
    snprintf(err, errlen, "cannot read the secret %s: %s", path,
             strerror(errno));
    return -1;
  }
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    snprintf(err, errlen,
             "the secret %s is open to other users (mode %04o); run chmod "
             "600 on it",
             path, (unsigned)(st.st_mode & 07777));
    return -1;
  }
  buf[n] = '\0';
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
    buf[--n] = '\0';
  if (n == 0) {
    snprintf(err, errlen,
             "the secret %s is empty; remove it to have a new one made", path);
    return -1;
  }
  if (n < SECRET_TEXT_LEN) {
    snprintf(err, errlen,
             "the secret %s is too short (%zd characters; a secret is %d)",
             path, n, SECRET_TEXT_LEN);
    return -1;
  }
  if (secret_from_text(buf, out) != 0) {
    snprintf(err, errlen,
             "the secret %s is not %d base64url characters (256 bits)", path,
             SECRET_TEXT_LEN);
    return -1;
  }
  sodium_memzero(buf, sizeof buf);
  return 0;
}
