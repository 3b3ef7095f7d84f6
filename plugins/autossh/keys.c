#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *const key_types[] = {
    "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521", "ssh-rsa", "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com", NULL};

int keys_public_line(const char *line, char *out, size_t outlen, char *why,
                     size_t whylen)
{
  const char *sp = line ? strchr(line, ' ') : NULL;
  if (!sp) {
    snprintf(why, whylen, "a public key is 'TYPE BASE64'");
    return -1;
  }
  size_t tlen = (size_t)(sp - line);
  bool known = false;
  for (int i = 0; key_types[i]; i++)
    known |= strlen(key_types[i]) == tlen && !strncmp(line, key_types[i], tlen);
  if (!known) {
    snprintf(why, whylen, "unsupported public key type '%.*s'",
             (int)(tlen < 40 ? tlen : 40), line);
    return -1;
  }
  const char *b = sp + 1;
  size_t blen = strcspn(b, " ");
  if (blen < 16 || blen > 2048) {
    snprintf(why, whylen, "the public key's base64 is empty or too long");
    return -1;
  }
  for (size_t i = 0; i < blen; i++) {
    char c = b[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '+' || c == '/' ||
              (c == '=' && i >= blen - 2);
    if (!ok) {
      snprintf(why, whylen, "the public key holds a character that is not "
                            "base64");
      return -1;
    }
  }
  /* What follows is a comment: it must not smuggle a second line. */
  for (const char *c = b + blen; *c; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f) {
      snprintf(why, whylen, "the public key line holds a control character");
      return -1;
    }
  if (tlen + 1 + blen + 1 > outlen) {
    snprintf(why, whylen, "the public key is too long");
    return -1;
  }
  snprintf(out, outlen, "%.*s %.*s", (int)tlen, line, (int)blen, b);
  return 0;
}

static int run_keygen(const char *keygen, const char *path, char *why,
                      size_t whylen)
{
  char *argv[] = {(char *)keygen, "-q", "-t", "ed25519", "-N", "", "-C",
                  "weft-tunnel", "-f", (char *)path, NULL};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawn(&pid, keygen, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    snprintf(why, whylen, "cannot run %s: %s", keygen, strerror(rc));
    return -1;
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    snprintf(why, whylen, "%s failed to make a key", keygen);
    return -1;
  }
  return 0;
}

int keys_generate(const char *keygen_path, const char *state_dir, char *dir,
                  size_t dirlen, char *pub, size_t publen, char *why,
                  size_t whylen)
{
  char parent[4096], key[4200], line[4096];
  snprintf(parent, sizeof parent, "%s/keys", state_dir);
  if (mkdir(parent, 0700) != 0 && errno != EEXIST) {
    snprintf(why, whylen, "cannot create %s: %s", parent, strerror(errno));
    return -1;
  }
  if (snprintf(dir, dirlen, "%s/XXXXXX", parent) >= (int)dirlen ||
      !mkdtemp(dir)) {
    snprintf(why, whylen, "cannot create a key directory in %s: %s", parent,
             strerror(errno));
    dir[0] = '\0';
    return -1;
  }
  snprintf(key, sizeof key, "%s/id_ed25519", dir);
  if (run_keygen(keygen_path, key, why, whylen) != 0)
    goto fail;
  snprintf(key, sizeof key, "%s/id_ed25519.pub", dir);
  FILE *f = fopen(key, "r");
  bool got = f && fgets(line, sizeof line, f);
  if (f)
    fclose(f);
  line[got ? strcspn(line, "\r\n") : 0] = '\0';
  if (!got || keys_public_line(line, pub, publen, why, whylen) != 0) {
    if (!got)
      snprintf(why, whylen, "ssh-keygen left no public key in %s", key);
    goto fail;
  }
  return 0;
fail:
  keys_remove_dir(dir);
  dir[0] = '\0';
  return -1;
}

int keys_write_known_hosts(const char *path, const char *host, uint16_t port,
                           const char *host_key, char *why, size_t whylen)
{
  char line[4096];
  if (keys_public_line(host_key, line, sizeof line, why, whylen) != 0)
    return -1;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!f) {
    snprintf(why, whylen, "cannot write %s: %s", path, strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  if (port == 22)
    fprintf(f, "%s %s\n", host, line);
  else
    fprintf(f, "[%s]:%u %s\n", host, port, line);
  if (fclose(f) != 0) {
    snprintf(why, whylen, "cannot write %s", path);
    return -1;
  }
  return 0;
}

void keys_remove_dir(const char *dir)
{
  static const char *const files[] = {"id_ed25519", "id_ed25519.pub",
                                      "known_hosts", NULL};
  char path[4200];
  for (int i = 0; files[i]; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    unlink(path);
  }
  rmdir(dir);
}
