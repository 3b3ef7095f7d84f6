/* Argon2id off the event loop: a password hashed or checked on libuv's
 * thread pool (one check costs about a second of one core and 256 MiB:
 * auth/password.h), its result handed back on the loop. At most
 * PASSWORD_WORK_MAX run at once, for the whole server; callers answer
 * "busy, try again" beyond that rather than queue. */
#ifndef WEFT_SERVER_PASSWORD_WORK_H
#define WEFT_SERVER_PASSWORD_WORK_H

#include <stdbool.h>
#include <uv.h>

#include "auth/password.h"

#define PASSWORD_WORK_MAX 2

struct password_result {
  /* A check: the password matched. A hash: it was made. */
  bool ok;
  /* A hash: the new hash. A check that matched a hash made with older
   * limits: the password hashed again (store it); else "". */
  char hash[PASSWORD_HASH_MAX];
};

/* Called on the loop with the result (valid during the call). */
typedef void (*password_done_fn)(void *arg, const struct password_result *r);

struct password_work {
  uv_loop_t *loop;
  unsigned running;
};

/* Whether another job may start now. */
bool password_work_free(const struct password_work *w);

/* Hashes pw: 0, or -1 (busy, or out of memory: done is not called). */
int password_work_hash(struct password_work *w, const char *pw,
                       password_done_fn done, void *arg);

/* Checks pw against hash; with hash "" (no such user, no password) the
 * same work is done and the answer is no, so the time taken does not
 * tell whether the account exists. 0, or -1 as above. */
int password_work_check(struct password_work *w, const char *hash,
                        const char *pw, password_done_fn done, void *arg);

#endif
