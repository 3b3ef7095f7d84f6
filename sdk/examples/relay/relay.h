/* relay: a Weft transport that carries bytes end to end, built out of tree
 * against the SDK alone. One connection per public connection:
 *
 *   device                                  server
 *   ------                                  ------
 *   control: GET /v1/relay, Upgrade:  --->  token_verify, 101
 *            weft-relay, Bearer TOKEN
 *                                   <---  "OPEN <id>\n"   (a public client
 *                                                          connected)
 *   dials the local service, then
 *   data:    GET /v1/relay, Upgrade:  --->  101; the public connection and
 *            weft-relay, Weft-Relay-          this one are joined
 *            Stream: <id>
 *   (or, if the local service is down, "FAIL <id>\n" on the control)
 *
 * Both go to the server's control port (upgrade_path), so the core does
 * TLS, and every byte moves through the host's relay (pipes) with its flow
 * control. The id is 128 random bits the server sends only on the verified
 * control connection: it is what admits a data connection. A device sends
 * nothing on a data connection before the server's 101.
 *
 * What a real transport adds: keepalives on the control connection (a
 * dead one is only noticed when TCP notices), and many streams inside one
 * connection instead of a connection each. */
#ifndef RELAY_H
#define RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include <weft/weft.h>

#define RELAY_PATH "/v1/relay"
#define RELAY_PROTOCOL "weft-relay"          /* the Upgrade token */
#define RELAY_STREAM_HEADER "weft-relay-stream" /* lower case, as the core
                                                   hands header names */
#define RELAY_ID_LEN 32                      /* hex digits of a stream id */

/* [transport.relay] */
struct relay_conf {
  int64_t open_timeout_ms;   /* server: wait for the device's data dial */
  int64_t reconnect_min_ms;  /* device: backoff after a lost control */
  int64_t reconnect_max_ms;
};

/* The plugin: both sides can live in one process. */
struct relay {
  const struct weft_host *host;
  const struct relay_conf *conf;
  struct server_tunnel *tunnels;   /* server.c */
  struct waiting *waiting;         /* server.c: public conns, not joined */
  struct device_tunnel *devices;   /* device.c */
  struct splice *splices;          /* splice.c: joined pairs, both sides */
  /* What may still call back after destroy() (streams closing, dials in
   * flight) holds a reference; the last one frees the plugin. */
  unsigned refs;
  char status[128];
};

void relay_ref(struct relay *r);
void relay_unref(struct relay *r);

/* server.c */
int relay_server_tunnel_open(void *ctx, const struct weft_tunnel_info *info,
                             void **tunnel_ctx);
int relay_server_stream_open(void *ctx, void *tunnel_ctx,
                             struct weft_stream *public_conn);
void relay_server_tunnel_close(void *ctx, void *tunnel_ctx, int reason);
int relay_server_upgrade(void *ctx, const struct weft_http_request *req,
                         struct weft_stream *conn);
size_t relay_server_sessions(const struct relay *r);

/* device.c */
int relay_client_tunnel_open(void *ctx, const struct weft_tunnel_info *info,
                             void **tunnel_ctx);
void relay_client_tunnel_close(void *ctx, void *tunnel_ctx);

#endif /* RELAY_H */
