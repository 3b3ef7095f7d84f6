#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/secret.h"

static char dir[64];
static char err[512];

static void make_dir(void)
{
  snprintf(dir, sizeof dir, "/tmp/weft-secret-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

static void put(const char *name, const char *text, mode_t mode)
{
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
  chmod(path, mode);
}

TestSuite(secret, .init = make_dir, .fini = remove_dir);

Test(secret, created_once_with_mode_0600_then_reused)
{
  struct secret a, b;
  cr_assert_eq(secret_load_or_create(dir, "secret", &a, err, sizeof err), 0,
               "%s", err);
  cr_assert_eq(strlen(a.text), SECRET_TEXT_LEN);
  char path[256];
  snprintf(path, sizeof path, "%s/secret", dir);
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  cr_assert_eq(st.st_mode & 0777, 0600);
  cr_assert_eq(secret_load_or_create(dir, "secret", &b, err, sizeof err), 0);
  cr_assert_str_eq(a.text, b.text);
  cr_assert_eq(memcmp(a.key, b.key, SECRET_BYTES), 0);
  struct secret c;
  cr_assert_eq(secret_from_text(a.text, &c), 0);
  cr_assert_eq(memcmp(a.key, c.key, SECRET_BYTES), 0);
}

Test(secret, bad_files_stop_with_a_clear_message)
{
  struct secret s;
  put("empty", "\n", 0600);
  cr_assert_eq(secret_load_or_create(dir, "empty", &s, err, sizeof err), -1);
  cr_assert(strstr(err, "is empty"), "%s", err);
  put("short", "abc\n", 0600);
  cr_assert_eq(secret_load_or_create(dir, "short", &s, err, sizeof err), -1);
  cr_assert(strstr(err, "too short"), "%s", err);
  put("garbage", "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n", 0600);
  cr_assert_eq(secret_load_or_create(dir, "garbage", &s, err, sizeof err), -1);
  cr_assert(strstr(err, "not 43 base64url"), "%s", err);
  put("open", "KRmcPUWWgYNwyf3rbDyqi9Q-2Lno_oT19X-diKptK_w\n", 0644);
  cr_assert_eq(secret_load_or_create(dir, "open", &s, err, sizeof err), -1);
  cr_assert(strstr(err, "open to other users (mode 0644)"), "%s", err);
}

Test(secret, unreadable_file)
{
  if (geteuid() == 0) {
    /* root reads a 0000 file anyway; a directory in its place fails. */
    char path[256];
    snprintf(path, sizeof path, "%s/secret", dir);
    cr_assert_eq(mkdir(path, 0700), 0);
  } else {
    put("secret", "x\n", 0000);
  }
  struct secret s;
  cr_assert_eq(secret_load_or_create(dir, "secret", &s, err, sizeof err), -1);
  cr_assert(strstr(err, "secret"), "%s", err);
}

Test(secret, state_dir_is_made_private)
{
  char sub[256];
  snprintf(sub, sizeof sub, "%s/a/b/state", dir);
  cr_assert_eq(state_dir_prepare(sub, err, sizeof err), 0, "%s", err);
  struct stat st;
  cr_assert_eq(stat(sub, &st), 0);
  cr_assert_eq(st.st_mode & 0777, 0700);
}
