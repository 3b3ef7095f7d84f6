/* Weft's own nftables table for a WireGuard interface, applied with
 * libnftables. The whole table is written from the live tunnels each time
 * (an ACL change, a peer added or removed) and replaced in one transaction,
 * so the kernel never holds half a rule set:
 *   - input:   from the interface, only replies (ct established,related);
 *   - forward: nothing in or out of the interface (no device to device, no
 *              route into the devices from elsewhere);
 *   - output:  to a device, replies plus the ports its ACL lets operators
 *              reach and its relay port; anything else refused at once
 *              (TCP reset, ICMP admin-prohibited). A named counter per
 *              device counts what the server sends it, which is how the
 *              plugin tells real operator traffic (keepalives never cross
 *              the interface). */
#ifndef WEFT_WG_NFT_H
#define WEFT_WG_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NFT_MAX_PORT_RANGES 64

struct nft_port_range {
  uint16_t lo, hi;
};

struct nft_device {
  char tunnel_id[32];      /* [a-z0-9]: its counter is "weft_<id>" */
  uint8_t addr[4];         /* its /32 */
  struct nft_port_range ports[NFT_MAX_PORT_RANGES]; /* reach, tcp and udp */
  size_t port_count;
  uint16_t relay_port;     /* the device's relay; 0: none */
  bool relay_udp;          /* the relay is udp (a udp tunnel), not tcp */
};

/* The script that replaces table `inet <table>` with the rules above for
 * interface ifname. malloc'd, or NULL with why (a bad name or range). */
char *nft_ruleset(const char *table, const char *ifname,
                  const struct nft_device *devs, size_t count, char *why,
                  size_t whylen);
/* The script that deletes the table if it exists. malloc'd. */
char *nft_delete_script(const char *table);

/* Runs a script through libnftables. 0, or -1 with nft's own error. */
int nft_apply(const char *script, char *why, size_t whylen);

/* Every "weft_<id>" counter of the table: cb(arg, id, packets, bytes).
 * 0, or -1 with why. */
int nft_read_counters(const char *table,
                      void (*cb)(void *arg, const char *tunnel_id,
                                 uint64_t packets, uint64_t bytes),
                      void *arg, char *why, size_t whylen);

#endif
