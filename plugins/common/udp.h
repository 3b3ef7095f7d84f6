/* UDP datagrams over the websocket transport.
 *
 * Each public UDP peer of a tunnel is a flow, numbered by the server. On the
 * WebSocket a datagram is one binary message of type 0x01:
 *
 *   server -> device  0x01 | flow (u32) | family (4 or 6) | address (4 or 16
 *                     bytes) | port (u16) | payload
 *   device -> server  0x01 | flow (u32) | payload
 *
 * (numbers big-endian). The device only ever answers a flow: it never names
 * an address, so a device cannot make the server send datagrams to anyone
 * who did not write to the tunnel first. The device opens one local UDP
 * socket per flow, so the local service sees each public peer as its own
 * source port and its answers find their way back. Both sides forget a
 * flow after `idle` without datagrams and keep at most `max_flows`,
 * dropping the least recently used. Datagrams that meet a full WebSocket
 * backlog are dropped and counted, as UDP may. */
#ifndef WEFT_WS_UDP_H
#define WEFT_WS_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <weft/weft.h>

#define MSG_UDP 0x01
/* The largest header in front of a payload (server -> device, IPv6). */
#define UDP_HEADER_MAX (1 + 4 + 1 + 16 + 2)
#define UDP_MAX_PAYLOAD 65507
/* Above this WebSocket backlog, datagrams are dropped rather than queued. */
#define UDP_BACKLOG_LIMIT (512 * 1024)

struct udp_stats {
  uint64_t flows_total;
  uint64_t dropped;
};

/* ---- the server's side of one tunnel ---- */

struct udp_server;

struct udp_server *udp_server_new(const struct weft_host *host,
                                  uint32_t max_flows, uint64_t idle_ms);
void udp_server_free(struct udp_server *u);

/* Frames a public peer's datagram for the device into out (room for
 * len + UDP_HEADER_MAX). Returns the message length, or 0 if refused. */
size_t udp_server_encode(struct udp_server *u, const struct weft_udp_peer *peer,
                         const void *data, size_t len, uint8_t *out);

/* Reads a device's message (type byte included): the peer its flow belongs
 * to, with the payload; NULL for a malformed, unknown or expired flow. */
const struct weft_udp_peer *udp_server_decode(struct udp_server *u,
                                              const uint8_t *msg, size_t len,
                                              const uint8_t **payload,
                                              size_t *payload_len);

/* ---- the device's side of one tunnel ---- */

struct udp_client;

/* Sends a message to the server: false if it was dropped (no session now,
 * or its backlog is over UDP_BACKLOG_LIMIT). */
typedef bool (*udp_send_fn)(void *arg, const uint8_t *msg, size_t len);

struct udp_client *udp_client_new(const struct weft_host *host,
                                  const struct sockaddr *local,
                                  uint32_t max_flows, uint64_t idle_ms,
                                  udp_send_fn send, void *arg);
/* Reads a server's message (type byte included): 0, or -1 if malformed. */
int udp_parse_datagram(const uint8_t *msg, size_t len, uint32_t *id,
                       struct weft_udp_peer *peer, const uint8_t **payload,
                       size_t *payload_len);
/* A message from the server (type byte included): to the local service. */
void udp_client_input(struct udp_client *u, const uint8_t *msg, size_t len);
/* The session ended: close every flow (the server's ids start over). */
void udp_client_reset(struct udp_client *u);
/* Closes everything; the sockets finish closing on the loop. */
void udp_client_free(struct udp_client *u);
void udp_client_stats(const struct udp_client *u, struct udp_stats *out);

#endif
