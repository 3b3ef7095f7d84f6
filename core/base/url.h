/* The one place where Weft parses and validates URLs and host:port text.
 *
 *   tcp://HOST:PORT   udp://HOST:PORT       port required
 *   http://HOST[:PORT][/PATH]               port defaults to 80
 *   https://HOST[:PORT][/PATH]              port defaults to 443
 *   weft://SECRET@HOST[:PORT]               the connection string, port 9092
 *
 * HOST is an IPv4 address, an IPv6 address in brackets, or a DNS name; it may
 * be empty ("tcp://:2222") to mean any address, which only a remote allows.
 * Names are folded to lower case and lose a trailing dot.
 */
#ifndef WEFT_CORE_URL_H
#define WEFT_CORE_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define URL_MAX_TEXT 2048
#define URL_MAX_HOST 253
#define URL_MAX_PATH 1024
#define WEFT_DEFAULT_PORT 9092

enum url_scheme { URL_TCP, URL_UDP, URL_HTTP, URL_HTTPS };

enum url_host_kind {
  URL_HOST_ANY,  /* empty: every address */
  URL_HOST_IPV4,
  URL_HOST_IPV6, /* stored without brackets */
  URL_HOST_NAME,
};

struct url {
  enum url_scheme scheme;
  enum url_host_kind host_kind;
  char host[URL_MAX_HOST + 1];
  uint16_t port;
  bool port_given;
  char path[URL_MAX_PATH + 1]; /* http(s) only; "" when absent */
};

struct conn_url {
  char secret[129];
  enum url_host_kind host_kind;
  char host[URL_MAX_HOST + 1];
  uint16_t port;
};

/* Each returns 0, or -1 with a message in err that says what is wrong. */
int url_parse(const char *text, struct url *out, char *err, size_t errlen);
int conn_url_parse(const char *text, struct conn_url *out, char *err,
                   size_t errlen);
/* "HOST:PORT" or "[V6]:PORT"; the port is required and 1..65535. */
int hostport_parse(const char *text, enum url_host_kind *kind, char *host,
                   size_t hostlen, uint16_t *port, char *err, size_t errlen);
/* A bare host (no port): IPv4, IPv6 (with or without brackets) or a name. */
int host_parse(const char *text, size_t len, enum url_host_kind *kind,
               char *host, size_t hostlen, char *err, size_t errlen);

const char *url_scheme_name(enum url_scheme scheme);
/* Canonical text of a URL; returns the length, or -1 if buf is too small. */
int url_format(const struct url *url, char *buf, size_t len);

#endif
