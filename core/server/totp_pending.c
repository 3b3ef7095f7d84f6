#include "server/totp_pending.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "auth/crypto.h"

static struct totp_pending_slot *find(struct totp_pending *p,
                                      const char *name)
{
  for (size_t i = 0; i < TOTP_PENDING_MAX; i++)
    if (p->s[i].name[0] && !strcmp(p->s[i].name, name))
      return &p->s[i];
  return NULL;
}

void totp_pending_put(struct totp_pending *p, const char *name,
                      const char *secret, int64_t now_s)
{
  assert(name[0] && strlen(name) < sizeof p->s[0].name);
  struct totp_pending_slot *slot = find(p, name);
  for (size_t i = 0; !slot && i < TOTP_PENDING_MAX; i++)
    if (!p->s[i].name[0])
      slot = &p->s[i];
  if (!slot) { /* full: the oldest goes */
    slot = &p->s[0];
    for (size_t i = 1; i < TOTP_PENDING_MAX; i++)
      if (p->s[i].made_s < slot->made_s)
        slot = &p->s[i];
  }
  snprintf(slot->name, sizeof slot->name, "%s", name);
  snprintf(slot->secret, sizeof slot->secret, "%s", secret);
  slot->made_s = now_s;
}

bool totp_pending_get(const struct totp_pending *p, const char *name,
                      int64_t now_s, char out[TOTP_SECRET_TEXT])
{
  const struct totp_pending_slot *slot =
      find((struct totp_pending *)p, name);
  if (!slot || now_s - slot->made_s >= TOTP_PENDING_TTL_S)
    return false;
  memcpy(out, slot->secret, TOTP_SECRET_TEXT);
  return true;
}

void totp_pending_drop(struct totp_pending *p, const char *name)
{
  struct totp_pending_slot *slot = find(p, name);
  if (slot)
    crypto_wipe(slot, sizeof *slot);
}
