#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "base/log.h"
#include "plugin/options.h"
#include "plugin/plugin_registry.h"

#ifndef TEST_PLUGIN_DIR
#error "TEST_PLUGIN_DIR must be defined by the build"
#endif

static const char *reason_for(const struct plugin_registry *reg,
                              const char *file)
{
  for (size_t i = 0; i < reg->refused_count; i++) {
    const char *slash = strrchr(reg->refused[i].path, '/');
    if (slash && !strcmp(slash + 1, file))
      return reg->refused[i].reason;
  }
  return NULL;
}

static void expect_refused(const struct plugin_registry *reg, const char *file,
                           const char *why)
{
  const char *reason = reason_for(reg, file);
  cr_assert_not_null(reason, "%s was not refused", file);
  cr_assert(strstr(reason, why), "%s: reason '%s' lacks '%s'", file, reason,
            why);
}

static void quiet(void) { log_set_level(WEFT_LOG_ERROR); }

Test(loader, broken_plugins_refused_good_one_loads, .init = quiet)
{
  struct plugin_registry reg;
  plugin_registry_init_empty(&reg);
  plugin_registry_scan_dir(&reg, TEST_PLUGIN_DIR, true);

  /* good.so and fail_init.so pass the descriptor checks */
  cr_assert_eq(reg.count, 2, "loaded %zu", reg.count);
  cr_assert_not_null(plugin_registry_find(&reg, "good"));
  cr_assert_not_null(plugin_registry_find(&reg, "failinit"));

  expect_refused(&reg, "not_elf.so", "not a shared object (no ELF header)");
  expect_refused(&reg, "no_entry.so", "no entry symbol 'weft_plugin_entry'");
  expect_refused(&reg, "wrong_major.so",
                 "built for plugin ABI 2.0; this weft loads ABI 1.x");
  expect_refused(&reg, "short_struct.so", "smaller than the");
  expect_refused(&reg, "zz_duplicate.so",
                 "duplicate plugin name 'good' (already loaded from");
  expect_refused(&reg, "missing_ops.so",
                 "declares capabilities [server tcp] but lacks the op "
                 "server_tunnel_open (needed by capability 'server')");

  uv_loop_t loop;
  uv_loop_init(&loop);
  plugin_registry_start(&reg, &loop, NULL, NULL);
  cr_assert_eq(reg.count, 1);
  struct plugin *good = plugin_registry_find(&reg, "good");
  cr_assert(good->initialized);
  cr_assert_str_eq(good->desc.status(good->ctx), "ready");
  cr_assert_str_eq(good->desc.version, "1.2.3");
  cr_assert_null(plugin_registry_find(&reg, "failinit"));
  expect_refused(&reg, "fail_init.so",
                 "init failed (ENOENT): cannot find /dev/imaginary");

  plugin_registry_stop(&reg);
  uv_run(&loop, UV_RUN_DEFAULT);
  plugin_registry_free(&reg);
  cr_assert_eq(uv_loop_close(&loop), 0, "loop did not close cleanly");
}

Test(loader, missing_explicit_directory_is_reported, .init = quiet)
{
  struct plugin_registry reg;
  plugin_registry_init_empty(&reg);
  plugin_registry_scan_dir(&reg, "/nonexistent/plugins", true);
  cr_assert_eq(reg.count, 0);
  cr_assert_eq(reg.refused_count, 1);
  cr_assert(strstr(reg.refused[0].reason, "cannot open plugin directory"));
  plugin_registry_free(&reg);
}

Test(loader, world_writable_plugin_refused, .init = quiet)
{
  char dir[] = "/tmp/weft-loader-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char src[512], dst[512], cmd[1200];
  snprintf(src, sizeof src, "%s/good.so", TEST_PLUGIN_DIR);
  snprintf(dst, sizeof dst, "%s/good.so", dir);
  snprintf(cmd, sizeof cmd, "cp '%s' '%s'", src, dst);
  cr_assert_eq(system(cmd), 0);
  cr_assert_eq(chmod(dst, 0666), 0);
  struct plugin_registry reg;
  plugin_registry_init_empty(&reg);
  cr_assert_eq(plugin_registry_load_file(&reg, dst), -1);
  cr_assert(strstr(reg.refused[0].reason, "writable by every user"));
  plugin_registry_free(&reg);
  unlink(dst);
  rmdir(dir);
}

/* Option tables are checked before a plugin is trusted. */
struct two { const char *a; int64_t b; };
static int c_create(const struct weft_host *h, const void *c, void **x)
{
  (void)h, (void)c, (void)x;
  return 0;
}
static void c_destroy(void *x) { (void)x; }
static int c_open(void *x, const struct weft_tunnel_info *t, void **tc)
{
  (void)x, (void)t, (void)tc;
  return 0;
}
static void c_close(void *x, void *tc) { (void)x, (void)tc; }

static const char *static_refusal(const struct weft_option *table,
                                  size_t size, struct plugin_registry *reg)
{
  struct weft_plugin d = {
      WEFT_PLUGIN_HEADER, .name = "tbl", .description = "d",
      .caps = WEFT_CAP_CLIENT, .options = table, .config_size = size,
      .create = c_create, .destroy = c_destroy,
      .client_tunnel_open = c_open, .client_tunnel_close = c_close};
  plugin_registry_init_empty(reg);
  if (plugin_registry_add_static(reg, &d, "static") == 0)
    return NULL;
  return reg->refused[0].reason;
}

Test(loader, option_tables_are_checked, .init = quiet)
{
  struct plugin_registry reg;
  const struct weft_option outside[] = {
      {"a", WEFT_OPT_INT, 64, NULL, "", NULL, 0, 0, 0}, WEFT_OPTIONS_END};
  cr_assert(strstr(static_refusal(outside, sizeof(struct two), &reg),
                   "lies outside its 16-byte config struct"));
  plugin_registry_free(&reg);

  const struct weft_option twice[] = {
      {"a", WEFT_OPT_STRING, 0, NULL, "", NULL, 0, 0, 0},
      {"a", WEFT_OPT_STRING, 0, NULL, "", NULL, 0, 0, 0}, WEFT_OPTIONS_END};
  cr_assert(strstr(static_refusal(twice, sizeof(struct two), &reg),
                   "declared twice"));
  plugin_registry_free(&reg);

  const struct weft_option bad_default[] = {
      {"b", WEFT_OPT_INT, offsetof(struct two, b), "ten", "", NULL, 0, 0, 0},
      WEFT_OPTIONS_END};
  cr_assert(strstr(static_refusal(bad_default, sizeof(struct two), &reg),
                   "default of option 'b' is invalid"));
  plugin_registry_free(&reg);

  const struct weft_option bad_name[] = {
      {"Bad-Name", WEFT_OPT_STRING, 0, NULL, "", NULL, 0, 0, 0},
      WEFT_OPTIONS_END};
  cr_assert(strstr(static_refusal(bad_name, sizeof(struct two), &reg),
                   "is not [a-z0-9_]"));
  plugin_registry_free(&reg);

  const struct weft_option no_choices[] = {
      {"a", WEFT_OPT_ENUM, 0, NULL, "", NULL, 0, 0, 0}, WEFT_OPTIONS_END};
  cr_assert(strstr(static_refusal(no_choices, sizeof(struct two), &reg),
                   "lists no choices"));
  plugin_registry_free(&reg);

  const struct weft_option fine[] = {
      {"a", WEFT_OPT_STRING, 0, NULL, "", NULL, 0, 0, 0},
      {"b", WEFT_OPT_INT, offsetof(struct two, b), "10", "", NULL, 0, 0, 0},
      WEFT_OPTIONS_END};
  cr_assert_null(static_refusal(fine, sizeof(struct two), &reg));
  plugin_registry_free(&reg);
}

Test(loader, newer_minor_with_larger_struct_is_accepted, .init = quiet)
{
  /* A plugin from a later 1.x SDK: bigger struct, higher minor. */
  struct {
    struct weft_plugin base;
    void *future_op;
  } newer = {
      .base = {.abi_major = WEFT_ABI_MAJOR, .abi_minor = WEFT_ABI_MINOR + 3,
               .struct_size = sizeof newer, .name = "newer",
               .description = "from the future", .caps = WEFT_CAP_CLIENT,
               .create = c_create, .destroy = c_destroy,
               .client_tunnel_open = c_open, .client_tunnel_close = c_close},
  };
  struct plugin_registry reg;
  plugin_registry_init_empty(&reg);
  cr_assert_eq(plugin_registry_add_static(&reg, &newer.base, "static"), 0);
  plugin_registry_free(&reg);
}

/* The loader takes a plugin's options from its caller (it knows nothing of
 * weft.conf): what fill sets lands on top of the declared defaults, and a
 * plugin whose options cannot be filled is refused with the reason. */
struct fill_calls {
  int calls;
};

static int fill_good(const void *arg, const struct plugin *p, void *options,
                     struct strpool *pool, char *err, size_t errlen)
{
  struct fill_calls *seen = (struct fill_calls *)arg;
  seen->calls++;
  if (strcmp(p->desc.name, "good"))
    return snprintf(err, errlen, "no settings for %s", p->desc.name), -1;
  const struct weft_option *port = options_find(p->desc.options, "port");
  cr_assert_not_null(port);
  return options_set(port, options, "40000", pool, err, errlen);
}

Test(loader, options_come_from_the_caller, .init = quiet)
{
  struct plugin_registry reg;
  plugin_registry_init_empty(&reg);
  plugin_registry_scan_dir(&reg, TEST_PLUGIN_DIR, true);
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct fill_calls seen = {0};
  plugin_registry_start(&reg, &loop, fill_good, &seen);
  cr_assert_eq(seen.calls, 2); /* good and failinit */
  struct plugin *good = plugin_registry_find(&reg, "good");
  cr_assert_not_null(good);
  struct {
    const char *mode;
    int64_t port;
  } *conf = good->config;
  cr_assert_str_eq(conf->mode, "auto"); /* its default */
  cr_assert_eq(conf->port, 40000);      /* from the caller */
  expect_refused(&reg, "fail_init.so", "no settings for failinit");

  plugin_registry_stop(&reg);
  uv_run(&loop, UV_RUN_DEFAULT);
  plugin_registry_free(&reg);
  cr_assert_eq(uv_loop_close(&loop), 0, "loop did not close cleanly");
}
