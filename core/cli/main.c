#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "net/openssl_alloc.h"
#include "cli/cli.h"

static const struct {
  const char *name;
  int (*run)(int argc, char **argv);
} commands[] = {
    {"server", cmd_server},   {"tunnel", cmd_tunnel}, {"plugins", cmd_plugins},
    {"login", cmd_login},     {"admin", cmd_admin},     {"user", cmd_user},
    {"device", cmd_device},
    {"service", cmd_service},
    {"version", cmd_version}, {"help", cmd_help},
};

int main(int argc, char **argv)
{
  /* A peer that closes its socket must cost us an EPIPE on that socket,
   * not the whole process (the default action of SIGPIPE). */
  signal(SIGPIPE, SIG_IGN);
  /* Relayed bytes pass through write buffers of up to a few hundred KiB
   * that live for microseconds. With its adaptive thresholds glibc hands
   * the freed heap back to the kernel and faults it in again for the next
   * one (about a fifth of a device's CPU in bench/vhost.sh). Fixed ones:
   * buffers up to 1 MiB come from the heap, and up to 16 MiB of free heap
   * is kept. */
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  mallopt(M_TRIM_THRESHOLD, 16 << 20);
  openssl_alloc_init();
  if (argc < 2) {
    cli_print_usage("weft");
    return EXIT_USAGE;
  }
  const char *name = argv[1];
  if (!strcmp(name, "--help") || !strcmp(name, "-h"))
    return cmd_help(1, argv + 1);
  if (!strcmp(name, "--version"))
    return cmd_version(1, argv + 1);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(commands[i].name, name))
      return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "weft: unknown command '%s'; run 'weft help'\n", name);
  return EXIT_USAGE;
}
