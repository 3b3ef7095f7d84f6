#include "net/peer_process.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOOPBACK_HEX 0x0100007Fu /* 127.0.0.1 as /proc/net/tcp writes it */

/* The inode of the socket bound to 127.0.0.1:port and connected to
 * 127.0.0.1:peer, or 0. */
static unsigned long socket_inode(uint16_t port, uint16_t peer)
{
  /* (/proc/self/net: under systemd's ProcSubset=pid there is no /proc/net) */
  FILE *f = fopen("/proc/self/net/tcp", "re");
  if (!f)
    return 0;
  char line[512];
  unsigned long found = 0;
  while (!found && fgets(line, sizeof line, f)) {
    unsigned laddr, lport, raddr, rport;
    unsigned long inode;
    /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
    if (sscanf(line, " %*u: %8X:%4X %8X:%4X %*X %*X:%*X %*X:%*X %*X %*u %*u "
                     "%lu",
               &laddr, &lport, &raddr, &rport, &inode) == 5 &&
        laddr == LOOPBACK_HEX && raddr == LOOPBACK_HEX && lport == port &&
        rport == peer)
      found = inode;
  }
  fclose(f);
  return found;
}

bool peer_is_process(int pid, uint16_t peer_port, uint16_t local_port)
{
  unsigned long inode = socket_inode(peer_port, local_port);
  if (!inode || pid <= 0)
    return false;
  char dir[64], want[64];
  snprintf(dir, sizeof dir, "/proc/%d/fd", pid);
  snprintf(want, sizeof want, "socket:[%lu]", inode);
  DIR *d = opendir(dir);
  if (!d)
    return false;
  bool owned = false;
  struct dirent *e;
  while (!owned && (e = readdir(d))) {
    char path[384], target[64];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n > 0) {
      target[n] = '\0';
      owned = !strcmp(target, want);
    }
  }
  closedir(d);
  return owned;
}
