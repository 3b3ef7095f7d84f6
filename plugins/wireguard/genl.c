/* Kernel WireGuard through generic netlink, with libmnl. The builders and
 * the parser below touch no socket; genl_set and genl_get at the end do
 * the talking. Attribute layout: <linux/wireguard.h>. */
#include "genl.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/time_types.h>
#include <linux/wireguard.h>

/* A SET_DEVICE request is at most this long: what wg(8) sends too, and
 * well under what the kernel accepts from one write. */
#define SET_MSG_SIZE 8192
/* The kernel sizes each message of a dump to the reader's buffer, up to
 * 32 KiB; a buffer that large never sees a message cut short. */
#define RECV_SIZE 32768

__attribute__((format(printf, 3, 4))) static int fail(char *why, size_t whylen,
                                                      const char *fmt, ...)
{
  if (why && whylen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

static bool ifname_ok(const char *ifname)
{
  return ifname && ifname[0] && strnlen(ifname, IFNAMSIZ) < IFNAMSIZ;
}

static bool key_is_zero(const uint8_t key[WG_KEY_LEN])
{
  uint8_t any = 0;
  for (size_t i = 0; i < WG_KEY_LEN; i++)
    any |= key[i];
  return any == 0;
}

static size_t addr_len(int family)
{
  return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

static bool prefix_ok(const struct wg_prefix *p)
{
  size_t len = addr_len(p->family);
  return len && p->bits <= len * 8;
}

/* What the kernel would refuse, said before anything is sent. */
static int check_peer(const struct wg_peer_set *p, size_t index, char *why,
                      size_t whylen)
{
  if (p->remove)
    return 0;
  if (p->has_endpoint && !addr_len(p->endpoint_family))
    return fail(why, whylen, "peer %zu: endpoint family %d is neither IPv4 "
                "nor IPv6", index, p->endpoint_family);
  if (p->allowed_ip_count > WG_MAX_ALLOWED_IPS)
    return fail(why, whylen, "peer %zu: %zu allowed IPs, at most %d", index,
                p->allowed_ip_count, WG_MAX_ALLOWED_IPS);
  for (size_t i = 0; i < p->allowed_ip_count; i++)
    if (!prefix_ok(&p->allowed_ips[i]))
      return fail(why, whylen, "peer %zu: allowed IP %zu is not an IPv4 or "
                  "IPv6 prefix (family %d, /%u)", index, i,
                  p->allowed_ips[i].family, p->allowed_ips[i].bits);
  return 0;
}

/* ---- building requests ---- */

static size_t genl_header_size(void)
{
  return MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct genlmsghdr));
}

static struct nlmsghdr *put_genl_header(void *buf, uint16_t family,
                                        uint16_t flags, uint32_t seq,
                                        uint8_t cmd, uint8_t version)
{
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = family;
  nlh->nlmsg_flags = flags;
  nlh->nlmsg_seq = seq;
  struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof *g);
  g->cmd = cmd;
  g->version = version;
  return nlh;
}

static bool put_device(struct nlmsghdr *nlh, size_t buflen,
                       const struct wg_device_set *dev)
{
  if (dev->replace_peers &&
      !mnl_attr_put_u32_check(nlh, buflen, WGDEVICE_A_FLAGS,
                              WGDEVICE_F_REPLACE_PEERS))
    return false;
  if (dev->has_private_key &&
      !mnl_attr_put_check(nlh, buflen, WGDEVICE_A_PRIVATE_KEY, WG_KEY_LEN,
                          dev->private_key))
    return false;
  if (dev->has_listen_port &&
      !mnl_attr_put_u16_check(nlh, buflen, WGDEVICE_A_LISTEN_PORT,
                              dev->listen_port))
    return false;
  return true;
}

/* The kernel takes the endpoint as the sockaddr it will send to. */
static bool put_endpoint(struct nlmsghdr *nlh, size_t buflen,
                         const struct wg_peer_set *p)
{
  if (p->endpoint_family == AF_INET) {
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons(p->endpoint_port)};
    memcpy(&sin.sin_addr, p->endpoint_addr, sizeof sin.sin_addr);
    return mnl_attr_put_check(nlh, buflen, WGPEER_A_ENDPOINT, sizeof sin,
                              &sin);
  }
  struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6,
                              .sin6_port = htons(p->endpoint_port)};
  memcpy(&sin6.sin6_addr, p->endpoint_addr, sizeof sin6.sin6_addr);
  return mnl_attr_put_check(nlh, buflen, WGPEER_A_ENDPOINT, sizeof sin6,
                            &sin6);
}

static bool put_allowed_ip(struct nlmsghdr *nlh, size_t buflen,
                           const struct wg_prefix *ip)
{
  struct nlattr *nest = mnl_attr_nest_start_check(nlh, buflen, 0);
  if (!nest ||
      !mnl_attr_put_u16_check(nlh, buflen, WGALLOWEDIP_A_FAMILY,
                              (uint16_t)ip->family) ||
      !mnl_attr_put_check(nlh, buflen, WGALLOWEDIP_A_IPADDR,
                          addr_len(ip->family), ip->addr) ||
      !mnl_attr_put_u8_check(nlh, buflen, WGALLOWEDIP_A_CIDR_MASK, ip->bits))
    return false;
  mnl_attr_nest_end(nlh, nest);
  return true;
}

static bool put_allowed_ips(struct nlmsghdr *nlh, size_t buflen,
                            const struct wg_peer_set *p)
{
  if (!p->allowed_ip_count)
    return true;
  struct nlattr *nest =
      mnl_attr_nest_start_check(nlh, buflen, WGPEER_A_ALLOWEDIPS);
  if (!nest)
    return false;
  for (size_t i = 0; i < p->allowed_ip_count; i++)
    if (!put_allowed_ip(nlh, buflen, &p->allowed_ips[i]))
      return false;
  mnl_attr_nest_end(nlh, nest);
  return true;
}

static bool put_peer_fields(struct nlmsghdr *nlh, size_t buflen,
                            const struct wg_peer_set *p)
{
  uint32_t flags = p->remove                ? WGPEER_F_REMOVE_ME
                   : p->replace_allowed_ips ? WGPEER_F_REPLACE_ALLOWEDIPS
                                            : 0;
  if (!mnl_attr_put_check(nlh, buflen, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN,
                          p->public_key) ||
      !mnl_attr_put_u32_check(nlh, buflen, WGPEER_A_FLAGS, flags))
    return false;
  if (p->remove)
    return true;
  if (p->has_psk && !mnl_attr_put_check(nlh, buflen, WGPEER_A_PRESHARED_KEY,
                                        WG_KEY_LEN, p->psk))
    return false;
  if (p->has_endpoint && !put_endpoint(nlh, buflen, p))
    return false;
  if (p->has_keepalive &&
      !mnl_attr_put_u16_check(nlh, buflen,
                              WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
                              p->keepalive_s))
    return false;
  return put_allowed_ips(nlh, buflen, p);
}

/* One peer whole or not at all: a peer that does not fit is taken back
 * out, so the message stays well formed and the peer goes in the next. */
static bool put_peer(struct nlmsghdr *nlh, size_t buflen,
                     const struct wg_peer_set *p)
{
  struct nlattr *nest = mnl_attr_nest_start_check(nlh, buflen, 0);
  if (!nest)
    return false;
  if (!put_peer_fields(nlh, buflen, p)) {
    mnl_attr_nest_cancel(nlh, nest);
    return false;
  }
  mnl_attr_nest_end(nlh, nest);
  return true;
}

/* Puts as many of peers[0..n) as fit, counted in *added (none: no peers
 * nest at all). -1 on a bad peer. */
static int put_peers(struct nlmsghdr *nlh, size_t buflen,
                     const struct wg_peer_set *peers, size_t n,
                     size_t first_index, size_t *added, char *why,
                     size_t whylen)
{
  *added = 0;
  struct nlattr *list = mnl_attr_nest_start_check(nlh, buflen,
                                                  WGDEVICE_A_PEERS);
  if (!list)
    return 0;
  for (; *added < n; (*added)++) {
    if (check_peer(&peers[*added], first_index + *added, why, whylen) < 0)
      return -1;
    if (!put_peer(nlh, buflen, &peers[*added]))
      break;
  }
  if (*added == 0)
    mnl_attr_nest_cancel(nlh, list);
  else
    mnl_attr_nest_end(nlh, list);
  return 0;
}

int genl_build_set(void *buf, size_t buflen, uint16_t family, uint32_t seq,
                   const char *ifname, const struct wg_device_set *dev,
                   const struct wg_peer_set *peers, size_t count,
                   size_t *done, char *why, size_t whylen)
{
  if (!ifname_ok(ifname))
    return fail(why, whylen, "'%s' is not an interface name",
                ifname ? ifname : "(null)");
  if (*done > count)
    return fail(why, whylen, "%zu of %zu peers already sent", *done, count);
  /* An attribute's length is 16 bits: keeping the whole message under
   * 64 KiB keeps the peers nest from overflowing it. */
  if (buflen > UINT16_MAX)
    buflen = UINT16_MAX;
  if (buflen < genl_header_size())
    return fail(why, whylen, "a %zu-byte buffer holds no netlink message",
                buflen);
  struct nlmsghdr *nlh = put_genl_header(buf, family,
                                         NLM_F_REQUEST | NLM_F_ACK, seq,
                                         WG_CMD_SET_DEVICE, WG_GENL_VERSION);
  /* The device's own fields go in the first message only: repeating
   * replace-peers in a later one would drop the peers sent before it. */
  bool first = *done == 0;
  if (!mnl_attr_put_strz_check(nlh, buflen, WGDEVICE_A_IFNAME, ifname) ||
      (first && dev && !put_device(nlh, buflen, dev)))
    return fail(why, whylen, "a %zu-byte buffer is too small for %s's "
                "settings", buflen, ifname);
  size_t added = 0;
  if (*done < count) {
    if (put_peers(nlh, buflen, peers + *done, count - *done, *done, &added,
                  why, whylen) < 0)
      return -1;
    if (added == 0)
      return fail(why, whylen, "a %zu-byte buffer holds not even one peer "
                  "(peer %zu)", buflen, *done);
  }
  *done += added;
  return (int)nlh->nlmsg_len;
}

int genl_build_get(void *buf, size_t buflen, uint16_t family, uint32_t seq,
                   const char *ifname)
{
  if (!ifname_ok(ifname) || buflen < genl_header_size())
    return -1;
  struct nlmsghdr *nlh = put_genl_header(buf, family,
                                         NLM_F_REQUEST | NLM_F_DUMP, seq,
                                         WG_CMD_GET_DEVICE, WG_GENL_VERSION);
  if (!mnl_attr_put_strz_check(nlh, buflen, WGDEVICE_A_IFNAME, ifname))
    return -1;
  return (int)nlh->nlmsg_len;
}

/* ---- parsing a GET_DEVICE reply ---- */

struct parse {
  struct wg_device_state *out;
  char *why;
  size_t whylen;
};

/* A peer as one message describes it, before it joins out->peers. */
struct peer_parse {
  struct parse *ps;
  struct wg_peer_state peer;
  bool has_key;
};

struct ip_parse {
  struct parse *ps;
  struct wg_prefix *ip;
  bool has_family, has_addr, has_bits;
  size_t addr_len;
};

/* mnl_attr_validate on attr (exact length len when non-zero); on a
 * mismatch, why names the attribute. */
static bool attr_ok(struct parse *ps, const struct nlattr *attr,
                    enum mnl_attr_data_type type, size_t len, const char *what)
{
  int r = len ? mnl_attr_validate2(attr, type, len)
              : mnl_attr_validate(attr, type);
  if (r < 0)
    fail(ps->why, ps->whylen, "%s: malformed attribute (%u bytes)", what,
         (unsigned)mnl_attr_get_payload_len(attr));
  return r == 0;
}

/* Fails the parse from inside an mnl callback. */
__attribute__((format(printf, 2, 3))) static int refuse(struct parse *ps,
                                                        const char *fmt, ...)
{
  if (ps->why && ps->whylen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->why, ps->whylen, fmt, ap);
    va_end(ap);
  }
  errno = EBADMSG;
  return MNL_CB_ERROR;
}

static int allowed_ip_attr(const struct nlattr *attr, void *data)
{
  struct ip_parse *ip = data;
  struct parse *ps = ip->ps;
  switch (mnl_attr_get_type(attr)) {
  case WGALLOWEDIP_A_FAMILY:
    if (!attr_ok(ps, attr, MNL_TYPE_U16, 0, "allowed IP family"))
      return MNL_CB_ERROR;
    ip->ip->family = mnl_attr_get_u16(attr);
    ip->has_family = true;
    break;
  case WGALLOWEDIP_A_IPADDR:
    if (!attr_ok(ps, attr, MNL_TYPE_BINARY, 0, "allowed IP address"))
      return MNL_CB_ERROR;
    ip->addr_len = mnl_attr_get_payload_len(attr);
    if (ip->addr_len != 4 && ip->addr_len != 16)
      return refuse(ps, "an allowed IP address of %zu bytes", ip->addr_len);
    memcpy(ip->ip->addr, mnl_attr_get_payload(attr), ip->addr_len);
    ip->has_addr = true;
    break;
  case WGALLOWEDIP_A_CIDR_MASK:
    if (!attr_ok(ps, attr, MNL_TYPE_U8, 0, "allowed IP prefix length"))
      return MNL_CB_ERROR;
    ip->ip->bits = mnl_attr_get_u8(attr);
    ip->has_bits = true;
    break;
  }
  return MNL_CB_OK;
}

static int allowed_ip_entry(const struct nlattr *attr, void *data)
{
  struct peer_parse *pp = data;
  struct parse *ps = pp->ps;
  if (!attr_ok(ps, attr, MNL_TYPE_NESTED, 0, "allowed IP"))
    return MNL_CB_ERROR;
  if (pp->peer.allowed_ip_count == WG_MAX_ALLOWED_IPS)
    return refuse(ps, "a peer has more than %d allowed IPs",
                  WG_MAX_ALLOWED_IPS);
  struct wg_prefix prefix = {0};
  struct ip_parse ip = {.ps = ps, .ip = &prefix};
  if (mnl_attr_parse_nested(attr, allowed_ip_attr, &ip) < 0)
    return MNL_CB_ERROR;
  if (!ip.has_family || !ip.has_addr || !ip.has_bits)
    return refuse(ps, "an allowed IP lacks its family, address or prefix "
                  "length");
  if (ip.addr_len != addr_len(prefix.family) || !prefix_ok(&prefix))
    return refuse(ps, "an allowed IP's address does not match its family "
                  "(%d) or prefix length (/%u)", prefix.family, prefix.bits);
  pp->peer.allowed_ips[pp->peer.allowed_ip_count++] = prefix;
  return MNL_CB_OK;
}

/* The kernel reports the endpoint as the sockaddr it sends to. */
static int peer_endpoint(struct peer_parse *pp, const struct nlattr *attr)
{
  struct parse *ps = pp->ps;
  if (!attr_ok(ps, attr, MNL_TYPE_BINARY, 0, "peer endpoint"))
    return MNL_CB_ERROR;
  const void *payload = mnl_attr_get_payload(attr);
  size_t len = mnl_attr_get_payload_len(attr);
  sa_family_t family = AF_UNSPEC;
  if (len >= sizeof family)
    memcpy(&family, payload, sizeof family);
  if (family == AF_INET && len == sizeof(struct sockaddr_in)) {
    struct sockaddr_in sin;
    memcpy(&sin, payload, sizeof sin);
    memcpy(pp->peer.endpoint_addr, &sin.sin_addr, 4);
    pp->peer.endpoint_port = ntohs(sin.sin_port);
  } else if (family == AF_INET6 && len == sizeof(struct sockaddr_in6)) {
    struct sockaddr_in6 sin6;
    memcpy(&sin6, payload, sizeof sin6);
    memcpy(pp->peer.endpoint_addr, &sin6.sin6_addr, 16);
    pp->peer.endpoint_port = ntohs(sin6.sin6_port);
  } else {
    return refuse(ps, "a peer endpoint of %zu bytes (family %u) is neither "
                  "a sockaddr_in nor a sockaddr_in6", len, (unsigned)family);
  }
  pp->peer.has_endpoint = true;
  pp->peer.endpoint_family = family;
  return MNL_CB_OK;
}

static int peer_key_attr(struct peer_parse *pp, const struct nlattr *attr,
                         bool public)
{
  if (!attr_ok(pp->ps, attr, MNL_TYPE_BINARY, WG_KEY_LEN,
               public ? "peer public key" : "peer preshared key"))
    return MNL_CB_ERROR;
  if (public) {
    memcpy(pp->peer.public_key, mnl_attr_get_payload(attr), WG_KEY_LEN);
    pp->has_key = true;
  } else {
    /* The kernel reports an unset preshared key as all zeros. */
    pp->peer.has_psk = !key_is_zero(mnl_attr_get_payload(attr));
  }
  return MNL_CB_OK;
}

static int peer_handshake(struct peer_parse *pp, const struct nlattr *attr)
{
  struct __kernel_timespec ts;
  if (!attr_ok(pp->ps, attr, MNL_TYPE_BINARY, sizeof ts,
               "peer last handshake"))
    return MNL_CB_ERROR;
  memcpy(&ts, mnl_attr_get_payload(attr), sizeof ts);
  pp->peer.last_handshake_s = ts.tv_sec;
  return MNL_CB_OK;
}

static int peer_attr(const struct nlattr *attr, void *data)
{
  struct peer_parse *pp = data;
  struct parse *ps = pp->ps;
  switch (mnl_attr_get_type(attr)) {
  case WGPEER_A_PUBLIC_KEY:
    return peer_key_attr(pp, attr, true);
  case WGPEER_A_PRESHARED_KEY:
    return peer_key_attr(pp, attr, false);
  case WGPEER_A_ENDPOINT:
    return peer_endpoint(pp, attr);
  case WGPEER_A_LAST_HANDSHAKE_TIME:
    return peer_handshake(pp, attr);
  case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
    if (!attr_ok(ps, attr, MNL_TYPE_U16, 0, "peer keepalive"))
      return MNL_CB_ERROR;
    pp->peer.keepalive_s = mnl_attr_get_u16(attr);
    break;
  case WGPEER_A_RX_BYTES:
    if (!attr_ok(ps, attr, MNL_TYPE_U64, 0, "peer received bytes"))
      return MNL_CB_ERROR;
    pp->peer.rx_bytes = mnl_attr_get_u64(attr);
    break;
  case WGPEER_A_TX_BYTES:
    if (!attr_ok(ps, attr, MNL_TYPE_U64, 0, "peer sent bytes"))
      return MNL_CB_ERROR;
    pp->peer.tx_bytes = mnl_attr_get_u64(attr);
    break;
  case WGPEER_A_FLAGS:
  case WGPEER_A_PROTOCOL_VERSION:
    if (!attr_ok(ps, attr, MNL_TYPE_U32, 0, "peer flags or version"))
      return MNL_CB_ERROR;
    break;
  case WGPEER_A_ALLOWEDIPS:
    if (!attr_ok(ps, attr, MNL_TYPE_NESTED, 0, "peer allowed IPs"))
      return MNL_CB_ERROR;
    return mnl_attr_parse_nested(attr, allowed_ip_entry, pp) < 0
               ? MNL_CB_ERROR
               : MNL_CB_OK;
  }
  /* Attributes newer than this code are left alone. */
  return MNL_CB_OK;
}

/* A dump may cut a peer's allowed IPs short and go on in the next message
 * with the same public key again: such a peer continues the last one. */
static int add_peer(struct parse *ps, const struct peer_parse *pp)
{
  struct wg_device_state *out = ps->out;
  struct wg_peer_state *last =
      out->peer_count ? &out->peers[out->peer_count - 1] : NULL;
  if (!last || memcmp(last->public_key, pp->peer.public_key, WG_KEY_LEN)) {
    out->peers[out->peer_count++] = pp->peer; /* room made by peers_list */
    return MNL_CB_OK;
  }
  if (last->allowed_ip_count + pp->peer.allowed_ip_count > WG_MAX_ALLOWED_IPS)
    return refuse(ps, "a peer has more than %d allowed IPs",
                  WG_MAX_ALLOWED_IPS);
  memcpy(&last->allowed_ips[last->allowed_ip_count], pp->peer.allowed_ips,
         pp->peer.allowed_ip_count * sizeof pp->peer.allowed_ips[0]);
  last->allowed_ip_count += pp->peer.allowed_ip_count;
  return MNL_CB_OK;
}

static int peer_entry(const struct nlattr *attr, void *data)
{
  struct parse *ps = data;
  if (!attr_ok(ps, attr, MNL_TYPE_NESTED, 0, "peer"))
    return MNL_CB_ERROR;
  struct peer_parse pp = {.ps = ps};
  if (mnl_attr_parse_nested(attr, peer_attr, &pp) < 0)
    return MNL_CB_ERROR;
  if (!pp.has_key)
    return refuse(ps, "a peer without a public key");
  return add_peer(ps, &pp);
}

/* Room for every peer the list holds, made once per message. */
static int peers_list(struct parse *ps, const struct nlattr *attr)
{
  if (!attr_ok(ps, attr, MNL_TYPE_NESTED, 0, "peers"))
    return MNL_CB_ERROR;
  size_t n = 0;
  const struct nlattr *entry;
  mnl_attr_for_each_nested(entry, attr) {
    n++;
  }
  if (n) {
    struct wg_device_state *out = ps->out;
    struct wg_peer_state *grown =
        realloc(out->peers, (out->peer_count + n) * sizeof *grown);
    if (!grown) {
      fail(ps->why, ps->whylen, "out of memory for %zu peers",
           out->peer_count + n);
      errno = ENOMEM;
      return MNL_CB_ERROR;
    }
    out->peers = grown;
  }
  return mnl_attr_parse_nested(attr, peer_entry, ps) < 0 ? MNL_CB_ERROR
                                                         : MNL_CB_OK;
}

static int device_attr(const struct nlattr *attr, void *data)
{
  struct parse *ps = data;
  struct wg_device_state *out = ps->out;
  switch (mnl_attr_get_type(attr)) {
  case WGDEVICE_A_IFINDEX:
    return attr_ok(ps, attr, MNL_TYPE_U32, 0, "interface index")
               ? MNL_CB_OK
               : MNL_CB_ERROR;
  case WGDEVICE_A_IFNAME:
    return attr_ok(ps, attr, MNL_TYPE_NUL_STRING, 0, "interface name")
               ? MNL_CB_OK
               : MNL_CB_ERROR;
  case WGDEVICE_A_PRIVATE_KEY:
    if (!attr_ok(ps, attr, MNL_TYPE_BINARY, WG_KEY_LEN, "private key"))
      return MNL_CB_ERROR;
    memcpy(out->private_key, mnl_attr_get_payload(attr), WG_KEY_LEN);
    out->has_private_key = !key_is_zero(out->private_key);
    break;
  case WGDEVICE_A_PUBLIC_KEY:
    return attr_ok(ps, attr, MNL_TYPE_BINARY, WG_KEY_LEN, "public key")
               ? MNL_CB_OK
               : MNL_CB_ERROR;
  case WGDEVICE_A_LISTEN_PORT:
    if (!attr_ok(ps, attr, MNL_TYPE_U16, 0, "listen port"))
      return MNL_CB_ERROR;
    out->listen_port = mnl_attr_get_u16(attr);
    break;
  case WGDEVICE_A_FWMARK:
    if (!attr_ok(ps, attr, MNL_TYPE_U32, 0, "fwmark"))
      return MNL_CB_ERROR;
    out->fwmark = mnl_attr_get_u32(attr);
    break;
  case WGDEVICE_A_PEERS:
    return peers_list(ps, attr);
  }
  return MNL_CB_OK;
}

int genl_parse_device(const void *msg, size_t len, struct wg_device_state *out,
                      char *why, size_t whylen)
{
  const struct nlmsghdr *nlh = msg;
  if (len > INT32_MAX || !mnl_nlmsg_ok(nlh, (int)len))
    return fail(why, whylen, "a truncated netlink message");
  if (nlh->nlmsg_type < NLMSG_MIN_TYPE)
    return fail(why, whylen, "a netlink control message (type %u), not a "
                "device", nlh->nlmsg_type);
  if (nlh->nlmsg_len < genl_header_size())
    return fail(why, whylen, "a message shorter than its generic netlink "
                "header");
  const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
  if (g->cmd != WG_CMD_GET_DEVICE)
    return fail(why, whylen, "a reply to command %u, not GET_DEVICE", g->cmd);
  struct parse ps = {.out = out, .why = why, .whylen = whylen};
  if (mnl_attr_parse(nlh, sizeof *g, device_attr, &ps) < 0)
    return -1;
  return 0;
}

/* ---- talking to the kernel ---- */

struct genl_sock {
  struct mnl_socket *nl;
  uint32_t portid;
  uint32_t seq;
  uint16_t family;
};

/* What the control messages mean: an error (or, with error 0, the ack),
 * and the end of a dump, which carries the dump's own error. */
static int on_error(const struct nlmsghdr *nlh, void *data)
{
  (void)data;
  const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof *err)) {
    errno = EBADMSG;
    return MNL_CB_ERROR;
  }
  if (err->error == 0)
    return MNL_CB_STOP;
  errno = err->error < 0 ? -err->error : err->error;
  return MNL_CB_ERROR;
}

static int on_done(const struct nlmsghdr *nlh, void *data)
{
  (void)data;
  int error = 0;
  if (nlh->nlmsg_len >= mnl_nlmsg_size(sizeof error))
    memcpy(&error, mnl_nlmsg_get_payload(nlh), sizeof error);
  if (error == 0)
    return MNL_CB_STOP;
  errno = error < 0 ? -error : error;
  return MNL_CB_ERROR;
}

/* Sends msg and runs cb on each reply until the ack or the dump's end.
 * 0 or -errno. */
static int exchange(struct genl_sock *s, const void *msg, size_t len,
                    mnl_cb_t cb, void *data)
{
  /* Control messages without a callback here (NOOP, OVERRUN) are
   * skipped; libmnl takes the array non-const. */
  static mnl_cb_t ctl[NLMSG_MIN_TYPE] = {[NLMSG_ERROR] = on_error,
                                         [NLMSG_DONE] = on_done};
  const struct nlmsghdr *nlh = msg;
  if (mnl_socket_sendto(s->nl, msg, len) < 0)
    return -errno;
  char *buf = malloc(RECV_SIZE);
  if (!buf)
    return -ENOMEM;
  int r;
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(s->nl, buf, RECV_SIZE);
    if (n < 0) {
      r = -errno;
      break;
    }
    errno = 0;
    r = mnl_cb_run2(buf, (size_t)n, nlh->nlmsg_seq, s->portid, cb, data, ctl,
                    NLMSG_MIN_TYPE);
    if (r == MNL_CB_ERROR) {
      r = errno ? -errno : -EPROTO;
      break;
    }
    if (r == MNL_CB_STOP) {
      r = 0;
      break;
    }
  }
  explicit_bzero(buf, RECV_SIZE); /* a dump carries the private key */
  free(buf);
  return r;
}

static int family_attr(const struct nlattr *attr, void *data)
{
  if (mnl_attr_get_type(attr) == CTRL_ATTR_FAMILY_ID &&
      mnl_attr_validate(attr, MNL_TYPE_U16) == 0)
    *(uint16_t *)data = mnl_attr_get_u16(attr);
  return MNL_CB_OK;
}

static int family_reply(const struct nlmsghdr *nlh, void *data)
{
  mnl_attr_parse(nlh, sizeof(struct genlmsghdr), family_attr, data);
  return MNL_CB_OK;
}

/* The "wireguard" family's id; -ENOENT when the kernel has none. */
static int resolve_family(struct genl_sock *s)
{
  char buf[256];
  struct nlmsghdr *nlh = put_genl_header(buf, GENL_ID_CTRL,
                                         NLM_F_REQUEST | NLM_F_ACK, ++s->seq,
                                         CTRL_CMD_GETFAMILY, 1);
  mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
  s->family = 0;
  int r = exchange(s, buf, nlh->nlmsg_len, family_reply, &s->family);
  if (r == 0 && s->family == 0)
    r = -EPROTO;
  return r;
}

static void sock_close(struct genl_sock *s)
{
  if (s->nl)
    mnl_socket_close(s->nl);
  s->nl = NULL;
}

/* A bound generic netlink socket with the family resolved. */
static int sock_open(struct genl_sock *s, const char *doing, const char *ifname,
                     char *why, size_t whylen)
{
  *s = (struct genl_sock){.seq = (uint32_t)time(NULL)};
  s->nl = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC);
  if (!s->nl || mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    int e = errno;
    fail(why, whylen, "%s WireGuard device %s: generic netlink socket: %s",
         doing, ifname, strerror(e));
    sock_close(s);
    return -e;
  }
  s->portid = mnl_socket_get_portid(s->nl);
  int r = resolve_family(s);
  if (r == -ENOENT)
    fail(why, whylen, "%s WireGuard device %s: the kernel has no WireGuard "
         "(no generic netlink family \"" WG_GENL_NAME "\")", doing, ifname);
  else if (r < 0)
    fail(why, whylen, "%s WireGuard device %s: resolving the \"" WG_GENL_NAME
         "\" netlink family: %s", doing, ifname, strerror(-r));
  if (r < 0)
    sock_close(s);
  return r;
}

/* Sends the request in as many messages as it takes, each acked before
 * the next goes. 0 or -errno; detail says why on failure. */
static int send_set(struct genl_sock *s, const char *ifname,
                    const struct wg_device_set *dev,
                    const struct wg_peer_set *peers, size_t count,
                    char *detail, size_t detaillen)
{
  char buf[SET_MSG_SIZE];
  size_t done = 0;
  do {
    int len = genl_build_set(buf, sizeof buf, s->family, ++s->seq, ifname,
                             dev, peers, count, &done, detail, detaillen);
    if (len < 0)
      return -EINVAL;
    int r = exchange(s, buf, (size_t)len, NULL, NULL);
    if (r < 0) {
      explicit_bzero(buf, sizeof buf);
      fail(detail, detaillen, "%s", strerror(-r));
      return r;
    }
  } while (done < count);
  explicit_bzero(buf, sizeof buf); /* it held the private key */
  return 0;
}

int genl_set(const char *ifname, const struct wg_device_set *dev,
             const struct wg_peer_set *peers, size_t count, char *why,
             size_t whylen)
{
  if (!ifname_ok(ifname)) {
    fail(why, whylen, "'%s' is not an interface name",
         ifname ? ifname : "(null)");
    return -EINVAL;
  }
  char detail[192];
  /* Every peer checked before the first message, so a bad one cannot
   * leave the device half configured. */
  for (size_t i = 0; i < count; i++)
    if (check_peer(&peers[i], i, detail, sizeof detail) < 0) {
      fail(why, whylen, "setting WireGuard device %s: %s", ifname, detail);
      return -EINVAL;
    }
  struct genl_sock s;
  int r = sock_open(&s, "setting", ifname, why, whylen);
  if (r < 0)
    return r;
  r = send_set(&s, ifname, dev, peers, count, detail, sizeof detail);
  if (r < 0)
    fail(why, whylen, "setting WireGuard device %s: %s", ifname, detail);
  sock_close(&s);
  return r;
}

struct dump {
  struct wg_device_state *out;
  char why[192];
  bool bad;
};

static int dump_message(const struct nlmsghdr *nlh, void *data)
{
  struct dump *d = data;
  if (genl_parse_device(nlh, nlh->nlmsg_len, d->out, d->why,
                        sizeof d->why) < 0) {
    d->bad = true;
    errno = EBADMSG;
    return MNL_CB_ERROR;
  }
  return MNL_CB_OK;
}

/* One GET_DEVICE dump on a socket of its own: a dump cut short leaves the
 * rest of it in the socket, so a retry starts afresh. */
static int dump_once(const char *ifname, struct wg_device_state *out,
                     char *why, size_t whylen)
{
  struct genl_sock s;
  int r = sock_open(&s, "reading", ifname, why, whylen);
  if (r < 0)
    return r;
  char req[128];
  struct dump d = {.out = out};
  int len = genl_build_get(req, sizeof req, s.family, ++s.seq, ifname);
  r = len < 0 ? -EINVAL : exchange(&s, req, (size_t)len, dump_message, &d);
  sock_close(&s);
  if (r < 0)
    fail(why, whylen, "reading WireGuard device %s: %s", ifname,
         d.bad ? d.why : strerror(-r));
  return r;
}

int genl_get(const char *ifname, struct wg_device_state *out, char *why,
             size_t whylen)
{
  *out = (struct wg_device_state){0};
  if (!ifname_ok(ifname)) {
    fail(why, whylen, "'%s' is not an interface name",
         ifname ? ifname : "(null)");
    return -EINVAL;
  }
  int r;
  /* The kernel flags a dump the device changed under (EINTR): read it
   * again, a few times at most. */
  for (int attempt = 0; attempt < 3; attempt++) {
    r = dump_once(ifname, out, why, whylen);
    if (r != -EINTR)
      break;
    wg_device_state_free(out);
    *out = (struct wg_device_state){0};
  }
  if (r < 0) {
    wg_device_state_free(out);
    *out = (struct wg_device_state){0};
  }
  return r;
}
