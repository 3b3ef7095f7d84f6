/* The web console's sessions (server/console.h), as the control API
 * holds them. Types only. */
#ifndef WEFT_SERVER_CONSOLE_TYPES_H
#define WEFT_SERVER_CONSOLE_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#define CONSOLE_SESSIONS_MAX 256
#define CONSOLE_SESSION_IDLE_S (30 * 60) /* signed out after this idle */
#define CONSOLE_COOKIE "weft_console"

struct console_session {
  char id[48];        /* the cookie's value: 256 random bits, base64url */
  char csrf[48];      /* what X-CSRF-Token must say on a state change */
  char user[64];
  char key_id[17];    /* the user's key then: rotated, it ends */
  int64_t password_gen; /* the user's password then: changed, it ends */
  int64_t last_s;     /* wall clock of its last request */
  bool live;
};

struct console_sessions {
  struct console_session s[CONSOLE_SESSIONS_MAX];
};

#endif
