/* How `weft admin` and `weft user` reach a server: on its own host through
 * the local administration socket of its state directory (the default:
 * whoever may open it is an administrator), or from anywhere with a
 * connection string, logging in as a device that [server] admins names. */
#ifndef WEFT_CLI_ADMIN_CONN_H
#define WEFT_CLI_ADMIN_CONN_H

#include "agent/api_client.h"

struct admin_conn {
  const char *state_dir; /* --state-dir, or NULL for the default */
  const char *socket;    /* --socket, or NULL: STATE_DIR/admin.sock */
  const char *device_id; /* --device-id, for a connection string */
};

/* Takes a connection string off the front of *argv if there is one
 * (weft://...), and makes c ready for requests. An exit code; on success
 * c is to be freed with client_free. */
int admin_connect(const char *cmd, const struct admin_conn *how, int *argc,
                  char ***argv, struct client *c);

/* Runs one request and prints why it failed ("weft CMD: ..."): the HTTP
 * status, or 0. *reply is the answer (to json_decref). */
int admin_request(const char *cmd, struct client *c, const char *method,
                  const char *path, json_t *body, json_t **reply);

#endif
