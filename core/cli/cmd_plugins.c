#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "base/log.h"
#include "cli/cli.h"
#include "cli/cli_env.h"

enum { OPT_PLUGIN_DIR = 256 };

static const char *type_name(enum weft_option_type t)
{
  switch (t) {
  case WEFT_OPT_STRING: return "string";
  case WEFT_OPT_INT: return "integer";
  case WEFT_OPT_BOOL: return "boolean";
  case WEFT_OPT_DURATION: return "duration";
  case WEFT_OPT_ENUM: return "choice";
  case WEFT_OPT_URL: return "url";
  }
  return "?";
}

static void print_options(const char *heading, const struct weft_option *t)
{
  if (!t || !t->name)
    return;
  printf("    %s\n", heading);
  for (; t->name; t++) {
    printf("      %-24s %-8s %s", t->name, type_name(t->type),
           t->description ? t->description : "");
    if (t->choices)
      printf(" (%s)", t->choices);
    if (t->default_value)
      printf(" [default %s]", t->default_value);
    printf("\n");
  }
}

static void list(const struct plugin_registry *reg, bool verbose)
{
  printf("Plugin directories searched:");
  for (size_t i = 0; i < reg->dir_count; i++)
    printf("%s %s", i ? "," : "", reg->dirs[i]);
  printf("%s\n\n", reg->dir_count ? "" : " (none found)");
  printf("%-10s %-5s %-28s %s\n", "NAME", "ABI", "CAPABILITIES", "PATH");
  for (size_t i = 0; i < reg->count; i++) {
    const struct plugin *p = reg->plugins[i];
    char caps[128], abi[16];
    plugin_caps_text(p->desc.caps, caps, sizeof caps);
    snprintf(abi, sizeof abi, "%u.%u", p->desc.abi_major, p->desc.abi_minor);
    printf("%-10s %-5s %-28s %s\n", p->desc.name, abi, caps,
           p->path ? p->path : "(built in)");
    printf("    %s (version %s)\n", p->desc.description, p->desc.version);
    if (p->desc.status && p->initialized)
      printf("    status: %s\n", p->desc.status(p->ctx));
    if (verbose) {
      char heading[64];
      snprintf(heading, sizeof heading, "[transport.%s] keys:", p->desc.name);
      print_options(heading, p->desc.options);
      print_options("[tunnel \"NAME\"] keys with this transport:",
                    p->desc.tunnel_options);
    }
  }
  if (reg->count == 0)
    printf("(no plugin loaded)\n");
  if (reg->refused_count) {
    printf("\nRefused:\n");
    for (size_t i = 0; i < reg->refused_count; i++)
      printf("  %s\n    %s\n", reg->refused[i].path, reg->refused[i].reason);
  }
}

int cmd_plugins(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"config", required_argument, NULL, 'c'},
      {"plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR},
      {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *config_path = NULL, *plugin_dir = NULL;
  bool verbose = false;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":c:vh", longopts, NULL)) != -1) {
    switch (c) {
    case 'c': config_path = optarg; break;
    case OPT_PLUGIN_DIR: plugin_dir = optarg; break;
    case 'v': verbose = true; break;
    case 'h': cli_print_usage("plugins"); return EXIT_OK;
    case ':':
      fprintf(stderr, "weft plugins: %s needs a value\n", argv[optind - 1]);
      return EXIT_USAGE;
    default:
      fprintf(stderr, "weft plugins: unknown option '%s'\n", argv[optind - 1]);
      return EXIT_USAGE;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "weft plugins: unexpected argument '%s'\n", argv[optind]);
    return EXIT_USAGE;
  }
  /* Refusals are listed below; the log would only say them twice. */
  log_set_level(verbose ? WEFT_LOG_DEBUG : WEFT_LOG_ERROR);

  struct cli_env env;
  int code = cli_env_open(&env, plugin_dir, config_path, NULL);
  if (code == EXIT_OK)
    list(&env.reg, verbose);
  return cli_env_close(&env, code);
}
