/* The server's half of a published port: a public connection joined to the
 * connection the server opened to the device's relay through the tunnel,
 * both owned by the core and relayed by its pipes (so the core counts the
 * bytes for the tunnel's metrics and idle timer, and backpressure holds
 * both ways). */
#ifndef WEFT_WG_SPLICE_H
#define WEFT_WG_SPLICE_H

#include <weft/weft.h>

/* Joins a and b. 0; or a code, and then both are closed. */
int splice_streams(const struct weft_host *host, struct weft_stream *a,
                   struct weft_stream *b);

#endif
