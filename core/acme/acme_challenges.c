#include "acme/acme_challenges.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "acme/acme_parse.h"

struct answer {
  char token[ACME_TOKEN_MAX + 1]; /* "" when the slot is free */
  char keyauth[ACME_KEYAUTH_MAX + 1];
};

static struct answer table[ACME_CHALLENGES_MAX];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* "token." followed by base64url: what RFC 8555 8.1 says, nothing more. */
static bool keyauth_valid(const char *token, const char *keyauth)
{
  size_t n = strlen(token), len = strlen(keyauth);
  if (len > ACME_KEYAUTH_MAX || len < n + 2 ||
      strncmp(keyauth, token, n) != 0 || keyauth[n] != '.')
    return false;
  return acme_token_valid(keyauth + n + 1);
}

/* Under the lock: the entry for token, or with "" a free one. */
static struct answer *find(const char *token)
{
  for (size_t i = 0; i < ACME_CHALLENGES_MAX; i++)
    if (strcmp(table[i].token, token) == 0)
      return &table[i];
  return NULL;
}

int acme_challenges_put(const char *token, const char *keyauth)
{
  if (!acme_token_valid(token) || !keyauth_valid(token, keyauth))
    return -1;
  pthread_mutex_lock(&lock);
  struct answer *a = find(token);
  if (!a)
    a = find("");
  if (a) {
    strcpy(a->token, token); /* lengths checked above */
    strcpy(a->keyauth, keyauth);
  }
  pthread_mutex_unlock(&lock);
  return a ? 0 : -1;
}

void acme_challenges_withdraw(const char *token)
{
  if (!acme_token_valid(token))
    return;
  pthread_mutex_lock(&lock);
  struct answer *a = find(token);
  if (a)
    memset(a, 0, sizeof *a);
  pthread_mutex_unlock(&lock);
}

int acme_challenges_answer(const char *path, char *out, size_t outlen)
{
  size_t plen = strlen(ACME_CHALLENGE_PREFIX);
  if (strncmp(path, ACME_CHALLENGE_PREFIX, plen) != 0 ||
      !acme_token_valid(path + plen))
    return -1;
  int rc = -1;
  pthread_mutex_lock(&lock);
  struct answer *a = find(path + plen);
  if (a && strlen(a->keyauth) < outlen) {
    strcpy(out, a->keyauth);
    rc = 0;
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

static int sink_publish(void *arg, const char *token, const char *keyauth)
{
  (void)arg;
  return acme_challenges_put(token, keyauth);
}

static void sink_withdraw(void *arg, const char *token)
{
  (void)arg;
  acme_challenges_withdraw(token);
}

const struct acme_challenge_sink acme_challenges_sink = {
    .publish = sink_publish,
    .withdraw = sink_withdraw,
    .arg = NULL,
};
