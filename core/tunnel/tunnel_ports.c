#include "tunnel/tunnel_ports.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <weft/errors.h>

#include "auth/acl.h"
#include "base/clock.h"
#include "net/listen.h"
#include "base/log.h"
#include "plugin/plugin_registry.h"
#include "net/stream.h"
#include "tunnel/tunnel_types.h"

struct port_conn {
  struct tunnel_ports *ing;
  struct weft_stream *stream;
  char peer_ip[46];
  struct port_conn *prev, *next;
};

struct tunnel_ports {
  struct tunnel_service *svc;
  struct tunnel *tunnel;
  uv_tcp_t *listener;
  uv_udp_t *udp;             /* a udp lease's public socket */
  struct port_conn *conns;
  struct prefix_list *allow; /* NULL: anyone (kept small for idle tunnels) */
};

static void conn_unlink(struct port_conn *c)
{
  struct tunnel_ports *ing = c->ing;
  assert(c->prev ? c->prev->next == c : ing->conns == c);
  assert(ing->tunnel->conns_open > 0);
  if (c->prev)
    c->prev->next = c->next;
  else
    ing->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  ing->tunnel->conns_open--;
  free(c);
}

static void conn_traffic(void *arg, size_t in, size_t out)
{
  struct port_conn *c = arg;
  struct tunnel *t = c->ing->tunnel;
  t->bytes_in += in;
  t->bytes_out += out;
  /* Public-side traffic, and only that, keeps the lease from idling out. */
  leases_touch(&c->ing->svc->leases, t->lease, clock_wall_s());
}

static void conn_closed(void *arg) { conn_unlink(arg); }

static unsigned conns_from(const struct tunnel_ports *ing, const char *ip)
{
  unsigned n = 0;
  for (const struct port_conn *c = ing->conns; c; c = c->next)
    n += !strcmp(c->peer_ip, ip);
  return n;
}

/* Hands s to the tunnel's transport, counted as one of its public
 * connections (its bytes keep the lease from idling out). */
static int carry(struct tunnel *t, struct weft_stream *s, const char *peer_ip)
{
  struct tunnel_ports *ing = t->ports;
  struct port_conn *c = calloc(1, sizeof *c);
  if (!c)
    return WEFT_ENOMEM;
  c->ing = ing;
  c->stream = s;
  snprintf(c->peer_ip, sizeof c->peer_ip, "%s", peer_ip);
  c->next = ing->conns;
  if (c->next)
    c->next->prev = c;
  ing->conns = c;
  t->conns_open++;
  t->conns_total++;
  struct stream_account acct = {conn_traffic, conn_closed, c};
  stream_set_account(s, &acct);
  struct plugin *p = t->plugin;
  int rc = (p && t->plugin_ctx)
               ? p->desc.server_stream_open(p->ctx, t->plugin_ctx, s)
               : WEFT_ECONNREFUSED;
  if (rc != 0) {
    /* Not carried: the stream stays the caller's; forget it here. */
    stream_set_account(s, NULL);
    conn_unlink(c);
    log_debug("tunnel %s: connection from %s not carried: %s",
              t->lease->tunnel_id, peer_ip, weft_strerror(rc));
  }
  return rc;
}

int tunnel_ports_adopt(struct tunnel *t, struct weft_stream *s)
{
  struct tunnel_ports *ing = t->ports;
  if (!ing)
    return WEFT_ECONNREFUSED;
  struct weft_stream_info info = {.struct_size = sizeof info};
  stream_info(s, &info);
  char why[256];
  /* A visitor can repeat these at will: one line per 10 s each. */
  static struct log_limit denied_log = {.window_ms = 10000};
  static struct log_limit capped_log = {.window_ms = 10000};
  unsigned missed;
  if (ing->allow &&
      acl_check_source(ing->allow, info.peer_ip, why, sizeof why) != 0) {
    if (log_limited(&denied_log, uv_now(ing->svc->loop), &missed))
      log_info("tunnel %s: %s (and %u more refused in the last 10 s)",
               t->lease->tunnel_id, why, missed);
    return WEFT_EDENIED;
  }
  if (conns_from(ing, info.peer_ip) >= ing->svc->conns_per_ip) {
    if (log_limited(&capped_log, uv_now(ing->svc->loop), &missed))
      log_warn("tunnel %s: %s holds %u connections already; refused (and "
               "%u more in the last 10 s)",
               t->lease->tunnel_id, info.peer_ip, ing->svc->conns_per_ip,
               missed);
    return WEFT_ELIMIT;
  }
  return carry(t, s, info.peer_ip);
}

int tunnel_ports_relay(struct tunnel *t, struct weft_stream *s)
{
  if (!t->ports)
    return WEFT_ECONNREFUSED;
  struct weft_stream_info info = {.struct_size = sizeof info};
  stream_info(s, &info);
  return carry(t, s, info.peer_ip);
}

static void on_connection(uv_stream_t *server, int status)
{
  struct tunnel_ports *ing = server->data;
  if (status < 0)
    return;
  struct weft_stream *s = stream_accept(ing->svc->loop, server);
  if (s && tunnel_ports_adopt(ing->tunnel, s) != 0)
    stream_discard(s);
}

static void listener_closed(uv_handle_t *h) { free(h); }

/* ---- UDP ---- */

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  (void)h, (void)suggested;
  static char slab[65536]; /* the transport copies what it keeps */
  *buf = uv_buf_init(slab, sizeof slab);
}

static void udp_received(uv_udp_t *h, ssize_t n, const uv_buf_t *buf,
                         const struct sockaddr *addr, unsigned flags)
{
  struct tunnel_ports *ing = h->data;
  struct tunnel *t = ing->tunnel;
  assert(t->ports == ing); /* the socket closes with the tunnel's ports */
  if (n < 0 || !addr || (flags & UV_UDP_PARTIAL))
    return; /* an error, the end of a batch, or a truncated datagram */
  struct weft_udp_peer peer;
  int port = 0;
  if (addr->sa_family == AF_INET) {
    uv_ip4_name((const struct sockaddr_in *)addr, peer.ip, sizeof peer.ip);
    port = ntohs(((const struct sockaddr_in *)addr)->sin_port);
  } else {
    uv_ip6_name((const struct sockaddr_in6 *)addr, peer.ip, sizeof peer.ip);
    port = ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
  }
  peer.port = (uint16_t)port;
  if (ing->allow && acl_check_source(ing->allow, peer.ip, NULL, 0) != 0)
    return; /* no answer for UDP: not even an ICMP error */
  t->bytes_in += (size_t)n;
  t->datagrams_in++;
  leases_touch(&ing->svc->leases, t->lease, clock_wall_s());
  struct plugin *p = t->plugin;
  if (p && t->plugin_ctx)
    p->desc.server_datagram(p->ctx, t->plugin_ctx, &peer, buf->base,
                            (size_t)n);
}

int tunnel_ports_send_datagram(struct tunnel *t, const struct weft_udp_peer *peer,
                          const void *data, size_t len)
{
  struct tunnel_ports *ing = t->ports;
  if (!ing || !ing->udp)
    return WEFT_ENOENT;
  struct sockaddr_storage ss;
  bool v6 = strchr(peer->ip, ':') != NULL;
  int rc = v6 ? uv_ip6_addr(peer->ip, peer->port, (struct sockaddr_in6 *)&ss)
              : uv_ip4_addr(peer->ip, peer->port, (struct sockaddr_in *)&ss);
  if (rc != 0 || len > 65507)
    return WEFT_EINVAL;
  uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
  rc = uv_udp_try_send(ing->udp, &buf, 1, (struct sockaddr *)&ss);
  if (rc < 0) {
    t->datagrams_dropped++;
    return WEFT_EIO;
  }
  t->bytes_out += len;
  t->datagrams_out++;
  leases_touch(&ing->svc->leases, t->lease, clock_wall_s());
  return 0;
}

bool tunnel_ports_allow_list(const struct tunnel_service *svc,
                        const struct lease *l, struct prefix_list *out)
{
  struct acl_rules rules;
  acl_effective(svc->acl, l->device_id, &rules);
  struct prefix_list any;
  char why[64];
  prefix_list_parse("any", &any, why, sizeof why);
  bool restricted = l->allow_ips[0] || rules.allow_ips.count != any.count ||
                    memcmp(&rules.allow_ips, &any, sizeof any) != 0;
  if (!restricted)
    return false;
  *out = rules.allow_ips;
  if (l->allow_ips[0]) /* the lease's own list, checked when it was made */
    prefix_list_parse(l->allow_ips, out, why, sizeof why);
  return true;
}

void tunnel_ports_refresh_allow(struct tunnel_service *svc, struct tunnel *t)
{
  struct tunnel_ports *ing = t->ports;
  struct prefix_list allow;
  if (!ing)
    return;
  if (!tunnel_ports_allow_list(svc, t->lease, &allow)) {
    free(ing->allow);
    ing->allow = NULL;
    return;
  }
  if (!ing->allow && !(ing->allow = malloc(sizeof *ing->allow)))
    return; /* out of memory: the old list stays */
  *ing->allow = allow;
}

int tunnel_ports_open(struct tunnel_service *svc, struct tunnel *t, char *why,
                 size_t len)
{
  const struct lease *l = t->lease;
  assert(!t->ports); /* once per tunnel */
  struct tunnel_ports *ing = calloc(1, sizeof *ing);
  if (!ing)
    return snprintf(why, len, "out of memory"), WEFT_ENOMEM;
  ing->svc = svc;
  ing->tunnel = t;
  t->ports = ing;
  struct prefix_list allow;
  if (tunnel_ports_allow_list(svc, l, &allow)) {
    ing->allow = malloc(sizeof *ing->allow);
    if (!ing->allow)
      return snprintf(why, len, "out of memory"), WEFT_ENOMEM;
    *ing->allow = allow;
  }
  if (!l->port || (strcmp(l->port_proto, "tcp") && strcmp(l->port_proto, "udp")))
    return 0; /* nothing to listen on for this kind of lease */

  /* The remote URL may name the address to bind; by default, all. */
  struct url remote;
  char err[256];
  const char *bind_host = "0.0.0.0";
  if (l->remote_url[0] && url_parse(l->remote_url, &remote, err, sizeof err) == 0 &&
      remote.host_kind != URL_HOST_ANY)
    bind_host = remote.host;
  int rc;
  if (!strcmp(l->port_proto, "udp")) {
    ing->udp = calloc(1, sizeof *ing->udp);
    if (!ing->udp)
      return snprintf(why, len, "out of memory"), WEFT_ENOMEM;
    rc = listen_udp(svc->loop, ing->udp, bind_host, l->port, udp_alloc,
                    udp_received, ing);
  } else {
    ing->listener = calloc(1, sizeof *ing->listener);
    if (!ing->listener)
      return snprintf(why, len, "out of memory"), WEFT_ENOMEM;
    rc = listen_tcp(svc->loop, ing->listener, bind_host, l->port,
                    on_connection, ing);
  }
  if (rc != 0) {
    snprintf(why, len, "cannot listen on %s:%u: %s", bind_host, l->port,
             uv_strerror(rc));
    return rc == UV_EADDRINUSE ? WEFT_EADDRINUSE : WEFT_EIO;
  }
  log_info("tunnel %s: listening on %s %s:%u", l->tunnel_id, l->port_proto,
           bind_host, l->port);
  return 0;
}

void tunnel_ports_close(struct tunnel *t)
{
  struct tunnel_ports *ing = t->ports;
  if (!ing)
    return;
  t->ports = NULL;
  if (ing->listener)
    uv_close((uv_handle_t *)ing->listener, listener_closed);
  if (ing->udp)
    uv_close((uv_handle_t *)ing->udp, listener_closed);
  while (ing->conns) {
    struct port_conn *c = ing->conns;
    stream_set_account(c->stream, NULL);
    stream_close(c->stream);
    conn_unlink(c);
  }
  free(ing->allow);
  free(ing);
}
