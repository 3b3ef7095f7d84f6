/* The string index behind per-request tunnel lookups: found, not found,
 * removed, equal keys (the latest wins and each is removed by its value),
 * and many keys across the table's growth. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "base/str_index.h"

Test(str_index, empty_finds_nothing)
{
  struct str_index ix;
  str_index_init(&ix);
  cr_assert_null(str_index_get(&ix, "a"));
  str_index_remove(&ix, "a", NULL); /* harmless */
  str_index_free(&ix);
}

Test(str_index, add_get_remove)
{
  struct str_index ix;
  str_index_init(&ix);
  int a, b;
  cr_assert_eq(str_index_add(&ix, "app.example.test", &a), 0);
  cr_assert_eq(str_index_add(&ix, "t0123456789abcdef", &b), 0);
  cr_assert_eq(str_index_get(&ix, "app.example.test"), &a);
  cr_assert_eq(str_index_get(&ix, "t0123456789abcdef"), &b);
  cr_assert_null(str_index_get(&ix, "app.example.tes"));
  cr_assert_null(str_index_get(&ix, "APP.example.test"), "exact match");
  cr_assert_null(str_index_get(&ix, ""));
  str_index_remove(&ix, "app.example.test", &b); /* not its value */
  cr_assert_eq(str_index_get(&ix, "app.example.test"), &a);
  str_index_remove(&ix, "app.example.test", &a);
  cr_assert_null(str_index_get(&ix, "app.example.test"));
  cr_assert_eq(ix.count, 1);
  str_index_free(&ix);
}

Test(str_index, equal_keys_latest_first)
{
  struct str_index ix;
  str_index_init(&ix);
  int a, b;
  str_index_add(&ix, "same", &a);
  str_index_add(&ix, "same", &b);
  cr_assert_eq(str_index_get(&ix, "same"), &b);
  str_index_remove(&ix, "same", &b);
  cr_assert_eq(str_index_get(&ix, "same"), &a);
  str_index_free(&ix);
}

Test(str_index, ten_thousand_keys_through_growth)
{
  enum { N = 10000 };
  static char keys[N][24];
  static int values[N];
  struct str_index ix;
  str_index_init(&ix);
  for (int i = 0; i < N; i++) {
    snprintf(keys[i], sizeof keys[i], "tunnel-%d", i);
    cr_assert_eq(str_index_add(&ix, keys[i], &values[i]), 0);
    if (i == 100) /* a duplicate of an early key, added late */
      cr_assert_eq(str_index_add(&ix, keys[3], &values[i]), 0);
  }
  cr_assert(ix.mask + 1 >= N, "the table grew (%zu slots)", ix.mask + 1);
  for (int i = 0; i < N; i++)
    cr_assert_eq(str_index_get(&ix, keys[i]), i == 3 ? &values[100] : &values[i],
                 "key %d", i);
  for (int i = 0; i < N; i += 2)
    str_index_remove(&ix, keys[i], &values[i]);
  for (int i = 0; i < N; i++) {
    void *want = i % 2 ? &values[i] : NULL;
    if (i == 3)
      want = &values[100];
    cr_assert_eq(str_index_get(&ix, keys[i]), want, "key %d after removals", i);
  }
  str_index_free(&ix);
}
