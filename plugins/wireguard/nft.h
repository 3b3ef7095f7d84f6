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
 *              the interface).
 * and, for each device whose published port takes the kernel path
 * (struct nft_publish): its source allowlist and per-source cap before NAT,
 * DNAT of the public port to the device's relay port (output hook for
 * local clients, prerouting for others), masquerade to the server's own
 * address on the interface, and the forward rules for exactly that flow. */
#ifndef WEFT_WG_NFT_H
#define WEFT_WG_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NFT_MAX_PORT_RANGES 64

struct nft_port_range {
  uint16_t lo, hi;
};

#define NFT_MAX_ALLOW 64

struct nft_prefix4 {
  uint8_t addr[4];
  uint8_t bits;
};

/* The kernel path of a published port: the public port is NATed straight
 * to the device's relay port (addr:relay_port), so no byte of it passes
 * through weft. IPv4 only; the core's own listener keeps the port and
 * takes whatever the kernel path does not (IPv6, loopback). */
struct nft_publish {
  uint16_t port;           /* the public port; 0: not in the kernel */
  bool udp;                /* a udp port (the relay is too), else tcp */
  uint8_t bind[4];         /* the address it listens on; 0.0.0.0: any local */
  bool from_other_hosts;   /* also connections routed in from elsewhere
                            * (the host forwards IPv4), not only local */
  bool restricted;         /* only the sources in allow (none: no one) */
  struct nft_prefix4 allow[NFT_MAX_ALLOW];
  size_t allow_count;
  unsigned conns_per_ip;   /* tcp: at most this many at once; 0: no cap */
};

struct nft_device {
  char tunnel_id[32];      /* [a-z0-9]: its counter is "weft_<id>" */
  uint8_t addr[4];         /* its /32 */
  struct nft_port_range ports[NFT_MAX_PORT_RANGES]; /* reach, tcp and udp */
  size_t port_count;
  uint16_t relay_port;     /* the device's relay; 0: none */
  bool relay_udp;          /* the relay is udp (a udp tunnel), not tcp */
  struct nft_publish publish; /* needs relay_port */
};

/* The script that replaces table `inet <table>` with the rules above for
 * interface ifname. malloc'd, or NULL with why (a bad name or range). */
char *nft_ruleset(const char *table, const char *ifname,
                  const struct nft_device *devs, size_t count, char *why,
                  size_t whylen);
/* The device's own table: what arrives on ifname for my_addr:relay_port
 * (tcp, or udp) is NATed to the loopback service target:target_port, and
 * nothing else from the interface reaches any address but my_addr (the
 * interface needs route_localnet for the NAT, and this keeps the rest of
 * 127.0.0.0/8 out of reach). malloc'd, or NULL with why. */
char *nft_device_script(const char *table, const char *ifname,
                        const uint8_t my_addr[4], bool udp,
                        uint16_t relay_port, const uint8_t target[4],
                        uint16_t target_port, char *why, size_t whylen);
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
