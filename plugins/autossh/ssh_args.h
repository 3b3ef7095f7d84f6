/* Everything that reaches ssh's argv, checked first and built in one place:
 * no value may start with '-' (ssh would read it as an option), and none
 * may hold spaces, quotes or control characters. Pure functions, so the
 * unit tests and the fuzzer drive them directly. */
#ifndef WEFT_AUTOSSH_SSH_ARGS_H
#define WEFT_AUTOSSH_SSH_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SSH_ARGV_MAX 48

/* What one supervised `ssh -R` is made of. */
struct ssh_target {
  const char *ssh_path;
  const char *ssh_config;   /* -F value: a path, or "none" for /dev/null */
  const char *user;
  const char *host;         /* name, IPv4 or IPv6 (no brackets) */
  uint16_t port;
  const char *remote_bind;  /* listen address on the bastion, or NULL */
  uint16_t remote_port;
  const char *local_host;   /* where the bastion's connections go */
  uint16_t local_port;
  const char *identity;     /* -i, or NULL for ssh's defaults */
  const char *known_hosts;  /* pinned known_hosts file, or NULL */
  int alive_interval_s;
  int alive_count_max;
  int connect_timeout_s;
};

/* A host name or address ssh may be given: letters, digits, '.', '-', '_',
 * ':' (IPv6), 1-253 characters, not starting with '-'. */
bool ssh_host_ok(const char *host);
/* A login name: letters, digits, '.', '_', '-', not starting with '-',
 * 1-32 characters. */
bool ssh_user_ok(const char *user);
/* A file path: absolute, no control characters, spaces or quotes, and no
 * component starting with '-'. */
bool ssh_path_ok(const char *path);

/* Splits "user@host" (both checked) into user and host. 0, or -1 with why. */
int ssh_split_destination(const char *text, char *user, size_t user_len,
                          char *host, size_t host_len, char *why,
                          size_t whylen);

/* Fills argv (NULL-terminated, pointing into buf or at constants) for t. 0, or
 * -1 with why naming the value that was refused. */
int ssh_build_argv(const struct ssh_target *t, char *buf, size_t buflen,
                   char **argv, char *why, size_t whylen);

#endif
