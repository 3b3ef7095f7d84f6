/* The host table as a plugin sees it: timers, clock, logging, cleanup. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/clock.h"
#include "plugin/host.h"
#include <weft/plugin.h>
#include "base/log.h"
#include "auth/tokens.h"

static int fired;
static struct weft_timer *repeating;
static const struct weft_host *repeating_host;

static void on_fire(void *arg)
{
  (void)arg;
  if (++fired == 3 && repeating) {
    repeating_host->timer_stop(repeating);
    repeating = NULL;
  }
}

Test(host, timers_fire_and_stop_cleanly)
{
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct host_binding b;
  host_binding_init(&b, "t", &loop);
  cr_assert_eq(b.host.abi_major, WEFT_ABI_MAJOR);
  cr_assert_eq(b.host.struct_size, sizeof(struct weft_host));
  cr_assert(WEFT_HOST_HAS(&b.host, now_ms));
  fired = 0;
  repeating_host = &b.host;
  cr_assert_eq(b.host.timer_start(&b.host, 1, 1, on_fire, NULL, &repeating),
               0);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(fired, 3, "stopped after the third tick");
  cr_assert_null(b.timers);
  cr_assert_eq(uv_loop_close(&loop), 0);
}

Test(host, leftover_timers_are_stopped_at_release)
{
  log_set_level(WEFT_LOG_ERROR);
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct host_binding b;
  host_binding_init(&b, "t", &loop);
  struct weft_timer *t1, *t2;
  cr_assert_eq(b.host.timer_start(&b.host, 100000, 0, on_fire, NULL, &t1), 0);
  cr_assert_eq(b.host.timer_start(&b.host, 100000, 0, on_fire, NULL, &t2), 0);
  host_binding_release(&b);
  cr_assert_null(b.timers);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&loop), 0);
}

Test(host, bad_timer_arguments)
{
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct host_binding b;
  host_binding_init(&b, "t", &loop);
  struct weft_timer *t = NULL;
  cr_assert_eq(b.host.timer_start(&b.host, 1, 0, NULL, NULL, &t), WEFT_EINVAL);
  cr_assert_null(t);
  cr_assert_eq(uv_loop_close(&loop), 0);
}

Test(host, logging_keeps_last_error)
{
  log_set_level(WEFT_LOG_ERROR);
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct host_binding b;
  host_binding_init(&b, "t", &loop);
  b.host.log(&b.host, WEFT_LOG_ERROR, "broken %d", 42);
  cr_assert_str_eq(b.last_error, "broken 42");
  cr_assert_eq(uv_loop_close(&loop), 0);
}

static void log_through_vlog(const struct weft_host *host, const char *fmt,
                             ...)
{
  va_list ap;
  va_start(ap, fmt);
  weft_vlog(host, WEFT_LOG_ERROR, fmt, ap);
  va_end(ap);
}

Test(host, weft_vlog_formats_and_logs_one_line)
{
  log_set_level(WEFT_LOG_ERROR);
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct host_binding b;
  host_binding_init(&b, "t", &loop);
  log_through_vlog(&b.host, "tunnel %s: %d%%", "t-1", 7);
  cr_assert_str_eq(b.last_error, "tunnel t-1: 7%");
  cr_assert_eq(uv_loop_close(&loop), 0);
}

Test(host, fake_clock)
{
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct host_binding b;
  host_binding_init(&b, "t", &loop);
  clock_fake_set(1000, 1700000000);
  cr_assert_eq(b.host.now_ms(&b.host), 1000);
  clock_fake_advance_ms(1500);
  cr_assert_eq(b.host.now_ms(&b.host), 2500);
  cr_assert_eq(clock_wall_s(), 1700000001);
  clock_fake_off();
  cr_assert_eq(uv_loop_close(&loop), 0);
}

Test(errors, table_names_and_messages)
{
  cr_assert_str_eq(weft_err_name(0), "OK");
  cr_assert_str_eq(weft_err_name(WEFT_EINVAL), "EINVAL");
  cr_assert_eq(WEFT_EINVAL, -22);
  cr_assert_str_eq(weft_strerror(WEFT_ENOTBUILT),
                   "this transport does not implement that yet");
  cr_assert_str_eq(weft_err_name(-999999), "UNKNOWN");
  cr_assert_str_eq(weft_strerror(-999999), "unknown error");
}

Test(host, orchestration_tokens_through_the_host_table)
{
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct host_binding b;
  host_binding_init(&b, "websocket", &loop);
  struct weft_token_claims claims = {.struct_size = sizeof claims};
  cr_assert_eq(b.host.token_verify(&b.host, "x", 1, &claims), WEFT_ENOTSUP,
               "no token service in a client");
  struct tokens tokens;
  uint8_t key[32] = {4};
  tokens_init(&tokens, key);
  b.tokens = &tokens;
  struct orchestration_claims oc = {.port = 2222};
  strcpy(oc.device_id, "dev");
  strcpy(oc.tunnel_id, "t01");
  strcpy(oc.transport, "websocket");
  strcpy(oc.proto, "tcp");
  char *tok;
  cr_assert_eq(tokens_issue_orchestration(&tokens, &oc, clock_wall_s(), &tok),
               0);
  cr_assert_eq(b.host.token_verify(&b.host, tok, strlen(tok), &claims), 0);
  cr_assert_str_eq(claims.device_id, "dev");
  cr_assert_str_eq(claims.tunnel_id, "t01");
  cr_assert_eq(claims.port, 2222);
  cr_assert_eq(b.host.token_verify(&b.host, tok, strlen(tok), &claims),
               WEFT_ETOKEN, "a token admits once");
  free(tok);
  strcpy(oc.transport, "wireguard");
  tokens_issue_orchestration(&tokens, &oc, clock_wall_s(), &tok);
  cr_assert_eq(b.host.token_verify(&b.host, tok, strlen(tok), &claims),
               WEFT_ETOKEN, "another transport's token");
  free(tok);
  tokens_free(&tokens);
  cr_assert_eq(uv_loop_close(&loop), 0);
}
