#include "ssh_args.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static bool alnum(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}

bool ssh_host_ok(const char *host)
{
  size_t n = 0;
  if (!host || host[0] == '-')
    return false;
  for (; host[n]; n++)
    if (!alnum(host[n]) && !strchr(".-_:", host[n]))
      return false;
  return n >= 1 && n <= 253;
}

bool ssh_user_ok(const char *user)
{
  size_t n = 0;
  if (!user || user[0] == '-')
    return false;
  for (; user[n]; n++)
    if (!alnum(user[n]) && !strchr("._-", user[n]))
      return false;
  return n >= 1 && n <= 32;
}

bool ssh_path_ok(const char *path)
{
  if (!path || path[0] != '/' || strlen(path) > 4095)
    return false;
  for (const char *p = path; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c < 0x21 || c == 0x7f || c == '"' || c == '\'' || c == '\\')
      return false;
    if (*p == '/' && p[1] == '-')
      return false;
  }
  return true;
}

static int fail(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t whylen, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, whylen, fmt, ap);
  va_end(ap);
  return -1;
}

int ssh_split_destination(const char *text, char *user, size_t user_len,
                          char *host, size_t host_len, char *why,
                          size_t whylen)
{
  const char *at = text ? strchr(text, '@') : NULL;
  if (!at || strchr(at + 1, '@'))
    return fail(why, whylen, "bastion must be user@host, got '%.80s'",
                text ? text : "");
  size_t ulen = (size_t)(at - text);
  if (ulen == 0 || ulen >= user_len)
    return fail(why, whylen, "bastion '%.80s': the user is empty or too long",
                text);
  memcpy(user, text, ulen);
  user[ulen] = '\0';
  if (!ssh_user_ok(user))
    return fail(why, whylen,
                "bastion '%.80s': the user may hold only letters, digits, "
                "'.', '_' and '-', and may not start with '-'",
                text);
  const char *h = at + 1;
  size_t hlen = strlen(h);
  if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') { /* [v6] */
    h++;
    hlen -= 2;
  }
  if (hlen == 0 || hlen >= host_len)
    return fail(why, whylen, "bastion '%.80s': the host is empty or too long",
                text);
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  if (!ssh_host_ok(host))
    return fail(why, whylen,
                "bastion '%.80s': the host may hold only letters, digits, "
                "'.', '-', '_' and ':', and may not start with '-'",
                text);
  return 0;
}

/* Appends one formatted string to buf and returns it, or NULL when full. */
static char *put(char *buf, size_t buflen, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static char *put(char *buf, size_t buflen, size_t *used, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf + *used, buflen - *used, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= buflen - *used)
    return NULL;
  char *s = buf + *used;
  *used += (size_t)n + 1;
  return s;
}

int ssh_build_argv(const struct ssh_target *t, char *buf, size_t buflen,
                   char **argv, char *why, size_t whylen)
{
  if (!ssh_path_ok(t->ssh_path))
    return fail(why, whylen, "ssh_path must be an absolute path");
  if (!ssh_user_ok(t->user))
    return fail(why, whylen, "the ssh user '%.40s' is not a plain login name",
                t->user ? t->user : "");
  if (!ssh_host_ok(t->host))
    return fail(why, whylen, "the ssh host '%.80s' is not a plain host name "
                             "or address",
                t->host ? t->host : "");
  if (t->remote_bind && !ssh_host_ok(t->remote_bind))
    return fail(why, whylen, "remote_bind '%.80s' is not a plain address",
                t->remote_bind);
  if (!ssh_host_ok(t->local_host))
    return fail(why, whylen, "the local host '%.80s' is not a plain address",
                t->local_host ? t->local_host : "");
  if (t->identity && !ssh_path_ok(t->identity))
    return fail(why, whylen, "identity must be an absolute path without "
                             "spaces, quotes or control characters");
  if (t->known_hosts && !ssh_path_ok(t->known_hosts))
    return fail(why, whylen, "known_hosts must be an absolute path without "
                             "spaces, quotes or control characters");
  if (t->ssh_config && strcmp(t->ssh_config, "none") &&
      !ssh_path_ok(t->ssh_config))
    return fail(why, whylen, "ssh_config must be 'none' or an absolute path");
  if (!t->port || !t->remote_port || !t->local_port)
    return fail(why, whylen, "a port is missing");

  size_t used = 0, n = 0;
  char *a;
#define ARG(s) (argv[n++] = (char *)(s))
#define FMT(...)                                                             \
  do {                                                                       \
    if (!(a = put(buf, buflen, &used, __VA_ARGS__)))                         \
      return fail(why, whylen, "ssh command line too long");                 \
    ARG(a);                                                                  \
  } while (0)
  FMT("%s", t->ssh_path); /* copies: argv outlives the caller's strings */
  ARG("-N"); /* no remote command: forwarding only */
  ARG("-T");
  ARG("-v"); /* debug1 says when the forward is up (relayed at debug) */
  ARG("-F");
  FMT("%s", !t->ssh_config || !strcmp(t->ssh_config, "none")
               ? "/dev/null"
               : t->ssh_config);
  ARG("-o");
  ARG("BatchMode=yes");
  ARG("-o");
  ARG("ExitOnForwardFailure=yes");
  ARG("-o");
  FMT("ServerAliveInterval=%d", t->alive_interval_s);
  ARG("-o");
  FMT("ServerAliveCountMax=%d", t->alive_count_max);
  ARG("-o");
  FMT("ConnectTimeout=%d", t->connect_timeout_s);
  ARG("-o");
  ARG("ControlMaster=no");
  ARG("-o");
  ARG("ControlPath=none");
  ARG("-o");
  ARG("PermitLocalCommand=no");
  ARG("-o");
  ARG("StrictHostKeyChecking=yes");
  if (t->known_hosts) {
    ARG("-o");
    FMT("UserKnownHostsFile=%s", t->known_hosts);
    ARG("-o");
    ARG("GlobalKnownHostsFile=/dev/null");
  }
  if (t->identity) {
    ARG("-o");
    ARG("IdentitiesOnly=yes");
    ARG("-i");
    FMT("%s", t->identity);
  }
  ARG("-p");
  FMT("%u", t->port);
  ARG("-l");
  FMT("%s", t->user);
  ARG("-R");
  bool bind6 = t->remote_bind && strchr(t->remote_bind, ':');
  bool local6 = strchr(t->local_host, ':') != NULL;
  if (t->remote_bind)
    FMT("%s%s%s:%u:%s%s%s:%u", bind6 ? "[" : "", t->remote_bind,
        bind6 ? "]" : "", t->remote_port, local6 ? "[" : "", t->local_host,
        local6 ? "]" : "", t->local_port);
  else
    FMT("%u:%s%s%s:%u", t->remote_port, local6 ? "[" : "", t->local_host,
        local6 ? "]" : "", t->local_port);
  ARG("--"); /* whatever follows is the destination, never an option */
  FMT("%s", t->host);
  argv[n] = NULL;
#undef ARG
#undef FMT
  return 0;
}
