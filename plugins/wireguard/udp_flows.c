#include "udp_flows.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct flow {
  uv_udp_t sock;
  struct udp_flows *table;   /* NULL once the table is gone */
  struct flow *next;
  struct weft_udp_peer peer;
  uint64_t last_used_ms;
};

struct udp_flows {
  const struct weft_host *host;
  char tunnel_id[32];
  struct sockaddr_in device;
  struct flow *flows;
  size_t count, max;
  uint64_t idle_ms;
  struct weft_timer *sweep;
  char buf[65536];           /* one datagram at a time: the loop is ours */
};

static void flow_closed(uv_handle_t *h)
{
  free(h->data);
}

static void flow_drop(struct udp_flows *f, struct flow *fl)
{
  /* A live flow of this table, on its list, dropped once. */
  assert(fl->table == f && f->count > 0);
  struct flow **pp = &f->flows;
  while (*pp && *pp != fl)
    pp = &(*pp)->next;
  assert(*pp == fl);
  *pp = fl->next;
  f->count--;
  fl->table = NULL;
  uv_close((uv_handle_t *)&fl->sock, flow_closed);
}

static void sweep(void *arg)
{
  struct udp_flows *f = arg;
  uint64_t now = f->host->now_ms(f->host);
  for (struct flow *fl = f->flows, *next; fl; fl = next) {
    next = fl->next;
    if (now - fl->last_used_ms >= f->idle_ms)
      flow_drop(f, fl);
  }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
  struct flow *fl = h->data;
  (void)hint;
  if (!fl->table) {
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  *buf = uv_buf_init(fl->table->buf, sizeof fl->table->buf);
}

/* The device answered: to the public peer of this flow, and only if it
 * came from the device's relay. */
static void on_recv(uv_udp_t *sock, ssize_t n, const uv_buf_t *buf,
                    const struct sockaddr *from, unsigned flags)
{
  struct flow *fl = sock->data;
  struct udp_flows *f = fl->table;
  (void)flags;
  if (!f || n < 0 || !from || from->sa_family != AF_INET)
    return;
  const struct sockaddr_in *in = (const struct sockaddr_in *)from;
  if (in->sin_addr.s_addr != f->device.sin_addr.s_addr ||
      in->sin_port != f->device.sin_port)
    return;
  fl->last_used_ms = f->host->now_ms(f->host);
  f->host->datagram_send(f->host, f->tunnel_id, &fl->peer, buf->base,
                         (size_t)n);
}

static struct flow *flow_for(struct udp_flows *f,
                             const struct weft_udp_peer *peer)
{
  for (struct flow *fl = f->flows; fl; fl = fl->next)
    if (fl->peer.port == peer->port && !strcmp(fl->peer.ip, peer->ip))
      return fl;
  if (f->count >= f->max) { /* the least recently used makes room */
    struct flow *oldest = f->flows;
    for (struct flow *fl = f->flows; fl; fl = fl->next)
      if (fl->last_used_ms < oldest->last_used_ms)
        oldest = fl;
    flow_drop(f, oldest);
  }
  struct flow *fl = calloc(1, sizeof *fl);
  if (!fl)
    return NULL;
  fl->sock.data = fl;
  fl->table = f;
  fl->peer = *peer;
  struct sockaddr_in any = {.sin_family = AF_INET};
  if (uv_udp_init(f->host->loop, &fl->sock) != 0) {
    free(fl);
    return NULL;
  }
  if (uv_udp_bind(&fl->sock, (struct sockaddr *)&any, 0) != 0 ||
      uv_udp_recv_start(&fl->sock, on_alloc, on_recv) != 0) {
    fl->table = NULL;
    uv_close((uv_handle_t *)&fl->sock, flow_closed);
    return NULL;
  }
  fl->next = f->flows;
  f->flows = fl;
  f->count++;
  return fl;
}

struct udp_flows *udp_flows_new(const struct weft_host *host,
                                const char *tunnel_id, size_t max_flows,
                                uint64_t idle_ms)
{
  struct udp_flows *f = calloc(1, sizeof *f);
  if (!f)
    return NULL;
  f->host = host;
  snprintf(f->tunnel_id, sizeof f->tunnel_id, "%s", tunnel_id);
  f->max = max_flows ? max_flows : 1;
  f->idle_ms = idle_ms ? idle_ms : 60000;
  f->device.sin_family = AF_INET;
  if (host->timer_start(host, f->idle_ms / 2 + 1, f->idle_ms / 2 + 1, sweep,
                        f, &f->sweep) != 0) {
    free(f);
    return NULL;
  }
  return f;
}

void udp_flows_target(struct udp_flows *f, const uint8_t addr[4],
                      uint16_t port)
{
  memcpy(&f->device.sin_addr, addr, 4);
  f->device.sin_port = htons(port);
}

int udp_flows_send(struct udp_flows *f, const struct weft_udp_peer *peer,
                   const void *data, size_t len)
{
  if (!f->device.sin_port)
    return WEFT_ECONNREFUSED; /* no session yet: no relay port */
  struct flow *fl = flow_for(f, peer);
  if (!fl)
    return WEFT_ENOMEM;
  fl->last_used_ms = f->host->now_ms(f->host);
  uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
  int rc = uv_udp_try_send(&fl->sock, &b, 1,
                           (const struct sockaddr *)&f->device);
  return rc >= 0 ? 0 : WEFT_EIO;
}

size_t udp_flows_count(const struct udp_flows *f)
{
  return f ? f->count : 0;
}

void udp_flows_free(struct udp_flows *f)
{
  if (!f)
    return;
  f->host->timer_stop(f->sweep);
  while (f->flows)
    flow_drop(f, f->flows);
  free(f);
}
