#include <stdio.h>
#include <string.h>

#include <weft/plugin.h>

#include "version.h"
#include "cli/cli.h"

int cmd_version(int argc, char **argv)
{
  if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    cli_print_usage("version");
    return EXIT_OK;
  }
  if (argc > 1) {
    fprintf(stderr, "weft version: takes no arguments\n");
    return EXIT_USAGE;
  }
  printf("weft %s (plugin ABI %d.%d)\n", WEFT_VERSION, WEFT_ABI_MAJOR,
         WEFT_ABI_MINOR);
  return EXIT_OK;
}

int cmd_help(int argc, char **argv)
{
  if (argc < 2) {
    cli_print_usage("weft");
    return EXIT_OK;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    cli_print_usage("help");
    return EXIT_OK;
  }
  if (cli_print_usage(argv[1]) != 0) {
    fprintf(stderr, "weft help: unknown command '%s'\n", argv[1]);
    return EXIT_USAGE;
  }
  return EXIT_OK;
}
