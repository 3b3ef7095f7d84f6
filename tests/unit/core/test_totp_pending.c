/* Users' own TOTP secrets waiting for a code (server/totp_pending.h): one
 * per user, a new one replacing it, gone after ten minutes or when
 * dropped, and the oldest making room when every slot is taken. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "server/totp_pending.h"

#define T0 1700000000

static struct totp_pending p;

Test(totp_pending, one_per_user_replaced_by_a_new_one)
{
  char out[TOTP_SECRET_TEXT];
  memset(&p, 0, sizeof p);
  cr_assert(!totp_pending_get(&p, "otto", T0, out));
  totp_pending_put(&p, "otto", "AAAA", T0);
  totp_pending_put(&p, "vera", "BBBB", T0);
  totp_pending_put(&p, "otto", "CCCC", T0 + 5);
  cr_assert(totp_pending_get(&p, "otto", T0 + 5, out));
  cr_assert_str_eq(out, "CCCC");
  cr_assert(totp_pending_get(&p, "vera", T0 + 5, out));
  cr_assert_str_eq(out, "BBBB");
  totp_pending_drop(&p, "vera");
  cr_assert(!totp_pending_get(&p, "vera", T0 + 5, out));
  totp_pending_drop(&p, "nobody"); /* (nothing to drop: no harm) */
}

Test(totp_pending, expires)
{
  char out[TOTP_SECRET_TEXT];
  memset(&p, 0, sizeof p);
  totp_pending_put(&p, "otto", "AAAA", T0);
  cr_assert(totp_pending_get(&p, "otto", T0 + TOTP_PENDING_TTL_S - 1, out));
  cr_assert(!totp_pending_get(&p, "otto", T0 + TOTP_PENDING_TTL_S, out));
}

Test(totp_pending, the_oldest_makes_room)
{
  char out[TOTP_SECRET_TEXT], name[16];
  memset(&p, 0, sizeof p);
  for (int i = 0; i < TOTP_PENDING_MAX; i++) {
    snprintf(name, sizeof name, "u%d", i);
    totp_pending_put(&p, name, "AAAA", T0 + i);
  }
  totp_pending_put(&p, "late", "BBBB", T0 + TOTP_PENDING_MAX);
  cr_assert(!totp_pending_get(&p, "u0", T0 + TOTP_PENDING_MAX, out));
  cr_assert(totp_pending_get(&p, "u1", T0 + TOTP_PENDING_MAX, out));
  cr_assert(totp_pending_get(&p, "late", T0 + TOTP_PENDING_MAX, out));
  cr_assert_str_eq(out, "BBBB");
}
