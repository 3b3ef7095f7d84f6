/* Lists that ACLs are made of: port ranges ("22, 80, 8000-8100"), address
 * prefixes ("10.0.0.0/8, ::1, 192.0.2.7") and host patterns
 * ("app.example.com, *.dev.example.com", "*" for any). Parsed once,
 * matched often. */
#ifndef WEFT_CORE_NETLIST_H
#define WEFT_CORE_NETLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NETLIST_MAX 64

struct port_range {
  uint16_t lo, hi;
};
struct port_list {
  struct port_range r[NETLIST_MAX];
  size_t count;
};

/* An address in IPv6 form (IPv4 as ::ffff:a.b.c.d) and a prefix length
 * counted in that form, so one comparison covers both families. */
struct prefix {
  uint8_t addr[16];
  unsigned bits;
};
struct prefix_list {
  struct prefix p[NETLIST_MAX];
  size_t count;
};

struct host_list {
  char pattern[NETLIST_MAX][256]; /* "*." + a 253-character name */
  size_t count;
};

int port_list_parse(const char *text, struct port_list *out, char *err,
                    size_t errlen);
bool port_list_has(const struct port_list *l, uint16_t port);
/* "22,80,8000-8100" ("" for none), the form port_list_parse reads. */
void port_list_format(const struct port_list *l, char *buf, size_t len);

int prefix_list_parse(const char *text, struct prefix_list *out, char *err,
                      size_t errlen);
bool prefix_list_has(const struct prefix_list *l, const uint8_t addr[16]);
/* "192.0.2.0/24,2001:db8::/32": IPv4 prefixes in their own form, never
 * ::ffff:; a v6 prefix that covers all of the v4-mapped space also gives
 * "0.0.0.0/0". Truncated to len (always terminated). */
void prefix_list_format(const struct prefix_list *l, char *buf, size_t len);

int host_list_parse(const char *text, struct host_list *out, char *err,
                    size_t errlen);
bool host_list_has(const struct host_list *l, const char *host);

/* Text address (v4, v6, v4-mapped v6) to the 16-byte form; 0 or -1. */
int addr_parse(const char *text, uint8_t out[16]);
bool addr_is_v4(const uint8_t addr[16]);
/* What per-source limits count by: an IPv4 address (in the 16-byte form),
 * or an IPv6 /64 (one host may use any address of its /64). All zeros for
 * text that is no address. */
void addr_source_key(const char *text, uint8_t key[16]);

#endif
