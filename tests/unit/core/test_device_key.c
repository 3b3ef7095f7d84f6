#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/device_key.h"

static char dir[64];
static char err[512];

static void make_dir(void)
{
  snprintf(dir, sizeof dir, "/tmp/weft-devkey-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(device_key, .init = make_dir, .fini = remove_dir);

static const uint8_t nc[32] = {1}, ns[32] = {2}, binding[32] = {3};

static size_t message(const uint8_t *c, const uint8_t *s, const uint8_t *b,
                      const char *id, uint8_t *out)
{
  return device_key_login_message(c, s, 32, b, 32, id, out, 256);
}

Test(device_key, made_once_then_loaded_the_same)
{
  char path[128];
  snprintf(path, sizeof path, "%s/keys/dev.key", dir);
  struct device_key a, b;
  bool created;
  cr_assert_eq(device_key_load_or_create(path, &a, &created, err, sizeof err),
               0, "%s", err);
  cr_assert(created);
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  cr_assert_eq(st.st_mode & 0777, 0600);
  cr_assert_eq(device_key_load_or_create(path, &b, &created, err, sizeof err),
               0, "%s", err);
  cr_assert_not(created);
  cr_assert_eq(memcmp(a.public_key, b.public_key, sizeof a.public_key), 0);
}

Test(device_key, a_signature_is_for_one_login_connection_and_id)
{
  char path[128];
  snprintf(path, sizeof path, "%s/dev.key", dir);
  struct device_key k;
  bool created;
  cr_assert_eq(device_key_load_or_create(path, &k, &created, err, sizeof err),
               0);
  uint8_t msg[256], other[256], sig[DEVICE_KEY_SIG_LEN];
  size_t n = message(nc, ns, binding, "dev-a", msg);
  cr_assert_gt(n, 0);
  cr_assert_eq(device_key_sign(&k, msg, n, sig), 0);
  cr_assert_eq(device_key_verify(k.public_key, msg, n, sig), 0);
  uint8_t x[32] = {9};
  size_t m = message(x, ns, binding, "dev-a", other); /* other nonces */
  cr_assert_neq(device_key_verify(k.public_key, other, m, sig), 0);
  m = message(nc, x, binding, "dev-a", other);
  cr_assert_neq(device_key_verify(k.public_key, other, m, sig), 0);
  m = message(nc, ns, x, "dev-a", other); /* another TLS connection */
  cr_assert_neq(device_key_verify(k.public_key, other, m, sig), 0);
  m = message(nc, ns, binding, "dev-b", other); /* another id */
  cr_assert_neq(device_key_verify(k.public_key, other, m, sig), 0);
  sig[0] ^= 1;
  cr_assert_neq(device_key_verify(k.public_key, msg, n, sig), 0);
}

Test(device_key, loose_modes_and_bad_text_are_refused)
{
  char path[128];
  snprintf(path, sizeof path, "%s/dev.key", dir);
  struct device_key k;
  bool created;
  cr_assert_eq(device_key_load_or_create(path, &k, &created, err, sizeof err),
               0);
  chmod(path, 0640);
  cr_assert_eq(device_key_load_or_create(path, &k, &created, err, sizeof err),
               -1);
  cr_assert_not_null(strstr(err, "readable by others"), "%s", err);
  const char *why;
  static const char *const bad[] = {
      "",
      "weft-device-key 2\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
      "weft-device-key 1\nAAAA\n",
      "weft-device-key 1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA*\n",
      "weft-device-key 1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    cr_assert_eq(device_key_parse(bad[i], strlen(bad[i]), &k, &why), -1,
                 "case %zu", i);
  const char *good =
      "weft-device-key 1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n";
  cr_assert_eq(device_key_parse(good, strlen(good), &k, &why), 0);
}

Test(device_key, fingerprints_are_short_and_stable)
{
  uint8_t pk[32] = {7};
  char a[DEVICE_KEY_FINGERPRINT_LEN], b[DEVICE_KEY_FINGERPRINT_LEN];
  device_key_fingerprint(pk, a);
  device_key_fingerprint(pk, b);
  cr_assert_str_eq(a, b);
  cr_assert_eq(strlen(a), DEVICE_KEY_FINGERPRINT_LEN - 1);
}
