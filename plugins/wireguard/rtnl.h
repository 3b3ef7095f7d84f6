/* The interface around WireGuard, through rtnetlink (libmnl): create and
 * delete the link, bring it up, give it an address, route a prefix to it.
 * Each returns 0 or a negative errno with why (naming the interface). */
#ifndef WEFT_WG_RTNL_H
#define WEFT_WG_RTNL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wg_types.h"

/* True when name is a usable interface name: 1..15 of [A-Za-z0-9_.-]. */
bool rtnl_name_ok(const char *name);

/* kind "wireguard": -EOPNOTSUPP where the kernel has no WireGuard. */
int rtnl_link_create(const char *ifname, const char *kind, char *why,
                     size_t whylen);
/* -ENODEV if there is no such link. */
int rtnl_link_delete(const char *ifname, char *why, size_t whylen);
int rtnl_link_up(const char *ifname, char *why, size_t whylen);
bool rtnl_link_exists(const char *ifname);
/* The address, with its prefix length (the kernel adds the prefix route). */
int rtnl_addr_add(const char *ifname, const struct wg_prefix *addr, char *why,
                  size_t whylen);
int rtnl_route_add(const char *ifname, const struct wg_prefix *dst, char *why,
                   size_t whylen);
/* The same in routing table `table` (1..2^32-1). */
int rtnl_route_add_table(const char *ifname, const struct wg_prefix *dst,
                         uint32_t table, char *why, size_t whylen);
/* A policy routing rule: "from PREFIX [to PREFIX] [ipproto P sport N]
 * lookup TABLE" at priority. */
struct wg_rule {
  struct wg_prefix from;
  bool has_to;
  struct wg_prefix to;    /* same family as from */
  uint8_t ip_proto;       /* IPPROTO_TCP/UDP with sport; 0: any */
  uint16_t sport;         /* 0: any */
  uint32_t table;         /* 1..2^32-1 */
  uint32_t priority;
};
/* Deleting one that is not there: -ENOENT. */
int rtnl_rule_add(const struct wg_rule *rule, char *why, size_t whylen);
int rtnl_rule_del(const struct wg_rule *rule, char *why, size_t whylen);

/* The message builders the calls above send, for tests. Length or -1. */
int rtnl_build_link_create(void *buf, size_t buflen, uint32_t seq,
                           const char *ifname, const char *kind);
int rtnl_build_addr(void *buf, size_t buflen, uint32_t seq, int ifindex,
                    const struct wg_prefix *addr);
int rtnl_build_route(void *buf, size_t buflen, uint32_t seq, int ifindex,
                     const struct wg_prefix *dst);
int rtnl_build_route_table(void *buf, size_t buflen, uint32_t seq, int ifindex,
                           const struct wg_prefix *dst, uint32_t table);
int rtnl_build_rule(void *buf, size_t buflen, uint32_t seq, bool del,
                    const struct wg_rule *rule);

#endif
