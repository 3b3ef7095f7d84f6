/* The WireGuard plugin's nftables table: the script's exact text, what it
 * refuses, and (as root) the table live in a network namespace of its own,
 * replaced, counting a device's traffic and deleted. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../../plugins/wireguard/kernel_path.h"
#include "../../../plugins/wireguard/nft.h"

static struct nft_device device(const char *id, uint8_t last_octet,
                                uint16_t relay_port)
{
  struct nft_device d = {.addr = {10, 99, 0, last_octet},
                         .relay_port = relay_port};
  snprintf(d.tunnel_id, sizeof d.tunnel_id, "%s", id);
  return d;
}

static void add_ports(struct nft_device *d, uint16_t lo, uint16_t hi)
{
  d->ports[d->port_count++] = (struct nft_port_range){lo, hi};
}

static char *script_for(const struct nft_device *devs, size_t count)
{
  char why[256] = "";
  char *s = nft_ruleset("weft", "wg-weft0", devs, count, why, sizeof why);
  cr_assert_not_null(s, "refused: %s", why);
  return s;
}

static size_t occurrences(const char *hay, const char *needle)
{
  size_t n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

/* ---- the script's text ------------------------------------------------- */

Test(nft_script, golden)
{
  struct nft_device devs[3] = {device("abc", 2, 40001), device("d2", 3, 0),
                               device("relayonly", 4, 40002)};
  add_ports(&devs[0], 22, 22);
  add_ports(&devs[0], 8000, 8100);
  char *s = script_for(devs, 3);
  const char *want =
      "table inet weft {}\n"
      "delete table inet weft\n"
      "table inet weft {\n"
      "\tcounter weft_abc {\n\t}\n"
      "\tcounter weft_d2 {\n\t}\n"
      "\tcounter weft_relayonly {\n\t}\n"
      "\tchain input {\n"
      "\t\ttype filter hook input priority 0; policy accept;\n"
      "\t\tiifname \"wg-weft0\" ct state established,related accept\n"
      "\t\tiifname \"wg-weft0\" drop\n"
      "\t}\n"
      "\tchain forward {\n"
      "\t\ttype filter hook forward priority 0; policy accept;\n"
      "\t\tiifname \"wg-weft0\" drop\n"
      "\t\toifname \"wg-weft0\" drop\n"
      "\t}\n"
      "\tchain output {\n"
      "\t\ttype filter hook output priority 0; policy accept;\n"
      "\t\toifname \"wg-weft0\" ip daddr 10.99.0.2 counter name \"weft_abc\"\n"
      "\t\toifname \"wg-weft0\" ip daddr 10.99.0.3 counter name \"weft_d2\"\n"
      "\t\toifname \"wg-weft0\" ip daddr 10.99.0.4 counter name "
      "\"weft_relayonly\"\n"
      "\t\toifname \"wg-weft0\" ct state established,related accept\n"
      "\t\toifname \"wg-weft0\" ip daddr 10.99.0.2 tcp dport "
      "{ 22, 8000-8100, 40001 } accept\n"
      "\t\toifname \"wg-weft0\" ip daddr 10.99.0.2 udp dport "
      "{ 22, 8000-8100 } accept\n"
      "\t\toifname \"wg-weft0\" ip daddr 10.99.0.4 tcp dport { 40002 } "
      "accept\n"
      "\t\toifname \"wg-weft0\" meta l4proto tcp reject with tcp reset\n"
      "\t\toifname \"wg-weft0\" reject with icmpx type admin-prohibited\n"
      "\t}\n"
      "}\n";
  cr_assert_str_eq(s, want);
  free(s);
}

Test(nft_script, no_ports_no_accept_rule)
{
  struct nft_device d = device("quiet", 7, 0);
  char *s = script_for(&d, 1);
  cr_assert_eq(occurrences(s, "dport"), 0, "%s", s);
  cr_assert_eq(occurrences(s, "accept\n"), 2, "only the replies: %s", s);
  cr_assert_eq(occurrences(s, "counter name \"weft_quiet\""), 1);
  free(s);
}

Test(nft_script, relay_port_is_tcp_only)
{
  struct nft_device d = device("r1", 9, 41000);
  add_ports(&d, 53, 53);
  char *s = script_for(&d, 1);
  cr_assert_not_null(strstr(s, "tcp dport { 53, 41000 } accept"), "%s", s);
  cr_assert_not_null(strstr(s, "udp dport { 53 } accept"), "%s", s);
  cr_assert_eq(occurrences(s, "41000"), 1, "%s", s);
  free(s);
}

Test(nft_script, ranges_and_single_ports)
{
  struct nft_device d = device("rg", 10, 0);
  add_ports(&d, 1, 1);
  add_ports(&d, 1000, 1999);
  add_ports(&d, 65535, 65535);
  add_ports(&d, 1, 65535);
  char *s = script_for(&d, 1);
  cr_assert_not_null(strstr(s, "udp dport { 1, 1000-1999, 65535, 1-65535 }"),
                     "%s", s);
  free(s);
}

Test(nft_script, no_devices)
{
  char *s = script_for(NULL, 0);
  cr_assert_eq(occurrences(s, "counter"), 0, "%s", s);
  cr_assert_not_null(strstr(s, "\t\toifname \"wg-weft0\" ct state "
                               "established,related accept\n\t\toifname"));
  free(s);
}

Test(nft_script, delete_script)
{
  char *s = nft_delete_script("weft_1");
  cr_assert_str_eq(s, "table inet weft_1 {}\ndelete table inet weft_1\n");
  free(s);
  cr_assert_null(nft_delete_script("Weft"));
  cr_assert_null(nft_delete_script(""));
  cr_assert_null(nft_delete_script(NULL));
}

/* ---- the kernel path of published ports ---------------------------------- */

static struct nft_device published(const char *id, uint8_t last_octet,
                                   uint16_t relay, uint16_t port)
{
  struct nft_device d = device(id, last_octet, relay);
  d.publish = (struct nft_publish){.port = port, .conns_per_ip = 16};
  return d;
}

Test(nft_publish, local_only)
{
  struct nft_device d = published("pub", 5, 41000, 2222);
  char *s = script_for(&d, 1);
  const char *want_policy =
      "\tset cap_pub {\n\t\ttype ipv4_addr; size 65535; flags dynamic;\n"
      "\t}\n"
      "\tchain pub_pub {\n"
      "\t\tct state new add @cap_pub { ip saddr ct count over 16 } reject "
      "with tcp reset\n"
      "\t}\n";
  cr_assert_not_null(strstr(s, want_policy), "%s", s);
  const char *want_local =
      "\tchain public_local {\n"
      "\t\ttype filter hook output priority -150; policy accept;\n"
      "\t\tmeta nfproto != ipv4 return\n"
      "\t\tip daddr 127.0.0.0/8 return\n"
      "\t\tfib daddr type != local return\n"
      "\t\ttcp dport 2222 jump pub_pub\n"
      "\t}\n"
      "\tchain dnat_local {\n"
      "\t\ttype nat hook output priority -100; policy accept;\n"
      "\t\tmeta nfproto != ipv4 return\n"
      "\t\tip daddr 127.0.0.0/8 return\n"
      "\t\tfib daddr type != local return\n"
      "\t\ttcp dport 2222 dnat ip to 10.99.0.5:41000\n"
      "\t}\n";
  cr_assert_not_null(strstr(s, want_local), "%s", s);
  cr_assert_not_null(strstr(s, "oifname \"wg-weft0\" ct status dnat "
                               "masquerade"), "%s", s);
  /* Without forwarding, nothing from other hosts is NATed or forwarded. */
  cr_assert_null(strstr(s, "prerouting"), "%s", s);
  cr_assert_null(strstr(s, "ct direction reply"), "%s", s);
  free(s);
}

Test(nft_publish, other_hosts_allowlist_bind_udp)
{
  struct nft_device d[2] = {published("a1", 5, 41000, 2222),
                            published("u1", 6, 41001, 5353)};
  d[0].publish.from_other_hosts = true;
  d[0].publish.bind[0] = 192, d[0].publish.bind[1] = 0;
  d[0].publish.bind[2] = 2, d[0].publish.bind[3] = 1;
  d[0].publish.restricted = true;
  d[0].publish.allow[0] = (struct nft_prefix4){{198, 51, 100, 0}, 24};
  d[0].publish.allow[1] = (struct nft_prefix4){{203, 0, 113, 9}, 32};
  d[0].publish.allow_count = 2;
  d[1].relay_udp = d[1].publish.udp = true;
  d[1].publish.restricted = true; /* nobody: an IPv6-only allowlist */
  char *s = script_for(d, 2);
  cr_assert_not_null(strstr(s, "\t\tip saddr != { 198.51.100.0/24, "
                               "203.0.113.9/32 } drop\n"), "%s", s);
  cr_assert_not_null(strstr(s, "\tchain pub_u1 {\n\t\tdrop\n\t}\n"), "%s",
                     s);
  cr_assert_null(strstr(s, "cap_u1"), "udp has no connections to cap: %s", s);
  cr_assert_not_null(strstr(s, "ip daddr 192.0.2.1 tcp dport 2222 dnat ip to "
                               "10.99.0.5:41000"), "%s", s);
  cr_assert_not_null(strstr(s, "udp dport 5353 dnat ip to 10.99.0.6:41001"),
                     "%s", s);
  /* From other hosts: a1 only, never from the interface itself. */
  cr_assert_not_null(strstr(s, "type nat hook prerouting priority -100"), "%s",
                     s);
  cr_assert_not_null(strstr(s, "\t\tiifname \"wg-weft0\" return\n"), "%s", s);
  cr_assert_eq(occurrences(s, "dnat ip to 10.99.0.5:41000"), 2, "%s", s);
  cr_assert_eq(occurrences(s, "dnat ip to 10.99.0.6:41001"), 1, "%s", s);
  cr_assert_not_null(
      strstr(s, "\t\tiifname != \"wg-weft0\" oifname \"wg-weft0\" ip daddr "
                "10.99.0.5 tcp dport 41000 ct status dnat counter name "
                "\"weft_a1\" accept\n"
                "\t\tiifname \"wg-weft0\" oifname != \"wg-weft0\" ip saddr "
                "10.99.0.5 tcp sport 41000 ct status dnat ct direction reply "
                "accept\n"
                "\t\tiifname \"wg-weft0\" drop\n"),
      "%s", s);
  free(s);
}

Test(nft_publish, device_script)
{
  char why[256] = "";
  const uint8_t me[4] = {10, 99, 0, 5}, lo[4] = {127, 0, 0, 1};
  char *s = nft_device_script("weft_wftab", "wftab", me, false, 41000, lo,
                              8080, why, sizeof why);
  cr_assert_not_null(s, "%s", why);
  cr_assert_str_eq(
      s, "table inet weft_wftab {}\n"
         "delete table inet weft_wftab\n"
         "table inet weft_wftab {\n"
         "\tchain guard {\n"
         "\t\ttype filter hook prerouting priority -150; policy accept;\n"
         "\t\tiifname \"wftab\" meta nfproto != ipv4 drop\n"
         "\t\tiifname \"wftab\" ip daddr != 10.99.0.5 drop\n"
         "\t}\n"
         "\tchain to_service {\n"
         "\t\ttype nat hook prerouting priority -100; policy accept;\n"
         "\t\tiifname \"wftab\" ip daddr 10.99.0.5 tcp dport 41000 dnat ip "
         "to 127.0.0.1:8080\n"
         "\t}\n"
         "}\n");
  free(s);
  const uint8_t lan[4] = {192, 168, 1, 5};
  cr_assert_null(nft_device_script("weft_wftab", "wftab", me, false, 41000,
                                   lan, 8080, why, sizeof why));
  cr_assert_not_null(strstr(why, "192.168.1.5"), "%s", why);
  cr_assert_null(nft_device_script("weft_wftab", "wf\"ab", me, true, 41000,
                                   lo, 8080, why, sizeof why));
}

Test(kernel_path, allowlist_text)
{
  struct nft_prefix4 a[4];
  cr_assert_eq(kernel_path_allow("", a, 4), 0);
  cr_assert_eq(kernel_path_allow("10.0.0.0/8,2001:db8::/32,192.0.2.7", a, 4),
               2);
  cr_assert_eq(a[0].addr[0], 10);
  cr_assert_eq(a[0].bits, 8);
  cr_assert_eq(a[1].addr[3], 7);
  cr_assert_eq(a[1].bits, 32);
  cr_assert_eq(kernel_path_allow("::/0", a, 4), 0, "IPv6 only: no IPv4");
  cr_assert_eq(kernel_path_allow("0.0.0.0/0", a, 4), 1);
  const char *bad[] = {"10.0.0.0/33", "10.0.0/8", "10.0.0.0/", "x", ",",
                       "10.0.0.1,", "10.0.0.0/8x", "1.2.3.4,,5.6.7.8",
                       "1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4,5.5.5.5"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    cr_assert_eq(kernel_path_allow(bad[i], a, 4), -1, "%s", bad[i]);
}

/* nft_ruleset refuses, and its why names the bad value. */
static void refused(const char *table, const char *ifname,
                    const struct nft_device *devs, size_t count,
                    const char *named)
{
  char why[256] = "";
  char *s = nft_ruleset(table, ifname, devs, count, why, sizeof why);
  cr_assert_null(s, "accepted: %s", s ? s : "");
  cr_assert_not_null(strstr(why, named), "why '%s' lacks '%s'", why, named);
}

Test(nft_script, bad_names_refused)
{
  struct nft_device d = device("ok", 2, 0);
  refused("Weft", "wg0", &d, 1, "'Weft'");
  refused("", "wg0", &d, 1, "''");
  refused("we-ft", "wg0", &d, 1, "'we-ft'");
  refused("we ft", "wg0", &d, 1, "'we ft'");
  refused("a234567890123456789012345678901x", "wg0", &d, 1,
          "'a234567890123456789012345678901x'");
  refused("weft", "", &d, 1, "''");
  refused("weft", "wg0123456789abcd", &d, 1, "'wg0123456789abcd'");
  refused("weft", "wg 0", &d, 1, "'wg 0'");
  refused("weft", "wg\"0", &d, 1, "'wg\"0'");
  refused("weft", "wg/0", &d, 1, "'wg/0'");
  refused("weft", ".", &d, 1, "'.'");
  refused("weft", "..", &d, 1, "'..'");

  const char *bad_ids[] = {"", "ABC", "a_b", "a-b", "a b", "a\"b"};
  for (size_t i = 0; i < sizeof bad_ids / sizeof *bad_ids; i++) {
    struct nft_device b = device(bad_ids[i], 2, 0);
    char named[40];
    snprintf(named, sizeof named, "'%s'", bad_ids[i]);
    refused("weft", "wg0", &b, 1, named);
  }
  /* The longest names are fine. */
  char why[256];
  struct nft_device longest = device("abcdefghij0123456789abcdefghij0", 2, 0);
  char *s = nft_ruleset("abcdefghij0123456789abcdefghij_", "wg.-_ABC0123456",
                        &longest, 1, why, sizeof why);
  cr_assert_not_null(s, "%s", why);
  free(s);
}

Test(nft_script, bad_devices_refused)
{
  struct nft_device two[2] = {device("same", 2, 0), device("same", 3, 0)};
  refused("weft", "wg0", two, 2, "'same'");

  struct nft_device d = device("ports", 2, 0);
  add_ports(&d, 0, 10);
  refused("weft", "wg0", &d, 1, "0-10");

  d = device("ports", 2, 0);
  add_ports(&d, 22, 22);
  add_ports(&d, 90, 80);
  refused("weft", "wg0", &d, 1, "90-80");

  d = device("ports", 2, 0);
  d.port_count = NFT_MAX_PORT_RANGES + 1;
  refused("weft", "wg0", &d, 1, "65");

  /* A tunnel id that fills its array leaves no room for the NUL. */
  d = device("x", 2, 0);
  memset(d.tunnel_id, 'a', sizeof d.tunnel_id);
  char why[256] = "";
  cr_assert_null(nft_ruleset("weft", "wg0", &d, 1, why, sizeof why));
}

Test(nft_publish, refused)
{
  struct nft_device d = published("p", 5, 0, 2222);
  refused("weft", "wg0", &d, 1, "no tcp relay port");
  d = published("p", 5, 41000, 2222);
  d.publish.udp = true;
  refused("weft", "wg0", &d, 1, "no udp relay port");
  d = published("p", 5, 41000, 2222);
  d.publish.restricted = true;
  d.publish.allow_count = 1;
  d.publish.allow[0].bits = 33;
  refused("weft", "wg0", &d, 1, "/33");
  d.publish.allow_count = NFT_MAX_ALLOW + 1;
  refused("weft", "wg0", &d, 1, "65 allowed");
}

Test(nft_script, apply_without_script)
{
  char why[64] = "";
  cr_assert_eq(nft_apply(NULL, why, sizeof why), -1);
  cr_assert_neq(why[0], '\0');
}

/* nft refuses a script it cannot parse before it speaks to the kernel, so
 * this is safe outside a namespace and needs no root. */
Test(nft_script, syntax_error_in_nfts_words)
{
  char why[1024] = "";
  cr_assert_eq(nft_apply("table inet weft { chain c { bogus } }", why,
                         sizeof why),
               -1);
  cr_assert_not_null(strstr(why, "syntax error"), "%s", why);
  cr_assert_not_null(strstr(why, "bogus"), "%s", why);
  cr_assert_neq(why[strlen(why) - 1], '\n', "trailing newline kept");
}

/* ---- live, in a network namespace of the test's own -------------------- */

/* nftables state, interfaces and routes are per network namespace. A child
 * (the holder) unshares one and waits; each operation below runs in a
 * short-lived child that joins it with setns, so the test process itself
 * never leaves the host's namespace. */

#define LIVE_TABLE "weft_live"
#define LIVE_IF "wgt-live0"
#define OUT_LEN 16384

/* The holder's pid, or -1 with why (cannot unshare: not allowed here). */
static pid_t start_holder(char *why, size_t whylen)
{
  int p[2];
  if (pipe(p) < 0)
    return -1;
  pid_t pid = fork();
  if (pid == 0) {
    /* Dies with the test, whatever becomes of it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = open("/dev/null", O_RDWR);
    dup2(fd, 1);
    dup2(fd, 2);
    int err = unshare(CLONE_NEWNET) < 0 ? errno : 0;
    if (write(p[1], &err, sizeof err) != sizeof err || err)
      _exit(1);
    for (;;)
      pause();
  }
  close(p[1]);
  int err = -1;
  if (pid < 0 || read(p[0], &err, sizeof err) != sizeof err || err) {
    snprintf(why, whylen, "unshare(CLONE_NEWNET): %s",
             err > 0 ? strerror(err) : "the child failed");
    if (pid > 0)
      waitpid(pid, NULL, 0);
    pid = -1;
  }
  close(p[0]);
  return pid;
}

static void stop_holder(pid_t pid)
{
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

typedef int (*ns_fn)(const void *arg, char *out, size_t outlen);

static void write_all(int fd, const void *buf, size_t len)
{
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n <= 0)
      _exit(2);
    p += n;
    len -= (size_t)n;
  }
}

static void run_child(pid_t holder, ns_fn fn, const void *arg, int out_fd)
{
  char path[64], out[OUT_LEN] = "";
  snprintf(path, sizeof path, "/proc/%d/ns/net", (int)holder);
  int rc = -1;
  int ns = open(path, O_RDONLY | O_CLOEXEC);
  if (ns < 0 || setns(ns, CLONE_NEWNET) < 0)
    snprintf(out, sizeof out, "joining %s: %s", path, strerror(errno));
  else
    rc = fn(arg, out, sizeof out);
  write_all(out_fd, &rc, sizeof rc);
  write_all(out_fd, out, strlen(out));
  _exit(0);
}

/* fn(arg) in the holder's namespace: its result, and its text in out. */
static int in_ns(pid_t holder, ns_fn fn, const void *arg, char *out)
{
  int p[2];
  cr_assert_eq(pipe(p), 0);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    close(p[0]);
    run_child(holder, fn, arg, p[1]);
  }
  close(p[1]);
  int rc = -99;
  size_t len = 0;
  if (read(p[0], &rc, sizeof rc) != sizeof rc)
    rc = -99;
  for (ssize_t n; len < OUT_LEN - 1 &&
                  (n = read(p[0], out + len, OUT_LEN - 1 - len)) > 0;)
    len += (size_t)n;
  out[len] = '\0';
  close(p[0]);
  int status;
  waitpid(pid, &status, 0);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
            "the namespace child failed (status %d)", status);
  return rc;
}

static int op_apply(const void *script, char *out, size_t outlen)
{
  return nft_apply(script, out, outlen);
}

/* `nft list ...` through libnftables: the listing, or nft's error. */
static int op_list(const void *cmd, char *out, size_t outlen)
{
  struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  nft_ctx_buffer_output(ctx);
  nft_ctx_buffer_error(ctx);
  int rc = nft_run_cmd_from_buffer(ctx, cmd) == 0 ? 0 : -1;
  snprintf(out, outlen, "%s",
           rc == 0 ? nft_ctx_get_output_buffer(ctx)
                   : nft_ctx_get_error_buffer(ctx));
  nft_ctx_free(ctx);
  return rc;
}

struct lines {
  char *out;
  size_t outlen;
};

static void add_counter_line(void *arg, const char *id, uint64_t packets,
                             uint64_t bytes)
{
  struct lines *l = arg;
  size_t used = strlen(l->out);
  snprintf(l->out + used, l->outlen - used, "%s %llu %llu\n", id,
           (unsigned long long)packets, (unsigned long long)bytes);
}

/* One "id packets bytes" line per counter. */
static int op_counters(const void *table, char *out, size_t outlen)
{
  struct lines l = {out, outlen};
  return nft_read_counters(table, add_counter_line, &l, out, outlen);
}

/* ---- traffic through a tun device named like the WireGuard interface ---- */

static int set_inet(int s, const char *ifname, unsigned long req,
                    const char *addr)
{
  struct ifreq ifr = {0};
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
  struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
  sin->sin_family = AF_INET;
  inet_pton(AF_INET, addr, &sin->sin_addr);
  return ioctl(s, req, &ifr);
}

static int set_up(int s, const char *ifname)
{
  struct ifreq ifr = {0};
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
    return -1;
  ifr.ifr_flags |= IFF_UP;
  return ioctl(s, SIOCSIFFLAGS, &ifr);
}

/* A tun interface ifname holding 10.99.0.1/24, lo up (rejections answer
 * locally); the tun's fd, or -1. Packets routed to 10.99.0.x are read from
 * the fd, as WireGuard would take them. */
static int make_tun(const char *ifname, char *out, size_t outlen)
{
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  struct ifreq ifr = {.ifr_flags = IFF_TUN | IFF_NO_PI};
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0 ||
      set_inet(s, ifname, SIOCSIFADDR, "10.99.0.1") < 0 ||
      set_inet(s, ifname, SIOCSIFNETMASK, "255.255.255.0") < 0 ||
      set_up(s, ifname) < 0 || set_up(s, "lo") < 0) {
    snprintf(out, outlen, "tun %s: %s", ifname, strerror(errno));
    close(s);
    if (fd >= 0)
      close(fd);
    return -1;
  }
  close(s);
  return fd;
}

static struct sockaddr_in dest(const char *addr, uint16_t port)
{
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, addr, &sin.sin_addr);
  return sin;
}

/* 0, or the errno of sending one datagram. */
static int send_udp(const char *addr, uint16_t port, const char *payload)
{
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in to = dest(addr, port);
  ssize_t n = sendto(s, payload, strlen(payload), 0, (struct sockaddr *)&to,
                     sizeof to);
  int err = n < 0 ? errno : 0;
  close(s);
  return err;
}

/* The error a TCP connect ends with within a second (0: none yet). */
static int tcp_connect_error(const char *addr, uint16_t port)
{
  int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in to = dest(addr, port);
  int err = 0;
  if (connect(s, (struct sockaddr *)&to, sizeof to) < 0 &&
      errno != EINPROGRESS)
    err = errno;
  struct pollfd pfd = {.fd = s, .events = POLLOUT};
  socklen_t len = sizeof err;
  if (!err && poll(&pfd, 1, 1000) == 1)
    getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
  close(s);
  return err;
}

/* Destination ports of the IPv4 UDP datagrams waiting on the tun. */
static void drain_tun(int fd, char *out, size_t outlen)
{
  uint8_t pkt[2048];
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  while (poll(&pfd, 1, 200) == 1) {
    ssize_t n = read(fd, pkt, sizeof pkt);
    if (n < 28 || (pkt[0] >> 4) != 4 || pkt[9] != IPPROTO_UDP)
      continue;
    size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
    size_t used = strlen(out);
    snprintf(out + used, outlen - used, " udp:%u",
             (unsigned)(pkt[ihl + 2] << 8 | pkt[ihl + 3]));
  }
}

/* Device "abc" at 10.99.0.2 is open on udp 5353. Sends it one allowed and
 * one refused datagram, then a refused TCP connect, and reports:
 * "allowed=<errno> refused=<errno> tcp=<errno> arrived: udp:<port>...". */
static int op_traffic(const void *arg, char *out, size_t outlen)
{
  (void)arg;
  int fd = make_tun(LIVE_IF, out, outlen);
  if (fd < 0)
    return -1;
  int allowed = send_udp("10.99.0.2", 5353, "hello");
  int refused = send_udp("10.99.0.2", 9, "nope!");
  int tcp = tcp_connect_error("10.99.0.2", 80);
  snprintf(out, outlen, "allowed=%d refused=%d tcp=%d arrived:", allowed,
           refused, tcp);
  drain_tun(fd, out, outlen);
  close(fd);
  return 0;
}

/* ---- the live test ------------------------------------------------------ */

static char *live_script(const struct nft_device *devs, size_t count)
{
  char why[256] = "";
  char *s = nft_ruleset(LIVE_TABLE, LIVE_IF, devs, count, why, sizeof why);
  cr_assert_not_null(s, "%s", why);
  return s;
}

static void apply_in(pid_t ns, const char *script, char *out)
{
  cr_assert_eq(in_ns(ns, op_apply, script, out), 0, "nft refused: %s\n%s",
               out, script);
}

static pid_t live_namespace(void)
{
  if (geteuid() != 0)
    cr_skip("needs root: nftables in a network namespace of its own");
  char why[256] = "";
  pid_t ns = start_holder(why, sizeof why);
  if (ns < 0)
    cr_skip("cannot make a network namespace: %s", why);
  static char out[OUT_LEN];
  if (in_ns(ns, op_list, "list ruleset", out) != 0) {
    stop_holder(ns);
    cr_skip("nft cannot run here: %s", out);
  }
  return ns;
}

Test(nft_live, apply_replace_count_delete)
{
  pid_t ns = live_namespace();
  static char out[OUT_LEN];

  struct nft_device first = device("abc", 2, 40001);
  add_ports(&first, 22, 22);
  char *s = live_script(&first, 1);
  apply_in(ns, s, out);
  free(s);
  cr_assert_eq(in_ns(ns, op_list, "list table inet " LIVE_TABLE, out), 0,
               "%s", out);
  cr_assert_not_null(strstr(out, "counter weft_abc"), "%s", out);
  cr_assert_not_null(strstr(out, "tcp dport { 22, 40001 } accept"), "%s",
                     out);

  /* Replaced, not added to: the old port is gone, no rule is doubled. */
  struct nft_device second[2] = {device("abc", 2, 40001), device("d2", 3, 0)};
  add_ports(&second[0], 5353, 5353);
  add_ports(&second[1], 8000, 8100);
  s = live_script(second, 2);
  apply_in(ns, s, out);
  free(s);
  cr_assert_eq(in_ns(ns, op_list, "list table inet " LIVE_TABLE, out), 0);
  cr_assert_eq(occurrences(out, "table inet " LIVE_TABLE), 1, "%s", out);
  cr_assert_eq(occurrences(out, "chain output"), 1, "%s", out);
  cr_assert_eq(occurrences(out, "counter name \"weft_abc\""), 1, "%s", out);
  cr_assert_eq(occurrences(out, "counter weft_d2"), 1, "%s", out);
  cr_assert_null(strstr(out, "dport { 22,"), "%s", out);
  cr_assert_not_null(strstr(out, "dport 8000-8100 accept"), "%s", out);

  cr_assert_eq(in_ns(ns, op_counters, LIVE_TABLE, out), 0, "%s", out);
  cr_assert_str_eq(out, "abc 0 0\nd2 0 0\n");

  cr_assert_eq(in_ns(ns, op_traffic, NULL, out), 0, "%s", out);
  /* The allowed datagram reaches the interface; the refused one is dropped
   * on the way out (EPERM to the sender) and TCP is reset. */
  cr_assert_str_eq(out, "allowed=0 refused=1 tcp=111 arrived: udp:5353");

  /* All three count: 20 bytes IPv4 + 8 UDP + 5 payload twice, and a TCP
   * SYN (20 + 20 + its options, so above 40). */
  cr_assert_eq(in_ns(ns, op_counters, LIVE_TABLE, out), 0, "%s", out);
  unsigned long long packets, bytes;
  cr_assert_eq(sscanf(out, "abc %llu %llu\nd2 0 0\n", &packets, &bytes), 2,
               "%s", out);
  cr_assert_eq(packets, 3, "%s", out);
  cr_assert_gt(bytes, 2 * 33 + 40, "%s", out);
  cr_assert_not_null(strstr(out, "\nd2 0 0\n"), "%s", out);

  /* Deleted, and deleting again is no error. */
  s = nft_delete_script(LIVE_TABLE);
  apply_in(ns, s, out);
  apply_in(ns, s, out);
  free(s);
  cr_assert_eq(in_ns(ns, op_list, "list table inet " LIVE_TABLE, out), -1,
               "still there: %s", out);
  cr_assert_eq(in_ns(ns, op_counters, LIVE_TABLE, out), -1);
  cr_assert_neq(out[0], '\0');
  stop_holder(ns);
}

/* The kernel takes the published rules and the device's table as written
 * (fib, ct count, reject in prerouting, nat chains in an inet table). */
Test(nft_live, published_and_device_tables)
{
  pid_t ns = live_namespace();
  static char out[OUT_LEN];
  struct nft_device d[2] = {published("a1", 5, 41000, 2222),
                            published("u1", 6, 41001, 5353)};
  d[0].publish.from_other_hosts = true;
  d[0].publish.restricted = true;
  d[0].publish.allow[0] = (struct nft_prefix4){{198, 51, 100, 0}, 24};
  d[0].publish.allow_count = 1;
  d[1].relay_udp = d[1].publish.udp = true;
  char *s = live_script(d, 2);
  apply_in(ns, s, out);
  free(s);
  cr_assert_eq(in_ns(ns, op_list, "list table inet " LIVE_TABLE, out), 0);
  cr_assert_not_null(strstr(out, "dnat ip to 10.99.0.5:41000"), "%s", out);
  cr_assert_not_null(strstr(out, "ct count over 16"), "%s", out);
  char why[256];
  const uint8_t me[4] = {10, 99, 0, 5}, lo[4] = {127, 0, 0, 1};
  s = nft_device_script("weft_dev", LIVE_IF, me, true, 41000, lo, 53, why,
                        sizeof why);
  cr_assert_not_null(s, "%s", why);
  apply_in(ns, s, out);
  free(s);
  cr_assert_eq(in_ns(ns, op_list, "list table inet weft_dev", out), 0);
  cr_assert_not_null(strstr(out, "udp dport 41000 dnat ip to 127.0.0.1:53"),
                     "%s", out);
  stop_holder(ns);
}

/* The kernel's refusal, in nft's words. */
Test(nft_live, nft_error_text)
{
  pid_t ns = live_namespace();
  static char out[OUT_LEN];
  cr_assert_eq(in_ns(ns, op_apply, "delete table inet weft_absent", out), -1);
  cr_assert_not_null(strstr(out, "No such file or directory"), "%s", out);
  cr_assert_not_null(strstr(out, "weft_absent"), "%s", out);
  stop_holder(ns);
}
