#include "kernel_path.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kernel_path_allow(const char *text, struct nft_prefix4 *out, size_t max)
{
  size_t n = 0;
  const char *p = text;
  while (*p) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char item[64];
    if (len == 0 || len >= sizeof item)
      return -1;
    memcpy(item, p, len);
    item[len] = '\0';
    p += len + (end ? 1 : 0);
    if (end && !*p)
      return -1; /* a trailing comma */
    if (strchr(item, ':'))
      continue; /* IPv6: the core's listener checks it */
    char *slash = strchr(item, '/');
    long bits = 32;
    if (slash) {
      char *stop;
      *slash = '\0';
      bits = strtol(slash + 1, &stop, 10);
      if (stop == slash + 1 || *stop || bits < 0 || bits > 32)
        return -1;
    }
    struct in_addr a;
    if (inet_pton(AF_INET, item, &a) != 1 || n == max)
      return -1;
    memcpy(out[n].addr, &a, 4);
    out[n].bits = (uint8_t)bits;
    n++;
  }
  return (int)n;
}

int kernel_path_of(const struct weft_tunnel_info *t, struct nft_publish *out,
                   char *why, size_t whylen)
{
  memset(out, 0, sizeof *out);
  if (!WEFT_INFO_HAS(t, public_conns_per_ip))
    return snprintf(why, whylen, "this weft is older than plugin ABI 1.4"),
           -1;
  if (!t->public_proto || !t->public_port ||
      (strcmp(t->public_proto, "tcp") && strcmp(t->public_proto, "udp")))
    return snprintf(why, whylen, "no tcp or udp port published"), -1;
  struct in_addr bind = {0};
  if (t->remote_host && *t->remote_host &&
      inet_pton(AF_INET, t->remote_host, &bind) != 1)
    return snprintf(why, whylen, "its address %s is not IPv4",
                    t->remote_host),
           -1;
  if (t->public_allow) {
    int n = kernel_path_allow(t->public_allow, out->allow, NFT_MAX_ALLOW);
    if (n < 0)
      return snprintf(why, whylen, "its allowlist is not a list of at most "
                      "%d prefixes", NFT_MAX_ALLOW),
             -1;
    out->restricted = true;
    out->allow_count = (size_t)n;
  }
  out->port = t->public_port;
  out->udp = !strcmp(t->public_proto, "udp");
  memcpy(out->bind, &bind, 4);
  out->conns_per_ip = t->public_conns_per_ip;
  return 0;
}

static int read_flag(const char *path)
{
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  int c = fgetc(f);
  fclose(f);
  return c == '1' ? 1 : c == '0' ? 0 : -1;
}

bool kernel_path_host_forwards(void)
{
  return read_flag("/proc/sys/net/ipv4/conf/all/forwarding") == 1;
}

int kernel_path_route_localnet(const char *ifname, char *why, size_t whylen)
{
  char path[128];
  snprintf(path, sizeof path, "/proc/sys/net/ipv4/conf/%s/route_localnet",
           ifname);
  FILE *f = fopen(path, "w");
  if (!f)
    return snprintf(why, whylen, "%s: %s", path, strerror(errno)), -1;
  bool ok = fputs("1\n", f) >= 0;
  ok = fclose(f) == 0 && ok;
  if (!ok)
    return snprintf(why, whylen, "%s: %s", path, strerror(errno)), -1;
  return 0;
}
