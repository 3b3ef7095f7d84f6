/* Kernel WireGuard through generic netlink (libmnl), as wg(8) does on
 * Linux: WG_CMD_SET_DEVICE and WG_CMD_GET_DEVICE on the "wireguard" family
 * (<linux/wireguard.h>). The message builders and the reply parser are
 * separate from the socket code so tests can check every attribute. */
#ifndef WEFT_WG_GENL_H
#define WEFT_WG_GENL_H

#include <stddef.h>
#include <stdint.h>

#include "wg_types.h"

/* Builds one WG_CMD_SET_DEVICE request for ifname into buf: the device's
 * fields, then as many of peers[*done..count) as fit (a request that does
 * not fit in one message goes in several, as the kernel accepts). Returns
 * the message length with *done advanced, or -1 with why (bad value, or
 * not even one peer fits). family is the resolved genl family id. */
int genl_build_set(void *buf, size_t buflen, uint16_t family, uint32_t seq,
                   const char *ifname, const struct wg_device_set *dev,
                   const struct wg_peer_set *peers, size_t count,
                   size_t *done, char *why, size_t whylen);

/* Builds WG_CMD_GET_DEVICE (a dump) for ifname. Length or -1. */
int genl_build_get(void *buf, size_t buflen, uint16_t family, uint32_t seq,
                   const char *ifname);

/* Adds what one reply message of a GET_DEVICE dump says to *out (a dump
 * spreads peers over several messages). 0 or -1 with why. */
int genl_parse_device(const void *msg, size_t len, struct wg_device_state *out,
                      char *why, size_t whylen);

/* Over a netlink socket: resolve the family, send, check the acks. 0, or a
 * negative errno with why (-ENOENT: the kernel has no WireGuard). */
int genl_set(const char *ifname, const struct wg_device_set *dev,
             const struct wg_peer_set *peers, size_t count, char *why,
             size_t whylen);
int genl_get(const char *ifname, struct wg_device_state *out, char *why,
             size_t whylen);

#endif
