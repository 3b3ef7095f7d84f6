/* Minimal ops shared by the test plugins (they include only the SDK). */
#ifndef TEST_PLUGIN_COMMON_OPS_H
#define TEST_PLUGIN_COMMON_OPS_H

#include <weft/weft.h>

__attribute__((unused)) static int test_create(const struct weft_host *host, const void *config,
                       void **ctx)
{
  (void)config;
  *ctx = (void *)host;
  return 0;
}

__attribute__((unused)) static void test_destroy(void *ctx) { (void)ctx; }

__attribute__((unused)) static int test_client_open(void *ctx, const struct weft_tunnel_info *t,
                            void **tunnel_ctx)
{
  (void)ctx, (void)t;
  *tunnel_ctx = NULL;
  return 0;
}

__attribute__((unused)) static void test_client_close(void *ctx, void *tunnel_ctx)
{
  (void)ctx, (void)tunnel_ctx;
}

#endif
