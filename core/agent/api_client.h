/* The client side of the control API, as `weft tunnel` and `weft login`
 * use it: log in with the connection secret (verifying the server first),
 * keep the session fresh, create and delete tunnels. These requests are
 * made with libcurl and block: for a command, or before the agent's loop
 * runs. A running agent uses agent/api_call.h instead. */
#ifndef WEFT_CORE_API_CLIENT_H
#define WEFT_CORE_API_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth/device_key.h"
#include "auth/secret.h"
#include "base/url.h"

/* Re-login when the session has less than this left. */
#define CLIENT_RELOGIN_MARGIN_S (5 * 60)

struct client {
  struct conn_url server;
  /* An enrolled device (auth/enrollment.h): it holds no secret, logs in
   * with its key alone, and knows the server by the key its enrollment
   * string pinned: spki_pin, set from the start, pins every request. */
  bool key_only;
  /* The server's local administration socket instead of a connection:
   * no login, no TLS (client_init_local). "" otherwise. */
  char local_socket[108];
  struct secret secret;
  char base_url[URL_MAX_HOST + 32]; /* https://HOST:PORT */
  char device_id[64];
  /* The device's own key, which signs each login (a device agent has
   * one; `weft login` and `weft admin` have none). */
  struct device_key key;
  bool has_key;
  char *session;            /* the session JWT, or NULL */
  int64_t session_expires;  /* wall-clock seconds */
  long timeout_ms;
  long retry_after; /* seconds, from the last answer's Retry-After */
  /* The next request with the session goes on a connection of its own,
   * closed after it (not a login's step): after a lost session, the one
   * kept most likely died with it. */
  bool fresh_next;
  void *curl;       /* one handle, so the connection is kept and reused */
  /* The server's certificate as seen on the connection the login was bound
   * to: later requests (and transports) accept no other. */
  char cert_sha256[65];     /* hex SHA-256 of the certificate; "" before */
  char spki_pin[64];        /* libcurl's "sha256//..." of its key */
  bool key_changed;         /* the last request met another key */
  /* Why the server refused the last login of a device that proved the
   * secret ("device_revoked", "device_key_mismatch",
   * "enrollment_closed"), or "". */
  char refusal[32];
  /* Requests made on the loop (agent/api_call.h), in order: the first
   * runs, the others wait. None may be left at client_free. */
  struct client_call *calls;
  /* What the last response came over (read while it was being received). */
  struct {
    bool seen;
    uint8_t binding[32];
    char cert_sha256[65];
    char spki_pin[64];
  } conn;
};

/* 0, or -1 with err (a connection string without a valid secret). */
int client_init(struct client *c, const struct conn_url *server,
                const char *device_id, char *err, size_t errlen);
void client_free(struct client *c);

/* A client of an enrolled device: host, port, pin and device id from its
 * enrollment (auth/enrollment.h; the token is not used here). Its key is
 * to be loaded into c->key (has_key) before the first request. */
struct enrollment;
int client_init_keyed(struct client *c, const struct enrollment *e,
                      char *err, size_t errlen);

/* Enrolls c's device with the one-time token of its enrollment string:
 * checks the server's certificate against the pin, then binds c->key to
 * the device id on the server. 0, or -1 with err. */
int client_enroll(struct client *c, const uint8_t *token, size_t token_len,
                  char *err, size_t errlen);

/* A client of the server on this host, through its local administration
 * socket (STATE_DIR/admin.sock): whoever may open the socket is an
 * administrator, so there is no login. 0, or -1 with err. */
int client_init_local(struct client *c, const char *socket_path, char *err,
                      size_t errlen);

/* Logs in if there is no session or it is about to expire. 0 or -1 with a
 * message saying whether the server was unreachable, failed to prove it
 * knows the secret, or refused ours. */
int client_ensure_session(struct client *c, char *err, size_t errlen);

/* A request with the session. Returns the HTTP status (0 if the server
 * could not be reached, with err) and, when the answer is JSON, *reply. */
int client_request(struct client *c, const char *method, const char *path,
                   json_t *body, json_t **reply, char *err, size_t errlen);

/* The machine's default device id: its host name, made safe. */
void client_default_device_id(char *out, size_t len);

/* "message (code)" from an error reply, or a fallback. */
void client_error_text(json_t *reply, int status, char *out, size_t len);

#endif
