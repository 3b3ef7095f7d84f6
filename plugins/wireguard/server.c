/* The server's half of the wireguard transport: one interface for every
 * device, a peer per tunnel that exists only while the device's session
 * does, the firewall table that follows the peers, and published ports
 * relayed to the device's /32. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kernel_path.h"
#include "rtnl.h"
#include "server_internal.h"
#include "splice.h"

/* A public connection waiting while the server dials the device's relay.
 * If the tunnel closes meanwhile, the core closes that connection with its
 * ingress: the dial is then cut loose (st NULL) and must not touch it. */
struct relay_dial {
  const struct weft_host *host;
  struct weft_stream *public_conn;
  struct srv_tunnel *st;
  struct relay_dial *next;
};

struct srv_tunnel *srv_find_tunnel(struct wg_server *srv, const char *id)
{
  for (struct srv_tunnel *st = srv->tunnels; st; st = st->next)
    if (!strcmp(st->id, id))
      return st;
  return NULL;
}

/* ---- the interface, its peers and the firewall ---- */

int srv_sync_firewall(struct wg_server *srv)
{
  const struct weft_host *h = host_of(srv);
  if (!srv->up)
    return 0;
  size_t n = 0;
  for (struct srv_tunnel *st = srv->tunnels; st; st = st->next)
    n++;
  struct nft_device *devs = h->calloc(n ? n : 1, sizeof *devs);
  if (!devs)
    return -1;
  size_t i = 0;
  bool forwards = kernel_path_host_forwards();
  for (struct srv_tunnel *st = srv->tunnels; st; st = st->next, i++) {
    snprintf(devs[i].tunnel_id, sizeof devs[i].tunnel_id, "%s", st->id);
    memcpy(devs[i].addr, st->addr, 4);
    memcpy(devs[i].ports, st->reach, st->reach_count * sizeof *st->reach);
    devs[i].port_count = st->reach_count;
    devs[i].relay_port = st->session ? st->relay_port : 0;
    devs[i].relay_udp = st->udp != NULL;
    /* The kernel path opens once the device's relay is known and its
     * peer is in the interface, and shuts with its session: then the
     * core's listener refuses, as before. (NATed to a /32 with no peer
     * yet, a connection's SYN would vanish in the interface: a second's
     * wait for its retransmission, seen in bench/wireguard.sh.) */
    if (st->publish.port && devs[i].relay_port && st->peer_added) {
      devs[i].publish = st->publish;
      devs[i].publish.from_other_hosts = forwards;
      if (!forwards && !srv->said_no_forwarding) {
        srv->said_no_forwarding = true;
        h->log(h, WEFT_LOG_INFO,
               "this host does not forward IPv4: public connections made "
               "on it take the kernel path, those from other hosts the "
               "relay through weft (net.ipv4.ip_forward=1 gives them the "
               "kernel path too)");
      }
    }
  }
  char why[512];
  char *script = nft_ruleset(srv->table, srv->backend.ifname, devs, n, why,
                             sizeof why);
  int rc = script && nft_apply(script, why, sizeof why) == 0 ? 0 : -1;
  if (rc != 0)
    h->log(h, WEFT_LOG_ERROR, "firewall table %s not updated: %s", srv->table,
           why);
  free(script);
  h->free(devs);
  /* A rebuilt table starts its counters from zero. */
  for (struct srv_tunnel *st = srv->tunnels; st; st = st->next)
    st->bytes_known = false;
  return rc;
}

int srv_set_peer(struct wg_server *srv, struct srv_tunnel *st, bool remove,
                    char *why, size_t whylen)
{
  struct wg_peer_set p = {.remove = remove};
  memcpy(p.public_key, st->device_key, WG_KEY_LEN);
  if (!remove) {
    p.has_psk = true;
    memcpy(p.psk, st->psk, WG_KEY_LEN);
    p.replace_allowed_ips = true;
    p.allowed_ips[0] = (struct wg_prefix){.family = AF_INET, .bits = 32};
    memcpy(p.allowed_ips[0].addr, st->addr, 4);
    p.allowed_ip_count = 1;
  }
  return wg_backend_set(&srv->backend, &(struct wg_device_set){0}, &p, 1, why,
                        whylen);
}

void srv_remove_peer(struct wg_server *srv, struct srv_tunnel *st,
                        const char *because)
{
  if (!st->peer_added)
    return;
  const struct weft_host *h = host_of(srv);
  /* Its kernel path closes first, while the rules still guard its /32. */
  st->peer_added = false;
  srv_sync_firewall(srv);
  char why[512];
  if (srv_set_peer(srv, st, true, why, sizeof why) != 0)
    h->log(h, WEFT_LOG_ERROR, "tunnel %s: removing its peer failed: %s",
           st->id, why);
  h->log(h, WEFT_LOG_INFO, "tunnel %s: peer %s removed (%s)", st->id,
         st->addr_text, because);
}

/* The interface as a fresh start needs it: key, port, address, up. */
static int configure_interface(struct wg_server *srv, char *why, size_t whylen)
{
  struct wireguard *wg = srv->wg;
  struct wg_device_set dev = {
      .has_private_key = true,
      .has_listen_port = true,
      .listen_port = (uint16_t)wg->conf->listen_port,
      .replace_peers = true,
  };
  memcpy(dev.private_key, srv->priv, WG_KEY_LEN);
  if (wg_backend_set(&srv->backend, &dev, NULL, 0, why, whylen) != 0)
    return -1;
  if (rtnl_addr_add(srv->backend.ifname, &srv->addr, why, whylen) != 0 ||
      rtnl_link_up(srv->backend.ifname, why, whylen) != 0)
    return -1;
  return 0;
}

/* wireguard-go came back empty: everything again, peers included. */
static void interface_restarted(void *arg)
{
  struct wg_server *srv = arg;
  const struct weft_host *h = host_of(srv);
  char why[512];
  if (configure_interface(srv, why, sizeof why) != 0) {
    h->log(h, WEFT_LOG_ERROR, "reconfiguring %s failed: %s",
           srv->backend.ifname, why);
    return;
  }
  for (struct srv_tunnel *st = srv->tunnels; st; st = st->next)
    if (st->peer_added && srv_set_peer(srv, st, false, why, sizeof why) != 0)
      h->log(h, WEFT_LOG_ERROR, "tunnel %s: peer not restored: %s", st->id,
             why);
}

/* ---- the periodic tick: dead sessions, and operator traffic ---- */

static void on_counter(void *arg, const char *tunnel_id, uint64_t packets,
                       uint64_t bytes)
{
  struct wg_server *srv = arg;
  (void)packets;
  struct srv_tunnel *st = srv_find_tunnel(srv, tunnel_id);
  if (!st)
    return;
  /* What the server sent the device: real traffic (keepalives never cross
   * the interface), so the lease is in use. */
  const struct weft_host *h = host_of(srv);
  if (st->bytes_known && bytes != st->last_bytes && h->lease_touch)
    h->lease_touch(h, st->id);
  st->last_bytes = bytes;
  st->bytes_known = true;
}

static void tick(void *arg)
{
  struct wg_server *srv = arg;
  const struct weft_host *h = host_of(srv);
  const struct wireguard_conf *conf = srv->wg->conf;
  uint64_t now = h->now_ms(h);
  /* After the loop stood still (a slow start of wireguard-go, a busy
   * machine), pings may wait unread behind this timer: judge next time. */
  bool stalled = srv->last_tick_ms &&
                 now - srv->last_tick_ms > 2 * (uint64_t)srv->tick_every_ms;
  srv->last_tick_ms = now;
  if (!srv->swept) {
    /* Restored tunnels are open by now. If one failed to open, its lease
     * still stands: keep every key, it may open at the next start. */
    if (!srv->restore_failed)
      srv_sweep_tunnel_files(srv);
    srv->swept = true;
  }
  for (struct srv_session *s = stalled ? NULL : srv->sessions; s;
       s = s->next) {
    if (!s->closing &&
        now - s->last_heard_ms > 3 * (uint64_t)conf->session_ping_ms) {
      h->log(h, WEFT_LOG_INFO, "tunnel %s: device session silent; ending it",
             s->st ? s->st->id : "-");
      srv_session_close(s);
    }
  }
  if (now - srv->last_poll_ms >= (uint64_t)conf->activity_poll_ms) {
    srv->last_poll_ms = now;
    char why[256];
    if (srv->tunnels && nft_read_counters(srv->table, on_counter, srv, why,
                                          sizeof why) != 0)
      h->log(h, WEFT_LOG_DEBUG, "reading counters: %s", why);
  }
}

/* ---- bringing the interface up ---- */

/* An interface (and its table) of ours that a run which did not stop
 * cleanly left behind: gone at start, so no peer, address, route or rule
 * of it survives. (One server per interface name and namespace.) */
static void remove_stale(struct wg_server *srv)
{
  const struct weft_host *h = host_of(srv);
  const char *ifname = srv->wg->conf->interface;
  if (!rtnl_link_exists(ifname))
    return;
  char why[512];
  h->log(h, WEFT_LOG_WARN, "removing a stale interface %s and its firewall "
         "table", ifname);
  rtnl_link_delete(ifname, why, sizeof why);
  char *script = nft_delete_script(srv->table);
  if (script && nft_apply(script, why, sizeof why) != 0)
    h->log(h, WEFT_LOG_WARN, "firewall table %s: %s", srv->table, why);
  free(script);
}

/* The interface comes up with the first tunnel, so a server that carries
 * no WireGuard tunnel never touches the host's network. */
static int ensure_interface(struct wg_server *srv)
{
  if (srv->up)
    return 0;
  struct wireguard *wg = srv->wg;
  const struct weft_host *h = wg->host;
  char why[1024];
  if (wg_backend_open(&srv->backend, h, wg->conf->backend,
                      wg->conf->interface, wg->conf->wireguard_go,
                      wg->conf->wireguard_go_log, why, sizeof why) != 0 ||
      configure_interface(srv, why, sizeof why) != 0) {
    h->log(h, WEFT_LOG_ERROR, "interface %s: %s", wg->conf->interface, why);
    wg_backend_close(&srv->backend);
    return WEFT_EIO;
  }
  srv->backend.restarted = interface_restarted;
  srv->backend.arg = srv;
  srv->up = true;
  h->log(h, WEFT_LOG_INFO,
         "interface %s up: %s, UDP port %lld, address %s/%u, public key %s",
         wg->conf->interface, wg_backend_name(&srv->backend),
         (long long)wg->conf->listen_port, h->server_address, srv->addr.bits,
         srv->pub_b64);
  return 0;
}

/* ---- tunnels ---- */

static int parse_address(const char *text, uint8_t out[4])
{
  struct in_addr a;
  if (!text || inet_pton(AF_INET, text, &a) != 1)
    return -1;
  memcpy(out, &a, 4);
  return 0;
}

/* The device's public key from its create request: a real X25519 point,
 * not one another live tunnel already uses. */
static int take_device_key(struct wg_server *srv, struct srv_tunnel *st,
                           const struct weft_tunnel_info *t)
{
  const struct weft_host *h = host_of(srv);
  const char *key = weft_tunnel_param(t, "wg_public_key");
  uint8_t shared[WG_KEY_LEN];
  if (!key || wg_key_from_base64(key, st->device_key) != 0 ||
      wg_key_shared(shared, srv->priv, st->device_key) != 0) {
    h->log(h, WEFT_LOG_ERROR, "tunnel %s: the device sent no usable "
           "WireGuard public key (wg_public_key)", t->id);
    return WEFT_EINVAL;
  }
  for (struct srv_tunnel *o = srv->tunnels; o; o = o->next)
    if (!memcmp(o->device_key, st->device_key, WG_KEY_LEN)) {
      h->log(h, WEFT_LOG_ERROR, "tunnel %s: its WireGuard key is already "
             "used by tunnel %s", t->id, o->id);
      return WEFT_EEXIST;
    }
  wg_key_random(st->psk);
  return 0;
}

static void hand_params(struct wg_server *srv, const struct srv_tunnel *st,
                        const struct weft_tunnel_info *t)
{
  const struct wireguard_conf *conf = srv->wg->conf;
  char psk[WG_KEY_B64_LEN], port[24], keepalive[24];
  wg_key_to_base64(st->psk, psk);
  snprintf(port, sizeof port, "%lld", (long long)conf->listen_port);
  snprintf(keepalive, sizeof keepalive, "%lld",
           (long long)(conf->keepalive_ms / 1000));
  char server_addr[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, srv->addr.addr, server_addr, sizeof server_addr);
  t->add_param(t->param_ctx, "wg_server_public_key", srv->pub_b64);
  t->add_param(t->param_ctx, "wg_preshared_key", psk);
  t->add_param(t->param_ctx, "wg_address", st->addr_text);
  t->add_param(t->param_ctx, "wg_server_address", server_addr);
  t->add_param(t->param_ctx, "wg_port", port);
  t->add_param(t->param_ctx, "wg_keepalive", keepalive);
  t->add_param(t->param_ctx, "session_path", SESSION_PATH);
  /* The device pings at the server's pace, which is what it judges by. */
  char ping[24];
  snprintf(ping, sizeof ping, "%lld", (long long)conf->session_ping_ms);
  t->add_param(t->param_ctx, "session_ping_ms", ping);
  if (conf->endpoint && *conf->endpoint)
    t->add_param(t->param_ctx, "wg_endpoint", conf->endpoint);
}

/* Whether the tunnel's published port takes the kernel path, said once. */
static void choose_path(struct wg_server *srv, struct srv_tunnel *st,
                        const struct weft_tunnel_info *t)
{
  const struct weft_host *h = host_of(srv);
  char why[160];
  if (!strcmp(srv->wg->conf->kernel_path, "off") || !t->public_port)
    return;
  if (kernel_path_of(t, &st->publish, why, sizeof why) != 0)
    h->log(h, WEFT_LOG_INFO, "tunnel %s: its public port is relayed "
           "through weft: %s", st->id, why);
  else
    h->log(h, WEFT_LOG_INFO, "tunnel %s: %s port %u goes to the device by "
           "kernel NAT once it is connected", st->id, t->public_proto,
           t->public_port);
}

int wg_server_tunnel_open(void *ctx, const struct weft_tunnel_info *t,
                          void **tunnel_ctx)
{
  struct wireguard *wg = ctx;
  struct wg_server *srv = wg->server;
  const struct weft_host *h = wg->host;
  if (!srv)
    return WEFT_ENOTSUP;
  bool restoring = t->param_count == 0; /* a create always brings a key */
  int up = ensure_interface(srv);
  if (up != 0) {
    srv->restore_failed |= restoring;
    return up;
  }
  struct srv_tunnel *st = h->calloc(1, sizeof *st);
  if (!st)
    return WEFT_ENOMEM;
  st->srv = srv;
  snprintf(st->id, sizeof st->id, "%s", t->id);
  snprintf(st->device_id, sizeof st->device_id, "%s", t->device_id);
  int rc = 0;
  if (parse_address(t->address, st->addr) != 0) {
    h->log(h, WEFT_LOG_ERROR, "tunnel %s has no pool address", t->id);
    rc = WEFT_EINVAL;
  } else if (!WEFT_INFO_HAS(t, reach_ports) || !t->reach_ports) {
    h->log(h, WEFT_LOG_ERROR, "this weft is too old for the wireguard "
                              "plugin (needs plugin ABI 1.3)");
    rc = WEFT_ENOTSUP;
  } else {
    snprintf(st->addr_text, sizeof st->addr_text, "%s", t->address);
    int n = wg_parse_ports(t->reach_ports, st->reach, NFT_MAX_PORT_RANGES);
    st->reach_count = n > 0 ? (size_t)n : 0;
    if (t->param_count == 0) { /* restored after a restart */
      if (srv_load_tunnel(srv, st) != 0) {
        h->log(h, WEFT_LOG_ERROR, "tunnel %s: no saved WireGuard keys",
               t->id);
        rc = WEFT_ENOENT;
      }
    } else if ((rc = take_device_key(srv, st, t)) == 0 &&
               srv_save_tunnel(srv, st) != 0) {
      h->log(h, WEFT_LOG_ERROR, "tunnel %s: cannot save its keys in %s",
             t->id, srv->tunnels_dir);
      rc = WEFT_EIO;
    }
  }
  if (rc == 0 && t->public_proto && !strcmp(t->public_proto, "udp") &&
      !(st->udp = udp_flows_new(h, st->id, UDP_MAX_FLOWS, UDP_FLOW_IDLE_MS)))
    rc = WEFT_ENOMEM;
  if (rc != 0) {
    srv->restore_failed |= restoring;
    h->free(st);
    return rc;
  }
  if (t->add_param)
    hand_params(srv, st, t);
  choose_path(srv, st, t);
  st->next = srv->tunnels;
  srv->tunnels = st;
  srv_sync_firewall(srv);
  *tunnel_ctx = st;
  return 0;
}

void wg_server_tunnel_close(void *ctx, void *tunnel_ctx, int reason)
{
  struct wireguard *wg = ctx;
  struct wg_server *srv = wg->server;
  struct srv_tunnel *st = tunnel_ctx;
  for (struct srv_tunnel **pp = &srv->tunnels; *pp; pp = &(*pp)->next)
    if (*pp == st) {
      *pp = st->next;
      break;
    }
  if (st->session) {
    st->session->st = NULL;
    srv_session_close(st->session); /* the device hears its tunnel is gone */
  }
  udp_flows_free(st->udp);
  for (struct relay_dial *d = st->dials; d; d = d->next)
    d->st = NULL; /* they finish on their own; see relay_dial */
  srv_remove_peer(srv, st, reason == WEFT_ETIMEDOUT ? "lease ended"
                       : reason == WEFT_ECANCELED ? "server stopping"
                                                  : "tunnel deleted");
  /* (reason values: sdk/weft/plugin.h, server_tunnel_close) */
  srv_sync_firewall(srv);
  /* A stopping server keeps the keys for the restart; otherwise the
   * tunnel is over. */
  if (reason != WEFT_ECANCELED) {
    char path[1100];
    srv_state_path(srv, st->id, path, sizeof path);
    unlink(path);
  }
  wg->host->free(st);
}

void wg_server_tunnel_reach(void *ctx, void *tunnel_ctx,
                            const char *reach_ports)
{
  struct wireguard *wg = ctx;
  struct srv_tunnel *st = tunnel_ctx;
  int n = wg_parse_ports(reach_ports, st->reach, NFT_MAX_PORT_RANGES);
  st->reach_count = n > 0 ? (size_t)n : 0;
  wg->host->log(wg->host, WEFT_LOG_INFO, "tunnel %s: reach ports now \"%s\"",
                st->id, reach_ports);
  srv_sync_firewall(wg->server);
}

/* ---- published ports: public connection -> device's relay ---- */

static void device_connected(void *arg, struct weft_stream *stream, int status)
{
  struct relay_dial *d = arg;
  const struct weft_host *h = d->host;
  if (!d->st) { /* the tunnel is gone, and its public connection with it */
    if (stream)
      h->stream_close(stream);
    h->free(d);
    return;
  }
  for (struct relay_dial **pp = &d->st->dials; *pp; pp = &(*pp)->next)
    if (*pp == d) {
      *pp = d->next;
      break;
    }
  if (status != 0) {
    h->log(h, WEFT_LOG_INFO, "cannot reach the device's relay: %s",
           weft_strerror(status));
    h->stream_close(d->public_conn);
  } else {
    splice_streams(h, d->public_conn, stream);
  }
  h->free(d);
}

int wg_server_stream_open(void *ctx, void *tunnel_ctx,
                          struct weft_stream *conn)
{
  struct wireguard *wg = ctx;
  const struct weft_host *h = wg->host;
  struct srv_tunnel *st = tunnel_ctx;
  if (!st->peer_added || !st->relay_port)
    return WEFT_ECONNREFUSED; /* the device is not connected */
  struct relay_dial *d = h->alloc(sizeof *d);
  if (!d)
    return WEFT_ENOMEM;
  *d = (struct relay_dial){h, conn, st, st->dials};
  int rc = h->stream_connect(h, st->addr_text, st->relay_port, false, NULL,
                             device_connected, d);
  if (rc != 0)
    h->free(d);
  else
    st->dials = d;
  return rc;
}

/* A public datagram of a udp tunnel: on to the device's relay. */
int wg_server_datagram(void *ctx, void *tunnel_ctx,
                       const struct weft_udp_peer *peer, const void *data,
                       size_t len)
{
  (void)ctx;
  struct srv_tunnel *st = tunnel_ctx;
  if (!st->udp || !st->peer_added)
    return WEFT_ECONNREFUSED; /* the device is not connected: dropped */
  return udp_flows_send(st->udp, peer, data, len);
}

/* ---- start and stop ---- */

static int parse_pool(const char *pool, const char *server_address,
                      struct wg_prefix *out)
{
  const char *slash = pool ? strchr(pool, '/') : NULL;
  if (!slash || !server_address)
    return -1;
  long bits = strtol(slash + 1, NULL, 10);
  struct in_addr a;
  if (bits < 8 || bits > 30 || inet_pton(AF_INET, server_address, &a) != 1)
    return -1;
  *out = (struct wg_prefix){.family = AF_INET, .bits = (uint8_t)bits};
  memcpy(out->addr, &a, 4);
  return 0;
}

int wg_server_start(struct wireguard *wg)
{
  const struct weft_host *h = wg->host;
  struct wg_server *srv = h->calloc(1, sizeof *srv);
  if (!srv)
    return WEFT_ENOMEM;
  srv->wg = wg;
  char why[1024];
  if (parse_pool(h->pool, h->server_address, &srv->addr) != 0) {
    h->log(h, WEFT_LOG_ERROR, "the server's pool %s is not usable here",
           h->pool ? h->pool : "(none)");
    h->free(srv);
    return WEFT_ECONFIG;
  }
  char key_path[1100];
  snprintf(key_path, sizeof key_path, "%s/server.key", h->state_dir);
  snprintf(srv->tunnels_dir, sizeof srv->tunnels_dir, "%s/tunnels",
           h->state_dir);
  if ((mkdir(srv->tunnels_dir, 0700) != 0 && errno != EEXIST) ||
      wg_key_load_or_create(key_path, srv->priv, why, sizeof why) != 0 ||
      wg_key_public(srv->pub, srv->priv) != 0) {
    h->log(h, WEFT_LOG_ERROR, "server key: %s", why);
    h->free(srv);
    return WEFT_EIO;
  }
  wg_key_to_base64(srv->pub, srv->pub_b64);
  /* One table per interface, so two servers in one namespace never meet. */
  snprintf(srv->table, sizeof srv->table, "weft_%s", wg->conf->interface);
  for (char *c = srv->table; *c; c++) /* nft table names: [a-z0-9_] */
    *c = *c >= 'A' && *c <= 'Z' ? (char)(*c - 'A' + 'a')
         : (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ? *c
                                                                : '_';
  srv->backend.host = NULL; /* not open until the first tunnel */
  wg->server = srv;
  remove_stale(srv);
  uint64_t every = (uint64_t)wg->conf->session_ping_ms;
  if ((uint64_t)wg->conf->activity_poll_ms < every)
    every = (uint64_t)wg->conf->activity_poll_ms;
  srv->tick_every_ms = every;
  h->timer_start(h, 0, every, tick, srv, &srv->tick);
  return 0;
}

void wg_server_stop(struct wireguard *wg)
{
  struct wg_server *srv = wg->server;
  if (!srv)
    return;
  const struct weft_host *h = wg->host;
  if (srv->tick)
    h->timer_stop(srv->tick);
  /* Sessions still open now close after we are gone: forget them. */
  for (struct srv_session *s = srv->sessions, *next; s; s = next) {
    next = s->next;
    s->st = NULL;
    s->srv = NULL;
    srv_session_close(s);
  }
  srv->sessions = NULL;
  if (srv->up) {
    char why[256];
    char *script = nft_delete_script(srv->table);
    if (!script || nft_apply(script, why, sizeof why) != 0)
      h->log(h, WEFT_LOG_ERROR, "firewall table %s not removed", srv->table);
    free(script);
    wg_backend_close(&srv->backend);
    h->log(h, WEFT_LOG_INFO, "interface %s and its firewall table removed",
           srv->backend.ifname);
  }
  wg->server = NULL;
  h->free(srv);
}

void wg_server_status(struct wireguard *wg, char *buf, size_t len)
{
  struct wg_server *srv = wg->server;
  size_t tunnels = 0, peers = 0;
  for (struct srv_tunnel *st = srv->tunnels; st; st = st->next) {
    tunnels++;
    peers += st->peer_added;
  }
  char probe[600];
  wg_backend_probe(wg->conf->backend, wg->conf->wireguard_go, probe,
                   sizeof probe);
  if (!srv->up)
    snprintf(buf, len, "%s; interface %s comes up with the first tunnel",
             probe, wg->conf->interface);
  else
    snprintf(buf, len, "%s on %s (UDP %lld); %zu tunnel(s), %zu peer(s) "
             "connected; %llu session(s) admitted, %llu refused",
             wg_backend_name(&srv->backend), srv->backend.ifname,
             (long long)wg->conf->listen_port, tunnels, peers,
             (unsigned long long)srv->sessions_total,
             (unsigned long long)srv->refused);
}
