#include "akeys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "keys.h"

#define LINE_CAP 8192

static bool plain_id(const char *s)
{
  size_t n = 0;
  for (; s[n]; n++)
    if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
          (s[n] >= '0' && s[n] <= '9') || s[n] == '-' || s[n] == '_'))
      return false;
  return n > 0 && n < 32;
}

int akeys_format(const struct akey *k, char *out, size_t outlen)
{
  char key[2100], why[128];
  if (!plain_id(k->tunnel_id) || !k->forward_port || k->expires_at <= 0 ||
      keys_public_line(k->key, key, sizeof key, why, sizeof why) != 0)
    return -1;
  time_t t = (time_t)k->expires_at;
  struct tm tm;
  char when[32];
  if (!gmtime_r(&t, &tm) || !strftime(when, sizeof when, "%Y%m%d%H%M%SZ", &tm))
    return -1;
  int n = snprintf(out, outlen,
                   "restrict,port-forwarding,permitlisten=\"127.0.0.1:%u\","
                   "permitopen=\"0.0.0.0:1\",command=\"/bin/false\","
                   "expiry-time=\"%s\" %s " AKEYS_MARK "%s\n",
                   k->forward_port, when, key, k->tunnel_id);
  return n > 0 && (size_t)n < outlen ? 0 : -1;
}

int akeys_parse(const char *line, struct akey *out)
{
  memset(out, 0, sizeof *out);
  static const char head[] = "restrict,port-forwarding,permitlisten=\"127.0.0.1:";
  if (strncmp(line, head, sizeof head - 1))
    return -1;
  const char *p = line + sizeof head - 1;
  char *end;
  long port = strtol(p, &end, 10);
  if (end == p || port < 1 || port > 65535 || *end != '"')
    return -1;
  /* Exactly what akeys_format writes between the port and the time. */
  static const char middle[] = "\",permitopen=\"0.0.0.0:1\",command=\"/bin/false\","
                               "expiry-time=\"";
  if (strncmp(end, middle, sizeof middle - 1))
    return -1;
  struct tm tm = {0};
  const char *rest = strptime(end + sizeof middle - 1, "%Y%m%d%H%M%SZ\" ", &tm);
  if (!rest)
    return -1;
  /* The key: TYPE BASE64, then our mark and the id, nothing after. */
  const char *mark = strstr(rest, " " AKEYS_MARK);
  if (!mark || (size_t)(mark - rest) >= sizeof out->key)
    return -1;
  char key[sizeof out->key], why[128];
  memcpy(key, rest, (size_t)(mark - rest));
  key[mark - rest] = '\0';
  if (keys_public_line(key, out->key, sizeof out->key, why, sizeof why) != 0 ||
      strcmp(key, out->key))
    return -1;
  const char *id = mark + 1 + strlen(AKEYS_MARK);
  if (strlen(id) >= sizeof out->tunnel_id || !plain_id(id))
    return -1;
  snprintf(out->tunnel_id, sizeof out->tunnel_id, "%s", id);
  out->forward_port = (uint16_t)port;
  out->expires_at = (int64_t)timegm(&tm);
  return out->expires_at > 0 ? 0 : -1;
}

/* Reads the file line by line; cb gets each line (without newline) and
 * whether it fitted. */
static int each_line(FILE *f, void (*cb)(void *arg, const char *line, bool whole),
                     void *arg)
{
  char *line = malloc(LINE_CAP);
  if (!line)
    return -1;
  while (fgets(line, LINE_CAP, f)) {
    size_t n = strlen(line);
    bool whole = n && line[n - 1] == '\n';
    if (whole)
      line[n - 1] = '\0';
    cb(arg, line, whole || feof(f));
    /* a line longer than the buffer is passed on in pieces */
  }
  free(line);
  return ferror(f) ? -1 : 0;
}

struct read_ctx {
  void (*cb)(void *arg, const struct akey *k);
  void *arg;
};

static void read_one(void *arg, const char *line, bool whole)
{
  struct read_ctx *rc = arg;
  struct akey k;
  if (whole && akeys_parse(line, &k) == 0)
    rc->cb(rc->arg, &k);
}

int akeys_read_file(const char *path,
                    void (*cb)(void *arg, const struct akey *k), void *arg,
                    char *why, size_t whylen)
{
  FILE *f = fopen(path, "r");
  if (!f) {
    if (errno == ENOENT)
      return 0;
    snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
    return -1;
  }
  struct read_ctx rc = {cb, arg};
  int r = each_line(f, read_one, &rc);
  fclose(f);
  if (r != 0)
    snprintf(why, whylen, "cannot read %s", path);
  return r;
}

struct copy_ctx {
  FILE *out;
  bool carry; /* the previous piece was not a whole line */
};

static void copy_foreign(void *arg, const char *line, bool whole)
{
  struct copy_ctx *c = arg;
  struct akey k;
  bool ours = !c->carry && whole && akeys_parse(line, &k) == 0;
  if (!ours)
    fprintf(c->out, "%s%s", line, whole ? "\n" : "");
  c->carry = !whole;
}

int akeys_write_file(const char *path, const struct akey *keys, size_t n,
                     int owner_uid, int owner_gid, char *why, size_t whylen)
{
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.weft-XXXXXX", path);
  struct stat st;
  bool existed = stat(path, &st) == 0;
  int fd = mkstemp(tmp);
  if (fd < 0) {
    snprintf(why, whylen, "cannot write next to %s: %s", path, strerror(errno));
    return -1;
  }
  FILE *out = fdopen(fd, "w");
  if (!out) {
    close(fd);
    unlink(tmp);
    snprintf(why, whylen, "out of memory");
    return -1;
  }
  int rc = 0;
  FILE *in = existed ? fopen(path, "r") : NULL;
  if (in) {
    struct copy_ctx c = {out, false};
    rc = each_line(in, copy_foreign, &c);
    fclose(in);
  } else if (existed) {
    rc = -1;
  }
  char *line = malloc(LINE_CAP);
  for (size_t i = 0; rc == 0 && line && i < n; i++)
    if (akeys_format(&keys[i], line, LINE_CAP) == 0)
      fputs(line, out);
  free(line);
  /* sshd reads the file as the login user: keep its owner and mode */
  uid_t uid = existed ? st.st_uid : (uid_t)owner_uid;
  gid_t gid = existed ? st.st_gid : (gid_t)owner_gid;
  mode_t mode = existed ? (st.st_mode & 0644) | 0600 : 0600;
  if (fflush(out) != 0 || fsync(fd) != 0 || fchmod(fd, mode) != 0)
    rc = -1;
  if (rc == 0 && (owner_uid >= 0 || existed) && geteuid() == 0 &&
      fchown(fd, uid, gid) != 0)
    rc = -1;
  if (fclose(out) != 0)
    rc = -1;
  if (rc == 0 && rename(tmp, path) != 0)
    rc = -1;
  if (rc != 0) {
    snprintf(why, whylen, "cannot rewrite %s: %s", path, strerror(errno));
    unlink(tmp);
  }
  return rc;
}
