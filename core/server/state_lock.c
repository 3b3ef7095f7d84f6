#include "server/state_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* The PID the holder wrote, or 0 if the file holds none (yet). */
static long holder_pid(int fd)
{
  char buf[32];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  char *end;
  long pid = strtol(buf, &end, 10);
  return pid > 0 && (*end == '\n' || *end == '\0') ? pid : 0;
}

int state_lock_take(const char *state_dir, char *err, size_t errlen)
{
  char path[4096];
  if ((size_t)snprintf(path, sizeof path, "%s/weft.lock", state_dir) >=
      sizeof path) {
    snprintf(err, errlen, "state directory path too long: %s", state_dir);
    return -1;
  }
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    long pid = holder_pid(fd);
    close(fd);
    if (e != EWOULDBLOCK) {
      snprintf(err, errlen, "cannot lock %s: %s", path, strerror(e));
      return -1;
    }
    char who[48] = "another process";
    if (pid)
      snprintf(who, sizeof who, "PID %ld", pid);
    snprintf(err, errlen,
             "the state directory %s is in use by another weft server (%s); "
             "stop it first, or give this one its own --state-dir",
             state_dir, who);
    return -1;
  }
  char text[32];
  int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

void state_lock_release(int fd)
{
  if (fd >= 0)
    close(fd); /* the lock goes with the last descriptor */
}
