/* The interface around WireGuard, through rtnetlink with libmnl. Each call
 * opens its own NETLINK_ROUTE socket, sends one request and reads its ack:
 * these run a handful of times per server start, never per packet. */
#include "rtnl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#define MSG_SIZE 512
#define ACK_SIZE 8192

bool rtnl_name_ok(const char *name)
{
  if (!name)
    return false;
  size_t len = strnlen(name, IFNAMSIZ);
  if (len == 0 || len >= IFNAMSIZ)
    return false;
  /* The kernel refuses these two: they are path names under sysfs. */
  if (!strcmp(name, ".") || !strcmp(name, ".."))
    return false;
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok)
      return false;
  }
  return true;
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

/* ---- building requests ---- */

/* A request header with its family header (ifinfomsg, ifaddrmsg, rtmsg)
 * zeroed after it, or NULL when buflen holds not even that. */
static struct nlmsghdr *put_header(void *buf, size_t buflen, uint16_t type,
                                   uint16_t flags, uint32_t seq,
                                   size_t extra)
{
  if (buflen < MNL_NLMSG_HDRLEN + MNL_ALIGN(extra))
    return NULL;
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = flags;
  nlh->nlmsg_seq = seq;
  mnl_nlmsg_put_extra_header(nlh, extra);
  return nlh;
}

int rtnl_build_link_create(void *buf, size_t buflen, uint32_t seq,
                           const char *ifname, const char *kind)
{
  if (!rtnl_name_ok(ifname) || !kind || !kind[0])
    return -1;
  struct nlmsghdr *nlh = put_header(
      buf, buflen, RTM_NEWLINK,
      NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq,
      sizeof(struct ifinfomsg));
  if (!nlh || !mnl_attr_put_strz_check(nlh, buflen, IFLA_IFNAME, ifname))
    return -1;
  struct nlattr *info = mnl_attr_nest_start_check(nlh, buflen, IFLA_LINKINFO);
  if (!info || !mnl_attr_put_strz_check(nlh, buflen, IFLA_INFO_KIND, kind))
    return -1;
  mnl_attr_nest_end(nlh, info);
  return (int)nlh->nlmsg_len;
}

/* By name, so deleting needs no index looked up first. */
static int build_link_delete(void *buf, size_t buflen, uint32_t seq,
                             const char *ifname)
{
  struct nlmsghdr *nlh = put_header(buf, buflen, RTM_DELLINK,
                                    NLM_F_REQUEST | NLM_F_ACK, seq,
                                    sizeof(struct ifinfomsg));
  if (!nlh || !mnl_attr_put_strz_check(nlh, buflen, IFLA_IFNAME, ifname))
    return -1;
  return (int)nlh->nlmsg_len;
}

/* ifi_change says which flags to touch: IFF_UP only. */
static int build_link_up(void *buf, size_t buflen, uint32_t seq, int ifindex)
{
  struct nlmsghdr *nlh = put_header(buf, buflen, RTM_NEWLINK,
                                    NLM_F_REQUEST | NLM_F_ACK, seq,
                                    sizeof(struct ifinfomsg));
  if (!nlh)
    return -1;
  struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  return (int)nlh->nlmsg_len;
}

/* IFA_LOCAL is the interface's own address; IFA_ADDRESS the same on a
 * link that is not point-to-point, and both are what ip(8) sends. */
int rtnl_build_addr(void *buf, size_t buflen, uint32_t seq, int ifindex,
                    const struct wg_prefix *addr)
{
  if (ifindex <= 0 || !prefix_ok(addr))
    return -1;
  struct nlmsghdr *nlh = put_header(
      buf, buflen, RTM_NEWADDR,
      NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq,
      sizeof(struct ifaddrmsg));
  if (!nlh)
    return -1;
  struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
  ifa->ifa_family = (uint8_t)addr->family;
  ifa->ifa_prefixlen = addr->bits;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = (uint32_t)ifindex;
  size_t len = addr_len(addr->family);
  if (!mnl_attr_put_check(nlh, buflen, IFA_LOCAL, len, addr->addr) ||
      !mnl_attr_put_check(nlh, buflen, IFA_ADDRESS, len, addr->addr))
    return -1;
  return (int)nlh->nlmsg_len;
}

/* A prefix reached directly over the link (scope link, no gateway) in
 * `table`, marked static as an administrator's route would be. Tables past
 * 255 go in RTA_TABLE, as the one-byte field cannot hold them. */
int rtnl_build_route_table(void *buf, size_t buflen, uint32_t seq, int ifindex,
                           const struct wg_prefix *dst, uint32_t table)
{
  if (ifindex <= 0 || !prefix_ok(dst) || table == 0)
    return -1;
  struct nlmsghdr *nlh = put_header(
      buf, buflen, RTM_NEWROUTE,
      NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq,
      sizeof(struct rtmsg));
  if (!nlh)
    return -1;
  struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
  rtm->rtm_family = (uint8_t)dst->family;
  rtm->rtm_dst_len = dst->bits;
  rtm->rtm_table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
  rtm->rtm_protocol = RTPROT_STATIC;
  rtm->rtm_scope = RT_SCOPE_LINK;
  rtm->rtm_type = RTN_UNICAST;
  if (!mnl_attr_put_check(nlh, buflen, RTA_DST, addr_len(dst->family),
                          dst->addr) ||
      !mnl_attr_put_u32_check(nlh, buflen, RTA_OIF, (uint32_t)ifindex) ||
      (table >= 256 && !mnl_attr_put_u32_check(nlh, buflen, RTA_TABLE, table)))
    return -1;
  return (int)nlh->nlmsg_len;
}

int rtnl_build_route(void *buf, size_t buflen, uint32_t seq, int ifindex,
                     const struct wg_prefix *dst)
{
  return rtnl_build_route_table(buf, buflen, seq, ifindex, dst, RT_TABLE_MAIN);
}

/* "from PREFIX lookup TABLE" at priority, added or (del) removed. */
int rtnl_build_rule(void *buf, size_t buflen, uint32_t seq, bool del,
                    const struct wg_rule *r)
{
  const struct wg_prefix *from = &r->from, *to = r->has_to ? &r->to : NULL;
  if (!prefix_ok(from) || r->table == 0 ||
      (to && (!prefix_ok(to) || to->family != from->family)) ||
      (r->sport && r->ip_proto != IPPROTO_TCP && r->ip_proto != IPPROTO_UDP))
    return -1;
  uint16_t flags = NLM_F_REQUEST | NLM_F_ACK;
  if (!del)
    flags |= NLM_F_CREATE | NLM_F_EXCL;
  struct nlmsghdr *nlh =
      put_header(buf, buflen, del ? RTM_DELRULE : RTM_NEWRULE, flags, seq,
                 sizeof(struct fib_rule_hdr));
  if (!nlh)
    return -1;
  struct fib_rule_hdr *frh = mnl_nlmsg_get_payload(nlh);
  frh->family = (uint8_t)from->family;
  frh->src_len = from->bits;
  frh->dst_len = to ? to->bits : 0;
  frh->table = r->table < 256 ? (uint8_t)r->table : RT_TABLE_UNSPEC;
  frh->action = FR_ACT_TO_TBL;
  struct fib_rule_port_range ports = {r->sport, r->sport};
  if (!mnl_attr_put_check(nlh, buflen, FRA_SRC, addr_len(from->family),
                          from->addr) ||
      (to && !mnl_attr_put_check(nlh, buflen, FRA_DST,
                                 addr_len(to->family), to->addr)) ||
      (r->ip_proto &&
       !mnl_attr_put_u8_check(nlh, buflen, FRA_IP_PROTO, r->ip_proto)) ||
      (r->sport && !mnl_attr_put_check(nlh, buflen, FRA_SPORT_RANGE,
                                       sizeof ports, &ports)) ||
      !mnl_attr_put_u32_check(nlh, buflen, FRA_TABLE, r->table) ||
      !mnl_attr_put_u32_check(nlh, buflen, FRA_PRIORITY, r->priority))
    return -1;
  return (int)nlh->nlmsg_len;
}

/* ---- talking to the kernel ---- */

struct ack {
  char kernel_says[128]; /* the kernel's extended-ack message, if any */
};

static int extack_attr(const struct nlattr *attr, void *data)
{
  struct ack *ack = data;
  if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
      mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
    snprintf(ack->kernel_says, sizeof ack->kernel_says, "%s",
             mnl_attr_get_str(attr));
  return MNL_CB_OK;
}

/* The ack (error 0) or the error, keeping the kernel's own words on it:
 * "Invalid prefix for given prefix length" says more than EINVAL. */
static int on_error(const struct nlmsghdr *nlh, void *data)
{
  const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof *err)) {
    errno = EBADMSG;
    return MNL_CB_ERROR;
  }
  if (err->error == 0)
    return MNL_CB_STOP;
  if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
    /* The TLVs follow the request the kernel echoes, unless capped. */
    size_t offset = sizeof *err;
    if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
      offset += err->msg.nlmsg_len - sizeof err->msg;
    if (mnl_nlmsg_size(offset) <= nlh->nlmsg_len)
      mnl_attr_parse(nlh, (unsigned)offset, extack_attr, data);
  }
  errno = err->error < 0 ? -err->error : err->error;
  return MNL_CB_ERROR;
}

static int read_ack(struct mnl_socket *nl, uint32_t seq, struct ack *ack)
{
  static mnl_cb_t ctl[NLMSG_MIN_TYPE] = {[NLMSG_ERROR] = on_error};
  char buf[ACK_SIZE];
  uint32_t portid = mnl_socket_get_portid(nl);
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof buf);
    if (n < 0)
      return -errno;
    errno = 0;
    int r = mnl_cb_run2(buf, (size_t)n, seq, portid, NULL, ack, ctl,
                        NLMSG_MIN_TYPE);
    if (r == MNL_CB_ERROR)
      return errno ? -errno : -EPROTO;
    if (r == MNL_CB_STOP)
      return 0;
  }
}

/* Sends one request on a socket of its own and reads the ack: 0 or
 * -errno, with the kernel's message (if it gave one) in ack. */
static int talk(const void *msg, size_t len, struct ack *ack)
{
  ack->kernel_says[0] = '\0';
  struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (!nl)
    return -errno;
  int on = 1;
  /* Ask for the kernel's error text, without the request echoed back. */
  mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &on, sizeof on);
  mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &on, sizeof on);
  int r = 0;
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
      mnl_socket_sendto(nl, msg, len) < 0)
    r = -errno;
  else
    r = read_ack(nl, ((const struct nlmsghdr *)msg)->nlmsg_seq, ack);
  mnl_socket_close(nl);
  return r;
}

/* why: "<doing>: <error>", with the kernel's words when it gave some. */
static int report(int r, const struct ack *ack, const char *doing, char *why,
                  size_t whylen)
{
  if (r < 0 && ack->kernel_says[0])
    snprintf(why, whylen, "%s: %s (kernel: %s)", doing, strerror(-r),
             ack->kernel_says);
  else if (r < 0)
    snprintf(why, whylen, "%s: %s", doing, strerror(-r));
  return r;
}

static int bad_name(const char *ifname, const char *doing, char *why,
                    size_t whylen)
{
  snprintf(why, whylen, "%s: '%s' is not an interface name (1 to 15 of "
           "A-Z a-z 0-9 _ . -)", doing, ifname ? ifname : "(null)");
  return -EINVAL;
}

static uint32_t next_seq(void)
{
  return (uint32_t)time(NULL);
}

int rtnl_link_create(const char *ifname, const char *kind, char *why,
                     size_t whylen)
{
  char doing[96];
  snprintf(doing, sizeof doing, "creating link %s (%s)",
           ifname ? ifname : "(null)", kind ? kind : "(null)");
  if (!rtnl_name_ok(ifname))
    return bad_name(ifname, doing, why, whylen);
  char buf[MSG_SIZE];
  int len = rtnl_build_link_create(buf, sizeof buf, next_seq(), ifname, kind);
  if (len < 0) {
    snprintf(why, whylen, "%s: not a link kind", doing);
    return -EINVAL;
  }
  /* An unknown kind comes back as EOPNOTSUPP: for "wireguard" that means
   * this kernel has no WireGuard, and the caller falls back to the UAPI. */
  struct ack ack;
  return report(talk(buf, (size_t)len, &ack), &ack, doing, why, whylen);
}

int rtnl_link_delete(const char *ifname, char *why, size_t whylen)
{
  char doing[64];
  snprintf(doing, sizeof doing, "deleting link %s",
           ifname ? ifname : "(null)");
  if (!rtnl_name_ok(ifname))
    return bad_name(ifname, doing, why, whylen);
  char buf[MSG_SIZE];
  int len = build_link_delete(buf, sizeof buf, next_seq(), ifname);
  struct ack ack;
  return report(talk(buf, (size_t)len, &ack), &ack, doing, why, whylen);
}

/* The index of ifname, or -ENODEV with why. */
static int ifindex_of(const char *ifname, const char *doing, char *why,
                      size_t whylen)
{
  if (!rtnl_name_ok(ifname))
    return bad_name(ifname, doing, why, whylen);
  unsigned index = if_nametoindex(ifname);
  if (index == 0) {
    snprintf(why, whylen, "%s: no such interface", doing);
    return -ENODEV;
  }
  return (int)index;
}

int rtnl_link_up(const char *ifname, char *why, size_t whylen)
{
  char doing[64];
  snprintf(doing, sizeof doing, "bringing link %s up",
           ifname ? ifname : "(null)");
  int index = ifindex_of(ifname, doing, why, whylen);
  if (index < 0)
    return index;
  char buf[MSG_SIZE];
  int len = build_link_up(buf, sizeof buf, next_seq(), index);
  struct ack ack;
  return report(talk(buf, (size_t)len, &ack), &ack, doing, why, whylen);
}

bool rtnl_link_exists(const char *ifname)
{
  return rtnl_name_ok(ifname) && if_nametoindex(ifname) != 0;
}

/* "10.9.0.1/24" or "fd00::1/64"; "?" for what is not a prefix. */
static void format_prefix(const struct wg_prefix *p, char *out, size_t outlen)
{
  char text[INET6_ADDRSTRLEN];
  if (!prefix_ok(p) || !inet_ntop(p->family, p->addr, text, sizeof text))
    snprintf(out, outlen, "?");
  else
    snprintf(out, outlen, "%s/%u", text, p->bits);
}

int rtnl_addr_add(const char *ifname, const struct wg_prefix *addr, char *why,
                  size_t whylen)
{
  char text[INET6_ADDRSTRLEN + 8], doing[128];
  format_prefix(addr, text, sizeof text);
  snprintf(doing, sizeof doing, "adding address %s to %s", text,
           ifname ? ifname : "(null)");
  int index = ifindex_of(ifname, doing, why, whylen);
  if (index < 0)
    return index;
  char buf[MSG_SIZE];
  int len = rtnl_build_addr(buf, sizeof buf, next_seq(), index, addr);
  if (len < 0) {
    snprintf(why, whylen, "%s: not an IPv4 or IPv6 prefix", doing);
    return -EINVAL;
  }
  struct ack ack;
  int r = talk(buf, (size_t)len, &ack);
  /* A restart finds the address it gave the interface last time. */
  if (r == -EEXIST)
    r = 0;
  return report(r, &ack, doing, why, whylen);
}

int rtnl_route_add_table(const char *ifname, const struct wg_prefix *dst,
                         uint32_t table, char *why, size_t whylen)
{
  char text[INET6_ADDRSTRLEN + 8], doing[160];
  format_prefix(dst, text, sizeof text);
  snprintf(doing, sizeof doing, "adding route %s via %s (table %u)", text,
           ifname ? ifname : "(null)", table);
  int index = ifindex_of(ifname, doing, why, whylen);
  if (index < 0)
    return index;
  char buf[MSG_SIZE];
  int len = rtnl_build_route_table(buf, sizeof buf, next_seq(), index, dst,
                                   table);
  if (len < 0) {
    snprintf(why, whylen, "%s: not an IPv4 or IPv6 prefix", doing);
    return -EINVAL;
  }
  struct ack ack;
  return report(talk(buf, (size_t)len, &ack), &ack, doing, why, whylen);
}

int rtnl_route_add(const char *ifname, const struct wg_prefix *dst, char *why,
                   size_t whylen)
{
  return rtnl_route_add_table(ifname, dst, RT_TABLE_MAIN, why, whylen);
}

static int rule_change(bool del, const struct wg_rule *r, char *why,
                       size_t whylen)
{
  char text[INET6_ADDRSTRLEN + 8], to_text[INET6_ADDRSTRLEN + 12] = "";
  char port_text[32] = "", doing[240];
  format_prefix(&r->from, text, sizeof text);
  if (r->has_to) {
    char t[INET6_ADDRSTRLEN + 8];
    format_prefix(&r->to, t, sizeof t);
    snprintf(to_text, sizeof to_text, " to %s", t);
  }
  if (r->sport)
    snprintf(port_text, sizeof port_text, " ipproto %s sport %u",
             r->ip_proto == IPPROTO_UDP ? "udp" : "tcp", r->sport);
  snprintf(doing, sizeof doing, "%s rule from %s%s%s lookup %u",
           del ? "deleting" : "adding", text, to_text, port_text, r->table);
  char buf[MSG_SIZE];
  int len = rtnl_build_rule(buf, sizeof buf, next_seq(), del, r);
  if (len < 0) {
    snprintf(why, whylen, "%s: not a valid rule", doing);
    return -EINVAL;
  }
  struct ack ack;
  return report(talk(buf, (size_t)len, &ack), &ack, doing, why, whylen);
}

int rtnl_rule_add(const struct wg_rule *rule, char *why, size_t whylen)
{
  return rule_change(false, rule, why, whylen);
}

int rtnl_rule_del(const struct wg_rule *rule, char *why, size_t whylen)
{
  return rule_change(true, rule, why, whylen);
}
