/* Weft SDK: a device's way back to its server after a transport session
 * dropped, as every session-based transport needs it: exponential backoff
 * from min_ms to max_ms with jitter (half to all of the delay, so a fleet
 * does not return at once), a fresh orchestration token before each attempt
 * (a token admits one session), and giving up when the server no longer has
 * the tunnel. The renewal does not block the loop where the core has
 * token_renew_start (1.6); an older core's token_renew does. Header-only:
 * nothing here is part of the ABI.
 *
 *   ct->again = (struct weft_reconnect){
 *       .host = host, .tunnel_id = ct->id,
 *       .token = ct->token, .token_size = sizeof ct->token,
 *       .min_ms = 1000, .max_ms = 60000, .seed = some_random_bits,
 *       .dial = my_dial, .gone = my_gone, .arg = ct};
 *   on a lost session:   weft_reconnect_schedule(&ct->again);
 *   once up again:       weft_reconnect_succeeded(&ct->again);
 *   on close:            weft_reconnect_cancel(&ct->again);
 */
#ifndef WEFT_RECONNECT_H
#define WEFT_RECONNECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/errors.h>
#include <weft/host.h>

#ifdef __cplusplus
extern "C" {
#endif

struct weft_reconnect {
  const struct weft_host *host;
  const char *tunnel_id;   /* whose token is renewed; named in the log */
  char *token;             /* where a renewed token is written */
  size_t token_size;
  int64_t min_ms, max_ms;  /* the first delay and the longest */
  uint32_t seed;           /* non-zero random bits, for the jitter */
  void (*dial)(void *arg); /* a fresh token is in token: dial now */
  void (*gone)(void *arg); /* the server no longer has the tunnel */
  void *arg;
  /* Kept by the functions below. */
  int64_t backoff_ms;
  uint32_t attempts;       /* attempts after the first */
  struct weft_timer *timer;
  bool renewing;           /* token_renew_start's answer is awaited */
};

static inline void weft_reconnect_schedule(struct weft_reconnect *r);

static inline uint32_t weft_reconnect_jitter(struct weft_reconnect *r)
{
  uint32_t x = r->seed ? r->seed : 2463534242u; /* xorshift32 */
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return r->seed = x;
}

/* What the server said of a renewal: dial, try later, or give up. */
static inline void weft_reconnect_renewed(void *arg, int rc,
                                          const char *token)
{
  struct weft_reconnect *r = (struct weft_reconnect *)arg;
  const struct weft_host *h = r->host;
  r->renewing = false;
  if (rc == 0 && token && strlen(token) >= r->token_size)
    rc = WEFT_EMSGSIZE;
  if (rc == WEFT_ENOENT) {
    h->log(h, WEFT_LOG_ERROR,
           "tunnel %s: the server no longer has this tunnel (deleted or "
           "expired); not reconnecting",
           r->tunnel_id);
    r->gone(r->arg);
    return;
  }
  if (rc != 0) {
    h->log(h, WEFT_LOG_WARN, "tunnel %s: cannot renew the token (%s)",
           r->tunnel_id, weft_strerror(rc));
    weft_reconnect_schedule(r);
    return;
  }
  if (token != r->token)
    memcpy(r->token, token, strlen(token) + 1);
  r->dial(r->arg);
}

static inline void weft_reconnect_due(void *arg)
{
  struct weft_reconnect *r = (struct weft_reconnect *)arg;
  const struct weft_host *h = r->host;
  h->timer_stop(r->timer);
  r->timer = NULL;
  r->attempts++;
  if (WEFT_HOST_HAS(h, token_renew_start) && h->token_renew_start) {
    r->renewing = true;
    int rc = h->token_renew_start(h, r->tunnel_id, weft_reconnect_renewed, r);
    if (rc != WEFT_ENOTSUP) {
      if (rc != 0)
        weft_reconnect_renewed(r, rc, NULL);
      return;
    }
    r->renewing = false;
  }
  int rc = h->token_renew(h, r->tunnel_id, r->token, r->token_size);
  weft_reconnect_renewed(r, rc, r->token);
}

/* The next attempt, after the next delay; nothing if one is already due. */
static inline void weft_reconnect_schedule(struct weft_reconnect *r)
{
  if (r->timer || r->renewing)
    return;
  r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : r->min_ms;
  if (r->backoff_ms > r->max_ms)
    r->backoff_ms = r->max_ms;
  uint64_t half = (uint64_t)r->backoff_ms / 2;
  uint64_t delay = half + weft_reconnect_jitter(r) % (half + 1);
  r->host->log(r->host, WEFT_LOG_INFO, "tunnel %s: reconnecting in %llu ms",
               r->tunnel_id, (unsigned long long)delay);
  if (r->host->timer_start(r->host, delay, 0, weft_reconnect_due, r,
                           &r->timer) != 0)
    r->host->log(r->host, WEFT_LOG_ERROR,
                 "tunnel %s: cannot arm the reconnect timer; giving up",
                 r->tunnel_id);
}

/* For create(): a [transport.NAME] whose reconnect_min is longer than its
 * reconnect_max is refused, with a log line. 0 or WEFT_ECONFIG. */
static inline int weft_reconnect_check(const struct weft_host *host,
                                       int64_t min_ms, int64_t max_ms)
{
  if (min_ms <= max_ms)
    return 0;
  host->log(host, WEFT_LOG_ERROR,
            "reconnect_min (%lld ms) is longer than reconnect_max (%lld ms)",
            (long long)min_ms, (long long)max_ms);
  return WEFT_ECONFIG;
}

/* The session is up: the next loss starts again from min_ms. */
static inline void weft_reconnect_succeeded(struct weft_reconnect *r)
{
  r->backoff_ms = 0;
}

static inline bool weft_reconnect_pending(const struct weft_reconnect *r)
{
  return r->timer != NULL || r->renewing;
}

/* For close and destroy: the core drops a renewal under way at either. */
static inline void weft_reconnect_cancel(struct weft_reconnect *r)
{
  if (r->timer) {
    r->host->timer_stop(r->timer);
    r->timer = NULL;
  }
  r->renewing = false;
}

#ifdef __cplusplus
}
#endif

#endif /* WEFT_RECONNECT_H */
