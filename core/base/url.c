#include "base/url.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/errorf.h"

static const struct {
  const char *name;
  enum url_scheme scheme;
  uint16_t default_port; /* 0: the port is required */
} schemes[] = {
    {"tcp", URL_TCP, 0},
    {"udp", URL_UDP, 0},
    {"http", URL_HTTP, 80},
    {"https", URL_HTTPS, 443},
};

const char *url_scheme_name(enum url_scheme scheme)
{
  for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
    if (schemes[i].scheme == scheme)
      return schemes[i].name;
  return "?";
}

static bool is_alnum(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}

static bool all_digits_and_dots(const char *s, size_t len)
{
  for (size_t i = 0; i < len; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
      return false;
  return true;
}

/* RFC 1123 names: labels of letters, digits and inner hyphens, 1-63 long. */
static int name_parse(const char *s, size_t len, char *host, size_t hostlen,
                      char *err, size_t errlen)
{
  if (len > 0 && s[len - 1] == '.')
    len--; /* "example.com." is the same name */
  if (len == 0)
    return errorf(err, errlen, "empty host name");
  if (len > URL_MAX_HOST || len >= hostlen)
    return errorf(err, errlen, "host name longer than %d characters",
                URL_MAX_HOST);
  size_t label = 0;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (c == '.') {
      if (label == 0)
        return errorf(err, errlen, "empty label in host name '%.*s'", (int)len,
                    s);
      if (s[i - 1] == '-')
        return errorf(err, errlen,
                    "a label of host name '%.*s' ends with '-'", (int)len, s);
      label = 0;
    } else if (is_alnum(c) || c == '-') {
      if (c == '-' && label == 0)
        return errorf(err, errlen,
                    "a label of host name '%.*s' starts with '-'", (int)len,
                    s);
      if (++label > 63)
        return errorf(err, errlen,
                    "a label of host name '%.*s' is longer than 63 characters",
                    (int)len, s);
    } else if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f) {
      return errorf(err, errlen,
                  "host name contains a control or non-ASCII byte (0x%02x)",
                  (unsigned char)c);
    } else {
      return errorf(err, errlen, "host name '%.*s' contains '%c'", (int)len, s,
                  c);
    }
  }
  if (label == 0)
    return errorf(err, errlen, "empty label in host name '%.*s'", (int)len, s);
  if (s[len - 1] == '-')
    return errorf(err, errlen, "a label of host name '%.*s' ends with '-'",
                (int)len, s);
  for (size_t i = 0; i < len; i++)
    host[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' : s[i]);
  host[len] = '\0';
  return 0;
}

int host_parse(const char *s, size_t len, enum url_host_kind *kind, char *host,
               size_t hostlen, char *err, size_t errlen)
{
  char tmp[URL_MAX_HOST + 2];
  if (len == 0) {
    *kind = URL_HOST_ANY;
    if (hostlen)
      host[0] = '\0';
    return 0;
  }
  if (s[0] == '[') {
    if (len < 2 || s[len - 1] != ']')
      return errorf(err, errlen, "IPv6 address '%.*s' lacks its closing ']'",
                  (int)len, s);
    s++;
    len -= 2;
    if (len == 0 || len >= sizeof tmp)
      return errorf(err, errlen, "empty or over-long IPv6 address");
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    struct in6_addr a6;
    if (memchr(tmp, '%', len))
      return errorf(err, errlen, "IPv6 zone ids ('%s') are not supported", tmp);
    if (inet_pton(AF_INET6, tmp, &a6) != 1)
      return errorf(err, errlen, "'%s' is not a valid IPv6 address", tmp);
    if (!inet_ntop(AF_INET6, &a6, host, (socklen_t)hostlen))
      return errorf(err, errlen, "IPv6 address does not fit");
    *kind = URL_HOST_IPV6;
    return 0;
  }
  if (memchr(s, ':', len)) {
    /* A bare IPv6 address where brackets were left out. */
    if (len >= sizeof tmp)
      return errorf(err, errlen, "over-long host");
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    struct in6_addr a6;
    if (inet_pton(AF_INET6, tmp, &a6) != 1)
      return errorf(err, errlen, "'%s' is not a valid host", tmp);
    if (!inet_ntop(AF_INET6, &a6, host, (socklen_t)hostlen))
      return errorf(err, errlen, "IPv6 address does not fit");
    *kind = URL_HOST_IPV6;
    return 0;
  }
  if (all_digits_and_dots(s, len)) {
    if (len >= sizeof tmp || len >= 16)
      return errorf(err, errlen, "'%.*s' is not a valid IPv4 address",
                  (int)(len > 64 ? 64 : len), s);
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    struct in_addr a4;
    /* glibc's inet_pton takes exactly four decimal parts, no leading zeros. */
    if (inet_pton(AF_INET, tmp, &a4) != 1)
      return errorf(err, errlen, "'%s' is not a valid IPv4 address", tmp);
    if (hostlen <= len)
      return errorf(err, errlen, "IPv4 address does not fit");
    memcpy(host, tmp, len + 1);
    *kind = URL_HOST_IPV4;
    return 0;
  }
  if (name_parse(s, len, host, hostlen, err, errlen) != 0)
    return -1;
  *kind = URL_HOST_NAME;
  return 0;
}

static int port_parse(const char *s, size_t len, uint16_t *port, char *err,
                      size_t errlen)
{
  if (len == 0)
    return errorf(err, errlen, "empty port after ':'");
  if (len > 5)
    return errorf(err, errlen, "port '%.*s' is out of range 1-65535",
                (int)(len > 20 ? 20 : len), s);
  unsigned long v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return errorf(err, errlen, "port '%.*s' is not a number", (int)len, s);
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  if (v < 1 || v > 65535)
    return errorf(err, errlen, "port %lu is out of range 1-65535", v);
  *port = (uint16_t)v;
  return 0;
}

/* Splits "host[:port]" where host may be "[v6]"; port_len is 0 and
 * *has_port false when there is no port. */
static int authority_split(const char *s, size_t len, size_t *host_len,
                           const char **port, size_t *port_len, bool *has_port,
                           char *err, size_t errlen)
{
  size_t hl;
  if (len > 0 && s[0] == '[') {
    const char *close = memchr(s, ']', len);
    if (!close)
      return errorf(err, errlen, "IPv6 address lacks its closing ']'");
    hl = (size_t)(close - s) + 1;
    if (hl < len && s[hl] != ':')
      return errorf(err, errlen, "unexpected '%c' after the IPv6 address",
                  s[hl]);
  } else {
    const char *colon = memchr(s, ':', len);
    hl = colon ? (size_t)(colon - s) : len;
    if (colon && memchr(colon + 1, ':', len - hl - 1))
      return errorf(err, errlen,
                  "IPv6 addresses must be in brackets, as in [::1]:22");
  }
  *host_len = hl;
  *has_port = hl < len;
  *port = *has_port ? s + hl + 1 : NULL;
  *port_len = *has_port ? len - hl - 1 : 0;
  return 0;
}

static int check_text(const char *text, size_t *len, char *err, size_t errlen)
{
  if (!text)
    return errorf(err, errlen, "missing URL");
  *len = strnlen(text, URL_MAX_TEXT + 1);
  if (*len == 0)
    return errorf(err, errlen, "empty URL");
  if (*len > URL_MAX_TEXT)
    return errorf(err, errlen, "URL longer than %d characters", URL_MAX_TEXT);
  for (size_t i = 0; i < *len; i++) {
    unsigned char c = (unsigned char)text[i];
    if (c <= 0x20 || c >= 0x7f)
      return errorf(err, errlen,
                  "URL contains a space, control or non-ASCII byte at "
                  "position %zu",
                  i + 1);
  }
  return 0;
}

int url_parse(const char *text, struct url *out, char *err, size_t errlen)
{
  size_t len;
  if (check_text(text, &len, err, errlen) != 0)
    return -1;
  const char *sep = strstr(text, "://");
  if (!sep)
    return errorf(err, errlen,
                "'%s' has no scheme: write tcp://, udp://, http:// or "
                "https://",
                text);
  size_t slen = (size_t)(sep - text);
  int found = -1;
  for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
    if (strlen(schemes[i].name) == slen &&
        strncasecmp(text, schemes[i].name, slen) == 0)
      found = (int)i;
  if (found < 0)
    return errorf(err, errlen,
                "unknown scheme '%.*s': use tcp, udp, http or https",
                (int)(slen > 16 ? 16 : slen), text);

  memset(out, 0, sizeof *out);
  out->scheme = schemes[found].scheme;
  const char *auth = sep + 3;
  size_t auth_len = strcspn(auth, "/?#");
  const char *rest = auth + auth_len;
  if (memchr(auth, '@', auth_len))
    return errorf(err, errlen,
                "user names and passwords are not allowed in '%s'", text);

  size_t host_len, port_len;
  const char *port;
  bool has_port;
  if (authority_split(auth, auth_len, &host_len, &port, &port_len, &has_port,
                      err, errlen) != 0)
    return -1;
  if (host_parse(auth, host_len, &out->host_kind, out->host, sizeof out->host,
                 err, errlen) != 0)
    return -1;
  if (has_port) {
    if (port_parse(port, port_len, &out->port, err, errlen) != 0)
      return -1;
    out->port_given = true;
  } else if (schemes[found].default_port) {
    out->port = schemes[found].default_port;
  } else {
    return errorf(err, errlen, "%s URL '%s' needs a port, as in %s://HOST:PORT",
                schemes[found].name, text, schemes[found].name);
  }

  if (*rest) {
    if (out->scheme == URL_TCP || out->scheme == URL_UDP)
      return errorf(err, errlen, "%s URL '%s' takes no path or query",
                  schemes[found].name, text);
    if (*rest == '#')
      return errorf(err, errlen, "URL '%s' has a fragment ('#')", text);
    if (*rest != '/')
      return errorf(err, errlen, "the path in '%s' must start with '/'", text);
    if (strchr(rest, '#'))
      return errorf(err, errlen, "URL '%s' has a fragment ('#')", text);
    size_t plen = strlen(rest);
    if (plen > URL_MAX_PATH)
      return errorf(err, errlen, "path longer than %d characters", URL_MAX_PATH);
    memcpy(out->path, rest, plen + 1);
  }
  return 0;
}

int hostport_parse(const char *text, enum url_host_kind *kind, char *host,
                   size_t hostlen, uint16_t *port, char *err, size_t errlen)
{
  size_t len;
  if (check_text(text, &len, err, errlen) != 0)
    return -1;
  size_t host_len, port_len;
  const char *p;
  bool has_port;
  if (authority_split(text, len, &host_len, &p, &port_len, &has_port, err,
                      errlen) != 0)
    return -1;
  if (!has_port)
    return errorf(err, errlen, "'%s' needs a port, as in HOST:PORT", text);
  if (host_parse(text, host_len, kind, host, hostlen, err, errlen) != 0)
    return -1;
  return port_parse(p, port_len, port, err, errlen);
}

int conn_url_parse(const char *text, struct conn_url *out, char *err,
                   size_t errlen)
{
  size_t len;
  if (check_text(text, &len, err, errlen) != 0)
    return -1;
  if (strncasecmp(text, "weft://", 7) != 0)
    return errorf(err, errlen,
                "the connection string must look like weft://SECRET@HOST[:PORT]");
  const char *secret = text + 7;
  const char *at = strchr(secret, '@');
  if (!at)
    return errorf(err, errlen,
                "the connection string has no secret: expected "
                "weft://SECRET@HOST[:PORT]");
  size_t secret_len = (size_t)(at - secret);
  if (secret_len < 16 || secret_len >= sizeof out->secret)
    return errorf(err, errlen,
                "the secret in the connection string must be 16 to %zu "
                "characters long (it is %zu)",
                sizeof out->secret - 1, secret_len);
  for (size_t i = 0; i < secret_len; i++)
    if (!(is_alnum(secret[i]) || secret[i] == '-' || secret[i] == '_'))
      return errorf(err, errlen,
                  "the secret may hold only letters, digits, '-' and '_'");
  memset(out, 0, sizeof *out);
  memcpy(out->secret, secret, secret_len);

  const char *auth = at + 1;
  size_t auth_len = strlen(auth);
  if (auth_len > 0 && auth[auth_len - 1] == '/')
    auth_len--;
  if (memchr(auth, '/', auth_len) || memchr(auth, '@', auth_len))
    return errorf(err, errlen, "the connection string takes no path after HOST");
  size_t host_len, port_len;
  const char *port;
  bool has_port;
  if (authority_split(auth, auth_len, &host_len, &port, &port_len, &has_port,
                      err, errlen) != 0)
    return -1;
  if (host_parse(auth, host_len, &out->host_kind, out->host, sizeof out->host,
                 err, errlen) != 0)
    return -1;
  if (out->host_kind == URL_HOST_ANY)
    return errorf(err, errlen, "the connection string has no server host");
  out->port = WEFT_DEFAULT_PORT;
  if (has_port && port_parse(port, port_len, &out->port, err, errlen) != 0)
    return -1;
  return 0;
}

int url_format(const struct url *url, char *buf, size_t len)
{
  const char *open = url->host_kind == URL_HOST_IPV6 ? "[" : "";
  const char *close = url->host_kind == URL_HOST_IPV6 ? "]" : "";
  int n;
  if (url->port_given || url->scheme == URL_TCP || url->scheme == URL_UDP)
    n = snprintf(buf, len, "%s://%s%s%s:%u%s", url_scheme_name(url->scheme),
                 open, url->host, close, url->port, url->path);
  else
    n = snprintf(buf, len, "%s://%s%s%s%s", url_scheme_name(url->scheme), open,
                 url->host, close, url->path);
  return (n < 0 || (size_t)n >= len) ? -1 : n;
}
