#include "agent/api_call.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/api_client_internal.h"
#include "auth/crypto.h"

enum phase {
  QUEUED,    /* waits for the calls before it */
  CHALLENGE, /* login, first step */
  ANSWER,    /* login, second step */
  REQUEST,   /* the request itself, with the session */
  WAITING,   /* a 429: sent again when Retry-After has passed */
};

struct client_call {
  struct client *c;
  struct curl_loop *cl;
  struct client_call *next;
  char method[8];
  char *path;     /* NULL: the session only */
  json_t *body;   /* the request's, or NULL */
  const void *tag;
  client_call_cb cb;
  void *arg;
  enum phase phase;
  bool relogged;  /* the login was done again after a 401 */
  /* The step on the wire, kept to be sent again after a 429. */
  json_t *step_body;
  enum phase step;
  int attempts;
  long waited_s;
  uv_timer_t *wait; /* for a 429; closed before the call is freed */
  struct login_steps ls;
  struct client_req req;
};

static int start(struct client_call *call, char *err, size_t errlen);

static void wait_closed(uv_handle_t *h)
{
  free(h->data);
}

static void call_free(struct client_call *call)
{
  json_decref(call->body);
  json_decref(call->step_body);
  client_req_free(&call->req);
  free(call->path);
  crypto_wipe(&call->ls, sizeof call->ls);
  if (call->wait) {
    uv_timer_stop(call->wait);
    call->wait->data = call->wait;
    uv_close((uv_handle_t *)call->wait, wait_closed);
  }
  free(call);
}

static void complete(struct client_call *call, int status, json_t *reply,
                     const char *err);

/* The first queued call starts once the one before it has ended. */
static void start_next(struct client *c)
{
  char err[256];
  while (c->calls && c->calls->phase == QUEUED) {
    struct client_call *call = c->calls;
    if (!call->path && client_session_fresh(c))
      complete(call, 200, NULL, ""); /* a session-only call: done */
    else if (start(call, err, sizeof err) != 0)
      complete(call, 0, NULL, err);
    else
      break;
  }
}

static void complete(struct client_call *call, int status, json_t *reply,
                     const char *err)
{
  struct client *c = call->c;
  assert(c->calls == call); /* only the first call runs */
  c->calls = call->next;
  client_call_cb cb = call->cb;
  void *arg = call->arg;
  call_free(call);
  cb(arg, status, reply, err);
  json_decref(reply);
  start_next(c);
}

static void on_done(void *arg, CURL *easy, CURLcode rc);

/* Sends one step: the login's (no bearer) or the request's. 0, or -1 with
 * err (nothing was sent). */
static int send_step(struct client_call *call, enum phase phase,
                     const char *method, const char *path, json_t *body,
                     char *err, size_t errlen)
{
  struct client *c = call->c;
  call->phase = call->step = phase;
  if (body != call->step_body) {
    json_decref(call->step_body);
    call->step_body = json_incref(body);
  }
  const char *bearer = phase == REQUEST ? c->session : NULL;
  if (client_req_setup(c, &call->req, method, path, body, bearer, err,
                       errlen) != 0)
    return -1;
  if (curl_loop_add(call->cl, c->curl, on_done, call) != 0) {
    client_req_free(&call->req);
    snprintf(err, errlen, "libcurl could not start the request");
    return -1;
  }
  return 0;
}

static int login_begin(struct client_call *call, char *err, size_t errlen)
{
  json_t *step1 = client_login_challenge(&call->ls);
  int rc = send_step(call, CHALLENGE, "POST", "/v1/login", step1, err, errlen);
  json_decref(step1);
  return rc;
}

/* Sends the request, or ends a session-only call. From the loop only. */
static void send_request(struct client_call *call)
{
  char err[256];
  if (!call->path)
    complete(call, 200, NULL, "");
  else if (send_step(call, REQUEST, call->method, call->path, call->body, err,
                     sizeof err) != 0)
    complete(call, 0, NULL, err);
}

/* A session-only call never starts with a fresh session (client_call
 * and start_next end it first), so this always sends something. */
static int start(struct client_call *call, char *err, size_t errlen)
{
  if (!client_session_fresh(call->c))
    return login_begin(call, err, errlen);
  assert(call->path);
  return send_step(call, REQUEST, call->method, call->path, call->body, err,
                   errlen);
}

static void resend(struct client_call *call)
{
  char err[256];
  int rc;
  if (call->step == REQUEST)
    rc = send_step(call, REQUEST, call->method, call->path, call->step_body,
                   err, sizeof err);
  else
    rc = send_step(call, call->step, "POST", "/v1/login", call->step_body,
                   err, sizeof err);
  if (rc != 0)
    complete(call, 0, NULL, err);
}

static void wait_over(uv_timer_t *t)
{
  resend(t->data);
}

/* A 429 is waited out as its Retry-After asks, a few times, a minute at
 * most (as the blocking client does). False: give up and take it. */
static bool wait_out(struct client_call *call, int status)
{
  long wait = call->c->retry_after > 0 ? call->c->retry_after : 1;
  if (status != 429 || call->attempts == 5 || call->waited_s + wait > 60)
    return false;
  if (!call->wait) {
    call->wait = malloc(sizeof *call->wait);
    if (!call->wait)
      return false;
    uv_timer_init(curl_loop_uv(call->cl), call->wait);
  }
  call->wait->data = call;
  call->attempts++;
  call->waited_s += wait;
  call->phase = WAITING;
  uv_timer_start(call->wait, wait_over, (uint64_t)wait * 1000, 0);
  return true;
}

static void on_done(void *arg, CURL *easy, CURLcode rc)
{
  struct client_call *call = arg;
  struct client *c = call->c;
  (void)easy;
  json_t *reply = NULL, *step2;
  char err[1024] = "";
  int status = client_req_finish(c, &call->req, rc, &reply, err, sizeof err);
  if (wait_out(call, status)) {
    json_decref(reply);
    return;
  }
  switch (call->phase) {
  case CHALLENGE:
    step2 = client_login_answer(c, &call->ls, status, reply, err, sizeof err);
    json_decref(reply);
    if (!step2) {
      complete(call, 0, NULL, err);
      return;
    }
    if (send_step(call, ANSWER, "POST", "/v1/login", step2, err,
                  sizeof err) != 0)
      complete(call, 0, NULL, err);
    json_decref(step2);
    return;
  case ANSWER:
    if (client_login_accept(c, &call->ls, status, reply, err, sizeof err) !=
        0) {
      json_decref(reply);
      complete(call, 0, NULL, err);
      return;
    }
    json_decref(reply);
    send_request(call);
    return;
  case REQUEST:
    if ((status == 401 || c->key_changed) && !call->relogged) {
      /* The server may have restarted with a new key, or a new
       * certificate: log in once more (the login checks it). */
      json_decref(reply);
      free(c->session);
      c->session = NULL;
      call->relogged = true;
      if (login_begin(call, err, sizeof err) != 0)
        complete(call, 0, NULL, err);
      return;
    }
    complete(call, status, reply, err);
    return;
  case QUEUED:
  case WAITING:
    break;
  }
  assert(!"a transfer ended for a call that sent nothing");
}

int client_call(struct client *c, struct curl_loop *cl, const char *method,
                const char *path, json_t *body, const void *tag,
                client_call_cb cb, void *arg)
{
  if (!path && !c->calls && client_session_fresh(c))
    return 1;
  struct client_call *call = calloc(1, sizeof *call);
  if (!call || (path && !(call->path = strdup(path)))) {
    free(call);
    return -1;
  }
  call->c = c;
  call->cl = cl;
  snprintf(call->method, sizeof call->method, "%s", method);
  call->body = json_incref(body);
  call->tag = tag;
  call->cb = cb;
  call->arg = arg;
  call->phase = QUEUED;
  if (c->calls) { /* its turn comes when the ones before it end */
    struct client_call *last = c->calls;
    while (last->next)
      last = last->next;
    last->next = call;
    return 0;
  }
  char err[256];
  c->calls = call;
  if (start(call, err, sizeof err) != 0) {
    c->calls = NULL;
    call_free(call);
    return -1;
  }
  return 0;
}

void client_call_cancel(struct client *c, const void *tag)
{
  for (struct client_call **at = &c->calls; *at;) {
    struct client_call *call = *at;
    if (tag && call->tag != tag) {
      at = &call->next;
      continue;
    }
    *at = call->next;
    if (call->phase != QUEUED && call->phase != WAITING)
      curl_loop_remove(call->cl, c->curl);
    call_free(call);
  }
  start_next(c);
}

bool client_call_pending(const struct client *c, const void *tag)
{
  for (const struct client_call *call = c->calls; call; call = call->next)
    if (call->tag == tag)
      return true;
  return false;
}
