/* The device's side of UDP over the websocket transport (udp.h): one
 * connected local UDP socket per flow, so the local service's answers come
 * back on the socket of the peer they are for. */
#include <arpa/inet.h>
#include <assert.h>
#include <string.h>
#include <uv.h>

#include "udp.h"

#define BUCKETS 256

struct client_flow {
  const struct weft_host *host;
  struct udp_client *client; /* NULL once the flow is closing */
  uv_udp_t sock;
  uint32_t id;
  uint64_t last_ms;   /* for the idle limit */
  uint64_t last_use;  /* for eviction: a counter, so ties cannot happen */
  struct client_flow *hnext;       /* hash chain */
  struct client_flow *prev, *next; /* every flow, for sweeps and eviction */
};

struct udp_client {
  const struct weft_host *host;
  struct sockaddr_storage local;
  uint32_t max_flows;
  uint64_t idle_ms;
  udp_send_fn send;
  void *arg;
  struct client_flow *flows;
  uint32_t count;
  struct client_flow *buckets[BUCKETS];
  struct weft_timer *sweeper;
  uint64_t uses;
  struct udp_stats stats;
};

static struct client_flow **chain_of(struct udp_client *u, uint32_t id)
{
  return &u->buckets[(id ^ id >> 16) % BUCKETS];
}

static void flow_closed(uv_handle_t *h)
{
  struct client_flow *f = h->data;
  f->host->free(f);
}

static void flow_close(struct client_flow *f)
{
  struct udp_client *u = f->client;
  assert(u && u->count > 0); /* a live flow, closed once */
  struct client_flow **pp = chain_of(u, f->id);
  while (*pp && *pp != f)
    pp = &(*pp)->hnext;
  assert(*pp == f); /* a live flow is on its hash chain */
  *pp = f->hnext;
  if (f->prev)
    f->prev->next = f->next;
  else
    u->flows = f->next;
  if (f->next)
    f->next->prev = f->prev;
  u->count--;
  f->client = NULL;
  uv_close((uv_handle_t *)&f->sock, flow_closed);
}

static void sweep(void *arg)
{
  struct udp_client *u = arg;
  uint64_t now = u->host->now_ms(u->host);
  struct client_flow *f = u->flows;
  while (f) {
    struct client_flow *next = f->next;
    if (now - f->last_ms > u->idle_ms)
      flow_close(f);
    f = next;
  }
}

struct udp_client *udp_client_new(const struct weft_host *host,
                                  const struct sockaddr *local,
                                  uint32_t max_flows, uint64_t idle_ms,
                                  udp_send_fn send, void *arg)
{
  struct udp_client *u = host->calloc(1, sizeof *u);
  if (!u)
    return NULL;
  u->host = host;
  memcpy(&u->local, local,
         local->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                      : sizeof(struct sockaddr_in));
  u->max_flows = max_flows ? max_flows : 1024;
  u->idle_ms = idle_ms ? idle_ms : 60000;
  u->send = send;
  u->arg = arg;
  uint64_t every = u->idle_ms / 4;
  every = every < 100 ? 100 : every > 15000 ? 15000 : every;
  if (host->timer_start(host, every, every, sweep, u, &u->sweeper) != 0) {
    host->free(u);
    return NULL;
  }
  return u;
}

/* Local answers: the flow's id goes in front, in the bytes kept free. */
static char recv_slab[5 + 65536];

static void recv_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  (void)h, (void)suggested;
  *buf = uv_buf_init(recv_slab + 5, sizeof recv_slab - 5);
}

static void local_answer(uv_udp_t *sock, ssize_t n, const uv_buf_t *buf,
                         const struct sockaddr *addr, unsigned flags)
{
  (void)buf, (void)addr;
  struct client_flow *f = sock->data;
  struct udp_client *u = f->client;
  if (!u || n <= 0 || (flags & UV_UDP_PARTIAL))
    return; /* closing, nothing, an ICMP error, or truncated */
  uint8_t *msg = (uint8_t *)recv_slab;
  msg[0] = MSG_UDP;
  msg[1] = (uint8_t)(f->id >> 24);
  msg[2] = (uint8_t)(f->id >> 16);
  msg[3] = (uint8_t)(f->id >> 8);
  msg[4] = (uint8_t)f->id;
  f->last_ms = u->host->now_ms(u->host);
  f->last_use = ++u->uses;
  if (!u->send(u->arg, msg, 5 + (size_t)n))
    u->stats.dropped++;
}

static struct client_flow *flow_open(struct udp_client *u, uint32_t id)
{
  if (u->count >= u->max_flows) {
    struct client_flow *oldest = u->flows;
    for (struct client_flow *f = u->flows; f; f = f->next)
      if (f->last_use < oldest->last_use)
        oldest = f;
    flow_close(oldest);
  }
  const struct weft_host *h = u->host;
  struct client_flow *f = h->calloc(1, sizeof *f);
  if (!f)
    return NULL;
  f->host = h;
  f->id = id;
  uv_udp_init(h->loop, &f->sock);
  f->sock.data = f;
  int rc = uv_udp_connect(&f->sock, (struct sockaddr *)&u->local);
  if (rc == 0)
    rc = uv_udp_recv_start(&f->sock, recv_alloc, local_answer);
  if (rc != 0) {
    h->log(h, WEFT_LOG_WARN, "cannot open a UDP socket to the local service: "
           "%s", uv_strerror(rc));
    uv_close((uv_handle_t *)&f->sock, flow_closed);
    return NULL;
  }
  f->client = u;
  struct client_flow **chain = chain_of(u, id);
  f->hnext = *chain;
  *chain = f;
  f->next = u->flows;
  if (f->next)
    f->next->prev = f;
  u->flows = f;
  u->count++;
  u->stats.flows_total++;
  return f;
}

int udp_parse_datagram(const uint8_t *msg, size_t len, uint32_t *id,
                       struct weft_udp_peer *peer, const uint8_t **payload,
                       size_t *payload_len)
{
  /* 0x01 | flow | family | address | port | payload */
  if (len < 6 || msg[0] != MSG_UDP)
    return -1;
  int family = msg[5] == 4 ? AF_INET : msg[5] == 6 ? AF_INET6 : 0;
  size_t addr_len = family == AF_INET ? 4 : 16;
  size_t header = 6 + addr_len + 2;
  if (!family || len < header || len - header > UDP_MAX_PAYLOAD)
    return -1;
  *id = (uint32_t)msg[1] << 24 | (uint32_t)msg[2] << 16 |
        (uint32_t)msg[3] << 8 | msg[4];
  if (!inet_ntop(family, msg + 6, peer->ip, sizeof peer->ip))
    return -1;
  peer->port = (uint16_t)(msg[6 + addr_len] << 8 | msg[6 + addr_len + 1]);
  *payload = msg + header;
  *payload_len = len - header;
  return 0;
}

void udp_client_input(struct udp_client *u, const uint8_t *msg, size_t len)
{
  uint32_t id;
  struct weft_udp_peer peer;
  const uint8_t *payload;
  size_t payload_len;
  if (udp_parse_datagram(msg, len, &id, &peer, &payload, &payload_len) != 0) {
    u->stats.dropped++;
    return;
  }
  struct client_flow *f = *chain_of(u, id);
  while (f && f->id != id)
    f = f->hnext;
  if (!f) {
    if (!(f = flow_open(u, id))) {
      u->stats.dropped++;
      return;
    }
    u->host->log(u->host, WEFT_LOG_DEBUG, "UDP flow %08x from %s port %u",
                 id, peer.ip, peer.port);
  }
  f->last_ms = u->host->now_ms(u->host);
  f->last_use = ++u->uses;
  uv_buf_t buf = uv_buf_init((char *)payload, (unsigned)payload_len);
  if (uv_udp_try_send(&f->sock, &buf, 1, NULL) < 0)
    u->stats.dropped++;
}

void udp_client_reset(struct udp_client *u)
{
  while (u->flows)
    flow_close(u->flows);
}

void udp_client_free(struct udp_client *u)
{
  if (!u)
    return;
  udp_client_reset(u);
  u->host->timer_stop(u->sweeper);
  u->host->free(u);
}

void udp_client_stats(const struct udp_client *u, struct udp_stats *out)
{
  *out = u->stats;
}
