/* The kernel path of published ports (see nft.h, struct nft_publish):
 * whether a tunnel's public port can take it, and the host settings it
 * depends on. No I/O but two small /proc files. */
#ifndef WEFT_WG_KERNEL_PATH_H
#define WEFT_WG_KERNEL_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include <weft/plugin.h>

#include "nft.h"

/* The public port's kernel path from what the core says of the tunnel: 0
 * with out filled (from_other_hosts left false), or -1 with why it stays
 * on the relay through weft (no tcp/udp port, an address that is not
 * IPv4, an allowlist nft cannot hold, a core older than plugin ABI 1.4). */
int kernel_path_of(const struct weft_tunnel_info *t, struct nft_publish *out,
                   char *why, size_t whylen);

/* The IPv4 prefixes of an allowlist as the core gives it ("10.0.0.0/8,
 * 2001:db8::/32,192.0.2.7/32"); IPv6 ones are skipped (IPv6 clients keep
 * to the core's listener, which checks them). The count, or -1 when an
 * item is malformed or there are more than max. */
int kernel_path_allow(const char *text, struct nft_prefix4 *out, size_t max);

/* True when the host forwards IPv4, so NAT can carry connections from
 * other hosts too (net.ipv4.conf.all.forwarding). */
bool kernel_path_host_forwards(void);

/* Lets the interface route what NAT sends to 127.0.0.0/8 (its
 * route_localnet); the setting goes with the interface. 0 or -1. */
int kernel_path_route_localnet(const char *ifname, char *why, size_t whylen);

#endif
