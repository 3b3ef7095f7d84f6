/* WireGuard keys: X25519 against every Wycheproof vector and RFC 7748,
 * clamping, the strict base64 form, and private key files. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../../plugins/wireguard/keys.h"

#ifndef TEST_DATA_DIR
#error "TEST_DATA_DIR must be defined by the build"
#endif

static void init(void)
{
  cr_assert_eq(wg_keys_init(), 0);
}

TestSuite(wg_keys, .init = init);

/* 64 hex digits to a key. */
static void unhex(const char *hex, uint8_t out[WG_KEY_LEN])
{
  cr_assert_eq(strlen(hex), 2 * WG_KEY_LEN, "'%s' is not 32 bytes", hex);
  for (size_t i = 0; i < WG_KEY_LEN; i++) {
    unsigned v;
    cr_assert_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
    out[i] = (uint8_t)v;
  }
}

static bool all_zero(const uint8_t *b, size_t n)
{
  uint8_t acc = 0;
  for (size_t i = 0; i < n; i++)
    acc |= b[i];
  return acc == 0;
}

static bool has_flag(json_t *test, const char *flag)
{
  size_t i;
  json_t *f;
  json_array_foreach(json_object_get(test, "flags"), i, f)
  {
    if (json_is_string(f) && strcmp(json_string_value(f), flag) == 0)
      return true;
  }
  return false;
}

static const char *field(json_t *test, const char *key)
{
  const char *s = json_string_value(json_object_get(test, key));
  cr_assert_not_null(s, "vector lacks %s", key);
  return s;
}

/* One vector: the shared secret, or -1 when it would be all zero. */
static void check_vector(json_t *test, int *zeros)
{
  uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN], want[WG_KEY_LEN];
  uint8_t got[WG_KEY_LEN];
  unhex(field(test, "private"), priv);
  unhex(field(test, "public"), pub);
  unhex(field(test, "shared"), want);
  int id = (int)json_integer_value(json_object_get(test, "tcId"));
  int rc = wg_key_shared(got, priv, pub);
  if (all_zero(want, sizeof want)) {
    cr_assert(has_flag(test, "ZeroSharedSecret"), "tcId %d: unflagged", id);
    cr_assert_eq(rc, -1, "tcId %d: an all-zero secret accepted", id);
    (*zeros)++;
  } else {
    cr_assert_eq(rc, 0, "tcId %d: refused", id);
    cr_assert_eq(memcmp(got, want, sizeof want), 0, "tcId %d: wrong", id);
  }
}

Test(wg_keys, wycheproof_x25519)
{
  char path[512];
  snprintf(path, sizeof path, "%s/wycheproof/x25519_test.json",
           TEST_DATA_DIR);
  json_error_t error;
  json_t *doc = json_load_file(path, 0, &error);
  cr_assert_not_null(doc, "%s: %s", path, error.text);
  int run = 0, zeros = 0;
  size_t gi, ti;
  json_t *group, *test;
  json_array_foreach(json_object_get(doc, "testGroups"), gi, group)
  {
    cr_assert_str_eq(json_string_value(json_object_get(group, "curve")),
                     "curve25519");
    json_array_foreach(json_object_get(group, "tests"), ti, test)
    {
      check_vector(test, &zeros);
      run++;
    }
  }
  cr_assert_eq(run, 518, "%d vectors run", run);
  cr_assert_eq(json_integer_value(json_object_get(doc, "numberOfTests")), run);
  cr_assert_eq(zeros, 31, "%d all-zero vectors", zeros);
  json_decref(doc);
}

/* RFC 7748 section 6.1. */
#define ALICE_PRIV "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
#define ALICE_PUB "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
#define BOB_PRIV "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
#define BOB_PUB "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
#define SHARED "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"

Test(wg_keys, rfc7748_public_and_shared)
{
  uint8_t a[WG_KEY_LEN], b[WG_KEY_LEN], want[WG_KEY_LEN], got[WG_KEY_LEN];
  unhex(ALICE_PRIV, a);
  unhex(BOB_PRIV, b);

  unhex(ALICE_PUB, want);
  cr_assert_eq(wg_key_public(got, a), 0);
  cr_assert_eq(memcmp(got, want, WG_KEY_LEN), 0, "Alice's public key");
  unhex(BOB_PUB, want);
  cr_assert_eq(wg_key_public(got, b), 0);
  cr_assert_eq(memcmp(got, want, WG_KEY_LEN), 0, "Bob's public key");

  uint8_t pub[WG_KEY_LEN];
  unhex(SHARED, want);
  unhex(BOB_PUB, pub);
  cr_assert_eq(wg_key_shared(got, a, pub), 0);
  cr_assert_eq(memcmp(got, want, WG_KEY_LEN), 0, "Alice's shared secret");
  unhex(ALICE_PUB, pub);
  cr_assert_eq(wg_key_shared(got, b, pub), 0);
  cr_assert_eq(memcmp(got, want, WG_KEY_LEN), 0, "Bob's shared secret");
}

Test(wg_keys, low_order_public_refused)
{
  uint8_t priv[WG_KEY_LEN], zero[WG_KEY_LEN] = {0}, out[WG_KEY_LEN];
  wg_key_generate(priv);
  memset(out, 0xaa, sizeof out);
  cr_assert_eq(wg_key_shared(out, priv, zero), -1);
  cr_assert(all_zero(out, sizeof out), "no half-result left behind");
}

Test(wg_keys, generate_clamps)
{
  uint8_t prev[WG_KEY_LEN] = {0};
  for (int i = 0; i < 256; i++) {
    uint8_t k[WG_KEY_LEN], pub[WG_KEY_LEN];
    wg_key_generate(k);
    cr_assert_eq(k[0] & 7, 0, "low bits of byte 0: %02x", k[0]);
    cr_assert_eq(k[31] & 0xc0, 0x40, "top bits of byte 31: %02x", k[31]);
    cr_assert_neq(memcmp(k, prev, WG_KEY_LEN), 0, "the same key twice");
    cr_assert_eq(wg_key_public(pub, k), 0);
    memcpy(prev, k, WG_KEY_LEN);
  }
}

Test(wg_keys, random_psk)
{
  uint8_t a[WG_KEY_LEN], b[WG_KEY_LEN];
  wg_key_random(a);
  wg_key_random(b);
  cr_assert_neq(memcmp(a, b, WG_KEY_LEN), 0);
  cr_assert(!all_zero(a, WG_KEY_LEN));
}

/* ---- base64 ------------------------------------------------------------- */

Test(wg_keys, base64_known)
{
  uint8_t k[WG_KEY_LEN];
  char text[WG_KEY_B64_LEN];
  memset(k, 0, sizeof k);
  wg_key_to_base64(k, text);
  cr_assert_str_eq(text, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
  memset(k, 0xff, sizeof k);
  wg_key_to_base64(k, text);
  cr_assert_str_eq(text, "//////////////////////////////////////////8=");
  unhex(ALICE_PUB, k);
  wg_key_to_base64(k, text);
  cr_assert_str_eq(text, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=");
}

Test(wg_keys, base64_round_trips)
{
  for (int i = 0; i < 1000; i++) {
    uint8_t k[WG_KEY_LEN], back[WG_KEY_LEN];
    char text[WG_KEY_B64_LEN];
    wg_key_random(k);
    wg_key_to_base64(k, text);
    cr_assert_eq(strlen(text), 44);
    cr_assert_eq(wg_key_from_base64(text, back), 0, "%s", text);
    cr_assert_eq(memcmp(k, back, WG_KEY_LEN), 0, "%s", text);
  }
}

static void rejected(const char *text)
{
  uint8_t k[WG_KEY_LEN], before[WG_KEY_LEN];
  memset(k, 0x5a, sizeof k);
  memcpy(before, k, sizeof k);
  cr_assert_eq(wg_key_from_base64(text, k), -1, "accepted '%s'", text);
  cr_assert_eq(memcmp(k, before, sizeof k), 0, "key touched by '%s'", text);
}

Test(wg_keys, base64_rejections)
{
  const char *good = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";
  rejected(NULL);
  rejected("");
  rejected("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo");   /* 43 */
  rejected("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=="); /* 45 */
  rejected("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n");
  rejected(" hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=");
  rejected("AhSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo");  /* no '=' */
  rejected("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTm==");  /* 31 bytes */
  /* The last character's two spare bits set: 'p' and 'q' decode to the
   * same key as 'o'; only 'o' is canonical. */
  rejected("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmp=");
  rejected("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmq=");
  rejected("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=");
  /* URL-safe and other characters, at the start, middle and end. Bytes
   * from 0x80 up matter: libsodium 1.0.18 decodes them as '/'. */
  const char bad[] = {'-', '_', '*', ' ', '\n', '.', '=', '\x80', '\xff'};
  const size_t at[] = {0, 20, 42};
  for (size_t i = 0; i < sizeof bad; i++)
    for (size_t j = 0; j < sizeof at / sizeof *at; j++) {
      char text[WG_KEY_B64_LEN];
      memcpy(text, good, sizeof text);
      text[at[j]] = bad[i];
      rejected(text);
    }
  uint8_t k[WG_KEY_LEN];
  cr_assert_eq(wg_key_from_base64(good, k), 0);
}

/* ---- key files ---------------------------------------------------------- */

static char dir[64];

static void make_dir(void)
{
  init();
  snprintf(dir, sizeof dir, "/tmp/weft-wgkeys-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[600];
  while (d && (e = readdir(d)))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      unlink(path);
    }
  if (d)
    closedir(d);
  rmdir(dir);
}

TestSuite(wg_key_file, .init = make_dir, .fini = remove_dir);

static void in_dir(char *path, size_t len, const char *name)
{
  snprintf(path, len, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
  cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  cr_assert_eq(chmod(path, mode), 0);
}

static size_t entries_in_dir(void)
{
  DIR *d = opendir(dir);
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

Test(wg_key_file, created_then_loaded)
{
  char path[128], why[256] = "";
  in_dir(path, sizeof path, "server.key");
  uint8_t k[WG_KEY_LEN], again[WG_KEY_LEN];
  mode_t old = umask(0); /* the file must be 0600 whatever the umask */
  int rc = wg_key_load_or_create(path, k, why, sizeof why);
  umask(old);
  cr_assert_eq(rc, 0, "%s", why);
  cr_assert_eq(k[0] & 7, 0);
  cr_assert_eq(k[31] & 0xc0, 0x40);

  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  cr_assert(S_ISREG(st.st_mode));
  cr_assert_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);
  cr_assert_eq(entries_in_dir(), 1, "a temporary file left behind");

  char text[WG_KEY_B64_LEN + 8] = "", want[WG_KEY_B64_LEN];
  FILE *f = fopen(path, "r");
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  wg_key_to_base64(k, want);
  cr_assert_eq(n, 45);
  cr_assert_eq(strncmp(text, want, 44), 0);
  cr_assert_eq(text[44], '\n');

  cr_assert_eq(wg_key_load_or_create(path, again, why, sizeof why), 0, "%s",
               why);
  cr_assert_eq(memcmp(k, again, WG_KEY_LEN), 0, "a new key, not the saved");
}

Test(wg_key_file, existing_loaded)
{
  const char *b64 = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";
  const char *texts[] = {"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n",
                         "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="};
  uint8_t want[WG_KEY_LEN];
  cr_assert_eq(wg_key_from_base64(b64, want), 0);
  for (size_t i = 0; i < 2; i++) {
    char path[128], why[256] = "";
    uint8_t k[WG_KEY_LEN];
    in_dir(path, sizeof path, "k");
    write_file(path, texts[i], i ? 0400 : 0600);
    cr_assert_eq(wg_key_load_or_create(path, k, why, sizeof why), 0, "%s",
                 why);
    cr_assert_eq(memcmp(k, want, WG_KEY_LEN), 0);
  }
}

Test(wg_key_file, open_modes_refused)
{
  const mode_t modes[] = {0640, 0604, 0644, 0660, 0606, 0620, 0602};
  for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
    char path[128], why[256] = "", mode[8];
    uint8_t k[WG_KEY_LEN];
    in_dir(path, sizeof path, "open.key");
    write_file(path, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n",
               modes[i]);
    cr_assert_eq(wg_key_load_or_create(path, k, why, sizeof why), -1,
                 "mode %o accepted", modes[i]);
    snprintf(mode, sizeof mode, "%04o", modes[i]);
    cr_assert_not_null(strstr(why, path), "%s", why);
    cr_assert_not_null(strstr(why, mode), "%s", why);
  }
}

Test(wg_key_file, bad_content_refused)
{
  const char *texts[] = {
      "",
      "\n",
      "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo",
      "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n\n",
      "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\r\n",
      "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo= ",
      " hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=",
      "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmp=\n",
      "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n"
      "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n",
  };
  for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
    char path[128], why[256] = "";
    uint8_t k[WG_KEY_LEN];
    in_dir(path, sizeof path, "bad.key");
    write_file(path, texts[i], 0600);
    cr_assert_eq(wg_key_load_or_create(path, k, why, sizeof why), -1,
                 "text %zu accepted", i);
    cr_assert_not_null(strstr(why, path), "%s", why);
    cr_assert_not_null(strstr(why, "not one"), "%s", why);
  }
}

Test(wg_key_file, not_a_file_refused)
{
  char path[128], why[256] = "";
  uint8_t k[WG_KEY_LEN];
  in_dir(path, sizeof path, "sub");
  cr_assert_eq(mkdir(path, 0700), 0);
  cr_assert_eq(wg_key_load_or_create(path, k, why, sizeof why), -1);
  cr_assert_not_null(strstr(why, "regular"), "%s", why);
  rmdir(path);

  in_dir(path, sizeof path, "fifo");
  cr_assert_eq(mkfifo(path, 0600), 0);
  cr_assert_eq(wg_key_load_or_create(path, k, why, sizeof why), -1);
  cr_assert_not_null(strstr(why, "regular"), "%s", why);
}

Test(wg_key_file, missing_directory)
{
  char path[128], why[256] = "";
  uint8_t k[WG_KEY_LEN];
  in_dir(path, sizeof path, "nowhere/server.key");
  cr_assert_eq(wg_key_load_or_create(path, k, why, sizeof why), -1);
  cr_assert_not_null(strstr(why, path), "%s", why);
  cr_assert_eq(entries_in_dir(), 0);
}
