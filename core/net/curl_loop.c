#include "net/curl_loop.h"

#include <assert.h>
#include <stdlib.h>

/* A transfer that runs: whom to tell when it ends. */
struct transfer {
  CURL *easy;
  curl_loop_done_cb done;
  void *arg;
  struct transfer *next;
};

/* A socket libcurl asked us to watch. */
struct watch {
  uv_poll_t poll;
  curl_socket_t fd;
  struct curl_loop *cl;
  struct watch *next, *prev; /* cl->watches, until it closes */
};

struct curl_loop {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  struct transfer *transfers;
  struct watch *watches;
  unsigned running;
  unsigned handles; /* the timer and the watches, until closed */
  bool closing;
};

static void handle_closed(uv_handle_t *h)
{
  struct curl_loop *cl;
  if (h->type == UV_POLL) {
    struct watch *w = h->data;
    cl = w->cl;
    free(w);
  } else {
    cl = h->data;
  }
  assert(cl->handles > 0);
  if (--cl->handles == 0 && cl->closing)
    free(cl);
}

static void unwatch(struct watch *w)
{
  struct curl_loop *cl = w->cl;
  if (w->prev)
    w->prev->next = w->next;
  else
    cl->watches = w->next;
  if (w->next)
    w->next->prev = w->prev;
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, handle_closed);
}

static struct transfer **find(struct curl_loop *cl, CURL *easy)
{
  struct transfer **t = &cl->transfers;
  while (*t && (*t)->easy != easy)
    t = &(*t)->next;
  return t;
}

/* Hands each finished transfer to its owner. A done callback may add,
 * remove or close: the list is searched afresh after each. */
static void finish_done(struct curl_loop *cl)
{
  CURLMsg *msg;
  int left;
  while (!cl->closing && (msg = curl_multi_info_read(cl->multi, &left))) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    CURL *easy = msg->easy_handle;
    CURLcode result = msg->data.result;
    curl_multi_remove_handle(cl->multi, easy);
    struct transfer **at = find(cl, easy), *t = *at;
    if (!t)
      continue;
    *at = t->next;
    cl->running--;
    curl_loop_done_cb done = t->done;
    void *arg = t->arg;
    free(t);
    done(arg, easy, result);
  }
}

static void act(struct curl_loop *cl, curl_socket_t fd, int flags)
{
  int still;
  curl_multi_socket_action(cl->multi, fd, flags, &still);
  finish_done(cl);
}

static void on_timer(uv_timer_t *t)
{
  act(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
  struct watch *w = p->data;
  int flags = 0;
  if (status < 0)
    flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  act(w->cl, w->fd, flags);
}

/* CURLMOPT_TIMERFUNCTION: libcurl wants to be called after timeout_ms
 * (-1: not at all). Never called back from here: from the loop. */
static int set_timer(CURLM *multi, long timeout_ms, void *arg)
{
  (void)multi;
  struct curl_loop *cl = arg;
  if (timeout_ms < 0)
    uv_timer_stop(&cl->timer);
  else
    uv_timer_start(&cl->timer, on_timer, (uint64_t)timeout_ms, 0);
  return 0;
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what libcurl waits on, or stop. */
static int watch_socket(CURL *easy, curl_socket_t fd, int what, void *arg,
                        void *socketp)
{
  (void)easy;
  struct curl_loop *cl = arg;
  struct watch *w = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (w) {
      unwatch(w);
      curl_multi_assign(cl->multi, fd, NULL);
    }
    return 0;
  }
  if (!w) {
    w = calloc(1, sizeof *w);
    if (!w || uv_poll_init_socket(cl->loop, &w->poll, fd) != 0) {
      free(w);
      return -1; /* libcurl fails the transfer */
    }
    w->fd = fd;
    w->cl = cl;
    w->poll.data = w;
    w->next = cl->watches;
    if (w->next)
      w->next->prev = w;
    cl->watches = w;
    cl->handles++;
    curl_multi_assign(cl->multi, fd, w);
  }
  int events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
    events |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
    events |= UV_WRITABLE;
  uv_poll_start(&w->poll, events, on_poll);
  return 0;
}

struct curl_loop *curl_loop_new(uv_loop_t *loop)
{
  struct curl_loop *cl = calloc(1, sizeof *cl);
  if (!cl)
    return NULL;
  cl->loop = loop;
  cl->multi = curl_multi_init();
  if (!cl->multi) {
    free(cl);
    return NULL;
  }
  uv_timer_init(loop, &cl->timer);
  cl->timer.data = cl;
  cl->handles = 1;
  curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, watch_socket);
  curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl);
  curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, set_timer);
  curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl);
  return cl;
}

int curl_loop_add(struct curl_loop *cl, CURL *easy, curl_loop_done_cb done,
                  void *arg)
{
  assert(!cl->closing && !*find(cl, easy));
  struct transfer *t = calloc(1, sizeof *t);
  if (!t)
    return -1;
  *t = (struct transfer){easy, done, arg, cl->transfers};
  if (curl_multi_add_handle(cl->multi, easy) != CURLM_OK) {
    free(t);
    return -1;
  }
  cl->transfers = t;
  cl->running++;
  return 0;
}

void curl_loop_remove(struct curl_loop *cl, CURL *easy)
{
  struct transfer **at = find(cl, easy), *t = *at;
  if (!t)
    return;
  *at = t->next;
  cl->running--;
  free(t);
  curl_multi_remove_handle(cl->multi, easy);
}

uv_loop_t *curl_loop_uv(const struct curl_loop *cl)
{
  return cl->loop;
}

unsigned curl_loop_running(const struct curl_loop *cl)
{
  return cl->running;
}

void curl_loop_close(struct curl_loop *cl)
{
  assert(!cl->closing);
  while (cl->transfers)
    curl_loop_remove(cl, cl->transfers->easy);
  /* Cleaning up the multi closes its cached connections, telling
   * watch_socket; whatever it did not mention is unwatched here. */
  curl_multi_cleanup(cl->multi);
  cl->multi = NULL;
  while (cl->watches)
    unwatch(cl->watches);
  cl->closing = true;
  uv_close((uv_handle_t *)&cl->timer, handle_closed);
}
