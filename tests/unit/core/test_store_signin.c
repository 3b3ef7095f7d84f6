/* The SQLite store's sign-in secrets of users (store_user_signin.c):
 * what each write returns when its row, or its user, is not there. */
#include <criterion/criterion.h>
#include <string.h>

#include <weft/errors.h>

#include "tunnel/store.h"

static struct store *store;

static void open_store(void)
{
  char why[256];
  cr_assert_eq(store_open_sqlite(":memory:", &store, why, sizeof why), 0,
               "%s", why);
  struct store_user u = {.name = "ada", .role = "admin", .key_id = "k1",
                         .created_at = 1, .key_made_at = 1};
  cr_assert_eq(store->ops->user_add(store, &u), 0);
}

static void close_store(void)
{
  store->ops->close(store);
}

TestSuite(store_signin, .init = open_store, .fini = close_store);

Test(store_signin, a_user_without_secrets_reads_empty)
{
  struct store_user_signin in;
  cr_assert_eq(store->ops->user_signin_get(store, "ada", &in), 0);
  cr_assert_str_empty(in.password_hash);
  cr_assert_str_empty(in.totp_secret);
  cr_assert_eq(in.password_gen, 0);
  cr_assert_eq(store->ops->user_signin_get(store, "bob", &in), WEFT_ENOENT);
}

Test(store_signin, passwords_count_generations_and_rehash_only_over_the_old)
{
  const struct store_ops *o = store->ops;
  struct store_user_signin in;
  cr_assert_eq(o->user_set_password(store, "ada", "h1"), 0);
  cr_assert_eq(o->user_set_password(store, "ada", "h2"), 0);
  cr_assert_eq(o->user_signin_get(store, "ada", &in), 0);
  cr_assert_str_eq(in.password_hash, "h2");
  cr_assert_eq(in.password_gen, 2);
  cr_assert_eq(o->user_rehash_password(store, "ada", "h1", "h3"),
               WEFT_ENOENT, "a change meanwhile wins");
  cr_assert_eq(o->user_rehash_password(store, "ada", "h2", "h3"), 0);
  cr_assert_eq(o->user_signin_get(store, "ada", &in), 0);
  cr_assert_str_eq(in.password_hash, "h3");
  cr_assert_eq(in.password_gen, 2, "a rehash keeps the generation");
  /* no users row: the foreign key refuses it */
  cr_assert_eq(o->user_set_password(store, "bob", "h1"), WEFT_ENOENT);
  cr_assert_eq(o->user_rehash_password(store, "bob", "h1", "h2"),
               WEFT_ENOENT);
}

Test(store_signin, a_totp_step_is_spent_once_and_only_forward)
{
  const struct store_ops *o = store->ops;
  cr_assert_eq(o->user_set_totp(store, "ada", "JBSWY3DPEHPK3PXP"), 0);
  cr_assert_eq(o->user_totp_spend(store, "ada", 5), 0);
  cr_assert_eq(o->user_totp_spend(store, "ada", 5), WEFT_EEXIST);
  cr_assert_eq(o->user_totp_spend(store, "ada", 4), WEFT_EEXIST);
  cr_assert_eq(o->user_totp_spend(store, "ada", 6), 0);
  cr_assert_eq(o->user_set_totp(store, "ada", "JBSWY3DPEHPK3PXP"), 0);
  cr_assert_eq(o->user_totp_spend(store, "ada", 5), 0,
               "a new secret forgets the used steps");
  cr_assert_eq(o->user_set_totp(store, "bob", "JBSWY3DPEHPK3PXP"),
               WEFT_ENOENT);
}

Test(store_signin, the_secrets_go_with_their_user)
{
  const struct store_ops *o = store->ops;
  struct store_user_signin in;
  cr_assert_eq(o->user_set_password(store, "ada", "h1"), 0);
  cr_assert_eq(o->user_remove(store, "ada"), 0);
  cr_assert_eq(o->user_signin_get(store, "ada", &in), WEFT_ENOENT);
  struct store_user u = {.name = "ada", .role = "viewer", .key_id = "k2"};
  cr_assert_eq(o->user_add(store, &u), 0);
  cr_assert_eq(o->user_signin_get(store, "ada", &in), 0);
  cr_assert_str_empty(in.password_hash, "a new user of the same name has "
                                        "none of the old one's secrets");
}
