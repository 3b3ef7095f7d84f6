/* wireguard-go's UAPI: the text protocol on /var/run/wireguard/IFACE.sock
 * (https://www.wireguard.com/xplatform/). A request is "set=1" or "get=1",
 * then key=value lines, then a blank line; the reply is key=value lines
 * ending in "errno=N" and a blank line. Keys travel as lowercase hex.
 *
 * The writer builds requests only from checked binary values (wg_types.h),
 * so nothing can smuggle a newline or a second key into a line; the parser
 * reads a reply strictly and bounds everything it keeps. */
#ifndef WEFT_WG_UAPI_H
#define WEFT_WG_UAPI_H

#include <stddef.h>

#include "wg_types.h"

/* The socket wireguard-go makes for an interface. */
#define UAPI_SOCKET_DIR "/var/run/wireguard"

/* Largest reply read from the socket. */
#define UAPI_MAX_REPLY (1u << 20)

/* A "set=1" request, blank line included, into out (NUL-terminated).
 * Returns its length, or -1 with why (bad family, prefix length, too many
 * allowed IPs or peers, no room); nothing is sent for a removed peer but
 * its public key and remove=true. No protocol_version line is written (1 is
 * wireguard-go's default). wireguard-go applies a request line by line: a
 * line it refuses leaves the lines before it applied. */
int uapi_format_set(const struct wg_device_set *dev,
                    const struct wg_peer_set *peers, size_t count, char *out,
                    size_t outlen, char *why, size_t whylen);

/* Reads the reply to "get=1" (text up to and including the blank line).
 * 0 with *out filled (free it with wg_device_state_free), or -1 with why
 * ("line 3: listen_port 70000 is out of range"): malformed, an unknown key,
 * a value out of range, a peer twice, more than 65536 peers or
 * WG_MAX_ALLOWED_IPS allowed IPs for one, or errno=N not 0 (then
 * *uapi_errno is N; it is 0 otherwise). On -1, *out holds nothing to free.
 *
 * As wireguard-go 0.0.20220316 answers: lines absent when zero or unset
 * (private_key, listen_port, fwmark, a peer's endpoint) read as 0/false;
 * peers come in no fixed order (a Go map); allowed IPs come back with host
 * bits cleared; the private key comes back clamped; an all-zero key reads
 * as none; an IPv6 endpoint's %zone is accepted and dropped. */
int uapi_parse_get(const char *text, size_t len, struct wg_device_state *out,
                   int *uapi_errno, char *why, size_t whylen);

/* Reads the reply to "set=1": exactly "errno=N\n\n". 0 with *uapi_errno, or
 * -1 with why when it is anything else. wireguard-go answers failures with
 * negative errno values: errno=-22 (EINVAL) for a refused line,
 * errno=-98 (EADDRINUSE) for a listen_port it cannot bind. */
int uapi_parse_errno(const char *text, size_t len, int *uapi_errno, char *why,
                     size_t whylen);

/* One exchange on the socket at path: sends request, reads the reply up to
 * its blank line (at most UAPI_MAX_REPLY bytes) within timeout_ms. Returns
 * the reply (malloc'd, NUL-terminated, *len its length), or NULL with why,
 * which names the path. wireguard-go closes the connection without a word
 * on an operation it does not know. */
char *uapi_exchange(const char *socket_path, const char *request,
                    int timeout_ms, size_t *len, char *why, size_t whylen);

/* A set, and its errno checked, within 5 seconds. 0, or -1 with why. */
int uapi_set(const char *socket_path, const struct wg_device_set *dev,
             const struct wg_peer_set *peers, size_t count, char *why,
             size_t whylen);
/* A get, parsed, within 5 seconds. 0, or -1 with why. */
int uapi_get(const char *socket_path, struct wg_device_state *out, char *why,
             size_t whylen);

#endif
