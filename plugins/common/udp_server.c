/* The server's side of UDP over the websocket transport (udp.h): public
 * peers become numbered flows, so the device can answer them without ever
 * naming an address. A flow id is its slot in a fixed table and the slot's
 * generation, so a late answer for a reused slot finds nothing. */
#include <arpa/inet.h>
#include <assert.h>
#include <string.h>

#include <openssl/rand.h>

#include "udp.h"

#define KEY_LEN 18 /* IPv6 (or v4-mapped) address and port */

struct server_flow {
  struct weft_udp_peer peer;
  uint8_t key[KEY_LEN];
  uint16_t gen;
  bool used;
  uint64_t last_ms;   /* for the idle limit */
  uint64_t last_use;  /* for eviction: a counter, so ties cannot happen */
  int32_t next; /* hash chain: the next slot, or -1 */
};

struct udp_server {
  const struct weft_host *host;
  uint32_t max_flows;
  uint64_t idle_ms;
  uint32_t count;
  uint32_t mask;       /* buckets - 1 */
  uint32_t seed;       /* so peers cannot aim at one hash chain */
  uint64_t uses;
  int32_t *buckets;
  struct server_flow flows[];
};

struct udp_server *udp_server_new(const struct weft_host *host,
                                  uint32_t max_flows, uint64_t idle_ms)
{
  if (max_flows == 0 || max_flows > 65535)
    return NULL;
  struct udp_server *u =
      host->calloc(1, sizeof *u + max_flows * sizeof(struct server_flow));
  if (!u)
    return NULL;
  uint32_t n = 64;
  while (n < max_flows)
    n *= 2;
  u->buckets = host->alloc(n * sizeof *u->buckets);
  if (!u->buckets) {
    host->free(u);
    return NULL;
  }
  for (uint32_t i = 0; i < n; i++)
    u->buckets[i] = -1;
  u->mask = n - 1;
  u->host = host;
  u->max_flows = max_flows;
  u->idle_ms = idle_ms;
  RAND_bytes((unsigned char *)&u->seed, sizeof u->seed);
  return u;
}

void udp_server_free(struct udp_server *u)
{
  if (!u)
    return;
  u->host->free(u->buckets);
  u->host->free(u);
}

/* The peer as 16 address bytes (IPv4 mapped into IPv6) and 2 port bytes;
 * also says whether it is IPv4. -1 if the text is not an address. */
static int peer_key(const struct weft_udp_peer *peer, uint8_t key[KEY_LEN],
                    bool *v4)
{
  memset(key, 0, KEY_LEN);
  *v4 = inet_pton(AF_INET, peer->ip, key + 12) == 1;
  if (*v4) {
    key[10] = key[11] = 0xff;
  } else if (inet_pton(AF_INET6, peer->ip, key) != 1) {
    return -1;
  }
  key[16] = (uint8_t)(peer->port >> 8);
  key[17] = (uint8_t)peer->port;
  return 0;
}

static uint32_t bucket_of(const struct udp_server *u,
                          const uint8_t key[KEY_LEN])
{
  uint32_t h = 2166136261u ^ u->seed; /* FNV-1a, seeded */
  for (int i = 0; i < KEY_LEN; i++)
    h = (h ^ key[i]) * 16777619u;
  return h & u->mask;
}

static void unchain(struct udp_server *u, uint32_t slot)
{
  int32_t *pp = &u->buckets[bucket_of(u, u->flows[slot].key)];
  while (*pp != -1 && *pp != (int32_t)slot)
    pp = &u->flows[*pp].next;
  assert(*pp == (int32_t)slot); /* a used slot is on its chain */
  *pp = u->flows[slot].next;
}

/* A slot for a new flow: a free one, else the least recently used. */
static uint32_t take_slot(struct udp_server *u)
{
  uint32_t best = 0;
  for (uint32_t i = 0; i < u->max_flows; i++) {
    if (!u->flows[i].used)
      return i;
    if (u->flows[i].last_use < u->flows[best].last_use)
      best = i;
  }
  assert(u->count == u->max_flows); /* none free: one goes */
  unchain(u, best);
  u->flows[best].used = false;
  u->count--;
  return best;
}

static uint32_t flow_id(const struct udp_server *u, uint32_t slot)
{
  return (uint32_t)u->flows[slot].gen << 16 | slot;
}

static void put_u32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

size_t udp_server_encode(struct udp_server *u, const struct weft_udp_peer *peer,
                         const void *data, size_t len, uint8_t *out)
{
  uint8_t key[KEY_LEN];
  bool v4;
  if (len > UDP_MAX_PAYLOAD || peer_key(peer, key, &v4) != 0)
    return 0;
  uint64_t now = u->host->now_ms(u->host);
  uint32_t b = bucket_of(u, key);
  int32_t slot = u->buckets[b];
  while (slot != -1 && memcmp(u->flows[slot].key, key, KEY_LEN))
    slot = u->flows[slot].next;
  if (slot == -1) {
    slot = (int32_t)take_slot(u);
    struct server_flow *f = &u->flows[slot];
    f->peer = *peer;
    memcpy(f->key, key, KEY_LEN);
    f->gen++;
    f->used = true;
    f->next = u->buckets[b];
    u->buckets[b] = slot;
    u->count++;
  }
  u->flows[slot].last_ms = now;
  u->flows[slot].last_use = ++u->uses;
  size_t n = 0;
  out[n++] = MSG_UDP;
  put_u32(out + n, flow_id(u, (uint32_t)slot));
  n += 4;
  if (v4) {
    out[n++] = 4;
    memcpy(out + n, key + 12, 4);
    n += 4;
  } else {
    out[n++] = 6;
    memcpy(out + n, key, 16);
    n += 16;
  }
  out[n++] = key[16];
  out[n++] = key[17];
  assert(n <= UDP_HEADER_MAX && len <= UDP_MAX_PAYLOAD); /* out's size */
  memcpy(out + n, data, len);
  return n + len;
}

const struct weft_udp_peer *udp_server_decode(struct udp_server *u,
                                              const uint8_t *msg, size_t len,
                                              const uint8_t **payload,
                                              size_t *payload_len)
{
  if (len < 5 || msg[0] != MSG_UDP || len - 5 > UDP_MAX_PAYLOAD)
    return NULL;
  uint32_t id = (uint32_t)msg[1] << 24 | (uint32_t)msg[2] << 16 |
                (uint32_t)msg[3] << 8 | msg[4];
  uint32_t slot = id & 0xffff;
  if (slot >= u->max_flows)
    return NULL;
  struct server_flow *f = &u->flows[slot];
  uint64_t now = u->host->now_ms(u->host);
  if (!f->used || f->gen != (uint16_t)(id >> 16) ||
      now - f->last_ms > u->idle_ms)
    return NULL;
  f->last_ms = now;
  f->last_use = ++u->uses;
  *payload = msg + 5;
  *payload_len = len - 5;
  return &f->peer;
}
