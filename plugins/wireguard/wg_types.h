/* What Weft asks of a WireGuard interface and what it reads back, in one
 * form for both ways of driving WireGuard: the kernel's generic netlink
 * (genl.c) and wireguard-go's UAPI text protocol (uapi.c). Keys are raw
 * 32-byte values here; each backend encodes them itself, so no text a
 * device or a file supplied ever reaches the interface unchecked. */
#ifndef WEFT_WG_TYPES_H
#define WEFT_WG_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WG_KEY_LEN 32
#define WG_MAX_ALLOWED_IPS 8

/* An IPv4 or IPv6 prefix. addr holds 4 or 16 bytes in network order. */
struct wg_prefix {
  int family;          /* AF_INET or AF_INET6 */
  uint8_t addr[16];
  uint8_t bits;        /* 0..32 or 0..128 */
};

/* One peer to add, update or remove. Weft always sets replace_allowed_ips,
 * exactly one /32 and a preshared key; the writers refuse anything else
 * only where the kernel or wireguard-go would (the plugin enforces its own
 * policy before it gets here). */
struct wg_peer_set {
  uint8_t public_key[WG_KEY_LEN];
  bool remove;                 /* remove=true: every other field ignored */
  bool has_psk;
  uint8_t psk[WG_KEY_LEN];
  bool has_endpoint;
  int endpoint_family;         /* AF_INET or AF_INET6 */
  uint8_t endpoint_addr[16];   /* network order */
  uint16_t endpoint_port;
  bool has_keepalive;
  uint16_t keepalive_s;        /* 0 turns it off */
  bool replace_allowed_ips;
  struct wg_prefix allowed_ips[WG_MAX_ALLOWED_IPS];
  size_t allowed_ip_count;
};

/* The interface's own settings; fields without has_* set stay as they are. */
struct wg_device_set {
  bool has_private_key;
  uint8_t private_key[WG_KEY_LEN];
  bool has_listen_port;
  uint16_t listen_port;        /* 0: a random port */
  bool replace_peers;          /* drop every peer not in this request */
};

/* A peer as the interface reports it. */
struct wg_peer_state {
  uint8_t public_key[WG_KEY_LEN];
  bool has_psk;                /* a non-zero preshared key is set */
  bool has_endpoint;
  int endpoint_family;
  uint8_t endpoint_addr[16];
  uint16_t endpoint_port;
  int64_t last_handshake_s;    /* wall-clock seconds, 0: never */
  uint64_t rx_bytes, tx_bytes;
  uint16_t keepalive_s;
  struct wg_prefix allowed_ips[WG_MAX_ALLOWED_IPS];
  size_t allowed_ip_count;     /* more than WG_MAX_ALLOWED_IPS: an error */
};

struct wg_device_state {
  bool has_private_key;
  uint8_t private_key[WG_KEY_LEN];
  uint16_t listen_port;
  uint32_t fwmark;
  struct wg_peer_state *peers; /* malloc'd; wg_device_state_free */
  size_t peer_count;
};

void wg_device_state_free(struct wg_device_state *state);

#endif
