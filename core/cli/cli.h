/* The `weft` command line: one file per command. */
#ifndef WEFT_CLI_H
#define WEFT_CLI_H

#include "base/exit_codes.h"

int cmd_server(int argc, char **argv);
int cmd_tunnel(int argc, char **argv);
/* weft tunnel status [NAME] [--run-dir DIR] */
int cmd_tunnel_status(int argc, char **argv);
int cmd_service(int argc, char **argv);
int cmd_plugins(int argc, char **argv);
int cmd_login(int argc, char **argv);
int cmd_admin(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_device(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_help(int argc, char **argv);

/* Prints a command's usage to stdout. Returns 0, or -1 if unknown. */
int cli_print_usage(const char *command);

#endif
