#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "plugin/options.h"

static char err[256];

Test(options, durations)
{
  int64_t ms;
  struct { const char *text; int64_t ms; } ok[] = {
      {"500ms", 500}, {"30s", 30000}, {"15m", 900000}, {"2h", 7200000},
      {"1d", 86400000}, {"45", 45000}, {"0s", 0}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    cr_assert_eq(parse_duration_ms(ok[i].text, &ms, err, sizeof err), 0,
                 "%s: %s", ok[i].text, err);
    cr_assert_eq(ms, ok[i].ms, "%s", ok[i].text);
  }
  const char *bad[] = {"", "s", "-1s", "1.5s", "10 s", "10sec", "1w",
                       "99999999999999999999s", "9999999999999999d"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    cr_assert_eq(parse_duration_ms(bad[i], &ms, err, sizeof err), -1,
                 "accepted '%s'", bad[i]);
}

Test(options, integers_and_booleans)
{
  int64_t v;
  cr_assert_eq(parse_int("42", 1, 100, &v, err, sizeof err), 0);
  cr_assert_eq(v, 42);
  cr_assert_eq(parse_int("101", 1, 100, &v, err, sizeof err), -1);
  cr_assert(strstr(err, "out of range 1-100"));
  cr_assert_eq(parse_int("4x", 0, 0, &v, err, sizeof err), -1);
  cr_assert_eq(parse_int("", 0, 0, &v, err, sizeof err), -1);
  cr_assert_eq(parse_int("99999999999999999999", 0, 0, &v, err, sizeof err),
               -1);
  bool b;
  const char *yes[] = {"true", "YES", "on", "1"};
  const char *no[] = {"false", "No", "off", "0"};
  for (int i = 0; i < 4; i++) {
    cr_assert_eq(parse_bool(yes[i], &b, err, sizeof err), 0);
    cr_assert(b);
    cr_assert_eq(parse_bool(no[i], &b, err, sizeof err), 0);
    cr_assert_not(b);
  }
  cr_assert_eq(parse_bool("maybe", &b, err, sizeof err), -1);
}

Test(options, url_option_is_validated)
{
  struct { const char *url; } dst = {0};
  const struct weft_option opt = {"upstream", WEFT_OPT_URL, 0, NULL, "",
                                  NULL, 0, 0, 0};
  struct strpool pool = {0};
  cr_assert_eq(options_set(&opt, &dst, "http://localhost:3000", &pool, err,
                           sizeof err),
               0);
  cr_assert_str_eq(dst.url, "http://localhost:3000");
  cr_assert_eq(options_set(&opt, &dst, "gopher://x", &pool, err, sizeof err),
               -1);
  cr_assert(strstr(err, "unknown scheme"));
  strpool_free(&pool);
}
