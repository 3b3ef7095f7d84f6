#include "plugin/host.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <weft/plugin.h>

#include "base/clock.h"
#include "auth/jwt.h"
#include "base/log.h"
#include "net/stream.h"
#include "auth/tokens.h"

struct weft_timer {
  uv_timer_t handle;
  struct host_binding *owner;
  weft_timer_cb cb;
  void *arg;
  struct weft_timer *prev, *next;
};

static struct host_binding *binding_of(const struct weft_host *host)
{
  /* host is the first member of its binding. */
  return (struct host_binding *)(void *)host;
}

static void host_log(const struct weft_host *host, enum weft_log_level level,
                     const char *fmt, ...)
{
  va_list ap;
  if (level == WEFT_LOG_ERROR) {
    struct host_binding *b = binding_of(host);
    va_start(ap, fmt);
    vsnprintf(b->last_error, sizeof b->last_error, fmt, ap);
    va_end(ap);
  }
  va_start(ap, fmt);
  log_vmsg(level, host->plugin_name, fmt, ap);
  va_end(ap);
}

static void *host_alloc(size_t size) { return malloc(size); }
static void *host_calloc(size_t n, size_t size) { return calloc(n, size); }
static void *host_realloc(void *p, size_t size) { return realloc(p, size); }
static void host_free(void *p) { free(p); }

static void timer_fired(uv_timer_t *handle)
{
  struct weft_timer *t = handle->data;
  assert(t && &t->handle == handle && t->owner);
  t->cb(t->arg);
}

static void timer_closed(uv_handle_t *handle) { free(handle->data); }

static void timer_unlink(struct weft_timer *t)
{
  /* A running timer is on its owner's list, and only it is. */
  assert(t->prev ? t->prev->next == t : t->owner->timers == t);
  assert(!t->next || t->next->prev == t);
  if (t->prev)
    t->prev->next = t->next;
  else
    t->owner->timers = t->next;
  if (t->next)
    t->next->prev = t->prev;
}

static int host_timer_start(const struct weft_host *host, uint64_t timeout_ms,
                            uint64_t repeat_ms, weft_timer_cb cb, void *arg,
                            struct weft_timer **out)
{
  if (!cb || !out)
    return WEFT_EINVAL;
  struct weft_timer *t = calloc(1, sizeof *t);
  if (!t)
    return WEFT_ENOMEM;
  int rc = uv_timer_init(host->loop, &t->handle);
  if (rc != 0) {
    free(t);
    return WEFT_EIO;
  }
  t->handle.data = t;
  t->owner = binding_of(host);
  t->cb = cb;
  t->arg = arg;
  uv_timer_start(&t->handle, timer_fired, timeout_ms, repeat_ms);
  t->next = t->owner->timers;
  if (t->next)
    t->next->prev = t;
  t->owner->timers = t;
  *out = t;
  return 0;
}

static void host_timer_stop(struct weft_timer *t)
{
  if (!t)
    return;
  uv_timer_stop(&t->handle);
  timer_unlink(t);
  uv_close((uv_handle_t *)&t->handle, timer_closed);
}

static uint64_t host_now_ms(const struct weft_host *host)
{
  (void)host;
  return clock_mono_ms();
}

static int host_token_verify(const struct weft_host *host, const char *token,
                             size_t len, struct weft_token_claims *out)
{
  struct host_binding *b = binding_of(host);
  if (!b->tokens)
    return WEFT_ENOTSUP;
  if (!token || !out || out->struct_size < sizeof *out)
    return WEFT_EINVAL;
  struct orchestration_claims c;
  int rc = tokens_verify_orchestration(b->tokens, token, len,
                                       host->plugin_name, clock_wall_s(),
                                       true, &c);
  if (rc != JWT_OK) {
    log_info("[%s] orchestration token refused: %s", host->plugin_name,
             jwt_strerror(rc));
    return WEFT_ETOKEN;
  }
  snprintf(out->device_id, sizeof out->device_id, "%s", c.device_id);
  snprintf(out->tunnel_id, sizeof out->tunnel_id, "%s", c.tunnel_id);
  snprintf(out->proto, sizeof out->proto, "%s", c.proto);
  snprintf(out->hostname, sizeof out->hostname, "%s", c.hostname);
  out->port = c.port;
  out->expires_at = c.expires_at;
  return 0;
}

static int host_token_renew(const struct weft_host *host,
                            const char *tunnel_id, char *out, size_t len)
{
  struct host_binding *b = binding_of(host);
  if (!b->renewer.renew)
    return WEFT_ENOTSUP;
  if (!tunnel_id || !out || !len)
    return WEFT_EINVAL;
  return b->renewer.renew(b->renewer.ctx, tunnel_id, out, len);
}

static int host_token_renew_start(const struct weft_host *host,
                                  const char *tunnel_id, weft_token_cb cb,
                                  void *arg)
{
  struct host_binding *b = binding_of(host);
  if (!b->renewer.start)
    return WEFT_ENOTSUP;
  if (!tunnel_id || !cb)
    return WEFT_EINVAL;
  return b->renewer.start(b->renewer.ctx, tunnel_id, cb, arg);
}

static int host_datagram_send(const struct weft_host *host,
                              const char *tunnel_id,
                              const struct weft_udp_peer *peer,
                              const void *data, size_t len)
{
  struct host_binding *b = binding_of(host);
  if (!b->send_datagram)
    return WEFT_ENOTSUP;
  if (!tunnel_id || !peer || (!data && len))
    return WEFT_EINVAL;
  return b->send_datagram(b->datagram_ctx, host->plugin_name, tunnel_id, peer,
                          data, len);
}

static void host_tunnel_state(const struct weft_host *host,
                              const char *tunnel_id,
                              const struct weft_tunnel_state *state)
{
  struct host_binding *b = binding_of(host);
  if (b->record_state && tunnel_id && state &&
      state->struct_size >= sizeof *state)
    b->record_state(b->state_ctx, tunnel_id, state);
}

static void host_lease_touch(const struct weft_host *host,
                             const char *tunnel_id)
{
  struct host_binding *b = binding_of(host);
  if (b->touch && tunnel_id)
    b->touch(b->touch_ctx, host->plugin_name, tunnel_id);
}

/* Plugins name their events; only a plain word or two reaches the trail. */
static bool audit_event_ok(const char *event)
{
  size_t n = strspn(event, "abcdefghijklmnopqrstuvwxyz-");
  return n > 0 && n <= 32 && event[n] == '\0';
}

static void host_audit(const struct weft_host *host, const char *tunnel_id,
                       const char *event, const char *detail)
{
  struct host_binding *b = binding_of(host);
  if (!b->audit || !tunnel_id || !event)
    return;
  if (!audit_event_ok(event)) {
    log_warn("[%s] audit event refused: not 1-32 of a-z and '-'",
             host->plugin_name);
    return;
  }
  char text[256]; /* a sentence, not a payload */
  snprintf(text, sizeof text, "%s", detail ? detail : "");
  b->audit(b->audit_ctx, host->plugin_name, tunnel_id, event, text);
}

void host_binding_init(struct host_binding *b, const char *name,
                       struct uv_loop_s *loop)
{
  memset(b, 0, sizeof *b);
  struct weft_host *h = &b->host;
  h->abi_major = WEFT_ABI_MAJOR;
  h->abi_minor = WEFT_ABI_MINOR;
  h->struct_size = sizeof *h;
  h->plugin_name = name;
  h->loop = loop;
  h->log = host_log;
  h->alloc = host_alloc;
  h->calloc = host_calloc;
  h->realloc = host_realloc;
  h->free = host_free;
  h->timer_start = host_timer_start;
  h->timer_stop = host_timer_stop;
  h->now_ms = host_now_ms;
  h->token_verify = host_token_verify;
  h->token_renew = host_token_renew;
  h->token_renew_start = host_token_renew_start;
  h->stream_start = stream_start;
  h->stream_write = stream_write;
  h->stream_pause = stream_pause;
  h->stream_shutdown = stream_shutdown;
  h->stream_close = stream_close;
  h->stream_info = stream_info;
  h->stream_connect = stream_connect;
  h->pipe_attach = pipe_attach;
  h->pipe_send = pipe_send;
  h->pipe_resume = pipe_resume;
  h->pipe_shutdown = pipe_shutdown;
  h->pipe_close = pipe_close;
  h->datagram_send = host_datagram_send;
  h->tunnel_state = host_tunnel_state;
  h->lease_touch = host_lease_touch;
  h->audit = host_audit;
}

void host_binding_release(struct host_binding *b)
{
  while (b->timers) {
    log_warn("plugin %s left a timer running at unload; stopping it",
             b->host.plugin_name);
    assert(b->timers->owner == b);
    host_timer_stop(b->timers);
  }
  free(b->state_dir);
  b->state_dir = NULL;
  b->host.state_dir = NULL;
}
