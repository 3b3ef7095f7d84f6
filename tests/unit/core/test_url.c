#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "base/url.h"

static char err[512];

static struct url parse_ok(const char *text)
{
  struct url u;
  int rc = url_parse(text, &u, err, sizeof err);
  cr_assert_eq(rc, 0, "%s: %s", text, err);
  return u;
}

static void parse_bad(const char *text, const char *expect)
{
  struct url u;
  err[0] = '\0';
  cr_assert_eq(url_parse(text, &u, err, sizeof err), -1, "accepted '%s'",
               text ? text : "(null)");
  cr_assert(strstr(err, expect), "'%s': error '%s' lacks '%s'",
            text ? text : "(null)", err, expect);
}

Test(url, tcp_with_host_and_port)
{
  struct url u = parse_ok("tcp://127.0.0.1:22");
  cr_assert_eq(u.scheme, URL_TCP);
  cr_assert_eq(u.host_kind, URL_HOST_IPV4);
  cr_assert_str_eq(u.host, "127.0.0.1");
  cr_assert_eq(u.port, 22);
}

Test(url, empty_host_means_any)
{
  struct url u = parse_ok("tcp://:2222");
  cr_assert_eq(u.host_kind, URL_HOST_ANY);
  cr_assert_eq(u.port, 2222);
  u = parse_ok("udp://:5353");
  cr_assert_eq(u.scheme, URL_UDP);
}

Test(url, ipv6_literals)
{
  struct url u = parse_ok("tcp://[::1]:22");
  cr_assert_eq(u.host_kind, URL_HOST_IPV6);
  cr_assert_str_eq(u.host, "::1");
  u = parse_ok("http://[2001:DB8:0:0::1]:8080/x");
  cr_assert_str_eq(u.host, "2001:db8::1", "canonical form, got %s", u.host);
  cr_assert_eq(u.port, 8080);
  cr_assert_str_eq(u.path, "/x");
  u = parse_ok("udp://[::ffff:127.0.0.1]:53");
  cr_assert_eq(u.host_kind, URL_HOST_IPV6);
}

Test(url, http_default_ports_and_paths)
{
  struct url u = parse_ok("http://localhost:3000");
  cr_assert_eq(u.port, 3000);
  cr_assert(u.port_given);
  u = parse_ok("http://App.Example.TEST.");
  cr_assert_str_eq(u.host, "app.example.test");
  cr_assert_eq(u.port, 80);
  cr_assert_not(u.port_given);
  u = parse_ok("https://dev.example.com/api/v1?x=1");
  cr_assert_eq(u.port, 443);
  cr_assert_str_eq(u.path, "/api/v1?x=1");
  u = parse_ok("HTTPS://dev.example.com");
  cr_assert_eq(u.scheme, URL_HTTPS);
}

Test(url, format_round_trip)
{
  const char *cases[] = {"tcp://127.0.0.1:22", "tcp://[::1]:22",
                         "http://localhost:3000/app", "https://a.example",
                         "udp://:5353"};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct url u = parse_ok(cases[i]);
    char buf[256];
    cr_assert_gt(url_format(&u, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, cases[i]);
  }
}

Test(url, invalid_forms)
{
  parse_bad(NULL, "missing");
  parse_bad("", "empty");
  parse_bad("127.0.0.1:22", "no scheme");
  parse_bad("ftp://host:21", "unknown scheme 'ftp'");
  parse_bad("tcp://127.0.0.1", "needs a port");
  parse_bad("udp://host", "needs a port");
  parse_bad("tcp://127.0.0.1:", "empty port");
  parse_bad("tcp://127.0.0.1:0", "out of range");
  parse_bad("tcp://127.0.0.1:65536", "out of range");
  parse_bad("tcp://127.0.0.1:123456", "out of range");
  parse_bad("tcp://127.0.0.1:22a", "not a number");
  parse_bad("tcp://127.0.0.1:-1", "not a number");
  parse_bad("tcp://::1:22", "brackets");
  parse_bad("tcp://[::1:22", "closing ']'");
  parse_bad("tcp://[::1]x:22", "after the IPv6");
  parse_bad("tcp://[fe80::1%eth0]:22", "zone");
  parse_bad("tcp://[zz::1]:22", "not a valid IPv6");
  parse_bad("tcp://256.1.1.1:22", "not a valid IPv4");
  parse_bad("tcp://1.2.3:22", "not a valid IPv4");
  parse_bad("tcp://01.2.3.4:22", "not a valid IPv4");
  parse_bad("tcp://127.0.0.1:22/path", "takes no path");
  parse_bad("http://user:pw@host", "user names");
  parse_bad("http://-bad.example", "starts with '-'");
  parse_bad("http://bad-.example", "ends with '-'");
  parse_bad("http://a..b", "empty label");
  parse_bad("tcp://host.0.0..:22", "empty label"); /* found by fuzz_url */
  parse_bad("http://under_score.example", "contains '_'");
  parse_bad("http://host/a b", "space");
  parse_bad("http://host\x01:80", "control");
  parse_bad("http://host#frag", "fragment");
}

Test(url, label_and_name_lengths)
{
  char name[400], text[512];
  memset(name, 'a', 63);
  name[63] = '\0';
  snprintf(text, sizeof text, "http://%s.example", name);
  parse_ok(text);
  memset(name, 'a', 64);
  name[64] = '\0';
  snprintf(text, sizeof text, "http://%s.example", name);
  parse_bad(text, "longer than 63");
  /* 254 characters in all: over the limit of 253 */
  size_t n = 0;
  while (n < 250) {
    memcpy(name + n, "abcdefghi.", 10);
    n += 10;
  }
  memcpy(name + n, "abcd", 5);
  snprintf(text, sizeof text, "http://%s", name);
  parse_bad(text, "longer than 253");
}

Test(url, hostport)
{
  enum url_host_kind kind;
  char host[256];
  uint16_t port;
  cr_assert_eq(hostport_parse("0.0.0.0:9092", &kind, host, sizeof host, &port,
                              err, sizeof err),
               0);
  cr_assert_eq(port, 9092);
  cr_assert_eq(hostport_parse("[::]:443", &kind, host, sizeof host, &port, err,
                              sizeof err),
               0);
  cr_assert_eq(kind, URL_HOST_IPV6);
  cr_assert_str_eq(host, "::");
  cr_assert_eq(hostport_parse("127.0.0.1", &kind, host, sizeof host, &port,
                              err, sizeof err),
               -1);
  cr_assert(strstr(err, "needs a port"));
}

Test(url, connection_string)
{
  struct conn_url c;
  const char *secret = "KRmcPUWWgYNwyf3rbDyqi9Q-2Lno_oT19X-diKptK_w";
  char text[256];
  snprintf(text, sizeof text, "weft://%s@tunnels.example.com", secret);
  cr_assert_eq(conn_url_parse(text, &c, err, sizeof err), 0, "%s", err);
  cr_assert_str_eq(c.secret, secret);
  cr_assert_str_eq(c.host, "tunnels.example.com");
  cr_assert_eq(c.port, WEFT_DEFAULT_PORT);
  snprintf(text, sizeof text, "weft://%s@[::1]:9100/", secret);
  cr_assert_eq(conn_url_parse(text, &c, err, sizeof err), 0, "%s", err);
  cr_assert_eq(c.port, 9100);
  cr_assert_str_eq(c.host, "::1");

  cr_assert_eq(conn_url_parse("weft://host:9092", &c, err, sizeof err), -1);
  cr_assert(strstr(err, "no secret"));
  cr_assert_eq(conn_url_parse("weft://short@host", &c, err, sizeof err), -1);
  cr_assert(strstr(err, "16 to"));
  snprintf(text, sizeof text, "weft://%s@", secret);
  cr_assert_eq(conn_url_parse(text, &c, err, sizeof err), -1);
  cr_assert(strstr(err, "no server host"), "%s", err);
  snprintf(text, sizeof text, "http://%s@host", secret);
  cr_assert_eq(conn_url_parse(text, &c, err, sizeof err), -1);
  snprintf(text, sizeof text, "weft://%s!@host", secret);
  cr_assert_eq(conn_url_parse(text, &c, err, sizeof err), -1);
  cr_assert(strstr(err, "letters, digits"), "%s", err);
}
