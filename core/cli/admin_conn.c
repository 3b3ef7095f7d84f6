#include "cli/admin_conn.h"

#include <stdio.h>
#include <string.h>

#include "auth/secret.h"
#include "cli/cli.h"

int admin_connect(const char *cmd, const struct admin_conn *how, int *argc,
                  char ***argv, struct client *c)
{
  char err[1024];
  if (*argc > 0 && !strncmp((*argv)[0], "weft://", 7)) {
    struct conn_url srv;
    if (conn_url_parse((*argv)[0], &srv, err, sizeof err) != 0 ||
        client_init(c, &srv, how->device_id ? how->device_id : "admin", err,
                    sizeof err) != 0) {
      fprintf(stderr, "weft %s: %s\n", cmd, err);
      return EXIT_USAGE;
    }
    (*argc)--;
    (*argv)++;
    if (client_ensure_session(c, err, sizeof err) != 0) {
      fprintf(stderr, "weft %s: %s\n", cmd, err);
      client_free(c);
      return EXIT_RUNTIME;
    }
    return EXIT_OK;
  }
  char path[512];
  if (how->socket)
    snprintf(path, sizeof path, "%s", how->socket);
  else
    snprintf(path, sizeof path, "%s/admin.sock",
             how->state_dir ? how->state_dir : state_dir_default());
  if (client_init_local(c, path, err, sizeof err) != 0) {
    fprintf(stderr, "weft %s: %s\n", cmd, err);
    return EXIT_USAGE;
  }
  return EXIT_OK;
}

int admin_request(const char *cmd, struct client *c, const char *method,
                  const char *path, json_t *body, json_t **reply)
{
  char err[1024];
  int status = client_request(c, method, path, body, reply, err, sizeof err);
  if (status < 200 || status > 299) {
    if (status)
      client_error_text(*reply, status, err, sizeof err);
    fprintf(stderr, "weft %s: %s\n", cmd, err);
  }
  return status;
}
