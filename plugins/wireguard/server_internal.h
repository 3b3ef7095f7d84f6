/* The server half's state, shared by server.c (the interface, tunnels,
 * firewall, start and stop), server_session.c (devices' sessions) and
 * server_files.c (tunnel keys kept across restarts). */
#ifndef WEFT_WG_SERVER_INTERNAL_H
#define WEFT_WG_SERVER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "keys.h"
#include "nft.h"
#include "udp_flows.h"
#include "wireguard.h"

struct srv_session;
struct relay_dial;

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
  struct udp_flows *udp;      /* a udp tunnel's public peers, or NULL */
  struct relay_dial *dials;   /* public connections waiting for the device */
  struct srv_session *session;
  bool peer_added;
  uint64_t last_bytes;        /* the device's nft counter at the last poll */
  bool bytes_known;
  struct nft_publish publish; /* its kernel path (port 0: none) */
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
  uint64_t last_tick_ms, tick_every_ms;
  bool swept;                 /* stale tunnel files removed */
  bool up;                    /* the interface exists (first tunnel on) */
  bool restore_failed;        /* a restored tunnel did not open: no sweep */
  bool said_no_forwarding;    /* logged that the kernel path is local only */
  uint64_t sessions_total, refused;
};

static inline const struct weft_host *host_of(struct wg_server *srv)
{
  return srv->wg->host;
}

/* server.c */
struct srv_tunnel *srv_find_tunnel(struct wg_server *srv, const char *id);
/* Rewrites the firewall table from the live tunnels. 0, or -1 (logged). */
int srv_sync_firewall(struct wg_server *srv);
/* Adds (or with remove, removes) the tunnel's peer. 0 or -1 with why. */
int srv_set_peer(struct wg_server *srv, struct srv_tunnel *st, bool remove,
                 char *why, size_t whylen);
/* Removes the peer if it is there, and its rules; logs because. */
void srv_remove_peer(struct wg_server *srv, struct srv_tunnel *st,
                     const char *because);

/* server_session.c */
void srv_session_close(struct srv_session *s);

/* server_files.c */
void srv_state_path(struct wg_server *srv, const char *id, char *buf,
                    size_t len);
int srv_save_tunnel(struct wg_server *srv, const struct srv_tunnel *st);
int srv_load_tunnel(struct wg_server *srv, struct srv_tunnel *st);
void srv_sweep_tunnel_files(struct wg_server *srv);

#endif
