#include "tunnel/leases.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/errors.h>

#include "auth/crypto.h"
#include "base/log.h"

static bool bit_get(const uint8_t *b, size_t i) { return b[i / 8] & (1u << (i % 8)); }
static void bit_set(uint8_t *b, size_t i, bool on)
{
  if (on)
    b[i / 8] |= (uint8_t)(1u << (i % 8));
  else
    b[i / 8] &= (uint8_t)~(1u << (i % 8));
}

static uint8_t *port_bitmap(struct leases *ls, const char *proto)
{
  if (!strcmp(proto, "tcp"))
    return ls->tcp_ports;
  if (!strcmp(proto, "udp"))
    return ls->udp_ports;
  return NULL;
}

int lease_config_from_text(struct lease_config *cfg, const char *pool,
                           const char *port_range, int64_t idle_timeout_ms,
                           int64_t ttl_ms, int64_t quarantine_ms,
                           int64_t max_tunnels, char *err, size_t errlen)
{
  memset(cfg, 0, sizeof *cfg);
  struct prefix_list l;
  if (prefix_list_parse(pool, &l, err, errlen) != 0)
    return -1;
  if (l.count != 1 || !addr_is_v4(l.p[0].addr) || l.p[0].bits < 96 + 8 ||
      l.p[0].bits > 96 + 30) {
    snprintf(err, errlen, "pool '%s' must be one IPv4 prefix from /8 to /30",
             pool);
    return -1;
  }
  const uint8_t *a = l.p[0].addr + 12;
  cfg->pool_bits = l.p[0].bits - 96;
  uint32_t mask = cfg->pool_bits ? ~0u << (32 - cfg->pool_bits) : 0;
  cfg->pool_net = ((uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 |
                   (uint32_t)a[2] << 8 | a[3]) &
                  mask;
  if (port_list_parse(port_range, &cfg->ports, err, errlen) != 0)
    return -1;
  cfg->idle_timeout_s = idle_timeout_ms / 1000;
  cfg->ttl_s = ttl_ms / 1000;
  cfg->quarantine_s = quarantine_ms / 1000;
  cfg->max_tunnels = (size_t)max_tunnels;
  return 0;
}

static size_t pool_size(const struct lease_config *cfg)
{
  return (size_t)1 << (32 - cfg->pool_bits);
}

uint32_t leases_server_address(const struct lease_config *cfg)
{
  return cfg->pool_net + (uint32_t)pool_size(cfg) - 2;
}

bool leases_is_device_address(const struct lease_config *cfg, uint32_t addr)
{
  uint32_t off = addr - cfg->pool_net;
  return addr >= cfg->pool_net && off > 0 && off < pool_size(cfg) - 2;
}

void leases_addr_text(uint32_t addr, char *buf, size_t len)
{
  struct in_addr in = {.s_addr = htonl(addr)};
  inet_ntop(AF_INET, &in, buf, (socklen_t)len);
}

static void hold_address(struct leases *ls, uint32_t vip, bool on)
{
  if (leases_is_device_address(&ls->cfg, vip))
    bit_set(ls->addr_held, vip - ls->cfg.pool_net, on);
}

static void hold_port(struct leases *ls, const struct lease *l, bool on)
{
  uint8_t *ports = port_bitmap(ls, l->port_proto);
  if (ports && l->port)
    bit_set(ports, l->port, on);
}

static int add_item(struct leases *ls, struct lease *l)
{
  if (ls->count == ls->cap) {
    size_t cap = ls->cap ? ls->cap * 2 : 64;
    struct lease **items = realloc(ls->items, cap * sizeof *items);
    if (!items)
      return WEFT_ENOMEM;
    ls->items = items;
    ls->cap = cap;
  }
  assert(ls->count < ls->cap);
  ls->items[ls->count++] = l;
  hold_address(ls, l->vip, true);
  hold_port(ls, l, true);
  return 0;
}

static void remove_item(struct leases *ls, size_t i)
{
  assert(i < ls->count);
  struct lease *l = ls->items[i];
  hold_port(ls, l, false);
  /* the address stays held: it goes into quarantine */
  ls->items[i] = ls->items[--ls->count];
}

static void audit(struct leases *ls, int64_t now, const char *event,
                  const struct lease *l, const char *actor,
                  const char *detail)
{
  struct audit_event e = {.at = now, .event = event,
                          .tunnel_id = l ? l->tunnel_id : NULL,
                          .device_id = l ? l->device_id : NULL,
                          .detail = detail, .actor = actor};
  store_audit(ls->store, &e);
}

void leases_audit(struct leases *ls, const struct lease *l, const char *event,
                  const char *actor, const char *detail, int64_t now)
{
  audit(ls, now, event, l, actor, detail);
}

static void quarantine_add(struct leases *ls, uint32_t vip, int64_t until)
{
  if (ls->quarantine_count == ls->quarantine_cap) {
    size_t cap = ls->quarantine_cap ? ls->quarantine_cap * 2 : 64;
    struct quarantined *q = realloc(ls->quarantine, cap * sizeof *q);
    if (!q)
      return; /* the address then stays held until restart: safe */
    ls->quarantine = q;
    ls->quarantine_cap = cap;
  }
  assert(ls->quarantine_count < ls->quarantine_cap);
  ls->quarantine[ls->quarantine_count++] = (struct quarantined){vip, until};
  hold_address(ls, vip, true);
}

/* Frees the addresses whose quarantine is over. */
static void quarantine_expire(struct leases *ls, int64_t now)
{
  for (size_t i = 0; i < ls->quarantine_count;) {
    if (ls->quarantine[i].until > now) {
      i++;
      continue;
    }
    hold_address(ls, ls->quarantine[i].vip, false);
    ls->store->ops->quarantine_drop(ls->store, ls->quarantine[i].vip);
    ls->quarantine[i] = ls->quarantine[--ls->quarantine_count];
  }
}

/* The hard end of a lease, or 0 when there is none. */
static int64_t lifetime_end(const struct leases *ls, const struct lease *l)
{
  return ls->cfg.max_lifetime_s ? l->created_at + ls->cfg.max_lifetime_s : 0;
}

/* A lease at the end of its term is renewed for another term while its
 * tunnel is used: public traffic since the term began. idle_timeout ends
 * an unused tunnel, max_lifetime any tunnel. true if renewed. */
static bool renew(struct leases *ls, struct lease *l, int64_t now)
{
  int64_t end = lifetime_end(ls, l);
  bool used = l->last_activity > l->expires_at - ls->cfg.ttl_s;
  if (now < l->expires_at || !used || (end && now >= end))
    return false;
  int64_t until = now + ls->cfg.ttl_s;
  if (end && until > end)
    until = end;
  if (ls->store->ops->lease_set_expiry(ls->store, l->tunnel_id, until) != 0)
    log_warn("lease %s: its renewal was not stored; it would end early if "
             "the server restarted",
             l->tunnel_id);
  log_debug("lease %s renewed until %lld (in use)", l->tunnel_id,
            (long long)until);
  l->expires_at = until;
  return true;
}

static const char *expiry_reason(const struct leases *ls,
                                 const struct lease *l, int64_t now)
{
  int64_t end = lifetime_end(ls, l);
  if (end && now >= end)
    return "max-lifetime";
  if (now >= l->expires_at)
    return "expired";
  if (now - l->last_activity >= l->idle_timeout_s)
    return "idle-timeout";
  return NULL;
}

struct load_ctx {
  struct leases *ls;
  int64_t now;
  struct lease **reaped;
  size_t reaped_count;
  int rc;
};

static int load_lease(void *arg, const struct lease *stored)
{
  struct load_ctx *ctx = arg;
  struct lease *l = lease_dup(stored);
  if (!l)
    return WEFT_ENOMEM;
  /* A term that ended while the server was down is judged as the reaper
   * would have judged it: renewed (from now) if the tunnel was used. */
  renew(ctx->ls, l, ctx->now);
  if (expiry_reason(ctx->ls, l, ctx->now)) {
    struct lease **r = realloc(ctx->reaped,
                               (ctx->reaped_count + 1) * sizeof *r);
    if (!r) {
      lease_free(l);
      return WEFT_ENOMEM;
    }
    ctx->reaped = r;
    ctx->reaped[ctx->reaped_count++] = l;
    return 0;
  }
  return add_item(ctx->ls, l);
}

static int load_quarantine(void *arg, uint32_t vip, int64_t until)
{
  struct load_ctx *ctx = arg;
  quarantine_add(ctx->ls, vip, until);
  return 0;
}

int leases_open(struct leases *ls, struct store *store,
                const struct lease_config *cfg, int64_t now,
                void (*on_reaped)(void *arg, const struct lease *l,
                                  const char *reason),
                void *arg)
{
  memset(ls, 0, sizeof *ls);
  ls->store = store;
  ls->cfg = *cfg;
  ls->addr_held = calloc(pool_size(cfg) / 8 + 1, 1);
  if (!ls->addr_held)
    return WEFT_ENOMEM;
  struct load_ctx ctx = {.ls = ls, .now = now};
  int rc = store->ops->quarantine_each(store, load_quarantine, &ctx);
  if (rc == 0)
    rc = store->ops->lease_each(store, load_lease, &ctx);
  quarantine_expire(ls, now);
  /* Leases that ran out while the server was down: released now, with
   * their routes and listeners (the caller's on_reaped). */
  for (size_t i = 0; i < ctx.reaped_count; i++) {
    struct lease *l = ctx.reaped[i];
    const char *reason = expiry_reason(ls, l, now);
    char detail[96];
    snprintf(detail, sizeof detail, "%s while the server was down", reason);
    if (ls->store->ops->lease_delete(ls->store, l->tunnel_id, l->vip,
                                     now + ls->cfg.quarantine_s) == 0) {
      if (l->vip)
        quarantine_add(ls, l->vip, now + ls->cfg.quarantine_s);
      audit(ls, now, reason, l, "server", detail);
      if (on_reaped)
        on_reaped(arg, l, reason);
    }
    lease_free(l);
  }
  free(ctx.reaped);
  if (rc == 0)
    log_info("leases: %zu restored, %zu reaped at start", ls->count,
             ctx.reaped_count);
  return rc;
}

void leases_close(struct leases *ls)
{
  for (size_t i = 0; i < ls->count; i++) {
    struct lease *l = ls->items[i];
    if (l->last_activity != l->last_persisted)
      ls->store->ops->lease_set_activity(ls->store, l->tunnel_id,
                                         l->last_activity);
    lease_free(l);
  }
  free(ls->items);
  free(ls->quarantine);
  free(ls->addr_held);
  memset(ls, 0, sizeof *ls);
}

struct lease *leases_find(const struct leases *ls, const char *tunnel_id)
{
  for (size_t i = 0; i < ls->count; i++)
    if (!strcmp(ls->items[i]->tunnel_id, tunnel_id))
      return ls->items[i];
  return NULL;
}

struct lease *leases_find_device(const struct leases *ls,
                                 const char *device_id)
{
  for (size_t i = 0; i < ls->count; i++)
    if (!strcmp(ls->items[i]->device_id, device_id))
      return ls->items[i];
  return NULL;
}

static struct lease *find_hostname(const struct leases *ls, const char *host)
{
  for (size_t i = 0; i < ls->count; i++)
    if (ls->items[i]->hostname[0] && !strcmp(ls->items[i]->hostname, host))
      return ls->items[i];
  return NULL;
}

static int allocate_address(struct leases *ls, uint32_t *out)
{
  size_t size = pool_size(&ls->cfg);
  /* offsets 1 .. size-3: not the network, the server or the broadcast */
  for (size_t off = 1; off + 2 < size; off++) {
    if (!bit_get(ls->addr_held, off)) {
      *out = ls->cfg.pool_net + (uint32_t)off;
      assert(leases_is_device_address(&ls->cfg, *out));
      return 0;
    }
  }
  return WEFT_ELIMIT;
}

/* Ports another program holds that one allocation skips, at most: each
 * costs a bind(), and a range full of strangers should not stall the
 * loop. */
#define TAKEN_PROBES_MAX 64

static int allocate_port(struct leases *ls, const char *proto, uint16_t *out)
{
  uint8_t *ports = port_bitmap(ls, proto);
  unsigned probes = 0;
  /* Round-robin from a moving hint, so a freed port is not handed straight
   * to the next tunnel. */
  for (int pass = 0; pass < 2; pass++) {
    for (size_t r = 0; r < ls->cfg.ports.count; r++) {
      const struct port_range *pr = &ls->cfg.ports.r[r];
      for (uint32_t p = pr->lo; p <= pr->hi; p++) {
        if (pass == 0 && p <= ls->next_port_hint)
          continue;
        if (bit_get(ports, p))
          continue;
        if (ls->port_taken && probes < TAKEN_PROBES_MAX) {
          probes++;
          if (ls->port_taken(ls->port_taken_arg, proto, (uint16_t)p))
            continue; /* another program's: the listen would fail */
        }
        *out = (uint16_t)p;
        ls->next_port_hint = p;
        return 0;
      }
    }
  }
  return WEFT_ELIMIT;
}

int leases_create(struct leases *ls, const struct lease_request *req,
                  int64_t now, struct lease **out, char *why, size_t len)
{
  quarantine_expire(ls, now);
  assert(req->device_max > 0);
  size_t held = 0;
  const struct lease *live = NULL;
  for (size_t i = 0; i < ls->count; i++)
    if (!strcmp(ls->items[i]->device_id, req->device_id)) {
      held++;
      live = ls->items[i];
    }
  if (held >= req->device_max) {
    if (req->device_max == 1)
      snprintf(why, len, "device %s already has a live tunnel: %s",
               req->device_id, live->tunnel_id);
    else
      snprintf(why, len,
               "device %s already has %zu live tunnels, as many as its "
               "class allows (max_tunnels)",
               req->device_id, held);
    return WEFT_EEXIST;
  }
  if (ls->count >= ls->cfg.max_tunnels) {
    snprintf(why, len, "the server holds its maximum of %zu tunnels",
             ls->cfg.max_tunnels);
    return WEFT_ELIMIT;
  }
  struct lease l = {0};
  uint8_t id[8];
  char id_text[24];
  crypto_random(id, sizeof id);
  snprintf(id_text, sizeof id_text, "t%02x%02x%02x%02x%02x%02x%02x%02x", id[0],
           id[1], id[2], id[3], id[4], id[5], id[6], id[7]);

  if (req->wants_address && allocate_address(ls, &l.vip) != 0) {
    snprintf(why, len, "the address pool is exhausted");
    return WEFT_ELIMIT;
  }
  const struct url *r = req->remote;
  const char *hostname = "";
  char public_url[URL_MAX_TEXT + 300];
  /* A transport that gives devices addresses, asked for no remote, means
   * host-only reach (support, fleets): the server's host reaches the
   * device's address, and nothing is published to the world. */
  struct url local = {0};
  char local_tmp[256];
  bool local_ok = url_parse(req->local_url, &local, local_tmp,
                            sizeof local_tmp) == 0;
  bool host_only = !r && req->wants_address && local_ok &&
                   (local.scheme == URL_TCP || local.scheme == URL_UDP);
  if (r && (r->scheme == URL_TCP || r->scheme == URL_UDP)) {
    snprintf(l.port_proto, sizeof l.port_proto, "%s", url_scheme_name(r->scheme));
    l.port = r->port;
    if (bit_get(port_bitmap(ls, l.port_proto), l.port)) {
      snprintf(why, len, "%s port %u is already published by another tunnel",
               l.port_proto, l.port);
      return WEFT_EADDRINUSE;
    }
  } else if (!r && !host_only) {
    if (local_ok && (local.scheme == URL_TCP || local.scheme == URL_UDP)) {
      snprintf(l.port_proto, sizeof l.port_proto, "%s",
               url_scheme_name(local.scheme));
      if (allocate_port(ls, l.port_proto, &l.port) != 0) {
        snprintf(why, len, "no free %s port left in the server's port_range",
                 l.port_proto);
        return WEFT_ELIMIT;
      }
    }
  }
  if (r && (r->scheme == URL_HTTP || r->scheme == URL_HTTPS) &&
      r->host_kind == URL_HOST_NAME) {
    hostname = r->host;
    struct lease *holder = find_hostname(ls, hostname);
    if (holder) {
      snprintf(why, len, "host name %s is already published by another tunnel",
               hostname);
      return WEFT_EADDRINUSE;
    }
  }
  if (host_only) {
    char vip[16];
    leases_addr_text(l.vip, vip, sizeof vip);
    snprintf(public_url, sizeof public_url, "%s://%s:%u",
             url_scheme_name(local.scheme), vip, local.port);
  } else if (l.port)
    snprintf(public_url, sizeof public_url, "%s://%s:%u", l.port_proto,
             req->public_host ? req->public_host : "", l.port);
  else if (*hostname && req->http_port && req->http_port != 80 &&
           r->scheme == URL_HTTP)
    snprintf(public_url, sizeof public_url, "http://%s:%u", hostname,
             req->http_port);
  else if (*hostname && req->tls_port && req->tls_port != 443 &&
           r->scheme == URL_HTTPS)
    snprintf(public_url, sizeof public_url, "https://%s:%u", hostname,
             req->tls_port);
  else if (*hostname)
    snprintf(public_url, sizeof public_url, "%s://%s",
             url_scheme_name(r->scheme), hostname);
  else
    snprintf(public_url, sizeof public_url, "%s/%s/",
             req->path_base ? req->path_base : "", id_text);

  l.tunnel_id = id_text;
  l.device_id = (char *)req->device_id;
  l.name = (char *)(req->name ? req->name : "");
  l.transport = (char *)req->transport;
  l.local_url = (char *)req->local_url;
  l.remote_url = (char *)(req->remote_text ? req->remote_text : "");
  l.public_url = public_url;
  l.allow_ips = (char *)(req->allow_ips ? req->allow_ips : "");
  l.hostname = (char *)hostname;
  l.created_at = now;
  l.expires_at = now + ls->cfg.ttl_s;
  l.idle_timeout_s = ls->cfg.idle_timeout_s;
  l.last_activity = now;
  l.last_persisted = now;

  /* What the checks above made sure of: every claim is free. */
  assert(!l.port || !port_bitmap(ls, l.port_proto) ||
         !bit_get(port_bitmap(ls, l.port_proto), l.port));
  assert(!l.vip || !bit_get(ls->addr_held, l.vip - ls->cfg.pool_net));
  struct lease *copy = lease_dup(&l);
  if (!copy) {
    snprintf(why, len, "out of memory");
    return WEFT_ENOMEM;
  }
  int rc = ls->store->ops->lease_insert(ls->store, copy);
  if (rc == WEFT_EEXIST) {
    /* Another server sharing the store got there first. */
    snprintf(why, len, "the device, port or host name is already held");
    lease_free(copy);
    return WEFT_EEXIST;
  }
  if (rc != 0 || (rc = add_item(ls, copy)) != 0) {
    snprintf(why, len, "the store could not record the lease");
    if (rc != WEFT_ENOMEM)
      lease_free(copy);
    return rc ? rc : WEFT_EIO;
  }
  char detail[URL_MAX_TEXT + 64];
  snprintf(detail, sizeof detail, "%s %s -> %s", copy->transport,
           copy->local_url, copy->public_url);
  audit(ls, now, "created", copy, req->device_id, detail);
  *out = copy;
  return 0;
}

int leases_release(struct leases *ls, const char *tunnel_id, const char *event,
                   const char *actor, const char *detail, int64_t now)
{
  for (size_t i = 0; i < ls->count; i++) {
    struct lease *l = ls->items[i];
    if (strcmp(l->tunnel_id, tunnel_id))
      continue;
    int64_t until = now + ls->cfg.quarantine_s;
    int rc = ls->store->ops->lease_delete(ls->store, l->tunnel_id, l->vip,
                                          until);
    if (rc != 0)
      return rc;
    audit(ls, now, event, l, actor, detail);
    remove_item(ls, i);
    if (l->vip)
      quarantine_add(ls, l->vip, until);
    lease_free(l);
    return 0;
  }
  return WEFT_ENOENT;
}

/* How often a busy tunnel's activity is written to the store: the idle
 * timer restored after a crash may be this much early. */
#define ACTIVITY_PERSIST_S 30

void leases_touch(struct leases *ls, struct lease *l, int64_t now)
{
  l->last_activity = now;
  if (now - l->last_persisted >= ACTIVITY_PERSIST_S &&
      ls->store->ops->lease_set_activity(ls->store, l->tunnel_id, now) == 0)
    l->last_persisted = now;
}

size_t leases_reap(struct leases *ls, int64_t now,
                   void (*on_reaped)(void *arg, const struct lease *l,
                                     const char *reason),
                   void *arg)
{
  size_t reaped = 0;
  quarantine_expire(ls, now);
  for (size_t i = 0; i < ls->count;) {
    struct lease *l = ls->items[i];
    renew(ls, l, now);
    const char *reason = expiry_reason(ls, l, now);
    if (!reason) {
      i++;
      continue;
    }
    if (on_reaped)
      on_reaped(arg, l, reason);
    /* on_reaped lets go of what uses the lease; freeing it is ours. */
    assert(i < ls->count && ls->items[i] == l);
    char id[64];
    snprintf(id, sizeof id, "%s", l->tunnel_id);
    if (leases_release(ls, id, reason, "server", NULL, now) != 0) {
      i++; /* the store failed; try again next time */
      continue;
    }
    reaped++;
  }
  return reaped;
}

int64_t leases_next_deadline(const struct leases *ls, int64_t now)
{
  int64_t best = -1;
  for (size_t i = 0; i < ls->count; i++) {
    const struct lease *l = ls->items[i];
    int64_t at = l->expires_at;
    if (l->last_activity + l->idle_timeout_s < at)
      at = l->last_activity + l->idle_timeout_s;
    int64_t end = lifetime_end(ls, l);
    if (end && end < at)
      at = end;
    int64_t in = at > now ? at - now : 0;
    if (best < 0 || in < best)
      best = in;
  }
  return best;
}
