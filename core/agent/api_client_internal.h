/* The parts of a control-API request and of the login, shared by the
 * blocking client (api_client.c) and the one driven by the loop
 * (api_call.c), so that both speak the same protocol from one text. */
#ifndef WEFT_AGENT_API_CLIENT_INTERNAL_H
#define WEFT_AGENT_API_CLIENT_INTERNAL_H

#include <curl/curl.h>

#include "agent/api_client.h"
#include "auth/login.h"
#include "net/tls_ctx.h"

struct client_reply_buf {
  char *data;
  size_t len;
};

/* One request while it runs on c->curl. */
struct client_req {
  struct curl_slist *headers;
  char *text; /* the JSON body sent */
  struct client_reply_buf buf;
};

/* Sets c->curl up for the request (bearer: the session, or NULL). 0, or -1
 * with err. */
int client_req_setup(struct client *c, struct client_req *r,
                     const char *method, const char *path, json_t *body,
                     const char *bearer, char *err, size_t errlen);
/* The transfer ended with rc: the HTTP status (0 with err if the server
 * was not reached) and the JSON reply, if any. Frees r's parts. */
int client_req_finish(struct client *c, struct client_req *r, CURLcode rc,
                      json_t **reply, char *err, size_t errlen);
void client_req_free(struct client_req *r);

/* The login's state between its two requests. */
struct login_steps {
  uint8_t nc[LOGIN_NONCE_LEN], ns[LOGIN_NONCE_LEN];
  uint8_t binding[TLS_BINDING_LEN];
};

/* The first request's body (a fresh client nonce). */
json_t *client_login_challenge(struct login_steps *ls);
/* From the challenge's answer: checks the server's proof over this
 * connection and returns the second request's body, or NULL with err. */
json_t *client_login_answer(struct client *c, struct login_steps *ls,
                            int status, json_t *reply, char *err,
                            size_t errlen);
/* From the second answer: keeps the session. 0, or -1 with err (and
 * c->refusal when the server refused this device). */
int client_login_accept(struct client *c, const struct login_steps *ls,
                        int status, json_t *reply, char *err, size_t errlen);

/* The session is there and far enough from its expiry. */
bool client_session_fresh(const struct client *c);

#endif
