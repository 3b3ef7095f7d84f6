/* The autossh plugin's pure parts: what may reach ssh's argv, the argv
 * built from it, public key lines, and the authorized_keys lines the
 * server writes and reads back. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../../plugins/autossh/akeys.h"
#include "../../../plugins/autossh/keys.h"
#include "../../../plugins/autossh/ssh_args.h"

#define ED25519 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3vDm9Rm7Zc3zvsQ2Xl5bd0i1oQqNe0XkV0ZKf3lJp6"

Test(ssh_args, hosts)
{
  cr_assert(ssh_host_ok("bastion.example.com"));
  cr_assert(ssh_host_ok("127.0.0.1"));
  cr_assert(ssh_host_ok("::1"));
  cr_assert_not(ssh_host_ok("-oProxyCommand=x"));
  cr_assert_not(ssh_host_ok("a b"));
  cr_assert_not(ssh_host_ok("a\nb"));
  cr_assert_not(ssh_host_ok("host;id"));
  cr_assert_not(ssh_host_ok(""));
  cr_assert_not(ssh_host_ok("a/b"));
}

Test(ssh_args, users_and_paths)
{
  cr_assert(ssh_user_ok("tunnel-01"));
  cr_assert_not(ssh_user_ok("-l"));
  cr_assert_not(ssh_user_ok("root x"));
  cr_assert_not(ssh_user_ok("a@b"));
  cr_assert_not(ssh_user_ok("abcdefghijklmnopqrstuvwxyz0123456"));
  cr_assert(ssh_path_ok("/home/a/.ssh/id_ed25519"));
  cr_assert_not(ssh_path_ok("relative/key"));
  cr_assert_not(ssh_path_ok("/tmp/a b"));
  cr_assert_not(ssh_path_ok("/tmp/-oProxyCommand"));
  cr_assert_not(ssh_path_ok("/tmp/\"q"));
  cr_assert_not(ssh_path_ok("/tmp/a\tb"));
}

Test(ssh_args, destination)
{
  char user[64], host[256], why[256];
  cr_assert_eq(ssh_split_destination("me@[::1]", user, sizeof user, host,
                                     sizeof host, why, sizeof why), 0);
  cr_assert_str_eq(user, "me");
  cr_assert_str_eq(host, "::1");
  cr_assert_eq(ssh_split_destination("nohost", user, sizeof user, host,
                                     sizeof host, why, sizeof why), -1);
  cr_assert_eq(ssh_split_destination("a@b@c", user, sizeof user, host,
                                     sizeof host, why, sizeof why), -1);
  cr_assert_eq(ssh_split_destination("root@-oProxyCommand=x", user,
                                     sizeof user, host, sizeof host, why,
                                     sizeof why), -1);
  cr_assert(strstr(why, "may not start with '-'"), "%s", why);
}

static struct ssh_target good(void)
{
  return (struct ssh_target){.ssh_path = "/usr/bin/ssh", .ssh_config = "none",
                             .user = "tun", .host = "bastion", .port = 2200,
                             .remote_port = 2222, .local_host = "127.0.0.1",
                             .local_port = 22, .identity = "/k/id",
                             .known_hosts = "/k/known", .alive_interval_s = 15,
                             .alive_count_max = 3, .connect_timeout_s = 15};
}

static const char *joined(char **argv, char *buf, size_t len)
{
  buf[0] = '\0';
  for (size_t i = 0; argv[i]; i++) {
    strncat(buf, argv[i], len - strlen(buf) - 1);
    strncat(buf, " ", len - strlen(buf) - 1);
  }
  return buf;
}

Test(ssh_args, argv)
{
  struct ssh_target t = good();
  char buf[4096], why[256], line[4096];
  char *argv[SSH_ARGV_MAX];
  cr_assert_eq(ssh_build_argv(&t, buf, sizeof buf, argv, why, sizeof why), 0,
               "%s", why);
  joined(argv, line, sizeof line);
  cr_assert(strstr(line, "-o BatchMode=yes "), "%s", line);
  cr_assert(strstr(line, "-o ExitOnForwardFailure=yes "), "%s", line);
  cr_assert(strstr(line, "-o ServerAliveInterval=15 -o ServerAliveCountMax=3 "));
  cr_assert(strstr(line, "-o StrictHostKeyChecking=yes "));
  cr_assert(strstr(line, "-o UserKnownHostsFile=/k/known "));
  cr_assert(strstr(line, "-i /k/id "));
  cr_assert(strstr(line, "-F /dev/null "));
  cr_assert(strstr(line, "-R 2222:127.0.0.1:22 -- bastion "), "%s", line);
  t.remote_bind = "::1";
  t.local_host = "::1";
  cr_assert_eq(ssh_build_argv(&t, buf, sizeof buf, argv, why, sizeof why), 0);
  joined(argv, line, sizeof line);
  cr_assert(strstr(line, "-R [::1]:2222:[::1]:22 "), "%s", line);
}

Test(ssh_args, argv_refuses)
{
  char buf[4096], why[256];
  char *argv[SSH_ARGV_MAX];
  struct ssh_target t = good();
  t.host = "-oProxyCommand=id";
  cr_assert_eq(ssh_build_argv(&t, buf, sizeof buf, argv, why, sizeof why), -1);
  t = good();
  t.user = "a b";
  cr_assert_eq(ssh_build_argv(&t, buf, sizeof buf, argv, why, sizeof why), -1);
  t = good();
  t.remote_bind = "-R";
  cr_assert_eq(ssh_build_argv(&t, buf, sizeof buf, argv, why, sizeof why), -1);
  t = good();
  t.identity = "/a b";
  cr_assert_eq(ssh_build_argv(&t, buf, sizeof buf, argv, why, sizeof why), -1);
  t = good();
  t.ssh_config = "relative";
  cr_assert_eq(ssh_build_argv(&t, buf, sizeof buf, argv, why, sizeof why), -1);
  t = good();
  cr_assert_eq(ssh_build_argv(&t, buf, 40, argv, why, sizeof why), -1);
}

Test(keys, public_lines)
{
  char out[2200], why[256];
  cr_assert_eq(keys_public_line(ED25519 " me@host", out, sizeof out, why,
                                sizeof why), 0, "%s", why);
  cr_assert_str_eq(out, ED25519);
  cr_assert_eq(keys_public_line("ssh-dss AAAAB3NzaC1kc3MAAACBAP", out,
                                sizeof out, why, sizeof why), -1);
  cr_assert_eq(keys_public_line("ssh-ed25519 AAAA\"C3Nza,command=x", out,
                                sizeof out, why, sizeof why), -1);
  cr_assert_eq(keys_public_line(ED25519 " c\nrestrict ssh-ed25519 AAAA", out,
                                sizeof out, why, sizeof why), -1);
  cr_assert_eq(keys_public_line("ssh-ed25519", out, sizeof out, why,
                                sizeof why), -1);
}

Test(akeys, round_trip)
{
  struct akey k = {.tunnel_id = "t0123456789abcdef", .forward_port = 41000,
                   .key = ED25519, .expires_at = 1900000000};
  char line[4096];
  cr_assert_eq(akeys_format(&k, line, sizeof line), 0);
  cr_assert(strstr(line, "restrict,port-forwarding,permitlisten=\"127.0.0.1:41000\""));
  cr_assert(strstr(line, "expiry-time=\"20300317"), "%s", line);
  line[strlen(line) - 1] = '\0';
  struct akey back;
  cr_assert_eq(akeys_parse(line, &back), 0);
  cr_assert_str_eq(back.tunnel_id, k.tunnel_id);
  cr_assert_str_eq(back.key, k.key);
  cr_assert_eq(back.forward_port, 41000);
  cr_assert_eq(back.expires_at, k.expires_at);
  /* not ours, or tampered with */
  cr_assert_eq(akeys_parse(ED25519 " admin@laptop", &back), -1);
  cr_assert_eq(akeys_parse("restrict,port-forwarding,permitlisten=\"127.0.0.1:99999\"", &back), -1);
  struct akey bad = k;
  snprintf(bad.tunnel_id, sizeof bad.tunnel_id, "t1 x");
  cr_assert_eq(akeys_format(&bad, line, sizeof line), -1);
}

static void count(void *arg, const struct akey *k)
{
  (void)k;
  (*(int *)arg)++;
}

Test(akeys, file_keeps_foreign_lines)
{
  char dir[] = "/tmp/weft-akeys-XXXXXX", path[64], why[256];
  cr_assert(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/authorized_keys", dir);
  FILE *f = fopen(path, "w");
  fputs(ED25519 " admin@laptop\n# a comment\n", f);
  fclose(f);
  struct akey k[2] = {
      {.tunnel_id = "ta", .forward_port = 41001, .key = ED25519,
       .expires_at = 1900000000},
      {.tunnel_id = "tb", .forward_port = 41002, .key = ED25519,
       .expires_at = 1900000000}};
  cr_assert_eq(akeys_write_file(path, k, 2, -1, -1, why, sizeof why), 0, "%s", why);
  int n = 0;
  cr_assert_eq(akeys_read_file(path, count, &n, why, sizeof why), 0);
  cr_assert_eq(n, 2);
  cr_assert_eq(akeys_write_file(path, k, 1, -1, -1, why, sizeof why), 0);
  n = 0;
  akeys_read_file(path, count, &n, why, sizeof why);
  cr_assert_eq(n, 1);
  char text[4096] = "";
  f = fopen(path, "r");
  size_t got = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[got] = '\0';
  cr_assert(strstr(text, "admin@laptop\n# a comment\n"), "%s", text);
  cr_assert_null(strstr(text, "weft-tunnel:tb"));
  unlink(path);
  rmdir(dir);
}
