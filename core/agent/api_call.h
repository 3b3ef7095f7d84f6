/* The control API from a running agent, on its loop: a request, with the
 * login it needs first (and once more if the server forgot the session),
 * runs through libcurl's multi interface while the loop goes on carrying
 * every tunnel's traffic. A client runs one request at a time (they share
 * its connection and its session); the others wait their turn in order.
 *
 * Not to be mixed with the blocking client_request on the same client
 * while any call is queued: cancel them first. */
#ifndef WEFT_AGENT_API_CALL_H
#define WEFT_AGENT_API_CALL_H

#include <jansson.h>
#include <stdbool.h>

#include "agent/api_client.h"
#include "net/curl_loop.h"

/* The answer: status as client_request returns it (0 with err when the
 * server was not reached or the login failed), reply borrowed (NULL if not
 * JSON). For client_call_login, status is 200 once there is a session. */
typedef void (*client_call_cb)(void *arg, int status, json_t *reply,
                               const char *err);

/* Starts or queues a request (path NULL: only make sure of the session).
 * 0: cb runs once, later, from the loop, unless the call is cancelled
 * first. -1: it could not start (cb never runs). 1: path is NULL and the
 * session is fresh, nothing to do (cb never runs). tag groups calls for
 * client_call_cancel. */
int client_call(struct client *c, struct curl_loop *cl, const char *method,
                const char *path, json_t *body, const void *tag,
                client_call_cb cb, void *arg);

/* Drops c's calls made with tag (NULL: every call); their cb never runs. */
void client_call_cancel(struct client *c, const void *tag);

/* A call with tag is queued or running. */
bool client_call_pending(const struct client *c, const void *tag);

#endif
