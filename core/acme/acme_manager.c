#include "acme/acme_manager.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <sys/stat.h>

#include "acme/acme.h"
#include "acme/acme_challenges.h"
#include "net/certs.h"
#include "base/clock.h"
#include "base/log.h"
#include "tunnel/tunnels.h"

/* Also how long a stopping server may wait for an order under way. */
#define ORDER_TIMEOUT_S 60
#define RETRY_FIRST_MS (60 * 1000)
#define RETRY_MAX_MS (6 * 3600 * 1000)
#define RENEW_CHECK_MS (12 * 3600 * 1000)

/* A name that needs a certificate. */
struct wanted {
  char name[254];
  uint64_t not_before_ms;   /* a failed one waits until then */
  uint64_t retry_ms;        /* the next pause after a failure */
  struct wanted *next;
};

/* One order on a worker thread: everything it reads is its own copy. */
struct order {
  uv_work_t work;
  struct acme_manager *m;   /* NULL once the manager stopped */
  char name[254];
  char directory[1024], ca_file[1024], email[256];
  char account[1100], crt[1300], key[1300];
  int rc;
  char err[1024];
};

struct acme_manager {
  uv_loop_t *loop;
  struct tunnel_service *svc;
  struct cert_store *certs;
  char directory[1024], ca_file[1024], email[256], dir[1024];
  struct wanted *wanted;
  struct order *running;
  uv_timer_t *timer;        /* retries and renewals */
  uint64_t next_check_ms;   /* the next renewal check: never put off */
};

static void schedule(struct acme_manager *m);
static void on_timer(uv_timer_t *t);

static struct wanted *find(struct acme_manager *m, const char *name)
{
  for (struct wanted *w = m->wanted; w; w = w->next)
    if (!strcmp(w->name, name))
      return w;
  return NULL;
}

static void forget(struct acme_manager *m, struct wanted *gone)
{
  struct wanted **pp = &m->wanted;
  while (*pp && *pp != gone)
    pp = &(*pp)->next;
  assert(*pp == gone);
  *pp = gone->next;
  free(gone);
}

/* ---- the worker thread ---- */

static void run_order(uv_work_t *work)
{
  struct order *o = work->data;
  struct acme_request req = {
      .directory_url = o->directory,
      .ca_file = o->ca_file[0] ? o->ca_file : NULL,
      .email = o->email,
      .account_key_file = o->account,
      .hostname = o->name,
      .cert_file = o->crt,
      .key_file = o->key,
      .timeout_s = ORDER_TIMEOUT_S,
  };
  o->rc = acme_issue(&req, &acme_challenges_sink, o->err, sizeof o->err);
}

/* ---- back on the loop ---- */

static void order_done(uv_work_t *work, int status)
{
  struct order *o = work->data;
  struct acme_manager *m = o->m;
  if (!m) { /* stopped meanwhile */
    free(o);
    return;
  }
  assert(m->running == o); /* one order at a time */
  m->running = NULL;
  struct wanted *w = find(m, o->name);
  if (status == 0 && o->rc == 0) {
    /* The store reads the new files at the next connection. */
    cert_store_forget(m->certs, o->name);
    log_info("ACME: certificate for %s obtained (%s)", o->name, o->crt);
    if (w)
      forget(m, w);
  } else {
    const char *why = status ? uv_strerror(status) : o->err;
    if (w) {
      w->not_before_ms = clock_mono_ms() + w->retry_ms;
      log_error("ACME: no certificate for %s: %s; trying again in %llu s",
                o->name, why, (unsigned long long)(w->retry_ms / 1000));
      w->retry_ms = w->retry_ms * 4 > RETRY_MAX_MS ? RETRY_MAX_MS
                                                    : w->retry_ms * 4;
    }
  }
  free(o);
  schedule(m);
}

static bool start_order(struct acme_manager *m, struct wanted *w)
{
  assert(!m->running);
  struct order *o = calloc(1, sizeof *o);
  if (!o)
    return false;
  o->m = m;
  o->work.data = o;
  snprintf(o->name, sizeof o->name, "%s", w->name);
  snprintf(o->directory, sizeof o->directory, "%s", m->directory);
  snprintf(o->ca_file, sizeof o->ca_file, "%s", m->ca_file);
  snprintf(o->email, sizeof o->email, "%s", m->email);
  snprintf(o->account, sizeof o->account, "%s/account.key", m->dir);
  snprintf(o->crt, sizeof o->crt, "%s/%s.crt", m->dir, w->name);
  snprintf(o->key, sizeof o->key, "%s/%s.key", m->dir, w->name);
  if (uv_queue_work(m->loop, &o->work, run_order, order_done) != 0) {
    free(o);
    return false;
  }
  m->running = o;
  log_info("ACME: ordering a certificate for %s from %s", w->name,
           m->directory);
  return true;
}

/* Starts the next due order, or arms the timer for when one is due. */
static void schedule(struct acme_manager *m)
{
  if (m->running)
    return;
  uint64_t now = clock_mono_ms(), next = m->next_check_ms;
  for (struct wanted *w = m->wanted, *after; w; w = after) {
    after = w->next;
    if (!tunnel_service_by_hostname(m->svc, w->name)) {
      forget(m, w); /* its tunnel is gone: no certificate to get */
      continue;
    }
    if (w->not_before_ms <= now) {
      if (start_order(m, w))
        return;
      /* out of memory, or no worker: try again in a minute */
      w->not_before_ms = now + RETRY_FIRST_MS;
    }
    if (w->not_before_ms < next)
      next = w->not_before_ms;
  }
  uv_timer_start(m->timer, on_timer, next > now ? next - now : 0, 0);
}

static void want(struct acme_manager *m, const char *name)
{
  if (find(m, name))
    return;
  struct wanted *w = calloc(1, sizeof *w);
  if (!w)
    return;
  snprintf(w->name, sizeof w->name, "%s", name);
  w->retry_ms = RETRY_FIRST_MS;
  w->next = m->wanted;
  m->wanted = w;
  schedule(m);
}

static void cert_want(void *arg, const char *name) { want(arg, name); }

/* Names the server terminates TLS for whose certificate is missing, or is
 * one of ours and ends within RENEW_BEFORE_S. */
#define RENEW_BEFORE_S (30 * 86400)
static void check_renewals(struct acme_manager *m)
{
  int64_t now = clock_wall_s();
  for (struct tunnel *t = m->svc->live; t; t = t->next) {
    if (t->tls_mode != TUNNEL_TLS_TERMINATE)
      continue;
    const char *name = t->lease->hostname;
    enum cert_source src = cert_store_source(m->certs, name);
    if (src == CERT_FROM_FILES || src == CERT_FROM_DEVICE)
      continue; /* the administrator's own, or the device's */
    if (src == CERT_NONE) {
      want(m, name);
      continue;
    }
    int64_t end = cert_store_not_after(m->certs, name);
    if (end - now < RENEW_BEFORE_S) {
      log_info("ACME: the certificate for %s ends in %lld days: renewing",
               name, (long long)((end - now) / 86400));
      want(m, name);
    }
  }
}

static void on_timer(uv_timer_t *t)
{
  struct acme_manager *m = t->data;
  uint64_t now = clock_mono_ms();
  if (now >= m->next_check_ms) {
    m->next_check_ms = now + RENEW_CHECK_MS;
    check_renewals(m);
  }
  schedule(m);
}

static void timer_closed(uv_handle_t *h) { free(h); }

struct acme_manager *acme_manager_start(uv_loop_t *loop,
                                        struct tunnel_service *svc,
                                        struct cert_store *certs,
                                        const struct acme_settings *set,
                                        char *err, size_t errlen)
{
  struct acme_manager *m = calloc(1, sizeof *m);
  uv_timer_t *timer = m ? calloc(1, sizeof *timer) : NULL;
  if (!timer) {
    free(m);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  m->loop = loop;
  m->svc = svc;
  m->certs = certs;
  snprintf(m->directory, sizeof m->directory, "%s", set->directory_url);
  snprintf(m->ca_file, sizeof m->ca_file, "%s",
           set->ca_file ? set->ca_file : "");
  snprintf(m->email, sizeof m->email, "%s", set->email);
  snprintf(m->dir, sizeof m->dir, "%s", certs->acme_dir);
  if (mkdir(m->dir, 0700) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "cannot make %s: %s", m->dir, strerror(errno));
    free(timer);
    free(m);
    return NULL;
  }
  /* Before any worker thread uses libcurl (its global init is not
   * thread-safe); counted, so the client's own call does not clash. */
  curl_global_init(CURL_GLOBAL_DEFAULT);
  m->timer = timer;
  uv_timer_init(loop, timer);
  timer->data = m;
  svc->cert_want = cert_want;
  svc->cert_arg = m;
  log_info("ACME: certificates for terminated names from %s, for %s",
           m->directory, m->email);
  m->next_check_ms = clock_mono_ms() + RENEW_CHECK_MS;
  check_renewals(m);
  schedule(m);
  return m;
}

void acme_manager_stop(struct acme_manager *m)
{
  if (!m)
    return;
  m->svc->cert_want = NULL;
  if (m->running) {
    /* Queued but not started: cancelled (order_done still runs, with
     * UV_ECANCELED); under way: it ends within its timeout. */
    m->running->m = NULL;
    uv_cancel((uv_req_t *)&m->running->work);
  }
  uv_close((uv_handle_t *)m->timer, timer_closed);
  while (m->wanted)
    forget(m, m->wanted);
  free(m);
  /* No curl_global_cleanup: an order may still run on its worker thread
   * (libcurl forbids cleaning up under it); the process ends soon. */
}
