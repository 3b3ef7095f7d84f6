#include "udp_relay.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct relay_flow {
  uv_udp_t sock;                 /* connected to the local service */
  struct udp_relay *relay;       /* NULL once dropped */
  struct relay_flow *next;
  struct sockaddr_storage sender;
  uint64_t last_used_ms;
};

struct udp_relay {
  uv_udp_t listener;
  uv_timer_t sweep;
  struct sockaddr_storage target;
  struct relay_flow *flows;
  size_t count, max;
  uint64_t idle_ms;
  int handles;                   /* listener and timer: freed at 0 */
  bool closing;
  char buf[65536];
};

static socklen_t addr_len(const struct sockaddr_storage *a)
{
  return a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                  : sizeof(struct sockaddr_in);
}

static void flow_closed(uv_handle_t *h)
{
  free(h->data);
}

static void flow_drop(struct udp_relay *r, struct relay_flow *fl)
{
  /* A live flow of this relay, on its list, dropped once. */
  assert(fl->relay == r && r->count > 0);
  struct relay_flow **pp = &r->flows;
  while (*pp && *pp != fl)
    pp = &(*pp)->next;
  assert(*pp == fl);
  *pp = fl->next;
  r->count--;
  fl->relay = NULL;
  uv_close((uv_handle_t *)&fl->sock, flow_closed);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
  (void)hint;
  struct udp_relay *r = h->data;
  *buf = uv_buf_init(r->buf, sizeof r->buf);
}

static void flow_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
  struct relay_flow *fl = h->data;
  (void)hint;
  if (!fl->relay) {
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  *buf = uv_buf_init(fl->relay->buf, sizeof fl->relay->buf);
}

/* The local service answered: back to the sender of this flow. */
static void flow_recv(uv_udp_t *sock, ssize_t n, const uv_buf_t *buf,
                      const struct sockaddr *from, unsigned flags)
{
  struct relay_flow *fl = sock->data;
  struct udp_relay *r = fl->relay;
  (void)from, (void)flags;
  if (!r || n < 0 || (n == 0 && !from))
    return;
  fl->last_used_ms = uv_now(sock->loop);
  uv_buf_t b = uv_buf_init(buf->base, (unsigned)n);
  uv_udp_try_send(&r->listener, &b, 1, (const struct sockaddr *)&fl->sender);
}

static struct relay_flow *flow_for(struct udp_relay *r,
                                   const struct sockaddr *from)
{
  struct sockaddr_storage key = {0};
  memcpy(&key, from, from->sa_family == AF_INET6
                         ? sizeof(struct sockaddr_in6)
                         : sizeof(struct sockaddr_in));
  for (struct relay_flow *fl = r->flows; fl; fl = fl->next)
    if (!memcmp(&fl->sender, &key, addr_len(&key)))
      return fl;
  if (r->count >= r->max) {
    struct relay_flow *oldest = r->flows;
    for (struct relay_flow *fl = r->flows; fl; fl = fl->next)
      if (fl->last_used_ms < oldest->last_used_ms)
        oldest = fl;
    flow_drop(r, oldest);
  }
  struct relay_flow *fl = calloc(1, sizeof *fl);
  if (!fl)
    return NULL;
  fl->sock.data = fl;
  fl->relay = r;
  fl->sender = key;
  if (uv_udp_init(r->listener.loop, &fl->sock) != 0) {
    free(fl);
    return NULL;
  }
  if (uv_udp_connect(&fl->sock, (const struct sockaddr *)&r->target) != 0 ||
      uv_udp_recv_start(&fl->sock, flow_alloc, flow_recv) != 0) {
    fl->relay = NULL;
    uv_close((uv_handle_t *)&fl->sock, flow_closed);
    return NULL;
  }
  fl->next = r->flows;
  r->flows = fl;
  r->count++;
  return fl;
}

/* A datagram from the server (one sender per public peer). */
static void on_recv(uv_udp_t *sock, ssize_t n, const uv_buf_t *buf,
                    const struct sockaddr *from, unsigned flags)
{
  struct udp_relay *r = sock->data;
  (void)flags;
  if (r->closing || n < 0 || !from)
    return;
  struct relay_flow *fl = flow_for(r, from);
  if (!fl)
    return;
  fl->last_used_ms = uv_now(sock->loop);
  uv_buf_t b = uv_buf_init(buf->base, (unsigned)n);
  uv_udp_try_send(&fl->sock, &b, 1, NULL);
}

static void sweep(uv_timer_t *t)
{
  struct udp_relay *r = t->data;
  uint64_t now = uv_now(t->loop);
  for (struct relay_flow *fl = r->flows, *next; fl; fl = next) {
    next = fl->next;
    if (now - fl->last_used_ms >= r->idle_ms)
      flow_drop(r, fl);
  }
}

static void handle_closed(uv_handle_t *h)
{
  struct udp_relay *r = h->data;
  if (--r->handles == 0)
    free(r);
}

int udp_relay_listen(struct uv_loop_s *loop, const struct sockaddr *bind_addr,
                     const struct sockaddr *target, size_t max_flows,
                     uint64_t idle_ms, struct udp_relay **out, uint16_t *port)
{
  struct udp_relay *r = calloc(1, sizeof *r);
  if (!r)
    return UV_ENOMEM;
  memcpy(&r->target, target,
         target->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                       : sizeof(struct sockaddr_in));
  r->max = max_flows ? max_flows : 1;
  r->idle_ms = idle_ms ? idle_ms : 60000;
  uv_udp_init(loop, &r->listener);
  uv_timer_init(loop, &r->sweep);
  r->listener.data = r;
  r->sweep.data = r;
  r->handles = 2;
  int rc = uv_udp_bind(&r->listener, bind_addr, 0);
  if (rc == 0)
    rc = uv_udp_recv_start(&r->listener, on_alloc, on_recv);
  struct sockaddr_storage bound;
  int len = sizeof bound;
  if (rc == 0)
    rc = uv_udp_getsockname(&r->listener, (struct sockaddr *)&bound, &len);
  if (rc != 0) {
    udp_relay_close(r);
    return rc;
  }
  uv_timer_start(&r->sweep, sweep, r->idle_ms / 2 + 1, r->idle_ms / 2 + 1);
  *port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
  *out = r;
  return 0;
}

size_t udp_relay_flow_count(const struct udp_relay *r)
{
  return r ? r->count : 0;
}

void udp_relay_close(struct udp_relay *r)
{
  if (!r || r->closing)
    return;
  r->closing = true;
  while (r->flows)
    flow_drop(r, r->flows);
  uv_close((uv_handle_t *)&r->listener, handle_closed);
  uv_close((uv_handle_t *)&r->sweep, handle_closed);
}
