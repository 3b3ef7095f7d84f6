/* The HTTP-01 answers an ACME issuance has published and not yet withdrawn,
 * in one process-wide table behind a mutex: the issuing worker thread puts
 * and withdraws, the server's HTTP ingress (on the loop thread) asks for an
 * answer. Tokens are checked to be base64url of bounded length, so a request
 * path can never reach anything but an exact table entry. */
#ifndef WEFT_CORE_ACME_CHALLENGES_H
#define WEFT_CORE_ACME_CHALLENGES_H

#include <stddef.h>

#include "acme/acme.h"

#define ACME_CHALLENGE_PREFIX "/.well-known/acme-challenge/"
#define ACME_CHALLENGES_MAX 64 /* answers pending at once, all issuances */

/* Publishes (or replaces) the answer for token; key_authorization must be
 * "token.THUMBPRINT". 0, or -1 (invalid, or the table is full). */
int acme_challenges_put(const char *token, const char *key_authorization);
/* Forgets token's answer (nothing if there is none). */
void acme_challenges_withdraw(const char *token);

/* For a request path ACME_CHALLENGE_PREFIX "TOKEN" (nothing after it, not
 * even a query) with a published answer: copies the key authorization into
 * out (NUL-terminated) and returns 0; else -1 (also when out is short). */
int acme_challenges_answer(const char *path, char *out, size_t outlen);

/* A sink for acme_issue that publishes into this table (arg unused). */
extern const struct acme_challenge_sink acme_challenges_sink;

#endif
