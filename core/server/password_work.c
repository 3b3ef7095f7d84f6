#include "server/password_work.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/crypto.h"

struct job {
  uv_work_t req;
  struct password_work *owner;
  bool check;
  char pw[PASSWORD_MAX_BYTES + 1];
  char hash[PASSWORD_HASH_MAX];    /* a check's: what pw must match */
  struct password_result result;
  password_done_fn done;
  void *arg;
};

/* On a thread of the pool: touches nothing but the job. */
static void run(uv_work_t *req)
{
  struct job *j = req->data;
  struct password_result *r = &j->result;
  const struct password_limits *limits = &password_limits_default;
  if (!j->check) {
    r->ok = password_hash(j->pw, limits, r->hash) == 0;
    return;
  }
  if (!j->hash[0]) { /* nobody to match: as long as a check, then no */
    password_hash(j->pw, limits, r->hash);
    crypto_wipe(r->hash, sizeof r->hash);
    return;
  }
  r->ok = password_verify(j->hash, j->pw);
  if (r->ok && password_needs_rehash(j->hash, limits) &&
      password_hash(j->pw, limits, r->hash) != 0)
    r->hash[0] = '\0';
}

static void finished(uv_work_t *req, int status)
{
  struct job *j = req->data;
  assert(j->owner->running > 0);
  j->owner->running--;
  if (status != 0) /* cancelled: nothing was computed */
    memset(&j->result, 0, sizeof j->result);
  j->done(j->arg, &j->result);
  crypto_wipe(j, sizeof *j);
  free(j);
}

bool password_work_free(const struct password_work *w)
{
  return w->running < PASSWORD_WORK_MAX;
}

static int start(struct password_work *w, bool check, const char *hash,
                 const char *pw, password_done_fn done, void *arg)
{
  if (!password_work_free(w) || strlen(pw) > PASSWORD_MAX_BYTES ||
      strlen(hash) >= PASSWORD_HASH_MAX)
    return -1;
  struct job *j = calloc(1, sizeof *j);
  if (!j)
    return -1;
  j->req.data = j;
  j->owner = w;
  j->check = check;
  snprintf(j->pw, sizeof j->pw, "%s", pw);
  snprintf(j->hash, sizeof j->hash, "%s", hash);
  j->done = done;
  j->arg = arg;
  if (uv_queue_work(w->loop, &j->req, run, finished) != 0) {
    crypto_wipe(j, sizeof *j);
    free(j);
    return -1;
  }
  w->running++;
  return 0;
}

int password_work_hash(struct password_work *w, const char *pw,
                       password_done_fn done, void *arg)
{
  return start(w, false, "", pw, done, arg);
}

int password_work_check(struct password_work *w, const char *hash,
                        const char *pw, password_done_fn done, void *arg)
{
  return start(w, true, hash, pw, done, arg);
}
