/* The wireguard transport's shared state: its options, and the server and
 * device halves (server.c, client.c) that wireguard.c dispatches to.
 *
 * How a tunnel comes up:
 *   1. the device makes (or reuses) its key pair and sends the public key
 *      with the create request (client_tunnel_prepare);
 *   2. the server's server_tunnel_open answers with its own public key, a
 *      fresh preshared key, the device's /32 and its own, and the UDP port;
 *   3. the device sets up its interface (a route to the server's /32 only)
 *      and a relay on its /32, then opens its session: an HTTP upgrade to
 *      SESSION_PATH on the control port carrying the orchestration token;
 *   4. the server verifies the token, and only then adds the peer (one /32,
 *      the preshared key) and the device's firewall rules; the session's
 *      end removes them at once. */
#ifndef WEFT_WG_WIREGUARD_H
#define WEFT_WG_WIREGUARD_H

#include <stdbool.h>
#include <stdint.h>
#include <weft/weft.h>

/* Where devices open their session on the control port. */
#define SESSION_PATH "/v1/wireguard"
#define SESSION_PROTOCOL "weft-wireguard"
/* The request header that tells the server where the device relays. */
#define RELAY_PORT_HEADER "weft-relay-port"
/* In the server's 101: the ping interval (ms) it judges the session by. */
#define SESSION_PING_HEADER "Weft-Session-Ping"
/* UDP tunnels: public peers (flows) at once on each side, and how long a
 * quiet one is kept. */
#define UDP_MAX_FLOWS 1024
#define UDP_FLOW_IDLE_MS 60000

struct wireguard_conf {
  const char *backend;
  const char *interface;
  int64_t listen_port;
  const char *endpoint;
  const char *wireguard_go;
  const char *wireguard_go_log; /* its LOG_LEVEL: error|verbose */
  int64_t keepalive_ms;
  int64_t session_ping_ms;
  int64_t reconnect_min_ms;
  int64_t reconnect_max_ms;
  int64_t activity_poll_ms;
  const char *kernel_path;
};

struct wg_server;
struct wg_client;

struct wireguard {
  const struct weft_host *host;
  const struct wireguard_conf *conf;
  struct wg_server *server; /* in `weft server` */
  struct wg_client *client; /* in `weft tunnel`, once a tunnel asks */
  char status[640];
  /* Dials and sessions in flight call back into us, possibly after
   * destroy: the struct is freed when the last of them is done. */
  unsigned refs;
  bool destroyed;
};

void wg_unref(struct wireguard *wg);

/* server.c */
int wg_server_start(struct wireguard *wg);
void wg_server_stop(struct wireguard *wg);
int wg_server_tunnel_open(void *ctx, const struct weft_tunnel_info *t,
                          void **tunnel_ctx);
void wg_server_tunnel_close(void *ctx, void *tunnel_ctx, int reason);
void wg_server_tunnel_reach(void *ctx, void *tunnel_ctx,
                            const char *reach_ports);
int wg_server_stream_open(void *ctx, void *tunnel_ctx,
                          struct weft_stream *conn);
int wg_server_datagram(void *ctx, void *tunnel_ctx,
                       const struct weft_udp_peer *peer, const void *data,
                       size_t len);
int wg_server_upgrade(void *ctx, const struct weft_http_request *req,
                      struct weft_stream *conn);
void wg_server_status(struct wireguard *wg, char *buf, size_t len);

/* client.c */
int wg_client_tunnel_prepare(void *ctx, const struct weft_tunnel_info *t,
                             void **tunnel_ctx);
int wg_client_tunnel_open(void *ctx, const struct weft_tunnel_info *t,
                          void **tunnel_ctx);
void wg_client_tunnel_close(void *ctx, void *tunnel_ctx);
void wg_client_stop(struct wireguard *wg);
void wg_client_status(struct wireguard *wg, char *buf, size_t len);

/* Parses "22,80,8000-8100" into ranges; the count, or -1 if malformed. */
struct nft_port_range;
int wg_parse_ports(const char *text, struct nft_port_range *out, size_t max);

#endif
