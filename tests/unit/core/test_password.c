/* Console passwords (auth/password.h) and TOTP codes (auth/totp.h). */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth/password.h"
#include "auth/totp.h"

Test(password, policy_names_what_is_wrong)
{
  cr_assert_not_null(strstr(password_policy_refusal(""), "empty"));
  cr_assert_not_null(strstr(password_policy_refusal("elevenchars"), "12"));
  cr_assert_null(password_policy_refusal("twelve chars"));
  /* Characters, not bytes: eleven é are 22 bytes and still too short. */
  cr_assert_not_null(password_policy_refusal(
      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
      "\xc3\xa9\xc3\xa9\xc3\xa9"));
  cr_assert_not_null(strstr(password_policy_refusal("a long pass\nword"),
                            "control"));
  char big[PASSWORD_MAX_BYTES + 2];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  cr_assert_not_null(strstr(password_policy_refusal(big), "1024"));
  big[PASSWORD_MAX_BYTES] = '\0';
  cr_assert_null(password_policy_refusal(big));
}

Test(password, hash_verifies_only_its_password)
{
  char hash[PASSWORD_HASH_MAX];
  cr_assert_eq(password_hash("correct horse battery", &password_limits_min,
                             hash), 0);
  cr_assert(!strncmp(hash, "$argon2id$", 10), "%s", hash);
  cr_assert(password_verify(hash, "correct horse battery"));
  cr_assert(!password_verify(hash, "correct horse batterY"));
  cr_assert(!password_verify(hash, ""));
  cr_assert(!password_verify("", "correct horse battery"));
  cr_assert(!password_verify("$argon2id$nonsense", "correct horse battery"));
  /* Made with other limits than the default: a sign-in rehashes it. */
  cr_assert(password_needs_rehash(hash, &password_limits_default));
  cr_assert(!password_needs_rehash(hash, &password_limits_min));
  cr_assert(password_needs_rehash("not a hash", &password_limits_min));
}

static double now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* The limits new hashes use: what one check costs (the reason it runs on
 * the thread pool, server/password_work.h). */
Test(password, default_limits_cost, .timeout = 60)
{
  char hash[PASSWORD_HASH_MAX];
  double t0 = now_ms();
  cr_assert_eq(password_hash("correct horse battery", &password_limits_default,
                             hash), 0);
  double t1 = now_ms();
  cr_assert(password_verify(hash, "correct horse battery"));
  double t2 = now_ms();
  cr_assert(!password_needs_rehash(hash, &password_limits_default));
  cr_assert_not_null(strstr(hash, "m=65536,t=2"), "%s", hash);
  cr_log_info("argon2id 2 passes, 64 MiB: hash %.0f ms, verify %.0f ms",
              t1 - t0, t2 - t1);
  fprintf(stderr, "argon2id 2 passes, 64 MiB: hash %.0f ms, verify %.0f ms\n",
          t1 - t0, t2 - t1);
}

/* RFC 6238's SHA-1 key, "12345678901234567890", in base32. */
static const char rfc_secret[] = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

Test(totp, rfc6238_vectors_in_six_digits)
{
  int64_t step = 0;
  cr_assert_eq(totp_check(rfc_secret, "287082", 59, 0, &step), 0);
  cr_assert_eq(step, 1);
  cr_assert_eq(totp_check(rfc_secret, "081804", 1111111109, 0, &step), 0);
  cr_assert_eq(step, 1111111109 / 30);
  cr_assert_eq(totp_check(rfc_secret, "005924", 1234567890, 0, &step), 0);
  cr_assert_eq(step, 1234567890 / 30);
}

Test(totp, one_step_either_side_and_no_further)
{
  int64_t step = 0;
  /* The code of 1111111109 (step 37037036) at the steps around it. */
  cr_assert_eq(totp_check(rfc_secret, "081804", 1111111109 + 30, 0, &step), 0);
  cr_assert_eq(totp_check(rfc_secret, "081804", 1111111109 - 30, 0, &step), 0);
  cr_assert_eq(totp_check(rfc_secret, "081804", 1111111109 + 60, 0, &step), -1);
  cr_assert_eq(totp_check(rfc_secret, "081804", 1111111109 - 60, 0, &step), -1);
}

Test(totp, a_code_is_taken_once)
{
  int64_t step = 0;
  cr_assert_eq(totp_check(rfc_secret, "081804", 1111111109, 0, &step), 0);
  cr_assert_eq(totp_check(rfc_secret, "081804", 1111111109, step, &step), -1);
  cr_assert_eq(totp_check(rfc_secret, "081804", 1111111109, step - 1, &step),
               0);
}

Test(totp, refuses_what_is_not_six_digits)
{
  int64_t step = 0;
  cr_assert_eq(totp_check(rfc_secret, "28708", 59, 0, &step), -1);
  cr_assert_eq(totp_check(rfc_secret, "2870822", 59, 0, &step), -1);
  cr_assert_eq(totp_check(rfc_secret, "28708a", 59, 0, &step), -1);
  cr_assert_eq(totp_check(rfc_secret, "", 59, 0, &step), -1);
  cr_assert_eq(totp_check("not base32!", "287082", 59, 0, &step), -1);
}

Test(totp, secrets_are_random_base32_in_a_uri)
{
  char a[TOTP_SECRET_TEXT], b[TOTP_SECRET_TEXT], uri[256];
  cr_assert_eq(totp_secret_make(a), 0);
  cr_assert_eq(totp_secret_make(b), 0);
  cr_assert_eq(strlen(a), 32);
  cr_assert_eq(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), 32, "%s", a);
  cr_assert_str_neq(a, b);
  cr_assert_eq(totp_uri("Weft", "otto", a, uri, sizeof uri), 0);
  char want[256];
  snprintf(want, sizeof want,
           "otpauth://totp/Weft:otto?secret=%s&issuer=Weft&algorithm=SHA1"
           "&digits=6&period=30", a);
  cr_assert_str_eq(uri, want);
  cr_assert_eq(totp_uri("Weft", "otto", a, uri, 40), -1);
}
