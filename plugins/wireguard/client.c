/* The device's half of the wireguard transport: its key pair, its own
 * interface (its /32, a route to the server's /32 and nothing else), the
 * relay on its /32 to the local service, and the session on the server's
 * control port that keeps its peer there alive. */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/rand.h>

#include "backend.h"
#include "keys.h"
#include "kernel_path.h"
#include "nft.h"
#include "relay.h"
#include "udp_relay.h"
#include "rtnl.h"
#include "wireguard.h"

#define RESPONSE_MAX 2048

struct cl_tunnel {
  struct wireguard *wg;
  struct cl_tunnel *prev, *next;
  char id[32];
  uint8_t priv[WG_KEY_LEN];
  uint8_t server_key[WG_KEY_LEN];
  uint8_t psk[WG_KEY_LEN];
  struct wg_prefix addr, server_addr;
  char addr_text[INET_ADDRSTRLEN];
  struct wg_peer_set peer;      /* the server, as configured */
  struct wg_backend backend;
  bool backend_open;
  struct relay_listener *relay;
  struct udp_relay *udp_relay;  /* a udp tunnel's, instead of relay */
  uint16_t relay_port;
  /* The kernel path to a loopback service (nft.h, nft_device_script). */
  uint8_t loopback_target[4];   /* the service's IPv4 loopback address */
  uint16_t target_port;
  bool nat_wanted, nat_on;
  char table[32];               /* weft_ + the interface name */
  /* The session. */
  char server_host[256];
  uint16_t server_port;
  const char *server_cert;      /* the core's live pin, or NULL: plain */
  char token[4096];
  struct weft_stream *session;
  char response[RESPONSE_MAX];
  size_t response_used;
  bool session_up;
  bool connecting;
  struct weft_timer *ping;
  struct weft_reconnect again; /* after a lost session */
  uint64_t last_pong_ms;
  uint64_t ping_ms;             /* as the server asked */
  uint64_t last_tick_ms;        /* of ping_tick, to tell a stalled loop */
  bool closing, gone;
};

struct wg_client {
  struct cl_tunnel *tunnels;
};

static void schedule_reconnect(struct cl_tunnel *ct);

/* Where the tunnel stands, for weft tunnel status. */
#define REPORT(ct, phase, ...)                                               \
  weft_report_tunnel((ct)->wg->host, (ct)->id, phase,                          \
                     (ct)->again.attempts, __VA_ARGS__)

/* ---- keys (client_tunnel_prepare) ---- */

/* A device keeps one key pair per device id, under the run directory. */
static int key_path(const struct weft_host *h, const struct weft_tunnel_info *t,
                    char *buf, size_t len)
{
  const char *who = t->device_id ? t->device_id : t->name;
  if (!h->state_dir || !who || !*who || strlen(who) > 64 ||
      strspn(who, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789._-") != strlen(who) ||
      who[0] == '.')
    return -1;
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/keys", h->state_dir);
  if (mkdir(dir, 0700) != 0 && errno != EEXIST)
    return -1;
  snprintf(buf, len, "%s/%s.key", dir, who);
  return 0;
}

int wg_client_tunnel_prepare(void *ctx, const struct weft_tunnel_info *t,
                             void **tunnel_ctx)
{
  struct wireguard *wg = ctx;
  const struct weft_host *h = wg->host;
  char path[1200], why[512];
  if (key_path(h, t, path, sizeof path) != 0) {
    h->log(h, WEFT_LOG_ERROR, "no place for this device's WireGuard key "
                              "(run directory and a plain device id needed)");
    return WEFT_EINVAL;
  }
  struct cl_tunnel *ct = h->calloc(1, sizeof *ct);
  if (!ct)
    return WEFT_ENOMEM;
  ct->wg = wg;
  uint8_t pub[WG_KEY_LEN];
  if (wg_key_load_or_create(path, ct->priv, why, sizeof why) != 0 ||
      wg_key_public(pub, ct->priv) != 0) {
    h->log(h, WEFT_LOG_ERROR, "device key: %s", why);
    h->free(ct);
    return WEFT_EIO;
  }
  char b64[WG_KEY_B64_LEN];
  wg_key_to_base64(pub, b64);
  t->add_param(t->param_ctx, "wg_public_key", b64);
  *tunnel_ctx = ct;
  return 0;
}

/* ---- the interface ---- */

static int param_key(const struct weft_tunnel_info *t, const char *name,
                     uint8_t out[WG_KEY_LEN])
{
  const char *v = weft_tunnel_param(t, name);
  return v && wg_key_from_base64(v, out) == 0 ? 0 : -1;
}

static int param_host32(const struct weft_tunnel_info *t, const char *name,
                        struct wg_prefix *out)
{
  const char *v = weft_tunnel_param(t, name);
  struct in_addr a;
  if (!v || inet_pton(AF_INET, v, &a) != 1)
    return -1;
  *out = (struct wg_prefix){.family = AF_INET, .bits = 32};
  memcpy(out->addr, &a, 4);
  return 0;
}

/* The server's UDP endpoint: the host it named, or the one we dialed. */
static int resolve_endpoint(const char *host, const char *port,
                            struct wg_peer_set *peer, char *why, size_t len)
{
  struct addrinfo hints = {.ai_socktype = SOCK_DGRAM,
                           .ai_flags = AI_NUMERICSERV};
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(host, port, &hints, &res);
  if (rc != 0 || !res)
    return snprintf(why, len, "cannot resolve %s: %s", host,
                    gai_strerror(rc)),
           -1;
  peer->has_endpoint = true;
  peer->endpoint_family = res->ai_family;
  if (res->ai_family == AF_INET6) {
    struct sockaddr_in6 *sa = (struct sockaddr_in6 *)res->ai_addr;
    memcpy(peer->endpoint_addr, &sa->sin6_addr, 16);
    peer->endpoint_port = ntohs(sa->sin6_port);
  } else {
    struct sockaddr_in *sa = (struct sockaddr_in *)res->ai_addr;
    memcpy(peer->endpoint_addr, &sa->sin_addr, 4);
    peer->endpoint_port = ntohs(sa->sin_port);
  }
  freeaddrinfo(res);
  return 0;
}

static int read_params(struct cl_tunnel *ct, const struct weft_tunnel_info *t,
                       char *why, size_t len)
{
  const char *port = weft_tunnel_param(t, "wg_port");
  const char *keepalive = weft_tunnel_param(t, "wg_keepalive");
  const char *endpoint = weft_tunnel_param(t, "wg_endpoint");
  const char *ping = weft_tunnel_param(t, "session_ping_ms");
  long long ping_ms = ping ? strtoll(ping, NULL, 10) : 0;
  ct->ping_ms = ping_ms >= 200 && ping_ms <= 3600000
                    ? (uint64_t)ping_ms
                    : (uint64_t)ct->wg->conf->session_ping_ms;
  if (param_key(t, "wg_server_public_key", ct->server_key) != 0 ||
      param_key(t, "wg_preshared_key", ct->psk) != 0 ||
      param_host32(t, "wg_address", &ct->addr) != 0 ||
      param_host32(t, "wg_server_address", &ct->server_addr) != 0 || !port ||
      !t->server_host || !t->token || strlen(t->token) >= sizeof ct->token)
    return snprintf(why, len, "the server's answer lacks the WireGuard "
                              "parameters (keys, addresses, port) or the "
                              "token"),
           -1;
  inet_ntop(AF_INET, ct->addr.addr, ct->addr_text, sizeof ct->addr_text);
  struct wg_peer_set *p = &ct->peer;
  memcpy(p->public_key, ct->server_key, WG_KEY_LEN);
  p->has_psk = true;
  memcpy(p->psk, ct->psk, WG_KEY_LEN);
  long ka = keepalive ? strtol(keepalive, NULL, 10) : 25;
  p->has_keepalive = true;
  p->keepalive_s = ka >= 0 && ka <= 65535 ? (uint16_t)ka : 25;
  p->replace_allowed_ips = true;
  p->allowed_ips[0] = ct->server_addr; /* the server's /32, nothing more */
  p->allowed_ip_count = 1;
  return resolve_endpoint(endpoint && *endpoint ? endpoint : t->server_host,
                          port, p, why, len);
}

/* Several tunnels on one host all route the same server address, each
 * through its own interface: so each gets a routing table of its own,
 * chosen by source address (what leaves from our /32 goes back through our
 * interface). The main table gets nothing: no default route, no LAN
 * routes, no DNS. */
#define RULE_PRIORITY 5180
static uint32_t route_table(const struct wg_prefix *addr)
{
  /* Pools are /8 or narrower: the low 24 bits tell devices apart. */
  return 0x57000000u | ((uint32_t)addr->addr[1] << 16) |
         ((uint32_t)addr->addr[2] << 8) | addr->addr[3];
}

static struct wg_rule source_rule(const struct wg_prefix *addr)
{
  return (struct wg_rule){.from = *addr,
                          .table = route_table(addr),
                          .priority = RULE_PRIORITY};
}

/* With the kernel path to a loopback service, its replies leave from
 * 127.0.0.0/8 (NAT gives them our address after routing): they take our
 * table too, told from other tunnels' by the service's port. */
#define REPLY_RULE_PRIORITY (RULE_PRIORITY - 1)
static struct wg_rule reply_rule(const struct wg_prefix *addr,
                                 const struct wg_prefix *server, bool udp,
                                 uint16_t port)
{
  struct wg_rule r = source_rule(addr);
  r.from = (struct wg_prefix){.family = AF_INET, .bits = 8, .addr = {127}};
  r.has_to = true;
  r.to = *server;
  r.to.bits = 32;
  r.ip_proto = udp ? IPPROTO_UDP : IPPROTO_TCP;
  r.sport = port;
  r.priority = REPLY_RULE_PRIORITY;
  return r;
}

static void drop_rule(struct cl_tunnel *ct)
{
  char why[256];
  struct wg_rule r = source_rule(&ct->addr);
  rtnl_rule_del(&r, why, sizeof why);
}

static int configure_interface(struct cl_tunnel *ct, char *why, size_t len)
{
  struct wg_device_set dev = {.has_private_key = true, .replace_peers = true};
  memcpy(dev.private_key, ct->priv, WG_KEY_LEN);
  const char *ifname = ct->backend.ifname;
  struct wg_rule rule = source_rule(&ct->addr);
  drop_rule(ct); /* one left by a run that did not stop cleanly */
  if (wg_backend_set(&ct->backend, &dev, &ct->peer, 1, why, len) != 0 ||
      rtnl_addr_add(ifname, &ct->addr, why, len) != 0 ||
      rtnl_link_up(ifname, why, len) != 0 ||
      rtnl_route_add_table(ifname, &ct->server_addr, route_table(&ct->addr), why,
                           len) != 0 ||
      rtnl_rule_add(&rule, why, len) != 0)
    return -1;
  return 0;
}

/* ---- the kernel path to the service ---- */

static void iface_record(struct cl_tunnel *ct, bool with_nat);

/* The kernel path on this side: what the server sends our relay port is
 * NATed to the loopback service, so no byte passes through this process.
 * Where nft or the sysctl is refused, the relay carries on alone. */
static void device_table_name(const char *ifname, char *out, size_t len)
{
  snprintf(out, len, "weft_%s", ifname);
  for (char *c = out; *c; c++)
    if (*c >= 'A' && *c <= 'Z')
      *c = (char)(*c - 'A' + 'a');
    else if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')))
      *c = '_';
}

static void device_nat_apply(struct cl_tunnel *ct)
{
  const struct weft_host *h = ct->wg->host;
  if (!ct->nat_wanted)
    return;
  char why[512];
  device_table_name(ct->backend.ifname, ct->table, sizeof ct->table);
  char *script = nft_device_script(
      ct->table, ct->backend.ifname, ct->addr.addr, ct->udp_relay != NULL,
      ct->relay_port, ct->loopback_target, ct->target_port, why, sizeof why);
  int rc = script ? 0 : -1;
  struct wg_rule replies = reply_rule(&ct->addr, &ct->server_addr,
                                      ct->udp_relay != NULL, ct->target_port);
  if (rc == 0)
    rc = kernel_path_route_localnet(ct->backend.ifname, why, sizeof why);
  if (rc == 0 && !ct->nat_on) {
    rtnl_rule_del(&replies, why, sizeof why); /* a killed run's */
    rc = rtnl_rule_add(&replies, why, sizeof why) == 0 ? 0 : -1;
  }
  if (rc == 0 && nft_apply(script, why, sizeof why) != 0) {
    rc = -1;
    if (!ct->nat_on)
      rtnl_rule_del(&replies, NULL, 0);
  }
  free(script);
  if (rc != 0) {
    h->log(h, WEFT_LOG_WARN, "tunnel %s: no kernel path to the service, "
           "relaying through weft: %s", ct->id[0] ? ct->id : "-", why);
    return;
  }
  if (!ct->nat_on) {
    iface_record(ct, true);
    h->log(h, WEFT_LOG_INFO, "tunnel %s: port %u goes to %u.%u.%u.%u:%u by "
           "kernel NAT (table inet %s)", ct->id[0] ? ct->id : "-",
           ct->relay_port, ct->loopback_target[0], ct->loopback_target[1],
           ct->loopback_target[2], ct->loopback_target[3], ct->target_port,
           ct->table);
  }
  ct->nat_on = true;
}

static void drop_table(const struct weft_host *h, const char *table)
{
  char why[256];
  char *script = nft_delete_script(table);
  if (script && nft_apply(script, why, sizeof why) != 0)
    h->log(h, WEFT_LOG_WARN, "table inet %s not removed: %s", table, why);
  free(script);
}

static void device_nat_remove(struct cl_tunnel *ct)
{
  if (ct->nat_on) {
    drop_table(ct->wg->host, ct->table);
    char why[256];
    struct wg_rule replies = reply_rule(&ct->addr, &ct->server_addr,
                                        ct->udp_relay != NULL,
                                        ct->target_port);
    rtnl_rule_del(&replies, why, sizeof why);
  }
  ct->nat_on = false;
}

static void interface_restarted(void *arg)
{
  struct cl_tunnel *ct = arg;
  char why[512];
  if (configure_interface(ct, why, sizeof why) != 0)
    ct->wg->host->log(ct->wg->host, WEFT_LOG_ERROR,
                      "tunnel %s: reconfiguring the interface failed: %s",
                      ct->id, why);
  else if (ct->nat_on)
    device_nat_apply(ct); /* a new interface: route_localnet again */
}

/* ---- interfaces left by a killed run ----
 * Each open interface is recorded as RUN/plugins/wireguard/ifaces/NAME
 * ("PID ADDRESS"). A weft tunnel killed with -9 leaves its interface, its
 * routing rule and its wireguard-go behind; the next one removes those
 * whose process is gone (not those of other live agents on this host). */

static void iface_record_path(const struct weft_host *h, const char *ifname,
                              char *buf, size_t len)
{
  snprintf(buf, len, "%s/ifaces/%s", h->state_dir, ifname);
}

/* "PID ADDRESS", and with the kernel path "SERVER tcp|udp PORT" after
 * (what its reply rule holds). */
static void iface_record(struct cl_tunnel *ct, bool with_nat)
{
  const struct weft_host *h = ct->wg->host;
  if (!h->state_dir)
    return;
  char path[1200];
  snprintf(path, sizeof path, "%s/ifaces", h->state_dir);
  mkdir(path, 0700);
  iface_record_path(h, ct->backend.ifname, path, sizeof path);
  FILE *f = fopen(path, "w");
  if (f) {
    fprintf(f, "%ld %s", (long)getpid(), ct->addr_text);
    char server[INET_ADDRSTRLEN];
    if (with_nat && inet_ntop(AF_INET, ct->server_addr.addr, server,
                              sizeof server))
      fprintf(f, " %s %s %u", server, ct->udp_relay ? "udp" : "tcp",
              ct->target_port);
    fputc('\n', f);
    fclose(f);
  }
}

static void iface_forget(struct cl_tunnel *ct)
{
  const struct weft_host *h = ct->wg->host;
  char path[1200];
  if (h->state_dir) {
    iface_record_path(h, ct->backend.ifname, path, sizeof path);
    unlink(path);
  }
}

static void sweep_stale_ifaces(const struct weft_host *h)
{
  char dir[1100];
  if (!h->state_dir)
    return;
  snprintf(dir, sizeof dir, "%s/ifaces", h->state_dir);
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *e;
  while ((e = readdir(d))) {
    char path[1400], addr[INET_ADDRSTRLEN] = "", server[INET_ADDRSTRLEN] = "";
    char proto[4] = "";
    long pid = 0;
    unsigned port = 0;
    if (e->d_name[0] == '.' || !rtnl_name_ok(e->d_name))
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    FILE *f = fopen(path, "r");
    int got = f ? fscanf(f, "%ld %15s %15s %3s %u", &pid, addr, server, proto,
                         &port)
                : 0;
    if (f)
      fclose(f);
    if (got >= 2 && pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
      continue; /* its agent still runs */
    char why[256];
    struct wg_prefix gone = {.family = AF_INET, .bits = 32};
    if (got >= 2 && inet_pton(AF_INET, addr, gone.addr) == 1) {
      struct wg_rule r = source_rule(&gone);
      rtnl_rule_del(&r, why, sizeof why);
      struct wg_prefix srv = {.family = AF_INET, .bits = 32};
      if (got == 5 && inet_pton(AF_INET, server, srv.addr) == 1 && port &&
          port <= 65535) {
        r = reply_rule(&gone, &srv, !strcmp(proto, "udp"), (uint16_t)port);
        rtnl_rule_del(&r, why, sizeof why);
      }
    }
    char table[32];
    device_table_name(e->d_name, table, sizeof table);
    drop_table(h, table);
    if (rtnl_link_delete(e->d_name, why, sizeof why) == 0)
      h->log(h, WEFT_LOG_WARN, "removed interface %s, left by a weft tunnel "
             "that did not stop (pid %ld)", e->d_name, pid);
    unlink(path);
  }
  closedir(d);
}

/* ---- the relay on our /32 ---- */

static void relay_log(void *arg, const char *text)
{
  struct cl_tunnel *ct = arg;
  ct->wg->host->log(ct->wg->host, WEFT_LOG_WARN, "tunnel %s: %s", ct->id,
                    text);
}

static bool is_loopback(const struct sockaddr *sa)
{
  if (sa->sa_family == AF_INET)
    return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) ==
           127;
  return sa->sa_family == AF_INET6 &&
         IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

static int start_relay(struct cl_tunnel *ct, const struct weft_tunnel_info *t,
                       char *why, size_t len)
{
  char port[8];
  snprintf(port, sizeof port, "%u", t->local_port);
  bool udp = !strncmp(t->local_url, "udp://", 6);
  struct addrinfo hints = {.ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM,
                           .ai_flags = AI_NUMERICSERV};
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(t->local_host, port, &hints, &res);
  if (rc != 0 || !res)
    return snprintf(why, len, "cannot resolve the local service %s: %s",
                    t->local_host, gai_strerror(rc)),
           -1;
  struct sockaddr_in bind_addr = {.sin_family = AF_INET,
                                  .sin_port = htons(t->local_port)};
  memcpy(&bind_addr.sin_addr, ct->addr.addr, 4);
  uv_loop_t *loop = ct->wg->host->loop;
  /* The local port on our /32 first, so operators see the same port. */
  for (int attempt = 0; attempt < 2; attempt++) {
    rc = udp ? udp_relay_listen(loop, (struct sockaddr *)&bind_addr,
                                res->ai_addr, UDP_MAX_FLOWS, UDP_FLOW_IDLE_MS,
                                &ct->udp_relay, &ct->relay_port)
             : relay_listen(loop, (struct sockaddr *)&bind_addr, res->ai_addr,
                            relay_log, ct, &ct->relay, &ct->relay_port);
    if (rc != UV_EADDRINUSE)
      break;
    if (attempt == 0 && is_loopback(res->ai_addr)) {
      /* Taken on our /32 while the service is this host's: it listens on
       * all addresses, ours included. The server reaches it directly, with
       * no hop through us. */
      ct->relay_port = t->local_port;
      rc = 0;
      ct->wg->host->log(ct->wg->host, WEFT_LOG_INFO,
                        "tunnel %s: the service listens on all addresses: "
                        "reached directly at %s:%u",
                        ct->id[0] ? ct->id : "-", ct->addr_text,
                        t->local_port);
      break;
    }
    bind_addr.sin_port = 0;
  }
  if (rc == 0 && (ct->relay || ct->udp_relay) &&
      res->ai_addr->sa_family == AF_INET && is_loopback(res->ai_addr)) {
    memcpy(ct->loopback_target,
           &((const struct sockaddr_in *)res->ai_addr)->sin_addr, 4);
    ct->target_port = t->local_port;
    ct->nat_wanted = strcmp(ct->wg->conf->kernel_path, "off") != 0;
  }
  freeaddrinfo(res);
  if (rc != 0)
    return snprintf(why, len, "cannot listen on %s for the relay: %s",
                    ct->addr_text, uv_strerror(rc)),
           -1;
  return 0;
}

/* ---- the session ---- */

static void free_tunnel(struct cl_tunnel *ct)
{
  const struct weft_host *h = ct->wg->host;
  /* Last: no session and no dial still calls back with ct. */
  assert(!ct->session && !ct->connecting);
  struct wg_client *cl = ct->wg->client;
  if (cl) {
    if (ct->prev)
      ct->prev->next = ct->next;
    else if (cl->tunnels == ct)
      cl->tunnels = ct->next;
    if (ct->next)
      ct->next->prev = ct->prev;
  }
  h->free(ct);
}

static void stop_ping(struct cl_tunnel *ct)
{
  if (ct->ping) {
    ct->wg->host->timer_stop(ct->ping);
    ct->ping = NULL;
  }
}

static void ping_tick(void *arg)
{
  struct cl_tunnel *ct = arg;
  const struct weft_host *h = ct->wg->host;
  uint64_t now = h->now_ms(h);
  /* A loop that stood still may hold pongs unread: judge next time. */
  bool stalled = ct->last_tick_ms && now - ct->last_tick_ms > 2 * ct->ping_ms;
  ct->last_tick_ms = now;
  if (!ct->session)
    return;
  if (!stalled && now - ct->last_pong_ms > 3 * ct->ping_ms) {
    h->log(h, WEFT_LOG_WARN, "tunnel %s: the server %s", ct->id,
           ct->session_up ? "stopped answering"
                          : "did not answer the session request");
    h->stream_close(ct->session);
    return;
  }
  if (!ct->session_up)
    return; /* still waiting for its 101 */
  h->stream_write(ct->session, "ping\n", 5);
}

/* The server has just added our peer, perhaps in a fresh interface that
 * knows nothing of the WireGuard session we still hold: drop ours and set
 * the peer again, so a new handshake starts now rather than after
 * WireGuard's rekey timeout. */
static void fresh_handshake(struct cl_tunnel *ct)
{
  struct wg_peer_set gone = {.remove = true};
  memcpy(gone.public_key, ct->peer.public_key, WG_KEY_LEN);
  struct wg_device_set same = {0};
  char why[512];
  if (wg_backend_set(&ct->backend, &same, &gone, 1, why, sizeof why) != 0 ||
      wg_backend_set(&ct->backend, &same, &ct->peer, 1, why, sizeof why) != 0)
    ct->wg->host->log(ct->wg->host, WEFT_LOG_WARN,
                      "tunnel %s: resetting the server's peer: %s", ct->id,
                      why);
}

static void session_up(struct cl_tunnel *ct)
{
  const struct weft_host *h = ct->wg->host;
  ct->session_up = true;
  weft_reconnect_succeeded(&ct->again);
  ct->last_pong_ms = h->now_ms(h);
  fresh_handshake(ct);
  h->log(h, WEFT_LOG_INFO,
         "tunnel %s: up; this device is %s on %s, relaying port %u",
         ct->id, ct->addr_text, ct->backend.ifname, ct->relay_port);
  REPORT(ct, WEFT_TUNNEL_UP, "%s on %s", ct->addr_text, ct->backend.ifname);
}

/* The server's ping interval from its 101, if it names one: the timer
 * follows it from now on. */
static void adopt_ping_interval(struct cl_tunnel *ct, const char *head)
{
  const char *h = strcasestr(head, "\r\n" SESSION_PING_HEADER ":");
  if (!h)
    return;
  long long ms = strtoll(h + strlen("\r\n" SESSION_PING_HEADER ":"), NULL, 10);
  if (ms < 200 || ms > 3600000 || (uint64_t)ms == ct->ping_ms)
    return;
  const struct weft_host *host = ct->wg->host;
  ct->ping_ms = (uint64_t)ms;
  stop_ping(ct);
  host->timer_start(host, ct->ping_ms, ct->ping_ms, ping_tick, ct, &ct->ping);
}

/* The server's answer to the upgrade, then "pong" lines. */
static void session_read(void *arg, const void *data, size_t len)
{
  struct cl_tunnel *ct = arg;
  const struct weft_host *h = ct->wg->host;
  if (ct->session_up) {
    ct->last_pong_ms = h->now_ms(h);
    return;
  }
  if (len > sizeof ct->response - 1 - ct->response_used) {
    h->stream_close(ct->session);
    return;
  }
  memcpy(ct->response + ct->response_used, data, len);
  ct->response_used += len;
  ct->response[ct->response_used] = '\0';
  char *end = strstr(ct->response, "\r\n\r\n");
  if (!end)
    return;
  if (strncmp(ct->response, "HTTP/1.1 101 ", 13) != 0) {
    char *eol = strstr(ct->response, "\r\n");
    *eol = '\0';
    const char *body = end + 4;
    h->log(h, WEFT_LOG_WARN, "tunnel %s: the server refused the session: "
           "%s %s", ct->id, ct->response, body);
    REPORT(ct, WEFT_TUNNEL_RETRYING, "session refused: %s", ct->response);
    h->stream_close(ct->session);
    return;
  }
  adopt_ping_interval(ct, ct->response);
  session_up(ct);
}

static void session_eof(void *arg)
{
  struct cl_tunnel *ct = arg;
  ct->wg->host->stream_close(ct->session);
}

static void session_closed(void *arg, int err)
{
  struct cl_tunnel *ct = arg;
  struct wireguard *wg = ct->wg;
  const struct weft_host *h = wg->host;
  assert(ct->session && !ct->connecting); /* the session's stream ended */
  bool was_up = ct->session_up;
  ct->session = NULL;
  ct->session_up = false;
  stop_ping(ct);
  if (ct->closing) {
    free_tunnel(ct);
    wg_unref(wg);
    return;
  }
  /* destroy closes every tunnel first, so a tunnel not closing means a
   * plugin not destroyed: this cannot be the last ref. */
  assert(!wg->destroyed && wg->refs > 1);
  wg_unref(wg);
  if (was_up) {
    h->log(h, WEFT_LOG_WARN, "tunnel %s: session lost (%s)", ct->id,
           err ? weft_strerror(err) : "closed by the server");
    REPORT(ct, WEFT_TUNNEL_RETRYING, "session lost");
  }
  schedule_reconnect(ct);
}

static const struct weft_stream_cbs session_cbs = {
    .on_read = session_read,
    .on_eof = session_eof,
    .on_closed = session_closed,
};

static void send_request(struct cl_tunnel *ct)
{
  const struct weft_host *h = ct->wg->host;
  bool v6 = strchr(ct->server_host, ':') != NULL;
  char *req = h->alloc(sizeof ct->token + 1024);
  if (!req) {
    h->stream_close(ct->session);
    return;
  }
  int n = snprintf(req, sizeof ct->token + 1024,
                   "GET %s HTTP/1.1\r\nHost: %s%s%s:%u\r\n"
                   "Connection: Upgrade\r\nUpgrade: %s\r\n"
                   "Authorization: Bearer %s\r\n%s: %u\r\n\r\n",
                   SESSION_PATH, v6 ? "[" : "", ct->server_host,
                   v6 ? "]" : "", ct->server_port, SESSION_PROTOCOL,
                   ct->token, RELAY_PORT_HEADER, ct->relay_port);
  h->stream_write(ct->session, req, (size_t)n);
  h->free(req);
}

static void server_connected(void *arg, struct weft_stream *stream, int status)
{
  struct cl_tunnel *ct = arg;
  struct wireguard *wg = ct->wg;
  const struct weft_host *h = wg->host;
  assert(ct->connecting && !ct->session); /* the one dial in flight */
  ct->connecting = false;
  if (ct->closing) {
    if (stream)
      h->stream_close(stream);
    free_tunnel(ct);
    wg_unref(wg);
    return;
  }
  if (status == 0)
    wg->refs++; /* the session's, until session_closed */
  wg_unref(wg); /* the dial's */
  if (status != 0) {
    h->log(h, WEFT_LOG_WARN, "tunnel %s: cannot reach %s:%u: %s", ct->id,
           ct->server_host, ct->server_port, weft_strerror(status));
    REPORT(ct, WEFT_TUNNEL_RETRYING, "cannot reach %s:%u: %s",
           ct->server_host, ct->server_port, weft_strerror(status));
    schedule_reconnect(ct);
    return;
  }
  ct->session = stream;
  ct->response_used = 0;
  if (h->stream_start(stream, &session_cbs, ct) != 0) {
    h->stream_close(stream);
    ct->session = NULL;
    wg_unref(wg);
    schedule_reconnect(ct);
    return;
  }
  send_request(ct);
  /* The same timer bounds the wait for the server's answer. */
  ct->last_pong_ms = h->now_ms(h);
  ct->last_tick_ms = 0;
  h->timer_start(h, ct->ping_ms, ct->ping_ms, ping_tick, ct, &ct->ping);
}

static void dial(struct cl_tunnel *ct)
{
  const struct weft_host *h = ct->wg->host;
  /* One dial at a time, none with a session, none once closing (the
   * reconnect timer is cancelled then). */
  assert(!ct->connecting && !ct->session && !ct->closing);
  assert(!ct->wg->destroyed);
  ct->connecting = true;
  ct->wg->refs++;
  int rc = h->stream_connect(h, ct->server_host, ct->server_port,
                             ct->server_cert != NULL, ct->server_cert,
                             server_connected, ct);
  if (rc != 0) {
    ct->connecting = false;
    ct->wg->refs--;
    h->log(h, WEFT_LOG_WARN, "tunnel %s: cannot dial %s: %s", ct->id,
           ct->server_host, weft_strerror(rc));
    schedule_reconnect(ct);
  }
}

static void reconnect_gone(void *arg)
{
  struct cl_tunnel *ct = arg;
  ct->gone = true;
  REPORT(ct, WEFT_TUNNEL_FAILED, "the server no longer has this tunnel");
}

static void reconnect_dial(void *arg)
{
  dial(arg);
}

static void schedule_reconnect(struct cl_tunnel *ct)
{
  if (!ct->closing && !ct->gone)
    weft_reconnect_schedule(&ct->again);
}

/* ---- open and close ---- */

/* wft + the tunnel id's hex, 15 characters at most. */
static void interface_name(const char *id, char *out, size_t len)
{
  snprintf(out, len, "wft%.12s", id[0] == 't' ? id + 1 : id);
}

static void teardown(struct cl_tunnel *ct)
{
  device_nat_remove(ct); /* first: it needs to know which relay it was */
  if (ct->relay) {
    relay_close(ct->relay);
    ct->relay = NULL;
  }
  if (ct->udp_relay) {
    udp_relay_close(ct->udp_relay);
    ct->udp_relay = NULL;
  }
  if (ct->backend_open) {
    drop_rule(ct);
    wg_backend_close(&ct->backend);
    iface_forget(ct);
    ct->backend_open = false;
  }
}

int wg_client_tunnel_open(void *ctx, const struct weft_tunnel_info *t,
                          void **tunnel_ctx)
{
  struct wireguard *wg = ctx;
  const struct weft_host *h = wg->host;
  struct cl_tunnel *ct = *tunnel_ctx; /* from prepare; ours even on error */
  char why[1024];
  if (!ct)
    return WEFT_EINVAL;
  if (!wg->client) {
    if (!(wg->client = h->calloc(1, sizeof *wg->client))) {
      h->free(ct);
      return WEFT_ENOMEM;
    }
    sweep_stale_ifaces(h); /* once, before this process makes its own */
  }
  snprintf(ct->id, sizeof ct->id, "%s", t->id);
  snprintf(ct->server_host, sizeof ct->server_host, "%s", t->server_host);
  ct->server_port = t->server_port;
  ct->server_cert = WEFT_INFO_HAS(t, server_cert_sha256)
                        ? t->server_cert_sha256
                        : NULL;
  char ifname[16];
  interface_name(t->id, ifname, sizeof ifname);
  int rc = read_params(ct, t, why, sizeof why);
  if (rc == 0) {
    snprintf(ct->token, sizeof ct->token, "%s", t->token);
  uint32_t seed = 0;
  RAND_bytes((unsigned char *)&seed, sizeof seed);
  ct->again = (struct weft_reconnect){
      .host = h,
      .tunnel_id = ct->id,
      .token = ct->token,
      .token_size = sizeof ct->token,
      .min_ms = wg->conf->reconnect_min_ms,
      .max_ms = wg->conf->reconnect_max_ms,
      .seed = seed,
      .dial = reconnect_dial,
      .gone = reconnect_gone,
      .arg = ct,
  };
    rc = wg_backend_open(&ct->backend, h, wg->conf->backend, ifname,
                         wg->conf->wireguard_go, wg->conf->wireguard_go_log,
                         why, sizeof why);
    ct->backend_open = rc == 0;
    if (rc == 0)
      iface_record(ct, false);
  }
  if (rc == 0)
    rc = configure_interface(ct, why, sizeof why);
  if (rc == 0)
    rc = start_relay(ct, t, why, sizeof why);
  if (rc == 0)
    device_nat_apply(ct);
  if (rc != 0) {
    h->log(h, WEFT_LOG_ERROR, "tunnel %s: %s", t->id, why);
    teardown(ct);
    h->free(ct);
    return WEFT_EIO;
  }
  ct->backend.restarted = interface_restarted;
  ct->backend.arg = ct;
  h->log(h, WEFT_LOG_INFO, "tunnel %s: interface %s (%s), %s/32, a route to "
         "%s/32 only (from our address)",
         ct->id, ifname, wg_backend_name(&ct->backend), ct->addr_text,
         weft_tunnel_param(t, "wg_server_address"));
  ct->next = wg->client->tunnels;
  if (ct->next)
    ct->next->prev = ct;
  wg->client->tunnels = ct;
  REPORT(ct, WEFT_TUNNEL_CONNECTING, "opening the session");
  dial(ct);
  *tunnel_ctx = ct;
  return 0;
}

void wg_client_tunnel_close(void *ctx, void *tunnel_ctx)
{
  struct wireguard *wg = ctx;
  struct cl_tunnel *ct = tunnel_ctx;
  if (!ct->id[0]) { /* prepared, never opened */
    wg->host->free(ct);
    return;
  }
  ct->closing = true;
  weft_reconnect_cancel(&ct->again);
  stop_ping(ct);
  teardown(ct);
  if (ct->session)
    wg->host->stream_close(ct->session); /* session_closed frees ct */
  else if (!ct->connecting)
    free_tunnel(ct);
}

void wg_client_stop(struct wireguard *wg)
{
  if (!wg->client)
    return;
  while (wg->client->tunnels) {
    struct cl_tunnel *ct = wg->client->tunnels;
    /* Unlinked now: its last callbacks may come after the client is gone. */
    wg->client->tunnels = ct->next;
    ct->prev = ct->next = NULL;
    wg_client_tunnel_close(wg, ct);
  }
  wg->host->free(wg->client);
  wg->client = NULL;
}

void wg_client_status(struct wireguard *wg, char *buf, size_t len)
{
  size_t tunnels = 0, up = 0;
  for (struct cl_tunnel *ct = wg->client ? wg->client->tunnels : NULL; ct;
       ct = ct->next) {
    tunnels++;
    up += ct->session_up;
  }
  snprintf(buf, len, "device: %zu tunnel(s), %zu up", tunnels, up);
}
