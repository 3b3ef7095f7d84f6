/* The server's half of the wireguard transport: one interface for every
 * device, a peer per tunnel that exists only while the device's session
 * does, the firewall table that follows the peers, and published ports
 * relayed to the device's /32. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "keys.h"
#include "nft.h"
#include "rtnl.h"
#include "splice.h"
#include "wireguard.h"

struct srv_session;

struct srv_tunnel {
  struct wg_server *srv;
  struct srv_tunnel *next;
  char id[32];
  char device_id[64];
  uint8_t addr[4];
  char addr_text[16];
  uint8_t device_key[WG_KEY_LEN];
  uint8_t psk[WG_KEY_LEN];
  struct nft_port_range reach[NFT_MAX_PORT_RANGES];
  size_t reach_count;
  uint16_t relay_port;        /* where the device relays, from its session */
  struct srv_session *session;
  bool peer_added;
  uint64_t last_bytes;        /* the device's nft counter at the last poll */
  bool bytes_known;
};

/* A device's session: an upgraded control-port connection that carries
 * only "ping"/"pong" lines; its end ends the peer. */
struct srv_session {
  const struct weft_host *host;
  struct wg_server *srv;      /* NULL once the server stopped */
  struct srv_session *next;
  struct srv_tunnel *st;      /* NULL once replaced or its tunnel closed */
  struct weft_stream *stream;
  char line[16];
  size_t used;
  uint64_t last_heard_ms;
  bool closing;
};

struct wg_server {
  struct wireguard *wg;
  struct wg_backend backend;
  uint8_t priv[WG_KEY_LEN];
  uint8_t pub[WG_KEY_LEN];
  char pub_b64[WG_KEY_B64_LEN];
  struct wg_prefix addr;      /* the server's address, pool prefix length */
  char table[40];
  char tunnels_dir[1024];
  struct srv_tunnel *tunnels;
  struct srv_session *sessions;
  struct weft_timer *tick;
  uint64_t last_poll_ms;
  bool swept;                 /* stale tunnel files removed */
  bool up;                    /* the interface exists (first tunnel on) */
  uint64_t sessions_total, refused;
};

/* ---- small helpers ---- */

static const struct weft_host *host_of(struct wg_server *srv)
{
  return srv->wg->host;
}

static void state_path(struct wg_server *srv, const char *id, char *buf,
                       size_t len)
{
  snprintf(buf, len, "%s/%s.json", srv->tunnels_dir, id);
}

/* The tunnel's keys, kept so a restarted server can take its device back
 * (the create request that carried them is not sent again). */
static int save_tunnel(struct wg_server *srv, const struct srv_tunnel *st)
{
  char key[WG_KEY_B64_LEN], psk[WG_KEY_B64_LEN];
  wg_key_to_base64(st->device_key, key);
  wg_key_to_base64(st->psk, psk);
  json_t *doc = json_pack("{s:s, s:s, s:s}", "device_id", st->device_id,
                          "device_public_key", key, "preshared_key", psk);
  char path[1100], tmp[1110];
  state_path(srv, st->id, path, sizeof path);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int rc = fd >= 0 && doc && json_dumpfd(doc, fd, 0) == 0 ? 0 : -1;
  if (fd >= 0 && (fsync(fd) != 0 || close(fd) != 0))
    rc = -1;
  if (rc == 0 && rename(tmp, path) != 0)
    rc = -1;
  if (rc != 0)
    unlink(tmp);
  json_decref(doc);
  return rc;
}

static int load_tunnel(struct wg_server *srv, struct srv_tunnel *st)
{
  char path[1100];
  state_path(srv, st->id, path, sizeof path);
  json_t *doc = json_load_file(path, 0, NULL);
  const char *key = NULL, *psk = NULL;
  int rc = doc && json_unpack(doc, "{s:s, s:s}", "device_public_key", &key,
                              "preshared_key", &psk) == 0 &&
                   wg_key_from_base64(key, st->device_key) == 0 &&
                   wg_key_from_base64(psk, st->psk) == 0
               ? 0
               : -1;
  json_decref(doc);
  return rc;
}

/* Files of tunnels that were not restored: their leases are gone. */
static void sweep_tunnel_files(struct wg_server *srv)
{
  DIR *d = opendir(srv->tunnels_dir);
  if (!d)
    return;
  struct dirent *e;
  while ((e = readdir(d))) {
    char id[64];
    size_t n = strlen(e->d_name);
    if (n < 6 || n - 5 >= sizeof id || strcmp(e->d_name + n - 5, ".json"))
      continue;
    memcpy(id, e->d_name, n - 5);
    id[n - 5] = '\0';
    bool live = false;
    for (struct srv_tunnel *st = srv->tunnels; st; st = st->next)
      live |= !strcmp(st->id, id);
    if (!live) {
      char path[1100];
      state_path(srv, id, path, sizeof path);
      unlink(path);
    }
  }
  closedir(d);
}

/* ---- the interface, its peers and the firewall ---- */

static void sync_firewall(struct wg_server *srv)
{
  const struct weft_host *h = host_of(srv);
  if (!srv->up)
    return;
  size_t n = 0;
  for (struct srv_tunnel *st = srv->tunnels; st; st = st->next)
    n++;
  struct nft_device *devs = h->calloc(n ? n : 1, sizeof *devs);
  if (!devs)
    return;
  size_t i = 0;
  for (struct srv_tunnel *st = srv->tunnels; st; st = st->next, i++) {
    snprintf(devs[i].tunnel_id, sizeof devs[i].tunnel_id, "%s", st->id);
    memcpy(devs[i].addr, st->addr, 4);
    memcpy(devs[i].ports, st->reach, st->reach_count * sizeof *st->reach);
    devs[i].port_count = st->reach_count;
    devs[i].relay_port = st->peer_added ? st->relay_port : 0;
  }
  char why[512];
  char *script = nft_ruleset(srv->table, srv->backend.ifname, devs, n, why,
                             sizeof why);
  if (!script || nft_apply(script, why, sizeof why) != 0)
    h->log(h, WEFT_LOG_ERROR, "firewall table %s not updated: %s", srv->table,
           why);
  free(script);
  h->free(devs);
  /* A rebuilt table starts its counters from zero. */
  for (struct srv_tunnel *st = srv->tunnels; st; st = st->next)
    st->bytes_known = false;
}

static int set_peer(struct wg_server *srv, struct srv_tunnel *st, bool remove,
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

static void remove_peer(struct wg_server *srv, struct srv_tunnel *st,
                        const char *because)
{
  if (!st->peer_added)
    return;
  const struct weft_host *h = host_of(srv);
  char why[512];
  if (set_peer(srv, st, true, why, sizeof why) != 0)
    h->log(h, WEFT_LOG_ERROR, "tunnel %s: removing its peer failed: %s",
           st->id, why);
  st->peer_added = false;
  h->log(h, WEFT_LOG_INFO, "tunnel %s: peer %s removed (%s)", st->id,
         st->addr_text, because);
  sync_firewall(srv);
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
    if (st->peer_added && set_peer(srv, st, false, why, sizeof why) != 0)
      h->log(h, WEFT_LOG_ERROR, "tunnel %s: peer not restored: %s", st->id,
             why);
}

/* ---- sessions ---- */

static void session_free(struct srv_session *s)
{
  struct wg_server *srv = s->srv;
  if (srv)
    for (struct srv_session **pp = &srv->sessions; *pp; pp = &(*pp)->next)
      if (*pp == s) {
        *pp = s->next;
        break;
      }
  s->host->free(s);
}

static void session_close(struct srv_session *s)
{
  if (!s->closing) {
    s->closing = true;
    s->host->stream_close(s->stream);
  }
}

static void session_read(void *ctx, const void *data, size_t len)
{
  struct srv_session *s = ctx;
  const struct weft_host *h = s->host;
  const char *p = data;
  for (size_t i = 0; i < len && !s->closing; i++) {
    if (p[i] != '\n') {
      if (s->used + 1 >= sizeof s->line) {
        session_close(s); /* not our protocol */
        return;
      }
      s->line[s->used++] = p[i];
      continue;
    }
    s->line[s->used] = '\0';
    s->used = 0;
    if (strcmp(s->line, "ping") != 0) {
      session_close(s);
      return;
    }
    s->last_heard_ms = h->now_ms(h);
    h->stream_write(s->stream, "pong\n", 5);
  }
}

static void session_eof(void *ctx)
{
  session_close(ctx);
}

static void session_closed(void *ctx, int err)
{
  struct srv_session *s = ctx;
  struct srv_tunnel *st = s->st;
  (void)err;
  if (st && st->session == s) {
    st->session = NULL;
    remove_peer(s->srv, st, "the device's session ended");
  }
  session_free(s);
}

static const struct weft_stream_cbs session_cbs = {
    .on_read = session_read,
    .on_eof = session_eof,
    .on_closed = session_closed,
};

static void refuse_closed(void *ctx, int err)
{
  (void)ctx, (void)err;
}
static void refuse_eof(void *ctx)
{
  (void)ctx;
}
static void refuse_read(void *ctx, const void *data, size_t len)
{
  (void)ctx, (void)data, (void)len;
}
static const struct weft_stream_cbs refuse_cbs = {
    .on_read = refuse_read, .on_eof = refuse_eof, .on_closed = refuse_closed};

static int refuse(struct wg_server *srv, struct weft_stream *conn, int status,
                  const char *reason)
{
  const struct weft_host *h = host_of(srv);
  srv->refused++;
  char resp[512];
  int n = snprintf(resp, sizeof resp,
                   "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
                   status, status == 401 ? "Unauthorized" : "Refused",
                   strlen(reason) + 1, reason);
  if (h->stream_start(conn, &refuse_cbs, NULL) != 0)
    return WEFT_EIO;
  h->stream_write(conn, resp, (size_t)n);
  h->stream_shutdown(conn);
  return 0;
}

static const char *header(const struct weft_http_request *req,
                          const char *name)
{
  for (size_t i = 0; i < req->header_count; i++)
    if (!strcmp(req->headers[i].name, name))
      return req->headers[i].value;
  return NULL;
}

static struct srv_tunnel *find_tunnel(struct wg_server *srv, const char *id)
{
  for (struct srv_tunnel *st = srv->tunnels; st; st = st->next)
    if (!strcmp(st->id, id))
      return st;
  return NULL;
}

static int relay_port_of(const struct weft_http_request *req)
{
  const char *v = header(req, RELAY_PORT_HEADER);
  if (!v || !*v || strlen(v) > 5 || strspn(v, "0123456789") != strlen(v))
    return -1;
  long port = strtol(v, NULL, 10);
  return port >= 1 && port <= 65535 ? (int)port : -1;
}

int wg_server_upgrade(void *ctx, const struct weft_http_request *req,
                      struct weft_stream *conn)
{
  struct wireguard *wg = ctx;
  struct wg_server *srv = wg->server;
  const struct weft_host *h = wg->host;
  if (!srv)
    return WEFT_ENOTSUP;
  const char *auth = header(req, "authorization");
  const char *upgrade = header(req, "upgrade");
  if (!upgrade || strcmp(upgrade, SESSION_PROTOCOL))
    return refuse(srv, conn, 400, "expected Upgrade: " SESSION_PROTOCOL);
  /* Nothing is added before the token is verified. */
  struct weft_token_claims claims = {.struct_size = sizeof claims};
  if (!auth || strncmp(auth, "Bearer ", 7) ||
      h->token_verify(h, auth + 7, strlen(auth + 7), &claims) != 0) {
    h->log(h, WEFT_LOG_INFO, "session from %s refused: bad token",
           req->peer_ip);
    return refuse(srv, conn, 401,
                  "invalid, expired or spent orchestration token");
  }
  struct srv_tunnel *st = find_tunnel(srv, claims.tunnel_id);
  if (!st)
    return refuse(srv, conn, 404, "this server has no such tunnel now");
  int relay = relay_port_of(req);
  if (relay < 0)
    return refuse(srv, conn, 400, "missing or bad " RELAY_PORT_HEADER);
  struct srv_session *s = h->calloc(1, sizeof *s);
  if (!s)
    return refuse(srv, conn, 503, "out of memory");
  s->host = h;
  s->srv = srv;
  s->stream = conn;
  s->last_heard_ms = h->now_ms(h);
  if (h->stream_start(conn, &session_cbs, s) != 0) {
    h->free(s);
    return WEFT_EIO;
  }
  s->next = srv->sessions;
  srv->sessions = s;
  if (st->session) { /* the device came back before its old one timed out */
    st->session->st = NULL;
    session_close(st->session);
  }
  st->session = s;
  s->st = st;
  st->relay_port = (uint16_t)relay;
  char why[512];
  if (!st->peer_added) {
    if (set_peer(srv, st, false, why, sizeof why) != 0) {
      h->log(h, WEFT_LOG_ERROR, "tunnel %s: adding its peer failed: %s",
             st->id, why);
      st->session = NULL;
      s->st = NULL;
      static const char busy[] = "HTTP/1.1 503 Refused\r\nContent-Length: "
                                 "0\r\nConnection: close\r\n\r\n";
      h->stream_write(conn, busy, sizeof busy - 1);
      h->stream_shutdown(conn);
      return 0;
    }
    st->peer_added = true;
  }
  sync_firewall(srv);
  static const char ok[] = "HTTP/1.1 101 Switching Protocols\r\n"
                           "Upgrade: " SESSION_PROTOCOL "\r\n"
                           "Connection: Upgrade\r\n\r\n";
  h->stream_write(conn, ok, sizeof ok - 1);
  srv->sessions_total++;
  h->log(h, WEFT_LOG_INFO,
         "tunnel %s: device %s connected from %s; peer %s added (relay port "
         "%d)",
         st->id, claims.device_id, req->peer_ip, st->addr_text, relay);
  return 0;
}

/* ---- the periodic tick: dead sessions, and operator traffic ---- */

static void on_counter(void *arg, const char *tunnel_id, uint64_t packets,
                       uint64_t bytes)
{
  struct wg_server *srv = arg;
  (void)packets;
  struct srv_tunnel *st = find_tunnel(srv, tunnel_id);
  if (!st)
    return;
  /* What the server sent the device: real traffic (keepalives never cross
   * the interface), so the lease is in use. */
  if (st->bytes_known && bytes != st->last_bytes)
    host_of(srv)->lease_touch(host_of(srv), st->id);
  st->last_bytes = bytes;
  st->bytes_known = true;
}

static void tick(void *arg)
{
  struct wg_server *srv = arg;
  const struct weft_host *h = host_of(srv);
  const struct wireguard_conf *conf = srv->wg->conf;
  uint64_t now = h->now_ms(h);
  if (!srv->swept) {
    sweep_tunnel_files(srv); /* restored tunnels are open by now */
    srv->swept = true;
  }
  for (struct srv_session *s = srv->sessions; s; s = s->next) {
    if (!s->closing &&
        now - s->last_heard_ms > 3 * (uint64_t)conf->session_ping_ms) {
      h->log(h, WEFT_LOG_INFO, "tunnel %s: device session silent; ending it",
             s->st ? s->st->id : "-");
      session_close(s);
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
                      wg->conf->interface, wg->conf->wireguard_go, why,
                      sizeof why) != 0 ||
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

int wg_server_tunnel_open(void *ctx, const struct weft_tunnel_info *t,
                          void **tunnel_ctx)
{
  struct wireguard *wg = ctx;
  struct wg_server *srv = wg->server;
  const struct weft_host *h = wg->host;
  if (!srv)
    return WEFT_ENOTSUP;
  int up = ensure_interface(srv);
  if (up != 0)
    return up;
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
      if (load_tunnel(srv, st) != 0) {
        h->log(h, WEFT_LOG_ERROR, "tunnel %s: no saved WireGuard keys",
               t->id);
        rc = WEFT_ENOENT;
      }
    } else if ((rc = take_device_key(srv, st, t)) == 0 &&
               save_tunnel(srv, st) != 0) {
      h->log(h, WEFT_LOG_ERROR, "tunnel %s: cannot save its keys in %s",
             t->id, srv->tunnels_dir);
      rc = WEFT_EIO;
    }
  }
  if (rc != 0) {
    h->free(st);
    return rc;
  }
  if (t->add_param)
    hand_params(srv, st, t);
  st->next = srv->tunnels;
  srv->tunnels = st;
  sync_firewall(srv);
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
    session_close(st->session); /* the device hears its tunnel is gone */
  }
  remove_peer(srv, st, reason == WEFT_ETIMEDOUT ? "lease ended"
                       : reason == WEFT_ECANCELED ? "server stopping"
                                                  : "tunnel deleted");
  /* (reason values: sdk/weft/plugin.h, server_tunnel_close) */
  sync_firewall(srv);
  /* A stopping server keeps the keys for the restart; otherwise the
   * tunnel is over. */
  if (reason != WEFT_ECANCELED) {
    char path[1100];
    state_path(srv, st->id, path, sizeof path);
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
  sync_firewall(wg->server);
}

/* ---- published ports: public connection -> device's relay ---- */

struct relay_dial {
  const struct weft_host *host;
  struct weft_stream *public_conn;
};

static void device_connected(void *arg, struct weft_stream *stream, int status)
{
  struct relay_dial *d = arg;
  const struct weft_host *h = d->host;
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
  *d = (struct relay_dial){h, conn};
  int rc = h->stream_connect(h, st->addr_text, st->relay_port, false, NULL,
                             device_connected, d);
  if (rc != 0)
    h->free(d);
  return rc;
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
  for (char *c = srv->table; *c; c++)
    if (*c == '-' || *c == '.')
      *c = '_';
  srv->backend.host = NULL; /* not open until the first tunnel */
  wg->server = srv;
  remove_stale(srv);
  uint64_t every = (uint64_t)wg->conf->session_ping_ms;
  if ((uint64_t)wg->conf->activity_poll_ms < every)
    every = (uint64_t)wg->conf->activity_poll_ms;
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
    session_close(s);
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
             "connected",
             wg_backend_name(&srv->backend), srv->backend.ifname,
             (long long)wg->conf->listen_port, tunnels, peers);
}
