/* TOTP secrets made for a user's own POST /v1/users/{name}/totp, waiting
 * for a code from their app (POST .../totp/confirm) before the store gets
 * them and sign-in asks for codes: a user who never finishes adding one
 * is not locked out. Kept in memory, not the store: a secret that was
 * never confirmed should not reach the disk (nor backups of weft.db),
 * and losing the few waiting at a restart costs only a new POST. One per
 * user (a new one replaces it), at most TOTP_PENDING_MAX for the server
 * (the oldest goes first), each for TOTP_PENDING_TTL_S. */
#ifndef WEFT_SERVER_TOTP_PENDING_H
#define WEFT_SERVER_TOTP_PENDING_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/totp.h"

#define TOTP_PENDING_MAX 32
#define TOTP_PENDING_TTL_S 600

struct totp_pending_slot {
  char name[64]; /* "" for a free slot */
  char secret[TOTP_SECRET_TEXT];
  int64_t made_s;
};

struct totp_pending {
  struct totp_pending_slot s[TOTP_PENDING_MAX];
};

/* Keeps secret as name's, replacing name's earlier one. */
void totp_pending_put(struct totp_pending *p, const char *name,
                      const char *secret, int64_t now_s);

/* Whether name has one waiting, made under TOTP_PENDING_TTL_S ago: then
 * it is copied to out. */
bool totp_pending_get(const struct totp_pending *p, const char *name,
                      int64_t now_s, char out[TOTP_SECRET_TEXT]);

/* Forgets name's (confirmed, replaced by an administrator, turned off). */
void totp_pending_drop(struct totp_pending *p, const char *name);

#endif
